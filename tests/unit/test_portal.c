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

#include "pretnum/catalogue.h"
#include "pretnum/db.h"
#include "pretnum/server.h"
#include "testdb.h"

static struct {
    char *ci, *tmp, *web, *data;
    struct srv *srv;
    int port;
} fx;

static const char index_html[] = "<!doctype html><html lang=\"fr\"><title>Portail</title></html>\n";
static const char app_js[] = "export const answer = 42;\n";

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
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
