/*
 * Reading a borrowed book over HTTP: the loan's link opens the Web Publication Manifest,
 * every resource it lists is served from the stored EPUB with its type, ranges and
 * validators, the book's pages are sandboxed, and a returned loan stops at once.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pretnum/catalogue.h"
#include "pretnum/db.h"
#include "pretnum/epub.h"
#include "pretnum/media.h"
#include "pretnum/publication.h"
#include "pretnum/server.h"
#include "testdb.h"

static struct t_books fx;

static const char *const books[] = {
    "epub/valid/epubcheck-epub2-ocf-minimal-valid.epub", "epub/valid/idpf-childrens-literature.epub",
    "epub/valid/idpf-haruko-html-jpeg.epub",             "epub/valid/idpf-page-blanche.epub",
    "epub/valid/idpf-wasteland-otf-obf.epub",            "epub/valid/readium-SmokeTest-EPUB2.epub",
    "epub/valid/readium-SmokeTestFXL.epub",              "epub/valid/w3c-css-epub-writing-mode.epub",
};

static int setup(void **state)
{
    (void)state;
    return t_books_setup(&fx, "content", "One", books, (int)(sizeof books / sizeof *books));
}

static int teardown(void **state)
{
    (void)state;
    t_books_teardown(&fx);
    return 0;
}

static long call(struct t_resp *r, const char *method, const char *path, const char *body)
{
    return t_call(r, fx.port, fx.tok, method, path, body);
}

/* Borrows a title: its read link (malloc'd) and loan id. */
static char *borrow(const char *title, char loan[64])
{
    return t_borrow(&fx, title, "read", loan);
}

static void test_every_book_reads(void **state)
{
    (void)state;
    int resources = 0;
    for (int b = 0; b < fx.n; b++) {
        char loan[64];
        char *read = borrow(fx.titles[b], loan);
        struct t_resp r;
        assert_int_equal(t_http(&r, fx.port, "GET", read, NULL, NULL), 200); /* no header, no cookie */
        assert_string_equal(t_resp_header(&r, "Content-Type"), "application/webpub+json");
        json_t *w = json_incref(r.json);
        t_resp_free(&r);
        assert_non_null(w);
        json_t *lists[] = {json_object_get(w, "readingOrder"), json_object_get(w, "resources")};
        for (int k = 0; k < 2; k++) {
            size_t i;
            json_t *l;
            json_array_foreach(lists[k], i, l) {
                const char *href = json_string_value(json_object_get(l, "href"));
                if (strncmp(href, "/content/", 9) != 0)
                    continue; /* a remote resource */
                if (t_http(&r, fx.port, "GET", href, NULL, NULL) != 200)
                    fail_msg("%s: %s gave %ld", books[b], href, r.status);
                assert_string_equal(t_resp_header(&r, "Content-Type"), json_string_value(json_object_get(l, "type")));
                assert_true(r.len > 0);
                t_resp_free(&r);
                resources++;
            }
        }
        json_decref(w);
        free(read);
    }
    assert_true(resources > 100);
}

static void test_ranges_validators_sandbox(void **state)
{
    (void)state;
    char loan[64];
    char *read = NULL;
    /* The first book is borrowed already; return it and borrow again for a fresh link. */
    struct t_resp r;
    assert_int_equal(call(&r, "GET", "/api/v1/loans", NULL), 200);
    json_t *l = json_array_get(json_object_get(r.json, "items"), fx.n - 2); /* the children's book */
    read = strdup(json_string_value(json_object_get(json_object_get(l, "links"), "read")));
    snprintf(loan, sizeof loan, "%s", json_string_value(json_object_get(l, "id")));
    t_resp_free(&r);
    assert_int_equal(t_http(&r, fx.port, "GET", read, NULL, NULL), 200);
    const char *first = json_string_value(json_object_get(json_array_get(json_object_get(r.json, "readingOrder"), 0), "href"));
    char page[2048];
    snprintf(page, sizeof page, "%s", first);
    t_resp_free(&r);

    struct t_resp whole, part;
    assert_int_equal(t_http(&whole, fx.port, "GET", page, NULL, NULL), 200);
    assert_string_equal(t_resp_header(&whole, "Accept-Ranges"), "bytes");
    assert_non_null(strstr(t_resp_header(&whole, "Content-Security-Policy"), "sandbox"));
    assert_non_null(strstr(t_resp_header(&whole, "Cache-Control"), "private"));
    const char *range[] = {"Range: bytes=10-29", NULL};
    assert_int_equal(t_http(&part, fx.port, "GET", page, NULL, range), 206);
    assert_int_equal(part.len, 20);
    assert_memory_equal(part.body, whole.body + 10, 20);
    char cr[64];
    snprintf(cr, sizeof cr, "bytes 10-29/%zu", whole.len);
    assert_string_equal(t_resp_header(&part, "Content-Range"), cr);
    t_resp_free(&part);
    const char *bad[] = {"Range: bytes=999999999-", NULL};
    assert_int_equal(t_http(&part, fx.port, "GET", page, NULL, bad), 416);
    t_resp_free(&part);
    char inm[128];
    snprintf(inm, sizeof inm, "If-None-Match: %s", t_resp_header(&whole, "ETag"));
    const char *cond[] = {inm, NULL};
    assert_int_equal(t_http(&part, fx.port, "GET", page, NULL, cond), 304);
    t_resp_free(&part);
    t_resp_free(&whole);

    /* Only what the package lists; nothing outside it. */
    char *base = strdup(read);
    *strstr(base, "manifest.json") = 0;
    char path[4096];
    snprintf(path, sizeof path, "%sMETA-INF/container.xml", base);
    assert_int_equal(t_http(&r, fx.port, "GET", path, NULL, NULL), 404);
    t_resp_free(&r);
    snprintf(path, sizeof path, "%s../../etc/passwd", base);
    assert_true(t_http(&r, fx.port, "GET", path, NULL, NULL) == 404 || r.status == 400);
    t_resp_free(&r);
    /* A forged token. */
    char *forged = strdup(read);
    forged[30] = forged[30] == 'A' ? 'B' : 'A';
    assert_int_equal(t_http(&r, fx.port, "GET", forged, NULL, NULL), 401);
    t_resp_free(&r);
    free(forged);

    /* Returned: the same link stops at once. */
    char ret[128];
    snprintf(ret, sizeof ret, "/api/v1/loans/%s/return", loan);
    assert_int_equal(call(&r, "POST", ret, NULL), 200);
    t_resp_free(&r);
    assert_int_equal(t_http(&r, fx.port, "GET", read, NULL, NULL), 403);
    assert_string_equal(t_err_code(&r), "loan_ended");
    t_resp_free(&r);
    assert_int_equal(t_http(&r, fx.port, "GET", page, NULL, NULL), 403);
    t_resp_free(&r);
    free(base);
    free(read);
}

