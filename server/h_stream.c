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

#include <fcntl.h>
#include <sodium.h>
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

static void serve_playlist(struct srv_req *r, int fd, const struct stat *st)
{
    srv_reply_fd(r, 200, "application/vnd.apple.mpegurl", fd, 0, (uint64_t)st->st_size);
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
    int fd = n > 0 && (size_t)n < sizeof path ? open(path, O_RDONLY | O_CLOEXEC) : -1;
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        if (fd >= 0)
            close(fd);
        /* Within the presentation's names: a segment past the end, or a title whose
         * presentation is missing. */
        srv_reply_error(r, 404, "not_found", "This stream has no such file.");
        return;
    }
    size_t len = strlen(name);
    if (len > 5 && !strcmp(name + len - 5, ".m3u8"))
        serve_playlist(r, fd, &st);
    else
        serve_segment(r, fd, &st, &a, name);
}

void h_stream(struct srv_req *r)
{
    stream(r);
    allow_origin(r);
}
