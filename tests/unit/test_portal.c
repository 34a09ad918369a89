/*
 * The portal's files over HTTP: index.html for the application's pages, assets with
 * their types, validators and a strict policy; nothing outside the web directory, no
 * hidden file, no node_modules file that is not on the list, however the path is spelt.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "pretnum/catalogue.h"
#include "pretnum/db.h"
#include "pretnum/server.h"
#include "testdb.h"

#include "../../server/compress.h"

static struct {
    char *ci, *tmp, *web, *data;
    struct srv *srv;
    int port;
} fx;

static const char index_html[] = "<!doctype html><html lang=\"fr\"><title>Portail</title></html>\n";
static const char app_js[] = "export const answer = 42;\n";
/* Large enough to be worth compressing: a few kilobytes of a script. */
static char big_js[6000];
/* A PNG is compressed already: it goes as it is, whoever asks. */
static const char png_head[] = "\x89PNG\r\n\x1a\n";

static void put(const char *rel, const char *text)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", fx.tmp, rel);
    /* make the parents */
    for (char *p = path + strlen(fx.tmp) + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            mkdir(path, 0755);
            *p = '/';
        }
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int setup(void **state)
{
    (void)state;
    if (sodium_init() < 0)
        return -1;
    fx.ci = t_db_create();
    fx.tmp = t_tmpdir("portal");
    if (asprintf(&fx.web, "%s/web", fx.tmp) < 0)
        return -1;
    put("web/index.html", index_html);
    size_t at = 0;
    for (int i = 0; at + 80 < sizeof big_js; i++)
        at += (size_t)snprintf(big_js + at, sizeof big_js - at, "export const line%d = 'la ligne numéro %d';\n", i, i);
    put("web/assets/big.js", big_js);
    char png[1200];
    memset(png, 'x', sizeof png - 1);
    png[sizeof png - 1] = 0;
    memcpy(png, png_head, sizeof png_head - 1);
    put("web/assets/cover.png", png);
    put("web/assets/app.js", app_js);
    put("web/assets/style.css", "body{color:#111}\n");
    put("web/assets/i18n/fr.json", "{}\n");
    put("web/assets/.hidden.js", "secret\n");
    put("web/assets/tool.exe", "MZ\n");
    put("web/secret.txt", "inside the web dir, not an asset\n");
    put("secret.txt", "outside the web dir\n");
    put("web/node_modules/hls.js/dist/hls.min.mjs", "export default class Hls {}\n");
    put("web/node_modules/hls.js/package.json", "{\"name\":\"hls.js\"}\n");
    char link[4096], target[4096];
    snprintf(link, sizeof link, "%s/assets/leak.txt", fx.web);
    snprintf(target, sizeof target, "%s/secret.txt", fx.tmp);
    if (symlink(target, link) != 0)
        return -1;
    fx.data = t_tmpdir("portal-data");
    char err[256];
    struct db *db = db_open(fx.ci, err, sizeof err);
    if (!db)
        return -1;
    char id[37];
    bool existed;
    struct lend_err le = {0};
    enum lend_status st = lend_import(db, fx.data, t_corpus("epub/valid/idpf-childrens-literature.epub"), NULL, id,
                                      &existed, &le);
    db_close(db);
    if (st != LEND_OK)
        return -1;
    struct srv_config cfg = {.conninfo = fx.ci, .data_dir = fx.data, .web_dir = fx.web, .threads = 2,
                             .quiet = true, .sweep_interval_s = -1};
    int rc = srv_start(&cfg, &fx.srv, err, sizeof err);
    if (rc != 0) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    fx.port = srv_port(fx.srv);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    srv_stop(fx.srv, 1000);
    t_db_drop(fx.ci);
    t_rmtree(fx.tmp);
    t_rmtree(fx.data);
    free(fx.tmp);
    free(fx.web);
    free(fx.data);
    return 0;
}

