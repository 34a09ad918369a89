/*
 * Connections, prepared statements, transactions with retry, migrations and the pool.
 */
#include "sql.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static atomic_ulong errors;
static atomic_bool quiet;

void db_quiet(bool on)
{
    atomic_store(&quiet, on);
}

static double now_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

unsigned long db_error_count(void)
{
    return atomic_load(&errors);
}

static void quiet_notice(void *arg, const char *msg)
{
    (void)arg;
    (void)msg;
}

static bool connect_and_prepare(struct db *db, char *err, size_t errlen)
{
    db->last_attempt = now_mono();
    db->prepared = false;
    if (db->conn)
        PQfinish(db->conn);
    db->conn = PQconnectdb(db->conninfo);
    if (PQstatus(db->conn) != CONNECTION_OK) {
        const char *m = PQerrorMessage(db->conn);
        size_t n = strcspn(m, "\n");
        if (err)
            snprintf(err, errlen, "could not connect to the database: %.*s", (int)n, m);
        PQfinish(db->conn);
        db->conn = NULL;
        return false;
    }
    PQsetNoticeProcessor(db->conn, quiet_notice, NULL);
    /* A one-letter typo in a title word keeps about two thirds of its trigrams. */
    PQclear(PQexec(db->conn, "SET pg_trgm.word_similarity_threshold = 0.6"));
    /* Prepared searches would switch to a generic plan that guesses thousands of rows
     * and starts parallel workers and JIT for a query that reads a few: about 20 ms lost
     * on every search (measured by bench/search.sh). Those are marked custom_plan and
     * planned at each execution (db_exec). The others keep the plan cache: planning
     * every execution was half of PostgreSQL's CPU in bench/lending.sh. */
    PQclear(PQexec(db->conn, "SET jit = off"));
    PQclear(PQexec(db->conn, "SET max_parallel_workers_per_gather = 0"));
    if (db->unprepared)
        return true;
    for (const struct db_statement *s = db_statements; s->name; s++) {
        PGresult *r = PQprepare(db->conn, s->name, s->sql, s->nparams, NULL);
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            const char *m = PQresultErrorMessage(r);
            size_t n = strcspn(m, "\n");
            if (err)
                snprintf(err, errlen, "could not prepare statement \"%s\": %.*s", s->name, (int)n, m);
            PQclear(r);
            PQfinish(db->conn);
            db->conn = NULL;
            return false;
        }
        PQclear(r);
    }
    db->prepared = true;
    return true;
}

