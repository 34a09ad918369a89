/*
 * The daemon: libmicrohttpd's epoll threads reading requests and writing answers,
 * handler threads taking the requests from one queue in arrival order, the request life cycle,
 * replies, the access log, metrics and graceful shutdown.
 */
#include "internal.h"

#include "pretnum/alerts.h"
#include "pretnum/hls.h"
#include "pretnum/keys.h"
#include "pretnum/loans.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <signal.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_JSON_DEPTH 32

static double now_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const unsigned status_kinds[SRV_STATUS_KINDS - 1] = {200, 201, 204, 206, 304, 400, 401, 403, 404,
                                                           405, 409, 413, 415, 422, 429, 500, 503, 416};

static int status_index(unsigned st)
{
    for (int i = 0; i < SRV_STATUS_KINDS - 1; i++)
        if (status_kinds[i] == st)
            return i;
    return SRV_STATUS_KINDS - 1;
}

static const double latency_bounds[12] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                          0.1,   0.25,   0.5,   1,    2.5,   10};

/* ---- replies ---- */

static void set_response(struct srv_req *r, unsigned status, struct MHD_Response *resp, const char *ctype)
{
    if (r->resp) { /* a handler replied twice: keep the first */
        MHD_destroy_response(resp);
        return;
    }
    r->status = status;
    r->resp = resp;
    if (ctype)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    MHD_add_response_header(resp, "X-Request-Id", r->rid);
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
    if (!MHD_get_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL))
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
}

void srv_reply_buffer(struct srv_req *r, unsigned status, const char *content_type, char *buf, size_t len)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, buf, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(buf);
        return;
    }
    set_response(r, status, resp, content_type);
}

void srv_reply_json(struct srv_req *r, unsigned status, json_t *body)
{
    char *s = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    if (!s) {
        s = strdup("{\"error\":{\"code\":\"internal_error\",\"message\":\"could not encode the answer\"}}");
        status = 500;
    }
    srv_reply_buffer(r, status, "application/json", s, strlen(s));
}

void srv_reply_error(struct srv_req *r, unsigned status, const char *code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    srv_reply_json(r, status, json_pack("{s:{s:s, s:s}}", "error", "code", code, "message", msg));
}

void srv_reply_lend(struct srv_req *r, enum lend_status st, const struct lend_err *err)
{
    static const unsigned http[] = {
        [LEND_OK] = 200,          [LEND_INVALID] = 400,     [LEND_UNAUTHORIZED] = 401,
        [LEND_FORBIDDEN] = 403,   [LEND_NOT_FOUND] = 404,   [LEND_CONFLICT] = 409,
        [LEND_TOO_LARGE] = 413,   [LEND_UNSUPPORTED] = 415, [LEND_UNACCEPTABLE] = 422,
        [LEND_THROTTLED] = 429,   [LEND_UNAVAILABLE] = 503, [LEND_RETRY] = 503,
        [LEND_INTERNAL] = 500,
    };
    unsigned status = (unsigned)st < sizeof http / sizeof *http ? http[st] : 500;
    const char *code = err && err->code ? err->code : "internal_error";
    const char *msg = err && err->code ? err->message : "Something went wrong on our side.";
    srv_reply_error(r, status, code, "%s", msg);
    if (st == LEND_THROTTLED && err) {
        char ra[16];
        snprintf(ra, sizeof ra, "%d", err->retry_after > 0 ? err->retry_after : 1);
        srv_add_header(r, MHD_HTTP_HEADER_RETRY_AFTER, ra);
    }
    if (st == LEND_UNAVAILABLE || st == LEND_RETRY)
        srv_add_header(r, MHD_HTTP_HEADER_RETRY_AFTER, "1");
}

void srv_reply_outcome(struct srv_req *r, enum lend_status st, const struct lend_err *err, unsigned ok_status,
                       const char *wrap, json_t *out)
{
    if (st != LEND_OK) {
        json_decref(out);
        srv_reply_lend(r, st, err);
        return;
    }
    srv_reply_json(r, ok_status, wrap ? json_pack("{s:o}", wrap, out) : out);
}

void srv_reply_empty(struct srv_req *r, unsigned status)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    if (resp)
        set_response(r, status, resp, NULL);
}

void srv_reply_file(struct srv_req *r, const char *rel_path, const char *content_type, const char *cache_control)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", r->srv->cfg.data_dir, rel_path);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        if (fd >= 0)
            close(fd);
        srv_reply_error(r, 404, "not_found", "This file is no longer here.");
        return;
    }
    struct MHD_Response *resp = MHD_create_response_from_fd((uint64_t)st.st_size, fd);
    if (!resp) {
        close(fd);
        srv_reply_error(r, 500, "internal_error", "could not send the file");
        return;
    }
    if (cache_control)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, cache_control);
    set_response(r, 200, resp, content_type);
}

unsigned char *srv_read_all(int fd, size_t size, size_t *got)
{
    unsigned char *buf = malloc(size ? size : 1);
    size_t n = 0;
    while (buf && n < size) {
        ssize_t k = read(fd, buf + n, size - n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        n += (size_t)k;
    }
    close(fd);
    *got = n;
    return buf;
}

char *srv_path_for_log(const char *path, char *out, size_t cap)
{
    /* Content, stream and download URLs carry a patron's token: the log keeps the path,
     * not the token. */
    static const char *const with_token[] = {"/content/", "/stream/", "/download/"};
    for (size_t i = 0; i < sizeof with_token / sizeof *with_token; i++) {
        size_t pre = strlen(with_token[i]);
        if (!strncmp(path, with_token[i], pre)) {
            const char *rest = strchr(path + pre, '/');
            snprintf(out, cap, "%.*s-%s", (int)pre, path, rest ? rest : "");
            return out;
        }
    }
    snprintf(out, cap, "%s", path);
    return out;
}

void srv_reply_shared(struct srv_req *r, unsigned status, const char *content_type, const void *data, size_t len,
                      void (*release)(void *cls), void *cls)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer_with_free_callback_cls(len, (void *)data, release, cls);
    if (!resp) {
        release(cls);
        srv_reply_error(r, 503, "busy", "Try again shortly.");
        return;
    }
    set_response(r, status, resp, content_type);
}

