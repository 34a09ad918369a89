/*
 * Lending over HTTP against a real PostgreSQL: licences never oversold, loans, holds in
 * line, expiry at due, idempotent retries, staff scoping, the usage report, and two
 * server processes on one database.
 */
#include <arpa/inet.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pretnum/db.h"
#include "pretnum/lending.h"
#include "pretnum/loans.h"
#include "pretnum/server.h"
#include "testdb.h"

#define PATRONS 140

static struct {
    char *ci;
    struct srv *srv;
    int port;
    struct db *db;
    char tok[PATRONS][44];     /* patrons of library L1 (max_loans 2); 80 to 139 race for Book 1 */
    char tok_l2[44], tok_b[44]; /* a patron of L2, one of consortium B */
    char admin_a[44], admin_l1[44], admin_l2[44], admin_b[44];
} fx;

static char *one(const char *sql)
{
    return t_sql_value(fx.ci, sql);
}

static int setup(void **state)
{
    (void)state;
    if (sodium_init() < 0)
        return -1;
    fx.ci = t_db_create();
    t_sql(fx.ci, "INSERT INTO consortium (id, name) VALUES ('aaaaaaaa-0000-0000-0000-000000000000', 'A'),"
                 " ('bbbbbbbb-0000-0000-0000-000000000000', 'B');"
                 "INSERT INTO library (id, consortium_id, code, name, max_loans, max_holds) VALUES"
                 " ('11111111-0000-0000-0000-000000000000', 'aaaaaaaa-0000-0000-0000-000000000000', 'L1', 'One', 2, 3),"
                 " ('22222222-0000-0000-0000-000000000000', 'aaaaaaaa-0000-0000-0000-000000000000', 'L2', 'Two', 5, 5),"
                 " ('33333333-0000-0000-0000-000000000000', 'bbbbbbbb-0000-0000-0000-000000000000', 'L3', 'Three', 5, 5);"
                 "INSERT INTO patron (library_id, card, password_hash)"
                 " SELECT '11111111-0000-0000-0000-000000000000', 'p' || i, 'x' FROM generate_series(0, 139) i;"
                 "INSERT INTO patron (library_id, card, password_hash) VALUES"
                 " ('22222222-0000-0000-0000-000000000000', 'q', 'x'), ('33333333-0000-0000-0000-000000000000', 'r', 'x');"
                 "INSERT INTO staff (consortium_id, library_id, email, role, password_hash) VALUES"
                 " ('aaaaaaaa-0000-0000-0000-000000000000', NULL, 'a@a', 'consortium_admin', 'x'),"
                 " ('aaaaaaaa-0000-0000-0000-000000000000', '11111111-0000-0000-0000-000000000000', 'l1@a', 'library_admin', 'x'),"
                 " ('aaaaaaaa-0000-0000-0000-000000000000', '22222222-0000-0000-0000-000000000000', 'l2@a', 'library_admin', 'x'),"
                 " ('bbbbbbbb-0000-0000-0000-000000000000', NULL, 'b@b', 'consortium_admin', 'x');"
                 "INSERT INTO title (id, kind, title, file_sha256, file_path, file_size, media_type)"
                 " SELECT ('00000000-0000-0000-0000-0000000000' || lpad(i::text, 2, '0'))::uuid, 'ebook', 'Book ' || i,"
                 "        lpad(i::text, 64, '0'), 'x', 1, 'application/epub+zip' FROM generate_series(1, 40) i");
    for (int i = 0; i < PATRONS; i++) {
        char q[128];
        snprintf(q, sizeof q, "SELECT id FROM patron WHERE card = 'p%d'", i);
        char *id = one(q);
        t_session(fx.ci, id, NULL, fx.tok[i]);
        free(id);
    }
    char *id;
    t_session(fx.ci, id = one("SELECT id FROM patron WHERE card = 'q'"), NULL, fx.tok_l2), free(id);
    t_session(fx.ci, id = one("SELECT id FROM patron WHERE card = 'r'"), NULL, fx.tok_b), free(id);
    t_session(fx.ci, NULL, id = one("SELECT id FROM staff WHERE email = 'a@a'"), fx.admin_a), free(id);
    t_session(fx.ci, NULL, id = one("SELECT id FROM staff WHERE email = 'l1@a'"), fx.admin_l1), free(id);
    t_session(fx.ci, NULL, id = one("SELECT id FROM staff WHERE email = 'l2@a'"), fx.admin_l2), free(id);
    t_session(fx.ci, NULL, id = one("SELECT id FROM staff WHERE email = 'b@b'"), fx.admin_b), free(id);
    char err[256];
    fx.db = db_open(fx.ci, err, sizeof err);
    struct srv_config cfg = {.data_dir = getenv("PRETNUM_DATA_DIR"), .conninfo = fx.ci, .threads = 2, .quiet = true, .sweep_interval_s = -1};
    if (!fx.db || srv_start(&cfg, &fx.srv, err, sizeof err) != 0) {
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
    db_close(fx.db);
    t_db_drop(fx.ci);
    return 0;
}

#define TITLE(n) "00000000-0000-0000-0000-0000000000" #n

static long call(struct t_resp *r, const char *token, const char *method, const char *path, const char *body,
                 const char *extra)
{
    char auth[100];
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
    const char *hs[] = {auth, "Content-Type: application/json", extra, NULL};
    return t_http(r, fx.port, method, path, body, hs);
}

/* Adds a licence as the consortium admin; returns its id in id (may be NULL). */
static void licence(const char *body, char id[37])
{
    struct t_resp r;
    if (call(&r, fx.admin_a, "POST", "/api/v1/admin/licences", body, NULL) != 201)
        fail_msg("licence %s: %ld %s", body, r.status, r.body);
    if (id)
        snprintf(id, 37, "%s", json_string_value(json_object_get(r.json, "id")));
    t_resp_free(&r);
}

static long borrow(int patron, const char *title, char loan_id[37])
{
    struct t_resp r;
    char body[128];
    snprintf(body, sizeof body, "{\"title_id\":\"%s\"}", title);
    long st = call(&r, fx.tok[patron], "POST", "/api/v1/loans", body, NULL);
    if (loan_id)
        snprintf(loan_id, 37, "%s", st == 201 ? json_string_value(json_object_get(json_object_get(r.json, "loan"), "id")) : "");
    t_resp_free(&r);
    return st;
}

static const char *code_of(int patron, const char *method, const char *path, const char *body, long *status)
{
    static char code[64];
    struct t_resp r;
    *status = call(&r, fx.tok[patron], method, path, body, NULL);
    snprintf(code, sizeof code, "%s", t_err_code(&r));
    t_resp_free(&r);
    return code;
}

struct racer {
    int patron;
    const char *title;
    int port;
    long status;
};

static void *race(void *arg)
{
    struct racer *x = arg;
    struct t_resp r;
    char auth[100], body[128];
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", fx.tok[x->patron]);
    snprintf(body, sizeof body, "{\"title_id\":\"%s\"}", x->title);
    const char *hs[] = {auth, "Content-Type: application/json", NULL};
    x->status = t_http(&r, x->port, "POST", "/api/v1/loans", body, hs);
    t_resp_free(&r);
    return NULL;
}

/* n patrons from first ask at once, spread over the ports given; returns how many got a loan. */
static int stampede(const char *title, int first, int n, const int *ports, int nports, int *refused)
{
    struct racer x[PATRONS];
    pthread_t th[PATRONS];
    for (int i = 0; i < n; i++) {
        x[i] = (struct racer){.patron = first + i, .title = title, .port = ports[i % nports]};
        pthread_create(&th[i], NULL, race, &x[i]);
    }
    int won = 0;
    *refused = 0;
    for (int i = 0; i < n; i++) {
        pthread_join(th[i], NULL);
        won += x[i].status == 201;
        *refused += x[i].status == 409;
    }
    return won;
}

static void test_sixty_at_once_on_three_copies(void **state)
{
    (void)state;
    licence("{\"title_id\":\"" TITLE(01) "\",\"library\":null,\"concurrency\":3}", NULL);
    int refused, port = fx.port;
    /* Patrons no other test uses: which three win is chance, and a win is a loan. */
    assert_int_equal(stampede(TITLE(01), 80, 60, &port, 1, &refused), 3);
    assert_int_equal(refused, 57);
    char *n = one("SELECT count(*) FROM loan WHERE title_id = '" TITLE(01) "'");
    assert_string_equal(n, "3");
    free(n);
    n = one("SELECT count(*) FROM usage_event WHERE type = 'turnaway_no_copy' AND title_id = '" TITLE(01) "'");
    assert_string_equal(n, "57");
    free(n);
    /* Staff see the live count. */
    struct t_resp r;
    assert_int_equal(call(&r, fx.admin_a, "GET", "/api/v1/admin/licences?title_id=" TITLE(01), NULL, NULL), 200);
    json_t *l = json_array_get(json_object_get(r.json, "items"), 0);
    assert_int_equal(json_integer_value(json_object_get(l, "in_use")), 3);
    assert_int_equal(json_integer_value(json_object_get(l, "checkouts_used")), 3);
    assert_true(json_is_null(json_object_get(l, "checkouts_left")));
    assert_string_equal(json_string_value(json_object_get(l, "state")), "active");
    t_resp_free(&r);
    /* Availability as a patron sees it. */
    assert_int_equal(call(&r, fx.tok[70], "GET", "/api/v1/titles/" TITLE(01), NULL, NULL), 200);
    json_t *a = json_object_get(r.json, "availability");
    assert_int_equal(json_integer_value(json_object_get(a, "copies")), 3);
    assert_int_equal(json_integer_value(json_object_get(a, "available")), 0);
    t_resp_free(&r);
}

static void test_metered_licence(void **state)
{
    (void)state;
    char lic[37];
    licence("{\"title_id\":\"" TITLE(02) "\",\"concurrency\":1,\"checkouts\":5}", lic);
    for (int i = 0; i < 5; i++) {
        char loan[37], path[128];
        assert_int_equal(borrow(10 + i, TITLE(02), loan), 201);
        snprintf(path, sizeof path, "/api/v1/loans/%s/return", loan);
        struct t_resp r;
        assert_int_equal(call(&r, fx.tok[10 + i], "POST", path, NULL, NULL), 200);
        assert_string_equal(json_string_value(json_object_get(json_object_get(r.json, "loan"), "state")), "returned");
        t_resp_free(&r);
    }
    long st;
    assert_string_equal(code_of(15, "POST", "/api/v1/loans", "{\"title_id\":\"" TITLE(02) "\"}", &st), "no_licence");
    assert_int_equal(st, 403);
    char q[200];
    snprintf(q, sizeof q, "SELECT checkouts_used FROM licence WHERE id = '%s'", lic);
    char *v = one(q);
    assert_string_equal(v, "5");
    free(v);
    struct t_resp r;
    call(&r, fx.admin_a, "GET", "/api/v1/admin/licences?title_id=" TITLE(02), NULL, NULL);
    json_t *l = json_array_get(json_object_get(r.json, "items"), 0);
    assert_string_equal(json_string_value(json_object_get(l, "state")), "exhausted");
    assert_int_equal(json_integer_value(json_object_get(l, "checkouts_left")), 0);
    t_resp_free(&r);
    /* And the database itself refuses a sixth, whatever the code does. */
    snprintf(q, sizeof q, "UPDATE licence SET checkouts_used = 6 WHERE id = '%s'", lic);
    PGconn *c = PQconnectdb(fx.ci);
    PGresult *res = PQexec(c, q);
    assert_int_equal(PQresultStatus(res), PGRES_FATAL_ERROR);
    PQclear(res);
    PQfinish(c);
}

static json_t *get_json(const char *token, const char *path)
{
    struct t_resp r;
    assert_int_equal(call(&r, token, "GET", path, NULL, NULL), 200);
    json_t *j = json_incref(r.json);
    t_resp_free(&r);
    return j;
}

static const char *first_hold_state(int patron, json_t **keep)
{
    *keep = get_json(fx.tok[patron], "/api/v1/holds");
    const char *st = json_string_value(json_object_get(json_array_get(json_object_get(*keep, "items"), 0), "state"));
    return st ? st : "(none)";
}

static void test_holds_in_line(void **state)
{
    (void)state;
    licence("{\"title_id\":\"" TITLE(03) "\",\"concurrency\":1}", NULL);
    char loan[37];
    assert_int_equal(borrow(20, TITLE(03), loan), 201);
    struct t_resp r;
    const char *hb = "{\"title_id\":\"" TITLE(03) "\"}";
    assert_int_equal(call(&r, fx.tok[21], "POST", "/api/v1/holds", hb, NULL), 201);
    json_t *h = json_object_get(r.json, "hold");
    assert_string_equal(json_string_value(json_object_get(h, "state")), "waiting");
    assert_int_equal(json_integer_value(json_object_get(h, "position")), 1);
    assert_int_equal(json_integer_value(json_object_get(h, "estimated_wait_days")), 17); /* 14 + 3 */
    t_resp_free(&r);
    assert_int_equal(call(&r, fx.tok[22], "POST", "/api/v1/holds", hb, NULL), 201);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(r.json, "hold"), "position")), 2);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(r.json, "hold"), "estimated_wait_days")), 34);
    t_resp_free(&r);
    long st;
    assert_string_equal(code_of(21, "POST", "/api/v1/holds", hb, &st), "already_on_hold");
    assert_string_equal(code_of(20, "POST", "/api/v1/holds", hb, &st), "already_borrowed");
    assert_string_equal(code_of(23, "POST", "/api/v1/loans", hb, &st), "no_copy_available");
    assert_int_equal(st, 409);
    /* Renewal refused while others wait. */
    char path[128];
    snprintf(path, sizeof path, "/api/v1/loans/%s/renew", loan);
    assert_string_equal(code_of(20, "POST", path, NULL, &st), "holds_waiting");
    assert_int_equal(st, 409);

    /* The returned copy goes to the first hold, and to no one else. */
    snprintf(path, sizeof path, "/api/v1/loans/%s/return", loan);
    assert_int_equal(call(&r, fx.tok[20], "POST", path, NULL, NULL), 200);
    t_resp_free(&r);
    json_t *keep;
    assert_string_equal(first_hold_state(21, &keep), "ready");
    assert_non_null(json_string_value(json_object_get(json_array_get(json_object_get(keep, "items"), 0), "ready_until")));
    json_decref(keep);
    assert_string_equal(first_hold_state(22, &keep), "waiting");
    json_decref(keep);
    assert_string_equal(code_of(23, "POST", "/api/v1/loans", hb, &st), "no_copy_available");
    assert_string_equal(code_of(22, "POST", "/api/v1/loans", hb, &st), "no_copy_available");
    assert_int_equal(borrow(21, TITLE(03), NULL), 201);
    assert_string_equal(first_hold_state(22, &keep), "waiting");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(json_object_get(keep, "items"), 0), "position")), 1);
    json_decref(keep);
    char *v = one("SELECT state FROM hold WHERE title_id = '" TITLE(03) "' ORDER BY placed LIMIT 1");
    assert_string_equal(v, "fulfilled");
    free(v);
}

