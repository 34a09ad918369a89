/*
 * Who may read what: the loan behind a content token, remembered for a few seconds.
 *
 * A reader fetches a book page by page and a player a stream segment by segment, each
 * request carrying the loan's token. Verifying an Ed25519 signature and asking the
 * database whether the loan is still active on every one of them would cost more than
 * sending the bytes. So a token that verified, for a loan that was active, is remembered
 * here, keyed by a BLAKE2b hash of the token (never the token itself), until the sooner
 * of the token's expiry and ACCESS_TTL_S seconds. A loan returned through this server
 * bumps a generation that forgets everything at once; a loan ended by another server
 * (or by the database) stops here within ACCESS_TTL_S, well inside the 60 seconds the
 * API promises. Forged, expired and ended loans are never remembered: they pay the full
 * check every time.
 *
 * The table is direct-mapped (a new entry replaces whatever hashed to its slot) and
 * striped over a few mutexes; a miss only costs the full check.
 */
#include "internal.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pretnum/keys.h"
#include "pretnum/loans.h"
#include "pretnum/paseto.h"

#define ACCESS_TTL_S 10
#define ACCESS_SLOTS 4096 /* a power of two */
#define ACCESS_STRIPES 16

struct slot {
    unsigned char key[16];
    time_t until;
    unsigned long long gen;
    struct srv_access a;
};

struct srv_access_cache {
    pthread_mutex_t mu[ACCESS_STRIPES];
    struct slot slots[ACCESS_SLOTS];
};

struct srv_access_cache *srv_access_new(void)
{
    struct srv_access_cache *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    for (int i = 0; i < ACCESS_STRIPES; i++)
        pthread_mutex_init(&c->mu[i], NULL);
    return c;
}

void srv_access_free(struct srv_access_cache *c)
{
    if (!c)
        return;
    for (int i = 0; i < ACCESS_STRIPES; i++)
        pthread_mutex_destroy(&c->mu[i]);
    sodium_memzero(c, sizeof *c);
    free(c);
}

void srv_access_forget(struct srv *s)
{
    atomic_fetch_add(&s->access_gen, 1);
}

json_t *srv_token_claims(struct srv_req *r, const char *token, time_t now)
{
    json_t *claims = NULL;
    const char *code = "invalid_token";
    pthread_rwlock_rdlock(&r->srv->keys_lock);
    int rc = lend_token_verify(r->srv->keys, token, now, &claims, &code);
    pthread_rwlock_unlock(&r->srv->keys_lock);
    if (rc != 0) {
        srv_reply_error(r, 401, !strcmp(code, "expired") ? "token_expired" : "invalid_token",
                        "This link has expired or is not valid; open the title again from your loans.");
        return NULL;
    }
    return claims;
}

int srv_loan_access(struct srv_req *r, const char *token, struct srv_access *out)
{
    struct srv *s = r->srv;
    time_t now = time(NULL);
    unsigned long long gen = atomic_load(&s->access_gen);
    unsigned char key[16];
    crypto_generichash(key, sizeof key, (const unsigned char *)token, strlen(token), NULL, 0);
    uint32_t h;
    memcpy(&h, key, sizeof h);
    struct slot *sl = s->access ? &s->access->slots[h & (ACCESS_SLOTS - 1)] : NULL;
    pthread_mutex_t *mu = s->access ? &s->access->mu[h % ACCESS_STRIPES] : NULL;
    if (sl) {
        pthread_mutex_lock(mu);
        bool hit = sl->until > now && sl->gen == gen && sodium_memcmp(sl->key, key, sizeof key) == 0;
        if (hit)
            *out = sl->a;
        pthread_mutex_unlock(mu);
        if (hit)
            return 0;
    }

    json_t *claims = srv_token_claims(r, token, now);
    if (!claims)
        return -1;
    const char *loan = json_string_value(json_object_get(claims, "loan")),
               *title = json_string_value(json_object_get(claims, "title"));
    time_t exp = 0;
    const char *exp_s = json_string_value(json_object_get(claims, "exp"));
    if (!exp_s || paseto_time_parse(exp_s, &exp) != 0)
        exp = 0; /* verified, so never; then simply not remembered */
    memset(out, 0, sizeof *out);
    snprintf(out->loan, sizeof out->loan, "%s", loan ? loan : "");
    snprintf(out->title, sizeof out->title, "%s", title ? title : "");
    json_decref(claims);

    struct db *db = srv_db(r);
    if (!db)
        return -1;
    struct lend_content c;
    struct lend_err err = {0};
    enum lend_status st = lend_content_loan(db, out->loan, out->title, &c, &err);
    if (st != LEND_OK) {
        srv_reply_lend(r, st == LEND_NOT_FOUND ? LEND_UNAUTHORIZED : st, &err);
        return -1;
    }
    if (!c.active) {
        srv_reply_error(r, 403, "loan_ended", "This loan has ended; borrow the title again to open it.");
        return -1;
    }
    snprintf(out->kind, sizeof out->kind, "%s", c.kind);
    snprintf(out->file_path, sizeof out->file_path, "%s", c.file_path);
    snprintf(out->sha256, sizeof out->sha256, "%s", c.sha256);
    if (sl && exp > now) {
        pthread_mutex_lock(mu);
        memcpy(sl->key, key, sizeof key);
        sl->until = exp < now + ACCESS_TTL_S ? exp : now + ACCESS_TTL_S;
        sl->gen = gen; /* as read before the check: a return meanwhile wins */
        sl->a = *out;
        pthread_mutex_unlock(mu);
    }
    return 0;
}
