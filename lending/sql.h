/*
 * Private to lending/: the one place libpq is seen. Every statement is named and
 * prepared once per connection from the table in lending/statements.c.
 */
#ifndef PRETNUM_LENDING_SQL_H
#define PRETNUM_LENDING_SQL_H

#include <libpq-fe.h>
#include <stdbool.h>

#include "pretnum/db.h"
#include "pretnum/lending.h"

/* A search ranks at most this many matches (statements.c and catalogue.c). */
#define DB_SEARCH_CAP 1000
#define DB_STR_(x) #x
#define DB_STR(x) DB_STR_(x)

struct db_statement {
    const char *name;
    const char *sql;
    int nparams;
    /* Planned for its values at every execution (as an unnamed statement), for queries
     * whose best plan depends on them; the others keep PostgreSQL's plan cache. */
    bool custom_plan;
};

/** The statement table, ending with {NULL}. */
extern const struct db_statement db_statements[];

/**
 * What a query came to (GNU Taler's qs): a count of rows >= 0, or a soft error that a
 * retry of the whole transaction may cure (serialization failure, deadlock), or a
 * hard one (connection lost, constraint broken, bug).
 */
enum db_qs { DB_HARD = -2, DB_SOFT = -1 };

struct db {
    PGconn *conn;
    char *conninfo;
    double last_attempt; /* monotonic seconds of the last connection attempt */
    bool prepared;
    bool unprepared; /* opened for migrations: prepares nothing */
    bool begin_pending; /* db_transaction() began: BEGIN goes with the next statement */
    bool commit_next;   /* db_commit_with_next(): COMMIT goes with the next statement */
    bool committed;     /* ... and it did: db_transaction() has nothing left to end */
    char sqlstate[6]; /* of the last failure, "" otherwise */
};

/**
 * Runs the prepared statement `name` with text parameters (NULL = SQL NULL). On success
 * returns the result, which you own (PQclear), and sets *qs to its row count; on failure
 * returns NULL, sets *qs to DB_SOFT or DB_HARD and logs the reason.
 */
PGresult *db_exec(struct db *db, const char *name, int nparams, const char *const *params, int *qs);

/** Executes one plain command (BEGIN, COMMIT, ROLLBACK...). Returns 0 or a db_qs. */
int db_command(struct db *db, const char *sql);

/**
 * Runs cb(db, ctx) inside BEGIN ... COMMIT, retrying the whole transaction up to a few
 * times on soft errors. cb returns LEND_OK to commit; anything else rolls back and is
 * returned as it is. A hard database failure is LEND_UNAVAILABLE when the connection
 * is gone and LEND_INTERNAL otherwise.
 */
enum lend_status db_transaction(struct db *db, enum lend_status (*cb)(struct db *, void *), void *ctx);

/**
 * Inside db_transaction(): the next statement is the transaction's last, and COMMIT is
 * sent with it in the same round trip. When it succeeds the transaction is committed
 * whatever the callback returns next, so nothing may be decided after it.
 */
void db_commit_with_next(struct db *db);

/** Maps a failed query's state to a lending status (unavailable, retry or internal). */
enum lend_status db_failure(struct db *db, int qs);

/** db_failure() with the API's error code and message for it written to err. */
enum lend_status db_failed(struct db *db, int qs, struct lend_err *err);

/** True when the last failure was a unique violation (23505). */
bool db_unique_violation(const struct db *db);

/** Field helpers: the value of row r, column named col; NULL when SQL NULL. */
const char *db_get(const PGresult *res, int r, const char *col);
long long db_get_ll(const PGresult *res, int r, const char *col);
bool db_get_bool(const PGresult *res, int r, const char *col);

#endif
