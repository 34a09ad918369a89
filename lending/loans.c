/*
 * Licences, loans, holds and usage. Every change to a title's loans or holds in a
 * consortium runs in one transaction that first locks that title's licence rows of the
 * consortium (licence_lock), so that counting copies and taking one cannot race, in one
 * server or in many. Refusals are answers, not failures: their transaction commits, so
 * that the turnaway they record and the idempotency key they answer are kept.
 */
#include "sql.h"

#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pretnum/loans.h"

/* What one transaction came to: its answer, kept apart from the database's own fate. */
struct outcome {
    enum lend_status st;
    struct lend_err err;
    json_t *out;
};

static enum lend_status answer(struct outcome *o, enum lend_status st, const char *code, const char *msg)
{
    o->st = st;
    o->err.code = code;
    snprintf(o->err.message, sizeof o->err.message, "%s", msg);
    return LEND_OK; /* commit: the refusal is recorded */
}

static void outcome_reset(struct outcome *o)
{
    json_decref(o->out);
    memset(o, 0, sizeof *o);
}

/* Runs a statement whose rows the caller does not need. Returns the row count or a db_qs. */
static int run(struct db *db, const char *stmt, int n, const char *const *p)
{
    int qs;
    PQclear(db_exec(db, stmt, n, p, &qs));
    return qs;
}

static int event(struct db *db, const char *type, const char *title, const char *consortium,
                 const char *library, const char *patron_key, const char *loan)
{
    const char *p[6] = {type, title, consortium, library, patron_key, loan};
    return run(db, "event_add", 6, p);
}

struct policy {
    char library[37], consortium[37], pseudonym[37];
    char kind[8]; /* of the title asked about, "" when it does not exist */
    char loan_days[64];
    int default_days, max_loans, max_holds, max_renewals, hold_days;
};

/*
 * The patron's library policy (and the kind of title, when title is not NULL). With
 * owned not NULL, also locks the title's licences in the patron's consortium, as
 * lock_title() does, and sets *owned to how many of them the library may draw on.
 */
static int load_policy(struct db *db, const char *patron, const char *title, struct policy *pol, int *owned)
{
    int qs;
    const char *p[2] = {patron, title};
    memset(pol, 0, sizeof *pol);
    PGresult *r = db_exec(db, owned ? "policy_lock" : "patron_policy", 2, p, &qs);
    if (!r)
        return qs;
    if (owned)
        *owned = qs == 1 ? (int)db_get_ll(r, 0, "owned") : 0;
    if (qs == 1) {
        snprintf(pol->library, sizeof pol->library, "%s", db_get(r, 0, "library_id"));
        snprintf(pol->consortium, sizeof pol->consortium, "%s", db_get(r, 0, "consortium_id"));
        snprintf(pol->pseudonym, sizeof pol->pseudonym, "%s", db_get(r, 0, "pseudonym"));
        snprintf(pol->loan_days, sizeof pol->loan_days, "%s", db_get(r, 0, "loan_days"));
        pol->default_days = (int)db_get_ll(r, 0, "default_loan_days");
        pol->max_loans = (int)db_get_ll(r, 0, "max_loans");
        pol->max_holds = (int)db_get_ll(r, 0, "max_holds");
        pol->max_renewals = (int)db_get_ll(r, 0, "max_renewals");
        pol->hold_days = (int)db_get_ll(r, 0, "hold_days");
        snprintf(pol->kind, sizeof pol->kind, "%s", db_get(r, 0, "kind") ? db_get(r, 0, "kind") : "");
    }
    PQclear(r);
    return qs;
}

/* Is days one of the lengths the library offers ("{7,14,21}")? */
static bool offered(const char *list, int days)
{
    for (const char *p = list; *p;) {
        if (!isdigit((unsigned char)*p)) {
            p++;
            continue;
        }
        char *end;
        if (strtol(p, &end, 10) == days)
            return true;
        p = end;
    }
    return false;
}

static long long count1(struct db *db, const char *stmt, int n, const char *const *p, int *qs)
{
    PGresult *r = db_exec(db, stmt, n, p, qs);
    if (!r)
        return -1;
    long long v = *qs > 0 ? strtoll(PQgetvalue(r, 0, 0), NULL, 10) : 0;
    PQclear(r);
    return v;
}

/* A licence that can lend one more copy now. */
struct pick {
    char id[37];
    char expires[40]; /* "" when perpetual */
    int loan_days;    /* 0 when the library decides */
};

/*
 * Finds the first usable licence for a library with a copy free (want_id: that licence
 * only). *usable tells whether any licence is usable at all (free copy or not).
 * Returns 1 when found, 0 when not, a db_qs on failure.
 */
static int pick_licence(struct db *db, const char *title, const char *consortium, const char *library,
                        const char *want_id, struct pick *out, bool *usable);

/* pick_licence() over rows already read (licences_usable's columns; rows whose id is
 * NULL are no licence). */
static int pick_from(const PGresult *r, const char *want_id, struct pick *out, bool *usable)
{
    int n = PQntuples(r);
    if (usable) {
        *usable = false;
        for (int i = 0; i < n; i++)
            *usable = *usable || db_get(r, i, "id");
    }
    int found = 0;
    for (int i = 0; i < n && !found; i++) {
        const char *id = db_get(r, i, "id");
        if (!id)
            continue;
        long long reserved = db_get_ll(r, i, "reserved");
        long long free_copies = LLONG_MAX;
        if (db_get(r, i, "concurrency"))
            free_copies = db_get_ll(r, i, "concurrency") - db_get_ll(r, i, "active") - reserved;
        if (db_get(r, i, "checkouts")) {
            long long left = db_get_ll(r, i, "checkouts") - db_get_ll(r, i, "checkouts_used") - reserved;
            free_copies = left < free_copies ? left : free_copies;
        }
        if (want_id) {
            /* the copy a ready hold keeps counts itself among the reserved */
            if (strcmp(id, want_id) != 0)
                continue;
            free_copies += 1;
        }
        if (free_copies <= 0)
            continue;
        snprintf(out->id, sizeof out->id, "%s", id);
        snprintf(out->expires, sizeof out->expires, "%s", db_get(r, i, "expires") ? db_get(r, i, "expires") : "");
        out->loan_days = (int)db_get_ll(r, i, "loan_days");
        found = 1;
    }
    return found;
}