static void test_expiry_at_due(void **state)
{
    (void)state;
    licence("{\"title_id\":\"" TITLE(04) "\",\"concurrency\":1}", NULL);
    char loan[37];
    assert_int_equal(borrow(30, TITLE(04), loan), 201);
    assert_int_equal(borrow(31, TITLE(04), NULL), 409);
    /* Move the loan's due time into the past: the copy is free at that instant. */
    t_sql(fx.ci, "UPDATE loan SET started = now() - interval '15 days', due = now() - interval '1 second'"
                 " WHERE title_id = '" TITLE(04) "'");
    assert_int_equal(borrow(31, TITLE(04), NULL), 201);
    char path[128];
    snprintf(path, sizeof path, "/api/v1/loans/%s", loan);
    json_t *l = get_json(fx.tok[30], path);
    assert_string_equal(json_string_value(json_object_get(json_object_get(l, "loan"), "state")), "expired");
    json_decref(l);
    l = get_json(fx.tok[30], "/api/v1/loans");
    assert_int_equal(json_integer_value(json_object_get(l, "total")), 0);
    json_decref(l);
    l = get_json(fx.tok[30], "/api/v1/loans?state=all");
    assert_int_equal(json_integer_value(json_object_get(l, "total")), 1);
    json_decref(l);
    long st;
    snprintf(path, sizeof path, "/api/v1/loans/%s/return", loan);
    assert_string_equal(code_of(30, "POST", path, NULL, &st), "loan_not_active");

    /* With someone waiting, the housekeeping hands the expired copy to the hold. */
    licence("{\"title_id\":\"" TITLE(05) "\",\"concurrency\":1}", NULL);
    assert_int_equal(borrow(32, TITLE(05), NULL), 201);
    struct t_resp r;
    assert_int_equal(call(&r, fx.tok[33], "POST", "/api/v1/holds", "{\"title_id\":\"" TITLE(05) "\"}", NULL), 201);
    t_resp_free(&r);
    assert_int_equal(call(&r, fx.tok[34], "POST", "/api/v1/holds", "{\"title_id\":\"" TITLE(05) "\"}", NULL), 201);
    t_resp_free(&r);
    t_sql(fx.ci, "UPDATE loan SET started = now() - interval '15 days', due = now() - interval '1 second'"
                 " WHERE title_id = '" TITLE(05) "'");
    assert_true(lend_sweep(fx.db) >= 2); /* one loan closed, one hold made ready */
    json_t *keep;
    assert_string_equal(first_hold_state(33, &keep), "ready");
    json_decref(keep);
    assert_string_equal(code_of(35, "POST", "/api/v1/loans", "{\"title_id\":\"" TITLE(05) "\"}", &st),
                        "no_copy_available");
    /* The ready hold lapses after its window; the next in line gets the copy. */
    t_sql(fx.ci, "UPDATE hold SET ready_until = now() - interval '1 second' WHERE state = 'ready'"
                 " AND title_id = '" TITLE(05) "'");
    assert_true(lend_sweep(fx.db) >= 2);
    char *v = one("SELECT h.state FROM hold h JOIN patron p ON p.id = h.patron_id WHERE p.card = 'p33'");
    assert_string_equal(v, "expired");
    free(v);
    assert_string_equal(first_hold_state(34, &keep), "ready");
    json_decref(keep);
    v = one("SELECT count(*) FROM usage_event WHERE type IN ('expire', 'hold_ready', 'hold_lapsed')"
                  " AND title_id = '" TITLE(05) "'");
    assert_string_equal(v, "4");
    free(v);
    assert_int_equal(borrow(34, TITLE(05), NULL), 201);
}