/* The headers every portal page must carry. */
static void assert_policy(const struct t_resp *r)
{
    const char *csp = t_resp_header(r, "Content-Security-Policy");
    assert_non_null(csp);
    assert_non_null(strstr(csp, "default-src 'self'"));
    /* Scripts: this origin and blob: (the reader's pages and their helpers), never inline
     * and never eval; inline styles only, for books. */
    assert_non_null(strstr(csp, "script-src 'self' blob:;"));
    assert_non_null(strstr(csp, "style-src 'self' blob: 'unsafe-inline';"));
    assert_non_null(strstr(csp, "frame-ancestors 'self'"));
    assert_non_null(strstr(csp, "object-src 'none'"));
    assert_non_null(strstr(csp, "base-uri 'self'"));
    const char *inl = strstr(csp, "unsafe-inline");
    assert_non_null(inl);
    assert_null(strstr(inl + 1, "unsafe-inline"));
    assert_null(strstr(csp, "unsafe-eval"));
    assert_string_equal(t_resp_header(r, "X-Content-Type-Options"), "nosniff");
    assert_string_equal(t_resp_header(r, "Referrer-Policy"), "no-referrer");
}

static void test_pages_are_the_app(void **state)
{
    (void)state;
    const char *pages[] = {"/", "/search", "/titles/0b7c", "/signin", "/account", "/read/1", "/play/2", "/staff"};
    for (size_t i = 0; i < sizeof pages / sizeof *pages; i++) {
        struct t_resp r;
        assert_int_equal(t_http(&r, fx.port, "GET", pages[i], NULL, NULL), 200);
        assert_string_equal(t_resp_header(&r, "Content-Type"), "text/html; charset=utf-8");
        assert_string_equal(r.body, index_html);
        assert_string_equal(t_resp_header(&r, "Cache-Control"), "no-cache");
        assert_policy(&r);
        t_resp_free(&r);
    }
    /* The API keeps its own 404s: the portal does not swallow unknown paths. */
    struct t_resp r;
    assert_int_equal(t_http(&r, fx.port, "GET", "/api/v1/nothing", NULL, NULL), 404);
    assert_string_equal(t_err_code(&r), "not_found");
    t_resp_free(&r);
    assert_int_equal(t_http(&r, fx.port, "GET", "/titles/a/b", NULL, NULL), 404);
    t_resp_free(&r);
    assert_int_equal(t_http(&r, fx.port, "POST", "/", "", NULL), 405);
    t_resp_free(&r);
}