static int pick_licence(struct db *db, const char *title, const char *consortium, const char *library,
                        const char *want_id, struct pick *out, bool *usable)
{
    int qs;
    const char *p[3] = {title, consortium, library};
    PGresult *r = db_exec(db, "licences_usable", 3, p, &qs);
    if (!r)
        return qs;
    int found = pick_from(r, want_id, out, usable);
    PQclear(r);
    return found;
}

/*
 * Locks the title's licences in the consortium. Returns how many of them the library may
 * draw on (its own and the consortium-wide ones; all of them for a NULL library), or a
 * db_qs.
 */
static int lock_title(struct db *db, const char *title, const char *consortium, const char *library)
{
    const char *p[2] = {title, consortium};
    int qs;
    PGresult *r = db_exec(db, "licence_lock", 2, p, &qs);
    if (!r)
        return qs;
    int owned = 0;
    for (int i = 0; i < qs; i++) {
        const char *lib = db_get(r, i, "library_id");
        owned += !library || !lib || !strcmp(lib, library);
    }
    PQclear(r);
    return owned;
}

/* Gives free copies to waiting holds, first placed first served. Returns a db_qs or >= 0. */
static int promote(struct db *db, const char *title, const char *consortium)
{
    int qs;
    const char *p[2] = {title, consortium};
    PGresult *r = db_exec(db, "holds_waiting", 2, p, &qs);
    if (!r)
        return qs;
    int made = 0;
    for (int i = 0; i < qs; i++) {
        struct pick lic;
        bool usable;
        int f = pick_licence(db, title, consortium, db_get(r, i, "library_id"), NULL, &lic, &usable);
        if (f < 0) {
            PQclear(r);
            return f;
        }
        if (!f)
            continue;
        const char *hp[3] = {db_get(r, i, "id"), lic.id, db_get(r, i, "hold_days")};
        int u = run(db, "hold_make_ready", 3, hp);
        /* The alert is written with the change that causes it: it cannot be lost. */
        if (u < 0 || run(db, "notify_hold_ready", 1, hp) < 0 ||
            event(db, "hold_ready", title, consortium, db_get(r, i, "library_id"), db_get(r, i, "pseudonym"),
                  NULL) < 0) {
            PQclear(r);
            return u < 0 ? u : DB_HARD;
        }
        made++;
    }
    PQclear(r);
    return made;
}

static json_t *null_or_int(const PGresult *r, int i, const char *col)
{
    return db_get(r, i, col) ? json_integer(db_get_ll(r, i, col)) : json_null();
}

static json_t *null_or_str(const PGresult *r, int i, const char *col)
{
    return db_get(r, i, col) ? json_string(db_get(r, i, col)) : json_null();
}

static json_t *loan_json(const PGresult *r, int i)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:I, s:n, s:n, s:{}}", "id", db_get(r, i, "id"),
                     "title_id", db_get(r, i, "title_id"), "kind", db_get(r, i, "kind"), "title",
                     db_get(r, i, "title"), "state", db_get(r, i, "state"), "started", db_get(r, i, "started"),
                     "due", db_get(r, i, "due"), "ended", null_or_str(r, i, "ended"), "renewals",
                     (json_int_t)db_get_ll(r, i, "renewals"), "token", "token_expires", "links");
}

static int get_loan(struct db *db, const char *id, const char *patron, json_t **out)
{
    int qs;
    const char *p[2] = {id, patron};
    PGresult *r = db_exec(db, "loan_get", 2, p, &qs);
    if (!r)
        return qs;
    if (qs == 1)
        *out = loan_json(r, 0);
    PQclear(r);
    return qs;
}

static json_t *hold_json(const PGresult *r, int i)
{
    json_t *h = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:o}", "id", db_get(r, i, "id"), "title_id",
                          db_get(r, i, "title_id"), "kind", db_get(r, i, "kind"), "title", db_get(r, i, "title"),
                          "state", db_get(r, i, "state"), "placed", db_get(r, i, "placed"), "ready_until",
                          null_or_str(r, i, "ready_until"), "position", null_or_int(r, i, "position"));
    /* Palace's estimate: cycles of (loan period + reservation window) until our turn. */
    long long pos = db_get_ll(r, i, "position"), copies = db_get_ll(r, i, "copies");
    if (db_get(r, i, "position") && copies > 0) {
        long long cycles = (pos + copies - 1) / copies;
        json_object_set_new(h, "estimated_wait_days",
                            json_integer(cycles * (db_get_ll(r, i, "default_loan_days") + db_get_ll(r, i, "hold_days"))));
    } else {
        json_object_set_new(h, "estimated_wait_days", json_null());
    }
    return h;
}

/* ---- idempotency ---- */

/*
 * Claims the key for this request. Returns 1 when the request should run, 0 when the
 * outcome was filled from the first answer (or a misuse of the key), or a db_qs.
 */
static int idem_begin(struct db *db, const char *patron, const struct lend_idem *idem, struct outcome *o)
{
    if (!idem || !idem->key)
        return 1;
    const char *p[3] = {patron, idem->key, idem->request_hash};
    int qs = run(db, "idem_claim", 3, p);
    if (qs != 0)
        return qs < 0 ? qs : 1;
    /* Claimed before (the first request has committed: the claim waited for it). */
    PGresult *r = db_exec(db, "idem_get", 2, p, &qs);
    if (!r)
        return qs;
    if (strcmp(db_get(r, 0, "request_hash"), idem->request_hash) != 0) {
        PQclear(r);
        answer(o, LEND_UNACCEPTABLE, "idempotency_key_reused",
               "This Idempotency-Key was used for another request.");
        return 0;
    }
    o->st = (enum lend_status)db_get_ll(r, 0, "status");
    json_t *resp = json_loads(db_get(r, 0, "response") ? db_get(r, 0, "response") : "null", 0, NULL);
    PQclear(r);
    if (o->st == LEND_OK) {
        o->out = resp;
    } else {
        /* error codes are static strings; map the stored one back to its constant */
        static const char *codes[] = {"no_copy_available", "already_borrowed", "loan_limit_reached", "no_licence",
                                      "unknown_title", "invalid_loan_days", "copy_available", "already_on_hold",
                                      "hold_limit_reached"};
        const char *c = json_string_value(json_object_get(resp, "code"));
        o->err.code = "conflict";
        for (size_t i = 0; c && i < sizeof codes / sizeof *codes; i++)
            if (!strcmp(c, codes[i]))
                o->err.code = codes[i];
        snprintf(o->err.message, sizeof o->err.message, "%s",
                 json_string_value(json_object_get(resp, "message")) ? json_string_value(json_object_get(resp, "message")) : "");
        json_decref(resp);
    }
    return 0;
}

