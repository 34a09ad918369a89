/*
 * PASETO v4.public and PASERK k4 (see include/pretnum/paseto.h). Everything a token or a
 * PASERK string carries is decoded by b64_decode_strict(), which refuses any spelling
 * that is not the canonical one, so a signature can never be replayed under a second
 * spelling of the same bytes.
 */
#include "pretnum/paseto.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

const char PASETO_MALFORMED_TOKEN[] = "malformed_token";
const char PASETO_TOKEN_TOO_LARGE[] = "token_too_large";
const char PASETO_WRONG_VERSION[] = "wrong_version";
const char PASETO_WRONG_PURPOSE[] = "wrong_purpose";
const char PASETO_BAD_SIGNATURE[] = "bad_signature";
const char PASETO_FOOTER_TOO_LARGE[] = "footer_too_large";
const char PASETO_MALFORMED_FOOTER[] = "malformed_footer";
const char PASETO_UNKNOWN_KID[] = "unknown_kid";
const char PASETO_EXPIRED[] = "expired";
const char PASETO_NOT_YET_VALID[] = "not_yet_valid";
const char PASETO_INVALID_CLAIMS[] = "invalid_claims";
const char PASETO_INVALID_KEY[] = "invalid_key";
const char PASETO_INVALID_ARGUMENT[] = "invalid_argument";
const char PASETO_OUT_OF_MEMORY[] = "out_of_memory";
const char PASETO_INTERNAL_ERROR[] = "internal_error";

_Static_assert(PASETO_V4_SEED_BYTES == crypto_sign_SEEDBYTES, "seed size");
_Static_assert(PASETO_V4_PUBLIC_KEY_BYTES == crypto_sign_PUBLICKEYBYTES, "public key size");
_Static_assert(PASETO_V4_SECRET_KEY_BYTES == crypto_sign_SECRETKEYBYTES, "secret key size");
_Static_assert(sizeof(time_t) == 8, "claims times need a 64-bit time_t");

#define B64 sodium_base64_VARIANT_URLSAFE_NO_PADDING
#define SIG_BYTES crypto_sign_BYTES
#define ID_HASH_BYTES 33 /* BLAKE2b-264 */

static const char HEADER[] = "v4.public.";
#define HEADER_LEN (sizeof HEADER - 1)

static const char PK_PREFIX[] = "k4.public.";
static const char SK_PREFIX[] = "k4.secret.";
static const char PID_PREFIX[] = "k4.pid.";
static const char SID_PREFIX[] = "k4.sid.";

