/*
 * Content reached through a loan's token: /content/TOKEN/manifest.json is the book's Web
 * Publication Manifest, /content/TOKEN/PATH one of its resources, read from the stored
 * EPUB with libzip. The token is in the path, so the book's own relative links keep
 * working and a reader needs no header or cookie. Every request checks the token's
 * signature and the loan in the database, so a returned loan stops at once.
 *
 * /download/TOKEN is the book as a file for reading apps, watermarked for the loan
 * (lending/watermark.c): written to an unlinked temporary file and sent from its
 * descriptor, so a large book never sits in memory. The same loan always gets the same
 * bytes, so a strong ETag and Range requests hold across requests.
 */
#include "internal.h"

#include <ctype.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pretnum/epub.h"
#include "pretnum/keys.h"
#include "pretnum/loans.h"
#include "pretnum/publication.h"
#include "pretnum/watermark.h"

/* Largest resource served from memory; bigger ones wait for streaming from the zip. */
#define MAX_RESOURCE (256u << 20)

static void put_json(void *p)
{
    json_decref(p);
}

/* srv_parse_range() on size_t offsets. */
static int parse_range(const char *h, size_t len, size_t *from, size_t *to)
{
    uint64_t f = 0, t = 0;
    int rc = srv_parse_range(h, len, &f, &t);
    if (rc == 1) {
        *from = (size_t)f;
        *to = (size_t)t;
    }
    return rc;
}

/* What a book's resources are sent with; see serve_resource(). */
#define CONTENT_POLICY                                                                                          \
    "sandbox; default-src 'none'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; "                \
    "font-src 'self' data:; media-src 'self' blob:; frame-ancestors 'self'"

static bool dest_allowed(const char *dest)
{
    static const char *const ok[] = {"empty", "image", "style", "font", "audio", "video", "track"};
    if (!dest)
        return true;
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++)
        if (!strcmp(dest, ok[i]))
            return true;
    return false;
}

static void release_bytes(void *p)
{
    srv_bytes_put(p);
}

/* The book's bytes from the file itself, when the entry is stored: no copy (sendfile). */
static bool serve_span(struct srv_req *r, struct srv_book *b, const char *name, size_t *len_out,
                       size_t *from, size_t *to, int *range)
{
    uint64_t off, size;
    if (!srv_book_span(b, name, &off, &size))
        return false;
    *len_out = (size_t)size;
    *from = 0;
    *to = size ? (size_t)size - 1 : 0;
    *range = parse_range(srv_header(r, MHD_HTTP_HEADER_RANGE), (size_t)size, from, to);
    if (*range < 0)
        return true;
    int fd = open(srv_book_path(b), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    srv_reply_fd(r, *range ? 206 : 200, NULL, fd, off + *from, *range ? *to - *from + 1 : size);
    return true;
}

static void serve_resource(struct srv_req *r, struct srv_book *b, size_t item, const char *sha)
{
    const struct epub_item *it = &srv_book_meta(b)->manifest[item];
    /* Strong ETag: the stored file's hash and the entry, which never change together. */
    unsigned char h[8];
    crypto_generichash(h, sizeof h, (const unsigned char *)it->href, strlen(it->href), NULL, 0);
    char hx[17], etag[64];
    sodium_bin2hex(hx, sizeof hx, h, sizeof h);
    snprintf(etag, sizeof etag, "\"%.16s-%s\"", sha, hx);
    const char *inm = srv_header(r, MHD_HTTP_HEADER_IF_NONE_MATCH);
    if (inm && !strcmp(inm, etag)) {
        srv_reply_empty(r, 304);
        srv_add_header(r, MHD_HTTP_HEADER_ETAG, etag);
        return;
    }
    size_t len = 0, from = 0, to = 0;
    int range = 0;
    if (!serve_span(r, b, it->href, &len, &from, &to, &range)) {
        struct epub_error ee;
        struct srv_bytes *x = srv_book_bytes(b, item, MAX_RESOURCE, &ee);
        if (!x) {
            srv_reply_error(r, 404, "not_found", "This resource cannot be read from the book.");
            return;
        }
        len = x->len;
        from = 0;
        to = len ? len - 1 : 0;
        range = parse_range(srv_header(r, MHD_HTTP_HEADER_RANGE), len, &from, &to);
        if (range >= 0)
            srv_reply_shared(r, range ? 206 : 200, NULL, x->data + from, range ? to - from + 1 : len, release_bytes,
                             x);
        else
            srv_bytes_put(x);
    }
    if (range < 0) {
        char cr[64];
        snprintf(cr, sizeof cr, "bytes */%zu", len);
        srv_reply_error(r, 416, "range_not_satisfiable", "The range asked for is not in this resource.");
        srv_add_header(r, MHD_HTTP_HEADER_CONTENT_RANGE, cr);
        return;
    }
    srv_add_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, it->media_type);
    srv_add_header(r, MHD_HTTP_HEADER_ETAG, etag);
    srv_add_header(r, MHD_HTTP_HEADER_ACCEPT_RANGES, "bytes");
    /* Private: the URL holds a patron's token. */
    srv_add_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "private, max-age=300");
    if (range) {
        char cr[96];
        snprintf(cr, sizeof cr, "bytes %zu-%zu/%zu", from, to, len);
        srv_add_header(r, MHD_HTTP_HEADER_CONTENT_RANGE, cr);
    }
    /* Whatever its declared type (a package may call a page application/xml or
     * Text/HTML), a resource opened as a document runs sandboxed in an opaque origin,
     * with no script: it cannot reach the portal's session. */
    srv_add_header(r, "Content-Security-Policy", CONTENT_POLICY);
}

