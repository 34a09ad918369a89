/*
 * PASETO v4.public tokens (Ed25519) and the PASERK key formats k4.public, k4.secret, k4.pid
 * and k4.sid (lending/paseto.c, libsodium + jansson), written from paseto-standard's
 * paseto-spec and paserk and checked byte for byte against their test vectors.
 *
 * Only v4.public is implemented. Every other version (v1..v3) is refused as wrong_version
 * and every other purpose (v4.local) as wrong_purpose, before any decoding.
 *
 * A token is "v4.public." + b64url(m || sig) [+ "." + b64url(f)], where sig is the Ed25519
 * signature of PAE("v4.public.", m, f, i) and i is the implicit assertion (bound to the
 * signature, never carried in the token). Base64url is strict everywhere (tokens and
 * PASERK): the URL-safe alphabet only, no padding, no whitespace, no length that leaves a
 * lone character, leftover bits zero. A string that decodes but is not the canonical
 * encoding of what it decodes to is refused, so one token has exactly one spelling.
 *
 * The footer is NOT authenticated until the signature has verified. paseto_peek_footer()
 * and paseto_footer_kid() read it before that, only to choose a key; nothing else they
 * return may be trusted. Every footer read is capped in length before it is decoded, and
 * footer JSON is capped in depth and key count before and while it is parsed.
 *
 * Thread safety: this module keeps no state of its own; every function may be called from
 * any number of threads at once. Functions that need libsodium call sodium_init() (cheap
 * once done, and thread-safe since libsodium 1.0.11), so no set-up call is needed.
 *
 * Ownership: every char ** or unsigned char ** output is a malloc'd buffer the caller now
 * owns and releases with free(3); it is set to NULL on failure. Functions return 0 on
 * success and -1 on failure, with *err filled when err is not NULL.
 */
#ifndef PRETNUM_PASETO_H
#define PRETNUM_PASETO_H

#include <stddef.h>
#include <time.h>

#include <jansson.h>

/*
 * Error codes (paseto_error.code), static string constants; compare with strcmp().
 *   malformed_token   not of the shape "v4.public.<b64url>[.<b64url>]", bad base64url,
 *                     a body shorter than a signature, an empty footer after a '.'
 *   token_too_large   longer than PASETO_MAX_TOKEN_LEN characters
 *   wrong_version     another PASETO version ("v2.public.", "v3.local.")
 *   wrong_purpose     v4, but not public ("v4.local."), or a PASERK of another type
 *   bad_signature     the signature does not verify for this key, payload, footer and
 *                     implicit assertion
 *   footer_too_large  the footer would decode to more than the caller's cap
 *   malformed_footer  a footer with a NUL byte; footer JSON that is not an object, too
 *                     long, too deep, with too many or duplicate keys, or whose kid is
 *                     missing or not a k4.pid
 *   unknown_kid       paseto_verify_with_keys(): the footer names no key of the table
 *   expired           exp <= now
 *   not_yet_valid     nbf > now + leeway, or iat > now + leeway
 *   invalid_claims    claims that are not a JSON object, too large or deep, with a
 *                     registered claim of the wrong type or a malformed time, without exp
 *   invalid_key       a key or PASERK of the wrong length or encoding, a secret key whose
 *                     public half does not match its seed, a key table entry whose kid is
 *                     not the k4.pid of its key
 *   invalid_argument  a required pointer is NULL, a leeway out of range
 *   out_of_memory     an allocation of this module failed
 *   internal_error    libsodium could not be initialised, or signing failed
 */
extern const char PASETO_MALFORMED_TOKEN[];
extern const char PASETO_TOKEN_TOO_LARGE[];
extern const char PASETO_WRONG_VERSION[];
extern const char PASETO_WRONG_PURPOSE[];
extern const char PASETO_BAD_SIGNATURE[];
extern const char PASETO_FOOTER_TOO_LARGE[];
extern const char PASETO_MALFORMED_FOOTER[];
extern const char PASETO_UNKNOWN_KID[];
extern const char PASETO_EXPIRED[];
extern const char PASETO_NOT_YET_VALID[];
extern const char PASETO_INVALID_CLAIMS[];
extern const char PASETO_INVALID_KEY[];
extern const char PASETO_INVALID_ARGUMENT[];
extern const char PASETO_OUT_OF_MEMORY[];
extern const char PASETO_INTERNAL_ERROR[];

