/* The catalogue: search, one title, its cover, and the staff's upload. */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "pretnum/catalogue.h"
#include "pretnum/loans.h"
#include "pretnum/media.h"

/* For a signed-in caller, how many copies its consortium has and how many are free. */
static void add_availability(struct srv_req *r, json_t *title)
{
    if (!r->signed_in)
        return;
    json_t *a = lend_availability(r->db, &r->who, json_string_value(json_object_get(title, "id")));
    if (a)
        json_object_set_new(title, "availability", a);
}

void h_titles(struct srv_req *r)
{
    int page, per_page;
    if (!srv_page(r, &page, &per_page))
        return;
    struct db *db = srv_db(r);
    if (!db)
        return;
    const char *available = srv_query(r, "available");
    if (available && strcmp(available, "true") && strcmp(available, "false")) {
        srv_reply_error(r, 400, "invalid_filter", "available is true or false.");
        return;
    }
    bool signed_in = srv_optional_auth(r);
    struct lend_title_query q = {
        .q = srv_query(r, "q"),
        .kind = srv_query(r, "kind"),
        .language = srv_query(r, "language"),
        .page = page,
        .per_page = per_page,
        .available = available && !strcmp(available, "true"),
        .consortium = signed_in ? r->who.consortium_id : NULL,
        .library = signed_in ? r->who.library_id : NULL,
    };
    json_t *out = NULL;
    struct lend_err err = {0};
    enum lend_status st = lend_titles_search(db, &q, &out, &err);
    if (st != LEND_OK) {
        srv_reply_lend(r, st, &err);
        return;
    }
    if (signed_in) {
        size_t i;
        json_t *t;
        json_array_foreach(json_object_get(out, "items"), i, t) add_availability(r, t);
    }
    srv_reply_json(r, 200, out);
}

void h_title(struct srv_req *r)
{
    struct db *db = srv_db(r);
    if (!db)
        return;
    json_t *out = NULL;
    struct lend_err err = {0};
    enum lend_status st = lend_title_get(db, srv_param(r, "id"), &out, &err);
    if (st != LEND_OK) {
        srv_reply_lend(r, st, &err);
        return;
    }
    if (srv_optional_auth(r))
        add_availability(r, out);
    srv_reply_json(r, 200, out);
}

/* The widths the portal asks for: a result card (160 CSS pixels, 1x and 2x screens) and a
 * title page (240, 1x and 2x). Any other width would let a client fill the disk. */
static const int thumb_widths[] = {160, 240, 320, 480};

/* Writes len bytes to data_dir/rel through a temporary file, fsync and a rename, so a
 * reader never sees half a file, even after a crash; two requests making the same
 * thumbnail write the same bytes. */