/* Readium's own address for the positions list. It is looked up before the book's
 * entries, so a book with an entry of that very name would lose it to the list. */
#define POSITIONS_PATH "~readium/positions"
#define POSITIONS_TYPE "application/vnd.readium.position-list+json"

static void serve_positions(struct srv_req *r, struct srv_book *b, const char *token)
{
    const struct epub_meta *m = srv_book_meta(b);
    uint64_t *sizes = arena_alloc(r->arena, m->n_spine * sizeof *sizes);
    if (!sizes) {
        srv_reply_error(r, 503, "busy", "Try again shortly.");
        return;
    }
    for (size_t i = 0; i < m->n_spine; i++)
        if (!srv_book_stored_size(b, m->spine[i].item->href, &sizes[i]))
            sizes[i] = 0;
    json_t *p = lend_webpub_positions(m, arena_printf(r->arena, "/content/%s/", token), sizes);
    char *s = p ? json_dumps(p, JSON_COMPACT) : NULL;
    json_decref(p);
    if (!s) {
        srv_reply_error(r, 500, "internal_error", "could not build the positions list");
        return;
    }
    srv_reply_buffer(r, 200, POSITIONS_TYPE, s, strlen(s));
    srv_add_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "private, no-store");
    srv_add_header(r, "Content-Security-Policy", CONTENT_POLICY);
}

static const char *claim(const json_t *claims, const char *name)
{
    return json_string_value(json_object_get(claims, name));
}

struct book_ref {
    struct srv_books *t;
    struct srv_book *b;
};

static void release_book(void *p)
{
    struct book_ref *ref = p;
    srv_book_put(ref->t, ref->b);
}

void h_content(struct srv_req *r)
{
    const char *token = srv_param(r, "token"), *path = srv_param(r, "path");
    /* The portal's reader fetches a book's pages (Sec-Fetch-Dest: empty) and shows them
     * in frames of the portal's origin, whose pictures, styles, fonts and media then come
     * from here. Nothing else a browser asks for is sent: not a script or a worker, and
     * not a document, frame or object, which a page could open with a <meta> refresh or
     * an <iframe>. Every current browser sends Sec-Fetch-Dest (Safari since 16.4);
     * reading apps, which ask without it, get everything. */
    if (!dest_allowed(srv_header(r, "Sec-Fetch-Dest"))) {
        srv_reply_error(r, 403, "resource_blocked",
                        "A book's pages are read through the reader; its scripts and frames are not sent.");
        return;
    }
    struct srv_access a;
    if (srv_loan_access(r, token, &a) != 0)
        return;
    if (strcmp(a.kind, "ebook") != 0) {
        srv_reply_error(r, 404, "not_found", "Music and films are streamed from their stream link.");
        return;
    }
    struct epub_error ee;
    struct srv_book *b = srv_book_get(r->srv->books, r->srv->cfg.data_dir, a.file_path, a.sha256, &ee);
    if (!b) {
        fprintf(stderr, "level=error rid=%s msg=\"stored book unreadable\" detail=\"%s\"\n", r->rid, ee.message);
        srv_reply_error(r, 500, "internal_error", "This book cannot be opened right now.");
        return;
    }
    struct book_ref *ref = arena_alloc(r->arena, sizeof *ref);
    if (!ref) {
        srv_book_put(r->srv->books, b);
        srv_reply_error(r, 503, "busy", "Try again shortly.");
        return;
    }
    ref->t = r->srv->books;
    ref->b = b;
    arena_defer(r->arena, release_book, ref);
    const struct epub_meta *m = srv_book_meta(b);
    if (!strcmp(path, "manifest.json")) {
        char *base = arena_printf(r->arena, "/content/%s/", token);
        char *self = arena_printf(r->arena, "/content/%s/manifest.json", token);
        json_t *w = lend_webpub_manifest(m, base, self);
        if (!w) {
            srv_reply_error(r, 500, "internal_error", "could not build the manifest");
            return;
        }
        /* The positions list, where a reading system finds its "page N of M". */
        json_array_append_new(json_object_get(w, "links"),
                              json_pack("{s:s, s:s}", "href", arena_printf(r->arena, "%s%s", base, POSITIONS_PATH),
                                        "type", POSITIONS_TYPE));
        char *s = json_dumps(w, JSON_COMPACT);
        json_decref(w);
        srv_reply_buffer(r, 200, "application/webpub+json", s, s ? strlen(s) : 0);
        srv_add_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "private, no-store");
        srv_add_header(r, "Content-Security-Policy", CONTENT_POLICY);
        return;
    }
    if (!strcmp(path, POSITIONS_PATH)) {
        serve_positions(r, b, token);
        return;
    }
    /* Only what the package lists is served: never META-INF, never a path outside it. */
    for (size_t i = 0; i < m->n_manifest; i++) {
        if (!m->manifest[i].remote && !strcmp(m->manifest[i].href, path)) {
            serve_resource(r, b, i, a.sha256);
            return;
        }
    }
    srv_reply_error(r, 404, "not_found", "This book has no such resource.");
}