/**
 * Why a call failed. code is one of the constants above (static storage); message is for
 * people: lowercase, says what failed first, e.g. `token version "v2" is not v4`. It may
 * quote (at most 24 characters of) the token, escaped: log it, and send a client only the
 * code. It never contains key material.
 */
struct paseto_error {
    const char *code;
    char message[256];
};

#define PASETO_V4_SEED_BYTES 32
#define PASETO_V4_PUBLIC_KEY_BYTES 32
#define PASETO_V4_SECRET_KEY_BYTES 64

/** Longest token verify and peek accept, and sign produces, in characters. */
#define PASETO_MAX_TOKEN_LEN 65536
/** A suggested max_footer: {"kid":"k4.pid.…"} is 61 bytes. */
#define PASETO_DEFAULT_MAX_FOOTER 256

/** Caps of paseto_footer_kid(): bytes, nesting (the object itself is 1), keys. */
#define PASETO_FOOTER_JSON_MAX_BYTES 1024
#define PASETO_FOOTER_JSON_MAX_DEPTH 2
#define PASETO_FOOTER_JSON_MAX_KEYS 8

/** Caps of paseto_check_claims(): bytes of the payload, nesting (the object itself is 1). */
#define PASETO_CLAIMS_MAX_BYTES 16384
#define PASETO_CLAIMS_MAX_DEPTH 8
/** Largest leeway paseto_check_claims() takes, in seconds (one day). */
#define PASETO_MAX_LEEWAY 86400

/** Lengths of PASERK strings, without the NUL. */
#define PASETO_PASERK_PUBLIC_LEN 53 /* "k4.public." + 43 */
#define PASETO_PASERK_SECRET_LEN 96 /* "k4.secret." + 86 */
#define PASETO_PASERK_ID_LEN 51     /* "k4.pid." or "k4.sid." + 44 */

/** Length of a time as written in claims, "2026-11-25T15:00:00Z", without the NUL. */
#define PASETO_TIME_LEN 20

/** An Ed25519 public key for v4.public. */
struct paseto_public_key {
    unsigned char pk[PASETO_V4_PUBLIC_KEY_BYTES];
};

/**
 * An Ed25519 secret key for v4.public, as libsodium and the test vectors hold it: the
 * 32-byte seed followed by the 32-byte public key. Wipe it with paseto_secret_key_wipe()
 * when done. A key whose second half is not the public key of its seed is refused by every
 * function here (signing with it could leak the seed).
 */
struct paseto_secret_key {
    unsigned char sk[PASETO_V4_SECRET_KEY_BYTES];
};

/** Makes a new random key pair. pk may be NULL. */
int paseto_v4_keypair(struct paseto_public_key *pk, struct paseto_secret_key *sk,
                      struct paseto_error *err);

/** Makes the key pair of a 32-byte seed (deterministic). pk may be NULL. */
int paseto_v4_seed_keypair(const unsigned char seed[PASETO_V4_SEED_BYTES],
                           struct paseto_public_key *pk, struct paseto_secret_key *sk,
                           struct paseto_error *err);

/** Sets *sk from len raw bytes: exactly 64 (seed || public key), consistent (invalid_key). */
int paseto_v4_secret_key_from_bytes(const unsigned char *b, size_t len,
                                    struct paseto_secret_key *sk, struct paseto_error *err);

/** Sets *pk from len raw bytes: exactly 32 (invalid_key otherwise). */
int paseto_v4_public_key_from_bytes(const unsigned char *b, size_t len,
                                    struct paseto_public_key *pk, struct paseto_error *err);

/** Sets *pk to the public key of sk, checking that sk is consistent (invalid_key). */
int paseto_v4_public_from_secret(const struct paseto_secret_key *sk, struct paseto_public_key *pk,
                                 struct paseto_error *err);

/** Overwrites *sk with zeros in a way the compiler keeps. NULL is accepted. */
void paseto_secret_key_wipe(struct paseto_secret_key *sk);

/**
 * Signs m (mlen bytes; m may be NULL when mlen is 0) into a v4.public token. footer and
 * implicit are NUL-terminated strings; NULL or "" means none (a token with an empty footer
 * has no trailing '.'). Sets *token_out to the NUL-terminated token. Fails with
 * token_too_large when the token would exceed PASETO_MAX_TOKEN_LEN, invalid_key when sk is
 * inconsistent.
 */