static void test_idempotent_retries(void **state)
{
    (void)state;
    licence("{\"title_id\":\"" TITLE(06) "\",\"concurrency\":2}", NULL);
    struct t_resp a, b, c;
    const char *body = "{\"title_id\":\"" TITLE(06) "\"}";
    assert_int_equal(call(&a, fx.tok[40], "POST", "/api/v1/loans", body, "Idempotency-Key: borrow-1"), 201);
    assert_int_equal(call(&b, fx.tok[40], "POST", "/api/v1/loans", body, "Idempotency-Key: borrow-1"), 201);
    assert_string_equal(json_string_value(json_object_get(json_object_get(a.json, "loan"), "id")),
                        json_string_value(json_object_get(json_object_get(b.json, "loan"), "id")));
    char *n = one("SELECT count(*) FROM loan WHERE title_id = '" TITLE(06) "'");
    assert_string_equal(n, "1");
    free(n);
    assert_int_equal(call(&c, fx.tok[40], "POST", "/api/v1/loans", "{\"title_id\":\"" TITLE(07) "\"}",
                          "Idempotency-Key: borrow-1"), 422);
    assert_string_equal(t_err_code(&c), "idempotency_key_reused");
    t_resp_free(&a);
    t_resp_free(&b);
    t_resp_free(&c);
    /* Another patron may use the same key: keys are per patron. */
    assert_int_equal(call(&a, fx.tok[41], "POST", "/api/v1/loans", body, "Idempotency-Key: borrow-1"), 201);
    t_resp_free(&a);
    /* A refusal is replayed too, and counted once. */
    const char *none = "{\"title_id\":\"" TITLE(08) "\"}";
    assert_int_equal(call(&a, fx.tok[42], "POST", "/api/v1/loans", none, "Idempotency-Key: k2"), 403);
    assert_int_equal(call(&b, fx.tok[42], "POST", "/api/v1/loans", none, "Idempotency-Key: k2"), 403);
    assert_string_equal(t_err_code(&b), "no_licence");
    t_resp_free(&a);
    t_resp_free(&b);
    n = one("SELECT count(*) FROM usage_event WHERE type = 'turnaway_no_licence' AND title_id = '" TITLE(08) "'");
    assert_string_equal(n, "1");
    free(n);
    assert_int_equal(call(&a, fx.tok[42], "POST", "/api/v1/loans", none, "Idempotency-Key: \x01"), 400);
    t_resp_free(&a);
}

