/*
 * libFuzzer target for lending/epub.c: opens the input as an EPUB from memory, then walks
 * everything the metadata promises and reads a few entries, as the catalogue and the reader
 * would. Broken promises (a refusal without a code, a spine item without its manifest
 * entry, a toc href that is not a safe name) abort, so the fuzzer reports them.
 *
 * Two input forms. Raw bytes are the zip itself: that fuzzes the zip layer, but a mutated
 * entry almost always fails its CRC before its XML is parsed. So an input that starts with
 * "EPUBFILES\n" is a list of records "@@ name\ndata" (separated by "\n@@ ") that are zipped
 * here, in memory, with valid CRCs ("mimetype" stored, the rest deflated; epubfiles.h): that
 * fuzzes the OPF, nav, NCX and URL code. Nothing is written to disk.
 */
#include "pretnum/epub.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "epubfiles.h"


static void check(int ok)
{
    if (!ok)
        abort();
}

static void check_name(const char *name)
{
    check(name && *name && name[0] != '/' && !strstr(name, "\\"));
    for (const char *s = name; *s; s++)
        check((unsigned char)*s >= 0x20);
    for (const char *s = name; s; s = strchr(s, '/'), s = s ? s + 1 : NULL)
        check(strncmp(s, "../", 3) != 0 && strcmp(s, "..") != 0);
}

static size_t walk_toc(const struct epub_toc_entry *t, size_t n, int depth)
{
    size_t count = n;
    check(n == 0 || depth < 32);
    for (size_t i = 0; i < n; i++) {
        check(t[i].title != NULL);
        if (t[i].href)
            check_name(t[i].href);
        count += walk_toc(t[i].children, t[i].n_children, depth + 1);
    }
    return count;
}

static void check_epub(const uint8_t *data, size_t size)
{
    /* Small caps keep each run fast; the checks are the same as with the defaults. */
    struct epub_limits lim = {.max_entries = 2000,
                              .max_entry_bytes = 4u << 20,
                              .max_xml_bytes = 1u << 20,
                              .max_total_bytes = 16u << 20};
    struct epub *e = NULL;
    struct epub_error err = {0};
    if (epub_open_buffer(data, size, &lim, &e, &err) != 0) {
        check(e == NULL && err.code != NULL && err.message[0] != 0);
        return;
    }
    const struct epub_meta *m = epub_meta(e);
    check(m->opf_path && m->layout && m->n_spine >= 1);
    for (size_t i = 0; i < m->n_manifest; i++) {
        const struct epub_item *it = &m->manifest[i];
        check(it->id && it->href && it->media_type);
        if (!it->remote)
            check_name(it->href);
    }
    for (size_t i = 0; i < m->n_spine; i++)
        check(m->spine[i].item >= m->manifest && m->spine[i].item < m->manifest + m->n_manifest);
    check(walk_toc(m->toc, m->n_toc, 0) <= 10000);
    if (m->cover)
        check(!m->cover->remote && strncmp(m->cover->media_type, "image/", 6) == 0);

    /* Delivery: read the first spine items with a small cap. */
    for (size_t i = 0; i < m->n_spine && i < 4; i++) {
        const struct epub_item *it = m->spine[i].item;
        unsigned char *buf;
        size_t len;
        uint64_t declared;
        if (it->remote || !epub_entry_size(e, it->href, &declared))
            continue;
        if (epub_read_entry(e, it->href, 1u << 20, &buf, &len, &err) == 0) {
            /* Opening inflated everything: a read can only agree with it. */
            check(len == declared && buf[len] == 0);
            free(buf);
        } else {
            check(buf == NULL && err.code != NULL);
            check(declared > (1u << 20));
        }
    }
    epub_close(e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (epubfiles_is(data, size)) {
        size_t len = 0;
        unsigned char *zip = epubfiles_assemble(data, size, &len);
        if (zip) {
            check_epub(zip, len);
            free(zip);
        }
        return 0;
    }
    check_epub(data, size);
    return 0;
}