__attribute__((format(printf, 3, 4))) static int fail(struct paseto_error *err, const char *code,
                                                      const char *fmt, ...)
{
    if (err) {
        va_list ap;
        err->code = code;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static int sodium_ready(struct paseto_error *err)
{
    if (sodium_init() < 0)
        return fail(err, PASETO_INTERNAL_ERROR, "could not initialise libsodium");
    return 0;
}

/*
 * Copies at most 24 characters of s[0..n) into out (at least 24 * 4 + 4 bytes), escaping
 * anything outside printable ASCII, so attacker text in a message stays short and inert.
 */
#define QUOTE_CAP (24 * 4 + 4)
static const char *quote(char out[QUOTE_CAP], const char *s, size_t n)
{
    size_t o = 0;
    size_t i;
    for (i = 0; i < n && i < 24; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
            out[o++] = (char)c;
        else
            o += (size_t)snprintf(out + o, QUOTE_CAP - o, "\\x%02x", c);
    }
    if (i < n) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = 0;
    return out;
}

static const char *qstr(char out[QUOTE_CAP], const char *s)
{
    return quote(out, s, strlen(s));
}

/* ---- strict base64url ---- */

/* Bytes that n characters of unpadded base64 decode to, or SIZE_MAX if no string has n. */
static size_t b64_decoded_len(size_t n)
{
    if (n % 4 == 1)
        return SIZE_MAX;
    return n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0);
}

/* Characters of the unpadded encoding of n bytes. */
static size_t b64_encoded_len(size_t n)
{
    return n / 3 * 4 + (n % 3 ? n % 3 + 1 : 0);
}

/*
 * Decodes exactly s[0..n) into out (room for outmax bytes), setting *outlen. Refuses what
 * libsodium refuses (bad characters, padding, whitespace, a lone trailing character; 1.0.18
 * also refuses non-zero leftover bits, but not every decoder does and a later version might
 * not), then re-encodes and compares, so only the canonical spelling passes whatever the
 * decoder's leniency. The comparison is constant-time because PASERK strings are secrets.
 */
static int b64_decode_strict(const char *s, size_t n, unsigned char *out, size_t outmax,
                             size_t *outlen)
{
    size_t want = b64_decoded_len(n);
    size_t got = 0;
    if (want == SIZE_MAX || want > outmax)
        return -1;
    if (sodium_base642bin(out, outmax, s, n, NULL, &got, NULL, B64) != 0 || got != want)
        return -1;
    size_t cap = b64_encoded_len(got) + 1;
    char *re = malloc(cap);
    if (!re)
        return -1;
    sodium_bin2base64(re, cap, out, got, B64);
    int same = strlen(re) == n && sodium_memcmp(re, s, n) == 0;
    sodium_memzero(re, cap);
    free(re);
    if (!same) {
        sodium_memzero(out, got);
        return -1;
    }
    *outlen = got;
    return 0;
}

/* Encodes in[0..n) at out, which has room for b64_encoded_len(n) + 1; returns the length. */
static size_t b64_encode(char *out, const unsigned char *in, size_t n)
{
    size_t len = b64_encoded_len(n);
    sodium_bin2base64(out, len + 1, in, n, B64);
    return len;
}

/* ---- keys ---- */

/* Whether the second half of sk is the public key of its seed. */
static int secret_consistent(const struct paseto_secret_key *sk)
{
    unsigned char pk[crypto_sign_PUBLICKEYBYTES];
    unsigned char sk2[crypto_sign_SECRETKEYBYTES];
    if (crypto_sign_seed_keypair(pk, sk2, sk->sk) != 0)
        return 0;
    int ok = sodium_memcmp(pk, sk->sk + crypto_sign_SEEDBYTES, sizeof pk) == 0;
    sodium_memzero(sk2, sizeof sk2);
    return ok;
}

static int check_secret(const struct paseto_secret_key *sk, struct paseto_error *err)
{
    if (!sk)
        return fail(err, PASETO_INVALID_ARGUMENT, "no secret key given");
    if (sodium_ready(err) != 0)
        return -1;
    if (!secret_consistent(sk))
        return fail(err, PASETO_INVALID_KEY,
                    "secret key is inconsistent (its public half is not that of its seed)");
    return 0;
}

int paseto_v4_keypair(struct paseto_public_key *pk, struct paseto_secret_key *sk,
                      struct paseto_error *err)
{
    unsigned char pub[crypto_sign_PUBLICKEYBYTES];
    if (!sk)
        return fail(err, PASETO_INVALID_ARGUMENT, "no secret key to fill");
    if (sodium_ready(err) != 0)
        return -1;
    if (crypto_sign_keypair(pub, sk->sk) != 0)
        return fail(err, PASETO_INTERNAL_ERROR, "could not generate a key pair");
    if (pk)
        memcpy(pk->pk, pub, sizeof pub);
    return 0;
}

int paseto_v4_seed_keypair(const unsigned char seed[PASETO_V4_SEED_BYTES],
                           struct paseto_public_key *pk, struct paseto_secret_key *sk,
                           struct paseto_error *err)
{
    unsigned char pub[crypto_sign_PUBLICKEYBYTES];
    if (!seed || !sk)
        return fail(err, PASETO_INVALID_ARGUMENT, "no seed or no secret key to fill");
    if (sodium_ready(err) != 0)
        return -1;
    if (crypto_sign_seed_keypair(pub, sk->sk, seed) != 0)
        return fail(err, PASETO_INTERNAL_ERROR, "could not derive a key pair");
    if (pk)
        memcpy(pk->pk, pub, sizeof pub);
    return 0;
}

int paseto_v4_secret_key_from_bytes(const unsigned char *b, size_t len,
                                    struct paseto_secret_key *sk, struct paseto_error *err)
{
    if (!b || !sk)
        return fail(err, PASETO_INVALID_ARGUMENT, "no key bytes or no secret key to fill");
    if (len != PASETO_V4_SECRET_KEY_BYTES)
        return fail(err, PASETO_INVALID_KEY, "secret key is %zu bytes, not 64", len);
    struct paseto_secret_key k;
    memcpy(k.sk, b, sizeof k.sk);
    if (check_secret(&k, err) != 0) {
        paseto_secret_key_wipe(&k);
        return -1;
    }
    *sk = k;
    paseto_secret_key_wipe(&k);
    return 0;
}

int paseto_v4_public_key_from_bytes(const unsigned char *b, size_t len,
                                    struct paseto_public_key *pk, struct paseto_error *err)
{
    if (!b || !pk)
        return fail(err, PASETO_INVALID_ARGUMENT, "no key bytes or no public key to fill");
    if (len != PASETO_V4_PUBLIC_KEY_BYTES)
        return fail(err, PASETO_INVALID_KEY, "public key is %zu bytes, not 32", len);
    memcpy(pk->pk, b, sizeof pk->pk);
    return 0;
}

int paseto_v4_public_from_secret(const struct paseto_secret_key *sk, struct paseto_public_key *pk,
                                 struct paseto_error *err)
{
    if (!pk)
        return fail(err, PASETO_INVALID_ARGUMENT, "no public key to fill");
    if (check_secret(sk, err) != 0)
        return -1;
    memcpy(pk->pk, sk->sk + crypto_sign_SEEDBYTES, sizeof pk->pk);
    return 0;
}

void paseto_secret_key_wipe(struct paseto_secret_key *sk)
{
    if (sk)
        sodium_memzero(sk->sk, sizeof sk->sk);
}

/* ---- PAE and tokens ---- */

static void le64(unsigned char *p, uint64_t n)
{
    n &= UINT64_C(0x7fffffffffffffff); /* the spec clears the top bit */
    for (int i = 0; i < 8; i++) {
        p[i] = (unsigned char)(n & 0xff);
        n >>= 8;
    }
}

/*
 * PAE("v4.public.", m, f, i) into a malloc'd buffer (*len bytes); NULL when the sizes
 * overflow or memory is short.
 */
static unsigned char *pae(const unsigned char *m, size_t mlen, const unsigned char *f, size_t flen,
                          const unsigned char *i, size_t ilen, size_t *len)
{
    const unsigned char *piece[4] = {(const unsigned char *)HEADER, m, f, i};
    size_t plen[4] = {HEADER_LEN, mlen, flen, ilen};
    size_t total = 8;
    for (int k = 0; k < 4; k++) {
        if (plen[k] > SIZE_MAX - total - 8)
            return NULL;
        total += 8 + plen[k];
    }
    unsigned char *buf = malloc(total);
    if (!buf)
        return NULL;
    unsigned char *p = buf;
    le64(p, 4);
    p += 8;
    for (int k = 0; k < 4; k++) {
        le64(p, plen[k]);
        p += 8;
        if (plen[k]) {
            memcpy(p, piece[k], plen[k]);
            p += plen[k];
        }
    }
    *len = total;
    return buf;
}

int paseto_v4_sign(const struct paseto_secret_key *sk, const unsigned char *m, size_t mlen,
                   const char *footer, const char *implicit, char **token_out,
                   struct paseto_error *err)
{
    if (token_out)
        *token_out = NULL;
    if (!token_out || (!m && mlen))
        return fail(err, PASETO_INVALID_ARGUMENT, "no payload or no place for the token");
    if (check_secret(sk, err) != 0)
        return -1;
    size_t flen = footer ? strlen(footer) : 0;
    size_t ilen = implicit ? strlen(implicit) : 0;
    if (mlen > PASETO_MAX_TOKEN_LEN || flen > PASETO_MAX_TOKEN_LEN)
        return fail(err, PASETO_TOKEN_TOO_LARGE, "payload or footer too large for a token");
    size_t body_chars = b64_encoded_len(mlen + SIG_BYTES);
    size_t foot_chars = flen ? 1 + b64_encoded_len(flen) : 0;
    size_t tlen = HEADER_LEN + body_chars + foot_chars;
    if (tlen > PASETO_MAX_TOKEN_LEN)
        return fail(err, PASETO_TOKEN_TOO_LARGE, "token would be %zu characters, over %d", tlen,
                    PASETO_MAX_TOKEN_LEN);

    size_t plen;
    unsigned char *msg = pae(m, mlen, (const unsigned char *)footer, flen,
                             (const unsigned char *)implicit, ilen, &plen);
    unsigned char *body = malloc(mlen + SIG_BYTES);
    char *tok = malloc(tlen + 1);
    int rc = -1;
    if (!msg || !body || !tok) {
        fail(err, PASETO_OUT_OF_MEMORY, "out of memory signing a token");
        goto out;
    }
    if (mlen)
        memcpy(body, m, mlen);
    if (crypto_sign_detached(body + mlen, NULL, msg, plen, sk->sk) != 0) {
        fail(err, PASETO_INTERNAL_ERROR, "signing failed");
        goto out;
    }
    memcpy(tok, HEADER, HEADER_LEN);
    size_t o = HEADER_LEN + b64_encode(tok + HEADER_LEN, body, mlen + SIG_BYTES);
    if (flen) {
        tok[o++] = '.';
        o += b64_encode(tok + o, (const unsigned char *)footer, flen);
    }
    tok[o] = 0;
    *token_out = tok;
    tok = NULL;
    rc = 0;
out:
    free(msg);
    free(body);
    free(tok);
    return rc;
}

/* A token cut into its decoded parts. footer is NULL when the token has none. */
struct parsed {
    unsigned char *body; /* m || sig */
    size_t body_len;     /* >= SIG_BYTES */
    unsigned char *footer;
    size_t footer_len;
};

static void parsed_free(struct parsed *p)
{
    free(p->body);
    free(p->footer);
    memset(p, 0, sizeof *p);
}

/* Tells a wrong version or purpose from garbage, for a token not starting with HEADER. */
static int bad_header(const char *t, size_t len, struct paseto_error *err)
{
    char q[QUOTE_CAP];
    const char *d1 = memchr(t, '.', len);
    size_t vlen = d1 ? (size_t)(d1 - t) : 0;
    int digits = vlen >= 2 && vlen <= 5 && t[0] == 'v';
    for (size_t k = 1; digits && k < vlen; k++)
        digits = t[k] >= '0' && t[k] <= '9';
    if (!digits)
        return fail(err, PASETO_MALFORMED_TOKEN, "token \"%s\" does not start with a version",
                    quote(q, t, len));
    if (vlen != 2 || t[1] != '4')
        return fail(err, PASETO_WRONG_VERSION, "token version \"%s\" is not v4", quote(q, t, vlen));
    const char *p = d1 + 1;
    const char *d2 = memchr(p, '.', len - (size_t)(p - t));
    if (!d2)
        return fail(err, PASETO_MALFORMED_TOKEN, "token \"%s\" has no purpose", quote(q, t, len));
    return fail(err, PASETO_WRONG_PURPOSE, "token purpose \"%s\" is not public",
                quote(q, p, (size_t)(d2 - p)));
}

/*
 * Cuts and decodes a token; on success the caller owns *p (parsed_free()). The footer's
 * size is checked from its encoded length before it, or anything else, is decoded.
 */
static int parse_token(const char *token, size_t max_footer, struct parsed *p,
                       struct paseto_error *err)
{
    char q[QUOTE_CAP];
    memset(p, 0, sizeof *p);
    if (!token)
        return fail(err, PASETO_INVALID_ARGUMENT, "no token given");
    size_t len = strnlen(token, PASETO_MAX_TOKEN_LEN + 1);
    if (len > PASETO_MAX_TOKEN_LEN)
        return fail(err, PASETO_TOKEN_TOO_LARGE, "token is longer than %d characters",
                    PASETO_MAX_TOKEN_LEN);
    if (len < HEADER_LEN || memcmp(token, HEADER, HEADER_LEN) != 0)
        return bad_header(token, len, err);

    const char *b = token + HEADER_LEN;
    const char *dot = memchr(b, '.', len - HEADER_LEN);
    size_t blen = dot ? (size_t)(dot - b) : len - HEADER_LEN;
    const char *f = dot ? dot + 1 : NULL;
    size_t flen = dot ? len - HEADER_LEN - blen - 1 : 0;
    if (f && memchr(f, '.', flen))
        return fail(err, PASETO_MALFORMED_TOKEN, "token has more than four parts");
    if (f && flen == 0)
        return fail(err, PASETO_MALFORMED_TOKEN, "token has an empty footer after a '.'");
    if (f) {
        size_t fdec = b64_decoded_len(flen);
        if (fdec == SIZE_MAX)
            return fail(err, PASETO_MALFORMED_TOKEN, "footer is not base64url (length %zu)", flen);
        if (fdec > max_footer)
            return fail(err, PASETO_FOOTER_TOO_LARGE, "footer of %zu bytes is over the cap of %zu",
                        fdec, max_footer);
    }

    size_t bdec = b64_decoded_len(blen);
    if (bdec == SIZE_MAX)
        return fail(err, PASETO_MALFORMED_TOKEN, "token body is not base64url (length %zu)", blen);
    if (bdec < SIG_BYTES)
        return fail(err, PASETO_MALFORMED_TOKEN,
                    "token body of %zu bytes has no room for a signature", bdec);
    p->body = malloc(bdec);
    if (!p->body)
        return fail(err, PASETO_OUT_OF_MEMORY, "out of memory decoding a token");
    if (b64_decode_strict(b, blen, p->body, bdec, &p->body_len) != 0) {
        parsed_free(p);
        return fail(err, PASETO_MALFORMED_TOKEN, "token body \"%s\" is not strict base64url",
                    quote(q, b, blen));
    }
    if (f) {
        size_t fdec = b64_decoded_len(flen);
        p->footer = malloc(fdec + 1);
        if (!p->footer) {
            parsed_free(p);
            return fail(err, PASETO_OUT_OF_MEMORY, "out of memory decoding a footer");
        }
        if (b64_decode_strict(f, flen, p->footer, fdec, &p->footer_len) != 0) {
            parsed_free(p);
            return fail(err, PASETO_MALFORMED_TOKEN, "footer \"%s\" is not strict base64url",
                        quote(q, f, flen));
        }
        p->footer[p->footer_len] = 0;
        if (memchr(p->footer, 0, p->footer_len)) {
            parsed_free(p);
            return fail(err, PASETO_MALFORMED_FOOTER, "footer contains a NUL byte");
        }
    }
    return 0;
}

/* Checks the signature of a parsed token and hands out its parts. */
static int verify_parsed(const struct paseto_public_key *pk, struct parsed *p, const char *implicit,
                         unsigned char **m_out, size_t *mlen, char **footer_out,
                         struct paseto_error *err)
{
    size_t m_len = p->body_len - SIG_BYTES;
    const unsigned char *sig = p->body + m_len;
    size_t ilen = implicit ? strlen(implicit) : 0;
    size_t plen;
    unsigned char *msg =
        pae(p->body, m_len, p->footer, p->footer_len, (const unsigned char *)implicit, ilen, &plen);
    if (!msg)
        return fail(err, PASETO_OUT_OF_MEMORY, "out of memory verifying a token");
    int ok = crypto_sign_verify_detached(sig, msg, plen, pk->pk) == 0;
    free(msg);
    if (!ok)
        return fail(err, PASETO_BAD_SIGNATURE, "token signature does not verify");

    if (m_out) {
        /* the payload is moved out in place: the signature bytes become its NUL */
        p->body[m_len] = 0;
        *m_out = p->body;
        p->body = NULL;
    }
    if (mlen)
        *mlen = m_len;
    if (footer_out) {
        *footer_out = (char *)p->footer;
        p->footer = NULL;
    }
    return 0;
}

static void clear_outputs(unsigned char **m_out, size_t *mlen, char **footer_out)
{
    if (m_out)
        *m_out = NULL;
    if (mlen)
        *mlen = 0;
    if (footer_out)
        *footer_out = NULL;
}

int paseto_v4_verify(const struct paseto_public_key *pk, const char *token, const char *implicit,
                     size_t max_footer, unsigned char **m_out, size_t *mlen, char **footer_out,
                     struct paseto_error *err)
{
    clear_outputs(m_out, mlen, footer_out);
    if (!pk)
        return fail(err, PASETO_INVALID_ARGUMENT, "no public key given");
    if (sodium_ready(err) != 0)
        return -1;
    struct parsed p;
    if (parse_token(token, max_footer, &p, err) != 0)
        return -1;
    int rc = verify_parsed(pk, &p, implicit, m_out, mlen, footer_out, err);
    parsed_free(&p);
    return rc;
}

int paseto_peek_footer(const char *token, size_t max_footer, char **footer_out,
                       struct paseto_error *err)
{
    if (footer_out)
        *footer_out = NULL;
    if (!footer_out)
        return fail(err, PASETO_INVALID_ARGUMENT, "no place for the footer");
    struct parsed p;
    if (parse_token(token, max_footer, &p, err) != 0)
        return -1;
    *footer_out = (char *)p.footer;
    p.footer = NULL;
    parsed_free(&p);
    return 0;
}

/* ---- JSON with caps ---- */

/*
 * Whether the JSON text s[0..n) nests arrays and objects at most max deep (outside strings).
 * Run before jansson, whose parser recurses, so deep input never reaches it.
 */
static int json_depth_ok(const char *s, size_t n, int max)
{
    int depth = 0, in_str = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (in_str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_str = 0;
        } else if (c == '"') {
            in_str = 1;
        } else if (c == '{' || c == '[') {
            if (++depth > max)
                return 0;
        } else if (c == '}' || c == ']') {
            depth--;
        }
    }
    return 1;
}