int paseto_v4_sign(const struct paseto_secret_key *sk, const unsigned char *m, size_t mlen,
                   const char *footer, const char *implicit, char **token_out,
                   struct paseto_error *err);

/**
 * Verifies a v4.public token with pk and the implicit assertion (NULL or "" for none).
 *
 * In order: length (token_too_large), header (wrong_version, wrong_purpose,
 * malformed_token), the footer's length against max_footer, from its encoded length before
 * anything is decoded (footer_too_large; max_footer is in decoded bytes, 0 refuses any
 * footer), a body of at least 64 bytes and strict base64url of body and footer
 * (malformed_token), no NUL byte in the footer (malformed_footer), then the Ed25519
 * signature over PAE("v4.public.", m, f, i) (bad_signature).
 *
 * On success sets *m_out to the payload (plus a NUL not counted), *mlen to its length, and
 * *footer_out to the NUL-terminated footer, or to NULL when the token has none; m_out, mlen
 * and footer_out may each be NULL. The footer is authenticated only once this returns 0;
 * until then it is untrusted (see paseto_peek_footer()).
 */
int paseto_v4_verify(const struct paseto_public_key *pk, const char *token, const char *implicit,
                     size_t max_footer, unsigned char **m_out, size_t *mlen, char **footer_out,
                     struct paseto_error *err);

/**
 * Reads the footer of a v4.public token WITHOUT verifying anything but its shape, so that a
 * server can choose the key by kid. THE FOOTER IS UNTRUSTED: an attacker chose it. Use it
 * only to pick a key, then verify with that key (paseto_verify_with_keys() does both).
 *
 * Applies every check of paseto_v4_verify() but the signature, with the same errors. Sets
 * *footer_out to the NUL-terminated footer, or to NULL (and returns 0) when there is none.
 */
int paseto_peek_footer(const char *token, size_t max_footer, char **footer_out,
                       struct paseto_error *err);

/**
 * Reads the kid of a footer (len bytes, NUL not required): a JSON object of at most
 * PASETO_FOOTER_JSON_MAX_BYTES bytes (footer_too_large), nested at most
 * PASETO_FOOTER_JSON_MAX_DEPTH deep (checked before parsing), with at most
 * PASETO_FOOTER_JSON_MAX_KEYS keys, no duplicate key, and a "kid" that is a string
 * holding a well-formed k4.pid; anything else is malformed_footer. Other keys are allowed and
 * ignored. Copies the kid into kid (NUL-terminated). The kid is as untrusted as the footer.
 */
int paseto_footer_kid(const char *footer, size_t len, char kid[PASETO_PASERK_ID_LEN + 1],
                      struct paseto_error *err);

/** One public key of a key table, named by its k4.pid (from paseto_paserk_pid()). */
struct paseto_keyring_entry {
    char kid[PASETO_PASERK_ID_LEN + 1];
    struct paseto_public_key pk;
};

/**
 * Verifies a token with the key its footer names: peeks the footer (as paseto_peek_footer()),
 * reads its kid (as paseto_footer_kid()), finds the entry of keys[0..n) with that kid and
 * verifies with its key only (as paseto_v4_verify()). FAILS CLOSED: a token without a footer,
 * or whose kid is in no entry, is refused as unknown_kid and no key is tried; a signature
 * that does not verify with the named key is bad_signature, and no other key is tried.
 * An entry whose kid is not the k4.pid of its own key is refused as invalid_key (a table
 * built wrong must not verify anything). On success sets *index_out (may be NULL) to the
 * entry used; the outputs are as for paseto_v4_verify().
 */
int paseto_verify_with_keys(const struct paseto_keyring_entry *keys, size_t n, const char *token,
                            const char *implicit, size_t max_footer, unsigned char **m_out,
                            size_t *mlen, char **footer_out, size_t *index_out,
                            struct paseto_error *err);

/*
 * PASERK. Encoders write a NUL-terminated string into out. Decoders take the whole string:
 * another version ("k3.public.") is wrong_version, another type of k4 ("k4.local.",
 * "k4.secret." given to the public decoder) is wrong_purpose, any other defect is invalid_key.
 */

