/*
 * The SQL layer's public face: connections, the connection pool, migrations and health.
 * Only lending/ sees libpq; everyone else holds an opaque struct db.
 */
#ifndef PRETNUM_DB_H
#define PRETNUM_DB_H

#include <stdbool.h>
#include <stddef.h>

struct db;
struct db_pool;

/** A migration compiled into the binary (see scripts/embed-migrations.sh). */
struct db_migration {
    const char *name; /* "0001_accounts.sql" */
    const char *sql;
    size_t len;
};

/** The migrations, in order, ending with a {NULL} entry. */
extern const struct db_migration db_migrations[];

/**
 * Connects with a libpq conninfo string or URI and prepares every statement. On failure
 * returns NULL and writes a one-line reason to err. Release with db_close().
 */
struct db *db_open(const char *conninfo, char *err, size_t errlen);

/** Connects without preparing statements: for migrating a database that has no schema yet. */
struct db *db_open_unprepared(const char *conninfo, char *err, size_t errlen);

/** Closes the connection and frees the handle. NULL is accepted. */
void db_close(struct db *db);

/**
 * Makes sure the connection is usable: reconnects (and prepares again) when the server
 * went away, but tries at most once a second so that requests fail fast while the
 * database is down. Returns true when the connection is ready.
 */
bool db_ready(struct db *db);

/** True when the database answers a trivial query now. */
bool db_ping(struct db *db);

/** Stops logging failed queries to stderr (the CLI prints its own one line). */
void db_quiet(bool on);

/** How many queries failed for another reason than "no row" since the process started. */
unsigned long db_error_count(void);

/**
 * Applies the embedded migrations not yet applied, in order, each in its own
 * transaction, under an advisory lock so two processes can run it at once. A migration
 * already applied whose checksum changed is an error (nothing is applied then).
 * Prints one line per applied migration to out (may be NULL). Returns the number
 * applied, or -1 with err filled. With apply false it only counts what is pending
 * (the server's start-up check).
 */
int db_migrate(struct db *db, bool apply, void (*out)(const char *line), char *err, size_t errlen);

/**
 * A fixed-size pool of lazily opened connections shared by the server's threads.
 * db_pool_get() waits at most timeout_ms for a free connection and returns NULL when
 * none came or it could not be made ready (the database is down): answer 503.
 */
struct db_pool *db_pool_new(const char *conninfo, int size);
struct db *db_pool_get(struct db_pool *p, int timeout_ms);
void db_pool_put(struct db_pool *p, struct db *db);
void db_pool_free(struct db_pool *p);

/**
 * A connection that LISTENs on one channel, for notices sent with pg_notify() by other
 * sessions (lending/db.c). db_listen() returns NULL with err filled when it cannot
 * connect or listen.
 */
struct db_listener;
struct db_listener *db_listen(const char *conninfo, const char *channel, char *err, size_t errlen);

/**
 * Waits up to timeout_ms for notices and calls on(ctx, payload) for each one received.
 * Returns how many came, or -1 when the connection is lost (every notice sent since
 * may be lost with it: close, listen again, and assume anything changed).
 */
int db_listen_wait(struct db_listener *l, int timeout_ms, void (*on)(void *ctx, const char *payload), void *ctx);
void db_listen_close(struct db_listener *l);

#endif
