/*
 * Streaming of borrowed music and films: /stream/TOKEN/master.m3u8 and the files of the
 * title's HLS presentation (packaged at ingest into data_dir/hls/SHA256/, see
 * include/pretnum/hls.h) beside it.
 *
 * The loan's token is a path segment, and every URI in the playlists is relative, so each
 * URI a player resolves from a playlist carries the token without any rewriting, and
 * plain players (ffmpeg, Safari, hls.js) need no header or cookie. The master playlist
 * is where a stream starts: its request always checks the loan in the database and
 * records a 'stream_start' usage event. The other requests (media playlist, init and
 * media segments: many per minute of playback) use a 30-second cache of verified tokens
 * whose loans were active, forgotten when a loan is returned through this server (the
 * access generation of server/access.c), so a returned loan's stream stops at once here
 * and within 30 s on other servers.
 *
 * A token lives 15 minutes, but a player loads a VOD media playlist once and then asks
 * for its segments for as long as the film lasts, with that token in every URI. So a
 * stream, once started, goes on after its token's expiry: past exp, a token whose
 * signature verifies (at its own exp) still opens the media playlist and the segments,
 * not the master playlist, for STREAM_GRACE more seconds, while its loan is active. A new
 * stream always needs a fresh token.
 *
 * Segments are sent from their file by the kernel (MHD_create_response_from_fd), with
 * Range support, and marked public and immutable: their bytes never change, so a CDN may
 * keep them (the token only gates who learns their URL). Playlists are private, no-store.
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "pretnum/hls.h"
#include "pretnum/keys.h"
#include "pretnum/loans.h"
#include "pretnum/paseto.h"

#define CACHE_SLOTS 4096
#define STREAM_GRACE (6 * 3600) /* longer than a film; the loan still has to be active */
#define CACHE_SECONDS 30
#define MAX_PLAYLIST (64u << 20)

/* A token recently verified, whose loan was active then. */
struct grant {
    const struct srv *srv; /* tokens are only good on the server that checked them */
    unsigned char key[16]; /* BLAKE2b of the token */
    time_t until;          /* cache deadline, never past the token's expiry */
    unsigned long long gen; /* srv->access_gen then: a loan returned here forgets it */
    char sha256[65];
    char kind[8];
};

static struct grant cache[CACHE_SLOTS];
static pthread_mutex_t cache_mu = PTHREAD_MUTEX_INITIALIZER;

static void token_key(const char *token, unsigned char key[16])
{
    crypto_generichash(key, 16, (const unsigned char *)token, strlen(token), NULL, 0);
}

static bool cache_get(const struct srv *s, const unsigned char key[16], time_t now,
                      unsigned long long gen, struct grant *out)
{
    struct grant *g = &cache[(key[0] | key[1] << 8) % CACHE_SLOTS];
    pthread_mutex_lock(&cache_mu);
    bool hit = g->srv == s && g->until > now && g->gen == gen && !memcmp(g->key, key, 16);
    if (hit)
        *out = *g;
    pthread_mutex_unlock(&cache_mu);
    return hit;
}

static void cache_put(const struct grant *in)
{
    struct grant *g = &cache[(in->key[0] | in->key[1] << 8) % CACHE_SLOTS];
    pthread_mutex_lock(&cache_mu);
    *g = *in;
    pthread_mutex_unlock(&cache_mu);
}

static void put_json(void *p)
{
    json_decref(p);
}

/* Like srv_reply_buffer, for a response built here. */
static void reply_response(struct srv_req *r, unsigned status, struct MHD_Response *resp,
                           const char *ctype, const char *cache_control)
{
    if (r->resp) {
        MHD_destroy_response(resp);
        return;
    }
    r->status = status;
    r->resp = resp;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    MHD_add_response_header(resp, "X-Request-Id", r->rid);
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, cache_control);
    /* hls.js fetches from the page's origin; a player on another origin may too: the token
     * is the authorisation, not the origin. */
    MHD_add_response_header(resp, MHD_HTTP_HEADER_ACCESS_CONTROL_ALLOW_ORIGIN, "*");
}

/* "bytes=a-b", "bytes=a-", "bytes=-n" of a size-byte file: 1 (from, to set), 0 none, -1 unusable.
 */