static void test_refusals(void **state)
{
    (void)state;
    licence("{\"title_id\":\"" TITLE(09) "\",\"concurrency\":5}", NULL);
    licence("{\"title_id\":\"" TITLE(10) "\",\"concurrency\":5}", NULL);
    licence("{\"title_id\":\"" TITLE(11) "\",\"concurrency\":5}", NULL);
    assert_int_equal(borrow(50, TITLE(09), NULL), 201);
    long st;
    assert_string_equal(code_of(50, "POST", "/api/v1/loans", "{\"title_id\":\"" TITLE(09) "\"}", &st), "already_borrowed");
    assert_int_equal(st, 409);
    assert_int_equal(borrow(50, TITLE(10), NULL), 201);
    /* L1 allows two loans at a time. */
    assert_string_equal(code_of(50, "POST", "/api/v1/loans", "{\"title_id\":\"" TITLE(11) "\"}", &st), "loan_limit_reached");
    assert_int_equal(st, 403);
    assert_string_equal(code_of(51, "POST", "/api/v1/loans", "{\"title_id\":\"00000000-0000-0000-0000-000000000099\"}", &st),
                        "unknown_title");
    assert_int_equal(st, 404);
    assert_string_equal(code_of(51, "POST", "/api/v1/loans", "{\"title_id\":\"" TITLE(11) "\",\"days\":10}", &st),
                        "invalid_loan_days");
    assert_int_equal(st, 400);
    assert_int_equal(borrow(51, TITLE(11), NULL), 201);
    assert_string_equal(code_of(52, "POST", "/api/v1/holds", "{\"title_id\":\"" TITLE(11) "\"}", &st), "copy_available");
    /* Loans are patrons' business. */
    struct t_resp r;
    assert_int_equal(call(&r, fx.admin_a, "POST", "/api/v1/loans", "{\"title_id\":\"" TITLE(11) "\"}", NULL), 403);
    t_resp_free(&r);
    /* Consortium B owns no licence for these. */
    assert_int_equal(call(&r, fx.tok_b, "POST", "/api/v1/loans", "{\"title_id\":\"" TITLE(11) "\"}", NULL), 403);
    assert_string_equal(t_err_code(&r), "no_licence");
    t_resp_free(&r);
}

