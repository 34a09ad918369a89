/* The catalogue: search, one title, its cover, and the staff's upload. */
#include "internal.h"

#include <stdio.h>
#include <string.h>

#include "pretnum/catalogue.h"
#include "pretnum/loans.h"

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

void h_title_cover(struct srv_req *r)
{
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
    /* Covers are public and named by content: a CDN may keep them. */
    srv_reply_file(r, path, type, "public, max-age=86400");
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