static int parse_range(const char *h, uint64_t size, uint64_t *from, uint64_t *to)
{
    if (!h)
        return 0;
    if (strncmp(h, "bytes=", 6) != 0 || strchr(h, ',') || size == 0)
        return -1;
    const char *p = h + 6;
    char *end;
    if (*p == '-') {
        if (p[1] < '0' || p[1] > '9')
            return -1;
        errno = 0;
        unsigned long long n = strtoull(p + 1, &end, 10);
        if (*end || n == 0 || errno)
            return -1;
        *from = n >= size ? 0 : size - n;
        *to = size - 1;
        return 1;
    }
    if (*p < '0' || *p > '9')
        return -1;
    errno = 0;
    unsigned long long a = strtoull(p, &end, 10), b = size - 1;
    if (*end != '-' || errno)
        return -1;
    if (end[1]) {
        if (end[1] < '0' || end[1] > '9')
            return -1;
        b = strtoull(end + 1, &end, 10);
        if (*end || errno)
            return -1;
    }
    if (a >= size || b < a)
        return -1;
    *from = a;
    *to = b < size ? b : size - 1;
    return 1;
}

static void serve_playlist(struct srv_req *r, int fd, off_t size)
{
    if (size < 0 || (uint64_t)size > MAX_PLAYLIST) {
        close(fd);
        srv_reply_error(r, 500, "internal_error", "This stream cannot be read right now.");
        return;
    }
    char *buf = malloc((size_t)size + 1);
    size_t got = 0;
    while (buf && got < (size_t)size) {
        ssize_t n = pread(fd, buf + got, (size_t)size - got, (off_t)got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    if (!buf || got != (size_t)size) {
        free(buf);
        srv_reply_error(r, 500, "internal_error", "This stream cannot be read right now.");
        return;
    }
    struct MHD_Response *resp = MHD_create_response_from_buffer(got, buf, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(buf);
        srv_reply_error(r, 503, "busy", "Try again shortly.");
        return;
    }
    /* The URL holds a patron's token: never stored by anyone. */
    reply_response(r, 200, resp, "application/vnd.apple.mpegurl", "private, no-store");
}

static void serve_segment(struct srv_req *r, int fd, const struct stat *st, const struct grant *g,
                          const char *name)
{
    uint64_t size = (uint64_t)st->st_size, from = 0, to = size ? size - 1 : 0;
    char etag[64];
    snprintf(etag, sizeof etag, "\"%.16s-%s\"", g->sha256, name);
    const char *inm = srv_header(r, MHD_HTTP_HEADER_IF_NONE_MATCH);
    if (inm && !strcmp(inm, etag)) {
        close(fd);
        srv_reply_empty(r, 304);
        srv_add_header(r, MHD_HTTP_HEADER_ETAG, etag);
        return;
    }
    int range = parse_range(srv_header(r, MHD_HTTP_HEADER_RANGE), size, &from, &to);
    if (range < 0) {
        close(fd);
        char cr[64];
        snprintf(cr, sizeof cr, "bytes */%llu", (unsigned long long)size);
        srv_reply_error(r, 416, "range_not_satisfiable",
                        "The range asked for is not in this file.");
        srv_add_header(r, MHD_HTTP_HEADER_CONTENT_RANGE, cr);
        return;
    }
    uint64_t n = range ? to - from + 1 : size;
    struct MHD_Response *resp =
        MHD_create_response_from_fd_at_offset64(n, fd, from); /* closes fd */
    if (!resp) {
        close(fd);
        srv_reply_error(r, 503, "busy", "Try again shortly.");
        return;
    }
    const char *type = !strcmp(g->kind, "video") ? "video/mp4" : "audio/mp4";
    reply_response(r, range ? 206 : 200, resp, type, "public, max-age=31536000, immutable");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, etag);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_ACCEPT_RANGES, "bytes");
    if (range) {
        char cr[96];
        snprintf(cr, sizeof cr, "bytes %llu-%llu/%llu", (unsigned long long)from,
                 (unsigned long long)to, (unsigned long long)size);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_RANGE, cr);
    }
}

/*
 * The exp claim of a v4.public token, read without verifying it (the caller verifies at
 * that time): the payload is base64url(message || 64-byte signature). 0 when unreadable.
 */