void srv_reply_fd(struct srv_req *r, unsigned status, const char *content_type, int fd, uint64_t offset,
                  uint64_t len)
{
    struct MHD_Response *resp = MHD_create_response_from_fd_at_offset64(len, fd, offset);
    if (!resp) {
        close(fd);
        srv_reply_error(r, 500, "internal_error", "could not send the file");
        return;
    }
    set_response(r, status, resp, content_type);
}

void srv_add_header(struct srv_req *r, const char *name, const char *value)
{
    if (!r->resp)
        return;
    /* Cache-Control is set once: a handler's choice replaces the default no-store. */
    if (!strcasecmp(name, MHD_HTTP_HEADER_CACHE_CONTROL)) {
        const char *old = MHD_get_response_header(r->resp, name);
        if (old) {
            char *copy = strdup(old);
            if (copy)
                MHD_del_response_header(r->resp, name, copy);
            free(copy);
        }
    }
    MHD_add_response_header(r->resp, name, value);
}

/* ---- request accessors ---- */

const char *srv_param(struct srv_req *r, const char *name)
{
    size_t n = strlen(name);
    for (int i = 0; i < r->params.n; i++)
        if (r->params.name_len[i] == n && !strncmp(r->params.name[i], name, n))
            return r->params.value[i];
    return NULL;
}