/* The link of the loan of book b (borrowed by test_every_book_reads), malloc'd. */
static char *read_link(int b, char loan[64])
{
    struct t_resp r;
    assert_int_equal(call(&r, "GET", "/api/v1/loans", NULL), 200);
    json_t *items = json_object_get(r.json, "items");
    char *read = NULL;
    size_t i;
    json_t *l;
    json_array_foreach(items, i, l) {
        if (!strcmp(json_string_value(json_object_get(l, "title_id")), fx.titles[b])) {
            read = strdup(json_string_value(json_object_get(json_object_get(l, "links"), "read")));
            snprintf(loan, 64, "%s", json_string_value(json_object_get(l, "id")));
        }
    }
    t_resp_free(&r);
    assert_non_null(read);
    return read;
}

/* Entries stored uncompressed go out straight from the file: whole and in ranges, the
 * same bytes as the archive holds. */
static void test_stored_entries_sent_from_file(void **state)
{
    (void)state;
    int b = 6; /* the fixed-layout book stores its images */
    char loan[64];
    char *read = read_link(b, loan);
    struct epub *e;
    struct epub_error ee;
    assert_int_equal(epub_open_file(t_corpus(books[b]), NULL, &e, &ee), 0);
    const struct epub_meta *m = epub_meta(e);
    char *base = strdup(read);
    *strstr(base, "manifest.json") = 0;
    int stored = 0;
    for (size_t i = 0; i < m->n_manifest; i++) {
        uint64_t off, size;
        if (m->manifest[i].remote || !epub_entry_span(e, m->manifest[i].href, &off, &size) || size < 100)
            continue;
        unsigned char *want;
        size_t len;
        assert_int_equal(epub_read_entry(e, m->manifest[i].href, 64u << 20, &want, &len, &ee), 0);
        char *enc = lend_path_encode(m->manifest[i].href);
        char url[4096];
        snprintf(url, sizeof url, "%s%s", base, enc);
        free(enc);
        struct t_resp whole, part;
        assert_int_equal(t_http(&whole, fx.port, "GET", url, NULL, NULL), 200);
        assert_int_equal(whole.len, len);
        assert_memory_equal(whole.body, want, len);
        assert_string_equal(t_resp_header(&whole, "Content-Type"), m->manifest[i].media_type);
        const char *range[] = {"Range: bytes=50-", NULL};
        assert_int_equal(t_http(&part, fx.port, "GET", url, NULL, range), 206);
        assert_int_equal(part.len, len - 50);
        assert_memory_equal(part.body, want + 50, len - 50);
        t_resp_free(&part);
        t_resp_free(&whole);
        free(want);
        stored++;
    }
    epub_close(e);
    assert_true(stored >= 3);
    free(base);
    free(read);
}

/* A loan ended by another server (here: straight in the database) stops within the
 * time access is remembered (10 s), well inside the 60 s the API promises. */
