/* Pure parts of the server: the router, the JSON body parser and the request arena. */
#include <stdlib.h>
#include <string.h>

#include "pretnum/arena.h"
#include "pretnum/server.h"
#include "testlib.h"

static void h_dummy(struct srv_req *r)
{
    (void)r;
}

static const struct srv_route routes[] = {
    {"GET", "/api/v1/titles", h_dummy, "titles"},
    {"GET", "/api/v1/titles/{id}", h_dummy, "title"},
    {"POST", "/api/v1/loans/{id}/renew", h_dummy, "renew"},
    {"DELETE", "/api/v1/holds/{id}", h_dummy, "hold_delete"},
    {"GET", "/content/{loan}/{path}", h_dummy, "content"},
    {"GET", "/files/{token}/{*path}", h_dummy, "files"},
    {NULL, NULL, NULL, NULL},
};

static void test_route_exact_and_params(void **state)
{
    (void)state;
    struct srv_params p;
    assert_int_equal(srv_route_match(routes, "GET", "/api/v1/titles", &p), 0);
    assert_int_equal(p.n, 0);
    assert_int_equal(srv_route_match(routes, "GET", "/api/v1/titles/abc-123", &p), 1);
    assert_int_equal(p.n, 1);
    assert_int_equal(p.name_len[0], 2);
    assert_memory_equal(p.name[0], "id", 2);
    assert_string_equal(p.value[0], "abc-123");
    assert_int_equal(srv_route_match(routes, "POST", "/api/v1/loans/L9/renew", &p), 2);
    assert_string_equal(p.value[0], "L9");
    assert_int_equal(srv_route_match(routes, "GET", "/content/L1/chapter", &p), 4);
    assert_int_equal(p.n, 2);
    assert_string_equal(p.value[0], "L1");
    assert_string_equal(p.value[1], "chapter");
    assert_int_equal(srv_route_match(routes, "GET", "/files/T/OEBPS/Text/ch 1.xhtml", &p), 5);
    assert_int_equal(p.n, 2);
    assert_int_equal(p.name_len[1], 4);
    assert_memory_equal(p.name[1], "path", 4);
    assert_string_equal(p.value[0], "T");
    assert_string_equal(p.value[1], "OEBPS/Text/ch 1.xhtml");
    assert_int_equal(srv_route_match(routes, "GET", "/files/T/", &p), -1); /* the rest may not be empty */
}

static void test_route_misses(void **state)
{
    (void)state;
    struct srv_params p;
    assert_int_equal(srv_route_match(routes, "GET", "/api/v1/titles/", &p), -1);   /* empty param */
    assert_int_equal(srv_route_match(routes, "GET", "/api/v1/titles/a/b", &p), -1); /* extra segment */
    assert_int_equal(srv_route_match(routes, "GET", "/api/v1/title", &p), -1);
    assert_int_equal(srv_route_match(routes, "GET", "/api/v1/titlesX", &p), -1);
    assert_int_equal(srv_route_match(routes, "GET", "", &p), -1);
    assert_int_equal(srv_route_match(routes, "PUT", "/api/v1/titles", &p), -2);
    assert_int_equal(srv_route_match(routes, "GET", "/api/v1/holds/7", &p), -2);
    assert_int_equal(srv_route_match(routes, "HEAD", "/api/v1/titles", &p), 0);
    char *longpath = malloc(5000);
    memset(longpath, 'a', 4999);
    longpath[0] = '/';
    longpath[4999] = 0;
    assert_int_equal(srv_route_match(routes, "GET", longpath, &p), -1);
    free(longpath);
}

static void test_json_parse(void **state)
{
    (void)state;
    char err[200];
    json_t *j = srv_json_parse("{\"a\": [1, {\"b\": \"[[[\"}]}", 24, 3, err, sizeof err);
    assert_non_null(j); /* brackets inside strings do not count */
    json_decref(j);
    assert_null(srv_json_parse("[[[[1]]]]", 9, 3, err, sizeof err));
    assert_non_null(strstr(err, "deeper"));
    assert_null(srv_json_parse("{\"a\":1,\"a\":2}", 13, 8, err, sizeof err));
    assert_null(srv_json_parse("{\"a\":\"\\u0000\"}", 14, 8, err, sizeof err));
    assert_null(srv_json_parse("", 0, 8, err, sizeof err));
    assert_null(srv_json_parse("{\"a\":1} x", 9, 8, err, sizeof err));
    j = srv_json_parse("{\"esc\":\"\\\"]]]\"}", 15, 1, err, sizeof err);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "esc")), "\"]]]");
    json_decref(j);
}

static int hooks_run;
static void hook(void *p)
{
    hooks_run = hooks_run * 10 + *(int *)p;
}

static void test_path_for_log(void **state)
{
    (void)state;
    char out[128];
    assert_string_equal(srv_path_for_log("/content/v4.public.abc.def/OPS/p1.xhtml", out, sizeof out),
                        "/content/-/OPS/p1.xhtml");
    assert_string_equal(srv_path_for_log("/stream/v4.public.x/seg-00001.m4s", out, sizeof out), "/stream/-/seg-00001.m4s");
    assert_string_equal(srv_path_for_log("/download/v4.public.xyz", out, sizeof out), "/download/-");
    assert_string_equal(srv_path_for_log("/api/v1/loans", out, sizeof out), "/api/v1/loans");
    assert_string_equal(srv_path_for_log("/contents/x", out, sizeof out), "/contents/x");
    char small[8];
    assert_string_equal(srv_path_for_log("/api/v1/loans", small, sizeof small), "/api/v1");
}

static void test_arena(void **state)
{
    (void)state;
    struct arena *a = arena_new();
    char *s = arena_strdup(a, "médiathèque");
    assert_string_equal(s, "médiathèque");
    char *f = arena_printf(a, "%s-%d", "loan", 42);
    assert_string_equal(f, "loan-42");
    assert_null(arena_strdup(a, NULL));
    /* Many small and a few large allocations, all writable and aligned. */
    for (int i = 0; i < 2000; i++) {
        size_t n = (size_t)(i % 7 == 0 ? 10000 : 24);
        unsigned char *p = arena_alloc(a, n);
        assert_int_equal((uintptr_t)p % _Alignof(max_align_t), 0);
        assert_int_equal(p[n - 1], 0);
        memset(p, 0xab, n);
    }
    static int one = 1, two = 2;
    arena_defer(a, hook, &one);
    arena_defer(a, hook, &two);
    hooks_run = 0;
    arena_free(a);
    assert_int_equal(hooks_run, 21); /* last registered runs first */
    arena_free(NULL);
}

int main(void)
{
    t_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_route_exact_and_params),
        cmocka_unit_test(test_route_misses),
        cmocka_unit_test(test_json_parse),
        cmocka_unit_test(test_arena),
        cmocka_unit_test(test_path_for_log),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