static void test_renewals(void **state)
{
    (void)state;
    licence("{\"title_id\":\"" TITLE(12) "\",\"concurrency\":1}", NULL);
    char loan[37], path[128];
    assert_int_equal(borrow(55, TITLE(12), loan), 201);
    snprintf(path, sizeof path, "/api/v1/loans/%s/renew", loan);
    struct t_resp r;
    assert_int_equal(call(&r, fx.tok[55], "POST", path, "{\"days\":7}", NULL), 200);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(r.json, "loan"), "renewals")), 1);
    t_resp_free(&r);
    char q[200];
    snprintf(q, sizeof q, "SELECT round(extract(epoch FROM due - started) / 86400) FROM loan WHERE id = '%s'", loan);
    char *d = one(q);
    assert_string_equal(d, "21"); /* 14 + 7 */
    free(d);
    assert_int_equal(call(&r, fx.tok[55], "POST", path, NULL, NULL), 200);
    t_resp_free(&r);
    long st;
    assert_string_equal(code_of(55, "POST", path, NULL, &st), "renewal_limit");
    /* A licence ending before the new due date refuses the renewal. */
    t_sql(fx.ci, "INSERT INTO licence (title_id, consortium_id, concurrency, expires) VALUES"
                 " ('" TITLE(13) "', 'aaaaaaaa-0000-0000-0000-000000000000', 1, now() + interval '10 days')");
    assert_int_equal(borrow(56, TITLE(13), loan), 201);
    snprintf(q, sizeof q, "SELECT due <= now() + interval '10 days' FROM loan WHERE id = '%s'", loan);
    d = one(q);
    assert_string_equal(d, "t"); /* capped at the licence's end */
    free(d);
    snprintf(path, sizeof path, "/api/v1/loans/%s/renew", loan);
    assert_string_equal(code_of(56, "POST", path, NULL, &st), "licence_ends");
    assert_int_equal(st, 409);
}

