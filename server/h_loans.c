/* Loans, holds, licences and the usage report. */
#include "internal.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pretnum/keys.h"
#include "pretnum/loans.h"
#include "pretnum/paseto.h"

/*
 * Reads Idempotency-Key and digests the request it came with, so that the same key
 * with another body is told apart. False (and a 400 sent) for a malformed key.
 */
static bool idempotency(struct srv_req *r, struct lend_idem *idem)
{
    memset(idem, 0, sizeof *idem);
    const char *key = srv_header(r, "Idempotency-Key");
    if (!key)
        return true;
    size_t n = strlen(key);
    bool ok = n >= 1 && n <= 255;
    for (size_t i = 0; ok && i < n; i++)
        ok = key[i] > 0x20 && key[i] < 0x7f;
    if (!ok) {
        srv_reply_error(r, 400, "invalid_idempotency_key", "Idempotency-Key is 1 to 255 visible ASCII characters.");
        return false;
    }
    crypto_hash_sha256_state h;
    unsigned char d[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_init(&h);
    crypto_hash_sha256_update(&h, (const unsigned char *)r->path, strlen(r->path) + 1);
    crypto_hash_sha256_update(&h, (const unsigned char *)(r->body ? r->body : ""), r->body_len);
    crypto_hash_sha256_final(&h, d);
    sodium_bin2hex(idem->request_hash, sizeof idem->request_hash, d, sizeof d);
    idem->key = key;
    return true;
}

/* An optional "days" member: 0 when absent; -1 (and a 400 sent) when malformed. */
static int body_days(struct srv_req *r, json_t *body)
{
    json_t *d = body ? json_object_get(body, "days") : NULL;
    if (!d || json_is_null(d))
        return 0;
    if (!json_is_integer(d) || json_integer_value(d) < 1 || json_integer_value(d) > 366) {
        srv_reply_error(r, 400, "invalid_loan_days", "days is a whole number of days.");
        return -1;
    }
    return (int)json_integer_value(d);
}

void srv_loan_token(struct srv_req *r, json_t *loan)
{
    const char *state = json_string_value(json_object_get(loan, "state"));
    time_t due;
    if (!state || strcmp(state, "active") != 0 || paseto_time_parse(json_string_value(json_object_get(loan, "due")), &due) != 0)
        return;
    struct lend_token_claims c = {
        .iss = r->srv->cfg.public_url ? r->srv->cfg.public_url : "pretnum",
        .sub = r->who.pseudonym,
        .loan = json_string_value(json_object_get(loan, "id")),
        .title = json_string_value(json_object_get(loan, "title_id")),
        .kind = json_string_value(json_object_get(loan, "kind")),
        .due = due,
    };
    char *token = NULL, expires[32];
    pthread_rwlock_rdlock(&r->srv->keys_lock);
    int rc = lend_token_issue(r->srv->keys, &c, time(NULL), &token, expires);
    pthread_rwlock_unlock(&r->srv->keys_lock);
    if (rc == 0) {
        json_object_set_new(loan, "token", json_string(token));
        json_object_set_new(loan, "token_expires", json_string(expires));
        if (!strcmp(c.kind, "ebook"))
            json_object_set_new(loan, "links", json_pack("{s:s++, s:s+}", "read", "/content/", token,
                                                         "/manifest.json", "download", "/download/", token));
        else if (!strcmp(c.kind, "audio") || !strcmp(c.kind, "video"))
            json_object_set_new(loan, "links", json_pack("{s:s++}", "stream", "/stream/", token, "/master.m3u8"));
    }
    free(token);
}

void h_loan_token(struct srv_req *r)
{
    if (!srv_require(r, SRV_PATRON))
        return;
    json_t *out = NULL;
    struct lend_err err = {0};
    enum lend_status st = lend_loan_get(r->db, &r->who, srv_param(r, "id"), &out, &err);
    if (st != LEND_OK) {
        srv_reply_lend(r, st, &err);
        return;
    }
    srv_loan_token(r, out);
    json_t *token = json_object_get(out, "token");
    if (!json_is_string(token)) {
        json_decref(out);
        srv_reply_error(r, 409, "loan_not_active", "This loan has ended; borrow the title again.");
        return;
    }
    srv_reply_json(r, 200, json_pack("{s:O, s:O}", "token", token, "token_expires", json_object_get(out, "token_expires")));
    json_decref(out);
}

void h_keys(struct srv_req *r)
{
    pthread_rwlock_rdlock(&r->srv->keys_lock);
    json_t *keys = lend_keys_public(r->srv->keys);
    pthread_rwlock_unlock(&r->srv->keys_lock);
    srv_reply_json(r, 200, keys);
    /* public, and short-lived in caches so that a rotation is seen within minutes */
    srv_add_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "public, max-age=300");
}

static const char *body_title(struct srv_req *r, json_t *body)
{
    const char *t = json_string_value(json_object_get(body, "title_id"));
    if (!t)
        srv_reply_error(r, 400, "invalid_request", "Send {\"title_id\": ...}.");
    return t;
}