static int idem_end(struct db *db, const char *patron, const struct lend_idem *idem, const struct outcome *o)
{
    if (!idem || !idem->key)
        return 0;
    char st[8];
    snprintf(st, sizeof st, "%d", (int)o->st);
    json_t *body = o->st == LEND_OK ? json_incref(o->out)
                                    : json_pack("{s:s, s:s}", "code", o->err.code ? o->err.code : "", "message",
                                                o->err.message);
    char *resp = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    const char *p[4] = {patron, idem->key, st, resp};
    int qs = run(db, "idem_store", 4, p);
    free(resp);
    return qs;
}

/* ---- checkout ---- */

struct checkout {
    const struct lend_principal *who;
    const char *title;
    int days;
    const struct lend_idem *idem;
    struct outcome o;
};

#define TRY(x)                                                                                     \
    do {                                                                                           \
        int qs_ = (x);                                                                             \
        if (qs_ < 0)                                                                               \
            return db_failure(db, qs_);                                                            \
    } while (0)

static enum lend_status checkout_tx(struct db *db, void *ctx)
{
    struct checkout *c = ctx;
    struct outcome *o = &c->o;
    const char *patron = c->who->id;
    outcome_reset(o);
    int go = idem_begin(db, patron, c->idem, o);
    TRY(go);
    if (!go)
        return LEND_OK;
    struct policy pol;
    int owned;
    int qs = load_policy(db, patron, c->title, &pol, &owned); /* and the lock */
    TRY(qs);
    if (qs != 1)
        return answer(o, LEND_UNAUTHORIZED, "not_signed_in", "This account no longer exists.");
    if (!pol.kind[0]) {
        answer(o, LEND_NOT_FOUND, "unknown_title", "There is no such title.");
        goto out;
    }
    if (owned == 0) {
        TRY(event(db, "turnaway_no_licence", c->title, pol.consortium, pol.library, pol.pseudonym, NULL));
        answer(o, LEND_FORBIDDEN, "no_licence", "Your library does not lend this title.");
        goto out;
    }
    const char *sp[5] = {patron, c->title, pol.consortium, pol.pseudonym, pol.library};
    PGresult *state = db_exec(db, "checkout_state", 5, sp, &qs);
    TRY(qs);
    long long open_same = db_get_ll(state, 0, "open_same"), active = db_get_ll(state, 0, "patron_active");
    long long waiting = db_get_ll(state, 0, "waiting");
    PGresult *r;
    if (open_same > 0) {
        PQclear(state);
        answer(o, LEND_CONFLICT, "already_borrowed", "You already have this title on loan.");
        goto out;
    }
    int days = c->days ? c->days : pol.default_days;
    if (!offered(pol.loan_days, days)) {
        PQclear(state);
        char m[160];
        snprintf(m, sizeof m, "Your library lends for %s days.", pol.loan_days);
        answer(o, LEND_INVALID, "invalid_loan_days", m);
        goto out;
    }
    if (active >= pol.max_loans) {
        PQclear(state);
        TRY(event(db, "turnaway_limit", c->title, pol.consortium, pol.library, pol.pseudonym, NULL));
        char m[160];
        snprintf(m, sizeof m, "You may have %d loans at a time; return one first.", pol.max_loans);
        answer(o, LEND_FORBIDDEN, "loan_limit_reached", m);
        goto out;
    }

    /* With people waiting, free copies go to them first, and this patron may be one:
     * the holds and licences are read again after that. */
    struct pick lic;
    bool usable = false;
    int found = 0;
    char hold_id[37] = "", kept[37] = "";
    if (waiting > 0) {
        PQclear(state);
        state = NULL;
        TRY(promote(db, c->title, pol.consortium));
        const char *pt[2] = {patron, c->title};
        r = db_exec(db, "hold_ready_of", 2, pt, &qs);
        TRY(qs);
        if (qs == 1) {
            snprintf(hold_id, sizeof hold_id, "%s", db_get(r, 0, "id"));
            snprintf(kept, sizeof kept, "%s", db_get(r, 0, "licence_id"));
        }
        PQclear(r);
        if (hold_id[0])
            TRY(found = pick_licence(db, c->title, pol.consortium, pol.library, kept, &lic, &usable));
        if (!found)
            TRY(found = pick_licence(db, c->title, pol.consortium, pol.library, NULL, &lic, &usable));
    } else {
        if (db_get(state, 0, "ready_hold")) {
            snprintf(hold_id, sizeof hold_id, "%s", db_get(state, 0, "ready_hold"));
            snprintf(kept, sizeof kept, "%s", db_get(state, 0, "ready_licence"));
            found = pick_from(state, kept, &lic, &usable);
        }
        if (!found)
            found = pick_from(state, NULL, &lic, &usable);
        PQclear(state);
    }
    if (!found) {
        bool none = !usable;
        TRY(event(db, none ? "turnaway_no_licence" : "turnaway_no_copy", c->title, pol.consortium, pol.library,
                  pol.pseudonym, NULL));
        if (none)
            answer(o, LEND_FORBIDDEN, "no_licence", "Your library's licences for this title have run out.");
        else
            answer(o, LEND_CONFLICT, "no_copy_available", "Every copy is on loan; place a hold to be next.");
        goto out;
    }
    if (hold_id[0]) {
        const char *hp[1] = {hold_id};
        TRY(run(db, "hold_fulfil", 1, hp));
    }
    if (lic.loan_days && days > lic.loan_days)
        days = lic.loan_days;
    char days_s[16];
    snprintf(days_s, sizeof days_s, "%d", days);
    const char *lp[8] = {patron,        c->title, lic.id, pol.library, days_s, lic.expires[0] ? lic.expires : NULL,
                         pol.consortium, pol.pseudonym};
    /* The last statement when no hold was fulfilled and no Idempotency-Key answer is
     * to be stored: COMMIT goes with it. */
    if (!hold_id[0] && !(c->idem && c->idem->key))
        db_commit_with_next(db);
    r = db_exec(db, "checkout_commit", 8, lp, &qs);
    TRY(qs);
    if (qs != 1) {
        PQclear(r);
        return LEND_INTERNAL; /* no checkout left to spend: the lock makes it impossible */
    }
    o->out = loan_json(r, 0);
    PQclear(r);
    o->st = LEND_OK;
out:
    TRY(idem_end(db, patron, c->idem, o));
    return LEND_OK;
}