static void test_types_and_validators(void **state)
{
    (void)state;
    struct {
        const char *path, *type, *cache;
    } cases[] = {
        {"/assets/app.js", "text/javascript; charset=utf-8", "no-cache"},
        {"/assets/style.css", "text/css; charset=utf-8", "no-cache"},
        {"/assets/i18n/fr.json", "application/json", "no-cache"},
        {"/vendor/hls.mjs", "text/javascript; charset=utf-8", "public, max-age=86400"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        struct t_resp r;
        assert_int_equal(t_http(&r, fx.port, "GET", cases[i].path, NULL, NULL), 200);
        assert_string_equal(t_resp_header(&r, "Content-Type"), cases[i].type);
        assert_string_equal(t_resp_header(&r, "Cache-Control"), cases[i].cache);
        assert_policy(&r);
        char etag[128], inm[160];
        assert_non_null(t_resp_header(&r, "ETag"));
        snprintf(etag, sizeof etag, "%s", t_resp_header(&r, "ETag"));
        assert_int_equal(etag[0], '"');
        t_resp_free(&r);

        snprintf(inm, sizeof inm, "If-None-Match: %s", etag);
        const char *hs[] = {inm, NULL};
        assert_int_equal(t_http(&r, fx.port, "GET", cases[i].path, NULL, hs), 304);
        assert_int_equal(r.len, 0);
        assert_string_equal(t_resp_header(&r, "ETag"), etag);
        t_resp_free(&r);

        const char *other[] = {"If-None-Match: \"0-0-0\"", NULL};
        assert_int_equal(t_http(&r, fx.port, "GET", cases[i].path, NULL, other), 200);
        t_resp_free(&r);
    }
    struct t_resp r;
    assert_int_equal(t_http(&r, fx.port, "GET", "/assets/app.js", NULL, NULL), 200);
    assert_string_equal(r.body, app_js);
    t_resp_free(&r);
    /* A changed file gets a new validator. */
    char etag[128];
    assert_int_equal(t_http(&r, fx.port, "GET", "/assets/style.css", NULL, NULL), 200);
    snprintf(etag, sizeof etag, "%s", t_resp_header(&r, "ETag"));
    t_resp_free(&r);
    put("web/assets/style.css", "body{color:#000;background:#fff}\n");
    assert_int_equal(t_http(&r, fx.port, "GET", "/assets/style.css", NULL, NULL), 200);
    assert_string_not_equal(t_resp_header(&r, "ETag"), etag);
    t_resp_free(&r);
}

static void test_nothing_else_is_served(void **state)
{
    (void)state;
    const char *refused[] = {
        "/assets/%2e%2e/secret.txt",  "/assets/..%2fsecret.txt",    "/assets/%2e%2e/%2e%2e/secret.txt",
        "/assets/.hidden.js",         "/assets/tool.exe",           "/assets/leak.txt",
        "/assets//app.js",
        "/assets/app.js/",            "/assets/missing.js",         "/assets/i18n",
        "/vendor/hls.js",             "/vendor/../node_modules/hls.js/package.json",
        "/vendor/%2e%2e/index.html",  "/node_modules/hls.js/package.json",
        "/secret.txt",                "/index.html",
    };
    for (size_t i = 0; i < sizeof refused / sizeof *refused; i++) {
        struct t_resp r;
        long st = t_http(&r, fx.port, "GET", refused[i], NULL, NULL);
        if (st != 404)
            fail_msg("%s answered %ld", refused[i], st);
        assert_null(strstr(r.body ? r.body : "", "secret"));
        t_resp_free(&r);
    }
    /* Sent as typed, without a client normalising the dots first. */
    const char *raw[] = {"GET /assets/../secret.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                         "GET /assets/../../secret.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                         "GET /vendor/../secret.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                         "GET /assets/./app.js HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"};
    for (size_t i = 0; i < sizeof raw / sizeof *raw; i++) {
        char *got = t_raw(fx.port, raw[i], strlen(raw[i]), 2000);
        assert_non_null(got);
        assert_non_null(strstr(got, " 404 "));
        assert_null(strstr(got, "web dir"));
        free(got);
    }
}

/* The gzip body of an answer, inflated (malloc'd, NUL-terminated); NULL if it is not gzip. */
static char *gunzip(const char *gz, size_t len, size_t *out_len)
{
    z_stream z = {0};
    if (inflateInit2(&z, 15 + 16) != Z_OK)
        return NULL;
    size_t cap = 64 * 1024, got = 0;
    char *out = malloc(cap + 1);
    z.next_in = (Bytef *)gz;
    z.avail_in = (uInt)len;
    int rc;
    do {
        z.next_out = (Bytef *)out + got;
        z.avail_out = (uInt)(cap - got);
        rc = inflate(&z, Z_NO_FLUSH);
        got = z.total_out;
    } while (rc == Z_OK && got < cap);
    inflateEnd(&z);
    /* One whole member, and nothing after it. */
    if (rc != Z_STREAM_END || z.avail_in != 0) {
        free(out);
        return NULL;
    }
    out[got] = 0;
    *out_len = got;
    return out;
}

static void test_accept_encoding(void **state)
{
    (void)state;
    struct {
        const char *header;
        bool gzip;
    } cases[] = {
        {NULL, false},
        {"", false},
        {"gzip", true},
        {"GZip", true},
        {"x-gzip", true},
        {"gzip, deflate, br", true},
        {"br;q=1.0, gzip;q=0.8, *;q=0.1", true},
        {"deflate, br", false},
        {"identity", false},
        {"gzip;q=0", false},
        {"gzip; q=0.000", false},
        {"gzip;q=0.001", true},
        {"gzip;q=1.000", true},
        {"gzip;q=1.5", false},
        {"gzip;q=0.0001", false},
        {"gzip;q=", false},
        {"gzip;q=abc", false},
        {"*", true},
        {"*;q=0", false},
        {"br, *;q=0.5", true},
        {"gzip;q=0, *", false},
        {"*, gzip;q=0", false},
        {"gzipped", false},
        {"agzip", false},
        {",,, gzip ,", true},
        {"br;level=4;q=0.5, gzip;foo=bar", true},
        {";;;", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        if (srv_gzip_accepted(cases[i].header) != cases[i].gzip)
            fail_msg("Accept-Encoding: %s should %s gzip", cases[i].header ? cases[i].header : "(none)",
                     cases[i].gzip ? "take" : "not take");

    assert_true(srv_gzip_suits("text/javascript; charset=utf-8", 1000));
    assert_true(srv_gzip_suits("image/svg+xml", 1000));
    assert_true(srv_gzip_suits("application/json", 1000));
    assert_false(srv_gzip_suits("text/css; charset=utf-8", 20)); /* too small to gain */
    assert_false(srv_gzip_suits("image/png", 100000));
    assert_false(srv_gzip_suits("font/woff2", 100000));
    assert_false(srv_gzip_suits(NULL, 100000));

    /* The compression itself: what goes in comes out. */
    size_t zlen, len;
    char *z = srv_gzip(big_js, strlen(big_js), &zlen);
    assert_non_null(z);
    assert_true(zlen < strlen(big_js) / 3);
    char *back = gunzip(z, zlen, &len);
    assert_non_null(back);
    assert_int_equal(len, strlen(big_js));
    assert_memory_equal(back, big_js, len);
    free(back);
    free(z);
    z = srv_gzip("", 0, &zlen);
    assert_non_null(z);
    back = gunzip(z, zlen, &len);
    assert_non_null(back);
    assert_int_equal(len, 0);
    free(back);
    free(z);
}

static void test_gzip_answers(void **state)
{
    (void)state;
    const char *gz[] = {"Accept-Encoding: gzip, deflate, br", NULL};
    struct t_resp r;
    assert_int_equal(t_http(&r, fx.port, "GET", "/assets/big.js", NULL, gz), 200);
    assert_string_equal(t_resp_header(&r, "Content-Encoding"), "gzip");
    assert_string_equal(t_resp_header(&r, "Vary"), "Accept-Encoding");
    assert_string_equal(t_resp_header(&r, "Content-Type"), "text/javascript; charset=utf-8");
    assert_policy(&r);
    assert_true(r.len < strlen(big_js) / 3);
    char len_s[32];
    snprintf(len_s, sizeof len_s, "%zu", r.len);
    assert_string_equal(t_resp_header(&r, "Content-Length"), len_s);
    size_t n;
    char *plain = gunzip(r.body, r.len, &n);
    assert_non_null(plain);
    assert_int_equal(n, strlen(big_js));
    assert_memory_equal(plain, big_js, n);
    free(plain);
    char etag_gz[128];
    snprintf(etag_gz, sizeof etag_gz, "%s", t_resp_header(&r, "ETag"));
    char *first = malloc(r.len);
    size_t first_len = r.len;
    memcpy(first, r.body, r.len);
    t_resp_free(&r);

    /* Kept: the next answer is the same bytes. */
    assert_int_equal(t_http(&r, fx.port, "GET", "/assets/big.js", NULL, gz), 200);
    assert_int_equal(r.len, first_len);
    assert_memory_equal(r.body, first, first_len);
    assert_string_equal(t_resp_header(&r, "ETag"), etag_gz);
    t_resp_free(&r);
    free(first);

    /* Without gzip (not asked, or refused): the file as it is, under another validator. */
    const char *refused[] = {"Accept-Encoding: gzip;q=0, identity", NULL};
    const char *const *plain_asks[] = {NULL, refused};
    char etag_id[128] = "";
    for (size_t i = 0; i < 2; i++) {
        assert_int_equal(t_http(&r, fx.port, "GET", "/assets/big.js", NULL, plain_asks[i]), 200);
        assert_null(t_resp_header(&r, "Content-Encoding"));
        assert_string_equal(t_resp_header(&r, "Vary"), "Accept-Encoding");
        assert_int_equal(r.len, strlen(big_js));
        assert_memory_equal(r.body, big_js, r.len);
        assert_string_not_equal(t_resp_header(&r, "ETag"), etag_gz);
        snprintf(etag_id, sizeof etag_id, "%s", t_resp_header(&r, "ETag"));
        t_resp_free(&r);
    }

    /* Validators: each representation answers 304 to its own ETag only. */
    char inm_gz[160], inm_id[160];
    snprintf(inm_gz, sizeof inm_gz, "If-None-Match: %s", etag_gz);
    snprintf(inm_id, sizeof inm_id, "If-None-Match: %s", etag_id);
    const char *gz_gz[] = {gz[0], inm_gz, NULL}, *gz_id[] = {gz[0], inm_id, NULL}, *id_gz[] = {inm_gz, NULL},
               *id_id[] = {inm_id, NULL};
    assert_int_equal(t_http(&r, fx.port, "GET", "/assets/big.js", NULL, gz_gz), 304);
    assert_int_equal(r.len, 0);
    assert_string_equal(t_resp_header(&r, "ETag"), etag_gz);
    assert_string_equal(t_resp_header(&r, "Vary"), "Accept-Encoding");
    t_resp_free(&r);
    assert_int_equal(t_http(&r, fx.port, "GET", "/assets/big.js", NULL, id_id), 304);
    assert_string_equal(t_resp_header(&r, "ETag"), etag_id);
    t_resp_free(&r);
    assert_int_equal(t_http(&r, fx.port, "GET", "/assets/big.js", NULL, gz_id), 200);
    assert_string_equal(t_resp_header(&r, "Content-Encoding"), "gzip");
    t_resp_free(&r);
    assert_int_equal(t_http(&r, fx.port, "GET", "/assets/big.js", NULL, id_gz), 200);
    assert_null(t_resp_header(&r, "Content-Encoding"));
    assert_memory_equal(r.body, big_js, strlen(big_js));
    t_resp_free(&r);

    /* Portal files ignore Range (RFC 9110 allows it): the whole file, gzipped or not. */
    const char *range_gz[] = {"Range: bytes=0-9", gz[0], NULL}, *range[] = {"Range: bytes=0-9", NULL};
    assert_int_equal(t_http(&r, fx.port, "GET", "/assets/big.js", NULL, range_gz), 200);
    assert_null(t_resp_header(&r, "Content-Range"));
    plain = gunzip(r.body, r.len, &n);
    assert_non_null(plain);
    assert_int_equal(n, strlen(big_js));
    free(plain);
    t_resp_free(&r);
    assert_int_equal(t_http(&r, fx.port, "GET", "/assets/big.js", NULL, range), 200);
    assert_int_equal(r.len, strlen(big_js));
    t_resp_free(&r);

    /* Compressed already, or too small to gain: as it is, and no Vary. */
    const char *paths[] = {"/assets/cover.png", "/assets/app.js"};
    for (size_t i = 0; i < 2; i++) {
        assert_int_equal(t_http(&r, fx.port, "GET", paths[i], NULL, gz), 200);
        assert_null(t_resp_header(&r, "Content-Encoding"));
        assert_null(t_resp_header(&r, "Vary"));
        assert_null(strstr(t_resp_header(&r, "ETag"), "-gz"));
        t_resp_free(&r);
    }
    assert_int_equal(t_http(&r, fx.port, "GET", "/assets/cover.png", NULL, gz), 200);
    assert_int_equal(r.len, 1199);
    assert_memory_equal(r.body, png_head, sizeof png_head - 1);
    t_resp_free(&r);

    /* A new version of the file is compressed again: never the kept old one. */
    char changed[sizeof big_js + 64];
    snprintf(changed, sizeof changed, "%s// changed\n", big_js);
    put("web/assets/big.js", changed);
    assert_int_equal(t_http(&r, fx.port, "GET", "/assets/big.js", NULL, gz), 200);
    assert_string_not_equal(t_resp_header(&r, "ETag"), etag_gz);
    plain = gunzip(r.body, r.len, &n);
    assert_non_null(plain);
    assert_string_equal(plain, changed);
    free(plain);
    t_resp_free(&r);
    put("web/assets/big.js", big_js);
}

/* The catalogue without JavaScript: rendered by the server, everything escaped. */
static void test_catalogue_page(void **state)
{
    (void)state;
    struct t_resp r;
    assert_int_equal(t_http(&r, fx.port, "GET", "/catalogue?q=children", NULL, NULL), 200);
    assert_string_equal(t_resp_header(&r, "Content-Type"), "text/html; charset=utf-8");
    assert_policy(&r);
    assert_non_null(strstr(r.body, "<html lang=\"fr\">"));
    assert_non_null(strstr(r.body, ">Children&#39;s Literature</a>"));
    assert_non_null(strstr(r.body, "alt=\"Couverture de « Children&#39;s Literature »\""));
    assert_non_null(strstr(r.body, "1 titre trouvé."));
    assert_null(strstr(r.body, "<script"));
    /* The cover as the thumbnails the server makes, the browser choosing. */
    const char *img = strstr(r.body, "<img class=\"cover\"");
    assert_non_null(img);
    assert_non_null(strstr(img, "/cover?w=320\" srcset=\""));
    assert_non_null(strstr(img, "/cover?w=160 160w, "));
    assert_non_null(strstr(img, "/cover?w=480 480w\" sizes=\""));
    t_resp_free(&r);

    assert_int_equal(t_http(&r, fx.port, "GET", "/catalogue?q=%3Cscript%3Ex%22%27&lang=en", NULL, NULL), 200);
    assert_non_null(strstr(r.body, "<html lang=\"en\">"));
    assert_non_null(strstr(r.body, "value=\"&lt;script&gt;x&quot;&#39;\""));
    assert_null(strstr(r.body, "<script"));
    assert_non_null(strstr(r.body, "No title found."));
    t_resp_free(&r);

    /* Unknown kinds and pages out of range are ignored, not errors. */
    assert_int_equal(t_http(&r, fx.port, "GET", "/catalogue?kind=%22%3E&page=-4", NULL, NULL), 200);
    assert_non_null(strstr(r.body, "1 titre trouvé."));
    assert_null(strstr(r.body, "\">\""));
    t_resp_free(&r);
    assert_int_equal(t_http(&r, fx.port, "GET", "/catalogue?kind=video", NULL, NULL), 200);
    assert_non_null(strstr(r.body, "Aucun titre trouvé."));
    t_resp_free(&r);
}

int main(void)
{
    t_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pages_are_the_app),
        cmocka_unit_test(test_types_and_validators),
        cmocka_unit_test(test_nothing_else_is_served),
        cmocka_unit_test(test_catalogue_page),
        cmocka_unit_test(test_accept_encoding),
        cmocka_unit_test(test_gzip_answers),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
