/*
 * Helpers for the tests that need PostgreSQL and the HTTP server: a fresh database per
 * test from the migrated template, SQL, an HTTP client on libcurl, raw sockets.
 */
#ifndef PRETNUM_TESTDB_H
#define PRETNUM_TESTDB_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "testlib.h"

/**
 * Creates a fresh database from the migrated template that scripts/check.sh made in the
 * test cluster ($PRETNUM_TEST_PG) and returns its conninfo (malloc'd). Drop it with
 * t_db_drop(), which also frees the string.
 */
char *t_db_create(void);
void t_db_drop(char *conninfo);

/** Runs SQL on a database, failing the test if it fails. */
void t_sql(const char *conninfo, const char *sql);

/** The first column of the first row of a query, malloc'd, or NULL. */
char *t_sql_value(const char *conninfo, const char *sql);

/** An HTTP response, as libcurl gave it. */
struct t_resp {
    long status;
    char *body;
    size_t len;
    char *headers; /* raw header block, all of it */
    json_t *json;  /* the body parsed, when it is JSON */
};

/**
 * Sends one request to http://127.0.0.1:port PATH with optional body and extra headers
 * (NULL-terminated array of "Name: value"). Returns the status (0 when the connection
 * failed or was closed).
 */
long t_http(struct t_resp *out, int port, const char *method, const char *path, const char *body,
            const char *const *headers);
void t_resp_free(struct t_resp *r);

/** A response header's value (first occurrence, case-insensitive), in static storage. */
const char *t_resp_header(const struct t_resp *r, const char *name);

/** The error code of an API error body, or "". */
const char *t_err_code(const struct t_resp *r);

/**
 * Sends raw bytes on a new TCP connection and returns what came back (malloc'd), read
 * until the server closes or timeout_ms passes with nothing.
 */
char *t_raw(int port, const char *bytes, size_t len, int timeout_ms);

/** Runs a shell command, returning its exit status, with stdout captured (malloc'd). */
int t_cmd(const char *cmd, char **out);

#endif

#include <sys/types.h>

/**
 * Starts `$PRETNUM_BIN serve` on a free port against a database; returns its pid, the
 * port it printed, and the read end of its stderr (close it when done).
 */
pid_t t_serve_start(const char *conninfo, int *port, int *errfd);

/** Creates a session for an account by SQL (no password hashing) and returns its token. */
void t_session(const char *conninfo, const char *patron_id, const char *staff_id, char token[44]);

#ifndef PRETNUM_TESTDB_UPLOAD
#define PRETNUM_TESTDB_UPLOAD
/**
 * POSTs multipart/form-data to path: the file (may be NULL) as part "file", then
 * name/value pairs from fields (NULL-terminated, may be NULL), with extra headers.
 */
long t_upload(struct t_resp *out, int port, const char *path, const char *file, const char *const *fields,
              const char *const *headers);
/** t_http() with "Authorization: Bearer token" and a JSON content type. */
long t_call(struct t_resp *out, int port, const char *token, const char *method, const char *path,
            const char *body);

/*
 * A lending fixture: consortium "A" with library "L1" (named library_name), one patron
 * with a session (tok), the given corpus books imported with one consortium licence of
 * one copy each (titles[i]), and a server on a free port. The tests that read and
 * download books share it.
 */
struct srv;
struct db;
struct t_books {
    char *ci, *data;
    struct db *db;
    struct srv *srv;
    int port;
    char tok[44];
    char titles[16][37];
    int n;
};
int t_books_setup(struct t_books *fx, const char *tag, const char *library_name, const char *const *books,
                  int n);
void t_books_teardown(struct t_books *fx);
/** Borrows title as the fixture's patron: the loan's links[link] (malloc'd) and its id. */
char *t_borrow(const struct t_books *fx, const char *title, const char *link, char loan[64]);

#endif