const char *srv_query(struct srv_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *srv_header(struct srv_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

static void put_db(void *p)
{
    struct srv_req *r = p;
    if (!r->db) /* given back as soon as its handler returned */
        return;
    db_pool_put(r->srv->pool, r->db);
    r->db = NULL;
}

struct db *srv_db(struct srv_req *r)
{
    if (r->db)
        return r->db;
    r->db = db_pool_get(r->srv->pool, 5000);
    if (!r->db) {
        srv_reply_error(r, 503, "database_unavailable", "The database is not answering; try again shortly.");
        srv_add_header(r, MHD_HTTP_HEADER_RETRY_AFTER, "1");
        return NULL;
    }
    arena_defer(r->arena, put_db, r);
    return r->db;
}

static void decref(void *p)
{
    json_decref(p);
}

json_t *srv_body_json(struct srv_req *r)
{
    const char *ct = srv_header(r, MHD_HTTP_HEADER_CONTENT_TYPE);
    size_t n = strlen("application/json");
    if (!ct || strncasecmp(ct, "application/json", n) != 0 || (ct[n] && ct[n] != ';' && ct[n] != ' ')) {
        srv_reply_error(r, 415, "unsupported_media_type", "Send the body as application/json.");
        return NULL;
    }
    char err[200];
    json_t *j = srv_json_parse(r->body ? r->body : "", r->body_len, MAX_JSON_DEPTH, err, sizeof err);
    if (!j) {
        srv_reply_error(r, 400, "invalid_json", "The body is not valid JSON: %s.", err);
        return NULL;
    }
    arena_defer(r->arena, decref, j);
    if (!json_is_object(j)) {
        srv_reply_error(r, 400, "invalid_json", "The body must be a JSON object.");
        return NULL;
    }
    return j;
}

static bool parse_int(const char *s, long lo, long hi, int *out)
{
    if (!s || !*s)
        return false;
    char *end;
    long v = strtol(s, &end, 10);
    if (*end || v < lo || v > hi)
        return false;
    *out = (int)v;
    return true;
}

bool srv_page(struct srv_req *r, int *page, int *per_page)
{
    const char *p = srv_query(r, "page"), *pp = srv_query(r, "per_page");
    *page = 1;
    *per_page = 20;
    if ((p && !parse_int(p, 1, 1000000, page)) || (pp && !parse_int(pp, 1, 100, per_page))) {
        srv_reply_error(r, 400, "invalid_page", "page must be 1 or more and per_page from 1 to 100.");
        return false;
    }
    return true;
}

/* ---- sessions kept for a few seconds ---- */

/*
 * Every request asked the database who its session belongs to: two of the eleven
 * statements of a borrow+return cycle (bench/lending.sh). A session looked up is now
 * kept for session_cache_ms, keyed by the BLAKE2b hash of its token (the session's id in
 * the database; the token itself is not kept). Correctness over speed:
 *  - sign-out in this server forgets it at once (srv_session_forget);
 *  - any change to a session row, in any server or by hand, is sent by the database
 *    (migration 0006) to every server listening, which forgets that session (a notice
 *    it cannot read makes it forget them all);
 *  - what else a session's principal depends on (a patron moved to another library, a
 *    staff member's role) is seen within session_cache_ms;
 *  - the cache is used only while that listener is connected; when it loses the
 *    connection, everything is forgotten and sessions are looked up every time until
 *    it listens again;
 *  - a lookup that raced with a notice (the generation moved on while it was asking
 *    the database) is not kept;
 *  - an entry never outlives the session's own expiry.
 */
#define SESSION_SLOTS 4096 /* a power of two */

struct session_slot {
    unsigned char hash[32];
    struct lend_principal who;
    double until; /* monotonic seconds; 0: empty */
};

static struct session_slot *session_slot(struct srv *s, const unsigned char hash[32])
{
    uint32_t i;
    memcpy(&i, hash, sizeof i);
    return &s->sessions[i & (SESSION_SLOTS - 1)];
}

static void forget_locked(struct srv *s, const unsigned char *hash)
{
    if (hash) {
        struct session_slot *e = session_slot(s, hash);
        if (!memcmp(e->hash, hash, 32))
            e->until = 0;
    } else {
        for (int i = 0; i < SESSION_SLOTS; i++)
            s->sessions[i].until = 0;
    }
    s->sessions_gen++;
}

void srv_session_forget(struct srv_req *r)
{
    struct srv *s = r->srv;
    if (!s->sessions || !r->signed_in)
        return;
    pthread_mutex_lock(&s->smu);
    forget_locked(s, r->who.session_hash);
    pthread_mutex_unlock(&s->smu);
}

static void on_session_notice(void *ctx, const char *payload)
{
    struct srv *s = ctx;
    unsigned char hash[32];
    size_t n = 0;
    bool one = strlen(payload) == 64 &&
               sodium_hex2bin(hash, sizeof hash, payload, 64, NULL, &n, NULL) == 0 && n == sizeof hash;
    pthread_mutex_lock(&s->smu);
    forget_locked(s, one ? hash : NULL);
    pthread_mutex_unlock(&s->smu);
}

/* Listens for the database's notices about sessions; reconnects at most once a second. */
static void *session_listener(void *arg)
{
    struct srv *s = arg;
    struct db_listener *l = NULL;
    bool warned = false;
    while (!atomic_load(&s->listener_stop)) {
        if (!l) {
            char err[256];
            l = db_listen(s->cfg.conninfo, "pretnum_session", err, sizeof err);
            if (!l) {
                if (!warned)
                    fprintf(stderr, "level=warn msg=\"sessions are looked up at every request: %s\"\n", err);
                warned = true;
                for (int i = 0; i < 10 && !atomic_load(&s->listener_stop); i++)
                    usleep(100000);
                continue;
            }
            warned = false;
            pthread_mutex_lock(&s->smu);
            forget_locked(s, NULL); /* whatever changed before we listened */
            s->sessions_live = true;
            pthread_mutex_unlock(&s->smu);
        }
        if (db_listen_wait(l, 100, on_session_notice, s) < 0) {
            pthread_mutex_lock(&s->smu);
            s->sessions_live = false;
            forget_locked(s, NULL);
            pthread_mutex_unlock(&s->smu);
            db_listen_close(l);
            l = NULL;
        }
    }
    db_listen_close(l);
    return NULL;
}

/*
 * Who the token belongs to: from the cache, or from the database (then kept). Gets the
 * request's database connection either way, as handlers expect r->db once signed in;
 * on LEND_UNAVAILABLE with *no_db, the 503 has been sent.
 */
static enum lend_status session_lookup(struct srv_req *r, const char *token, struct lend_err *err, bool *no_db)
{
    struct srv *s = r->srv;
    *no_db = false;
    unsigned char hash[32];
    unsigned long gen = 0;
    bool cache = s->sessions && strlen(token) == LEND_TOKEN_LEN;
    if (cache) {
        crypto_generichash(hash, sizeof hash, (const unsigned char *)token, LEND_TOKEN_LEN, NULL, 0);
        double now = now_mono();
        pthread_mutex_lock(&s->smu);
        struct session_slot *e = session_slot(s, hash);
        bool hit = s->sessions_live && e->until > now && !memcmp(e->hash, hash, sizeof hash);
        if (hit)
            r->who = e->who;
        gen = s->sessions_gen;
        pthread_mutex_unlock(&s->smu);
        if (hit) {
            if (!srv_db(r)) {
                *no_db = true;
                return LEND_UNAVAILABLE;
            }
            return LEND_OK;
        }
    }
    struct db *db = srv_db(r);
    if (!db) {
        *no_db = true;
        return LEND_UNAVAILABLE;
    }
    enum lend_status st = lend_session_lookup(db, token, &r->who, err);
    if (st == LEND_OK && cache) {
        double keep = s->cfg.session_cache_ms / 1000.0;
        if (r->who.session_left_s < keep)
            keep = r->who.session_left_s;
        pthread_mutex_lock(&s->smu);
        if (s->sessions_live && s->sessions_gen == gen && keep > 0) {
            struct session_slot *e = session_slot(s, hash);
            memcpy(e->hash, hash, sizeof hash);
            e->who = r->who;
            e->until = now_mono() + keep;
        }
        pthread_mutex_unlock(&s->smu);
    }
    return st;
}

/* ---- authentication ---- */

static bool same_origin(struct srv_req *r, const char *origin)
{
    const char *host = srv_header(r, MHD_HTTP_HEADER_HOST);
    if (!host)
        return false;
    const char *rest = !strncmp(origin, "http://", 7) ? origin + 7 : !strncmp(origin, "https://", 8) ? origin + 8 : NULL;
    return rest && !strcmp(rest, host);
}

static bool safe_method(const char *m)
{
    return !strcmp(m, "GET") || !strcmp(m, "HEAD") || !strcmp(m, "OPTIONS");
}

static const char *request_token(struct srv_req *r, bool *via_cookie)
{
    const char *auth = srv_header(r, MHD_HTTP_HEADER_AUTHORIZATION);
    *via_cookie = false;
    if (auth && !strncasecmp(auth, "Bearer ", 7))
        return auth + 7;
    const char *token = MHD_lookup_connection_value(r->conn, MHD_COOKIE_KIND, "pretnum_session");
    *via_cookie = token != NULL;
    return token;
}

bool srv_optional_auth(struct srv_req *r)
{
    if (r->signed_in)
        return true;
    bool cookie, no_db;
    const char *token = request_token(r, &cookie);
    struct lend_err err = {0};
    if (!token || session_lookup(r, token, &err, &no_db) != LEND_OK)
        return false;
    r->token = arena_strdup(r->arena, token);
    r->via_cookie = cookie;
    r->signed_in = true;
    return true;
}

bool srv_require(struct srv_req *r, unsigned need)
{
    if (!r->signed_in) {
        const char *token = request_token(r, &r->via_cookie);
        if (!token) {
            srv_reply_error(r, 401, "not_signed_in", "Please sign in.");
            return false;
        }
        if (r->via_cookie && !safe_method(r->method)) {
            /* A cookie rides along with cross-site requests; the CSRF token does not. */
            const char *origin = srv_header(r, "Origin");
            const char *sent = srv_header(r, "X-CSRF-Token");
            char want[LEND_TOKEN_LEN + 1];
            lend_csrf_token(token, want);
            if ((origin && !same_origin(r, origin)) || !sent || strlen(sent) != LEND_TOKEN_LEN ||
                sodium_memcmp(sent, want, LEND_TOKEN_LEN) != 0) {
                srv_reply_error(r, 403, "csrf_failed",
                                "This request lacks the page's security token; reload the page and try again.");
                return false;
            }
        }
        struct lend_err err = {0};
        bool no_db;
        enum lend_status st = session_lookup(r, token, &err, &no_db);
        if (st != LEND_OK) {
            if (!no_db)
                srv_reply_lend(r, st, &err);
            return false;
        }
        r->token = arena_strdup(r->arena, token);
        r->signed_in = true;
    }
    unsigned have = r->who.role == LEND_PATRON           ? SRV_PATRON
                    : r->who.role == LEND_LIBRARY_ADMIN ? SRV_LIBRARY_ADMIN
                                                         : SRV_CONSORTIUM_ADMIN;
    if (!(have & need)) {
        if (need & SRV_PATRON)
            srv_reply_error(r, 403, "patrons_only", "This is for library members.");
        else
            srv_reply_error(r, 403, "staff_only", "This is for library staff.");
        return false;
    }
    return true;
}

/* ---- request life cycle ---- */

static void free_body(void *p)
{
    struct srv_req *r = p;
    free(r->body);
}

static bool bad_framing(struct MHD_Connection *c)
{
    /* libmicrohttpd 0.9.75 lets Transfer-Encoding win over Content-Length and reads only
     * the first of several Content-Length headers: both are smuggling vectors. */
    const char *te = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING);
    const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    return te && cl;
}

static enum MHD_Result count_cl(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (void)kind;
    (void)value;
    if (!strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH))
        (*(int *)cls)++;
    return MHD_YES;
}

