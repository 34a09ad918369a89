/* Staff administration of libraries and patrons, scoped by lending to the caller. */
#include "internal.h"

void h_admin_libraries(struct srv_req *r)
{
    if (!srv_require(r, SRV_STAFF))
        return;
    json_t *out = NULL;
    struct lend_err err = {0};
    enum lend_status st = lend_admin_libraries(r->db, &r->who, &out, &err);
    srv_reply_outcome(r, st, &err, 200, NULL, out);
}

void h_admin_library_update(struct srv_req *r)
{
    if (!srv_require(r, SRV_STAFF))
        return;
    json_t *body = srv_body_json(r);
    if (!body)
        return;
    json_t *out = NULL;
    struct lend_err err = {0};
    enum lend_status st = lend_admin_library_update(r->db, &r->who, srv_param(r, "code"), body, &out, &err);
    srv_reply_outcome(r, st, &err, 200, NULL, out);
}

void h_admin_patrons(struct srv_req *r)
{
    if (!srv_require(r, SRV_STAFF))
        return;
    int page, per_page;
    if (!srv_page(r, &page, &per_page))
        return;
    json_t *out = NULL;
    struct lend_err err = {0};
    enum lend_status st = lend_admin_patrons(r->db, &r->who, srv_query(r, "library"), srv_query(r, "q"),
                                             page, per_page, &out, &err);
    srv_reply_outcome(r, st, &err, 200, NULL, out);
}

void h_admin_patron(struct srv_req *r)
{
    if (!srv_require(r, SRV_STAFF))
        return;
    json_t *out = NULL;
    struct lend_err err = {0};
    enum lend_status st = lend_admin_patron(r->db, &r->who, srv_param(r, "id"), &out, &err);
    srv_reply_outcome(r, st, &err, 200, NULL, out);
}
