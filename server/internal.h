/*
 * Private to server/: the request and the helpers every handler uses. A handler reads
 * the request, calls lending, and replies exactly once through an srv_reply_* helper;
 * what it allocates lives in r->arena.
 */
#ifndef PRETNUM_SERVER_INTERNAL_H
#define PRETNUM_SERVER_INTERNAL_H

#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>

#include "pretnum/arena.h"
#include "pretnum/db.h"
#include "pretnum/lending.h"
#include "pretnum/server.h"

extern const struct srv_route srv_routes[];
extern const int srv_route_count;

/* Statuses counted per route in /metrics; anything else is counted as "other". */
#define SRV_STATUS_KINDS 19

struct srv_metrics {
    atomic_ulong *requests; /* [route + 1][SRV_STATUS_KINDS]; row 0 = no route */
    atomic_ulong latency[12];
    atomic_ulong latency_count;
    atomic_ullong latency_sum_us;
};

struct lend_keyring;
struct srv_access_cache;
struct srv_books;

struct srv {
    struct MHD_Daemon *d;
    struct lend_keyring *keys; /* under keys_lock: the sweeper reloads it */
    pthread_rwlock_t keys_lock;
    pthread_t sweeper;
    bool sweeping, stopping;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct srv_config cfg;
    struct db_pool *pool;
    struct srv_access_cache *access; /* access.c */
    atomic_ullong access_gen;
    struct srv_books *books; /* books.c */
    atomic_int inflight;
    /* Requests whose body has arrived wait here, first come first served, for one of
     * the handler threads; their connection is suspended meanwhile (server.c). */
    pthread_mutex_t qmu;
    pthread_cond_t qcv;
    struct srv_req *qhead, *qtail;
    bool qstop;
    pthread_t *workers;
    int nworkers;
    /* Sessions looked up lately (server.c): direct-mapped by their hash, trusted only
     * while the listener hears the database's notices (sessions_live). */
    struct session_slot *sessions;
    pthread_mutex_t smu;
    unsigned long sessions_gen; /* bumped whenever anything is forgotten */
    bool sessions_live;
    pthread_t listener;
    bool listening;
    atomic_bool listener_stop;
    struct srv_metrics m;
};

struct srv_req {
    struct srv *srv;
    struct arena *arena;
    struct MHD_Connection *conn;
    const char *method, *path;
    char rid[17];
    char client[64];
    double t0;
    int route; /* index in srv_routes, -1 none */
    struct srv_params params;

    char *body;
    size_t body_len, body_cap;
    unsigned long long received;
    bool too_large;
    bool discard; /* over the cap: read and drop the body, then answer 413 */

    /* uploads (SRV_ROUTE_UPLOAD): the file part goes to upload_path, fields to arena */
    struct MHD_PostProcessor *pp;
    int upload_fd;
    char upload_path[4096];
    unsigned long long upload_size;
    bool upload_failed, has_file;
    struct upload_field { const char *name; char *value; size_t len; } fields[8];

    struct db *db;
    struct lend_principal who;
    bool signed_in, via_cookie;
    const char *token;

    unsigned status;
    struct MHD_Response *resp;
    struct srv_req *next; /* in the handlers' queue */
    bool handled;         /* by a handler thread: its answer is ready to queue */
};

/** A path parameter by name ("id"), or NULL. */
const char *srv_param(struct srv_req *r, const char *name);

/** A query-string argument, or NULL. */
const char *srv_query(struct srv_req *r, const char *name);

/** A request header, or NULL. */
const char *srv_header(struct srv_req *r, const char *name);

/**
 * A database connection for this request, returned to the pool as soon as its handler
 * returns (so a response callback must not use it). NULL when the database is down:
 * the 503 has then been sent.
 */
struct db *srv_db(struct srv_req *r);

/** Forgets the caller's session in this server's cache (after signing out). */
void srv_session_forget(struct srv_req *r);

/** Parses the body as a JSON object; on failure replies 400/415 and returns NULL. */
json_t *srv_body_json(struct srv_req *r);