static enum lend_status finish(struct db *db, enum lend_status tx, struct outcome *o, json_t **out,
                               struct lend_err *err)
{
    if (tx != LEND_OK) {
        outcome_reset(o);
        return db_failed(db, tx == LEND_RETRY ? DB_SOFT : DB_HARD, err);
    }
    if (o->st != LEND_OK) {
        *err = o->err;
        json_decref(o->out);
        return o->st;
    }
    if (out)
        *out = o->out;
    else
        json_decref(o->out);
    return LEND_OK;
}

static enum lend_status need_patron(const struct lend_principal *who, struct lend_err *err)
{
    if (who->role != LEND_PATRON)
        return lend_fail(err, LEND_FORBIDDEN, "patrons_only", "Only library members borrow.");
    return LEND_OK;
}

enum lend_status lend_checkout(struct db *db, const struct lend_principal *who, const char *title_id,
                               int days, const struct lend_idem *idem, json_t **out, struct lend_err *err)
{
    enum lend_status st = need_patron(who, err);
    if (st != LEND_OK)
        return st;
    if (!lend_is_uuid(title_id))
        return lend_fail(err, LEND_NOT_FOUND, "unknown_title", "There is no such title.");
    if (days < 0 || days > 366)
        return lend_fail(err, LEND_INVALID, "invalid_loan_days", "A loan lasts from 1 to 366 days.");
    struct checkout c = {.who = who, .title = title_id, .days = days, .idem = idem};
    return finish(db, db_transaction(db, checkout_tx, &c), &c.o, out, err);
}

/* ---- return and renew ---- */

struct change {
    const struct lend_principal *who;
    const char *id;
    int days;
    bool renew;
    struct outcome o;
};

static enum lend_status change_tx(struct db *db, void *ctx)
{
    struct change *c = ctx;
    struct outcome *o = &c->o;
    outcome_reset(o);
    int qs;
    const char *p[3] = {c->id, c->who->id, c->who->consortium_id}; /* and the lock */
    PGresult *r = db_exec(db, "loan_for_change_lock", 3, p, &qs);
    TRY(qs);
    if (qs == 0) {
        PQclear(r);
        return answer(o, LEND_NOT_FOUND, "unknown_loan", "There is no such loan.");
    }
    char title[37], library[37], lic_expires[40];
    snprintf(title, sizeof title, "%s", db_get(r, 0, "title_id"));
    snprintf(library, sizeof library, "%s", db_get(r, 0, "library_id"));
    snprintf(lic_expires, sizeof lic_expires, "%s", db_get(r, 0, "licence_expires") ? db_get(r, 0, "licence_expires") : "");
    int renewals = (int)db_get_ll(r, 0, "renewals"), lic_days = (int)db_get_ll(r, 0, "licence_loan_days");
    bool active = db_get_bool(r, 0, "active");
    PQclear(r);
    if (!active)
        return answer(o, LEND_CONFLICT, "loan_not_active", "This loan has already ended.");
    if (!c->renew) {
        const char *rp[3] = {c->id, c->who->consortium_id, c->who->pseudonym};
        r = db_exec(db, "return_commit", 3, rp, &qs);
        TRY(qs);
        if (qs != 1) {
            PQclear(r);
            return answer(o, LEND_CONFLICT, "loan_not_active", "This loan has already ended.");
        }
        o->out = loan_json(r, 0);
        bool waiting = db_get_ll(r, 0, "waiting") > 0;
        PQclear(r);
        if (waiting)
            TRY(promote(db, title, c->who->consortium_id));
        o->st = LEND_OK;
        return LEND_OK;
    } else {
        struct policy pol;
        TRY(load_policy(db, c->who->id, NULL, &pol, NULL));
        const char *hp[3] = {title, c->who->consortium_id, c->who->id};
        long long waiting = count1(db, "holds_others_open", 3, hp, &qs);
        TRY(qs);
        if (waiting > 0)
            return answer(o, LEND_CONFLICT, "holds_waiting", "Other readers are waiting for this title.");
        if (renewals >= pol.max_renewals)
            return answer(o, LEND_CONFLICT, "renewal_limit", "This loan cannot be renewed again.");
        int days = c->days ? c->days : pol.default_days;
        if (!offered(pol.loan_days, days))
            return answer(o, LEND_INVALID, "invalid_loan_days", "Your library does not lend for that long.");
        if (lic_days && days > lic_days)
            days = lic_days;
        char ds[16];
        snprintf(ds, sizeof ds, "%d", days);
        const char *np[2] = {c->id, ds};
        TRY(qs = run(db, "loan_renew", 2, np));
        if (qs != 1)
            return answer(o, LEND_CONFLICT, "licence_ends", "The library's licence ends before the new due date.");
        TRY(event(db, "renew", title, c->who->consortium_id, library, c->who->pseudonym, c->id));
    }
    TRY(get_loan(db, c->id, c->who->id, &o->out));
    o->st = LEND_OK;
    return LEND_OK;
}

static enum lend_status loan_change(struct db *db, const struct lend_principal *who, const char *id, int days,
                                    bool renew, json_t **out, struct lend_err *err)
{
    enum lend_status st = need_patron(who, err);
    if (st != LEND_OK)
        return st;
    if (!lend_is_uuid(id))
        return lend_fail(err, LEND_NOT_FOUND, "unknown_loan", "There is no such loan.");
    struct change c = {.who = who, .id = id, .days = days, .renew = renew};
    return finish(db, db_transaction(db, change_tx, &c), &c.o, out, err);
}

enum lend_status lend_loan_return(struct db *db, const struct lend_principal *who, const char *id, json_t **out,
                                  struct lend_err *err)
{
    return loan_change(db, who, id, 0, false, out, err);
}

enum lend_status lend_loan_renew(struct db *db, const struct lend_principal *who, const char *id, int days,
                                 json_t **out, struct lend_err *err)
{
    if (days < 0 || days > 366)
        return lend_fail(err, LEND_INVALID, "invalid_loan_days", "A loan lasts from 1 to 366 days.");
    return loan_change(db, who, id, days, true, out, err);
}