/* Whether s is "k4.pid." followed by the canonical base64url of 33 bytes. */
static int is_k4_pid(const char *s, size_t n)
{
    const size_t plen = sizeof PID_PREFIX - 1;
    unsigned char h[ID_HASH_BYTES];
    size_t hl;
    return n == PASETO_PASERK_ID_LEN && memcmp(s, PID_PREFIX, plen) == 0 &&
           b64_decode_strict(s + plen, n - plen, h, sizeof h, &hl) == 0 && hl == sizeof h;
}

int paseto_footer_kid(const char *footer, size_t len, char kid[PASETO_PASERK_ID_LEN + 1],
                      struct paseto_error *err)
{
    char q[QUOTE_CAP];
    if (!footer || !kid)
        return fail(err, PASETO_INVALID_ARGUMENT, "no footer or no place for the kid");
    kid[0] = 0;
    if (len > PASETO_FOOTER_JSON_MAX_BYTES)
        return fail(err, PASETO_FOOTER_TOO_LARGE, "footer of %zu bytes is over %d for JSON", len,
                    PASETO_FOOTER_JSON_MAX_BYTES);
    if (!json_depth_ok(footer, len, PASETO_FOOTER_JSON_MAX_DEPTH))
        return fail(err, PASETO_MALFORMED_FOOTER, "footer JSON is nested deeper than %d",
                    PASETO_FOOTER_JSON_MAX_DEPTH);
    json_error_t jerr;
    json_t *j = json_loadb(footer, len, JSON_REJECT_DUPLICATES, &jerr);
    int rc = -1;
    if (!j) {
        fail(err, PASETO_MALFORMED_FOOTER, "footer is not JSON: %s", jerr.text);
        goto out;
    }
    if (!json_is_object(j)) {
        fail(err, PASETO_MALFORMED_FOOTER, "footer JSON is not an object");
        goto out;
    }
    if (json_object_size(j) > PASETO_FOOTER_JSON_MAX_KEYS) {
        fail(err, PASETO_MALFORMED_FOOTER, "footer JSON has %zu keys, over %d", json_object_size(j),
             PASETO_FOOTER_JSON_MAX_KEYS);
        goto out;
    }
    json_t *k = json_object_get(j, "kid");
    if (!k) {
        fail(err, PASETO_MALFORMED_FOOTER, "footer has no kid");
        goto out;
    }
    if (!json_is_string(k)) {
        fail(err, PASETO_MALFORMED_FOOTER, "footer kid is not a string");
        goto out;
    }
    const char *ks = json_string_value(k);
    size_t kl = json_string_length(k);
    if (!is_k4_pid(ks, kl)) {
        fail(err, PASETO_MALFORMED_FOOTER, "footer kid \"%s\" is not a k4.pid", quote(q, ks, kl));
        goto out;
    }
    memcpy(kid, ks, kl + 1);
    rc = 0;
out:
    json_decref(j);
    return rc;
}

