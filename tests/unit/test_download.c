/*
 * Downloading a borrowed e-book: links.download gives the EPUB watermarked for the loan
 * (a notice page in the reading order, a mark in the package document), every other
 * entry as it was, the same bytes on every request (ETag, Range, If-Range), and epubcheck
 * finds nothing in the copy that it did not find in the source. A returned loan's link
 * stops at once. The watermark is also tested without HTTP: placement in reflowable and
 * fixed-layout books, and failures that leave nothing behind.
 */
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pretnum/catalogue.h"
#include "pretnum/db.h"
#include "pretnum/epub.h"
#include "pretnum/media.h"
#include "pretnum/server.h"
#include "pretnum/watermark.h"
#include "testdb.h"

static struct t_books fx;

static const char *const books[] = {
    "epub/valid/epubcheck-epub2-ocf-minimal-valid.epub", "epub/valid/idpf-childrens-literature.epub",
    "epub/valid/idpf-haruko-html-jpeg.epub",             "epub/valid/idpf-page-blanche.epub",
    "epub/valid/idpf-wasteland-otf-obf.epub",            "epub/valid/readium-SmokeTest-EPUB2.epub",
    "epub/valid/readium-SmokeTestFXL.epub",              "epub/valid/w3c-css-epub-writing-mode.epub",
};
#define N_BOOKS (sizeof books / sizeof *books)

static char *out_dir;

static int setup(void **state)
{
    (void)state;
    out_dir = t_tmpdir("download-out");
    return t_books_setup(&fx, "download", "Médiathèque <Jules> & Cie", books, (int)N_BOOKS);
}

static int teardown(void **state)
{
    (void)state;
    t_books_teardown(&fx);
    t_rmtree(out_dir);
    free(out_dir);
    return 0;
}

static long call(struct t_resp *r, const char *method, const char *path, const char *body)
{
    return t_call(r, fx.port, fx.tok, method, path, body);
}

/* Borrows a title: its download link (malloc'd) and loan id. */
static char *borrow(const char *title, char loan[64])
{
    return t_borrow(&fx, title, "download", loan);
}

