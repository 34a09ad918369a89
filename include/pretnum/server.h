/*
 * The HTTP server: libmicrohttpd's epoll threads for the connections, handler threads
 * taking the requests in arrival order, a route table,
 * a request arena, JSON in and out, sessions, access log and metrics.
 */
#ifndef PRETNUM_SERVER_H
#define PRETNUM_SERVER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/** Settings of one server; zero fields take the defaults shown. */
struct srv_config {
    const char *bind;        /* address to listen on ("127.0.0.1") */
    int port;                /* 0 = any free port; read it back with srv_port() */
    const char *conninfo;    /* libpq conninfo of the database (required) */
    const char *data_dir;    /* ingested files and keys ("./var/data") */
    int threads;             /* request handler threads (two per core) */
    size_t max_body;         /* request body cap in bytes for JSON (1 MiB) */
    unsigned long long max_upload; /* file upload cap in bytes (2 GiB) */
    int upload_deadline_s;   /* a whole upload must arrive within this (3600) */
    int conn_timeout_s;      /* idle connection timeout (30) */
    int request_deadline_s;  /* a whole request body must arrive within this (60) */
    int per_ip_limit;        /* concurrent connections per client address (64) */
    size_t conn_memory;      /* libmicrohttpd memory pool per connection (64 KiB) */
    int conn_limit;          /* concurrent connections in all (1000) */
    int db_pool_size;        /* database connections (threads + 2) */
    bool secure_cookies;     /* add Secure to cookies (behind TLS) */
    int sweep_interval_s;    /* housekeeping of loans, holds and e-mail (5); < 0 disables */
    const char *smtp_url;    /* e-mail alerts go there (smtp://host:port); NULL: kept in the outbox */
    const char *mail_from;   /* their sender ("pretnum@localhost") */
    const char *public_url;  /* the portal's address, quoted in e-mails */
    const char *web_dir;     /* the portal's files: index.html, assets/, node_modules/ ("web") */
    bool quiet;              /* no access log */
    int session_cache_ms;    /* a session looked up is trusted this long without asking the
                                database again (5000); < 0: ask every time. Sign-out in this
                                server forgets it at once; any change to the session row
                                (other servers, by hand) as soon as its notice arrives */
};

struct srv;

/**
 * Starts serving in background threads. Checks that the database schema is migrated
 * and unchanged first. Returns 0, or -1 with a one-line reason in err.
 * Stop with srv_stop().
 */
int srv_start(const struct srv_config *cfg, struct srv **out, char *err, size_t errlen);

/** The port the server listens on (useful with port 0). */
int srv_port(const struct srv *s);

/**
 * Stops accepting, lets requests in flight finish for up to grace_ms, then stops the
 * threads and frees everything.
 */
void srv_stop(struct srv *s, int grace_ms);

/* ---- Pure parts, exposed for tests and fuzzing ---- */

#define SRV_MAX_PARAMS 4

/** Path parameters captured by a route pattern such as /api/v1/loans/{id}. */
struct srv_params {
    int n;
    const char *name[SRV_MAX_PARAMS];  /* points into the pattern: "id}" up to '}' */
    size_t name_len[SRV_MAX_PARAMS];
    const char *value[SRV_MAX_PARAMS]; /* NUL-terminated, inside buf */
    char buf[1024];
};

struct srv_req;

struct srv_route {
    const char *method; /* "GET"; a GET route answers HEAD too */
    const char *pattern;
    void (*handler)(struct srv_req *r);
    const char *name; /* for metrics and logs */
    unsigned flags;   /* SRV_ROUTE_UPLOAD: multipart body streamed to a temporary file */
};

#define SRV_ROUTE_UPLOAD 1u

/**
 * Finds the route for method and path in a table ending with {NULL}. Returns its index
 * and fills params; -1 when no pattern matches the path; -2 when some pattern matches
 * but not with this method (405). Paths longer than the parameter buffer never match.
 */
int srv_route_match(const struct srv_route *routes, const char *method, const char *path,
                    struct srv_params *params);

/** The Content-Type the portal serves a file name with, or NULL for one it never serves. */
const char *srv_web_type(const char *path);

/**
 * True when rel (a path below the web directory, taken from a URL) may be looked up
 * there: at most 200 bytes of letters, digits, '.', '-', '_' and '/', no empty segment,
 * no segment starting with a dot (so no "." or "..", no hidden file).
 */
bool srv_web_path_ok(const char *rel);

/**
 * Parses a JSON request body: at most max_depth nested arrays/objects (checked before
 * jansson sees the text), no duplicate keys, no NUL bytes. Returns a new reference, or
 * NULL with a one-line reason in err.
 */
json_t *srv_json_parse(const char *buf, size_t len, int max_depth, char *err, size_t errlen);

/**
 * The request path as the access log shows it: a loan's token in /content/TOKEN/...,
 * /stream/TOKEN/... and /download/TOKEN becomes "-". Writes at most cap bytes to out
 * (truncated, NUL-terminated) and returns out.
 */
char *srv_path_for_log(const char *path, char *out, size_t cap);

#endif