int paseto_verify_with_keys(const struct paseto_keyring_entry *keys, size_t n, const char *token,
                            const char *implicit, size_t max_footer, unsigned char **m_out,
                            size_t *mlen, char **footer_out, size_t *index_out,
                            struct paseto_error *err)
{
    char q[QUOTE_CAP];
    clear_outputs(m_out, mlen, footer_out);
    if (!keys && n)
        return fail(err, PASETO_INVALID_ARGUMENT, "no key table given");
    if (sodium_ready(err) != 0)
        return -1;
    struct parsed p;
    if (parse_token(token, max_footer, &p, err) != 0)
        return -1;
    int rc = -1;
    char kid[PASETO_PASERK_ID_LEN + 1];
    if (!p.footer) {
        fail(err, PASETO_UNKNOWN_KID, "token has no footer, so no kid");
        goto out;
    }
    if (paseto_footer_kid((const char *)p.footer, p.footer_len, kid, err) != 0)
        goto out;
    size_t i;
    for (i = 0; i < n; i++)
        if (strcmp(keys[i].kid, kid) == 0)
            break;
    if (i == n) {
        fail(err, PASETO_UNKNOWN_KID, "kid \"%s\" is not a known key", qstr(q, kid));
        goto out;
    }
    char pid[PASETO_PASERK_ID_LEN + 1];
    if (paseto_paserk_pid(&keys[i].pk, pid, err) != 0)
        goto out;
    if (strcmp(pid, keys[i].kid) != 0) {
        fail(err, PASETO_INVALID_KEY, "key table entry %zu: kid is not the k4.pid of its key", i);
        goto out;
    }
    rc = verify_parsed(&keys[i].pk, &p, implicit, m_out, mlen, footer_out, err);
    if (rc == 0 && index_out)
        *index_out = i;
out:
    parsed_free(&p);
    return rc;
}