static void write_file(const char *path, const char *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

/* epubcheck's totals for a file: fatals, errors, warnings. */
struct verdict {
    int fatals, errors, warnings;
};

static struct verdict epubcheck(const char *file)
{
    /* C1 only and the serial collector: a third of the CPU for a short run. */
    char cmd[4600], *out = NULL;
    snprintf(cmd, sizeof cmd,
             "java -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -jar /usr/share/java/epubcheck.jar '%s' 2>&1", file);
    t_cmd(cmd, &out);
    struct verdict v = {-1, -1, -1};
    const char *m = out ? strstr(out, "Messages: ") : NULL;
    if (!m || sscanf(m, "Messages: %d fatals / %d errors / %d warnings", &v.fatals, &v.errors, &v.warnings) != 3)
        fail_msg("epubcheck said nothing usable about %s:\n%s", file, out ? out : "(nothing)");
    free(out);
    return v;
}

/* Every manifest entry of the source reads the same from the copy, but the package. */
static void same_resources(const char *src, const char *copy, int *compared)
{
    struct epub *a, *b;
    struct epub_error ee;
    assert_int_equal(epub_open_file(src, NULL, &a, &ee), 0);
    if (epub_open_file(copy, NULL, &b, &ee) != 0)
        fail_msg("the copy of %s does not open: %s (%s)", src, ee.message, ee.code);
    const struct epub_meta *m = epub_meta(a);
    for (size_t i = 0; i < m->n_manifest; i++) {
        if (m->manifest[i].remote)
            continue;
        unsigned char *x, *y;
        size_t xl, yl;
        assert_int_equal(epub_read_entry(a, m->manifest[i].href, 64u << 20, &x, &xl, &ee), 0);
        assert_int_equal(epub_read_entry(b, m->manifest[i].href, 64u << 20, &y, &yl, &ee), 0);
        if (strcmp(m->manifest[i].href, m->opf_path) != 0) {
            assert_int_equal(xl, yl);
            assert_memory_equal(x, y, xl);
            (*compared)++;
        }
        free(x);
        free(y);
    }
    /* The copy's reading order is the source's with the notice added. */
    const struct epub_meta *mb = epub_meta(b);
    assert_int_equal(mb->n_spine, m->n_spine + 1);
    assert_int_equal(mb->n_manifest, m->n_manifest + 1);
    epub_close(a);
    epub_close(b);
}

static void test_every_book_downloads_marked(void **state)
{
    (void)state;
    int compared = 0;
    for (int i = 0; i < fx.n; i++) {
        char loan[64];
        char *dl = borrow(fx.titles[i], loan);
        struct t_resp r;
        assert_int_equal(t_http(&r, fx.port, "GET", dl, NULL, NULL), 200); /* no header, no cookie */
        assert_string_equal(t_resp_header(&r, "Content-Type"), "application/epub+zip");
        assert_non_null(strstr(t_resp_header(&r, "Content-Disposition"), "attachment; filename=\""));
        assert_string_equal(t_resp_header(&r, "Cache-Control"), "private, no-store");
        assert_true(r.len > 22);
        /* mimetype first, stored: its local header is followed by the type itself */
        assert_memory_equal(r.body, "PK\3\4", 4);
        assert_memory_equal(r.body + 30, "mimetypeapplication/epub+zip", 28);

        char path[4200];
        snprintf(path, sizeof path, "%s/%d.epub", out_dir, i);
        write_file(path, r.body, r.len);
        same_resources(t_corpus(books[i]), path, &compared);

        /* The mark: the loan's id in the package and on the notice page. */
        char cmd[4400], *opf = NULL;
        snprintf(cmd, sizeof cmd, "unzip -p '%s' '*.opf' '*pretnum-loan-notice.xhtml'", path);
        assert_int_equal(t_cmd(cmd, &opf), 0);
        char urn[128];
        snprintf(urn, sizeof urn, "urn:uuid:%s</dc:identifier>", loan);
        assert_non_null(strstr(opf, urn));
        assert_non_null(strstr(opf, "<dc:rights>Exemplaire prêté par Médiathèque &lt;Jules&gt; &amp; Cie du "));
        assert_non_null(strstr(opf, "Ce livre numérique vous est prêté par Médiathèque &lt;Jules&gt; &amp; Cie"));
        assert_non_null(strstr(opf, loan + 24)); /* on the page too */
        free(opf);

        /* The same bytes again: a resumed download continues the same file. */
        struct t_resp again;
        assert_int_equal(t_http(&again, fx.port, "GET", dl, NULL, NULL), 200);
        assert_int_equal(again.len, r.len);
        assert_memory_equal(again.body, r.body, r.len);
        assert_string_equal(t_resp_header(&again, "ETag"), t_resp_header(&r, "ETag"));
        t_resp_free(&again);
        t_resp_free(&r);
        free(dl);
    }
    assert_true(compared > 150);
}

static void test_epubcheck_finds_nothing_new(void **state)
{
    (void)state;
    int clean = 0;
    for (int i = 0; i < fx.n; i++) {
        char path[4200];
        snprintf(path, sizeof path, "%s/%d.epub", out_dir, i);
        struct stat st;
        assert_int_equal(stat(path, &st), 0); /* written by the test before */
        struct verdict copy = epubcheck(path);
        if (copy.fatals == 0 && copy.errors == 0 && copy.warnings == 0) {
            clean++;
            continue;
        }
        /* Not clean: exactly what the publisher's file already had. */
        struct verdict src = epubcheck(t_corpus(books[i]));
        if (copy.fatals != src.fatals || copy.errors != src.errors || copy.warnings != src.warnings)
            fail_msg("%s: epubcheck gives %d/%d/%d for the copy, %d/%d/%d for the source", books[i], copy.fatals,
                     copy.errors, copy.warnings, src.fatals, src.errors, src.warnings);
    }
    /* Six of the eight sources pass without a warning; so do their copies. */
    assert_true(clean >= 6);
}

static void test_ranges_validators_and_end(void **state)
{
    (void)state;
    /* The first book is borrowed already; borrow the second loan-free title: return first. */
    char *loan_id = t_sql_value(fx.ci, "SELECT id FROM loan ORDER BY started LIMIT 1");
    struct t_resp r;
    char path[200];
    snprintf(path, sizeof path, "/api/v1/loans/%s", loan_id);
    assert_int_equal(call(&r, "GET", path, NULL), 200);
    const char *dl0 = json_string_value(json_object_get(json_object_get(json_object_get(r.json, "loan"), "links"),
                                                        "download"));
    assert_non_null(dl0);
    char *dl = strdup(dl0);
    t_resp_free(&r);

    struct t_resp full;
    assert_int_equal(t_http(&full, fx.port, "GET", dl, NULL, NULL), 200);
    assert_non_null(t_resp_header(&full, "ETag"));
    char etag[100];
    snprintf(etag, sizeof etag, "%s", t_resp_header(&full, "ETag"));
    char h1[200], h2[200];
    snprintf(h1, sizeof h1, "If-None-Match: %s", etag);
    const char *inm[] = {h1, NULL};
    assert_int_equal(t_http(&r, fx.port, "GET", dl, NULL, inm), 304);
    t_resp_free(&r);

    const char *range[] = {"Range: bytes=100-1099", NULL};
    assert_int_equal(t_http(&r, fx.port, "GET", dl, NULL, range), 206);
    assert_int_equal(r.len, 1000);
    assert_memory_equal(r.body, full.body + 100, 1000);
    char cr[80];
    snprintf(cr, sizeof cr, "bytes 100-1099/%zu", full.len);
    assert_string_equal(t_resp_header(&r, "Content-Range"), cr);
    t_resp_free(&r);

    /* If-Range with this copy's ETag resumes; with another it starts again. */
    snprintf(h2, sizeof h2, "If-Range: %s", etag);
    const char *ifr[] = {"Range: bytes=-10", h2, NULL};
    assert_int_equal(t_http(&r, fx.port, "GET", dl, NULL, ifr), 206);
    assert_memory_equal(r.body, full.body + full.len - 10, 10);
    t_resp_free(&r);
    const char *stale[] = {"Range: bytes=0-9", "If-Range: \"another\"", NULL};
    assert_int_equal(t_http(&r, fx.port, "GET", dl, NULL, stale), 200);
    assert_int_equal(r.len, full.len);
    t_resp_free(&r);
    const char *bad[] = {"Range: bytes=999999999-", NULL};
    assert_int_equal(t_http(&r, fx.port, "GET", dl, NULL, bad), 416);
    t_resp_free(&r);
    t_resp_free(&full);

    /* A forged token, then a returned loan: refused, and no temporary file is left. */
    char forged[600];
    snprintf(forged, sizeof forged, "%s", dl);
    forged[strlen(forged) - 3] ^= 1;
    assert_int_equal(t_http(&r, fx.port, "GET", forged, NULL, NULL), 401);
    t_resp_free(&r);
    snprintf(path, sizeof path, "/api/v1/loans/%s/return", loan_id);
    assert_int_equal(call(&r, "POST", path, NULL), 200);
    t_resp_free(&r);
    assert_int_equal(t_http(&r, fx.port, "GET", dl, NULL, NULL), 403);
    assert_string_equal(t_err_code(&r), "loan_ended");
    t_resp_free(&r);
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s/tmp", fx.data);
    assert_int_equal(t_count_files(tmp), 0);
    free(dl);
    free(loan_id);
}

/* ---- the watermark alone ---- */

static const struct lend_mark mark = {.loan_id = "0b7c3a52-8f0e-4c5e-9d55-2f1e2d3c4b5a",
                                      .library = "Bibliothèque",
                                      .borrowed = "2026-11-25",
                                      .due = "2026-12-16",
                                      .started = 1795651200};

/* Where the notice sits in the reading order of the marked copy of a corpus book. */
static size_t notice_position(const char *book, size_t *n_spine)
{
    char dst[4200];
    snprintf(dst, sizeof dst, "%s/position.epub", out_dir);
    unlink(dst);
    struct epub_error ee = {0};
    assert_int_equal(lend_watermark_epub(t_corpus(book), &mark, dst, &ee), 0);
    struct epub *e;
    assert_int_equal(epub_open_file(dst, NULL, &e, &ee), 0);
    const struct epub_meta *m = epub_meta(e);
    size_t at = (size_t)-1;
    for (size_t i = 0; i < m->n_spine; i++)
        if (strstr(m->spine[i].item->href, "pretnum-loan-notice.xhtml"))
            at = i;
    *n_spine = m->n_spine;
    epub_close(e);
    unlink(dst);
    return at;
}

static void test_notice_placement(void **state)
{
    (void)state;
    size_t n;
    /* Reflowable: second, after the cover or title page. */
    assert_int_equal(notice_position("epub/valid/readium-SmokeTest-EPUB2.epub", &n), 1);
    assert_int_equal(notice_position("epub/valid/idpf-childrens-literature.epub", &n), 1);
    /* A one-page book: after its page. */
    assert_int_equal(notice_position("epub/valid/epubcheck-epub2-ocf-minimal-valid.epub", &n), 1);
    assert_int_equal(n, 2);
    /* Fixed layout: last, so that no spread changes sides. */
    size_t at = notice_position("epub/valid/readium-SmokeTestFXL.epub", &n);
    assert_int_equal(at, n - 1);
    assert_true(n > 2);
}

static void test_failures_leave_nothing(void **state)
{
    (void)state;
    char dir[4200], dst[4300];
    snprintf(dir, sizeof dir, "%s/fail", out_dir);
    assert_int_equal(mkdir(dir, 0700), 0);
    snprintf(dst, sizeof dst, "%s/x.epub", dir);
    struct epub_error ee = {0};
    /* Not an EPUB: the source's own error, no file. */
    assert_int_equal(lend_watermark_epub(t_corpus("epub/invalid/epubcheck-epub2-opf-spine-missing-error.epub"),
                                         &mark, dst, &ee),
                     -1);
    assert_string_equal(ee.code, EPUB_INVALID_OPF);
    assert_int_equal(t_count_files(dir), 0);
    /* An existing destination is never overwritten. */
    write_file(dst, "keep", 4);
    assert_int_equal(lend_watermark_epub(t_corpus(books[0]), &mark, dst, &ee), -1);
    assert_string_equal(ee.code, EPUB_IO_ERROR);
    size_t len;
    char *kept = t_slurp(dst, &len);
    assert_int_equal(len, 4);
    free(kept);
    unlink(dst);
    /* A directory that cannot be written. */
    snprintf(dst, sizeof dst, "%s/missing/x.epub", dir);
    assert_int_equal(lend_watermark_epub(t_corpus(books[0]), &mark, dst, &ee), -1);
    assert_int_equal(t_count_files(dir), 0);
    /* Through the data directory: an unlinked descriptor, nothing on disk. */
    int fd = lend_watermark_open(dir, t_corpus(books[0]), &mark, &ee);
    assert_true(fd >= 0);
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    assert_true(st.st_size > 1000);
    assert_int_equal(st.st_nlink, 0);
    close(fd);
    snprintf(dst, sizeof dst, "%s/tmp", dir);
    assert_int_equal(t_count_files(dst), 0);
    assert_int_equal(lend_watermark_open(dir, "/nonexistent.epub", &mark, &ee), -1);
    assert_int_equal(t_count_files(dst), 0);
}

int main(void)
{
    t_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_book_downloads_marked),
        cmocka_unit_test(test_epubcheck_finds_nothing_new),
        cmocka_unit_test(test_ranges_validators_and_end),
        cmocka_unit_test(test_notice_placement),
        cmocka_unit_test(test_failures_leave_nothing),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
