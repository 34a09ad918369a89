/*
 * Streaming of borrowed music and films: /stream/TOKEN/master.m3u8 and the files of the
 * title's HLS presentation (packaged at ingest into data_dir/hls/SHA256/, see
 * include/pretnum/hls.h) beside it.
 *
 * The loan's token is a path segment, and every URI in the playlists is relative, so each
 * URI a player resolves from a playlist carries the token without any rewriting, and
 * plain players (ffmpeg, Safari, hls.js) need no header or cookie. Every request is
 * checked by srv_loan_access() (server/access.c): the token's signature and expiry, and
 * its loan active, remembered for at most 10 s and forgotten at once when a loan is
 * returned through this server; a loan ended elsewhere stops here within 10 s. The
 * master playlist is where a stream starts: its request also records a 'stream_start'
 * usage event in the database.
 *
 * An expired token is refused (401 token_expired) on every file, segments included. A
 * token lives 15 minutes and a film lasts longer: a player keeps going by asking
 * POST /api/v1/loans/{id}/token for a fresh token and using it in the URIs it requests
 * next (the same file names under /stream/NEWTOKEN/), which holds only while the loan
 * is active.
 *
 * Segments are sent from their file by the kernel (sendfile), with Range support, and
 * marked public and immutable (on 304s too): their bytes never change. Caching, as
 * decided: the origin serves everything and authorises every request. A shared cache
 * (a CDN) keyed on the whole URL keeps a copy per token, so it shares nothing between
 * loans or even between a loan's successive tokens; it saves the origin the repeated
 * requests of one token (seeks, replays, Range probes), no more. A CDN can do better
 * only if configured to drop the token from its cache key and verify it itself at the
 * edge against the PASERK keys of /.well-known/pretnum/keys (signature and exp); such an
 * edge cannot see a returned loan, so there a returned loan's stream would stop at its
 * token's expiry (15 minutes at most), not within the 60 seconds the origin keeps. No
 * such edge is shipped. Playlists are private, no-store. A browser's own cached copies
 * of segments it already fetched stay playable after a return; they are bytes the patron
 * already received.
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pretnum/hls.h"
#include "pretnum/loans.h"

/* Segments never change: a year, and no revalidation. */
#define SEGMENT_CACHE "public, max-age=31536000, immutable"

/* Lets a player on another origin read the answer, refusals included: the token is the
 * authorisation, not the origin. */
static void allow_origin(struct srv_req *r)
{
    srv_add_header(r, MHD_HTTP_HEADER_ACCESS_CONTROL_ALLOW_ORIGIN, "*");
}

/*
 * Playlists are small and asked for again and again (a player reloads them, every seek
 * starts from them): the newest are kept in memory, each with the file's identity (inode,
 * size, modification time) checked by one stat() per request, so a presentation packaged
 * again is read again. A request then costs no open, read or close, and its answer is
 * sent from the kept bytes without a copy.
 */
#define PLAYLIST_SLOTS 128
#define PLAYLIST_MAX (256u << 10)

static struct playlist_slot {
    char path[200];
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
    struct srv_bytes *bytes;
} playlists[PLAYLIST_SLOTS];
static pthread_mutex_t playlists_lock = PTHREAD_MUTEX_INITIALIZER;

static bool same_file(const struct playlist_slot *s, const char *path, const struct stat *st)
{
    return s->bytes && !strcmp(s->path, path) && s->dev == st->st_dev && s->ino == st->st_ino &&
           s->size == st->st_size && s->mtime.tv_sec == st->st_mtim.tv_sec && s->mtime.tv_nsec == st->st_mtim.tv_nsec;
}

static void put_bytes(void *p)
{
    srv_bytes_put(p);
}

/* The playlist at path (stat'ed as st), kept or read now: a reference, or NULL. */
static struct srv_bytes *playlist_bytes(const char *path, const struct stat *st)
{
    unsigned h = 2166136261u;
    for (const char *p = path; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    struct playlist_slot *s = &playlists[h % PLAYLIST_SLOTS];
    pthread_mutex_lock(&playlists_lock);
    if (same_file(s, path, st)) {
        atomic_fetch_add(&s->bytes->refs, 1);
        struct srv_bytes *b = s->bytes;
        pthread_mutex_unlock(&playlists_lock);
        return b;
    }
    pthread_mutex_unlock(&playlists_lock);
    if (st->st_size <= 0 || (uint64_t)st->st_size > PLAYLIST_MAX || strlen(path) >= sizeof s->path)
        return NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct srv_bytes *b = fd >= 0 ? malloc(sizeof *b + (size_t)st->st_size) : NULL;
    size_t got = 0;
    while (b && got < (size_t)st->st_size) {
        ssize_t k = read(fd, b->data + got, (size_t)st->st_size - got);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        got += (size_t)k;
    }
    if (fd >= 0)
        close(fd);
    if (!b || got != (size_t)st->st_size) {
        free(b);
        return NULL;
    }
    b->len = got;
    atomic_init(&b->refs, 2); /* the slot's and the caller's */
    pthread_mutex_lock(&playlists_lock);
    struct srv_bytes *old = s->bytes;
    memcpy(s->path, path, strlen(path) + 1); /* shorter than s->path: checked above */
    s->dev = st->st_dev;
    s->ino = st->st_ino;
    s->size = st->st_size;
    s->mtime = st->st_mtim;
    s->bytes = b;
    pthread_mutex_unlock(&playlists_lock);
    srv_bytes_put(old);
    return b;
}

static void serve_playlist(struct srv_req *r, const char *path, const struct stat *st)
{
    struct srv_bytes *b = playlist_bytes(path, st);
    if (!b) {
        srv_reply_error(r, 503, "busy", "Try again shortly.");
        return;
    }
    srv_reply_shared(r, 200, "application/vnd.apple.mpegurl", b->data, b->len, put_bytes, b);
    /* The URL holds a patron's token: never stored by anyone. */
    srv_add_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "private, no-store");
}

