/*
 * libFuzzer target for lending/epub.c: opens the input as an EPUB from memory, then walks
 * everything the metadata promises and reads a few entries, as the catalogue and the reader
 * would. Broken promises (a refusal without a code, a spine item without its manifest
 * entry, a toc href that is not a safe name) abort, so the fuzzer reports them.
 *
 * Two input forms. Raw bytes are the zip itself: that fuzzes the zip layer, but a mutated
 * entry almost always fails its CRC before its XML is parsed. So an input that starts with
 * "EPUBFILES\n" is a list of records "@@ name\ndata" (separated by "\n@@ ") that are zipped
 * here, in memory, with valid CRCs ("mimetype" stored, the rest deflated): that fuzzes the
 * OPF, nav, NCX and URL code. Nothing is written to disk.
 */
#include "pretnum/epub.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zip.h>

static const char MAGIC[] = "EPUBFILES\n";
#define MAX_RECORDS 64

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

/* Zips the records of a "EPUBFILES" input in memory; returns malloc'd bytes or NULL. */
static unsigned char *assemble(const uint8_t *data, size_t size, size_t *len)
{
    const char *p = (const char *)data + sizeof MAGIC - 1, *end = (const char *)data + size;
    if (end - p < 3 || memcmp(p, "@@ ", 3) != 0)
        return NULL;
    p += 3;
    zip_error_t ze;
    zip_error_init(&ze);
    zip_source_t *src = zip_source_buffer_create(NULL, 0, 0, &ze);
    zip_error_fini(&ze);
    if (!src)
        return NULL;
    zip_source_keep(src);
    zip_error_init(&ze);
    zip_t *za = zip_open_from_source(src, ZIP_TRUNCATE, &ze);
    zip_error_fini(&ze);
    if (!za) {
        zip_source_free(src);
        zip_source_free(src);
        return NULL;
    }
    char name[256];
    for (int n = 0; p < end && n < MAX_RECORDS; n++) {
        const char *next = memmem(p, (size_t)(end - p), "\n@@ ", 4);
        const char *rec_end = next ? next : end;
        const char *nl = memchr(p, '\n', (size_t)(rec_end - p));
        const char *body = nl ? nl + 1 : rec_end;
        size_t name_len = (size_t)((nl ? nl : rec_end) - p);
        if (name_len > 0 && name_len < sizeof name) {
            memcpy(name, p, name_len);
            name[name_len] = 0;
            zip_source_t *fs = zip_source_buffer(za, body, (zip_uint64_t)(rec_end - body), 0);
            zip_int64_t idx = fs ? zip_file_add(za, name, fs, ZIP_FL_ENC_RAW) : -1;
            if (idx < 0) {
                zip_source_free(fs);
            } else {
                zip_int32_t method = strcmp(name, "mimetype") == 0 ? ZIP_CM_STORE : ZIP_CM_DEFLATE;
                zip_set_file_compression(za, (zip_uint64_t)idx, method, 1);
            }
        }
        p = next ? next + 4 : end;
    }
    unsigned char *out = NULL;
    zip_stat_t st;
    if (zip_close(za) != 0) {
        zip_discard(za);
    } else if (zip_source_stat(src, &st) == 0 && (st.valid & ZIP_STAT_SIZE) && st.size > 0 &&
               zip_source_open(src) == 0) {
        out = malloc(st.size);
        if (out && zip_source_read(src, out, st.size) != (zip_int64_t)st.size) {
            free(out);
            out = NULL;
        }
        zip_source_close(src);
        *len = st.size;
    }
    zip_source_free(src);
    return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size >= sizeof MAGIC - 1 && memcmp(data, MAGIC, sizeof MAGIC - 1) == 0) {
        size_t len = 0;
        unsigned char *zip = assemble(data, size, &len);
        if (zip) {
            check_epub(zip, len);
            free(zip);
        }
        return 0;
    }
    check_epub(data, size);
    return 0;
}