/* ---- PASERK ---- */

/* Refuses a PASERK string that is not of type want ("k4.public."), telling why. */
static int paserk_header(const char *s, size_t len, const char *want, struct paseto_error *err)
{
    char q[QUOTE_CAP];
    size_t wl = strlen(want);
    if (len >= wl && memcmp(s, want, wl) == 0)
        return 0;
    const char *d1 = memchr(s, '.', len);
    size_t vlen = d1 ? (size_t)(d1 - s) : 0;
    int digits = vlen >= 2 && vlen <= 5 && s[0] == 'k';
    for (size_t k = 1; digits && k < vlen; k++)
        digits = s[k] >= '0' && s[k] <= '9';
    if (!digits)
        return fail(err, PASETO_INVALID_KEY, "\"%s\" is not a PASERK", quote(q, s, len));
    if (vlen != 2 || s[1] != '4')
        return fail(err, PASETO_WRONG_VERSION, "PASERK version \"%s\" is not k4",
                    quote(q, s, vlen));
    return fail(err, PASETO_WRONG_PURPOSE, "PASERK \"%s\" is not %s", quote(q, s, len), want);
}

int paseto_paserk_public_encode(const struct paseto_public_key *pk,
                                char out[PASETO_PASERK_PUBLIC_LEN + 1], struct paseto_error *err)
{
    if (!pk || !out)
        return fail(err, PASETO_INVALID_ARGUMENT, "no public key or no output");
    memcpy(out, PK_PREFIX, sizeof PK_PREFIX - 1);
    b64_encode(out + sizeof PK_PREFIX - 1, pk->pk, sizeof pk->pk);
    return 0;
}