static int put_file(const char *data_dir, const char *rel, const void *data, size_t len)
{
    char path[4096], tmp[4200];
    snprintf(path, sizeof path, "%s/%s", data_dir, rel);
    char *slash = strrchr(path, '/');
    *slash = 0;
    if (mkdir(path, 0755) != 0 && errno != EEXIST)
        return -1;
    *slash = '/';
    snprintf(tmp, sizeof tmp, "%s.tmp-XXXXXX", path);
    int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0)
        return -1;
    fchmod(fd, 0644);
    const unsigned char *p = data;
    size_t done = 0;
    while (done < len) {
        ssize_t k = write(fd, p + done, len - done);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        done += (size_t)k;
    }
    if (done != len || (len && fsync(fd) != 0)) {
        close(fd);
        unlink(tmp);
        return -1;
    }
    if (close(fd) != 0 || rename(tmp, path) != 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

static const char *make_thumbnail(struct srv_req *r, const char *cover_rel, const char *cover_type, int w,
                                  const char *thumb, const char *marker, char *rel_out, size_t cap);

/*
 * The thumbnail of a stored cover at width w, made on the first request and kept beside
 * the covers (covers/thumbs/<cover's name>-<w>.webp; a "-<w>.orig" marker when the
 * picture cannot be made smaller, is not a picture libavcodec reads, or fails). Sets
 * rel_out to what to send and returns its type; *for_now when that is the cover only
 * because another thumbnail was being made.
 */
static const char *thumbnail(struct srv_req *r, const char *cover_rel, const char *cover_type, int w, char *rel_out,
                             size_t cap, bool *for_now)
{
    const char *dir = r->srv->cfg.data_dir;
    const char *base = strrchr(cover_rel, '/');
    base = base ? base + 1 : cover_rel;
    int stem = (int)(strcspn(base, "."));
    char thumb[512], marker[512], path[4096];
    snprintf(thumb, sizeof thumb, "covers/thumbs/%.*s-%d.webp", stem, base, w);
    snprintf(marker, sizeof marker, "covers/thumbs/%.*s-%d.orig", stem, base, w);
    snprintf(rel_out, cap, "%s", cover_rel);
    if (!strcmp(cover_type, "image/svg+xml"))
        return cover_type; /* drawn at any size already */
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", dir, thumb);
    if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
        snprintf(rel_out, cap, "%s", thumb);
        return "image/webp";
    }
    snprintf(path, sizeof path, "%s/%s", dir, marker);
    if (access(path, F_OK) == 0)
        return cover_type;
    /* One picture decoded at a time in this server, so covers can take at most one core
     * from the handlers (a thumbnail takes tens of milliseconds). A request that has
     * waited a second gets the cover as it is, marked as not to be kept, so that the
     * browser asks again later rather than keep the large picture a day. */
    static pthread_mutex_t making = PTHREAD_MUTEX_INITIALIZER;
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 1;
    if (pthread_mutex_timedlock(&making, &until) != 0) {
        *for_now = true;
        return cover_type;
    }
    const char *type;
    snprintf(path, sizeof path, "%s/%s", dir, thumb);
    if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) { /* made while waiting */
        snprintf(rel_out, cap, "%s", thumb);
        type = "image/webp";
    } else {
        type = make_thumbnail(r, cover_rel, cover_type, w, thumb, marker, rel_out, cap);
    }
    pthread_mutex_unlock(&making);
    return type;
}

static const char *make_thumbnail(struct srv_req *r, const char *cover_rel, const char *cover_type, int w,
                                  const char *thumb, const char *marker, char *rel_out, size_t cap)
{
    const char *dir = r->srv->cfg.data_dir;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, cover_rel);
    size_t len = 0;
    unsigned char *src = NULL, *out = NULL;
    size_t out_len = 0;
    struct media_error err = {0};
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 &&
        (size_t)st.st_size <= MEDIA_THUMB_MAX_INPUT) {
        src = srv_read_all(fd, (size_t)st.st_size, &len); /* closes fd */
        fd = -1;
    }
    if (fd >= 0)
        close(fd);
    int rc = src ? media_thumbnail(src, len, w, &out, &out_len, NULL, NULL, &err) : -1;
    if (rc == 0 && out_len < len && put_file(dir, thumb, out, out_len) == 0) {
        snprintf(rel_out, cap, "%s", thumb);
        free(out);
        free(src);
        return "image/webp";
    }
    if (rc != 0)
        fprintf(stderr, "level=warn rid=%s msg=\"cover kept as it is\" cover=\"%s\" detail=\"%s\"\n", r->rid,
                cover_rel, src ? err.message : "unreadable");
    /* Remembered only when asking again would give the same answer: a picture that is
     * not one, or that no thumbnail makes smaller; never for want of memory or disk. */
    bool lasting = src && (rc == 0 ? out_len >= len : strcmp(err.code, "no_memory") != 0);
    if (lasting && put_file(dir, marker, "", 0) != 0)
        fprintf(stderr, "level=warn rid=%s msg=\"could not write the thumbnail marker\" errno=%d\n", r->rid, errno);
    free(out);
    free(src);
    return cover_type;
}

