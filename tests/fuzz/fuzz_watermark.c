/*
 * libFuzzer target for lending/watermark.c: an input that opens as an EPUB (raw zip bytes,
 * or the EPUBFILES form of epubfiles.h) is marked for a loan, as a download would be.
 * Whatever the book, the mark either fails with a code and leaves nothing behind, or
 * gives a copy that opens as an EPUB again with exactly one more item in its manifest and
 * its reading order. Anything else aborts, so the fuzzer reports it.
 *
 * The input goes to a file (the watermark reads a stored book by path) in a scratch
 * directory made once per process and emptied after every run.
 */
#include "pretnum/epub.h"
#include "pretnum/watermark.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "epubfiles.h"

static char dir[64], src[96], dst[96];

static void check(int ok)
{
    if (!ok)
        abort();
}

static void cleanup(void)
{
    unlink(src);
    unlink(dst);
    rmdir(dir);
}

static void scratch(void)
{
    if (dir[0])
        return;
    snprintf(dir, sizeof dir, "/tmp/fuzz-watermark-XXXXXX");
    check(mkdtemp(dir) != NULL);
    atexit(cleanup);
    snprintf(src, sizeof src, "%s/book.epub", dir);
    snprintf(dst, sizeof dst, "%s/marked.epub", dir);
}

static void mark(const uint8_t *data, size_t size)
{
    /* Only books the catalogue would have taken are ever marked. */
    struct epub *e = NULL;
    struct epub_error err = {0};
    if (epub_open_buffer(data, size, NULL, &e, &err) != 0)
        return;
    size_t n_manifest = epub_meta(e)->n_manifest, n_spine = epub_meta(e)->n_spine;
    epub_close(e);

    scratch();
    FILE *f = fopen(src, "wb");
    check(f && fwrite(data, 1, size, f) == size && fclose(f) == 0);
    struct lend_mark m = {.loan_id = "0b7c3a52-8f0e-4c5e-9d55-2f1e2d3c4b5a", .library = "L & <Co>",
                          .borrowed = "2026-11-25", .due = "2026-12-16", .started = 1795651200};
    if (lend_watermark_epub(src, &m, dst, &err) != 0) {
        struct stat st;
        check(err.code != NULL && stat(dst, &st) != 0);
    } else {
        check(epub_open_file(dst, NULL, &e, &err) == 0);
        check(epub_meta(e)->n_manifest == n_manifest + 1 && epub_meta(e)->n_spine == n_spine + 1);
        epub_close(e);
        unlink(dst);
    }
    unlink(src);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (epubfiles_is(data, size)) {
        size_t len = 0;
        unsigned char *zip = epubfiles_assemble(data, size, &len);
        if (zip) {
            mark(zip, len);
            free(zip);
        }
        return 0;
    }
    mark(data, size);
    return 0;
}