int paseto_paserk_public_decode(const char *s, struct paseto_public_key *pk,
                                struct paseto_error *err)
{
    if (!s || !pk)
        return fail(err, PASETO_INVALID_ARGUMENT, "no PASERK or no public key to fill");
    size_t len = strnlen(s, PASETO_PASERK_SECRET_LEN + 1);
    if (paserk_header(s, len, PK_PREFIX, err) != 0)
        return -1;
    const size_t pl = sizeof PK_PREFIX - 1;
    unsigned char b[PASETO_V4_PUBLIC_KEY_BYTES];
    size_t bl;
    if (len != PASETO_PASERK_PUBLIC_LEN || b64_decode_strict(s + pl, len - pl, b, sizeof b, &bl) ||
        bl != sizeof b)
        return fail(err, PASETO_INVALID_KEY, "k4.public PASERK is not 32 bytes in base64url");
    memcpy(pk->pk, b, sizeof b);
    return 0;
}

int paseto_paserk_secret_encode(const struct paseto_secret_key *sk,
                                char out[PASETO_PASERK_SECRET_LEN + 1], struct paseto_error *err)
{
    if (!out)
        return fail(err, PASETO_INVALID_ARGUMENT, "no output");
    if (check_secret(sk, err) != 0)
        return -1;
    memcpy(out, SK_PREFIX, sizeof SK_PREFIX - 1);
    b64_encode(out + sizeof SK_PREFIX - 1, sk->sk, sizeof sk->sk);
    return 0;
}

int paseto_paserk_secret_decode(const char *s, struct paseto_secret_key *sk,
                                struct paseto_error *err)
{
    if (!s || !sk)
        return fail(err, PASETO_INVALID_ARGUMENT, "no PASERK or no secret key to fill");
    size_t len = strnlen(s, PASETO_PASERK_SECRET_LEN + 1);
    if (paserk_header(s, len, SK_PREFIX, err) != 0)
        return -1;
    const size_t pl = sizeof SK_PREFIX - 1;
    struct paseto_secret_key k;
    size_t bl;
    if (len != PASETO_PASERK_SECRET_LEN ||
        b64_decode_strict(s + pl, len - pl, k.sk, sizeof k.sk, &bl) || bl != sizeof k.sk)
        return fail(err, PASETO_INVALID_KEY, "k4.secret PASERK is not 64 bytes in base64url");
    int rc = paseto_v4_secret_key_from_bytes(k.sk, sizeof k.sk, sk, err);
    paseto_secret_key_wipe(&k);
    return rc;
}

/* prefix + b64url(BLAKE2b-264(prefix || serialized)) into out. */
static int paserk_id(const char *prefix, const char *serialized, size_t slen,
                     char out[PASETO_PASERK_ID_LEN + 1], struct paseto_error *err)
{
    crypto_generichash_state st;
    unsigned char h[ID_HASH_BYTES];
    size_t pl = strlen(prefix);
    if (crypto_generichash_init(&st, NULL, 0, sizeof h) != 0 ||
        crypto_generichash_update(&st, (const unsigned char *)prefix, pl) != 0 ||
        crypto_generichash_update(&st, (const unsigned char *)serialized, slen) != 0 ||
        crypto_generichash_final(&st, h, sizeof h) != 0)
        return fail(err, PASETO_INTERNAL_ERROR, "BLAKE2b failed");
    sodium_memzero(&st, sizeof st);
    memcpy(out, prefix, pl);
    b64_encode(out + pl, h, sizeof h);
    return 0;
}

int paseto_paserk_pid(const struct paseto_public_key *pk, char out[PASETO_PASERK_ID_LEN + 1],
                      struct paseto_error *err)
{
    char s[PASETO_PASERK_PUBLIC_LEN + 1];
    if (!out)
        return fail(err, PASETO_INVALID_ARGUMENT, "no output");
    if (paseto_paserk_public_encode(pk, s, err) != 0 || sodium_ready(err) != 0)
        return -1;
    return paserk_id(PID_PREFIX, s, PASETO_PASERK_PUBLIC_LEN, out, err);
}