static void test_licence_order(void **state)
{
    (void)state;
    char wide[37], soon[37], later[37], own_perpetual[37];
    licence("{\"title_id\":\"" TITLE(14) "\",\"concurrency\":1}", wide);
    licence("{\"title_id\":\"" TITLE(14) "\",\"library\":\"L1\",\"concurrency\":1}", own_perpetual);
    licence("{\"title_id\":\"" TITLE(14) "\",\"library\":\"L1\",\"concurrency\":1,\"expires\":\"2099-06-01\"}", later);
    licence("{\"title_id\":\"" TITLE(14) "\",\"library\":\"L1\",\"concurrency\":1,\"expires\":\"2098-01-01\"}", soon);
    const char *want[] = {soon, later, own_perpetual, wide};
    for (int i = 0; i < 4; i++) {
        char loan[37], q[200];
        assert_int_equal(borrow(60 + i, TITLE(14), loan), 201);
        snprintf(q, sizeof q, "SELECT licence_id FROM loan WHERE id = '%s'", loan);
        char *v = one(q);
        assert_string_equal(v, want[i]);
        free(v);
    }
    /* L2's patron may only use the consortium-wide licence, which is out. */
    struct t_resp r;
    assert_int_equal(call(&r, fx.tok_l2, "POST", "/api/v1/loans", "{\"title_id\":\"" TITLE(14) "\"}", NULL), 409);
    t_resp_free(&r);
}

static void test_licence_scoping(void **state)
{
    (void)state;
    struct t_resp r;
    /* A library admin's licence is its library's, whatever it asks. */
    assert_int_equal(call(&r, fx.admin_l1, "POST", "/api/v1/admin/licences",
                          "{\"title_id\":\"" TITLE(15) "\",\"concurrency\":2,\"loan_days\":7}", NULL), 201);
    assert_string_equal(json_string_value(json_object_get(r.json, "library")), "L1");
    char id[37], path[128];
    snprintf(id, sizeof id, "%s", json_string_value(json_object_get(r.json, "id")));
    t_resp_free(&r);
    assert_int_equal(call(&r, fx.admin_l1, "POST", "/api/v1/admin/licences",
                          "{\"title_id\":\"" TITLE(15) "\",\"library\":\"L2\",\"concurrency\":2}", NULL), 404);
    t_resp_free(&r);
    snprintf(path, sizeof path, "/api/v1/admin/licences/%s", id);
    assert_int_equal(call(&r, fx.admin_l2, "PATCH", path, "{\"concurrency\":9}", NULL), 404);
    t_resp_free(&r);
    assert_int_equal(call(&r, fx.admin_b, "PATCH", path, "{\"concurrency\":9}", NULL), 404);
    t_resp_free(&r);
    json_t *l = get_json(fx.admin_l2, "/api/v1/admin/licences?title_id=" TITLE(15));
    assert_int_equal(json_integer_value(json_object_get(l, "total")), 0);
    json_decref(l);
    l = get_json(fx.admin_a, "/api/v1/admin/licences?title_id=" TITLE(15));
    assert_int_equal(json_integer_value(json_object_get(l, "total")), 1);
    json_decref(l);
    /* Its own admin may change it; a suspended licence lends nothing. */
    assert_int_equal(call(&r, fx.admin_l1, "PATCH", path, "{\"suspended\":true}", NULL), 200);
    assert_string_equal(json_string_value(json_object_get(r.json, "state")), "suspended");
    t_resp_free(&r);
    long st;
    assert_string_equal(code_of(70, "POST", "/api/v1/loans", "{\"title_id\":\"" TITLE(15) "\"}", &st), "no_licence");
    assert_int_equal(call(&r, fx.admin_a, "PATCH", path, "{\"suspended\":false,\"checkouts\":10}", NULL), 200);
    assert_int_equal(json_integer_value(json_object_get(r.json, "checkouts_left")), 10);
    t_resp_free(&r);
    char loan[37];
    assert_int_equal(borrow(70, TITLE(15), loan), 201);
    char q[200];
    snprintf(q, sizeof q, "SELECT round(extract(epoch FROM due - started) / 86400) FROM loan WHERE id = '%s'", loan);
    char *v = one(q);
    assert_string_equal(v, "7"); /* the licence's longest loan caps the library's 14 days */
    free(v);
    assert_int_equal(call(&r, fx.admin_a, "PATCH", path, "{\"colour\":1}", NULL), 400);
    t_resp_free(&r);
    assert_int_equal(call(&r, fx.admin_a, "POST", "/api/v1/admin/licences",
                          "{\"title_id\":\"" TITLE(15) "\",\"concurrency\":1,\"expires\":\"tomorrow-ish\"}", NULL), 400);
    t_resp_free(&r);
    assert_int_equal(call(&r, fx.tok[71], "GET", "/api/v1/admin/licences", NULL, NULL), 403);
    t_resp_free(&r);
}