static void serve_segment(struct srv_req *r, int fd, const struct stat *st,
                          const struct srv_access *a, const char *name)
{
    uint64_t size = (uint64_t)st->st_size, from = 0, to = size ? size - 1 : 0;
    /* Strong: the file's bytes never change. A hash of the title's SHA-256 and the name,
     * so that the validator tells nothing about the file itself. */
    unsigned char h[12];
    crypto_generichash_state st_h;
    crypto_generichash_init(&st_h, NULL, 0, sizeof h);
    crypto_generichash_update(&st_h, (const unsigned char *)a->sha256, strlen(a->sha256));
    crypto_generichash_update(&st_h, (const unsigned char *)"/", 1);
    crypto_generichash_update(&st_h, (const unsigned char *)name, strlen(name));
    crypto_generichash_final(&st_h, h, sizeof h);
    char hx[25], etag[32];
    sodium_bin2hex(hx, sizeof hx, h, sizeof h);
    snprintf(etag, sizeof etag, "\"%s\"", hx);
    const char *inm = srv_header(r, MHD_HTTP_HEADER_IF_NONE_MATCH);
    if (inm && !strcmp(inm, etag)) {
        close(fd);
        srv_reply_empty(r, 304);
        srv_add_header(r, MHD_HTTP_HEADER_ETAG, etag);
        srv_add_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, SEGMENT_CACHE);
        return;
    }
    int range = srv_parse_range(srv_header(r, MHD_HTTP_HEADER_RANGE), size, &from, &to);
    if (range < 0) {
        close(fd);
        char cr[64];
        snprintf(cr, sizeof cr, "bytes */%llu", (unsigned long long)size);
        srv_reply_error(r, 416, "range_not_satisfiable",
                        "The range asked for is not in this file.");
        srv_add_header(r, MHD_HTTP_HEADER_CONTENT_RANGE, cr);
        return;
    }
    const char *type = !strcmp(a->kind, "video") ? "video/mp4" : "audio/mp4";
    srv_reply_fd(r, range ? 206 : 200, type, fd, from, range ? to - from + 1 : size);
    srv_add_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, SEGMENT_CACHE);
    srv_add_header(r, MHD_HTTP_HEADER_ETAG, etag);
    srv_add_header(r, MHD_HTTP_HEADER_ACCEPT_RANGES, "bytes");
    if (range) {
        char cr[96];
        snprintf(cr, sizeof cr, "bytes %llu-%llu/%llu", (unsigned long long)from,
                 (unsigned long long)to, (unsigned long long)size);
        srv_add_header(r, MHD_HTTP_HEADER_CONTENT_RANGE, cr);
    }
}

/* Checks the token and its loan (srv_loan_access); a stream's start is also a usage
 * event, recorded in the database. False when a refusal has been sent. */
static bool authorise(struct srv_req *r, const char *token, bool start, struct srv_access *a)
{
    if (srv_loan_access(r, token, a) != 0)
        return false;
    if (strcmp(a->kind, "audio") != 0 && strcmp(a->kind, "video") != 0) {
        srv_reply_error(r, 404, "not_found",
                        "This title is not streamed; open it from your loans.");
        return false;
    }
    if (start) {
        struct db *db = srv_db(r);
        if (!db)
            return false;
        struct lend_err err = {0};
        enum lend_status st = lend_stream_start(db, a->loan, &err);
        if (st != LEND_OK) {
            srv_reply_lend(r, st, &err);
            return false;
        }
    }
    return true;
}

static void stream(struct srv_req *r)
{
    const char *token = srv_param(r, "token"), *name = srv_param(r, "path");
    if (!media_hls_valid_name(name)) {
        srv_reply_error(r, 404, "not_found", "This stream has no such file.");
        return;
    }
    struct srv_access a;
    /* A HEAD (a link checker, a player probing) starts nothing. */
    bool start = !strcmp(name, "master.m3u8") && strcmp(r->method, "HEAD") != 0;
    if (!authorise(r, token, start, &a))
        return;
    char path[4400];
    int n = snprintf(path, sizeof path, "%s/hls/%s/%s", r->srv->cfg.data_dir, a.sha256, name);
    struct stat st;
    size_t len = strlen(name);
    if (len > 5 && !strcmp(name + len - 5, ".m3u8")) {
        if (n > 0 && (size_t)n < sizeof path && stat(path, &st) == 0 && S_ISREG(st.st_mode))
            serve_playlist(r, path, &st);
        else
            srv_reply_error(r, 404, "not_found", "This stream has no such file.");
        return;
    }
    int fd = n > 0 && (size_t)n < sizeof path ? open(path, O_RDONLY | O_CLOEXEC) : -1;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        if (fd >= 0)
            close(fd);
        /* Within the presentation's names: a segment past the end, or a title whose
         * presentation is missing. */
        srv_reply_error(r, 404, "not_found", "This stream has no such file.");
        return;
    }
    serve_segment(r, fd, &st, &a, name);
}

void h_stream(struct srv_req *r)
{
    stream(r);
    allow_origin(r);
}