/* Content-Disposition with the book's title: an ASCII fallback and the UTF-8 original. */
static char *disposition(struct srv_req *r, const char *title)
{
    char ascii[81];
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)title; *p && n < sizeof ascii - 1; p++)
        if (isalnum(*p) || *p == '-' || *p == '_' || *p == '.' || *p == ' ')
            ascii[n++] = (char)*p;
    while (n && ascii[n - 1] == ' ')
        n--;
    ascii[n] = 0;
    if (!n)
        snprintf(ascii, sizeof ascii, "book");
    char *enc = lend_path_encode(title);
    char *v = arena_printf(r->arena, "attachment; filename=\"%s.epub\"; filename*=UTF-8''%s.epub", ascii,
                           enc && *enc && strlen(enc) < 600 ? enc : ascii);
    free(enc);
    return v;
}

void h_download(struct srv_req *r)
{
    json_t *claims = srv_token_claims(r, srv_param(r, "token"), time(NULL));
    if (!claims)
        return;
    arena_defer(r->arena, put_json, claims);
    struct db *db = srv_db(r);
    if (!db)
        return;
    struct lend_download d;
    struct lend_err err = {0};
    enum lend_status st = lend_download_loan(db, claim(claims, "loan"), claim(claims, "title"), &d, &err);
    if (st != LEND_OK) {
        srv_reply_lend(r, st == LEND_NOT_FOUND ? LEND_UNAUTHORIZED : st, &err);
        return;
    }
    if (!d.c.active) {
        srv_reply_error(r, 403, "loan_ended", "This loan has ended; borrow the title again to download it.");
        return;
    }
    if (strcmp(d.c.kind, "ebook") != 0) {
        srv_reply_error(r, 404, "not_found", "Only e-books are downloaded; music and films are streamed.");
        return;
    }
    const char *loan = claim(claims, "loan");
    char etag[96];
    snprintf(etag, sizeof etag, "\"%.16s-%.8s-w%d\"", d.c.sha256, loan, LEND_WATERMARK_VERSION);
    const char *inm = srv_header(r, MHD_HTTP_HEADER_IF_NONE_MATCH);
    if (inm && !strcmp(inm, etag)) {
        srv_reply_empty(r, 304);
        srv_add_header(r, MHD_HTTP_HEADER_ETAG, etag);
        return;
    }
    /* A range is served only while the copy is the one the client started on. */
    const char *range_h = srv_header(r, MHD_HTTP_HEADER_RANGE), *if_range = srv_header(r, "If-Range");
    if (if_range && strcmp(if_range, etag) != 0)
        range_h = NULL;

    char src[4400];
    snprintf(src, sizeof src, "%s/%s", r->srv->cfg.data_dir, d.c.file_path);
    struct lend_mark mark = {.loan_id = loan, .library = d.library, .borrowed = d.borrowed, .due = d.due,
                             .started = (time_t)d.started};
    struct epub_error ee = {0};
    int fd = lend_watermark_open(r->srv->cfg.data_dir, src, &mark, &ee);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) != 0) {
        fprintf(stderr, "level=error rid=%s msg=\"download failed\" detail=\"%s\"\n", r->rid,
                fd < 0 ? ee.message : "fstat");
        if (fd >= 0)
            close(fd);
        srv_reply_error(r, 500, "internal_error", "This book cannot be downloaded right now.");
        return;
    }
    size_t len = (size_t)sb.st_size, from = 0, to = len ? len - 1 : 0;
    int range = parse_range(range_h, len, &from, &to);
    if (range < 0) {
        close(fd);
        char cr[64];
        snprintf(cr, sizeof cr, "bytes */%zu", len);
        srv_reply_error(r, 416, "range_not_satisfiable", "The range asked for is not in this file.");
        srv_add_header(r, MHD_HTTP_HEADER_CONTENT_RANGE, cr);
        return;
    }
    srv_reply_fd(r, range ? 206 : 200, "application/epub+zip", fd, from, range ? to - from + 1 : len);
    srv_add_header(r, MHD_HTTP_HEADER_ETAG, etag);
    srv_add_header(r, MHD_HTTP_HEADER_ACCEPT_RANGES, "bytes");
    srv_add_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "private, no-store");
    srv_add_header(r, MHD_HTTP_HEADER_CONTENT_DISPOSITION, disposition(r, d.title));
    if (range) {
        char cr[96];
        snprintf(cr, sizeof cr, "bytes %zu-%zu/%zu", from, to, len);
        srv_add_header(r, MHD_HTTP_HEADER_CONTENT_RANGE, cr);
    }
}
