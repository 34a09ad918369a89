/*
 * The HTTP server against a real PostgreSQL: routing, errors, JSON limits, framing,
 * sign-in, throttling, sessions, CSRF, staff scoping and metrics.
 */
#include <libpq-fe.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pretnum/db.h"
#include "pretnum/lending.h"
#include "pretnum/server.h"
#include "testdb.h"

static struct {
    char *ci;
    struct srv *srv;
    int port;
    char cons_a[37], cons_b[37], patron_nantes[37], patron_brest[37];
} fx;

#define PW "correct horse"

static int setup(void **state)
{
    (void)state;
    if (sodium_init() < 0)
        return -1;
    lend_configure(&(struct lend_config){.account_max_failures = 3, .address_max_failures = 8,
                                         .throttle_window_s = 600});
    fx.ci = t_db_create();
    char err[256], id[37];
    struct db *db = db_open(fx.ci, err, sizeof err);
    if (!db) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    struct lend_err le = {0};
    int bad = 0;
    bad |= lend_consortium_add(db, "Réseau Ouest", fx.cons_a, &le);
    bad |= lend_consortium_add(db, "Réseau Est", fx.cons_b, &le);
    bad |= lend_library_add(db, fx.cons_a, "NANTES", "Médiathèque de Nantes", id, &le);
    bad |= lend_library_add(db, fx.cons_a, "REZE", "Médiathèque de Rezé", id, &le);
    bad |= lend_library_add(db, fx.cons_b, "BREST", "Bibliothèque de Brest", id, &le);
    bad |= lend_patron_add(db, "NANTES", "1001", "Anne Martin", "anne@example.org", PW, fx.patron_nantes, &le);
    bad |= lend_patron_add(db, "BREST", "3001", "Yann Le Gall", NULL, PW, fx.patron_brest, &le);
    bad |= lend_staff_add(db, fx.cons_a, NULL, "admin@ouest.example", "consortium_admin", PW, id, &le);
    bad |= lend_staff_add(db, fx.cons_a, "NANTES", "staff@nantes.example", "library_admin", PW, id, &le);
    bad |= lend_staff_add(db, fx.cons_b, NULL, "admin@est.example", "consortium_admin", PW, id, &le);
    db_close(db);
    if (bad) {
        fprintf(stderr, "fixture: %s\n", le.message);
        return -1;
    }
    /* More patrons, sharing the first one's hash so the fixture stays fast. */
    t_sql(fx.ci, "INSERT INTO patron (library_id, card, name, password_hash)"
                 " SELECT l.id, '2001', 'Rezé reader', p.password_hash FROM library l, patron p"
                 " WHERE l.code = 'REZE' AND p.card = '1001'");
    struct srv_config cfg = {.data_dir = getenv("PRETNUM_DATA_DIR"), .port = 0, .conninfo = fx.ci, .threads = 2, .max_body = 4096, .quiet = true};
    if (srv_start(&cfg, &fx.srv, err, sizeof err) != 0) {
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
    return 0;
}

static int clear_throttle(void **state)
{
    (void)state;
    t_sql(fx.ci, "DELETE FROM login_throttle");
    return 0;
}

static long post_json(struct t_resp *r, const char *path, const char *body, const char *auth)
{
    char h[200];
    snprintf(h, sizeof h, "Authorization: Bearer %s", auth ? auth : "");
    const char *hs[] = {"Content-Type: application/json", auth ? h : NULL, NULL};
    return t_http(r, fx.port, "POST", path, body, hs);
}

/* Signs in and returns the bearer token (static storage). */
static const char *sign_in(const char *body)
{
    static char tok[128];
    struct t_resp r;
    post_json(&r, "/api/v1/session", body, NULL);
    assert_int_equal(r.status, 201);
    snprintf(tok, sizeof tok, "%s", json_string_value(json_object_get(r.json, "token")));
    t_resp_free(&r);
    return tok;
}

static long get_auth(struct t_resp *r, const char *path, const char *token)
{
    char h[200];
    snprintf(h, sizeof h, "Authorization: Bearer %s", token);
    const char *hs[] = {h, NULL};
    return t_http(r, fx.port, "GET", path, NULL, hs);
}

static void test_healthz(void **state)
{
    (void)state;
    struct t_resp r;
    assert_int_equal(t_http(&r, fx.port, "GET", "/healthz", NULL, NULL), 200);
    assert_string_equal(json_string_value(json_object_get(r.json, "database")), "up");
    assert_non_null(t_resp_header(&r, "X-Request-Id"));
    t_resp_free(&r);
    assert_int_equal(t_http(&r, fx.port, "HEAD", "/healthz", NULL, NULL), 200);
    t_resp_free(&r);
}

static void test_unknown_route_and_method(void **state)
{
    (void)state;
    struct t_resp r;
    assert_int_equal(t_http(&r, fx.port, "GET", "/api/v1/nothing", NULL, NULL), 404);
    assert_string_equal(t_err_code(&r), "not_found");
    assert_non_null(json_string_value(json_object_get(json_object_get(r.json, "error"), "message")));
    assert_string_equal(t_resp_header(&r, "Content-Type"), "application/json");
    t_resp_free(&r);
    assert_int_equal(t_http(&r, fx.port, "PUT", "/api/v1/session", "{}", NULL), 405);
    assert_string_equal(t_err_code(&r), "method_not_allowed");
    assert_string_equal(t_resp_header(&r, "Allow"), "POST, DELETE");
    t_resp_free(&r);
}

static void test_sign_in_patron(void **state)
{
    (void)state;
    struct t_resp r;
    post_json(&r, "/api/v1/session", "{\"library\":\"nantes\",\"card\":\"1001\",\"password\":\"" PW "\"}", NULL);
    assert_int_equal(r.status, 201);
    const char *token = json_string_value(json_object_get(r.json, "token"));
    assert_non_null(token);
    assert_int_equal(strlen(token), LEND_TOKEN_LEN);
    json_t *acct = json_object_get(r.json, "account");
    assert_string_equal(json_string_value(json_object_get(acct, "type")), "patron");
    assert_string_equal(json_string_value(json_object_get(acct, "name")), "Anne Martin");
    assert_string_equal(json_string_value(json_object_get(json_object_get(acct, "library"), "code")), "NANTES");
    assert_string_equal(json_string_value(json_object_get(json_object_get(acct, "consortium"), "name")),
                        "Réseau Ouest");
    /* The cookie: HttpOnly, SameSite=Lax, Path=/, and the same secret as the bearer. */
    const char *cookie = t_resp_header(&r, "Set-Cookie");
    assert_non_null(cookie);
    assert_non_null(strstr(cookie, "HttpOnly"));
    assert_non_null(strstr(cookie, "SameSite=Lax"));
    assert_non_null(strstr(cookie, "Path=/"));
    assert_non_null(strstr(cookie, token));
    /* Stored hashed: the secret itself is nowhere in the database. */
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM session WHERE encode(id_hash, 'escape') LIKE '%%%s%%'", token);
    char *n = t_sql_value(fx.ci, sql);
    assert_string_equal(n, "0");
    free(n);
    char tok[64];
    snprintf(tok, sizeof tok, "%s", token);
    t_resp_free(&r);

    assert_int_equal(get_auth(&r, "/api/v1/me", tok), 200);
    assert_string_equal(json_string_value(json_object_get(r.json, "card")), "1001");
    json_t *policy = json_object_get(r.json, "policy");
    assert_int_equal(json_integer_value(json_object_get(policy, "max_loans")), 5);
    assert_int_equal(json_array_size(json_object_get(policy, "loan_days")), 3);
    t_resp_free(&r);

    /* The cookie alone works for reading. */
    char ch[128];
    snprintf(ch, sizeof ch, "Cookie: pretnum_session=%s", tok);
    const char *hs[] = {ch, NULL};
    assert_int_equal(t_http(&r, fx.port, "GET", "/api/v1/me", NULL, hs), 200);
    t_resp_free(&r);
}

static void test_new_session_each_sign_in(void **state)
{
    (void)state;
    char a[64];
    snprintf(a, sizeof a, "%s", sign_in("{\"library\":\"NANTES\",\"card\":\"1001\",\"password\":\"" PW "\"}"));
    const char *b = sign_in("{\"library\":\"NANTES\",\"card\":\"1001\",\"password\":\"" PW "\"}");
    assert_string_not_equal(a, b);
}

static void test_bad_credentials_same_answer(void **state)
{
    (void)state;
    struct t_resp wrong, unknown, nolib;
    post_json(&wrong, "/api/v1/session", "{\"library\":\"NANTES\",\"card\":\"1001\",\"password\":\"nope\"}", NULL);
    post_json(&unknown, "/api/v1/session", "{\"library\":\"NANTES\",\"card\":\"9999\",\"password\":\"nope\"}", NULL);
    post_json(&nolib, "/api/v1/session", "{\"library\":\"NOWHERE\",\"card\":\"1001\",\"password\":\"" PW "\"}", NULL);
    assert_int_equal(wrong.status, 401);
    assert_int_equal(unknown.status, 401);
    assert_int_equal(nolib.status, 401);
    assert_string_equal(t_err_code(&wrong), "bad_credentials");
    assert_string_equal(wrong.body, unknown.body);
    assert_string_equal(wrong.body, nolib.body);
    assert_null(t_resp_header(&wrong, "Set-Cookie"));
    t_resp_free(&wrong);
    t_resp_free(&unknown);
    t_resp_free(&nolib);
}

static void test_sign_in_staff(void **state)
{
    (void)state;
    struct t_resp r;
    post_json(&r, "/api/v1/session", "{\"email\":\"Staff@Nantes.example\",\"password\":\"" PW "\"}", NULL);
    assert_int_equal(r.status, 201);
    json_t *acct = json_object_get(r.json, "account");
    assert_string_equal(json_string_value(json_object_get(acct, "type")), "staff");
    assert_string_equal(json_string_value(json_object_get(acct, "role")), "library_admin");
    assert_string_equal(json_string_value(json_object_get(json_object_get(acct, "library"), "code")), "NANTES");
    t_resp_free(&r);
}

static void test_throttle_account(void **state)
{
    (void)state;
    struct t_resp r;
    for (int i = 0; i < 3; i++) {
        post_json(&r, "/api/v1/session", "{\"library\":\"REZE\",\"card\":\"2001\",\"password\":\"bad\"}", NULL);
        assert_int_equal(r.status, 401);
        t_resp_free(&r);
    }
    /* Blocked now, even with the right password. */
    post_json(&r, "/api/v1/session", "{\"library\":\"REZE\",\"card\":\"2001\",\"password\":\"" PW "\"}", NULL);
    assert_int_equal(r.status, 429);
    assert_string_equal(t_err_code(&r), "too_many_attempts");
    const char *ra = t_resp_header(&r, "Retry-After");
    assert_non_null(ra);
    long wait = strtol(ra, NULL, 10);
    assert_true(wait > 500 && wait <= 600);
    t_resp_free(&r);
    /* Another account from the same address is not affected. */
    sign_in("{\"library\":\"NANTES\",\"card\":\"1001\",\"password\":\"" PW "\"}");
    /* When the lock-out has passed, the right password works again. */
    t_sql(fx.ci, "UPDATE login_throttle SET blocked_until = now() - interval '1 second',"
                 " window_start = now() - interval '1 hour'");
    sign_in("{\"library\":\"REZE\",\"card\":\"2001\",\"password\":\"" PW "\"}");
}

static void test_throttle_address(void **state)
{
    (void)state;
    struct t_resp r;
    for (int i = 0; i < 8; i++) {
        char body[128];
        snprintf(body, sizeof body, "{\"library\":\"NANTES\",\"card\":\"x%d\",\"password\":\"bad\"}", i);
        post_json(&r, "/api/v1/session", body, NULL);
        assert_int_equal(r.status, 401);
        t_resp_free(&r);
    }
    post_json(&r, "/api/v1/session", "{\"library\":\"NANTES\",\"card\":\"1001\",\"password\":\"" PW "\"}", NULL);
    assert_int_equal(r.status, 429);
    t_resp_free(&r);
}

static void test_logout_ends_session(void **state)
{
    (void)state;
    char tok[64];
    snprintf(tok, sizeof tok, "%s", sign_in("{\"library\":\"NANTES\",\"card\":\"1001\",\"password\":\"" PW "\"}"));
    struct t_resp r;
    char h[128];
    snprintf(h, sizeof h, "Authorization: Bearer %s", tok);
    const char *hs[] = {h, NULL};
    assert_int_equal(t_http(&r, fx.port, "DELETE", "/api/v1/session", NULL, hs), 204);
    assert_non_null(strstr(t_resp_header(&r, "Set-Cookie"), "Max-Age=0"));
    t_resp_free(&r);
    assert_int_equal(get_auth(&r, "/api/v1/me", tok), 401);
    assert_string_equal(t_err_code(&r), "not_signed_in");
    t_resp_free(&r);
}

/* Asks GET /api/v1/me on port until it is refused, for up to ms; the last status. */
static long refused_within(int port, const char *token, int ms)
{
    char h[200];
    snprintf(h, sizeof h, "Authorization: Bearer %s", token);
    const char *hs[] = {h, NULL};
    long st = 0;
    for (int waited = 0;; waited += 10) {
        struct t_resp r;
        st = t_http(&r, port, "GET", "/api/v1/me", NULL, hs);
        t_resp_free(&r);
        if (st != 200 || waited >= ms)
            return st;
        usleep(10000);
    }
}

static void test_session_expiry(void **state)
{
    (void)state;
    char tok[64];
    snprintf(tok, sizeof tok, "%s", sign_in("{\"email\":\"admin@ouest.example\",\"password\":\"" PW "\"}"));
    struct t_resp r;
    assert_int_equal(get_auth(&r, "/api/v1/me", tok), 200);
    t_resp_free(&r);
    /* Staff sessions last 12 hours. */
    char *hours = t_sql_value(fx.ci, "SELECT round(extract(epoch FROM max(expires_at) - max(created_at)) / 3600)"
                                     " FROM session WHERE staff_id IS NOT NULL");
    assert_string_equal(hours, "12");
    free(hours);
    t_sql(fx.ci, "UPDATE session SET created_at = now() - interval '2 days', expires_at = now() - interval '1 second'");
    /* The server kept the session it looked up; the database's notice of the change
     * reaches it within milliseconds, long before the 5 s it would keep it otherwise. */
    assert_int_equal(refused_within(fx.port, tok, 2000), 401);
}

/* Signing out forgets the session this server keeps, at once. */
static void test_sign_out_forgets_kept_session(void **state)
{
    (void)state;
    char tok[64];
    snprintf(tok, sizeof tok, "%s", sign_in("{\"library\":\"NANTES\",\"card\":\"1001\",\"password\":\"" PW "\"}"));
    struct t_resp r;
    for (int i = 0; i < 3; i++) { /* looked up once, then kept */
        assert_int_equal(get_auth(&r, "/api/v1/me", tok), 200);
        t_resp_free(&r);
    }
    char h[128];
    snprintf(h, sizeof h, "Authorization: Bearer %s", tok);
    const char *hs[] = {h, NULL};
    assert_int_equal(t_http(&r, fx.port, "DELETE", "/api/v1/session", NULL, hs), 204);
    t_resp_free(&r);
    assert_int_equal(get_auth(&r, "/api/v1/me", tok), 401);
    t_resp_free(&r);
}

/*
 * Two servers on one database: a session signed out through one stops working on the
 * other, which kept it (and would keep it a minute here), as soon as the database's
 * notice arrives.
 */
static void test_sign_out_elsewhere_reaches_other_server(void **state)
{
    (void)state;
    char err[256];
    struct srv *other;
    struct srv_config cfg = {.data_dir = getenv("PRETNUM_DATA_DIR"), .conninfo = fx.ci, .threads = 2, .quiet = true,
                             .sweep_interval_s = -1, .session_cache_ms = 60000};
    assert_int_equal(srv_start(&cfg, &other, err, sizeof err), 0);
    int port = srv_port(other);
    char tok[64];
    snprintf(tok, sizeof tok, "%s", sign_in("{\"library\":\"NANTES\",\"card\":\"1001\",\"password\":\"" PW "\"}"));
    char h[128];
    snprintf(h, sizeof h, "Authorization: Bearer %s", tok);
    const char *hs[] = {h, NULL};
    struct t_resp r;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(t_http(&r, port, "GET", "/api/v1/me", NULL, hs), 200);
        t_resp_free(&r);
    }
    assert_int_equal(t_http(&r, fx.port, "DELETE", "/api/v1/session", NULL, hs), 204);
    t_resp_free(&r);
    assert_int_equal(refused_within(port, tok, 5000), 401);

    srv_stop(other, 1000);
}

