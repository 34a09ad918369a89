/*
 * Token verification, the only part of lending/paseto.c that meets bytes from outside: the
 * input, as a NUL-terminated string, goes to paseto_v4_verify() with a fixed public key, to
 * paseto_peek_footer() and paseto_footer_kid(), to paseto_verify_with_keys() with a fixed
 * two-key table, to the PASERK decoders and the time parser; the raw bytes also go to
 * paseto_check_claims() and paseto_footer_kid(). Invariants checked (abort() when broken):
 *   - a token that verifies is the one signing its payload and footer again produces, byte
 *     for byte (Ed25519 is deterministic and encoding is canonical: one token, one spelling);
 *   - the table verifies with a key only a token that this key verifies on its own;
 *   - a peeked footer is the footer the verifier returns.
 * The keys are those of seeds 00..1f and 40..5f (see tests/fuzz/corpus/paseto/).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pretnum/paseto.h"

#define MAX_FOOTER 512
#define NOW ((time_t)1795618800) /* 2026-11-25T15:00:00Z */

static const struct paseto_keyring_entry KEYS[2] = {
    {"k4.pid.aFyPJn8JR0dpgdue6cBXcpbaztu3TwZXLnZuye0dXYtz",
     {{0x03, 0xa1, 0x07, 0xbf, 0xf3, 0xce, 0x10, 0xbe, 0x1d, 0x70, 0xdd,
       0x18, 0xe7, 0x4b, 0xc0, 0x99, 0x67, 0xe4, 0xd6, 0x30, 0x9b, 0xa5,
       0x0d, 0x5f, 0x1d, 0xdc, 0x86, 0x64, 0x12, 0x55, 0x31, 0xb8}}},
    {"k4.pid.qN6EzXC3jkKoBy1pG_lKJVJAy5l9I_Am8hIUBGiXskTz",
     {{0x25, 0x43, 0xb9, 0x2f, 0xf1, 0x09, 0x55, 0x11, 0x47, 0x6a, 0xdc,
       0x83, 0x69, 0xdb, 0x6d, 0xdc, 0x93, 0x36, 0x65, 0xa1, 0x19, 0x78,
       0xdd, 0xa1, 0x40, 0x4e, 0xe1, 0x06, 0x6c, 0xa9, 0x55, 0x9d}}},
};

/* Signs m and footer again with the secret key of table entry i; must give tok back. */
static void resign_matches(size_t i, const char *tok, const unsigned char *m, size_t ml,
                           const char *footer)
{
    unsigned char seed[PASETO_V4_SEED_BYTES];
    for (size_t k = 0; k < sizeof seed; k++)
        seed[k] = (unsigned char)((i ? 0x40 : 0) + k);
    struct paseto_public_key pk;
    struct paseto_secret_key sk;
    char *again = NULL;
    if (paseto_v4_seed_keypair(seed, &pk, &sk, NULL) != 0 ||
        memcmp(pk.pk, KEYS[i].pk.pk, sizeof pk.pk) != 0 ||
        paseto_v4_sign(&sk, m, ml, footer, NULL, &again, NULL) != 0 || strcmp(again, tok) != 0)
        abort();
    free(again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *tok = malloc(size + 1);
    if (!tok)
        return 0;
    memcpy(tok, data, size);
    tok[size] = 0;
    struct paseto_error err;

    unsigned char *m = NULL;
    size_t ml = 0;
    char *footer = NULL;
    int plain = paseto_v4_verify(&KEYS[0].pk, tok, NULL, MAX_FOOTER, &m, &ml, &footer, &err);
    if (plain == 0) {
        resign_matches(0, tok, m, ml, footer);
        json_t *claims = NULL;
        if (paseto_check_claims(m, ml, NOW, 60, &claims, &err) == 0 && !claims)
            abort();
        json_decref(claims);
    } else if (m || footer || !err.code) {
        abort();
    }

    char *peeked = NULL;
    if (paseto_peek_footer(tok, MAX_FOOTER, &peeked, &err) == 0) {
        char kid[PASETO_PASERK_ID_LEN + 1];
        if (plain == 0 && (!peeked) != (!footer))
            abort();
        if (plain == 0 && peeked && strcmp(peeked, footer) != 0)
            abort();
        if (peeked && paseto_footer_kid(peeked, strlen(peeked), kid, &err) == 0 &&
            strlen(kid) != PASETO_PASERK_ID_LEN)
            abort();
    } else if (plain == 0) {
        abort();
    }
    free(peeked);

    unsigned char *km = NULL;
    size_t kml = 0, idx = 99;
    if (paseto_verify_with_keys(KEYS, 2, tok, NULL, MAX_FOOTER, &km, &kml, NULL, &idx, &err) == 0) {
        if (idx > 1 || (idx == 0 && (plain != 0 || kml != ml || memcmp(km, m, ml) != 0)))
            abort();
        if (idx == 1) {
            if (paseto_v4_verify(&KEYS[1].pk, tok, NULL, MAX_FOOTER, NULL, NULL, NULL, NULL) != 0)
                abort();
        }
    }
    free(km);
    free(m);
    free(footer);

    struct paseto_public_key pk;
    struct paseto_secret_key sk;
    paseto_paserk_public_decode(tok, &pk, &err);
    if (paseto_paserk_secret_decode(tok, &sk, &err) == 0)
        paseto_secret_key_wipe(&sk);
    time_t t;
    paseto_time_parse(tok, &t);

    char kid[PASETO_PASERK_ID_LEN + 1];
    paseto_footer_kid((const char *)data, size, kid, &err);
    json_t *claims = NULL;
    paseto_check_claims(data, size, NOW, 60, &claims, &err);
    json_decref(claims);
    free(tok);
    return 0;
}