static void test_usage_report(void **state)
{
    (void)state;
    json_t *rep = get_json(fx.admin_a, "/api/v1/admin/reports/usage");
    json_t *row = NULL;
    size_t i;
    json_t *it;
    json_array_foreach(json_object_get(rep, "items"), i, it) {
        if (!strcmp(json_string_value(json_object_get(it, "title_id")), TITLE(01)))
            row = it;
    }
    assert_non_null(row);
    assert_int_equal(json_integer_value(json_object_get(row, "loans")), 3);
    assert_int_equal(json_integer_value(json_object_get(row, "unique_patrons")), 3);
    assert_int_equal(json_integer_value(json_object_get(row, "turnaways_no_copy")), 57);
    json_decref(rep);
    /* Consortium B sees only its own: one patron turned away for want of a licence,
     * which is what tells B that buying one would serve a reader. */
    rep = get_json(fx.admin_b, "/api/v1/admin/reports/usage");
    assert_int_equal(json_integer_value(json_object_get(rep, "total")), 1);
    row = json_array_get(json_object_get(rep, "items"), 0);
    assert_string_equal(json_string_value(json_object_get(row, "title_id")), TITLE(11));
    assert_int_equal(json_integer_value(json_object_get(row, "turnaways_no_licence")), 1);
    assert_int_equal(json_integer_value(json_object_get(row, "loans")), 0);
    json_decref(rep);
    struct t_resp r;
    assert_int_equal(call(&r, fx.admin_a, "GET", "/api/v1/admin/reports/usage?format=tsv", NULL, NULL), 200);
    assert_string_equal(t_resp_header(&r, "Content-Type"), "text/tab-separated-values; charset=utf-8");
    assert_int_equal(strncmp(r.body, "month\ttitle_id\ttitle\tloans\t", 26), 0);
    assert_non_null(strstr(r.body, "\tBook 1\t3\t"));
    t_resp_free(&r);
    assert_int_equal(call(&r, fx.admin_a, "GET", "/api/v1/admin/reports/usage?from=2000-01-01&to=2000-02-01", NULL, NULL), 200);
    assert_int_equal(json_integer_value(json_object_get(r.json, "total")), 0);
    t_resp_free(&r);
    assert_int_equal(call(&r, fx.admin_a, "GET", "/api/v1/admin/reports/usage?from=not-a-date", NULL, NULL), 400);
    t_resp_free(&r);
}

static bool lists(json_t *res, const char *title)
{
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(res, "items"), i, t) {
        if (!strcmp(json_string_value(json_object_get(t, "title")), title))
            return true;
    }
    return false;
}

static void test_available_filter(void **state)
{
    (void)state;
    /* Book 1: 3 copies, 3 out. Book 6: 2 copies, 2 out. Book 9: 5 copies, 1 out. */
    json_t *r = get_json(fx.tok[79], "/api/v1/titles?available=true&per_page=100");
    assert_false(lists(r, "Book 1"));
    assert_false(lists(r, "Book 6"));
    assert_true(lists(r, "Book 9"));
    assert_false(lists(r, "Book 30")); /* no licence at all */
    json_decref(r);
    r = get_json(fx.tok[79], "/api/v1/titles?available=false&per_page=100");
    assert_true(lists(r, "Book 1") && lists(r, "Book 30"));
    json_decref(r);
    /* Consortium B owns nothing: nothing is available to its patrons. */
    r = get_json(fx.tok_b, "/api/v1/titles?available=true");
    assert_int_equal(json_integer_value(json_object_get(r, "total")), 0);
    json_decref(r);
    struct t_resp bad;
    assert_int_equal(call(&bad, fx.tok[79], "GET", "/api/v1/titles?available=maybe", NULL, NULL), 400);
    t_resp_free(&bad);
}