/** "k4.public." + b64url(pk). */
int paseto_paserk_public_encode(const struct paseto_public_key *pk,
                                char out[PASETO_PASERK_PUBLIC_LEN + 1], struct paseto_error *err);
int paseto_paserk_public_decode(const char *s, struct paseto_public_key *pk,
                                struct paseto_error *err);

/**
 * "k4.secret." + b64url(seed || pk). The string is as secret as the key: wipe it
 * (sodium_memzero) when done. The decoder refuses an inconsistent key (invalid_key).
 */
int paseto_paserk_secret_encode(const struct paseto_secret_key *sk,
                                char out[PASETO_PASERK_SECRET_LEN + 1], struct paseto_error *err);
int paseto_paserk_secret_decode(const char *s, struct paseto_secret_key *sk,
                                struct paseto_error *err);

/** "k4.pid." + b64url(BLAKE2b-264("k4.pid." || paserk_public(pk))): the kid of pk. */
int paseto_paserk_pid(const struct paseto_public_key *pk, char out[PASETO_PASERK_ID_LEN + 1],
                      struct paseto_error *err);

/** "k4.sid." + b64url(BLAKE2b-264("k4.sid." || paserk_secret(sk))): names sk, reveals nothing. */
int paseto_paserk_sid(const struct paseto_secret_key *sk, char out[PASETO_PASERK_ID_LEN + 1],
                      struct paseto_error *err);

/* ---- claims ---- */

/** An extra string claim. */
struct paseto_claim {
    const char *name;
    const char *value;
};

/**
 * Claims to issue. iss and sub are omitted when NULL. iat and exp are required (exp > iat);
 * nbf is written only when has_nbf (and must be < exp). extra claims are written after, in
 * order; their names may not be iss, sub, iat, exp or nbf, nor repeat one another.
 */
struct paseto_claims {
    const char *iss;
    const char *sub;
    time_t iat;
    time_t exp;
    time_t nbf;
    int has_nbf;
    const struct paseto_claim *extra;
    size_t n_extra;
};

/**
 * Writes the claims as compact JSON, keys in the order iss, sub, iat, nbf, exp, extras, times
 * as RFC 3339 UTC ("2026-11-25T15:00:00Z"), e.g.
 * {"iss":"pretnum","sub":"patron:42","iat":"2026-11-25T15:00:00Z","exp":"2026-11-25T16:00:00Z"}.
 * Sets *json_out (NUL-terminated), ready to be signed. invalid_claims for a missing or
 * invalid field (strings must be UTF-8 without NUL; times in years 0000 to 9999).
 */
int paseto_claims_build(const struct paseto_claims *c, char **json_out, struct paseto_error *err);

/**
 * Checks the claims of a verified payload (m, mlen bytes) at time now. Before parsing: at
 * most PASETO_CLAIMS_MAX_BYTES bytes and nesting at most PASETO_CLAIMS_MAX_DEPTH deep; then a
 * JSON object with no duplicate key (invalid_claims otherwise). exp is required; exp, nbf
 * and iat, when present, must be strings holding RFC 3339 times (paseto_time_parse()); iss,
 * sub, aud and jti, when present, must be strings (invalid_claims otherwise).
 * Then: exp <= now is expired (exp never gets leeway: a loan that ended has ended);
 * nbf > now + leeway or iat > now + leeway is not_yet_valid. leeway is in seconds, 0 to
 * PASETO_MAX_LEEWAY (invalid_argument otherwise).
 * On success, when claims_out is not NULL, sets *claims_out to the parsed object, which the
 * caller now owns (json_decref()).
 */
int paseto_check_claims(const unsigned char *m, size_t mlen, time_t now, time_t leeway,
                        json_t **claims_out, struct paseto_error *err);

/** Writes t as "YYYY-MM-DDTHH:MM:SSZ" (UTC). Returns -1 if its year is outside 0000..9999. */
int paseto_time_format(time_t t, char out[PASETO_TIME_LEN + 1]);

/**
 * Parses an RFC 3339 time: "YYYY-MM-DDTHH:MM:SS", optional ".fraction" (1 to 9 digits,
 * dropped), then "Z" or "+HH:MM"/"-HH:MM". T and Z must be uppercase; the date must exist
 * (leap years counted); seconds may be 60 (a leap second). Returns 0 and sets *out, or -1.
 */
int paseto_time_parse(const char *s, time_t *out);

#endif
