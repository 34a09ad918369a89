/* Sign-in, sign-out and the caller's own account. */
#include "internal.h"

#include "pretnum/alerts.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

static const char *opt_string(json_t *body, const char *key, bool *bad)
{
    json_t *v = json_object_get(body, key);
    if (!v || json_is_null(v))
        return NULL;
    if (!json_is_string(v)) {
        *bad = true;
        return NULL;
    }
    return json_string_value(v);
}

void h_session_create(struct srv_req *r)
{
    /* Login CSRF: a cross-site form could sign a victim into the attacker's account. */
    const char *origin = srv_header(r, "Origin");
    const char *host = srv_header(r, MHD_HTTP_HEADER_HOST);
    if (origin && host) {
        const char *rest = strstr(origin, "://");
        if (!rest || strcmp(rest + 3, host) != 0) {
            srv_reply_error(r, 403, "csrf_failed", "Sign in from this site's own page.");
            return;
        }
    }
    json_t *body = srv_body_json(r);
    if (!body)
        return;
    bool bad = false;
    struct lend_credentials cred = {
        .library = opt_string(body, "library", &bad),
        .card = opt_string(body, "card", &bad),
        .email = opt_string(body, "email", &bad),
        .password = opt_string(body, "password", &bad),
        .address = r->client,
    };
    if (bad) {
        srv_reply_error(r, 400, "invalid_request", "library, card, email and password must be strings.");
        return;
    }
    struct db *db = srv_db(r);
    if (!db)
        return;
    char token[LEND_TOKEN_LEN + 1];
    json_t *account = NULL;
    struct lend_err err = {0};
    enum lend_status st = lend_session_create(db, &cred, token, &account, &err);
    if (st != LEND_OK) {
        srv_reply_lend(r, st, &err);
        return;
    }
    char csrf[LEND_TOKEN_LEN + 1];
    lend_csrf_token(token, csrf);
    srv_reply_json(r, 201, json_pack("{s:s, s:s, s:o}", "token", token, "csrf_token", csrf, "account", account));
    const char *secure = r->srv->cfg.secure_cookies ? "; Secure" : "";
    char cookie[256];
    snprintf(cookie, sizeof cookie, "pretnum_session=%s; HttpOnly; SameSite=Lax; Path=/%s", token, secure);
    srv_add_header(r, MHD_HTTP_HEADER_SET_COOKIE, cookie);
    /* Readable by the portal's scripts, which echo it in X-CSRF-Token. */
    snprintf(cookie, sizeof cookie, "pretnum_csrf=%s; SameSite=Lax; Path=/%s", csrf, secure);
    srv_add_header(r, MHD_HTTP_HEADER_SET_COOKIE, cookie);
    sodium_memzero(token, sizeof token);
}

void h_session_delete(struct srv_req *r)
{
    if (!srv_require(r, SRV_ANYONE))
        return;
    struct lend_err err = {0};
    enum lend_status st = lend_session_end(r->db, &r->who, &err);
    srv_session_forget(r);
    if (st != LEND_OK) {
        srv_reply_lend(r, st, &err);
        return;
    }
    srv_reply_empty(r, 204);
    srv_add_header(r, MHD_HTTP_HEADER_SET_COOKIE, "pretnum_session=; HttpOnly; SameSite=Lax; Path=/; Max-Age=0");
    srv_add_header(r, MHD_HTTP_HEADER_SET_COOKIE, "pretnum_csrf=; SameSite=Lax; Path=/; Max-Age=0");
}

void h_me(struct srv_req *r)
{
    if (!srv_require(r, SRV_ANYONE))
        return;
    json_t *me = NULL;
    struct lend_err err = {0};
    enum lend_status st = lend_me(r->db, &r->who, &me, &err);
    if (st != LEND_OK) {
        srv_reply_lend(r, st, &err);
        return;
    }
    srv_reply_json(r, 200, me);
}

void h_notifications(struct srv_req *r)
{
    if (!srv_require(r, SRV_PATRON))
        return;
    int page, per_page;
    if (!srv_page(r, &page, &per_page))
        return;
    json_t *out = NULL;
    struct lend_err err = {0};
    enum lend_status st = lend_notifications(r->db, &r->who, page, per_page, &out, &err);
    srv_reply_outcome(r, st, &err, 200, NULL, out);
}

void h_notifications_read(struct srv_req *r)
{
    if (!srv_require(r, SRV_PATRON))
        return;
    struct lend_err err = {0};
    enum lend_status st = lend_notifications_read(r->db, &r->who, &err);
    if (st != LEND_OK)
        srv_reply_lend(r, st, &err);
    else
        srv_reply_empty(r, 204);
}