int paseto_paserk_sid(const struct paseto_secret_key *sk, char out[PASETO_PASERK_ID_LEN + 1],
                      struct paseto_error *err)
{
    char s[PASETO_PASERK_SECRET_LEN + 1];
    if (!out)
        return fail(err, PASETO_INVALID_ARGUMENT, "no output");
    if (paseto_paserk_secret_encode(sk, s, err) != 0)
        return -1;
    int rc = paserk_id(SID_PREFIX, s, PASETO_PASERK_SECRET_LEN, out, err);
    sodium_memzero(s, sizeof s);
    return rc;
}

/* ---- times ---- */

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar (H. Hinnant). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int days_in_month(int y, int m)
{
    static const int dm[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : dm[m - 1];
}

/* Reads exactly n decimal digits at s. */
static int digits(const char *s, int n, int *v)
{
    *v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        *v = *v * 10 + (s[i] - '0');
    }
    return 0;
}

int paseto_time_parse(const char *s, time_t *out)
{
    int y, mo, d, h, mi, sec;
    if (!s || !out)
        return -1;
    if (strnlen(s, 20) < 20 || digits(s, 4, &y) || s[4] != '-' || digits(s + 5, 2, &mo) ||
        s[7] != '-' || digits(s + 8, 2, &d) || s[10] != 'T' || digits(s + 11, 2, &h) ||
        s[13] != ':' || digits(s + 14, 2, &mi) || s[16] != ':' || digits(s + 17, 2, &sec))
        return -1;
    if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || sec > 60)
        return -1;
    const char *p = s + 19;
    if (*p == '.') {
        int n = 0;
        for (p++; *p >= '0' && *p <= '9'; p++)
            n++;
        if (n < 1 || n > 9)
            return -1;
    }
    int64_t off = 0;
    if (*p == 'Z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int oh, om;
        if (digits(p + 1, 2, &oh) || p[3] != ':' || digits(p + 4, 2, &om) || oh > 23 || om > 59)
            return -1;
        off = (int64_t)(oh * 3600 + om * 60) * (*p == '-' ? -1 : 1);
        p += 6;
    } else {
        return -1;
    }
    if (*p)
        return -1;
    *out = (time_t)(days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - off);
    return 0;
}

int paseto_time_format(time_t t, char out[PASETO_TIME_LEN + 1])
{
    struct tm tm;
    if (!out || !gmtime_r(&t, &tm) || tm.tm_year < -1900 || tm.tm_year > 9999 - 1900)
        return -1;
    /* by hand: snprintf's int ranges make gcc warn of truncation that cannot happen */
    const int v[6] = {tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                      tm.tm_hour,        tm.tm_min,     tm.tm_sec};
    const int width[6] = {4, 2, 2, 2, 2, 2};
    const char after[6] = {'-', '-', 'T', ':', ':', 'Z'};
    char *p = out;
    for (int k = 0; k < 6; k++) {
        for (int i = width[k] - 1, n = v[k]; i >= 0; i--, n /= 10)
            p[i] = (char)('0' + n % 10);
        p += width[k];
        *p++ = after[k];
    }
    *p = 0;
    return 0;
}

/* ---- claims ---- */

static int set_string(json_t *o, const char *name, const char *value, struct paseto_error *err)
{
    char q[QUOTE_CAP];
    if (json_object_get(o, name))
        return fail(err, PASETO_INVALID_CLAIMS, "claim \"%s\" given twice", qstr(q, name));
    json_t *v = json_string(value);
    if (!v)
        return fail(err, PASETO_INVALID_CLAIMS, "claim \"%s\" is not valid UTF-8", qstr(q, name));
    if (json_object_set_new(o, name, v) != 0)
        return fail(err, PASETO_INVALID_CLAIMS, "claim name \"%s\" is not valid UTF-8",
                    qstr(q, name));
    return 0;
}

static int set_time(json_t *o, const char *name, time_t t, struct paseto_error *err)
{
    char buf[PASETO_TIME_LEN + 1];
    if (paseto_time_format(t, buf) != 0)
        return fail(err, PASETO_INVALID_CLAIMS, "claim \"%s\" is out of range", name);
    return set_string(o, name, buf, err);
}

static int reserved_name(const char *name)
{
    static const char *const r[] = {"iss", "sub", "iat", "exp", "nbf"};
    for (size_t i = 0; i < sizeof r / sizeof r[0]; i++)
        if (strcmp(name, r[i]) == 0)
            return 1;
    return 0;
}