/* ---- uploads: multipart/form-data streamed to a temporary file ---- */

static const char *const upload_fields[] = {"kind", "title", "author", "language", "publisher", "description"};
#define UPLOAD_FIELD_MAX 20000

const char *srv_upload_field(struct srv_req *r, const char *name)
{
    for (size_t i = 0; i < sizeof upload_fields / sizeof *upload_fields; i++)
        if (!strcmp(name, upload_fields[i]) && r->fields[i].value)
            return r->fields[i].value;
    return NULL;
}

static enum MHD_Result on_part(void *cls, enum MHD_ValueKind kind, const char *key, const char *filename,
                               const char *content_type, const char *transfer_encoding, const char *data,
                               uint64_t off, size_t size)
{
    (void)kind;
    (void)filename;
    (void)content_type;
    (void)transfer_encoding;
    (void)off;
    struct srv_req *r = cls;
    if (!strcmp(key, "file")) {
        r->has_file = true;
        for (size_t done = 0; done < size;) {
            ssize_t w = write(r->upload_fd, data + done, size - done);
            if (w < 0) {
                r->upload_failed = true;
                return MHD_NO;
            }
            done += (size_t)w;
        }
        r->upload_size += size;
        return MHD_YES;
    }
    for (size_t i = 0; i < sizeof upload_fields / sizeof *upload_fields; i++) {
        if (strcmp(key, upload_fields[i]) != 0)
            continue;
        struct upload_field *f = &r->fields[i];
        if (f->len + size > UPLOAD_FIELD_MAX) {
            r->too_large = true;
            return MHD_NO;
        }
        char *v = arena_alloc(r->arena, f->len + size + 1);
        if (f->value)
            memcpy(v, f->value, f->len);
        memcpy(v + f->len, data, size);
        f->len += size;
        v[f->len] = 0;
        f->value = v;
    }
    return MHD_YES; /* unknown fields are ignored */
}

static void upload_cleanup(void *p)
{
    struct srv_req *r = p;
    if (r->pp)
        MHD_destroy_post_processor(r->pp);
    if (r->upload_fd >= 0)
        close(r->upload_fd);
    if (r->upload_path[0])
        unlink(r->upload_path);
}

/*
 * A body declared over its cap. A client that sent "Expect: 100-continue", or declares
 * far too much, is answered at once. Others are already sending: closing on them would
 * reset the connection before they read the 413, so a body up to 64 MiB over the cap is
 * read and dropped first (nginx's lingering close, done by hand).
 */
static bool over_cap(struct srv_req *r, unsigned long long cap)
{
    const char *cl = srv_header(r, MHD_HTTP_HEADER_CONTENT_LENGTH);
    unsigned long long n = cl ? strtoull(cl, NULL, 10) : 0;
    if (n <= cap)
        return false;
    const char *expect = srv_header(r, MHD_HTTP_HEADER_EXPECT);
    if (!expect && n <= cap + (64ULL << 20))
        r->discard = true;
    return true;
}