void h_loan_create(struct srv_req *r)
{
    if (!srv_require(r, SRV_PATRON))
        return;
    json_t *body = srv_body_json(r);
    struct lend_idem idem;
    if (!body || !idempotency(r, &idem))
        return;
    const char *title = body_title(r, body);
    int days = body_days(r, body);
    if (!title || days < 0)
        return;
    json_t *out = NULL;
    struct lend_err err = {0};
    enum lend_status st = lend_checkout(r->db, &r->who, title, days, &idem, &out, &err);
    if (st == LEND_OK)
        srv_loan_token(r, out);
    srv_reply_outcome(r, st, &err, 201, "loan", out);
}

void h_loans(struct srv_req *r)
{
    if (!srv_require(r, SRV_PATRON))
        return;
    int page, per_page;
    if (!srv_page(r, &page, &per_page))
        return;
    const char *state = srv_query(r, "state");
    json_t *out = NULL;
    struct lend_err err = {0};
    enum lend_status st = lend_loans_list(r->db, &r->who, state && !strcmp(state, "all"), page, per_page, &out, &err);
    size_t i;
    json_t *loan;
    json_array_foreach(json_object_get(out, "items"), i, loan) srv_loan_token(r, loan);
    srv_reply_outcome(r, st, &err, 200, NULL, out);
}

void h_loan(struct srv_req *r)
{
    if (!srv_require(r, SRV_PATRON))
        return;
    json_t *out = NULL;
    struct lend_err err = {0};
    enum lend_status st = lend_loan_get(r->db, &r->who, srv_param(r, "id"), &out, &err);
    if (st == LEND_OK)
        srv_loan_token(r, out);
    srv_reply_outcome(r, st, &err, 200, "loan", out);
}

void h_loan_return(struct srv_req *r)
{
    if (!srv_require(r, SRV_PATRON))
        return;
    json_t *out = NULL;
    struct lend_err err = {0};
    enum lend_status st = lend_loan_return(r->db, &r->who, srv_param(r, "id"), &out, &err);
    if (st == LEND_OK)
        srv_access_forget(r->srv); /* its links stop now, not when remembered access runs out */
    srv_reply_outcome(r, st, &err, 200, "loan", out);
}

void h_loan_renew(struct srv_req *r)
{
    if (!srv_require(r, SRV_PATRON))
        return;
    json_t *body = r->body_len ? srv_body_json(r) : NULL;
    if (r->body_len && !body)
        return;
    int days = body_days(r, body);
    if (days < 0)
        return;
    json_t *out = NULL;
    struct lend_err err = {0};
    enum lend_status st = lend_loan_renew(r->db, &r->who, srv_param(r, "id"), days, &out, &err);
    if (st == LEND_OK)
        srv_loan_token(r, out);
    srv_reply_outcome(r, st, &err, 200, "loan", out);
}

void h_hold_create(struct srv_req *r)
{
    if (!srv_require(r, SRV_PATRON))
        return;
    json_t *body = srv_body_json(r);
    struct lend_idem idem;
    if (!body || !idempotency(r, &idem))
        return;
    const char *title = body_title(r, body);
    if (!title)
        return;
    json_t *out = NULL;
    struct lend_err err = {0};
    enum lend_status st = lend_hold_place(r->db, &r->who, title, &idem, &out, &err);
    srv_reply_outcome(r, st, &err, 201, "hold", out);
}

void h_holds(struct srv_req *r)
{
    if (!srv_require(r, SRV_PATRON))
        return;
    int page, per_page;
    if (!srv_page(r, &page, &per_page))
        return;
    json_t *out = NULL;
    struct lend_err err = {0};
    enum lend_status st = lend_holds_list(r->db, &r->who, page, per_page, &out, &err);
    srv_reply_outcome(r, st, &err, 200, NULL, out);
}

void h_hold_delete(struct srv_req *r)
{
    if (!srv_require(r, SRV_PATRON))
        return;
    struct lend_err err = {0};
    enum lend_status st = lend_hold_cancel(r->db, &r->who, srv_param(r, "id"), &err);
    if (st != LEND_OK)
        srv_reply_lend(r, st, &err);
    else
        srv_reply_empty(r, 204);
}

/* An optional positive count: 0 for null or absent (unlimited); -1 and a 400 when bad. */
static int count_field(struct srv_req *r, json_t *body, const char *key, int max)
{
    json_t *v = json_object_get(body, key);
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > max) {
        srv_reply_error(r, 400, "invalid_value", "%s must be null or a whole number from 1 to %d.", key, max);
        return -1;
    }
    return (int)json_integer_value(v);
}

