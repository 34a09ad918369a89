/*
 * Transactions over one connection (lending/db.c): BEGIN sent with the first statement,
 * COMMIT with the last one when asked (db_commit_with_next), roll back on a refusal or a
 * failure, and the connection left idle and usable after each.
 */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../lending/sql.h"
#include "testdb.h"

static struct {
    char *ci;
    struct db *db;
} fx;

static int setup(void **state)
{
    (void)state;
    fx.ci = t_db_create();
    char err[256];
    fx.db = db_open(fx.ci, err, sizeof err);
    if (!fx.db) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    db_close(fx.db);
    t_db_drop(fx.ci);
    return 0;
}

static long consortia(const char *name)
{
    char q[200];
    snprintf(q, sizeof q, "SELECT count(*) FROM consortium WHERE name = '%s'", name);
    char *v = t_sql_value(fx.ci, q);
    long n = strtol(v, NULL, 10);
    free(v);
    return n;
}

static void idle_and_usable(void)
{
    assert_int_equal(PQtransactionStatus(fx.db->conn), PQTRANS_IDLE);
    assert_true(db_ping(fx.db));
}

/* What a transaction does: add consortia, maybe ask for COMMIT with the last one. */
struct plan {
    const char *names[3];
    bool commit_with_last;
    bool bad_last; /* the last statement fails (a library of no consortium) */
    enum lend_status answer;
};

static int add(struct db *db, const char *name)
{
    const char *p[1] = {name};
    int qs;
    PQclear(db_exec(db, "consortium_add", 1, p, &qs));
    return qs;
}

static enum lend_status run_plan(struct db *db, void *ctx)
{
    struct plan *p = ctx;
    for (int i = 0; i < 3 && p->names[i]; i++) {
        bool last = i == 2 || !p->names[i + 1];
        if (last && p->commit_with_last)
            db_commit_with_next(db);
        int qs;
        if (last && p->bad_last) {
            const char *lp[3] = {"00000000-0000-0000-0000-00000000dead", "X", p->names[i]};
            PQclear(db_exec(db, "library_add", 3, lp, &qs));
        } else {
            qs = add(db, p->names[i]);
        }
        if (qs < 0)
            return db_failure(db, qs);
    }
    return p->answer;
}

static void test_refusal_rolls_back_from_the_first_statement(void **state)
{
    (void)state;
    struct plan p = {.names = {"r1", "r2"}, .answer = LEND_CONFLICT};
    assert_int_equal(db_transaction(fx.db, run_plan, &p), LEND_CONFLICT);
    assert_int_equal(consortia("r1"), 0); /* BEGIN came before it */
    assert_int_equal(consortia("r2"), 0);
    idle_and_usable();
    p.answer = LEND_OK;
    assert_int_equal(db_transaction(fx.db, run_plan, &p), LEND_OK);
    assert_int_equal(consortia("r1"), 1);
    assert_int_equal(consortia("r2"), 1);
    idle_and_usable();
}

static void test_commit_with_the_last_statement(void **state)
{
    (void)state;
    /* Committed with the statement: the callback's later answer cannot undo it. */
    struct plan p = {.names = {"c1", "c2"}, .commit_with_last = true, .answer = LEND_CONFLICT};
    assert_int_equal(db_transaction(fx.db, run_plan, &p), LEND_CONFLICT);
    assert_int_equal(consortia("c1"), 1);
    assert_int_equal(consortia("c2"), 1);
    idle_and_usable();
    /* The only statement: BEGIN, it and COMMIT in one round trip. */
    struct plan one = {.names = {"c3"}, .commit_with_last = true, .answer = LEND_OK};
    assert_int_equal(db_transaction(fx.db, run_plan, &one), LEND_OK);
    assert_int_equal(consortia("c3"), 1);
    idle_and_usable();
}

static void test_failed_last_statement_commits_nothing(void **state)
{
    (void)state;
    struct plan p = {.names = {"f1", "f2"}, .commit_with_last = true, .bad_last = true, .answer = LEND_OK};
    assert_int_equal(db_transaction(fx.db, run_plan, &p), LEND_INTERNAL);
    assert_int_equal(consortia("f1"), 0);
    idle_and_usable();
    struct plan one = {.names = {"f3"}, .commit_with_last = true, .bad_last = true, .answer = LEND_OK};
    assert_int_equal(db_transaction(fx.db, run_plan, &one), LEND_INTERNAL);
    idle_and_usable();
}

static void test_nothing_sent_nothing_to_end(void **state)
{
    (void)state;
    struct plan p = {.names = {NULL}, .answer = LEND_NOT_FOUND};
    assert_int_equal(db_transaction(fx.db, run_plan, &p), LEND_NOT_FOUND);
    idle_and_usable();
    /* and the next transaction starts clean */
    struct plan q = {.names = {"n1"}, .answer = LEND_CONFLICT};
    assert_int_equal(db_transaction(fx.db, run_plan, &q), LEND_CONFLICT);
    assert_int_equal(consortia("n1"), 0);
    idle_and_usable();
}

int main(void)
{
    t_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_refusal_rolls_back_from_the_first_statement),
        cmocka_unit_test(test_commit_with_the_last_statement),
        cmocka_unit_test(test_failed_last_statement_commits_nothing),
        cmocka_unit_test(test_nothing_sent_nothing_to_end),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