static void reply_too_large(struct srv_req *r)
{
    if (r->pp || (r->route >= 0 && (srv_routes[r->route].flags & SRV_ROUTE_UPLOAD)))
        srv_reply_error(r, 413, "too_large", "Files are accepted up to %llu MiB.", r->srv->cfg.max_upload >> 20);
    else
        srv_reply_error(r, 413, "too_large", "The request body is larger than %zu bytes.", r->srv->cfg.max_body);
}

/* First call of an upload: who may send it, what it is, and where it goes. */
static bool upload_begin(struct srv_req *r)
{
    struct srv *s = r->srv;
    if (!srv_require(r, SRV_STAFF))
        return false;
    const char *ct = srv_header(r, MHD_HTTP_HEADER_CONTENT_TYPE);
    if (!ct || strncasecmp(ct, "multipart/form-data", 19) != 0) {
        srv_reply_error(r, 415, "unsupported_media_type", "Send the file as multipart/form-data with a \"file\" part.");
        return false;
    }
    if (over_cap(r, s->cfg.max_upload)) {
        if (!r->discard)
            reply_too_large(r);
        return r->discard;
    }
    r->upload_fd = -1;
    arena_defer(r->arena, upload_cleanup, r);
    char dir[4000];
    snprintf(dir, sizeof dir, "%s/tmp", s->cfg.data_dir);
    mkdir(s->cfg.data_dir, 0700);
    mkdir(dir, 0700);
    snprintf(r->upload_path, sizeof r->upload_path, "%s/upload-XXXXXX", dir);
    r->upload_fd = mkostemp(r->upload_path, O_CLOEXEC);
    if (r->upload_fd < 0) {
        r->upload_path[0] = 0;
        fprintf(stderr, "level=error rid=%s msg=\"could not create an upload file in %s: %s\"\n", r->rid, dir,
                strerror(errno));
        srv_reply_error(r, 503, "storage_unavailable", "Uploads cannot be stored right now.");
        return false;
    }
    r->pp = MHD_create_post_processor(r->conn, 64 * 1024, on_part, r);
    if (!r->pp) {
        srv_reply_error(r, 400, "invalid_multipart", "The multipart body has no usable boundary.");
        return false;
    }
    return true;
}

static enum MHD_Result queue(struct srv_req *r)
{
    if (!r->resp)
        srv_reply_error(r, 500, "internal_error", "Something went wrong on our side.");
    if (!r->resp)
        return MHD_NO;
    /* Nothing is cached unless the handler said how. */
    if (!MHD_get_response_header(r->resp, MHD_HTTP_HEADER_CACHE_CONTROL))
        MHD_add_response_header(r->resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    enum MHD_Result ok = MHD_queue_response(r->conn, r->status, r->resp);
    MHD_destroy_response(r->resp);
    r->resp = NULL;
    return ok;
}

static struct srv_req *req_new(struct srv *s, struct MHD_Connection *c, const char *url, const char *method)
{
    struct arena *a = arena_new();
    if (!a)
        return NULL;
    struct srv_req *r = arena_alloc(a, sizeof *r);
    r->srv = s;
    r->arena = a;
    r->conn = c;
    r->method = arena_strdup(a, method);
    r->path = arena_strdup(a, url);
    r->t0 = now_mono();
    r->route = -1;
    unsigned char id[8];
    randombytes_buf(id, sizeof id);
    sodium_bin2hex(r->rid, sizeof r->rid, id, sizeof id);
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    snprintf(r->client, sizeof r->client, "-");
    if (ci && ci->client_addr) {
        if (ci->client_addr->sa_family == AF_INET)
            inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)ci->client_addr)->sin_addr,
                      r->client, sizeof r->client);
        else if (ci->client_addr->sa_family == AF_INET6)
            inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)ci->client_addr)->sin6_addr,
                      r->client, sizeof r->client);
    }
    atomic_fetch_add(&s->inflight, 1);
    return r;
}