static enum lend_status list(struct db *db, const char *stmt, const char *count_stmt, const char *patron, bool all,
                             int page, int per_page, json_t *(*row)(const PGresult *, int), json_t **out,
                             struct lend_err *err)
{
    char lim[16], off[32];
    snprintf(lim, sizeof lim, "%d", per_page);
    snprintf(off, sizeof off, "%lld", (long long)(page - 1) * per_page);
    const char *p[4] = {patron, all ? "true" : "false", lim, off};
    int qs;
    PGresult *r = db_exec(db, stmt, 4, p, &qs);
    if (!r)
        return db_failed(db, qs, err);
    json_t *items = json_array();
    for (int i = 0; i < qs; i++)
        json_array_append_new(items, row(r, i));
    PQclear(r);
    long long total = count1(db, count_stmt, 2, p, &qs);
    if (qs < 0) {
        json_decref(items);
        return db_failed(db, qs, err);
    }
    *out = json_pack("{s:o, s:I}", "items", items, "total", (json_int_t)total);
    return LEND_OK;
}

enum lend_status lend_loans_list(struct db *db, const struct lend_principal *who, bool all, int page, int per_page,
                                 json_t **out, struct lend_err *err)
{
    enum lend_status st = need_patron(who, err);
    if (st != LEND_OK)
        return st;
    return list(db, "loans_list", "loans_count", who->id, all, page, per_page, loan_json, out, err);
}

enum lend_status lend_loan_get(struct db *db, const struct lend_principal *who, const char *id, json_t **out,
                               struct lend_err *err)
{
    enum lend_status st = need_patron(who, err);
    if (st != LEND_OK)
        return st;
    if (!lend_is_uuid(id))
        return lend_fail(err, LEND_NOT_FOUND, "unknown_loan", "There is no such loan.");
    int qs = get_loan(db, id, who->id, out);
    if (qs < 0)
        return db_failed(db, qs, err);
    if (qs == 0)
        return lend_fail(err, LEND_NOT_FOUND, "unknown_loan", "There is no such loan.");
    return LEND_OK;
}

/* ---- holds ---- */

struct hold_place {
    const struct lend_principal *who;
    const char *title;
    const struct lend_idem *idem;
    struct outcome o;
};

static int get_hold(struct db *db, const char *id, const char *patron, json_t **out)
{
    int qs;
    const char *p[2] = {id, patron};
    PGresult *r = db_exec(db, "hold_get", 2, p, &qs);
    if (!r)
        return qs;
    if (qs == 1)
        *out = hold_json(r, 0);
    PQclear(r);
    return qs;
}

