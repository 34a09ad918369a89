/*
 * Consortia, libraries, patrons and staff; passwords; sessions and sign-in throttling;
 * the account view and the staff's scoped administration of libraries and patrons.
 */
#include "sql.h"

#include <ctype.h>
#include <pthread.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct lend_config config = {
    .max_hashers = 2,
    .account_max_failures = 5,
    .address_max_failures = 30,
    .throttle_window_s = 900,
    .patron_session_s = 14 * 24 * 3600,
    .staff_session_s = 12 * 3600,
};

static pthread_mutex_t hash_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t hash_cv = PTHREAD_COND_INITIALIZER;
static int hashing;

void lend_configure(const struct lend_config *cfg)
{
    pthread_mutex_lock(&hash_mu);
    if (cfg->max_hashers > 0)
        config.max_hashers = cfg->max_hashers;
    if (cfg->account_max_failures > 0)
        config.account_max_failures = cfg->account_max_failures;
    if (cfg->address_max_failures > 0)
        config.address_max_failures = cfg->address_max_failures;
    if (cfg->throttle_window_s > 0)
        config.throttle_window_s = cfg->throttle_window_s;
    if (cfg->patron_session_s > 0)
        config.patron_session_s = cfg->patron_session_s;
    if (cfg->staff_session_s > 0)
        config.staff_session_s = cfg->staff_session_s;
    pthread_mutex_unlock(&hash_mu);
}

enum lend_status lend_fail(struct lend_err *err, enum lend_status st, const char *code,
                           const char *fmt, ...)
{
    if (err) {
        err->code = code;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
    }
    return st;
}

enum lend_status db_failed(struct db *db, int qs, struct lend_err *err)
{
    enum lend_status st = db_failure(db, qs);
    if (st == LEND_UNAVAILABLE)
        return lend_fail(err, st, "database_unavailable", "The database is not answering; try again shortly.");
    if (st == LEND_RETRY)
        return lend_fail(err, st, "retry", "The request collided with another; try again.");
    return lend_fail(err, LEND_INTERNAL, "internal_error", "Something went wrong on our side.");
}

bool lend_is_uuid(const char *s)
{
    if (!s || strlen(s) != 36)
        return false;
    for (int i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-')
                return false;
        } else if (!isxdigit((unsigned char)s[i])) {
            return false;
        }
    }
    return true;
}

/* ---- passwords ---- */

/* Argon2id at libsodium's interactive limits takes 64 MiB: a burst of sign-ins waits
 * here instead of exhausting memory. */
static void hash_enter(void)
{
    pthread_mutex_lock(&hash_mu);
    while (hashing >= config.max_hashers)
        pthread_cond_wait(&hash_cv, &hash_mu);
    hashing++;
    pthread_mutex_unlock(&hash_mu);
}

static void hash_leave(void)
{
    pthread_mutex_lock(&hash_mu);
    hashing--;
    pthread_cond_signal(&hash_cv);
    pthread_mutex_unlock(&hash_mu);
}

int lend_password_hash(const char *password, char out[128])
{
    hash_enter();
    int rc = crypto_pwhash_str(out, password, strlen(password), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                               crypto_pwhash_MEMLIMIT_INTERACTIVE);
    hash_leave();
    return rc;
}

static bool password_verify(const char *hash, const char *password)
{
    hash_enter();
    bool ok = crypto_pwhash_str_verify(hash, password, strlen(password)) == 0;
    hash_leave();
    return ok;
}

/* Unknown accounts are checked against this hash, so they cost what a real one costs. */
static char dummy_hash[crypto_pwhash_STRBYTES];
static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;

