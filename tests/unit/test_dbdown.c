/*
 * The database goes away while the server runs: requests get 503 (never a hang or a
 * crash), /healthz says so, and everything recovers when PostgreSQL is back.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pretnum/db.h"
#include "pretnum/lending.h"
#include "pretnum/server.h"
#include "testdb.h"

static int cluster(const char *verb)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "\"%s\" %s \"%s\" >/dev/null 2>&1", getenv("PRETNUM_TEST_PGCTL"), verb,
             getenv("PRETNUM_TEST_PGDIR"));
    return system(cmd);
}

static void test_database_stops_and_returns(void **state)
{
    (void)state;
    char *ci = t_db_create(), err[256], id[37], cons[37];
    struct db *db = db_open(ci, err, sizeof err);
    assert_non_null(db);
    struct lend_err le = {0};
    assert_int_equal(lend_consortium_add(db, "C", cons, &le), LEND_OK);
    assert_int_equal(lend_library_add(db, cons, "L", "Library", id, &le), LEND_OK);
    assert_int_equal(lend_patron_add(db, "L", "1", NULL, NULL, "password", id, &le), LEND_OK);
    db_close(db);
    struct srv *s;
    struct srv_config cfg = {.data_dir = getenv("PRETNUM_DATA_DIR"), .conninfo = ci, .threads = 2, .quiet = true};
    assert_int_equal(srv_start(&cfg, &s, err, sizeof err), 0);
    int port = srv_port(s);
    const char *json[] = {"Content-Type: application/json", NULL};
    const char *login = "{\"library\":\"L\",\"card\":\"1\",\"password\":\"password\"}";
    struct t_resp r;
    assert_int_equal(t_http(&r, port, "POST", "/api/v1/session", login, json), 201);
    char auth[128];
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", json_string_value(json_object_get(r.json, "token")));
    t_resp_free(&r);
    const char *bearer[] = {auth, NULL};

    assert_int_equal(cluster("stop"), 0);
    assert_int_equal(t_http(&r, port, "GET", "/healthz", NULL, NULL), 503);
    assert_string_equal(json_string_value(json_object_get(r.json, "database")), "down");
    t_resp_free(&r);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(t_http(&r, port, "GET", "/api/v1/me", NULL, bearer), 503);
        assert_string_equal(t_err_code(&r), "database_unavailable");
        assert_non_null(t_resp_header(&r, "Retry-After"));
        t_resp_free(&r);
    }
    assert_int_equal(t_http(&r, port, "POST", "/api/v1/session", login, json), 503);
    t_resp_free(&r);
    /* Requests that need no database still work. */
    assert_int_equal(t_http(&r, port, "GET", "/metrics", NULL, NULL), 200);
    assert_null(strstr(r.body, "pretnum_db_errors_total 0\n"));
    t_resp_free(&r);

    assert_int_equal(cluster("start"), 0);
    long st = 0;
    for (int i = 0; i < 50 && st != 200; i++) {
        st = t_http(&r, port, "GET", "/healthz", NULL, NULL);
        t_resp_free(&r);
        if (st != 200)
            usleep(200000);
    }
    assert_int_equal(st, 200);
    /* Every pooled connection recovers, and the session survived. */
    for (int i = 0; i < 8; i++) {
        assert_int_equal(t_http(&r, port, "GET", "/api/v1/me", NULL, bearer), 200);
        t_resp_free(&r);
    }
    assert_int_equal(t_http(&r, port, "POST", "/api/v1/session", login, json), 201);
    t_resp_free(&r);
    srv_stop(s, 1000);
    t_db_drop(ci);
}

int main(void)
{
    t_init();
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_database_stops_and_returns),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