static enum lend_status hold_tx(struct db *db, void *ctx)
{
    struct hold_place *h = ctx;
    struct outcome *o = &h->o;
    const char *patron = h->who->id;
    outcome_reset(o);
    int go = idem_begin(db, patron, h->idem, o);
    TRY(go);
    if (!go)
        return LEND_OK;
    struct policy pol;
    int owned;
    int qs = load_policy(db, patron, h->title, &pol, &owned); /* and the lock */
    TRY(qs);
    if (!pol.kind[0]) {
        answer(o, LEND_NOT_FOUND, "unknown_title", "There is no such title.");
        goto out;
    }
    if (owned == 0) {
        answer(o, LEND_FORBIDDEN, "no_licence", "Your library does not lend this title.");
        goto out;
    }
    const char *pt[2] = {patron, h->title};
    TRY(qs = run(db, "loans_close_expired_of", 2, pt));
    TRY(qs = run(db, "loan_open_of", 2, pt));
    if (qs > 0) {
        answer(o, LEND_CONFLICT, "already_borrowed", "You already have this title on loan.");
        goto out;
    }
    TRY(qs = run(db, "hold_open_of", 2, pt));
    if (qs > 0) {
        answer(o, LEND_CONFLICT, "already_on_hold", "You are already waiting for this title.");
        goto out;
    }
    TRY(promote(db, h->title, pol.consortium));
    struct pick lic;
    bool usable;
    int found;
    TRY(found = pick_licence(db, h->title, pol.consortium, pol.library, NULL, &lic, &usable));
    if (found) {
        answer(o, LEND_CONFLICT, "copy_available", "A copy is free: borrow it now.");
        goto out;
    }
    const char *pp[1] = {patron};
    long long open = count1(db, "patron_holds_open", 1, pp, &qs);
    TRY(qs);
    if (open >= pol.max_holds) {
        char m[160];
        snprintf(m, sizeof m, "You may wait for %d titles at a time.", pol.max_holds);
        answer(o, LEND_FORBIDDEN, "hold_limit_reached", m);
        goto out;
    }
    const char *ip[4] = {patron, h->title, pol.consortium, pol.library};
    PGresult *r = db_exec(db, "hold_insert", 4, ip, &qs);
    TRY(qs);
    char id[37];
    snprintf(id, sizeof id, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    TRY(event(db, "hold_placed", h->title, pol.consortium, pol.library, pol.pseudonym, NULL));
    TRY(get_hold(db, id, patron, &o->out));
    o->st = LEND_OK;
out:
    TRY(idem_end(db, patron, h->idem, o));
    return LEND_OK;
}

enum lend_status lend_hold_place(struct db *db, const struct lend_principal *who, const char *title_id,
                                 const struct lend_idem *idem, json_t **out, struct lend_err *err)
{
    enum lend_status st = need_patron(who, err);
    if (st != LEND_OK)
        return st;
    if (!lend_is_uuid(title_id))
        return lend_fail(err, LEND_NOT_FOUND, "unknown_title", "There is no such title.");
    struct hold_place h = {.who = who, .title = title_id, .idem = idem};
    return finish(db, db_transaction(db, hold_tx, &h), &h.o, out, err);
}

enum lend_status lend_holds_list(struct db *db, const struct lend_principal *who, int page, int per_page,
                                 json_t **out, struct lend_err *err)
{
    enum lend_status st = need_patron(who, err);
    if (st != LEND_OK)
        return st;
    return list(db, "holds_list", "holds_count", who->id, false, page, per_page, hold_json, out, err);
}

struct cancel {
    const struct lend_principal *who;
    const char *id;
    struct outcome o;
};

static enum lend_status cancel_tx(struct db *db, void *ctx)
{
    struct cancel *c = ctx;
    struct outcome *o = &c->o;
    outcome_reset(o);
    int qs;
    const char *p[2] = {c->id, c->who->id};
    PGresult *r = db_exec(db, "hold_for_cancel", 2, p, &qs);
    TRY(qs);
    if (qs == 0) {
        PQclear(r);
        return answer(o, LEND_NOT_FOUND, "unknown_hold", "There is no such hold.");
    }
    char title[37], consortium[37];
    snprintf(title, sizeof title, "%s", db_get(r, 0, "title_id"));
    snprintf(consortium, sizeof consortium, "%s", db_get(r, 0, "consortium_id"));
    PQclear(r);
    TRY(lock_title(db, title, consortium, NULL));
    const char *hp[1] = {c->id};
    TRY(qs = run(db, "hold_cancel", 1, hp));
    if (qs != 1)
        return answer(o, LEND_CONFLICT, "hold_not_open", "This hold has already ended.");
    TRY(event(db, "hold_cancelled", title, consortium, c->who->library_id, c->who->pseudonym, NULL));
    TRY(promote(db, title, consortium)); /* a ready hold's copy goes to the next in line */
    o->st = LEND_OK;
    return LEND_OK;
}

enum lend_status lend_hold_cancel(struct db *db, const struct lend_principal *who, const char *id,
                                  struct lend_err *err)
{
    enum lend_status st = need_patron(who, err);
    if (st != LEND_OK)
        return st;
    if (!lend_is_uuid(id))
        return lend_fail(err, LEND_NOT_FOUND, "unknown_hold", "There is no such hold.");
    struct cancel c = {.who = who, .id = id};
    return finish(db, db_transaction(db, cancel_tx, &c), &c.o, NULL, err);
}

/* ---- sweeping ---- */

struct sweep {
    int changed;
    const char *title, *consortium;
};

static enum lend_status sweep_loans_tx(struct db *db, void *ctx)
{
    struct sweep *s = ctx;
    int qs;
    PGresult *r = db_exec(db, "sweep_loans", 0, NULL, &qs);
    TRY(qs);
    for (int i = 0; i < qs; i++)
        if (event(db, "expire", db_get(r, i, "title_id"), db_get(r, i, "consortium_id"), db_get(r, i, "library_id"),
                  db_get(r, i, "pseudonym"), db_get(r, i, "id")) < 0) {
            PQclear(r);
            return db_failure(db, DB_HARD);
        }
    s->changed += qs;
    PQclear(r);
    r = db_exec(db, "sweep_holds", 0, NULL, &qs);
    TRY(qs);
    for (int i = 0; i < qs; i++)
        if (event(db, "hold_lapsed", db_get(r, i, "title_id"), db_get(r, i, "consortium_id"),
                  db_get(r, i, "library_id"), db_get(r, i, "pseudonym"), NULL) < 0) {
            PQclear(r);
            return db_failure(db, DB_HARD);
        }
    s->changed += qs;
    PQclear(r);
    TRY(qs = run(db, "notify_due_soon", 0, NULL));
    s->changed += qs;
    return LEND_OK;
}

static enum lend_status sweep_queue_tx(struct db *db, void *ctx)
{
    struct sweep *s = ctx;
    TRY(lock_title(db, s->title, s->consortium, NULL));
    int made = promote(db, s->title, s->consortium);
    TRY(made);
    s->changed += made;
    return LEND_OK;
}

int lend_sweep(struct db *db)
{
    struct sweep s = {0};
    if (db_transaction(db, sweep_loans_tx, &s) != LEND_OK)
        return -1;
    int qs;
    PGresult *r = db_exec(db, "sweep_queues", 0, NULL, &qs);
    if (!r)
        return -1;
    for (int i = 0; i < qs; i++) {
        s.title = db_get(r, i, "title_id");
        s.consortium = db_get(r, i, "consortium_id");
        if (db_transaction(db, sweep_queue_tx, &s) != LEND_OK) {
            PQclear(r);
            return -1;
        }
    }
    PQclear(r);
    return s.changed;
}

json_t *lend_availability(struct db *db, const struct lend_principal *who, const char *title_id)
{
    if (!who || !lend_is_uuid(title_id))
        return NULL;
    const char *p[3] = {title_id, who->consortium_id, who->library_id[0] ? who->library_id : NULL};
    int qs;
    PGresult *r = db_exec(db, "availability", 3, p, &qs);
    if (!r)
        return NULL;
    json_t *a = NULL;
    if (qs == 1) {
        bool unlimited = db_get_bool(r, 0, "unlimited");
        long long free_copies = db_get_ll(r, 0, "free"), holds = db_get_ll(r, 0, "holds");
        long long available = free_copies - holds > 0 ? free_copies - holds : 0;
        a = json_pack("{s:o, s:o, s:I}", "copies", unlimited ? json_null() : json_integer(db_get_ll(r, 0, "copies")),
                      "available", unlimited ? json_null() : json_integer(available), "holds", (json_int_t)holds);
    }
    PQclear(r);
    return a;
}

/* ---- licences (staff) ---- */

static enum lend_status need_staff(const struct lend_principal *who, struct lend_err *err)
{
    if (who->role != LEND_LIBRARY_ADMIN && who->role != LEND_CONSORTIUM_ADMIN)
        return lend_fail(err, LEND_FORBIDDEN, "staff_only", "This is for library staff.");
    return LEND_OK;
}

static const char *scope(const struct lend_principal *who)
{
    return who->role == LEND_LIBRARY_ADMIN ? who->library_id : NULL;
}

static json_t *licence_json(const PGresult *r, int i)
{
    json_t *l = json_pack("{s:s, s:s, s:s, s:o, s:o, s:o, s:I, s:I, s:o, s:o, s:b, s:s, s:s}", "id",
                          db_get(r, i, "id"), "title_id", db_get(r, i, "title_id"), "title", db_get(r, i, "title"),
                          "library", null_or_str(r, i, "library"), "concurrency", null_or_int(r, i, "concurrency"),
                          "checkouts", null_or_int(r, i, "checkouts"), "checkouts_used",
                          (json_int_t)db_get_ll(r, i, "checkouts_used"), "in_use",
                          (json_int_t)db_get_ll(r, i, "in_use"), "expires", null_or_str(r, i, "expires"),
                          "loan_days", null_or_int(r, i, "loan_days"), "suspended", db_get_bool(r, i, "suspended"),
                          "state", db_get(r, i, "state"), "created", db_get(r, i, "created"));
    json_object_set_new(l, "checkouts_left",
                        db_get(r, i, "checkouts")
                            ? json_integer(db_get_ll(r, i, "checkouts") - db_get_ll(r, i, "checkouts_used"))
                            : json_null());
    return l;
}

static enum lend_status get_licence(struct db *db, const struct lend_principal *who, const char *id,
                                    json_t **out, struct lend_err *err)
{
    const char *p[3] = {who->consortium_id, scope(who), id};
    int qs;
    PGresult *r = db_exec(db, "admin_licence", 3, p, &qs);
    if (!r)
        return db_failed(db, qs, err);
    if (qs == 0) {
        PQclear(r);
        return lend_fail(err, LEND_NOT_FOUND, "unknown_licence", "There is no such licence here.");
    }
    *out = licence_json(r, 0);
    PQclear(r);
    return LEND_OK;
}

/* A bad date or value from the caller (22xxx), a missing title or library (23503). */
static enum lend_status input_failure(struct db *db, int qs, struct lend_err *err)
{
    if (!strncmp(db->sqlstate, "22", 2))
        return lend_fail(err, LEND_INVALID, "invalid_value", "A date or number is not acceptable.");
    if (!strcmp(db->sqlstate, "23503"))
        return lend_fail(err, LEND_NOT_FOUND, "unknown_title", "There is no such title or library.");
    if (!strcmp(db->sqlstate, "23514"))
        return lend_fail(err, LEND_INVALID, "invalid_value", "Checkouts cannot be fewer than those already spent.");
    return db_failed(db, qs, err);
}

enum lend_status lend_licence_add(struct db *db, const struct lend_principal *who, const struct lend_licence_terms *t,
                                  json_t **out, struct lend_err *err)
{
    enum lend_status st = need_staff(who, err);
    if (st != LEND_OK)
        return st;
    if (!lend_is_uuid(t->title_id))
        return lend_fail(err, LEND_NOT_FOUND, "unknown_title", "There is no such title.");
    if (t->concurrency < 0 || t->checkouts < 0 || t->loan_days < 0 || t->loan_days > 366)
        return lend_fail(err, LEND_INVALID, "invalid_value",
                         "concurrency and checkouts are positive, loan_days from 1 to 366.");
    char library[37] = "";
    if (t->library_code) {
        int qs;
        const char *p[1] = {t->library_code};
        PGresult *r = db_exec(db, "library_by_code", 1, p, &qs);
        if (!r)
            return db_failed(db, qs, err);
        if (qs == 1 && !strcmp(db_get(r, 0, "consortium_id"), who->consortium_id))
            snprintf(library, sizeof library, "%s", db_get(r, 0, "id"));
        PQclear(r);
        if (!library[0])
            return lend_fail(err, LEND_NOT_FOUND, "unknown_library", "No library \"%s\" in this consortium.",
                             t->library_code);
    }
    if (who->role == LEND_LIBRARY_ADMIN) {
        if (library[0] && strcmp(library, who->library_id) != 0)
            return lend_fail(err, LEND_NOT_FOUND, "unknown_library", "No library \"%s\" here.", t->library_code);
        snprintf(library, sizeof library, "%s", who->library_id);
    }
    char conc[16], chk[16], days[16];
    snprintf(conc, sizeof conc, "%d", t->concurrency);
    snprintf(chk, sizeof chk, "%d", t->checkouts);
    snprintf(days, sizeof days, "%d", t->loan_days);
    const char *p[7] = {t->title_id, who->consortium_id, library[0] ? library : NULL, t->concurrency ? conc : NULL,
                        t->checkouts ? chk : NULL, t->expires, t->loan_days ? days : NULL};
    int qs;
    PGresult *r = db_exec(db, "licence_add", 7, p, &qs);
    if (!r)
        return input_failure(db, qs, err);
    char id[37];
    snprintf(id, sizeof id, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    return get_licence(db, who, id, out, err);
}

enum lend_status lend_licences_list(struct db *db, const struct lend_principal *who, const char *title_id,
                                    const char *expiring_before, int page, int per_page, json_t **out,
                                    struct lend_err *err)
{
    enum lend_status st = need_staff(who, err);
    if (st != LEND_OK)
        return st;
    if (title_id && !lend_is_uuid(title_id))
        return lend_fail(err, LEND_INVALID, "invalid_value", "title_id is not a title's id.");
    char lim[16], off[32];
    snprintf(lim, sizeof lim, "%d", per_page);
    snprintf(off, sizeof off, "%lld", (long long)(page - 1) * per_page);
    const char *p[6] = {who->consortium_id, scope(who), title_id, expiring_before, lim, off};
    int qs;
    PGresult *r = db_exec(db, "admin_licences", 6, p, &qs);
    if (!r)
        return input_failure(db, qs, err);
    json_t *items = json_array();
    for (int i = 0; i < qs; i++)
        json_array_append_new(items, licence_json(r, i));
    long long total = qs ? db_get_ll(r, 0, "total") : 0;
    PQclear(r);
    *out = json_pack("{s:o, s:I}", "items", items, "total", (json_int_t)total);
    return LEND_OK;
}

/* Reads an optional field: absent (set false), null, or a positive integer within max. */
static enum lend_status opt_count(const json_t *o, const char *key, int max, bool *set, char buf[16],
                                  const char **val, struct lend_err *err)
{
    json_t *v = json_object_get(o, key);
    *set = v != NULL;
    *val = NULL;
    if (!v || json_is_null(v))
        return LEND_OK;
    if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > max)
        return lend_fail(err, LEND_INVALID, "invalid_value", "%s must be null or a whole number from 1 to %d.", key, max);
    snprintf(buf, 16, "%lld", (long long)json_integer_value(v));
    *val = buf;
    return LEND_OK;
}

enum lend_status lend_licence_update(struct db *db, const struct lend_principal *who, const char *id,
                                     const json_t *changes, json_t **out, struct lend_err *err)
{
    enum lend_status st = need_staff(who, err);
    if (st != LEND_OK)
        return st;
    if (!lend_is_uuid(id))
        return lend_fail(err, LEND_NOT_FOUND, "unknown_licence", "There is no such licence here.");
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)changes, key, v) {
        if (strcmp(key, "concurrency") && strcmp(key, "checkouts") && strcmp(key, "expires") &&
            strcmp(key, "loan_days") && strcmp(key, "suspended"))
            return lend_fail(err, LEND_INVALID, "invalid_value", "Unknown licence field \"%s\".", key);
    }
    bool s_conc, s_chk, s_days;
    char b_conc[16], b_chk[16], b_days[16];
    const char *conc, *chk, *days;
    if ((st = opt_count(changes, "concurrency", 1000000, &s_conc, b_conc, &conc, err)) != LEND_OK ||
        (st = opt_count(changes, "checkouts", 100000000, &s_chk, b_chk, &chk, err)) != LEND_OK ||
        (st = opt_count(changes, "loan_days", 366, &s_days, b_days, &days, err)) != LEND_OK)
        return st;
    json_t *ex = json_object_get(changes, "expires"), *su = json_object_get(changes, "suspended");
    if (ex && !json_is_null(ex) && !json_is_string(ex))
        return lend_fail(err, LEND_INVALID, "invalid_value", "expires must be null or a date.");
    if (su && !json_is_boolean(su))
        return lend_fail(err, LEND_INVALID, "invalid_value", "suspended must be true or false.");
    const char *p[12] = {who->consortium_id, scope(who), id, s_conc ? "true" : "false", conc,
                         s_chk ? "true" : "false", chk, ex ? "true" : "false", json_string_value(ex),
                         s_days ? "true" : "false", days, su ? (json_is_true(su) ? "true" : "false") : NULL};
    int qs;
    PGresult *r = db_exec(db, "admin_licence_update", 12, p, &qs);
    if (!r)
        return input_failure(db, qs, err);
    PQclear(r);
    if (qs == 0)
        return lend_fail(err, LEND_NOT_FOUND, "unknown_licence", "There is no such licence here.");
    return get_licence(db, who, id, out, err);
}