void h_admin_licence_create(struct srv_req *r)
{
    if (!srv_require(r, SRV_STAFF))
        return;
    json_t *body = srv_body_json(r);
    if (!body)
        return;
    json_t *lib = json_object_get(body, "library"), *exp = json_object_get(body, "expires");
    if ((lib && !json_is_null(lib) && !json_is_string(lib)) || (exp && !json_is_null(exp) && !json_is_string(exp))) {
        srv_reply_error(r, 400, "invalid_value", "library is a code or null; expires a date or null.");
        return;
    }
    struct lend_licence_terms t = {
        .title_id = json_string_value(json_object_get(body, "title_id")),
        .library_code = json_string_value(lib),
        .expires = json_string_value(exp),
    };
    if (!t.title_id) {
        srv_reply_error(r, 400, "invalid_request", "A licence needs a title_id.");
        return;
    }
    if ((t.concurrency = count_field(r, body, "concurrency", 1000000)) < 0 ||
        (t.checkouts = count_field(r, body, "checkouts", 100000000)) < 0 ||
        (t.loan_days = count_field(r, body, "loan_days", 366)) < 0)
        return;
    json_t *out = NULL;
    struct lend_err err = {0};
    enum lend_status st = lend_licence_add(r->db, &r->who, &t, &out, &err);
    srv_reply_outcome(r, st, &err, 201, NULL, out);
}

void h_admin_licences(struct srv_req *r)
{
    if (!srv_require(r, SRV_STAFF))
        return;
    int page, per_page;
    if (!srv_page(r, &page, &per_page))
        return;
    json_t *out = NULL;
    struct lend_err err = {0};
    enum lend_status st = lend_licences_list(r->db, &r->who, srv_query(r, "title_id"),
                                             srv_query(r, "expiring_before"), page, per_page, &out, &err);
    srv_reply_outcome(r, st, &err, 200, NULL, out);
}

void h_admin_licence_update(struct srv_req *r)
{
    if (!srv_require(r, SRV_STAFF))
        return;
    json_t *body = srv_body_json(r);
    if (!body)
        return;
    json_t *out = NULL;
    struct lend_err err = {0};
    enum lend_status st = lend_licence_update(r->db, &r->who, srv_param(r, "id"), body, &out, &err);
    srv_reply_outcome(r, st, &err, 200, NULL, out);
}

/* Tab-separated values for spreadsheets: one header line, then a line per title and month. */
static char *to_tsv(json_t *items, size_t *len)
{
    static const char *cols[] = {"month", "title_id", "title", "loans", "renewals", "streams", "unique_patrons",
                                 "turnaways", "turnaways_no_copy", "turnaways_no_licence", "turnaways_limit",
                                 "holds_placed"};
    char *buf = NULL;
    FILE *f = open_memstream(&buf, len);
    if (!f)
        return NULL;
    for (size_t c = 0; c < sizeof cols / sizeof *cols; c++)
        fprintf(f, "%s%s", c ? "\t" : "", cols[c]);
    fputc('\n', f);
    size_t i;
    json_t *row;
    json_array_foreach(items, i, row) {
        for (size_t c = 0; c < sizeof cols / sizeof *cols; c++) {
            json_t *v = json_object_get(row, cols[c]);
            if (c)
                fputc('\t', f);
            if (json_is_integer(v)) {
                fprintf(f, "%lld", (long long)json_integer_value(v));
            } else {
                /* titles may hold tabs or newlines: they would break the columns */
                for (const char *s = json_string_value(v); s && *s; s++)
                    fputc(*s == '\t' || *s == '\n' || *s == '\r' ? ' ' : *s, f);
            }
        }
        fputc('\n', f);
    }
    fclose(f);
    return buf;
}

void h_admin_report_usage(struct srv_req *r)
{
    if (!srv_require(r, SRV_STAFF))
        return;
    const char *format = srv_query(r, "format");
    if (format && strcmp(format, "json") && strcmp(format, "tsv")) {
        srv_reply_error(r, 400, "invalid_format", "format is json or tsv.");
        return;
    }
    bool tsv_wanted = format && !strcmp(format, "tsv");
    int page = 1, per_page = 20;
    /* The JSON answer is a list like the others, a page at a time; the TSV export is the
     * whole report. */
    if (!tsv_wanted && !srv_page(r, &page, &per_page))
        return;
    json_t *out = NULL;
    struct lend_err err = {0};
    enum lend_status st = lend_report_usage(r->db, &r->who, srv_query(r, "from"), srv_query(r, "to"), &out, &err);
    if (st != LEND_OK || !tsv_wanted) {
        if (st == LEND_OK) {
            json_t *all = json_object_get(out, "items"), *items = json_array();
            size_t first = (size_t)(page - 1) * (size_t)per_page;
            for (size_t i = first; i < json_array_size(all) && i < first + (size_t)per_page; i++)
                json_array_append(items, json_array_get(all, i));
            json_object_set_new(out, "items", items);
        }
        srv_reply_outcome(r, st, &err, 200, NULL, out);
        return;
    }
    size_t len;
    char *tsv = to_tsv(json_object_get(out, "items"), &len);
    json_decref(out);
    if (!tsv) {
        srv_reply_error(r, 500, "internal_error", "could not write the report");
        return;
    }
    srv_reply_buffer(r, 200, "text/tab-separated-values; charset=utf-8", tsv, len);
    srv_add_header(r, "Content-Disposition", "attachment; filename=\"usage.tsv\"");
}