int paseto_claims_build(const struct paseto_claims *c, char **json_out, struct paseto_error *err)
{
    char q[QUOTE_CAP];
    if (json_out)
        *json_out = NULL;
    if (!c || !json_out || (!c->extra && c->n_extra))
        return fail(err, PASETO_INVALID_ARGUMENT, "no claims or no output");
    if (c->exp <= c->iat)
        return fail(err, PASETO_INVALID_CLAIMS, "exp is not after iat");
    if (c->has_nbf && c->nbf >= c->exp)
        return fail(err, PASETO_INVALID_CLAIMS, "nbf is not before exp");
    json_t *o = json_object();
    char *s = NULL;
    int rc = -1;
    if (!o) {
        fail(err, PASETO_OUT_OF_MEMORY, "out of memory building claims");
        goto out;
    }
    if ((c->iss && set_string(o, "iss", c->iss, err)) ||
        (c->sub && set_string(o, "sub", c->sub, err)) || set_time(o, "iat", c->iat, err) ||
        (c->has_nbf && set_time(o, "nbf", c->nbf, err)) || set_time(o, "exp", c->exp, err))
        goto out;
    for (size_t i = 0; i < c->n_extra; i++) {
        const struct paseto_claim *e = &c->extra[i];
        if (!e->name || !*e->name || !e->value) {
            fail(err, PASETO_INVALID_CLAIMS, "extra claim %zu has no name or no value", i);
            goto out;
        }
        if (reserved_name(e->name)) {
            fail(err, PASETO_INVALID_CLAIMS, "extra claim \"%s\" is a registered claim",
                 qstr(q, e->name));
            goto out;
        }
        if (set_string(o, e->name, e->value, err) != 0)
            goto out;
    }
    size_t need = json_dumpb(o, NULL, 0, JSON_COMPACT);
    s = need ? malloc(need + 1) : NULL;
    if (!s || json_dumpb(o, s, need, JSON_COMPACT) != need) {
        fail(err, PASETO_OUT_OF_MEMORY, "out of memory writing claims");
        goto out;
    }
    s[need] = 0;
    *json_out = s;
    s = NULL;
    rc = 0;
out:
    free(s);
    json_decref(o);
    return rc;
}

/* Reads the optional time claim name of o into *t; *present tells whether it was there. */
static int claim_time(json_t *o, const char *name, int *present, time_t *t,
                      struct paseto_error *err)
{
    char q[QUOTE_CAP];
    json_t *v = json_object_get(o, name);
    *present = v != NULL;
    if (!v)
        return 0;
    if (!json_is_string(v))
        return fail(err, PASETO_INVALID_CLAIMS, "claim %s is not a string", name);
    const char *s = json_string_value(v);
    if (strlen(s) != json_string_length(v) || paseto_time_parse(s, t) != 0)
        return fail(err, PASETO_INVALID_CLAIMS, "claim %s \"%s\" is not an RFC 3339 time", name,
                    quote(q, s, json_string_length(v)));
    return 0;
}

int paseto_check_claims(const unsigned char *m, size_t mlen, time_t now, time_t leeway,
                        json_t **claims_out, struct paseto_error *err)
{
    char q[QUOTE_CAP];
    static const char *const strings[] = {"iss", "sub", "aud", "jti"};
    if (claims_out)
        *claims_out = NULL;
    if (!m && mlen)
        return fail(err, PASETO_INVALID_ARGUMENT, "no claims given");
    if (leeway < 0 || leeway > PASETO_MAX_LEEWAY)
        return fail(err, PASETO_INVALID_ARGUMENT, "leeway %lld is out of range", (long long)leeway);
    if (mlen > PASETO_CLAIMS_MAX_BYTES)
        return fail(err, PASETO_INVALID_CLAIMS, "claims of %zu bytes are over %d", mlen,
                    PASETO_CLAIMS_MAX_BYTES);
    if (!json_depth_ok((const char *)m, mlen, PASETO_CLAIMS_MAX_DEPTH))
        return fail(err, PASETO_INVALID_CLAIMS, "claims are nested deeper than %d",
                    PASETO_CLAIMS_MAX_DEPTH);
    json_error_t jerr;
    json_t *o = json_loadb((const char *)(m ? m : (const unsigned char *)""), mlen,
                           JSON_REJECT_DUPLICATES, &jerr);
    int rc = -1;
    if (!o) {
        fail(err, PASETO_INVALID_CLAIMS, "claims are not JSON: %s", jerr.text);
        goto out;
    }
    if (!json_is_object(o)) {
        fail(err, PASETO_INVALID_CLAIMS, "claims are not a JSON object");
        goto out;
    }
    for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++) {
        json_t *v = json_object_get(o, strings[i]);
        if (v && !json_is_string(v)) {
            fail(err, PASETO_INVALID_CLAIMS, "claim %s is not a string", strings[i]);
            goto out;
        }
    }
    int has_exp, has_nbf, has_iat;
    time_t exp = 0, nbf = 0, iat = 0;
    if (claim_time(o, "exp", &has_exp, &exp, err) || claim_time(o, "nbf", &has_nbf, &nbf, err) ||
        claim_time(o, "iat", &has_iat, &iat, err))
        goto out;
    if (!has_exp) {
        fail(err, PASETO_INVALID_CLAIMS, "claims have no exp");
        goto out;
    }
    if (exp <= now) {
        fail(err, PASETO_EXPIRED, "token expired at %s",
             qstr(q, json_string_value(json_object_get(o, "exp"))));
        goto out;
    }
    /* nbf - leeway rather than now + leeway: now comes from the caller and may be anything */
    if (has_nbf && nbf - leeway > now) {
        fail(err, PASETO_NOT_YET_VALID, "token is not valid before %s",
             qstr(q, json_string_value(json_object_get(o, "nbf"))));
        goto out;
    }
    if (has_iat && iat - leeway > now) {
        fail(err, PASETO_NOT_YET_VALID, "token is issued in the future, at %s",
             qstr(q, json_string_value(json_object_get(o, "iat"))));
        goto out;
    }
    if (claims_out) {
        *claims_out = o;
        o = NULL;
    }
    rc = 0;
out:
    json_decref(o);
    return rc;
}
