/*
 * Loan tokens: PASETO v4.public signed with the newest key of the data directory,
 * verifiable by anyone with the published keys, refreshed while the loan is active,
 * refused once it has ended; key rotation keeps old tokens verifiable.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pretnum/db.h"
#include "pretnum/keys.h"
#include "pretnum/paseto.h"
#include "pretnum/server.h"
#include "testdb.h"

#define TITLE "00000000-0000-0000-0000-0000000000b1"

static struct {
    char *ci, *data;
    struct srv *srv;
    int port;
    char tok[44];
} fx;

static int setup(void **state)
{
    (void)state;
    if (sodium_init() < 0)
        return -1;
    fx.ci = t_db_create();
    fx.data = t_tmpdir("tokens");
    t_sql(fx.ci, "INSERT INTO consortium (id, name) VALUES ('aaaaaaaa-0000-0000-0000-000000000000', 'A');"
                 "INSERT INTO library (id, consortium_id, code, name) VALUES"
                 " ('11111111-0000-0000-0000-000000000000', 'aaaaaaaa-0000-0000-0000-000000000000', 'L1', 'One');"
                 "INSERT INTO patron (library_id, card, password_hash) VALUES"
                 " ('11111111-0000-0000-0000-000000000000', 'card-4242', 'x');"
                 "INSERT INTO title (id, kind, title, file_sha256, file_path, file_size, media_type) VALUES"
                 " ('" TITLE "', 'ebook', 'T', repeat('b', 64), 'x', 1, 'application/epub+zip');"
                 "INSERT INTO licence (title_id, consortium_id, concurrency)"
                 " VALUES ('" TITLE "', 'aaaaaaaa-0000-0000-0000-000000000000', 2)");
    char *id = t_sql_value(fx.ci, "SELECT id FROM patron");
    t_session(fx.ci, id, NULL, fx.tok);
    free(id);
    char err[256];
    struct srv_config cfg = {.conninfo = fx.ci, .data_dir = fx.data, .threads = 2, .quiet = true,
                             .sweep_interval_s = 1};
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
    t_rmtree(fx.data);
    free(fx.data);
    return 0;
}

static long call(struct t_resp *r, const char *method, const char *path, const char *body)
{
    char auth[100];
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", fx.tok);
    const char *hs[] = {auth, "Content-Type: application/json", NULL};
    return t_http(r, fx.port, method, path, body, hs);
}

/* The published keys, as an independent verifier would read them. */
static size_t published(struct paseto_keyring_entry *table, size_t cap)
{
    struct t_resp r;
    assert_int_equal(t_http(&r, fx.port, "GET", "/.well-known/pretnum/keys", NULL, NULL), 200);
    json_t *keys = json_object_get(r.json, "keys");
    size_t n = 0, i;
    json_t *k;
    json_array_foreach(keys, i, k) {
        if (n == cap)
            break;
        struct paseto_error pe;
        assert_int_equal(paseto_paserk_public_decode(json_string_value(json_object_get(k, "paserk")), &table[n].pk, &pe), 0);
        snprintf(table[n].kid, sizeof table[n].kid, "%s", json_string_value(json_object_get(k, "kid")));
        n++;
    }
    t_resp_free(&r);
    return n;
}

static json_t *verify(const char *token)
{
    struct paseto_keyring_entry table[8];
    size_t n = published(table, 8);
    unsigned char *m = NULL;
    size_t mlen;
    struct paseto_error pe;
    if (paseto_verify_with_keys(table, n, token, NULL, 256, &m, &mlen, NULL, NULL, &pe) != 0)
        return NULL;
    json_t *claims = NULL;
    int rc = paseto_check_claims(m, mlen, time(NULL), 0, &claims, &pe);
    free(m);
    return rc == 0 ? claims : NULL;
}

static void test_token_on_loan(void **state)
{
    (void)state;
    struct t_resp r;
    assert_int_equal(call(&r, "POST", "/api/v1/loans", "{\"title_id\":\"" TITLE "\"}"), 201);
    json_t *loan = json_object_get(r.json, "loan");
    const char *token = json_string_value(json_object_get(loan, "token"));
    assert_non_null(token);
    assert_int_equal(strncmp(token, "v4.public.", 10), 0);
    time_t exp, due, now = time(NULL);
    assert_int_equal(paseto_time_parse(json_string_value(json_object_get(loan, "token_expires")), &exp), 0);
    assert_int_equal(paseto_time_parse(json_string_value(json_object_get(loan, "due")), &due), 0);
    assert_true(exp <= due && exp <= now + LEND_TOKEN_TTL + 1 && exp > now + LEND_TOKEN_TTL - 60);
    json_t *claims = verify(token);
    assert_non_null(claims);
    char *pseudonym = t_sql_value(fx.ci, "SELECT pseudonym FROM patron");
    assert_string_equal(json_string_value(json_object_get(claims, "sub")), pseudonym);
    assert_string_equal(json_string_value(json_object_get(claims, "loan")), json_string_value(json_object_get(loan, "id")));
    assert_string_equal(json_string_value(json_object_get(claims, "title")), TITLE);
    assert_string_equal(json_string_value(json_object_get(claims, "kind")), "ebook");
    assert_string_equal(json_string_value(json_object_get(claims, "iss")), "pretnum");
    free(pseudonym);
    char *text = json_dumps(claims, 0);
    assert_null(strstr(text, "card-4242")); /* never the card number */
    free(text);
    json_decref(claims);
    /* Tampered, it fails. */
    char *bad = strdup(token);
    bad[20] = bad[20] == 'A' ? 'B' : 'A';
    assert_null(verify(bad));

    /* An independent implementation (the npm paseto package) verifies it too, from the
     * published keys alone, and refuses the tampered one. */
    struct t_resp keys;
    assert_int_equal(t_http(&keys, fx.port, "GET", "/.well-known/pretnum/keys", NULL, NULL), 200);
    char cmd[8192], *out = NULL;
    snprintf(cmd, sizeof cmd, "node tests/js/verify_token.mjs '%s' '%s'", keys.body, token);
    assert_int_equal(t_cmd(cmd, &out), 0);
    json_t *js = json_loads(out, 0, NULL);
    assert_non_null(js);
    assert_string_equal(json_string_value(json_object_get(js, "loan")), json_string_value(json_object_get(loan, "id")));
    char *sub = t_sql_value(fx.ci, "SELECT pseudonym FROM patron");
    assert_string_equal(json_string_value(json_object_get(js, "sub")), sub);
    assert_string_equal(json_string_value(json_object_get(js, "kind")), "ebook");
    free(sub);
    json_decref(js);
    free(out);
    snprintf(cmd, sizeof cmd, "node tests/js/verify_token.mjs '%s' '%s'", keys.body, bad);
    assert_int_not_equal(t_cmd(cmd, &out), 0);
    free(out);
    t_resp_free(&keys);
    free(bad);
    t_resp_free(&r);
}