/** Reads ?page=&per_page= (1.., 1..100, default 1 and 20); on bad values replies 400. */
bool srv_page(struct srv_req *r, int *page, int *per_page);

enum srv_need { SRV_PATRON = 1, SRV_LIBRARY_ADMIN = 2, SRV_CONSORTIUM_ADMIN = 4,
                SRV_STAFF = SRV_LIBRARY_ADMIN | SRV_CONSORTIUM_ADMIN,
                SRV_ANYONE = SRV_PATRON | SRV_STAFF };

/**
 * Resolves the caller's session (bearer token or cookie; cookie requests that change
 * state must carry the CSRF token) and checks its role is among `need`. On failure
 * replies 401/403/503 and returns false.
 */
bool srv_require(struct srv_req *r, unsigned need);

/* Replies. Each queues the one response of the request; the first call wins. */
void srv_reply_json(struct srv_req *r, unsigned status, json_t *body /* stolen */);
void srv_reply_error(struct srv_req *r, unsigned status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void srv_reply_lend(struct srv_req *r, enum lend_status st, const struct lend_err *err);
void srv_reply_empty(struct srv_req *r, unsigned status);
/**
 * The end of most handlers: the domain's refusal as an API error, or out (stolen) with
 * ok_status, wrapped as {wrap: out} when wrap is not NULL.
 */
void srv_reply_outcome(struct srv_req *r, enum lend_status st, const struct lend_err *err, unsigned ok_status,
                       const char *wrap, json_t *out);
void srv_reply_buffer(struct srv_req *r, unsigned status, const char *content_type, char *buf,
                      size_t len /* buf is malloc'd and stolen */);
/**
 * The Range header h of a size-byte representation (RFC 9110): 1 with the single range
 * [*from, *to] to send (206); 0 when there is none to honour, send it all (no header,
 * another unit, several ranges, a malformed one); -1 when the range is well formed but
 * not satisfiable (416, with a Content-Range giving the size).
 */
int srv_parse_range(const char *h, uint64_t size, uint64_t *from, uint64_t *to);
/** Adds a header to the response already set (Set-Cookie, Location...). */
void srv_add_header(struct srv_req *r, const char *name, const char *value);

/** Writes the Prometheus text exposition of the server's metrics (malloc'd). */
char *srv_metrics_text(struct srv *s, size_t *len);

/* Handlers */
void h_healthz(struct srv_req *r);
void h_metrics(struct srv_req *r);
void h_session_create(struct srv_req *r);
void h_session_delete(struct srv_req *r);
void h_me(struct srv_req *r);
void h_notifications(struct srv_req *r);
void h_notifications_read(struct srv_req *r);
void h_admin_libraries(struct srv_req *r);
void h_admin_library_update(struct srv_req *r);
void h_admin_patrons(struct srv_req *r);
void h_admin_patron(struct srv_req *r);
void h_titles(struct srv_req *r);
void h_title(struct srv_req *r);
void h_title_cover(struct srv_req *r);
void h_admin_title_upload(struct srv_req *r);
void h_loan_create(struct srv_req *r);
void h_loans(struct srv_req *r);
void h_loan(struct srv_req *r);
void h_loan_return(struct srv_req *r);
void h_loan_renew(struct srv_req *r);
void h_hold_create(struct srv_req *r);
void h_holds(struct srv_req *r);
void h_hold_delete(struct srv_req *r);
void h_admin_licence_create(struct srv_req *r);
void h_admin_licences(struct srv_req *r);
void h_admin_licence_update(struct srv_req *r);
void h_admin_report_usage(struct srv_req *r);
void h_loan_token(struct srv_req *r);
void h_keys(struct srv_req *r);
/* ---- access.c: the loan behind a content token, remembered for a few seconds ---- */

struct srv_access {
    char loan[37], title[37];
    char kind[8];
    char file_path[256]; /* data-directory-relative */
    char sha256[65];
};

struct srv_access_cache *srv_access_new(void);
void srv_access_free(struct srv_access_cache *c);
/** Forgets every remembered access: a loan ended in this process. */
void srv_access_forget(struct srv *s);
/**
 * The claims of a loan token that verifies at now (a new reference), or NULL having
 * replied 401 invalid_token / token_expired.
 */
json_t *srv_token_claims(struct srv_req *r, const char *token, time_t now);
/**
 * The active loan a content token opens. Returns 0 with *out filled, or -1 having replied
 * (401 invalid_token / token_expired, 403 loan_ended, 503 when the database is down).
 */
int srv_loan_access(struct srv_req *r, const char *token, struct srv_access *out);

/* ---- books.c: open EPUBs shared by the requests reading them ---- */

struct srv_book;
struct epub_meta;
struct epub_error;
struct srv_books *srv_books_new(void);
void srv_books_free(struct srv_books *t);
/** The open book with content hash sha (opened from data_dir/file_rel if needed), or NULL. */
struct srv_book *srv_book_get(struct srv_books *t, const char *data_dir, const char *file_rel, const char *sha,
                              struct epub_error *err);
void srv_book_put(struct srv_books *t, struct srv_book *b);
const struct epub_meta *srv_book_meta(const struct srv_book *b);
const char *srv_book_path(const struct srv_book *b);
/** Where a stored entry lies in the book's file (see epub_entry_span()); 0 when compressed. */
int srv_book_span(const struct srv_book *b, const char *name, uint64_t *offset, uint64_t *size);
/** The size an entry takes in the archive (see epub_entry_stored_size()); 0 when absent. */
int srv_book_stored_size(const struct srv_book *b, const char *name, uint64_t *size);
/** Bytes shared between a book and the responses sending them. */
struct srv_bytes {
    atomic_int refs;
    size_t len;
    unsigned char data[];
};
/**
 * Manifest item number item, inflated (at most max bytes): a reference the caller
 * releases with srv_bytes_put(), or NULL with *err set. Small entries stay with the book.
 */
struct srv_bytes *srv_book_bytes(struct srv_book *b, size_t item, size_t max, struct epub_error *err);
void srv_bytes_put(struct srv_bytes *x);

void h_content(struct srv_req *r);
void h_download(struct srv_req *r);
void h_stream(struct srv_req *r);
void h_portal_app(struct srv_req *r);
void h_portal_asset(struct srv_req *r);
void h_portal_vendor(struct srv_req *r);
void h_portal_catalogue(struct srv_req *r);

/**
 * Puts a fresh token in a loan's JSON ("token", "token_expires") when the loan is
 * active; leaves them null otherwise.
 */
void srv_loan_token(struct srv_req *r, json_t *loan);

/**
 * Resolves the caller's session if the request carries one, without requiring it (for
 * pages that show more to signed-in people). True when signed in.
 */
bool srv_optional_auth(struct srv_req *r);

/** An uploaded form field's value (NULL when absent). */
const char *srv_upload_field(struct srv_req *r, const char *name);

/** Replies with a file of the data directory (sendfile); 404 when it is gone. */
/** len bytes at data, not copied: release(cls) is called when the response is done with them. */
void srv_reply_shared(struct srv_req *r, unsigned status, const char *content_type, const void *data, size_t len,
                      void (*release)(void *cls), void *cls);
/** len bytes of fd from offset; the response owns fd (closed when sent, or now on failure). */
void srv_reply_fd(struct srv_req *r, unsigned status, const char *content_type, int fd, uint64_t offset,
                  uint64_t len);
/**
 * Reads up to size bytes of fd into a new buffer (malloc'd, at least 1 byte; NULL when
 * out of memory), closes fd and sets *got to what was read: fewer than size when the
 * file was shorter or a read failed.
 */
unsigned char *srv_read_all(int fd, size_t size, size_t *got);
void srv_reply_file(struct srv_req *r, const char *rel_path, const char *content_type, const char *cache_control);

#endif