static time_t unverified_exp(const char *token)
{
    if (strncmp(token, "v4.public.", 10) != 0)
        return 0;
    const char *p = token + 10, *dot = strchr(p, '.');
    size_t len = dot ? (size_t)(dot - p) : strlen(p);
    if (len > 8192)
        return 0;
    unsigned char bin[6200];
    size_t n = 0;
    if (sodium_base642bin(bin, sizeof bin, p, len, NULL, &n, NULL,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
        n <= 64)
        return 0;
    json_t *j = json_loadb((const char *)bin, n - 64, JSON_REJECT_DUPLICATES, NULL);
    time_t exp = 0;
    if (!json_is_string(json_object_get(j, "exp")) ||
        paseto_time_parse(json_string_value(json_object_get(j, "exp")), &exp) != 0)
        exp = 0;
    json_decref(j);
    return exp;
}

/* Checks the token and its loan; fills g. False when a refusal has been sent. */
static bool authorise(struct srv_req *r, const char *token, bool start, struct grant *g)
{
    time_t now = time(NULL);
    unsigned long long gen = atomic_load(&r->srv->access_gen);
    token_key(token, g->key);
    if (!start && cache_get(r->srv, g->key, now, gen, g))
        return true;
    json_t *claims = NULL;
    const char *code = "invalid_token";
    pthread_rwlock_rdlock(&r->srv->keys_lock);
    int rc = lend_token_verify(r->srv->keys, token, now, &claims, &code);
    time_t exp = 0;
    bool grace = false;
    if (rc != 0 && !start && !strcmp(code, "expired") && (exp = unverified_exp(token)) > 0 &&
        exp < now && now - exp <= STREAM_GRACE) {
        /* A stream going on past its token's expiry: the token as it was at its end. */
        rc = lend_token_verify(r->srv->keys, token, exp - 1, &claims, &code);
        grace = rc == 0;
    }
    pthread_rwlock_unlock(&r->srv->keys_lock);
    if (rc != 0) {
        srv_reply_error(
            r, 401, !strcmp(code, "expired") ? "token_expired" : "invalid_token",
            "This link has expired or is not valid; open the title again from your loans.");
        return false;
    }
    arena_defer(r->arena, put_json, claims);
    struct db *db = srv_db(r);
    if (!db)
        return false;
    const char *loan = json_string_value(json_object_get(claims, "loan"));
    struct lend_content c;
    struct lend_err err = {0};
    enum lend_status st =
        lend_content_loan(db, loan, json_string_value(json_object_get(claims, "title")), &c, &err);
    if (st != LEND_OK) {
        srv_reply_lend(r, st == LEND_NOT_FOUND ? LEND_UNAUTHORIZED : st, &err);
        return false;
    }
    if (!c.active) {
        srv_reply_error(r, 403, "loan_ended",
                        "This loan has ended; borrow the title again to play it.");
        return false;
    }
    if (strcmp(c.kind, "audio") != 0 && strcmp(c.kind, "video") != 0) {
        srv_reply_error(r, 404, "not_found",
                        "This title is not streamed; open it from your loans.");
        return false;
    }
    if (start) {
        st = lend_stream_start(db, loan, &err);
        if (st != LEND_OK) {
            srv_reply_lend(r, st, &err);
            return false;
        }
    }
    snprintf(g->sha256, sizeof g->sha256, "%s", c.sha256);
    snprintf(g->kind, sizeof g->kind, "%s", c.kind);
    g->srv = r->srv;
    g->gen = gen;
    json_t *jexp = json_object_get(claims, "exp");
    time_t texp = now + CACHE_SECONDS;
    if (json_is_string(jexp) && paseto_time_parse(json_string_value(jexp), &texp) != 0)
        texp = now;
    if (grace)
        texp += STREAM_GRACE;
    g->until = texp < now + CACHE_SECONDS ? texp : now + CACHE_SECONDS;
    cache_put(g);
    return true;
}

void h_stream(struct srv_req *r)
{
    const char *token = srv_param(r, "token"), *name = srv_param(r, "path");
    if (!media_hls_valid_name(name)) {
        srv_reply_error(r, 404, "not_found", "This stream has no such file.");
        return;
    }
    struct grant g = {0};
    if (!authorise(r, token, !strcmp(name, "master.m3u8"), &g))
        return;
    char path[4400];
    snprintf(path, sizeof path, "%s/hls/%s/%s", r->srv->cfg.data_dir, g.sha256, name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        if (fd >= 0)
            close(fd);
        /* Within the presentation's names: a segment past the end, or a title imported
         * before streaming existed. */
        srv_reply_error(r, 404, "not_found", "This stream has no such file.");
        return;
    }
    size_t len = strlen(name);
    if (len > 5 && !strcmp(name + len - 5, ".m3u8"))
        serve_playlist(r, fd, st.st_size);
    else
        serve_segment(r, fd, &st, &g, name);
}