static void test_two_servers_never_oversell(void **state)
{
    (void)state;
    licence("{\"title_id\":\"" TITLE(16) "\",\"concurrency\":2}", NULL);
    int ports[2], errs[2];
    pid_t pids[2];
    for (int i = 0; i < 2; i++) {
        pids[i] = t_serve_start(fx.ci, &ports[i], &errs[i]);
        assert_true(ports[i] > 0);
    }
    /* The patrons from 0 hold loans of the tests above: a higher limit lets each borrow one more. */
    int refused;
    t_sql(fx.ci, "UPDATE library SET max_loans = 10 WHERE code = 'L1'");
    assert_int_equal(stampede(TITLE(16), 0, 40, ports, 2, &refused), 2);
    assert_int_equal(refused, 38);
    char *n = one("SELECT count(*) FROM loan WHERE title_id = '" TITLE(16) "'");
    assert_string_equal(n, "2");
    free(n);
    t_sql(fx.ci, "UPDATE library SET max_loans = 2 WHERE code = 'L1'");
    for (int i = 0; i < 2; i++) {
        kill(pids[i], SIGTERM);
        int status;
        waitpid(pids[i], &status, 0);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        close(errs[i]);
    }
}

/* ---- one keep-alive connection, by hand ---- */

static int ka_open(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)fx.port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    return fd;
}

static void ka_send(int fd, const char *method, const char *path, const char *token, const char *body)
{
    char req[1024];
    int n = snprintf(req, sizeof req,
                     "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n"
                     "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                     method, path, token, body ? strlen(body) : 0, body ? body : "");
    assert_true(n > 0 && (size_t)n < sizeof req);
    assert_int_equal(send(fd, req, (size_t)n, MSG_NOSIGNAL), n);
}

/* Reads one whole answer (headers and Content-Length bytes); its status, or -1 when none
 * came within timeout_ms. */
static long ka_status(int fd, int timeout_ms)
{
    char buf[16384];
    size_t got = 0;
    for (;;) {
        buf[got] = 0;
        char *end = strstr(buf, "\r\n\r\n");
        if (end) {
            const char *cl = strcasestr(buf, "\r\nContent-Length:");
            size_t want = (size_t)(end + 4 - buf) + (cl && cl < end ? strtoul(cl + 17, NULL, 10) : 0);
            if (got >= want)
                return strtol(buf + 9, NULL, 10);
        }
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (got + 1 >= sizeof buf || poll(&p, 1, timeout_ms) <= 0)
            return -1;
        ssize_t n = recv(fd, buf + got, sizeof buf - 1 - got, 0);
        if (n <= 0)
            return -1;
        got += (size_t)n;
    }
}

/*
 * A request stuck on the database holds one handler thread, not the connections that
 * happen to share a thread with it: the server (2 handler threads here) keeps answering
 * on every other keep-alive connection while a checkout waits for a licence lock.
 */
static void test_stuck_request_delays_no_other_connection(void **state)
{
    (void)state;
    licence("{\"title_id\":\"" TITLE(30) "\",\"concurrency\":5}", NULL);
    enum { CONNS = 8 };
    int fd[CONNS];
    for (int i = 0; i < CONNS; i++) { /* each connection made and served once first */
        fd[i] = ka_open();
        ka_send(fd[i], "GET", "/api/v1/loans", fx.tok[76], NULL);
        assert_int_equal(ka_status(fd[i], 10000), 200);
    }
    PGconn *lock = PQconnectdb(fx.ci);
    assert_int_equal(PQstatus(lock), CONNECTION_OK);
    PGresult *res = PQexec(lock, "BEGIN; SELECT 1 FROM licence WHERE title_id = '" TITLE(30) "' FOR UPDATE");
    assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
    PQclear(res);
    ka_send(fd[0], "POST", "/api/v1/loans", fx.tok[75], "{\"title_id\":\"" TITLE(30) "\"}");
    /* until the checkout waits for the lock */
    bool waiting = false;
    for (int i = 0; i < 1000 && !waiting; i++) {
        char *n = one("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                      " AND query LIKE '%FOR UPDATE%' AND datname = current_database()");
        waiting = strcmp(n, "0") != 0;
        free(n);
        if (!waiting)
            usleep(10000);
    }
    assert_true(waiting);
    for (int round = 0; round < 3; round++)
        for (int i = 1; i < CONNS; i++) {
            ka_send(fd[i], "GET", "/api/v1/loans", fx.tok[76], NULL);
            assert_int_equal(ka_status(fd[i], 10000), 200);
        }
    assert_int_equal(ka_status(fd[0], 0), -1); /* still waiting */
    res = PQexec(lock, "COMMIT");
    PQclear(res);
    PQfinish(lock);
    assert_int_equal(ka_status(fd[0], 10000), 201);
    for (int i = 0; i < CONNS; i++)
        close(fd[i]);
}

int main(void)
{
    t_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sixty_at_once_on_three_copies),
        cmocka_unit_test(test_metered_licence),
        cmocka_unit_test(test_holds_in_line),
        cmocka_unit_test(test_expiry_at_due),
        cmocka_unit_test(test_idempotent_retries),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_renewals),
        cmocka_unit_test(test_licence_order),
        cmocka_unit_test(test_licence_scoping),
        cmocka_unit_test(test_usage_report),
        cmocka_unit_test(test_available_filter),
        cmocka_unit_test(test_two_servers_never_oversell),
        cmocka_unit_test(test_stuck_request_delays_no_other_connection),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
