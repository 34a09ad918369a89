/*
 * Signing keys and loan tokens (part of the lending module). Keys live as PASERK
 * k4.secret files (mode 0600) in PRETNUM_DATA_DIR/keys, which every server behind one
 * load balancer shares with the media store; the newest signs, the others only verify,
 * until no token they signed can still be alive.
 */
#ifndef PRETNUM_KEYS_H
#define PRETNUM_KEYS_H

#include <jansson.h>
#include <time.h>

struct lend_keyring;

/** Longest life of a content token, in seconds (15 minutes; never past the loan's due). */
#define LEND_TOKEN_TTL 900

/**
 * Loads every key of data_dir/keys, making the directory and a first key when there is
 * none. Returns NULL with err filled when a key file is unreadable or not a k4.secret.
 * Release with lend_keys_free().
 */
struct lend_keyring *lend_keys_load(const char *data_dir, char *err, size_t errlen);
void lend_keys_free(struct lend_keyring *k);

/**
 * Adds a new signing key (the previous ones keep verifying), and deletes keys that were
 * replaced more than two hours ago, when no token they signed can be alive. Writes the
 * new key's k4.pid to kid. Returns 0, or -1 with err filled.
 */
int lend_keys_rotate(const char *data_dir, char kid[64], char *err, size_t errlen);

/** {"keys": [{"kid": "k4.pid...", "paserk": "k4.public..."}]}, newest first. */
json_t *lend_keys_public(const struct lend_keyring *k);

/** What a loan token says. */
struct lend_token_claims {
    const char *iss;       /* who issued it ("pretnum" or the public URL) */
    const char *sub;       /* the patron's pseudonym, never a card number */
    const char *loan, *title, *kind;
    time_t due;            /* the token never outlives the loan */
};

/**
 * Signs a token for a loan with the newest key: exp = min(now + LEND_TOKEN_TTL, due),
 * footer {"kid": ...}. *token is malloc'd (free(3)); expires gets the RFC 3339 exp.
 * Returns 0, or -1 when the loan is already due.
 */
int lend_token_issue(const struct lend_keyring *k, const struct lend_token_claims *c, time_t now,
                     char **token, char expires[32]);

/**
 * Verifies a token against the ring (by its kid, failing closed) and its claims at now.
 * On success *claims is the payload (you own it). On failure code is a PASETO error code
 * ("bad_signature", "expired", "unknown_kid"...).
 */
int lend_token_verify(const struct lend_keyring *k, const char *token, time_t now, json_t **claims,
                      const char **code);

#endif