static struct db *open_db(const char *conninfo, bool unprepared, char *err, size_t errlen)
{
    struct db *db = calloc(1, sizeof *db);
    if (!db || !(db->conninfo = strdup(conninfo))) {
        free(db);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    db->unprepared = unprepared;
    if (!connect_and_prepare(db, err, errlen)) {
        db_close(db);
        return NULL;
    }
    return db;
}

struct db *db_open(const char *conninfo, char *err, size_t errlen)
{
    return open_db(conninfo, false, err, errlen);
}

struct db *db_open_unprepared(const char *conninfo, char *err, size_t errlen)
{
    return open_db(conninfo, true, err, errlen);
}

void db_close(struct db *db)
{
    if (!db)
        return;
    if (db->conn)
        PQfinish(db->conn);
    free(db->conninfo);
    free(db);
}

bool db_ready(struct db *db)
{
    if (db->conn && PQstatus(db->conn) == CONNECTION_OK && (db->prepared || db->unprepared))
        return true;
    if (now_mono() - db->last_attempt < 1.0)
        return false;
    char err[256];
    if (!connect_and_prepare(db, err, sizeof err)) {
        if (!atomic_load(&quiet))
            fprintf(stderr, "level=warn msg=\"%s\"\n", err);
        return false;
    }
    return true;
}

static void note_failure(struct db *db, const PGresult *r, const char *what)
{
    const char *st = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    snprintf(db->sqlstate, sizeof db->sqlstate, "%s", st ? st : "");
    /* Integrity violations (class 23) are answers, not faults: "already exists". */
    if (!strncmp(db->sqlstate, "23", 2))
        return;
    atomic_fetch_add(&errors, 1);
    if (atomic_load(&quiet))
        return;
    const char *m = r ? PQresultErrorMessage(r) : PQerrorMessage(db->conn);
    size_t n = strcspn(m, "\n");
    fprintf(stderr, "level=error msg=\"query %s failed\" sqlstate=%s detail=\"%.*s\"\n", what,
            db->sqlstate[0] ? db->sqlstate : "-", (int)n, m);
}

static int classify(struct db *db)
{
    if (!strcmp(db->sqlstate, "40001") || !strcmp(db->sqlstate, "40P01"))
        return DB_SOFT;
    return DB_HARD;
}

/*
 * The statement `name` when it is to be planned for its values: an unnamed statement is
 * parsed and planned at each execution, with the parameters at hand.
 */
static const struct db_statement *custom_plan_statement(const char *name)
{
    for (const struct db_statement *s = db_statements; s->name; s++)
        if (s->custom_plan && !strcmp(s->name, name))
            return s;
    return NULL;
}

#define BEGIN_SQL "BEGIN ISOLATION LEVEL READ COMMITTED"

/*
 * The statement with BEGIN before it and/or COMMIT after it, in one round trip (libpq's
 * pipeline mode: the commands, then one Sync). Returns the statement's result, or NULL
 * when the connection was lost or BEGIN or COMMIT failed (then *failed is that
 * command's result). A failed statement aborts the COMMIT after it: the transaction
 * is left open, failed, for db_transaction() to roll back.
 */
static PGresult *exec_pipeline(struct db *db, bool begin, bool commit, const struct db_statement *custom,
                               const char *name, int nparams, const char *const *params, PGresult **failed)
{
    PGconn *c = db->conn;
    *failed = NULL;
    if (!PQenterPipelineMode(c))
        return NULL;
    bool sent = (!begin || PQsendQueryParams(c, BEGIN_SQL, 0, NULL, NULL, NULL, NULL, 0)) &&
                (custom ? PQsendQueryParams(c, custom->sql, nparams, NULL, params, NULL, NULL, 0)
                        : PQsendQueryPrepared(c, name, nparams, params, NULL, NULL, 0)) &&
                (!commit || PQsendQueryParams(c, "COMMIT", 0, NULL, NULL, NULL, NULL, 0)) && PQpipelineSync(c);
    int want = 1 + begin + commit;
    PGresult *res[3] = {NULL, NULL, NULL};
    int got = 0, gaps = 0;
    while (sent) {
        PGresult *x = PQgetResult(c);
        if (!x) { /* one after each command's results; none after a lost connection */
            if (PQstatus(c) != CONNECTION_OK || ++gaps > want)
                break;
            continue;
        }
        if (PQresultStatus(x) == PGRES_PIPELINE_SYNC) {
            PQclear(x);
            break;
        }
        if (got < want)
            res[got++] = x;
        else
            PQclear(x);
    }
    PQexitPipelineMode(c);
    PGresult *b = begin ? res[0] : NULL, *r = res[begin], *m = commit ? res[begin + 1] : NULL;
    if (b && PQresultStatus(b) != PGRES_COMMAND_OK) {
        *failed = b;
        PQclear(r);
        PQclear(m);
        return NULL;
    }
    PQclear(b);
    ExecStatusType st = PQresultStatus(r);
    if (commit && r && (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK)) {
        if (!m || PQresultStatus(m) != PGRES_COMMAND_OK) { /* not committed: nothing happened */
            *failed = m;
            PQclear(r);
            return NULL;
        }
        db->committed = true;
    }
    PQclear(m);
    return r;
}

void db_commit_with_next(struct db *db)
{
    db->commit_next = true;
}

PGresult *db_exec(struct db *db, const char *name, int nparams, const char *const *params, int *qs)
{
    db->sqlstate[0] = 0;
    if (!db->conn) {
        *qs = DB_HARD;
        snprintf(db->sqlstate, sizeof db->sqlstate, "08006");
        atomic_fetch_add(&errors, 1);
        return NULL;
    }
    const struct db_statement *custom = custom_plan_statement(name);
    PGresult *r;
    if (db->begin_pending || db->commit_next) {
        bool begin = db->begin_pending, commit = db->commit_next;
        db->begin_pending = db->commit_next = false;
        PGresult *failed;
        r = exec_pipeline(db, begin, commit, custom, name, nparams, params, &failed);
        if (failed) {
            note_failure(db, failed, "BEGIN/COMMIT");
            PQclear(failed);
            *qs = classify(db);
            return NULL;
        }
    } else {
        r = custom ? PQexecParams(db->conn, custom->sql, nparams, NULL, params, NULL, NULL, 0)
                   : PQexecPrepared(db->conn, name, nparams, params, NULL, NULL, 0);
    }
    ExecStatusType st = PQresultStatus(r);
    if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
        if (st == PGRES_TUPLES_OK)
            *qs = PQntuples(r);
        else
            *qs = (int)strtol(PQcmdTuples(r), NULL, 10);
        return r;
    }
    note_failure(db, r, name);
    PQclear(r);
    *qs = classify(db);
    return NULL;
}