static void test_not_signed_in(void **state)
{
    (void)state;
    struct t_resp r;
    assert_int_equal(t_http(&r, fx.port, "GET", "/api/v1/me", NULL, NULL), 401);
    assert_string_equal(t_err_code(&r), "not_signed_in");
    t_resp_free(&r);
    assert_int_equal(get_auth(&r, "/api/v1/me", "forged-token-forged-token-forged-token-123"), 401);
    t_resp_free(&r);
}

static void test_csrf_for_cookies(void **state)
{
    (void)state;
    struct t_resp r;
    post_json(&r, "/api/v1/session", "{\"email\":\"admin@ouest.example\",\"password\":\"" PW "\"}", NULL);
    assert_int_equal(r.status, 201);
    char cookie[128], csrf[128], token[64];
    snprintf(token, sizeof token, "%s", json_string_value(json_object_get(r.json, "token")));
    snprintf(cookie, sizeof cookie, "Cookie: pretnum_session=%s", token);
    snprintf(csrf, sizeof csrf, "X-CSRF-Token: %s", json_string_value(json_object_get(r.json, "csrf_token")));
    t_resp_free(&r);

    const char *no_token[] = {cookie, "Content-Type: application/json", NULL};
    assert_int_equal(t_http(&r, fx.port, "PATCH", "/api/v1/admin/libraries/NANTES", "{\"max_loans\":6}", no_token), 403);
    assert_string_equal(t_err_code(&r), "csrf_failed");
    t_resp_free(&r);
    const char *wrong_origin[] = {cookie, csrf, "Origin: https://evil.example", "Content-Type: application/json", NULL};
    assert_int_equal(t_http(&r, fx.port, "PATCH", "/api/v1/admin/libraries/NANTES", "{\"max_loans\":6}", wrong_origin), 403);
    t_resp_free(&r);
    const char *forged[] = {cookie, "X-CSRF-Token: AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "Content-Type: application/json", NULL};
    assert_int_equal(t_http(&r, fx.port, "PATCH", "/api/v1/admin/libraries/NANTES", "{\"max_loans\":6}", forged), 403);
    t_resp_free(&r);
    char *v = t_sql_value(fx.ci, "SELECT max_loans FROM library WHERE code = 'NANTES'");
    assert_string_equal(v, "5");
    free(v);

    char origin[64];
    snprintf(origin, sizeof origin, "Origin: http://127.0.0.1:%d", fx.port);
    const char *good[] = {cookie, csrf, origin, "Content-Type: application/json", NULL};
    assert_int_equal(t_http(&r, fx.port, "PATCH", "/api/v1/admin/libraries/NANTES", "{\"max_loans\":6}", good), 200);
    t_resp_free(&r);
    v = t_sql_value(fx.ci, "SELECT max_loans FROM library WHERE code = 'NANTES'");
    assert_string_equal(v, "6");
    free(v);
    t_sql(fx.ci, "UPDATE library SET max_loans = 5 WHERE code = 'NANTES'");

    /* Sign-out by cookie needs the token too. */
    const char *del_bad[] = {cookie, NULL};
    assert_int_equal(t_http(&r, fx.port, "DELETE", "/api/v1/session", NULL, del_bad), 403);
    t_resp_free(&r);
    const char *del_good[] = {cookie, csrf, NULL};
    assert_int_equal(t_http(&r, fx.port, "DELETE", "/api/v1/session", NULL, del_good), 204);
    t_resp_free(&r);
    /* A sign-in posted from another site is refused (login CSRF). */
    const char *xsite[] = {"Content-Type: application/json", "Origin: https://evil.example", NULL};
    assert_int_equal(t_http(&r, fx.port, "POST", "/api/v1/session",
                            "{\"email\":\"admin@ouest.example\",\"password\":\"" PW "\"}", xsite), 403);
    t_resp_free(&r);
}

static void test_staff_scoping(void **state)
{
    (void)state;
    char admin_a[64], lib_nantes[64], admin_b[64], patron[64];
    snprintf(admin_a, sizeof admin_a, "%s", sign_in("{\"email\":\"admin@ouest.example\",\"password\":\"" PW "\"}"));
    snprintf(lib_nantes, sizeof lib_nantes, "%s", sign_in("{\"email\":\"staff@nantes.example\",\"password\":\"" PW "\"}"));
    snprintf(admin_b, sizeof admin_b, "%s", sign_in("{\"email\":\"admin@est.example\",\"password\":\"" PW "\"}"));
    snprintf(patron, sizeof patron, "%s", sign_in("{\"library\":\"NANTES\",\"card\":\"1001\",\"password\":\"" PW "\"}"));
    struct t_resp r;

    /* A consortium admin sees its two libraries and their patrons, not the other consortium's. */
    assert_int_equal(get_auth(&r, "/api/v1/admin/libraries", admin_a), 200);
    assert_int_equal(json_integer_value(json_object_get(r.json, "total")), 2);
    t_resp_free(&r);
    assert_int_equal(get_auth(&r, "/api/v1/admin/patrons", admin_a), 200);
    assert_int_equal(json_integer_value(json_object_get(r.json, "total")), 2);
    t_resp_free(&r);
    char path[128];
    snprintf(path, sizeof path, "/api/v1/admin/patrons/%s", fx.patron_brest);
    assert_int_equal(get_auth(&r, path, admin_a), 404);
    t_resp_free(&r);
    assert_int_equal(get_auth(&r, path, admin_b), 200);
    assert_string_equal(json_string_value(json_object_get(r.json, "card")), "3001");
    t_resp_free(&r);

    /* A library admin sees its own library only. */
    assert_int_equal(get_auth(&r, "/api/v1/admin/libraries", lib_nantes), 200);
    assert_int_equal(json_integer_value(json_object_get(r.json, "total")), 1);
    t_resp_free(&r);
    assert_int_equal(get_auth(&r, "/api/v1/admin/patrons?library=REZE", lib_nantes), 200);
    assert_int_equal(json_integer_value(json_object_get(r.json, "total")), 0);
    t_resp_free(&r);
    assert_int_equal(get_auth(&r, "/api/v1/admin/patrons?q=anne", lib_nantes), 200);
    assert_int_equal(json_integer_value(json_object_get(r.json, "total")), 1);
    t_resp_free(&r);
    char h[128];
    snprintf(h, sizeof h, "Authorization: Bearer %s", lib_nantes);
    const char *hs[] = {h, "Content-Type: application/json", NULL};
    assert_int_equal(t_http(&r, fx.port, "PATCH", "/api/v1/admin/libraries/REZE", "{\"max_loans\":9}", hs), 404);
    t_resp_free(&r);
    snprintf(h, sizeof h, "Authorization: Bearer %s", admin_b);
    assert_int_equal(t_http(&r, fx.port, "PATCH", "/api/v1/admin/libraries/NANTES", "{\"max_loans\":9}", hs), 404);
    t_resp_free(&r);
    char *v = t_sql_value(fx.ci, "SELECT string_agg(max_loans::text, ',') FROM library WHERE code IN ('NANTES', 'REZE')");
    assert_string_equal(v, "5,5");
    free(v);

    /* Patrons are not staff. */
    assert_int_equal(get_auth(&r, "/api/v1/admin/patrons", patron), 403);
    assert_string_equal(t_err_code(&r), "staff_only");
    t_resp_free(&r);
    /* Malformed ids are plain 404s, not database errors. */
    assert_int_equal(get_auth(&r, "/api/v1/admin/patrons/not-a-uuid", admin_a), 404);
    t_resp_free(&r);
}

static void test_policy_validation(void **state)
{
    (void)state;
    char admin[64];
    snprintf(admin, sizeof admin, "%s", sign_in("{\"email\":\"admin@ouest.example\",\"password\":\"" PW "\"}"));
    char h[128];
    snprintf(h, sizeof h, "Authorization: Bearer %s", admin);
    const char *hs[] = {h, "Content-Type: application/json", NULL};
    struct t_resp r;
    static const char *bad[] = {"{\"max_loans\":-1}", "{\"loan_days\":[]}", "{\"loan_days\":[0]}",
                                "{\"hold_days\":\"3\"}", "{\"colour\":\"red\"}", "{\"default_loan_days\":30}"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_int_equal(t_http(&r, fx.port, "PATCH", "/api/v1/admin/libraries/REZE", bad[i], hs), 400);
        assert_string_equal(t_err_code(&r), "invalid_policy");
        t_resp_free(&r);
    }
    assert_int_equal(t_http(&r, fx.port, "PATCH", "/api/v1/admin/libraries/REZE",
                            "{\"loan_days\":[7,21],\"default_loan_days\":21,\"hold_days\":2}", hs), 200);
    json_t *p = json_object_get(r.json, "policy");
    assert_int_equal(json_integer_value(json_object_get(p, "default_loan_days")), 21);
    assert_int_equal(json_array_size(json_object_get(p, "loan_days")), 2);
    t_resp_free(&r);
    t_sql(fx.ci, "UPDATE library SET loan_days = '{7,14,21}', default_loan_days = 14, hold_days = 3 WHERE code = 'REZE'");
}

static void test_bad_bodies(void **state)
{
    (void)state;
    struct t_resp r;
    assert_int_equal(post_json(&r, "/api/v1/session", "{\"card\": ", NULL), 400);
    assert_string_equal(t_err_code(&r), "invalid_json");
    t_resp_free(&r);
    assert_int_equal(post_json(&r, "/api/v1/session", "[1,2]", NULL), 400);
    t_resp_free(&r);
    assert_int_equal(post_json(&r, "/api/v1/session", "{\"a\":1,\"a\":2}", NULL), 400);
    t_resp_free(&r);
    char deep[200];
    memset(deep, '[', 100);
    memset(deep + 100, ']', 99);
    deep[199] = 0;
    assert_int_equal(post_json(&r, "/api/v1/session", deep, NULL), 400);
    assert_string_equal(t_err_code(&r), "invalid_json");
    t_resp_free(&r);
    assert_int_equal(post_json(&r, "/api/v1/session", "{\"card\": 12, \"library\": \"NANTES\", \"password\": \"x\"}", NULL), 400);
    assert_string_equal(t_err_code(&r), "invalid_request");
    t_resp_free(&r);
    const char *form[] = {"Content-Type: application/x-www-form-urlencoded", NULL};
    assert_int_equal(t_http(&r, fx.port, "POST", "/api/v1/session", "card=1", form), 415);
    t_resp_free(&r);
}

static void test_body_cap(void **state)
{
    (void)state;
    struct t_resp r;
    char *big = malloc(8001);
    memset(big, ' ', 8000);
    big[0] = '{';
    big[7999] = '}';
    big[8000] = 0;
    assert_int_equal(post_json(&r, "/api/v1/session", big, NULL), 413);
    assert_string_equal(t_err_code(&r), "too_large");
    t_resp_free(&r);
    /* Chunked, so the server counts the bytes itself. */
    char req[9000];
    int n = snprintf(req, sizeof req,
                     "POST /api/v1/session HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     "Transfer-Encoding: chunked\r\n\r\n1f40\r\n%s\r\n0\r\n\r\n", big);
    char *resp = t_raw(fx.port, req, (size_t)n, 2000);
    assert_non_null(strstr(resp, " 413 "));
    free(resp);
    free(big);
}

static void test_framing(void **state)
{
    (void)state;
    const char both[] = "POST /api/v1/session HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                        "Content-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n";
    char *resp = t_raw(fx.port, both, sizeof both - 1, 2000);
    assert_non_null(strstr(resp, " 400 "));
    assert_non_null(strstr(resp, "bad_framing"));
    free(resp);
    const char dup[] = "POST /api/v1/session HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                       "Content-Length: 2\r\nContent-Length: 40\r\n\r\n{}";
    resp = t_raw(fx.port, dup, sizeof dup - 1, 2000);
    assert_non_null(strstr(resp, " 400 "));
    free(resp);
}

static void test_metrics(void **state)
{
    (void)state;
    struct t_resp r;
    t_http(&r, fx.port, "GET", "/healthz", NULL, NULL);
    t_resp_free(&r);
    t_http(&r, fx.port, "GET", "/no/such/thing", NULL, NULL);
    t_resp_free(&r);
    assert_int_equal(t_http(&r, fx.port, "GET", "/metrics", NULL, NULL), 200);
    assert_non_null(strstr(t_resp_header(&r, "Content-Type"), "text/plain"));
    assert_non_null(strstr(r.body, "pretnum_http_requests_total{route=\"healthz\",status=\"200\"}"));
    assert_non_null(strstr(r.body, "pretnum_http_requests_total{route=\"none\",status=\"404\"}"));
    assert_non_null(strstr(r.body, "pretnum_http_request_duration_seconds_bucket{le=\"+Inf\"}"));
    assert_non_null(strstr(r.body, "pretnum_db_errors_total"));
    t_resp_free(&r);
}

static void test_password_rehash(void **state)
{
    (void)state;
    /* A hash made with weaker parameters is upgraded at the next sign-in. */
    char weak[crypto_pwhash_STRBYTES];
    assert_int_equal(crypto_pwhash_str(weak, PW, strlen(PW), crypto_pwhash_OPSLIMIT_MIN, 8192 * 1024), 0);
    char sql[512];
    snprintf(sql, sizeof sql, "UPDATE patron SET password_hash = '%s' WHERE card = '3001'", weak);
    t_sql(fx.ci, sql);
    sign_in("{\"library\":\"BREST\",\"card\":\"3001\",\"password\":\"" PW "\"}");
    char *now = t_sql_value(fx.ci, "SELECT password_hash FROM patron WHERE card = '3001'");
    assert_string_not_equal(now, weak);
    assert_int_equal(crypto_pwhash_str_verify(now, PW, strlen(PW)), 0);
    assert_int_equal(crypto_pwhash_str_needs_rehash(now, crypto_pwhash_OPSLIMIT_INTERACTIVE,
                                                    crypto_pwhash_MEMLIMIT_INTERACTIVE), 0);
    free(now);
}

int main(void)
{
    t_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_healthz),
        cmocka_unit_test(test_unknown_route_and_method),
        cmocka_unit_test_setup(test_sign_in_patron, clear_throttle),
        cmocka_unit_test_setup(test_new_session_each_sign_in, clear_throttle),
        cmocka_unit_test_setup(test_bad_credentials_same_answer, clear_throttle),
        cmocka_unit_test_setup(test_sign_in_staff, clear_throttle),
        cmocka_unit_test_setup(test_throttle_account, clear_throttle),
        cmocka_unit_test_setup(test_throttle_address, clear_throttle),
        cmocka_unit_test_setup(test_logout_ends_session, clear_throttle),
        cmocka_unit_test_setup(test_session_expiry, clear_throttle),
        cmocka_unit_test_setup(test_sign_out_forgets_kept_session, clear_throttle),
        cmocka_unit_test_setup(test_sign_out_elsewhere_reaches_other_server, clear_throttle),
        cmocka_unit_test(test_not_signed_in),
        cmocka_unit_test_setup(test_csrf_for_cookies, clear_throttle),
        cmocka_unit_test_setup(test_staff_scoping, clear_throttle),
        cmocka_unit_test_setup(test_policy_validation, clear_throttle),
        cmocka_unit_test(test_bad_bodies),
        cmocka_unit_test(test_body_cap),
        cmocka_unit_test(test_framing),
        cmocka_unit_test(test_metrics),
        cmocka_unit_test_setup(test_password_rehash, clear_throttle),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