static void test_refresh_and_end(void **state)
{
    (void)state;
    struct t_resp r;
    assert_int_equal(call(&r, "GET", "/api/v1/loans", NULL), 200);
    json_t *loan = json_array_get(json_object_get(r.json, "items"), 0);
    assert_non_null(json_string_value(json_object_get(loan, "token")));
    char id[64], path[128];
    snprintf(id, sizeof id, "%s", json_string_value(json_object_get(loan, "id")));
    t_resp_free(&r);
    snprintf(path, sizeof path, "/api/v1/loans/%s/token", id);
    assert_int_equal(call(&r, "POST", path, NULL), 200);
    json_t *claims = verify(json_string_value(json_object_get(r.json, "token")));
    assert_non_null(claims);
    json_decref(claims);
    t_resp_free(&r);
    /* Once returned, no new token, and the loan shows none. */
    char ret[128];
    snprintf(ret, sizeof ret, "/api/v1/loans/%s/return", id);
    assert_int_equal(call(&r, "POST", ret, NULL), 200);
    assert_true(json_is_null(json_object_get(json_object_get(r.json, "loan"), "token")));
    t_resp_free(&r);
    assert_int_equal(call(&r, "POST", path, NULL), 409);
    assert_string_equal(t_err_code(&r), "loan_not_active");
    t_resp_free(&r);
}

static void test_rotation(void **state)
{
    (void)state;
    struct t_resp r;
    assert_int_equal(call(&r, "POST", "/api/v1/loans", "{\"title_id\":\"" TITLE "\"}"), 201);
    char old[1024];
    snprintf(old, sizeof old, "%s", json_string_value(json_object_get(json_object_get(r.json, "loan"), "token")));
    char id[64], path[128];
    snprintf(id, sizeof id, "%s", json_string_value(json_object_get(json_object_get(r.json, "loan"), "id")));
    t_resp_free(&r);

    /* Rotated by the command line, as an operator would. */
    char *cmd, *out;
    if (asprintf(&cmd, "PRETNUM_DATA_DIR='%s' \"$PRETNUM_BIN\" keys rotate 2>&1", fx.data) < 0)
        abort();
    assert_int_equal(t_cmd(cmd, &out), 0);
    free(cmd);
    assert_int_equal(strncmp(out, "k4.pid.", 7), 0);
    char kid[64];
    snprintf(kid, sizeof kid, "%.*s", (int)strcspn(out, "\n"), out);
    free(out);
    /* Key files are private. */
    char keys[4096];
    snprintf(keys, sizeof keys, "%s/keys", fx.data);
    assert_int_equal(t_count_files(keys), 2);
    char *mode = NULL;
    if (asprintf(&cmd, "stat -c %%a '%s'/keys/*.k4.secret | sort -u", fx.data) < 0)
        abort();
    t_cmd(cmd, &mode);
    free(cmd);
    assert_string_equal(mode, "600\n");
    free(mode);

    /* The server picks the new key up within its housekeeping interval. */
    struct paseto_keyring_entry table[8];
    for (int i = 0; i < 50 && published(table, 8) < 2; i++)
        usleep(100000);
    assert_int_equal(published(table, 8), 2);
    assert_string_equal(table[0].kid, kid); /* newest first */
    snprintf(path, sizeof path, "/api/v1/loans/%s/token", id);
    assert_int_equal(call(&r, "POST", path, NULL), 200);
    char *footer = NULL;
    struct paseto_error pe;
    assert_int_equal(paseto_peek_footer(json_string_value(json_object_get(r.json, "token")), 256, &footer, &pe), 0);
    assert_non_null(strstr(footer, kid));
    free(footer);
    t_resp_free(&r);
    /* The old token still verifies with the published keys. */
    json_t *claims = verify(old);
    assert_non_null(claims);
    json_decref(claims);
}

int main(void)
{
    t_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_token_on_loan),
        cmocka_unit_test(test_refresh_and_end),
        cmocka_unit_test(test_rotation),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