void h_title_cover(struct srv_req *r)
{
    const char *ws = srv_query(r, "w");
    int w = 0;
    if (ws) {
        for (size_t i = 0; i < sizeof thumb_widths / sizeof *thumb_widths; i++) {
            char s[8];
            snprintf(s, sizeof s, "%d", thumb_widths[i]);
            if (!strcmp(ws, s))
                w = thumb_widths[i];
        }
        if (!w) {
            srv_reply_error(r, 400, "bad_width", "w is one of 160, 240, 320 and 480.");
            return;
        }
    }
    struct db *db = srv_db(r);
    if (!db)
        return;
    char path[512], type[32];
    struct lend_err err = {0};
    enum lend_status st = lend_title_cover(db, srv_param(r, "id"), path, type, &err);
    if (st != LEND_OK) {
        srv_reply_lend(r, st, &err);
        return;
    }
    char rel[512];
    const char *send_type = type;
    snprintf(rel, sizeof rel, "%s", path);
    bool for_now = false;
    if (w)
        send_type = thumbnail(r, path, type, w, rel, sizeof rel, &for_now);
    /* Named by the cover's content hash (and width): the name is a strong validator. */
    const char *name = strrchr(rel, '/');
    char etag[600];
    snprintf(etag, sizeof etag, "\"%s\"", name ? name + 1 : rel);
    const char *inm = srv_header(r, MHD_HTTP_HEADER_IF_NONE_MATCH);
    /* Covers are public and named by content: a CDN may keep them. */
    const char *cache = for_now ? "no-store" : "public, max-age=86400";
    if (inm && strstr(inm, etag)) {
        srv_reply_empty(r, 304);
        srv_add_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, cache);
    } else {
        srv_reply_file(r, rel, send_type, cache);
    }
    if (r->status == 200 || r->status == 304) {
        srv_add_header(r, MHD_HTTP_HEADER_ETAG, etag);
        /* An SVG cover opened as a page runs nothing and reaches nothing. */
        srv_add_header(r, "Content-Security-Policy", "sandbox; default-src 'none'; style-src 'unsafe-inline'");
    }
}

/* The upload's connection goes back to the pool while a film is packaged, so that the
 * other requests of this server do not wait for it. */
static void upload_release_db(void *ctx, struct db *db)
{
    struct srv_req *r = ctx;
    if (db && db == r->db) {
        db_pool_put(r->srv->pool, db);
        r->db = NULL;
    }
}

static struct db *upload_reacquire_db(void *ctx)
{
    return srv_db(ctx); /* NULL: srv_db() has answered 503 */
}

void h_admin_title_upload(struct srv_req *r)
{
    /* upload_begin() already checked the caller and streamed the file to disk. */
    if (r->upload_failed) {
        srv_reply_error(r, 400, "invalid_multipart", "The upload could not be read as multipart/form-data.");
        return;
    }
    if (r->too_large) {
        srv_reply_error(r, 413, "too_large", "A form field is too long.");
        return;
    }
    if (!r->has_file || r->upload_size == 0) {
        srv_reply_error(r, 400, "missing_file", "Send the title's file in a part named \"file\".");
        return;
    }
    struct lend_import_opts o = {
        .kind = srv_upload_field(r, "kind"),
        .title = srv_upload_field(r, "title"),
        .author = srv_upload_field(r, "author"),
        .language = srv_upload_field(r, "language"),
        .publisher = srv_upload_field(r, "publisher"),
        .description = srv_upload_field(r, "description"),
        .release_db = upload_release_db,
        .reacquire_db = upload_reacquire_db,
        .db_ctx = r,
    };
    char id[37];
    bool existed = false;
    struct lend_err err = {0};
    enum lend_status st = lend_import(r->db, r->srv->cfg.data_dir, r->upload_path, &o, id, &existed, &err);
    if (st != LEND_OK) {
        if (r->db) /* else the connection could not be had back, and srv_db() answered 503 */
            srv_reply_lend(r, st, &err);
        return;
    }
    json_t *t = NULL;
    st = lend_title_get(r->db, id, &t, &err);
    if (st != LEND_OK) {
        srv_reply_lend(r, st, &err);
        return;
    }
    srv_reply_json(r, existed ? 200 : 201, t);
    char loc[80];
    snprintf(loc, sizeof loc, "/api/v1/titles/%s", id);
    srv_add_header(r, MHD_HTTP_HEADER_LOCATION, loc);
}