static void make_dummy(void)
{
    char pw[33];
    unsigned char r[16];
    randombytes_buf(r, sizeof r);
    sodium_bin2hex(pw, sizeof pw, r, sizeof r);
    if (crypto_pwhash_str(dummy_hash, pw, strlen(pw), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                          crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
        dummy_hash[0] = 0;
}

void lend_warm_up(void)
{
    pthread_once(&dummy_once, make_dummy);
}

static enum lend_status check_password_rules(const char *password, struct lend_err *err)
{
    size_t n = password ? strlen(password) : 0;
    if (n < 4 || n > 1024)
        return lend_fail(err, LEND_INVALID, "invalid_password",
                         "a password must have between 4 and 1024 characters");
    return LEND_OK;
}

/* ---- accounts ---- */

static enum lend_status insert_returning_id(struct db *db, const char *stmt, int n,
                                            const char *const *p, char id_out[37],
                                            const char *what, struct lend_err *err)
{
    int qs;
    PGresult *r = db_exec(db, stmt, n, p, &qs);
    if (!r) {
        if (db_unique_violation(db))
            return lend_fail(err, LEND_CONFLICT, "already_exists", "%s already exists", what);
        if (!strncmp(db->sqlstate, "23", 2) || !strncmp(db->sqlstate, "22", 2))
            return lend_fail(err, LEND_INVALID, "invalid_value", "%s is not acceptable", what);
        return db_failed(db, qs, err);
    }
    snprintf(id_out, 37, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    return LEND_OK;
}

enum lend_status lend_consortium_add(struct db *db, const char *name, char id_out[37],
                                     struct lend_err *err)
{
    if (!name || !*name || strlen(name) > 200)
        return lend_fail(err, LEND_INVALID, "invalid_name", "a consortium needs a name of 1 to 200 characters");
    const char *p[1] = {name};
    char what[256];
    snprintf(what, sizeof what, "consortium \"%s\"", name);
    return insert_returning_id(db, "consortium_add", 1, p, id_out, what, err);
}

static enum lend_status consortium_exists(struct db *db, const char *consortium_id, struct lend_err *err)
{
    if (!lend_is_uuid(consortium_id))
        return lend_fail(err, LEND_NOT_FOUND, "unknown_consortium", "no consortium \"%s\"",
                         consortium_id ? consortium_id : "");
    int qs;
    const char *c[1] = {consortium_id};
    PGresult *r = db_exec(db, "consortium_exists", 1, c, &qs);
    if (!r)
        return db_failed(db, qs, err);
    PQclear(r);
    if (qs == 0)
        return lend_fail(err, LEND_NOT_FOUND, "unknown_consortium", "no consortium \"%s\"", consortium_id);
    return LEND_OK;
}

enum lend_status lend_library_add(struct db *db, const char *consortium_id, const char *code,
                                  const char *name, char id_out[37], struct lend_err *err)
{
    enum lend_status st = consortium_exists(db, consortium_id, err);
    if (st != LEND_OK)
        return st;
    const char *p[3] = {consortium_id, code, name};
    char what[256];
    snprintf(what, sizeof what, "library \"%s\"", code ? code : "");
    return insert_returning_id(db, "library_add", 3, p, id_out, what, err);
}

static enum lend_status library_by_code(struct db *db, const char *code, char id[37],
                                        char consortium[37], struct lend_err *err)
{
    int qs;
    const char *p[1] = {code};
    PGresult *r = db_exec(db, "library_by_code", 1, p, &qs);
    if (!r)
        return db_failed(db, qs, err);
    if (qs == 0) {
        PQclear(r);
        return lend_fail(err, LEND_NOT_FOUND, "unknown_library", "no library with code \"%s\"", code);
    }
    snprintf(id, 37, "%s", db_get(r, 0, "id"));
    if (consortium)
        snprintf(consortium, 37, "%s", db_get(r, 0, "consortium_id"));
    PQclear(r);
    return LEND_OK;
}

enum lend_status lend_patron_add(struct db *db, const char *library_code, const char *card,
                                 const char *name, const char *email, const char *password,
                                 char id_out[37], struct lend_err *err)
{
    if (!library_code || !card || !*card || strlen(card) > 64)
        return lend_fail(err, LEND_INVALID, "invalid_card", "a card number has 1 to 64 characters");
    if (email && (!strchr(email, '@') || strpbrk(email, "\r\n<>\"(), ;:\\") || strlen(email) > 254))
        return lend_fail(err, LEND_INVALID, "invalid_email", "\"%s\" is not an e-mail address", email);
    enum lend_status st = check_password_rules(password, err);
    if (st != LEND_OK)
        return st;
    char lib[37];
    if ((st = library_by_code(db, library_code, lib, NULL, err)) != LEND_OK)
        return st;
    char hash[crypto_pwhash_STRBYTES];
    if (lend_password_hash(password, hash) != 0)
        return lend_fail(err, LEND_INTERNAL, "internal_error", "could not hash the password: out of memory");
    const char *p[5] = {lib, card, name, email, hash};
    char what[256];
    snprintf(what, sizeof what, "card \"%s\" at library \"%s\"", card, library_code);
    st = insert_returning_id(db, "patron_add", 5, p, id_out, what, err);
    sodium_memzero(hash, sizeof hash);
    return st;
}

enum lend_status lend_staff_add(struct db *db, const char *consortium_id, const char *library_code,
                                const char *email, const char *role, const char *password,
                                char id_out[37], struct lend_err *err)
{
    if (!role || (strcmp(role, "consortium_admin") && strcmp(role, "library_admin")))
        return lend_fail(err, LEND_INVALID, "invalid_role", "role must be consortium_admin or library_admin");
    bool lib_admin = !strcmp(role, "library_admin");
    if (lib_admin != (library_code != NULL))
        return lend_fail(err, LEND_INVALID, "invalid_role",
                         lib_admin ? "a library_admin needs --library" : "a consortium_admin has no --library");
    if (!email || !strchr(email, '@') || strlen(email) > 254)
        return lend_fail(err, LEND_INVALID, "invalid_email", "\"%s\" is not an e-mail address", email ? email : "");
    enum lend_status st = check_password_rules(password, err);
    if (st != LEND_OK)
        return st;
    char lib[37] = "", lib_consortium[37] = "";
    if (lib_admin) {
        if ((st = library_by_code(db, library_code, lib, lib_consortium, err)) != LEND_OK)
            return st;
        if (strcmp(lib_consortium, consortium_id) != 0)
            return lend_fail(err, LEND_INVALID, "library_not_in_consortium",
                             "library \"%s\" does not belong to consortium \"%s\"", library_code, consortium_id);
    } else if ((st = consortium_exists(db, consortium_id, err)) != LEND_OK) {
        return st;
    }
    char hash[crypto_pwhash_STRBYTES];
    if (lend_password_hash(password, hash) != 0)
        return lend_fail(err, LEND_INTERNAL, "internal_error", "could not hash the password: out of memory");
    const char *p[5] = {consortium_id, lib_admin ? lib : NULL, email, role, hash};
    char what[300];
    snprintf(what, sizeof what, "staff account \"%s\"", email);
    st = insert_returning_id(db, "staff_add", 5, p, id_out, what, err);
    sodium_memzero(hash, sizeof hash);
    return st;
}

/* ---- sessions ---- */

static void token_hash_hex(const char *token, char hex[65], unsigned char raw[32])
{
    unsigned char h[32];
    crypto_generichash(h, sizeof h, (const unsigned char *)token, strlen(token), NULL, 0);
    sodium_bin2hex(hex, 65, h, sizeof h);
    if (raw)
        memcpy(raw, h, sizeof h);
}

void lend_csrf_token(const char *session_token, char out[LEND_TOKEN_LEN + 1])
{
    static const unsigned char ctx[32] = "pretnum csrf token v1";
    unsigned char h[32];
    crypto_generichash(h, sizeof h, (const unsigned char *)session_token, strlen(session_token),
                       ctx, sizeof ctx);
    sodium_bin2base64(out, LEND_TOKEN_LEN + 1, h, sizeof h, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

static void lower_into(char *dst, size_t cap, const char *prefix, const char *a, const char *b)
{
    snprintf(dst, cap, "%s%s%s%s", prefix, a, b ? ":" : "", b ? b : "");
    for (char *p = dst; *p; p++)
        *p = (char)tolower((unsigned char)*p);
}

static enum lend_status throttle_fail(struct db *db, const char *key, int max, struct lend_err *err)
{
    char max_s[16], win_s[16];
    snprintf(max_s, sizeof max_s, "%d", max);
    snprintf(win_s, sizeof win_s, "%d", config.throttle_window_s);
    const char *p[3] = {key, max_s, win_s};
    int qs;
    PGresult *r = db_exec(db, "throttle_fail", 3, p, &qs);
    if (!r)
        return db_failed(db, qs, err);
    PQclear(r);
    return LEND_OK;
}

static enum lend_status account_json(struct db *db, const struct lend_principal *who, json_t **out,
                                     struct lend_err *err);

static json_t *int_array(const char *pg_array)
{
    /* "{7,14,21}" */
    json_t *a = json_array();
    const char *p = pg_array ? pg_array : "";
    while (*p) {
        if (isdigit((unsigned char)*p)) {
            char *end;
            long v = strtol(p, &end, 10);
            json_array_append_new(a, json_integer(v));
            p = end;
        } else {
            p++;
        }
    }
    return a;
}

enum lend_status lend_session_create(struct db *db, const struct lend_credentials *cred,
                                     char token_out[LEND_TOKEN_LEN + 1], json_t **account,
                                     struct lend_err *err)
{
    bool staff = cred->email != NULL;
    if (!cred->password || (!staff && (!cred->library || !cred->card)))
        return lend_fail(err, LEND_INVALID, "invalid_request",
                         "sign in with library, card and password, or with email and password");
    if (strlen(cred->password) > 1024 || (staff && strlen(cred->email) > 254) ||
        (!staff && (strlen(cred->card) > 64 || strlen(cred->library) > 32)))
        return lend_fail(err, LEND_UNAUTHORIZED, "bad_credentials", "Wrong card number or password.");

    char acct_key[400], addr_key[100];
    if (staff)
        lower_into(acct_key, sizeof acct_key, "s:", cred->email, NULL);
    else
        lower_into(acct_key, sizeof acct_key, "p:", cred->library, cred->card);
    snprintf(addr_key, sizeof addr_key, "a:%s", cred->address ? cred->address : "-");

    int qs;
    const char *tp[2] = {acct_key, addr_key};
    PGresult *r = db_exec(db, "throttle_check", 2, tp, &qs);
    if (!r)
        return db_failed(db, qs, err);
    const char *wait = db_get(r, 0, "wait");
    if (wait) {
        long w = strtol(wait, NULL, 10);
        err->retry_after = w > 0 && w < 86400 ? (int)w : 1;
        PQclear(r);
        return lend_fail(err, LEND_THROTTLED, "too_many_attempts",
                         "Too many failed sign-ins; try again in %d minutes.",
                         (err->retry_after + 59) / 60);
    }
    PQclear(r);

    struct lend_principal who = {0};
    char hash[crypto_pwhash_STRBYTES] = "";
    if (staff) {
        const char *p[1] = {cred->email};
        r = db_exec(db, "session_staff_lookup", 1, p, &qs);
    } else {
        const char *p[2] = {cred->library, cred->card};
        r = db_exec(db, "session_patron_lookup", 2, p, &qs);
    }
    if (!r)
        return db_failed(db, qs, err);
    if (qs == 1) {
        snprintf(who.id, sizeof who.id, "%s", db_get(r, 0, "id"));
        snprintf(hash, sizeof hash, "%s", db_get(r, 0, "password_hash"));
    }
    PQclear(r);

    bool ok;
    if (hash[0]) {
        ok = password_verify(hash, cred->password);
    } else {
        pthread_once(&dummy_once, make_dummy);
        password_verify(dummy_hash, cred->password);
        ok = false;
    }
    if (!ok) {
        enum lend_status st = throttle_fail(db, acct_key, config.account_max_failures, err);
        if (st == LEND_OK)
            st = throttle_fail(db, addr_key, config.address_max_failures, err);
        if (st != LEND_OK)
            return st;
        return lend_fail(err, LEND_UNAUTHORIZED, "bad_credentials",
                         staff ? "Wrong e-mail address or password." : "Wrong card number or password.");
    }

    const char *cp[1] = {acct_key};
    PQclear(db_exec(db, "throttle_clear", 1, cp, &qs));
    if (crypto_pwhash_str_needs_rehash(hash, crypto_pwhash_OPSLIMIT_INTERACTIVE,
                                       crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0) {
        char fresh[crypto_pwhash_STRBYTES];
        if (lend_password_hash(cred->password, fresh) == 0) {
            const char *p[2] = {who.id, fresh};
            PQclear(db_exec(db, staff ? "staff_rehash" : "patron_rehash", 2, p, &qs));
        }
        sodium_memzero(fresh, sizeof fresh);
    }
    sodium_memzero(hash, sizeof hash);

    unsigned char secret[32];
    randombytes_buf(secret, sizeof secret);
    sodium_bin2base64(token_out, LEND_TOKEN_LEN + 1, secret, sizeof secret,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(secret, sizeof secret);
    char hex[65], ttl[16];
    token_hash_hex(token_out, hex, NULL);
    snprintf(ttl, sizeof ttl, "%d", staff ? config.staff_session_s : config.patron_session_s);
    const char *sp[5] = {hex, staff ? NULL : who.id, staff ? who.id : NULL, ttl, cred->address};
    r = db_exec(db, "session_create", 5, sp, &qs);
    if (!r)
        return db_failed(db, qs, err);
    PQclear(r);
    /* Old sessions are swept by the sign-ins themselves; no extra process is needed. */
    if (randombytes_uniform(100) == 0)
        PQclear(db_exec(db, "session_purge", 0, NULL, &qs));

    /* account_json() only tells patrons from staff: no need to read the session back. */
    who.role = staff ? LEND_CONSORTIUM_ADMIN : LEND_PATRON;
    return account_json(db, &who, account, err);
}

enum lend_status lend_session_lookup(struct db *db, const char *token, struct lend_principal *who,
                                     struct lend_err *err)
{
    memset(who, 0, sizeof *who);
    if (!token || strlen(token) != LEND_TOKEN_LEN)
        return lend_fail(err, LEND_UNAUTHORIZED, "not_signed_in", "Please sign in.");
    char hex[65];
    token_hash_hex(token, hex, who->session_hash);
    const char *p[1] = {hex};
    int qs;
    PGresult *r = db_exec(db, "session_lookup", 1, p, &qs);
    if (!r)
        return db_failed(db, qs, err);
    if (qs == 0) {
        PQclear(r);
        return lend_fail(err, LEND_UNAUTHORIZED, "not_signed_in", "Your session has ended; please sign in again.");
    }
    const char *patron = db_get(r, 0, "patron_id");
    const char *role = db_get(r, 0, "role");
    const char *lib = db_get(r, 0, "library_id");
    if (patron) {
        who->role = LEND_PATRON;
        snprintf(who->id, sizeof who->id, "%s", patron);
        snprintf(who->pseudonym, sizeof who->pseudonym, "%s", db_get(r, 0, "pseudonym"));
    } else {
        who->role = role && !strcmp(role, "library_admin") ? LEND_LIBRARY_ADMIN : LEND_CONSORTIUM_ADMIN;
        snprintf(who->id, sizeof who->id, "%s", db_get(r, 0, "staff_id"));
    }
    snprintf(who->library_id, sizeof who->library_id, "%s", lib ? lib : "");
    snprintf(who->consortium_id, sizeof who->consortium_id, "%s", db_get(r, 0, "consortium_id"));
    who->session_left_s = (int)db_get_ll(r, 0, "left_s");
    PQclear(r);
    return LEND_OK;
}

enum lend_status lend_session_end(struct db *db, const struct lend_principal *who, struct lend_err *err)
{
    char hex[65];
    sodium_bin2hex(hex, sizeof hex, who->session_hash, sizeof who->session_hash);
    const char *p[1] = {hex};
    int qs;
    PGresult *r = db_exec(db, "session_end", 1, p, &qs);
    if (!r)
        return db_failed(db, qs, err);
    PQclear(r);
    return LEND_OK;
}

static json_t *str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

static json_t *policy_json(const PGresult *r, int i)
{
    return json_pack("{s:o, s:I, s:I, s:I, s:I, s:I}", "loan_days", int_array(db_get(r, i, "loan_days")),
                     "default_loan_days", (json_int_t)db_get_ll(r, i, "default_loan_days"),
                     "max_loans", (json_int_t)db_get_ll(r, i, "max_loans"),
                     "max_holds", (json_int_t)db_get_ll(r, i, "max_holds"),
                     "max_renewals", (json_int_t)db_get_ll(r, i, "max_renewals"),
                     "hold_days", (json_int_t)db_get_ll(r, i, "hold_days"));
}

static enum lend_status account_json(struct db *db, const struct lend_principal *who, json_t **out,
                                     struct lend_err *err)
{
    int qs;
    const char *p[1] = {who->id};
    bool patron = who->role == LEND_PATRON;
    PGresult *r = db_exec(db, patron ? "me_patron" : "me_staff", 1, p, &qs);
    if (!r)
        return db_failed(db, qs, err);
    if (qs == 0) {
        PQclear(r);
        return lend_fail(err, LEND_UNAUTHORIZED, "not_signed_in", "This account no longer exists.");
    }
    json_t *consortium = json_pack("{s:s, s:s}", "id", db_get(r, 0, "consortium_id"), "name",
                                   db_get(r, 0, "consortium_name"));
    json_t *library = db_get(r, 0, "library_id")
                          ? json_pack("{s:s, s:s, s:s}", "id", db_get(r, 0, "library_id"), "code",
                                      db_get(r, 0, "code"), "name", db_get(r, 0, "library_name"))
                          : json_null();
    json_t *a;
    if (patron) {
        a = json_pack("{s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:o}", "id", who->id, "type", "patron",
                      "card", db_get(r, 0, "card"), "name", str_or_null(db_get(r, 0, "name")),
                      "email", str_or_null(db_get(r, 0, "email")), "library", library,
                      "consortium", consortium, "policy", policy_json(r, 0));
    } else {
        a = json_pack("{s:s, s:s, s:s, s:s, s:o, s:o}", "id", who->id, "type", "staff", "email",
                      db_get(r, 0, "email"), "role", db_get(r, 0, "role"), "library", library,
                      "consortium", consortium);
    }
    PQclear(r);
    if (!a)
        return lend_fail(err, LEND_INTERNAL, "internal_error", "could not build the account");
    *out = a;
    return LEND_OK;
}

enum lend_status lend_me(struct db *db, const struct lend_principal *who, json_t **out,
                         struct lend_err *err)
{
    enum lend_status st = account_json(db, who, out, err);
    if (st != LEND_OK || who->role != LEND_PATRON)
        return st;
    const char *p[1] = {who->id};
    int qs;
    PGresult *r = db_exec(db, "me_counts", 1, p, &qs);
    if (!r) {
        json_decref(*out);
        return db_failed(db, qs, err);
    }
    json_t *pol = json_object_get(*out, "policy");
    json_object_set_new(*out, "loans", json_pack("{s:I, s:O}", "active", (json_int_t)db_get_ll(r, 0, "loans"), "max",
                                                 json_object_get(pol, "max_loans")));
    json_object_set_new(*out, "holds", json_pack("{s:I, s:I, s:O}", "open", (json_int_t)db_get_ll(r, 0, "holds"),
                                                 "ready", (json_int_t)db_get_ll(r, 0, "holds_ready"), "max",
                                                 json_object_get(pol, "max_holds")));
    json_object_set_new(*out, "notifications_unread", json_integer(db_get_ll(r, 0, "unread")));
    PQclear(r);
    return LEND_OK;
}

/* ---- staff administration ---- */

static const char *scope_library(const struct lend_principal *who)
{
    return who->role == LEND_LIBRARY_ADMIN ? who->library_id : NULL;
}

static enum lend_status require_staff(const struct lend_principal *who, struct lend_err *err)
{
    if (who->role != LEND_LIBRARY_ADMIN && who->role != LEND_CONSORTIUM_ADMIN)
        return lend_fail(err, LEND_FORBIDDEN, "staff_only", "This is for library staff.");
    return LEND_OK;
}

static json_t *library_row(const PGresult *r, int i)
{
    return json_pack("{s:s, s:s, s:s, s:o, s:I}", "id", db_get(r, i, "id"), "code", db_get(r, i, "code"),
                     "name", db_get(r, i, "name"), "policy", policy_json(r, i), "patrons",
                     (json_int_t)db_get_ll(r, i, "patrons"));
}

enum lend_status lend_admin_libraries(struct db *db, const struct lend_principal *who, json_t **out,
                                      struct lend_err *err)
{
    enum lend_status st = require_staff(who, err);
    if (st != LEND_OK)
        return st;
    const char *p[2] = {who->consortium_id, scope_library(who)};
    int qs;
    PGresult *r = db_exec(db, "admin_libraries", 2, p, &qs);
    if (!r)
        return db_failed(db, qs, err);
    json_t *items = json_array();
    for (int i = 0; i < qs; i++)
        json_array_append_new(items, library_row(r, i));
    PQclear(r);
    *out = json_pack("{s:o, s:i}", "items", items, "total", qs);
    return LEND_OK;
}

/* Reads an optional integer field within [lo, hi] into buf; "" in buf means absent. */
static enum lend_status opt_int(const json_t *o, const char *key, int lo, int hi, char buf[16],
                                struct lend_err *err)
{
    buf[0] = 0;
    json_t *v = json_object_get(o, key);
    if (!v)
        return LEND_OK;
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
        return lend_fail(err, LEND_INVALID, "invalid_policy", "%s must be a whole number from %d to %d", key, lo, hi);
    snprintf(buf, 16, "%lld", (long long)json_integer_value(v));
    return LEND_OK;
}

enum lend_status lend_admin_library_update(struct db *db, const struct lend_principal *who,
                                           const char *code, const json_t *changes, json_t **out,
                                           struct lend_err *err)
{
    enum lend_status st = require_staff(who, err);
    if (st != LEND_OK)
        return st;
    if (!json_is_object(changes))
        return lend_fail(err, LEND_INVALID, "invalid_request", "send a JSON object of policy fields");
    static const char *known[] = {"loan_days", "default_loan_days", "max_loans", "max_holds",
                                  "max_renewals", "hold_days"};
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)changes, key, val) {
        bool ok = false;
        for (size_t i = 0; i < sizeof known / sizeof *known; i++)
            ok = ok || !strcmp(key, known[i]);
        if (!ok)
            return lend_fail(err, LEND_INVALID, "invalid_policy", "unknown policy field \"%s\"", key);
    }
    char days[128] = "";
    json_t *ld = json_object_get(changes, "loan_days");
    if (ld) {
        size_t n = json_array_size(ld);
        if (!json_is_array(ld) || n < 1 || n > 10)
            return lend_fail(err, LEND_INVALID, "invalid_policy", "loan_days must list 1 to 10 lengths in days");
        size_t off = 0;
        days[off++] = '{';
        for (size_t i = 0; i < n; i++) {
            json_t *d = json_array_get(ld, i);
            if (!json_is_integer(d) || json_integer_value(d) < 1 || json_integer_value(d) > 366)
                return lend_fail(err, LEND_INVALID, "invalid_policy", "each loan length must be from 1 to 366 days");
            off += (size_t)snprintf(days + off, sizeof days - off, "%s%lld", i ? "," : "",
                                    (long long)json_integer_value(d));
        }
        snprintf(days + off, sizeof days - off, "}");
    }
    char def[16], loans[16], holds[16], ren[16], hd[16];
    if ((st = opt_int(changes, "default_loan_days", 1, 366, def, err)) != LEND_OK ||
        (st = opt_int(changes, "max_loans", 0, 1000, loans, err)) != LEND_OK ||
        (st = opt_int(changes, "max_holds", 0, 1000, holds, err)) != LEND_OK ||
        (st = opt_int(changes, "max_renewals", 0, 100, ren, err)) != LEND_OK ||
        (st = opt_int(changes, "hold_days", 1, 30, hd, err)) != LEND_OK)
        return st;
#define OPT(b) ((b)[0] ? (b) : NULL)
    const char *p[9] = {who->consortium_id, scope_library(who), code, OPT(days), OPT(def),
                        OPT(loans), OPT(holds), OPT(ren), OPT(hd)};
#undef OPT
    int qs;
    PGresult *r = db_exec(db, "admin_library_update", 9, p, &qs);
    if (!r) {
        if (!strcmp(db->sqlstate, "23514"))
            return lend_fail(err, LEND_INVALID, "invalid_policy",
                             "the default loan length must be one of the lengths offered");
        return db_failed(db, qs, err);
    }
    if (qs == 0) {
        PQclear(r);
        return lend_fail(err, LEND_NOT_FOUND, "unknown_library", "no library \"%s\" here", code);
    }
    *out = library_row(r, 0);
    PQclear(r);
    return LEND_OK;
}

static json_t *patron_row(const PGresult *r, int i)
{
    return json_pack("{s:s, s:s, s:o, s:o, s:s, s:s}", "id", db_get(r, i, "id"), "card",
                     db_get(r, i, "card"), "name", str_or_null(db_get(r, i, "name")), "email",
                     str_or_null(db_get(r, i, "email")), "library", db_get(r, i, "library"),
                     "created", db_get(r, i, "created"));
}

enum lend_status lend_admin_patrons(struct db *db, const struct lend_principal *who,
                                    const char *library_code, const char *q, int page, int per_page,
                                    json_t **out, struct lend_err *err)
{
    enum lend_status st = require_staff(who, err);
    if (st != LEND_OK)
        return st;
    char limit[16], offset[32];
    snprintf(limit, sizeof limit, "%d", per_page);
    snprintf(offset, sizeof offset, "%lld", (long long)(page - 1) * per_page);
    const char *p[6] = {who->consortium_id, scope_library(who), library_code, q && *q ? q : NULL,
                        limit, offset};
    int qs;
    PGresult *r = db_exec(db, "admin_patrons", 6, p, &qs);
    if (!r)
        return db_failed(db, qs, err);
    json_t *items = json_array();
    for (int i = 0; i < qs; i++)
        json_array_append_new(items, patron_row(r, i));
    PQclear(r);
    r = db_exec(db, "admin_patrons_count", 4, p, &qs);
    if (!r) {
        json_decref(items);
        return db_failed(db, qs, err);
    }
    *out = json_pack("{s:o, s:I}", "items", items, "total", (json_int_t)strtoll(PQgetvalue(r, 0, 0), NULL, 10));
    PQclear(r);
    return LEND_OK;
}

enum lend_status lend_admin_patron(struct db *db, const struct lend_principal *who, const char *id,
                                   json_t **out, struct lend_err *err)
{
    enum lend_status st = require_staff(who, err);
    if (st != LEND_OK)
        return st;
    if (!lend_is_uuid(id))
        return lend_fail(err, LEND_NOT_FOUND, "unknown_patron", "no such patron");
    const char *p[3] = {who->consortium_id, scope_library(who), id};
    int qs;
    PGresult *r = db_exec(db, "admin_patron", 3, p, &qs);
    if (!r)
        return db_failed(db, qs, err);
    if (qs == 0) {
        PQclear(r);
        return lend_fail(err, LEND_NOT_FOUND, "unknown_patron", "no such patron");
    }
    *out = patron_row(r, 0);
    PQclear(r);
    return LEND_OK;
}