static void test_ended_elsewhere_stops_soon(void **state)
{
    (void)state;
    char loan[64];
    char *read = read_link(0, loan);
    struct t_resp r;
    assert_int_equal(t_http(&r, fx.port, "GET", read, NULL, NULL), 200); /* remembered now */
    t_resp_free(&r);
    char sql[256];
    snprintf(sql, sizeof sql, "UPDATE loan SET ended = now(), end_reason = 'revoked' WHERE id = '%s'", loan);
    t_sql(fx.ci, sql);
    int waited_ms = 0;
    while (t_http(&r, fx.port, "GET", read, NULL, NULL) == 200 && waited_ms < 20000) {
        t_resp_free(&r);
        usleep(250000);
        waited_ms += 250;
    }
    assert_int_equal(r.status, 403);
    assert_string_equal(t_err_code(&r), "loan_ended");
    t_resp_free(&r);
    assert_true(waited_ms <= 11000);
    free(read);
}

/* The positions list the manifest links to, and a book's script files refused to the
 * frames of the portal's reader (Sec-Fetch-Dest) while its pages and styles are sent. */
static void test_positions_and_scripts(void **state)
{
    (void)state;
    int b = 6; /* the fixed-layout book: pages with scripts */
    char loan[64];
    char *read = read_link(b, loan);
    struct t_resp r;
    assert_int_equal(t_http(&r, fx.port, "GET", read, NULL, NULL), 200);
    json_t *links = json_object_get(r.json, "links"), *l, *order = json_object_get(r.json, "readingOrder");
    size_t i, n_order = json_array_size(order);
    char *positions = NULL;
    json_array_foreach(links, i, l)
        if (!strcmp(json_string_value(json_object_get(l, "type")), "application/vnd.readium.position-list+json"))
            positions = strdup(json_string_value(json_object_get(l, "href")));
    json_incref(order);
    t_resp_free(&r);
    assert_non_null(positions);
    assert_int_equal(t_http(&r, fx.port, "GET", positions, NULL, NULL), 200);
    assert_string_equal(t_resp_header(&r, "Content-Type"), "application/vnd.readium.position-list+json");
    /* A fixed layout: one position a page, in the reading order. */
    assert_int_equal(json_integer_value(json_object_get(r.json, "total")), n_order);
    json_array_foreach(json_object_get(r.json, "positions"), i, l)
        assert_string_equal(json_string_value(json_object_get(l, "href")),
                            json_string_value(json_object_get(json_array_get(order, i), "href")));
    t_resp_free(&r);
    json_decref(order);

    char *base = strdup(read);
    *strstr(base, "manifest.json") = 0;
    char path[4096];
    snprintf(path, sizeof path, "%sscripts/rso.js", base);
    assert_int_equal(t_http(&r, fx.port, "GET", path, NULL, NULL), 200); /* for reading apps */
    t_resp_free(&r);
    /* Only what the reader's frames load is sent to a browser: never a script, a
     * worker, or a document, frame or object a page could open itself. */
    const char *refused[] = {"script", "worker", "serviceworker", "audioworklet", "document", "iframe",
                             "frame",  "object", "embed",         "xslt"};
    for (size_t k = 0; k < sizeof refused / sizeof *refused; k++) {
        char h[64];
        snprintf(h, sizeof h, "Sec-Fetch-Dest: %s", refused[k]);
        const char *hdr[] = {h, NULL};
        assert_int_equal(t_http(&r, fx.port, "GET", path, NULL, hdr), 403);
        assert_string_equal(t_err_code(&r), "resource_blocked");
        t_resp_free(&r);
        snprintf(path, sizeof path, "%sxhtml/scripting-005.xhtml", base);
        assert_int_equal(t_http(&r, fx.port, "GET", path, NULL, hdr), 403);
        t_resp_free(&r);
        snprintf(path, sizeof path, "%sscripts/rso.js", base);
    }
    static const struct {
        const char *dest, *file;
    } sent[] = {{"empty", "xhtml/scripting-005.xhtml"}, {"style", "css/base.css"},
                {"image", "images/check.png"},          {"empty", "manifest.json"}};
    for (size_t k = 0; k < sizeof sent / sizeof *sent; k++) {
        char h[64];
        snprintf(h, sizeof h, "Sec-Fetch-Dest: %s", sent[k].dest);
        const char *hdr[] = {h, NULL};
        snprintf(path, sizeof path, "%s%s", base, sent[k].file);
        assert_int_equal(t_http(&r, fx.port, "GET", path, NULL, hdr), 200);
        /* Whatever it is, opened as a document it is sandboxed, with no script. */
        const char *csp = t_resp_header(&r, "Content-Security-Policy");
        assert_non_null(csp);
        assert_true(!strncmp(csp, "sandbox;", 8));
        assert_null(strstr(csp, "script"));
        t_resp_free(&r);
    }
    free(base);
    free(positions);
    free(read);
}

int main(void)
{
    t_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_book_reads),
        cmocka_unit_test(test_ranges_validators_sandbox),
        cmocka_unit_test(test_stored_entries_sent_from_file),
        cmocka_unit_test(test_positions_and_scripts),
        cmocka_unit_test(test_ended_elsewhere_stops_soon),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