static void dispatch(struct srv_req *r)
{
    if (r->route == -2) {
        char allow[128] = "";
        size_t used = 0;
        for (int i = 0; srv_routes[i].method; i++) {
            struct srv_params p;
            if (srv_route_match(&srv_routes[i], srv_routes[i].method, r->path, &p) != 0)
                continue;
            int n = snprintf(allow + used, sizeof allow - used, "%s%s", used ? ", " : "", srv_routes[i].method);
            if (n < 0 || (size_t)n >= sizeof allow - used)
                break;
            used += (size_t)n;
        }
        srv_reply_error(r, 405, "method_not_allowed", "%s is not allowed on %s.", r->method, r->path);
        srv_add_header(r, MHD_HTTP_HEADER_ALLOW, allow);
        return;
    }
    if (r->route < 0) {
        srv_reply_error(r, 404, "not_found", "There is nothing at this address.");
        return;
    }
    srv_routes[r->route].handler(r);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **req_cls)
{
    (void)version;
    struct srv *s = cls;
    struct srv_req *r = *req_cls;
    if (!r) {
        r = req_new(s, c, url, method);
        if (!r)
            return MHD_NO;
        *req_cls = r;
        r->route = srv_route_match(srv_routes, method, url, &r->params);
        int cls_count = 0;
        MHD_get_connection_values(c, MHD_HEADER_KIND, count_cl, &cls_count);
        if (cls_count > 1 || bad_framing(c)) {
            srv_reply_error(r, 400, "bad_framing", "Send one Content-Length or chunked encoding, not both.");
            MHD_add_response_header(r->resp, MHD_HTTP_HEADER_CONNECTION, "close");
            return queue(r);
        }
        if (r->route >= 0 && (srv_routes[r->route].flags & SRV_ROUTE_UPLOAD)) {
            if (!upload_begin(r)) {
                MHD_add_response_header(r->resp, MHD_HTTP_HEADER_CONNECTION, "close");
                return queue(r);
            }
            return MHD_YES;
        }
        if (over_cap(r, s->cfg.max_body) && !r->discard) {
            reply_too_large(r);
            MHD_add_response_header(r->resp, MHD_HTTP_HEADER_CONNECTION, "close");
            return queue(r);
        }
        return MHD_YES;
    }
    if (*upload_size && r->discard) {
        r->received += *upload_size;
        if (r->received > (64ULL << 20) + s->cfg.max_upload || now_mono() - r->t0 > s->cfg.request_deadline_s)
            return MHD_NO;
        *upload_size = 0;
        return MHD_YES;
    }
    if (*upload_size) {
        bool uploading = r->pp != NULL;
        if (now_mono() - r->t0 > (uploading ? s->cfg.upload_deadline_s : s->cfg.request_deadline_s))
            return MHD_NO; /* a client trickling its body past the deadline is dropped */
        if (uploading) {
            r->received += *upload_size;
            if (r->received > s->cfg.max_upload + 64 * 1024 || r->too_large || r->upload_failed)
                return MHD_NO; /* chunked past the cap: stop reading, close the connection */
            if (MHD_post_process(r->pp, upload, *upload_size) != MHD_YES && !r->too_large)
                r->upload_failed = true;
            *upload_size = 0;
            return MHD_YES;
        }
        r->received += *upload_size;
        if (r->received > s->cfg.max_body + (64ULL << 20))
            return MHD_NO; /* chunked far past the cap: stop reading */
        if (r->too_large || r->body_len + *upload_size > s->cfg.max_body) {
            r->too_large = true;
        } else {
            if (r->body_len + *upload_size + 1 > r->body_cap) {
                size_t cap = r->body_cap ? r->body_cap : 4096;
                while (cap < r->body_len + *upload_size + 1)
                    cap *= 2;
                char *nb = realloc(r->body, cap);
                if (!nb)
                    return MHD_NO;
                if (!r->body)
                    arena_defer(r->arena, free_body, r);
                r->body = nb;
                r->body_cap = cap;
            }
            memcpy(r->body + r->body_len, upload, *upload_size);
            r->body_len += *upload_size;
            r->body[r->body_len] = 0;
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (r->handled) /* resumed: a handler thread has the answer ready */
        return queue(r);
    if (r->resp) /* answered early (413, bad framing) */
        return MHD_YES;
    if (r->pp) {
        /* Destroying the post processor hands over what it still buffers. */
        if (MHD_destroy_post_processor(r->pp) != MHD_YES)
            r->upload_failed = true;
        r->pp = NULL;
    }
    /* The handler runs on a handler thread, in arrival order; this thread goes on with
     * the other connections meanwhile. */
    MHD_suspend_connection(c);
    pthread_mutex_lock(&s->qmu);
    r->next = NULL;
    if (s->qtail)
        s->qtail->next = r;
    else
        s->qhead = r;
    s->qtail = r;
    pthread_cond_signal(&s->qcv);
    pthread_mutex_unlock(&s->qmu);
    return MHD_YES;
}

/*
 * A handler thread: takes the oldest waiting request, runs its handler, gives its
 * database connection back at once, and resumes its connection, whose thread then
 * queues the answer (on_request, r->handled). One queue for every connection: a
 * request never waits behind another connection's slow one while a handler is free,
 * as it did when each connection was pinned to one of libmicrohttpd's threads.
 */
static void *handler_thread(void *arg)
{
    struct srv *s = arg;
    pthread_mutex_lock(&s->qmu);
    for (;;) {
        while (!s->qhead && !s->qstop)
            pthread_cond_wait(&s->qcv, &s->qmu);
        struct srv_req *r = s->qhead;
        if (!r)
            break; /* stopping, and nothing left to answer */
        s->qhead = r->next;
        if (!s->qhead)
            s->qtail = NULL;
        pthread_mutex_unlock(&s->qmu);
        if (r->discard || r->too_large)
            reply_too_large(r);
        else
            dispatch(r);
        if (r->db) {
            db_pool_put(s->pool, r->db);
            r->db = NULL;
        }
        r->handled = true;
        struct MHD_Connection *c = r->conn;
        MHD_resume_connection(c); /* r belongs to the connection's thread from here */
        pthread_mutex_lock(&s->qmu);
    }
    pthread_mutex_unlock(&s->qmu);
    return NULL;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **req_cls, enum MHD_RequestTerminationCode toe)
{
    (void)c;
    struct srv *s = cls;
    struct srv_req *r = *req_cls;
    if (!r)
        return;
    *req_cls = NULL;
    if (r->resp) {
        MHD_destroy_response(r->resp);
        r->resp = NULL;
    }
    double dt = now_mono() - r->t0;
    unsigned st = r->status ? r->status : 0;
    int row = r->route >= 0 ? r->route + 1 : 0;
    atomic_fetch_add(&s->m.requests[row * SRV_STATUS_KINDS + status_index(st)], 1);
    for (int i = 0; i < 12; i++)
        if (dt <= latency_bounds[i])
            atomic_fetch_add(&s->m.latency[i], 1);
    atomic_fetch_add(&s->m.latency_count, 1);
    atomic_fetch_add(&s->m.latency_sum_us, (unsigned long long)(dt * 1e6));
    if (!s->cfg.quiet) {
        char ts[32];
        time_t now = time(NULL);
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
        char shown[1024];
        srv_path_for_log(r->path, shown, sizeof shown);
        fprintf(stderr, "ts=%s level=info rid=%s ip=%s method=%s path=\"%s\" route=%s status=%u ms=%.2f%s\n",
                ts, r->rid, r->client, r->method, shown, r->route >= 0 ? srv_routes[r->route].name : "-",
                st, dt * 1000, toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " aborted=1");
    }
    arena_free(r->arena);
    atomic_fetch_sub(&s->inflight, 1);
}

/* ---- metrics ---- */

char *srv_metrics_text(struct srv *s, size_t *len)
{
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    if (!f)
        return NULL;
    fputs("# HELP pretnum_http_requests_total HTTP requests by route and status.\n"
          "# TYPE pretnum_http_requests_total counter\n", f);
    for (int row = 0; row <= srv_route_count; row++) {
        for (int k = 0; k < SRV_STATUS_KINDS; k++) {
            unsigned long v = atomic_load(&s->m.requests[row * SRV_STATUS_KINDS + k]);
            if (!v)
                continue;
            char status[8];
            if (k < SRV_STATUS_KINDS - 1)
                snprintf(status, sizeof status, "%u", status_kinds[k]);
            else
                snprintf(status, sizeof status, "other");
            fprintf(f, "pretnum_http_requests_total{route=\"%s\",status=\"%s\"} %lu\n",
                    row ? srv_routes[row - 1].name : "none", status, v);
        }
    }
    fputs("# HELP pretnum_http_request_duration_seconds Time from first byte to response queued.\n"
          "# TYPE pretnum_http_request_duration_seconds histogram\n", f);
    for (int i = 0; i < 12; i++)
        fprintf(f, "pretnum_http_request_duration_seconds_bucket{le=\"%g\"} %lu\n", latency_bounds[i],
                atomic_load(&s->m.latency[i]));
    unsigned long count = atomic_load(&s->m.latency_count);
    fprintf(f, "pretnum_http_request_duration_seconds_bucket{le=\"+Inf\"} %lu\n", count);
    fprintf(f, "pretnum_http_request_duration_seconds_sum %.6f\n",
            (double)atomic_load(&s->m.latency_sum_us) / 1e6);
    fprintf(f, "pretnum_http_request_duration_seconds_count %lu\n", count);
    fprintf(f, "# HELP pretnum_db_errors_total Database queries that failed.\n"
               "# TYPE pretnum_db_errors_total counter\n"
               "pretnum_db_errors_total %lu\n", db_error_count());
    fprintf(f, "# HELP pretnum_http_requests_in_flight Requests being handled now.\n"
               "# TYPE pretnum_http_requests_in_flight gauge\n"
               "pretnum_http_requests_in_flight %d\n", atomic_load(&s->inflight));
    fclose(f);
    *len = n;
    return buf;
}

/* ---- housekeeping ---- */

/*
 * Closes loans past due, lapses ready holds and hands free copies to waiting holds every
 * few seconds. Each server runs its own; the SQL skips rows another server holds.
 */
static void *sweeper(void *arg)
{
    struct srv *s = arg;
    struct db *db = NULL;
    pthread_mutex_lock(&s->mu);
    while (!s->stopping) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += s->cfg.sweep_interval_s;
        pthread_cond_timedwait(&s->cv, &s->mu, &until);
        if (s->stopping)
            break;
        pthread_mutex_unlock(&s->mu);
        if (!db)
            db = db_pool_get(s->pool, 1000);
        int swept = db && db_ready(db) ? lend_sweep(db) : 0;
        if (swept < 0)
            fprintf(stderr, "level=warn msg=\"housekeeping of loans and holds failed; will retry\"\n");
        else if (swept > 0)
            srv_access_forget(s); /* loans past due were closed */
        /* Keys rotated by `pretnum keys rotate` (on any server) take effect here. */
        char kerr[256];
        struct lend_keyring *fresh = lend_keys_load(s->cfg.data_dir, kerr, sizeof kerr);
        if (fresh) {
            pthread_rwlock_wrlock(&s->keys_lock);
            struct lend_keyring *old = s->keys;
            s->keys = fresh;
            pthread_rwlock_unlock(&s->keys_lock);
            lend_keys_free(old);
        } else {
            fprintf(stderr, "level=warn msg=\"keeping the signing keys already loaded: %s\"\n", kerr);
        }
        struct lend_mail mail = {.smtp_url = s->cfg.smtp_url, .from = s->cfg.mail_from, .portal_url = s->cfg.public_url};
        if (db && s->cfg.smtp_url && db_ready(db))
            lend_alerts_deliver(db, &mail);
        if (db) {
            db_pool_put(s->pool, db);
            db = NULL;
        }
        pthread_mutex_lock(&s->mu);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/* ---- start and stop ---- */

static void log_mhd(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    msg[strcspn(msg, "\n")] = 0;
    fprintf(stderr, "level=warn component=http msg=\"%s\"\n", msg);
}

/* Lets the handler threads answer what is queued, then ends them. */
static void stop_workers(struct srv *s)
{
    if (!s->workers)
        return;
    pthread_mutex_lock(&s->qmu);
    s->qstop = true;
    pthread_cond_broadcast(&s->qcv);
    pthread_mutex_unlock(&s->qmu);
    for (int i = 0; i < s->nworkers; i++)
        pthread_join(s->workers[i], NULL);
    free(s->workers);
    s->workers = NULL;
    pthread_mutex_destroy(&s->qmu);
    pthread_cond_destroy(&s->qcv);
}

int srv_start(const struct srv_config *cfg, struct srv **out, char *err, size_t errlen)
{
    struct srv *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    s->cfg = *cfg;
    struct srv_config *c = &s->cfg;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (!c->bind)
        c->bind = "127.0.0.1";
    if (c->threads <= 0)
        c->threads = 2 * (cores > 0 ? (int)cores : 2);
    if (!c->max_body)
        c->max_body = 1 << 20;
    if (c->conn_timeout_s <= 0)
        c->conn_timeout_s = 30;
    if (c->request_deadline_s <= 0)
        c->request_deadline_s = 60;
    if (c->per_ip_limit <= 0)
        c->per_ip_limit = 64;
    if (!c->conn_memory)
        c->conn_memory = 64 * 1024;
    if (c->conn_limit <= 0)
        c->conn_limit = 1000;
    if (!c->max_upload)
        c->max_upload = 2ULL << 30;
    if (c->upload_deadline_s <= 0)
        c->upload_deadline_s = 3600;
    if (!c->data_dir)
        c->data_dir = "var/data";
    if (!c->mail_from)
        c->mail_from = "pretnum@localhost";
    if (c->db_pool_size <= 0)
        c->db_pool_size = c->threads + 2;
    if (c->session_cache_ms == 0)
        c->session_cache_ms = 5000;
    s->m.requests = calloc((size_t)(srv_route_count + 1) * SRV_STATUS_KINDS, sizeof *s->m.requests);
    if (!s->m.requests) {
        free(s);
        snprintf(err, errlen, "out of memory");
        return -1;
    }

    /* Refuse to serve a schema this binary does not match. */
    struct db *db = db_open_unprepared(c->conninfo, err, errlen);
    if (!db)
        goto fail;
    int pending = db_migrate(db, false, NULL, err, errlen);
    db_close(db);
    if (pending != 0) {
        if (pending > 0)
            snprintf(err, errlen, "the database lacks %d migration(s): run \"pretnum migrate\"", pending);
        goto fail;
    }
    lend_warm_up();
    s->keys = lend_keys_load(c->data_dir, err, errlen);
    if (!s->keys)
        goto fail;
    /* Presentations not yet synced (imported just before a stop, or before a crash) and
     * leftovers of imports that died: seen to in the background (include/pretnum/hls.h). */
    if (media_hls_recover_later(c->data_dir) != 0)
        fprintf(stderr, "level=warn msg=\"could not start checking the presentations\"\n");
    pthread_rwlock_init(&s->keys_lock, NULL);
    s->pool = db_pool_new(c->conninfo, c->db_pool_size);
    s->access = srv_access_new();
    s->books = srv_books_new();
    if (!s->pool || !s->access || !s->books) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }

    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)c->port)};
    if (inet_pton(AF_INET, c->bind, &addr.sin_addr) != 1) {
        snprintf(err, errlen, "cannot listen on \"%s\": not an IPv4 address", c->bind);
        goto fail;
    }
    signal(SIGPIPE, SIG_IGN);
    pthread_mutex_init(&s->qmu, NULL);
    pthread_cond_init(&s->qcv, NULL);
    s->workers = calloc((size_t)c->threads, sizeof *s->workers);
    if (!s->workers) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    for (; s->nworkers < c->threads; s->nworkers++)
        if (pthread_create(&s->workers[s->nworkers], NULL, handler_thread, s) != 0) {
            snprintf(err, errlen, "could not start the handler threads");
            goto fail;
        }
    /* libmicrohttpd's threads only read requests and write answers. */
    unsigned io_threads = cores > 1 ? 2 : 1;
    s->d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC | MHD_ALLOW_SUSPEND_RESUME |
            MHD_USE_ERROR_LOG,
        (uint16_t)c->port, NULL, NULL, on_request, s,
        MHD_OPTION_EXTERNAL_LOGGER, log_mhd, NULL,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
        MHD_OPTION_THREAD_POOL_SIZE, io_threads,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)c->conn_timeout_s,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)c->per_ip_limit,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, c->conn_memory,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)c->conn_limit,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
        MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned)1,
        MHD_OPTION_END);
    if (!s->d) {
        snprintf(err, errlen, "could not listen on %s:%d (in use?)", c->bind, c->port);
        goto fail;
    }
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    pthread_mutex_init(&s->smu, NULL);
    if (c->session_cache_ms > 0 && (s->sessions = calloc(SESSION_SLOTS, sizeof *s->sessions)))
        s->listening = pthread_create(&s->listener, NULL, session_listener, s) == 0;
    if (c->sweep_interval_s >= 0) {
        if (c->sweep_interval_s == 0)
            c->sweep_interval_s = 5;
        s->sweeping = pthread_create(&s->sweeper, NULL, sweeper, s) == 0;
    }
    *out = s;
    return 0;