int db_command(struct db *db, const char *sql)
{
    db->sqlstate[0] = 0;
    if (!db->conn)
        return DB_HARD;
    if (db->begin_pending) {
        db->begin_pending = false;
        int qs = db_command(db, BEGIN_SQL);
        if (qs < 0)
            return qs;
    }
    PGresult *r = PQexec(db->conn, sql);
    if (PQresultStatus(r) == PGRES_COMMAND_OK) {
        PQclear(r);
        return 0;
    }
    note_failure(db, r, sql);
    PQclear(r);
    return classify(db);
}

bool db_unique_violation(const struct db *db)
{
    return !strcmp(db->sqlstate, "23505");
}

enum lend_status db_failure(struct db *db, int qs)
{
    if (qs == DB_SOFT)
        return LEND_RETRY;
    if (!db->conn || PQstatus(db->conn) != CONNECTION_OK || !strncmp(db->sqlstate, "08", 2) ||
        !strncmp(db->sqlstate, "57P", 3))
        return LEND_UNAVAILABLE;
    return LEND_INTERNAL;
}

enum lend_status db_transaction(struct db *db, enum lend_status (*cb)(struct db *, void *), void *ctx)
{
    enum lend_status rc = LEND_INTERNAL;
    for (int attempt = 0; attempt < 5; attempt++) {
        if (!db->conn)
            return db_failure(db, DB_HARD);
        /* BEGIN is sent with the first statement, in the same round trip (db_exec). */
        db->begin_pending = true;
        db->committed = db->commit_next = false;
        rc = cb(db, ctx);
        db->commit_next = false;
        if (db->committed) { /* COMMIT went with the last statement (db_commit_with_next) */
            db->committed = false;
            return rc;
        }
        if (db->begin_pending) { /* nothing was sent: no transaction to end */
            db->begin_pending = false;
            if (rc != LEND_RETRY)
                return rc;
            continue;
        }
        if (rc == LEND_OK) {
            int qs = db_command(db, "COMMIT");
            if (qs == 0)
                return LEND_OK;
            rc = db_failure(db, qs);
        } else {
            db_command(db, "ROLLBACK");
        }
        if (rc != LEND_RETRY)
            return rc;
    }
    return LEND_UNAVAILABLE;
}

const char *db_get(const PGresult *res, int r, const char *col)
{
    int c = PQfnumber(res, col);
    if (c < 0 || PQgetisnull(res, r, c))
        return NULL;
    return PQgetvalue(res, r, c);
}

long long db_get_ll(const PGresult *res, int r, const char *col)
{
    const char *v = db_get(res, r, col);
    return v ? strtoll(v, NULL, 10) : 0;
}

bool db_get_bool(const PGresult *res, int r, const char *col)
{
    const char *v = db_get(res, r, col);
    return v && v[0] == 't';
}

bool db_ping(struct db *db)
{
    if (!db_ready(db))
        return false;
    int qs;
    PGresult *r = db_exec(db, "ping", 0, NULL, &qs);
    PQclear(r);
    return qs == 1;
}