enum lend_status lend_report_usage(struct db *db, const struct lend_principal *who, const char *from, const char *to,
                                   json_t **out, struct lend_err *err)
{
    enum lend_status st = need_staff(who, err);
    if (st != LEND_OK)
        return st;
    const char *p[4] = {who->consortium_id, scope(who), from ? from : "1970-01-01", to ? to : "9999-12-31"};
    int qs;
    PGresult *r = db_exec(db, "report_usage", 4, p, &qs);
    if (!r)
        return input_failure(db, qs, err);
    static const char *counts[] = {"loans", "renewals", "streams", "unique_patrons", "turnaways", "turnaways_no_copy",
                                   "turnaways_no_licence", "turnaways_limit", "holds_placed"};
    json_t *items = json_array();
    for (int i = 0; i < qs; i++) {
        json_t *row = json_pack("{s:s, s:s, s:s}", "title_id", db_get(r, i, "title_id"), "title",
                                db_get(r, i, "title"), "month", db_get(r, i, "month"));
        for (size_t k = 0; k < sizeof counts / sizeof *counts; k++)
            json_object_set_new(row, counts[k], json_integer(db_get_ll(r, i, counts[k])));
        json_array_append_new(items, row);
    }
    PQclear(r);
    *out = json_pack("{s:o, s:i}", "items", items, "total", qs);
    return LEND_OK;
}