fail:
    stop_workers(s);
    lend_keys_free(s->keys);
    db_pool_free(s->pool);
    srv_access_free(s->access);
    srv_books_free(s->books);
    free(s->m.requests);
    free(s);
    return -1;
}

int srv_port(const struct srv *s)
{
    const union MHD_DaemonInfo *i = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    return i ? i->port : -1;
}

void srv_stop(struct srv *s, int grace_ms)
{
    if (!s)
        return;
    if (s->sweeping) {
        pthread_mutex_lock(&s->mu);
        s->stopping = true;
        pthread_cond_signal(&s->cv);
        pthread_mutex_unlock(&s->mu);
        pthread_join(s->sweeper, NULL);
    }
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    MHD_socket fd = MHD_quiesce_daemon(s->d);
    if (fd != MHD_INVALID_SOCKET)
        close(fd);
    for (int waited = 0; atomic_load(&s->inflight) > 0 && waited < grace_ms; waited += 10)
        usleep(10000);
    /* Before the daemon: a handler thread may still resume one of its connections. */
    stop_workers(s);
    MHD_stop_daemon(s->d);
    if (s->listening) {
        atomic_store(&s->listener_stop, true);
        pthread_join(s->listener, NULL);
    }
    free(s->sessions);
    pthread_mutex_destroy(&s->smu);
    lend_keys_free(s->keys);
    pthread_rwlock_destroy(&s->keys_lock);
    db_pool_free(s->pool);
    srv_access_free(s->access);
    srv_books_free(s->books);
    free(s->m.requests);
    free(s);
}