/* ---- Migrations ---- */

static void checksum_hex(const char *sql, size_t len, char out[65])
{
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, (const unsigned char *)sql, len);
    sodium_bin2hex(out, 65, h, sizeof h);
}

static int simple(struct db *db, const char *sql, char *err, size_t errlen)
{
    PGresult *r = PQexec(db->conn, sql);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        const char *m = PQresultErrorMessage(r);
        snprintf(err, errlen, "%.*s", (int)strcspn(m, "\n"), m);
        PQclear(r);
        return -1;
    }
    PQclear(r);
    return 0;
}

int db_migrate(struct db *db, bool apply, void (*out)(const char *line), char *err, size_t errlen)
{
    char e[512];
    int applied = 0;
    /* A session-level advisory lock: a second migrate waits, then finds nothing to do. */
    if (simple(db, "SELECT pg_advisory_lock(7264815001)", e, sizeof e) != 0) {
        snprintf(err, errlen, "could not take the migration lock: %s", e);
        return -1;
    }
    if (simple(db,
               "CREATE TABLE IF NOT EXISTS schema_migration ("
               " name text PRIMARY KEY, checksum text NOT NULL,"
               " applied_at timestamptz NOT NULL DEFAULT now())",
               e, sizeof e) != 0) {
        snprintf(err, errlen, "could not create the migration table: %s", e);
        applied = -1;
        goto out;
    }
    /* Check every applied file first, so a changed one stops us before anything runs. */
    for (const struct db_migration *m = db_migrations; m->name; m++) {
        char sum[65];
        checksum_hex(m->sql, m->len, sum);
        const char *p[1] = {m->name};
        PGresult *r = PQexecParams(db->conn, "SELECT checksum FROM schema_migration WHERE name = $1",
                                   1, NULL, p, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            snprintf(err, errlen, "could not read the migration table: %s", PQresultErrorMessage(r));
            PQclear(r);
            applied = -1;
            goto out;
        }
        if (PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 0), sum) != 0) {
            snprintf(err, errlen, "migration \"%s\" was changed after it was applied", m->name);
            PQclear(r);
            applied = -1;
            goto out;
        }
        PQclear(r);
    }
    for (const struct db_migration *m = db_migrations; m->name; m++) {
        char sum[65];
        checksum_hex(m->sql, m->len, sum);
        const char *p[2] = {m->name, sum};
        PGresult *r = PQexecParams(db->conn, "SELECT 1 FROM schema_migration WHERE name = $1", 1,
                                   NULL, p, NULL, NULL, 0);
        int done = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
        PQclear(r);
        if (done)
            continue;
        if (!apply) {
            applied++;
            continue;
        }
        if (simple(db, "BEGIN", e, sizeof e) != 0 || simple(db, m->sql, e, sizeof e) != 0) {
            snprintf(err, errlen, "migration \"%s\" failed: %s", m->name, e);
            simple(db, "ROLLBACK", e, sizeof e);
            applied = -1;
            goto out;
        }
        r = PQexecParams(db->conn, "INSERT INTO schema_migration (name, checksum) VALUES ($1, $2)",
                         2, NULL, p, NULL, NULL, 0);
        int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        PQclear(r);
        if (!ok || simple(db, "COMMIT", e, sizeof e) != 0) {
            snprintf(err, errlen, "migration \"%s\" could not be recorded", m->name);
            simple(db, "ROLLBACK", e, sizeof e);
            applied = -1;
            goto out;
        }
        if (out) {
            char line[300];
            snprintf(line, sizeof line, "applied %s", m->name);
            out(line);
        }
        applied++;
    }
out:
    simple(db, "SELECT pg_advisory_unlock(7264815001)", e, sizeof e);
    /* Statements prepared before the schema changed must be prepared again. */
    if (apply && applied > 0 && !db->unprepared)
        connect_and_prepare(db, NULL, 0);
    return applied;
}

/* ---- Pool ---- */

struct db_pool {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    char *conninfo;
    int size, free_count;
    struct db **slots; /* free handles; NULL entries are not yet opened */
};