enum lend_status lend_content_loan(struct db *db, const char *loan_id, const char *title_id,
                                   struct lend_content *out, struct lend_err *err)
{
    memset(out, 0, sizeof *out);
    if (!lend_is_uuid(loan_id) || !lend_is_uuid(title_id))
        return lend_fail(err, LEND_NOT_FOUND, "unknown_loan", "There is no such loan.");
    const char *p[2] = {loan_id, title_id};
    int qs;
    PGresult *r = db_exec(db, "content_loan", 2, p, &qs);
    if (!r)
        return db_failed(db, qs, err);
    if (qs == 0) {
        PQclear(r);
        return lend_fail(err, LEND_NOT_FOUND, "unknown_loan", "There is no such loan.");
    }
    out->active = db_get_bool(r, 0, "active");
    snprintf(out->file_path, sizeof out->file_path, "%s", db_get(r, 0, "file_path"));
    snprintf(out->sha256, sizeof out->sha256, "%s", db_get(r, 0, "file_sha256"));
    snprintf(out->kind, sizeof out->kind, "%s", db_get(r, 0, "kind"));
    PQclear(r);
    return LEND_OK;
}

enum lend_status lend_download_loan(struct db *db, const char *loan_id, const char *title_id,
                                    struct lend_download *out, struct lend_err *err)
{
    memset(out, 0, sizeof *out);
    if (!lend_is_uuid(loan_id) || !lend_is_uuid(title_id))
        return lend_fail(err, LEND_NOT_FOUND, "unknown_loan", "There is no such loan.");
    const char *p[2] = {loan_id, title_id};
    int qs;
    PGresult *r = db_exec(db, "download_loan", 2, p, &qs);
    if (!r)
        return db_failed(db, qs, err);
    if (qs == 0) {
        PQclear(r);
        return lend_fail(err, LEND_NOT_FOUND, "unknown_loan", "There is no such loan.");
    }
    out->c.active = db_get_bool(r, 0, "active");
    snprintf(out->c.file_path, sizeof out->c.file_path, "%s", db_get(r, 0, "file_path"));
    snprintf(out->c.sha256, sizeof out->c.sha256, "%s", db_get(r, 0, "file_sha256"));
    snprintf(out->c.kind, sizeof out->c.kind, "%s", db_get(r, 0, "kind"));
    snprintf(out->title, sizeof out->title, "%s", db_get(r, 0, "title"));
    snprintf(out->library, sizeof out->library, "%s", db_get(r, 0, "library"));
    snprintf(out->borrowed, sizeof out->borrowed, "%s", db_get(r, 0, "borrowed"));
    snprintf(out->due, sizeof out->due, "%s", db_get(r, 0, "due"));
    out->started = strtoll(db_get(r, 0, "started_epoch"), NULL, 10);
    PQclear(r);
    return LEND_OK;
}

enum lend_status lend_stream_start(struct db *db, const char *loan_id, struct lend_err *err)
{
    if (!lend_is_uuid(loan_id))
        return lend_fail(err, LEND_NOT_FOUND, "unknown_loan", "There is no such loan.");
    const char *p[1] = {loan_id};
    int qs;
    PGresult *r = db_exec(db, "stream_start", 1, p, &qs);
    if (!r)
        return db_failed(db, qs, err);
    PQclear(r);
    return qs == 1 ? LEND_OK : lend_fail(err, LEND_FORBIDDEN, "loan_ended", "This loan has ended.");
}