struct db_pool *db_pool_new(const char *conninfo, int size)
{
    struct db_pool *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->conninfo = strdup(conninfo);
    p->slots = calloc((size_t)size, sizeof *p->slots);
    if (!p->conninfo || !p->slots) {
        free(p->conninfo);
        free(p->slots);
        free(p);
        return NULL;
    }
    p->size = p->free_count = size;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    return p;
}

struct db *db_pool_get(struct db_pool *p, int timeout_ms)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&p->mu);
    while (p->free_count == 0) {
        if (pthread_cond_timedwait(&p->cv, &p->mu, &until) != 0) {
            pthread_mutex_unlock(&p->mu);
            return NULL;
        }
    }
    struct db *db = p->slots[--p->free_count];
    p->slots[p->free_count] = NULL;
    pthread_mutex_unlock(&p->mu);

    if (!db) {
        db = calloc(1, sizeof *db);
        if (db && !(db->conninfo = strdup(p->conninfo))) {
            free(db);
            db = NULL;
        }
        if (!db) {
            db_pool_put(p, NULL);
            return NULL;
        }
    }
    if (!db_ready(db)) {
        db_pool_put(p, db);
        return NULL;
    }
    return db;
}

void db_pool_put(struct db_pool *p, struct db *db)
{
    if (db && db->conn && PQtransactionStatus(db->conn) != PQTRANS_IDLE) {
        /* A handler left a transaction open: never hand that to the next request. */
        PQfinish(db->conn);
        db->conn = NULL;
        db->last_attempt = 0;
    }
    pthread_mutex_lock(&p->mu);
    p->slots[p->free_count++] = db;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

void db_pool_free(struct db_pool *p)
{
    if (!p)
        return;
    for (int i = 0; i < p->size; i++)
        db_close(p->slots[i]);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p->slots);
    free(p->conninfo);
    free(p);
}

/* ---- Notices (LISTEN) ---- */

struct db_listener {
    PGconn *conn;
};

struct db_listener *db_listen(const char *conninfo, const char *channel, char *err, size_t errlen)
{
    struct db_listener *l = calloc(1, sizeof *l);
    if (!l) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    l->conn = PQconnectdb(conninfo);
    if (PQstatus(l->conn) != CONNECTION_OK) {
        const char *m = PQerrorMessage(l->conn);
        snprintf(err, errlen, "could not connect to the database: %.*s", (int)strcspn(m, "\n"), m);
        db_listen_close(l);
        return NULL;
    }
    PQsetNoticeProcessor(l->conn, quiet_notice, NULL);
    char *ident = PQescapeIdentifier(l->conn, channel, strlen(channel));
    char sql[200];
    snprintf(sql, sizeof sql, "LISTEN %s", ident ? ident : "\"\"");
    PQfreemem(ident);
    PGresult *r = PQexec(l->conn, sql);
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok) {
        const char *m = PQresultErrorMessage(r);
        snprintf(err, errlen, "could not listen: %.*s", (int)strcspn(m, "\n"), m);
    }
    PQclear(r);
    if (!ok) {
        db_listen_close(l);
        return NULL;
    }
    return l;
}

int db_listen_wait(struct db_listener *l, int timeout_ms, void (*on)(void *ctx, const char *payload), void *ctx)
{
    int n = 0;
    for (;;) {
        PGnotify *note;
        while ((note = PQnotifies(l->conn))) {
            on(ctx, note->extra);
            PQfreemem(note);
            n++;
        }
        if (n > 0)
            return n;
        int fd = PQsocket(l->conn);
        if (fd < 0 || PQstatus(l->conn) != CONNECTION_OK)
            return -1;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int rc = poll(&p, 1, timeout_ms);
        if (rc < 0)
            return errno == EINTR ? 0 : -1;
        if (rc == 0)
            return 0;
        if (!PQconsumeInput(l->conn))
            return -1;
        timeout_ms = 0; /* take what came, then return */
    }
}

void db_listen_close(struct db_listener *l)
{
    if (!l)
        return;
    PQfinish(l->conn);
    free(l);
}
