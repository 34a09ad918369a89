/*
 * lending/paseto.c: every v4 vector of paseto-standard/test-vectors (4-S rebuilt byte for
 * byte and verified, 4-F and the v4.local ones refused), the PASERK k4 vectors, then
 * tampering, strict base64url, footer caps, kid lookup that fails closed, and claims.
 */
#include "testlib.h"

#include "pretnum/paseto.h"

#include <jansson.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ---- */

static const char ALPHABET[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* 2026-11-25T15:00:00Z */
#define NOW ((time_t)1795618800)

static unsigned char *unhex(const char *h, size_t *n)
{
    size_t len = strlen(h);
    assert_int_equal(len % 2, 0);
    unsigned char *b = malloc(len / 2 + 1);
    assert_non_null(b);
    for (size_t i = 0; i < len / 2; i++) {
        unsigned v;
        assert_int_equal(sscanf(h + 2 * i, "%2x", &v), 1);
        b[i] = (unsigned char)v;
    }
    *n = len / 2;
    return b;
}

static json_t *load_tests(const char *rel)
{
    size_t len;
    char *text = t_slurp(t_corpus(rel), &len);
    if (!text)
        print_message("# cannot read %s\n", t_corpus(rel));
    assert_non_null(text);
    json_error_t jerr;
    json_t *root = json_loadb(text, len, 0, &jerr);
    free(text);
    assert_non_null(root);
    json_t *tests = json_object_get(root, "tests");
    assert_true(json_is_array(tests));
    json_incref(tests);
    json_decref(root);
    return tests;
}

/* A string member of a vector; "" for null (the vectors write absent footers as ""). */
static const char *str(json_t *t, const char *name)
{
    json_t *v = json_object_get(t, name);
    return json_is_string(v) ? json_string_value(v) : "";
}

static const char *nonempty(const char *s)
{
    return *s ? s : NULL;
}

static void fixed_keys(unsigned char tag, struct paseto_public_key *pk,
                       struct paseto_secret_key *sk)
{
    unsigned char seed[PASETO_V4_SEED_BYTES];
    for (size_t i = 0; i < sizeof seed; i++)
        seed[i] = (unsigned char)(tag + i);
    assert_int_equal(paseto_v4_seed_keypair(seed, pk, sk, NULL), 0);
}

static char *sign(const struct paseto_secret_key *sk, const char *m, const char *footer,
                  const char *implicit)
{
    char *tok = NULL;
    struct paseto_error err = {0};
    int rc = paseto_v4_sign(sk, (const unsigned char *)m, strlen(m), footer, implicit, &tok, &err);
    if (rc != 0)
        print_message("# sign failed: %s: %s\n", err.code, err.message);
    assert_int_equal(rc, 0);
    assert_non_null(tok);
    return tok;
}

/* Asserts the token is refused with code (NULL: any code) and nothing is handed out. */
static void refused(const struct paseto_public_key *pk, const char *tok, const char *implicit,
                    size_t max_footer, const char *code)
{
    unsigned char *m = (unsigned char *)1;
    char *f = (char *)1;
    size_t ml = 99;
    struct paseto_error err = {0};
    int rc = paseto_v4_verify(pk, tok, implicit, max_footer, &m, &ml, &f, &err);
    if (rc == 0 || (code && strcmp(err.code, code) != 0))
        print_message("# %.120s: rc %d, %s: %s (wanted %s)\n", tok, rc,
                      err.code ? err.code : "(none)", err.message, code ? code : "any");
    assert_int_equal(rc, -1);
    assert_null(m);
    assert_null(f);
    assert_int_equal(ml, 0);
    assert_non_null(err.code);
    assert_true(strlen(err.message) > 0);
    if (code)
        assert_string_equal(err.code, code);
}

static void accepted(const struct paseto_public_key *pk, const char *tok, const char *implicit,
                     const char *want_m, const char *want_footer)
{
    unsigned char *m = NULL;
    char *f = NULL;
    size_t ml = 0;
    struct paseto_error err = {0};
    int rc = paseto_v4_verify(pk, tok, implicit, PASETO_DEFAULT_MAX_FOOTER, &m, &ml, &f, &err);
    if (rc != 0)
        print_message("# %.120s: %s: %s\n", tok, err.code, err.message);
    assert_int_equal(rc, 0);
    assert_int_equal(ml, strlen(want_m));
    assert_memory_equal(m, want_m, ml);
    assert_int_equal(m[ml], 0);
    if (want_footer)
        assert_string_equal(f, want_footer);
    else
        assert_null(f);
    free(m);
    free(f);
}

/* base64url of s, unpadded (test-side encoder, written independently of the module's). */
static char *b64(const unsigned char *s, size_t n)
{
    char *out = malloc(n / 3 * 4 + 5);
    assert_non_null(out);
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)s[i] << 16;
        if (i + 1 < n)
            v |= (unsigned)s[i + 1] << 8;
        if (i + 2 < n)
            v |= s[i + 2];
        out[o++] = ALPHABET[(v >> 18) & 63];
        out[o++] = ALPHABET[(v >> 12) & 63];
        if (i + 1 < n)
            out[o++] = ALPHABET[(v >> 6) & 63];
        if (i + 2 < n)
            out[o++] = ALPHABET[v & 63];
    }
    out[o] = 0;
    return out;
}

static int b64val(char c)
{
    const char *p = strchr(ALPHABET, c);
    assert_non_null(p);
    return (int)(p - ALPHABET);
}

/* A token built by hand from raw body (m || sig) and footer bytes. */
static char *assemble(const unsigned char *body, size_t blen, const unsigned char *f, size_t flen)
{
    char *b = b64(body, blen);
    char *fe = f ? b64(f, flen) : NULL;
    size_t n = strlen("v4.public.") + strlen(b) + (fe ? 1 + strlen(fe) : 0) + 1;
    char *t = malloc(n);
    assert_non_null(t);
    snprintf(t, n, "v4.public.%s%s%s", b, fe ? "." : "", fe ? fe : "");
    free(b);
    free(fe);
    return t;
}

/* ---- the official vectors ---- */

struct counts {
    int signed_ok, failed_ok, local_refused;
};

/* The code each 4-F vector must be refused with (what it exercises). */
static const char *f_code(const char *name)
{
    static const struct {
        const char *name, *code;
    } t[] = {
        {"4-F-1", "wrong_purpose"}, /* v4.local handed to the public verifier */
        {"4-F-2", "bad_signature"}, /* v4.public whose signature does not verify */
        {"4-F-3", "wrong_version"}, /* v3.local */
        {"4-F-4", "wrong_purpose"}, /* v4.local with a bad tag */
        {"4-F-5", "wrong_purpose"}, /* v4.local with "==" padding */
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (strcmp(t[i].name, name) == 0)
            return t[i].code;
    return NULL;
}

static struct counts run_vectors(const char *rel)
{
    struct counts c = {0};
    json_t *tests = load_tests(rel);
    struct paseto_public_key spk;
    int have_spk = 0;
    size_t i;
    json_t *t;

    json_array_foreach(tests, i, t)
    {
        const char *name = str(t, "name");
        if (strncmp(name, "4-S-", 4) != 0)
            continue;
        assert_false(json_is_true(json_object_get(t, "expect-fail")));
        size_t skl, pkl, seedl;
        unsigned char *skb = unhex(str(t, "secret-key"), &skl);
        unsigned char *pkb = unhex(str(t, "public-key"), &pkl);
        unsigned char *seed = unhex(str(t, "secret-key-seed"), &seedl);
        struct paseto_secret_key sk, sk2;
        struct paseto_public_key pk, pk2;
        assert_int_equal(paseto_v4_secret_key_from_bytes(skb, skl, &sk, NULL), 0);
        assert_int_equal(paseto_v4_public_key_from_bytes(pkb, pkl, &pk, NULL), 0);
        assert_int_equal(seedl, PASETO_V4_SEED_BYTES);
        assert_int_equal(paseto_v4_seed_keypair(seed, &pk2, &sk2, NULL), 0);
        assert_memory_equal(sk2.sk, sk.sk, sizeof sk.sk);
        assert_memory_equal(pk2.pk, pk.pk, sizeof pk.pk);
        assert_int_equal(paseto_v4_public_from_secret(&sk, &pk2, NULL), 0);
        assert_memory_equal(pk2.pk, pk.pk, sizeof pk.pk);

        const char *payload = str(t, "payload");
        const char *footer = nonempty(str(t, "footer"));
        const char *implicit = nonempty(str(t, "implicit-assertion"));
        char *tok = sign(&sk, payload, footer, implicit);
        if (strcmp(tok, str(t, "token")) != 0)
            print_message("# %s: built %s\n#   expected %s\n", name, tok, str(t, "token"));
        assert_string_equal(tok, str(t, "token"));
        accepted(&pk, str(t, "token"), implicit, payload, footer);
        /* the implicit assertion is bound: a different one (or none) is refused */
        refused(&pk, tok, implicit ? NULL : "x", PASETO_DEFAULT_MAX_FOOTER, "bad_signature");
        free(tok);
        spk = pk;
        have_spk = 1;
        paseto_secret_key_wipe(&sk);
        paseto_secret_key_wipe(&sk2);
        free(skb);
        free(pkb);
        free(seed);
        c.signed_ok++;
    }
    assert_true(have_spk);

    json_array_foreach(tests, i, t)
    {
        const char *name = str(t, "name");
        const char *implicit = nonempty(str(t, "implicit-assertion"));
        struct paseto_public_key pk = spk;
        if (json_is_string(json_object_get(t, "public-key"))) {
            size_t pkl;
            unsigned char *pkb = unhex(str(t, "public-key"), &pkl);
            assert_int_equal(paseto_v4_public_key_from_bytes(pkb, pkl, &pk, NULL), 0);
            free(pkb);
        }
        if (json_is_true(json_object_get(t, "expect-fail"))) {
            refused(&pk, str(t, "token"), implicit, PASETO_DEFAULT_MAX_FOOTER, f_code(name));
            /* and with a footer cap large enough for anything, and no implicit assertion */
            refused(&pk, str(t, "token"), NULL, PASETO_MAX_TOKEN_LEN, NULL);
            c.failed_ok++;
        } else if (strncmp(name, "4-E-", 4) == 0) {
            assert_int_equal(strncmp(str(t, "token"), "v4.local.", 9), 0);
            refused(&pk, str(t, "token"), implicit, PASETO_DEFAULT_MAX_FOOTER, "wrong_purpose");
            c.local_refused++;
        }
    }
    json_decref(tests);
    return c;
}

static void test_v4_vectors(void **state)
{
    (void)state;
    struct counts c = run_vectors("paseto/v4.json");
    print_message("# v4.json: %d 4-S reproduced byte for byte and verified, %d 4-F refused, "
                  "%d 4-E (v4.local) refused as wrong_purpose\n",
                  c.signed_ok, c.failed_ok, c.local_refused);
    assert_int_equal(c.signed_ok, 3);
    assert_int_equal(c.failed_ok, 5);
    assert_int_equal(c.local_refused, 9);
}

static void test_v4_public_only_vectors(void **state)
{
    (void)state;
    struct counts c = run_vectors("paseto/v4.public-only.json");
    print_message("# v4.public-only.json: %d 4-S reproduced and verified, %d 4-F refused\n",
                  c.signed_ok, c.failed_ok);
    assert_int_equal(c.signed_ok, 3);
    assert_int_equal(c.failed_ok, 2);
    assert_int_equal(c.local_refused, 0);
}

/* The payload of the vectors carries "exp":"2022-01-01T00:00:00+00:00". */
static void test_vector_claims(void **state)
{
    (void)state;
    const char *m = "{\"data\":\"this is a signed message\",\"exp\":\"2022-01-01T00:00:00+00:00\"}";
    struct paseto_error err = {0};
    assert_int_equal(
        paseto_check_claims((const unsigned char *)m, strlen(m), 1640995199, 0, NULL, &err), 0);
    assert_int_equal(
        paseto_check_claims((const unsigned char *)m, strlen(m), 1640995200, 0, NULL, &err), -1);
    assert_string_equal(err.code, "expired");
}

/* ---- PASERK vectors ---- */

static void test_paserk_public_vectors(void **state)
{
    (void)state;
    json_t *tests = load_tests("paseto/PASERK/k4.public.json");
    int ok = 0, refused_n = 0;
    size_t i;
    json_t *t;
    json_array_foreach(tests, i, t)
    {
        size_t kl;
        unsigned char *kb = unhex(str(t, "key"), &kl);
        struct paseto_public_key pk;
        struct paseto_error err = {0};
        if (json_is_true(json_object_get(t, "expect-fail"))) {
            assert_int_equal(paseto_v4_public_key_from_bytes(kb, kl, &pk, &err), -1);
            assert_string_equal(err.code, "invalid_key");
            refused_n++;
        } else {
            char out[PASETO_PASERK_PUBLIC_LEN + 1];
            assert_int_equal(paseto_v4_public_key_from_bytes(kb, kl, &pk, NULL), 0);
            assert_int_equal(paseto_paserk_public_encode(&pk, out, NULL), 0);
            assert_string_equal(out, str(t, "paserk"));
            struct paseto_public_key back;
            assert_int_equal(paseto_paserk_public_decode(str(t, "paserk"), &back, NULL), 0);
            assert_memory_equal(back.pk, kb, kl);
            ok++;
        }
        free(kb);
    }
    json_decref(tests);
    print_message("# k4.public: %d encoded and decoded, %d refused\n", ok, refused_n);
    assert_int_equal(ok, 3);
    assert_int_equal(refused_n, 1);
}

static void test_paserk_secret_vectors(void **state)
{
    (void)state;
    json_t *tests = load_tests("paseto/PASERK/k4.secret.json");
    int ok = 0, refused_n = 0;
    size_t i;
    json_t *t;
    json_array_foreach(tests, i, t)
    {
        size_t kl;
        unsigned char *kb = unhex(str(t, "key"), &kl);
        struct paseto_secret_key sk;
        struct paseto_error err = {0};
        if (json_is_true(json_object_get(t, "expect-fail"))) {
            assert_int_equal(paseto_v4_secret_key_from_bytes(kb, kl, &sk, &err), -1);
            assert_string_equal(err.code, "invalid_key");
            refused_n++;
        } else {
            char out[PASETO_PASERK_SECRET_LEN + 1];
            assert_int_equal(paseto_v4_secret_key_from_bytes(kb, kl, &sk, NULL), 0);
            assert_int_equal(paseto_paserk_secret_encode(&sk, out, NULL), 0);
            assert_string_equal(out, str(t, "paserk"));
            struct paseto_secret_key back;
            assert_int_equal(paseto_paserk_secret_decode(str(t, "paserk"), &back, NULL), 0);
            assert_memory_equal(back.sk, kb, kl);
            /* the seed and the public key the vector gives agree with the key */
            size_t sl, pl;
            unsigned char *seed = unhex(str(t, "secret-key-seed"), &sl);
            unsigned char *pkb = unhex(str(t, "public-key"), &pl);
            struct paseto_secret_key fromseed;
            struct paseto_public_key pk;
            assert_int_equal(paseto_v4_seed_keypair(seed, &pk, &fromseed, NULL), 0);
            assert_memory_equal(fromseed.sk, kb, kl);
            assert_memory_equal(pk.pk, pkb, pl);
            free(seed);
            free(pkb);
            ok++;
        }
        free(kb);
    }
    json_decref(tests);
    print_message("# k4.secret: %d encoded and decoded, %d refused\n", ok, refused_n);
    assert_int_equal(ok, 3);
    assert_int_equal(refused_n, 2);
}

static void test_paserk_pid_vectors(void **state)
{
    (void)state;
    json_t *tests = load_tests("paseto/PASERK/k4.pid.json");
    int ok = 0, refused_n = 0;
    size_t i;
    json_t *t;
    json_array_foreach(tests, i, t)
    {
        size_t kl;
        unsigned char *kb = unhex(str(t, "key"), &kl);
        struct paseto_public_key pk;
        struct paseto_error err = {0};
        if (json_is_true(json_object_get(t, "expect-fail"))) {
            assert_int_equal(paseto_v4_public_key_from_bytes(kb, kl, &pk, &err), -1);
            assert_string_equal(err.code, "invalid_key");
            refused_n++;
        } else {
            char out[PASETO_PASERK_ID_LEN + 1];
            assert_int_equal(paseto_v4_public_key_from_bytes(kb, kl, &pk, NULL), 0);
            assert_int_equal(paseto_paserk_pid(&pk, out, NULL), 0);
            assert_string_equal(out, str(t, "paserk"));
            /* a footer naming it yields it back */
            char footer[128], kid[PASETO_PASERK_ID_LEN + 1];
            snprintf(footer, sizeof footer, "{\"kid\":\"%s\"}", out);
            assert_int_equal(paseto_footer_kid(footer, strlen(footer), kid, NULL), 0);
            assert_string_equal(kid, out);
            ok++;
        }
        free(kb);
    }
    json_decref(tests);
    print_message("# k4.pid: %d matched, %d refused\n", ok, refused_n);
    assert_int_equal(ok, 3);
    assert_int_equal(refused_n, 2);
}

static void test_paserk_sid_vectors(void **state)
{
    (void)state;
    json_t *tests = load_tests("paseto/PASERK/k4.sid.json");
    int ok = 0, refused_n = 0;
    size_t i;
    json_t *t;
    json_array_foreach(tests, i, t)
    {
        size_t kl;
        unsigned char *kb = unhex(str(t, "key"), &kl);
        struct paseto_secret_key sk;
        struct paseto_error err = {0};
        if (json_is_true(json_object_get(t, "expect-fail"))) {
            assert_int_equal(paseto_v4_secret_key_from_bytes(kb, kl, &sk, &err), -1);
            assert_string_equal(err.code, "invalid_key");
            refused_n++;
        } else {
            char out[PASETO_PASERK_ID_LEN + 1];
            assert_int_equal(paseto_v4_secret_key_from_bytes(kb, kl, &sk, NULL), 0);
            assert_int_equal(paseto_paserk_sid(&sk, out, NULL), 0);
            assert_string_equal(out, str(t, "paserk"));
            size_t sl;
            unsigned char *seed = unhex(str(t, "seed"), &sl);
            assert_memory_equal(seed, kb, sl);
            free(seed);
            ok++;
        }
        free(kb);
    }
    json_decref(tests);
    print_message("# k4.sid: %d matched, %d refused\n", ok, refused_n);
    assert_int_equal(ok, 3);
    assert_int_equal(refused_n, 1);
}

static void paserk_refused(const char *s, const char *code)
{
    struct paseto_public_key pk;
    struct paseto_secret_key sk;
    struct paseto_error err = {0};
    int rc = strstr(s, ".secret.") != NULL ? paseto_paserk_secret_decode(s, &sk, &err)
                                           : paseto_paserk_public_decode(s, &pk, &err);
    if (rc == 0 || strcmp(err.code, code) != 0)
        print_message("# %s: rc %d %s (wanted %s)\n", s, rc, err.code ? err.code : "-", code);
    assert_int_equal(rc, -1);
    assert_string_equal(err.code, code);
}

static void test_paserk_strict(void **state)
{
    (void)state;
    /* k4.public-2's key is cHFy...jo8: its last character carries 2 leftover bits */
    paserk_refused("k4.public.cHFyc3R1dnd4eXp7fH1-f4CBgoOEhYaHiImKi4yNjo8=", "invalid_key");
    paserk_refused("k4.public.cHFyc3R1dnd4eXp7fH1-f4CBgoOEhYaHiImKi4yNjo9", "invalid_key");
    paserk_refused("k4.public.cHFyc3R1dnd4eXp7fH1+f4CBgoOEhYaHiImKi4yNjo8", "invalid_key");
    paserk_refused("k4.public.cHFyc3R1dnd4eXp7fH1-f4CBgoOEhYaHiImKi4yNjo", "invalid_key");
    paserk_refused("k4.public.cHFyc3R1dnd4eXp7fH1-f4CBgoOEhYaHiImKi4yNjo8A", "invalid_key");
    paserk_refused("k4.public. HFyc3R1dnd4eXp7fH1-f4CBgoOEhYaHiImKi4yNjo8", "invalid_key");
    paserk_refused("k3.public.cHFyc3R1dnd4eXp7fH1-f4CBgoOEhYaHiImKi4yNjo8", "wrong_version");
    paserk_refused("k4.local.cHFyc3R1dnd4eXp7fH1-f4CBgoOEhYaHiImKi4yNjo8", "wrong_purpose");
    paserk_refused("K4.public.cHFyc3R1dnd4eXp7fH1-f4CBgoOEhYaHiImKi4yNjo8", "invalid_key");
    paserk_refused("", "invalid_key");
    /* a k4.secret whose public half is not its seed's (k4.secret-2 with its last byte +1) */
    paserk_refused(
        "k4.secret.cHFyc3R1dnd4eXp7fH1-f4CBgoOEhYaHiImKi4yNjo8c5WpIyC_5kWKhS8VEYSZ05dYfuT"
        "F-ZdQFV4D9vLTcNg",
        "invalid_key");
    paserk_refused(
        "k4.secret.cHFyc3R1dnd4eXp7fH1-f4CBgoOEhYaHiImKi4yNjo8c5WpIyC_5kWKhS8VEYSZ05dYfuT"
        "F-ZdQFV4D9vLTcNR",
        "invalid_key");
    paserk_refused(
        "k2.secret.cHFyc3R1dnd4eXp7fH1-f4CBgoOEhYaHiImKi4yNjo8c5WpIyC_5kWKhS8VEYSZ05dYfuT"
        "F-ZdQFV4D9vLTcNQ",
        "wrong_version");
    /* a secret handed to the public decoder */
    struct paseto_public_key pk;
    struct paseto_error err = {0};
    assert_int_equal(paseto_paserk_public_decode("k4.secret.cHFyc3R1dnd4eXp7fH1-f4CBgoOEhYaHiImKi4y"
                                                 "Njo8c5WpIyC_5kWKhS8VEYSZ05dYfuTF-ZdQFV4D9vLTcNQ",
                                                 &pk, &err),
                     -1);
    assert_string_equal(err.code, "wrong_purpose");
    /* and the canonical one passes, so the refusals above are about the defects */
    struct paseto_secret_key sk;
    assert_int_equal(paseto_paserk_secret_decode("k4.secret.cHFyc3R1dnd4eXp7fH1-f4CBgoOEhYaHiImKi4y"
                                                 "Njo8c5WpIyC_5kWKhS8VEYSZ05dYfuTF-ZdQFV4D9vLTcNQ",
                                                 &sk, NULL),
                     0);
    assert_int_equal(sk.sk[63], 0x35);
}

/* ---- round trips ---- */

static void test_roundtrip_lengths(void **state)
{
    (void)state;
    struct paseto_public_key pk;
    struct paseto_secret_key sk;
    fixed_keys(0, &pk, &sk);
    char m[200], f[40];
    for (size_t ml = 0; ml < 140; ml++) {
        for (size_t i = 0; i < ml; i++)
            m[i] = (char)('a' + (i * 7 + ml) % 26);
        m[ml] = 0;
        size_t fl = ml % 7;
        memset(f, 'F', fl);
        f[fl] = 0;
        char *tok = sign(&sk, m, fl ? f : NULL, ml % 3 ? "ia" : NULL);
        size_t enc = ((ml + 64) / 3) * 4 + ((ml + 64) % 3 ? (ml + 64) % 3 + 1 : 0);
        assert_int_equal(strcspn(tok + 10, "."), enc);
        accepted(&pk, tok, ml % 3 ? "ia" : NULL, m, fl ? f : NULL);
        free(tok);
    }
    /* an empty footer string is no footer: no trailing '.' */
    char *tok = sign(&sk, "x", "", "");
    assert_null(strchr(tok + 10, '.'));
    free(tok);
}

static void test_sign_refuses_inconsistent_key(void **state)
{
    (void)state;
    struct paseto_public_key pk;
    struct paseto_secret_key sk;
    fixed_keys(1, &pk, &sk);
    sk.sk[40] ^= 1;
    char *tok = (char *)1;
    struct paseto_error err = {0};
    assert_int_equal(paseto_v4_sign(&sk, (const unsigned char *)"m", 1, NULL, NULL, &tok, &err),
                     -1);
    assert_null(tok);
    assert_string_equal(err.code, "invalid_key");
    char paserk[PASETO_PASERK_SECRET_LEN + 1];
    assert_int_equal(paseto_paserk_secret_encode(&sk, paserk, &err), -1);
    assert_int_equal(paseto_v4_public_from_secret(&sk, &pk, &err), -1);
    unsigned char raw[64];
    memcpy(raw, sk.sk, 64);
    assert_int_equal(paseto_v4_secret_key_from_bytes(raw, 64, &sk, &err), -1);
    assert_string_equal(err.code, "invalid_key");
    assert_int_equal(paseto_v4_secret_key_from_bytes(raw, 63, &sk, &err), -1);
    /* too large to be a token */
    fixed_keys(1, &pk, &sk);
    size_t big = PASETO_MAX_TOKEN_LEN;
    unsigned char *mb = calloc(1, big);
    assert_non_null(mb);
    /* 49081 + 64 bytes take 65527 characters, one too many with the header */
    assert_int_equal(paseto_v4_sign(&sk, mb, 49081, NULL, NULL, &tok, &err), -1);
    assert_string_equal(err.code, "token_too_large");
    assert_null(tok);
    assert_int_equal(paseto_v4_sign(&sk, mb, 49079, "ab", NULL, &tok, &err), -1);
    assert_string_equal(err.code, "token_too_large");
    assert_int_equal(paseto_v4_sign(&sk, mb, 49080, NULL, NULL, &tok, &err), 0);
    assert_int_equal(strlen(tok), big);
    refused(&pk, "x", NULL, 0, "malformed_token");
    unsigned char *out = NULL;
    size_t ol = 0;
    assert_int_equal(paseto_v4_verify(&pk, tok, NULL, 0, &out, &ol, NULL, &err), 0);
    assert_int_equal(ol, 49080);
    free(out);
    free(tok);
    free(mb);
}

static void test_keypair_fresh(void **state)
{
    (void)state;
    struct paseto_public_key pk, pk2, pk3;
    struct paseto_secret_key sk, sk2;
    assert_int_equal(paseto_v4_keypair(&pk, &sk, NULL), 0);
    assert_int_equal(paseto_v4_keypair(&pk2, &sk2, NULL), 0);
    assert_memory_not_equal(pk.pk, pk2.pk, sizeof pk.pk);
    assert_int_equal(paseto_v4_public_from_secret(&sk, &pk3, NULL), 0);
    assert_memory_equal(pk.pk, pk3.pk, sizeof pk.pk);
    char *tok = sign(&sk, "{}", NULL, NULL);
    accepted(&pk, tok, NULL, "{}", NULL);
    refused(&pk2, tok, NULL, 0, "bad_signature");
    free(tok);
    paseto_secret_key_wipe(&sk);
    for (size_t i = 0; i < sizeof sk.sk; i++)
        assert_int_equal(sk.sk[i], 0);
}

/* ---- tampering ---- */

static void test_tamper_each_byte(void **state)
{
    (void)state;
    struct paseto_public_key pk;
    struct paseto_secret_key sk;
    assert_int_equal(paseto_v4_keypair(&pk, &sk, NULL), 0);
    char kid[PASETO_PASERK_ID_LEN + 1], footer[100];
    assert_int_equal(paseto_paserk_pid(&pk, kid, NULL), 0);
    snprintf(footer, sizeof footer, "{\"kid\":\"%s\"}", kid);
    const char *m = "{\"sub\":\"patron:42\",\"exp\":\"2026-11-25T16:00:00Z\"}";
    char *tok = sign(&sk, m, footer, "loan:7");

    /* decode the parts with the test's own means */
    unsigned char *body = NULL, *foot = NULL;
    size_t blen = 0, flen = 0;
    assert_int_equal(paseto_v4_verify(&pk, tok, "loan:7", 256, &body, &blen, (char **)&foot, NULL),
                     0);
    flen = strlen((char *)foot);
    unsigned char full[512];
    assert_int_equal(blen, strlen(m));
    memcpy(full, body, blen);
    /* the signature is what the token carries after the payload */
    {
        const char *b = tok + 10;
        size_t bl = strcspn(b, ".");
        size_t n = 0;
        unsigned acc = 0;
        int bits = 0;
        for (size_t i = 0; i < bl; i++) {
            acc = (acc << 6) | (unsigned)b64val(b[i]);
            bits += 6;
            if (bits >= 8) {
                bits -= 8;
                full[n++] = (unsigned char)(acc >> bits);
            }
        }
        assert_int_equal(n, blen + 64);
    }
    size_t total = blen + 64;
    char *again = assemble(full, total, foot, flen);
    assert_string_equal(again, tok); /* the reassembly is faithful */
    free(again);

    int tried = 0;
    for (size_t i = 0; i < total; i++) {
        full[i] ^= 0x01;
        char *t = assemble(full, total, foot, flen);
        refused(&pk, t, "loan:7", 256, "bad_signature");
        free(t);
        full[i] ^= 0x01;
        full[i] ^= 0x80;
        t = assemble(full, total, foot, flen);
        refused(&pk, t, "loan:7", 256, "bad_signature");
        free(t);
        full[i] ^= 0x80;
        tried += 2;
    }
    for (size_t i = 0; i < flen; i++) {
        foot[i] ^= 0x01;
        char *t = assemble(full, total, foot, flen);
        refused(&pk, t, "loan:7", 256, "bad_signature");
        free(t);
        foot[i] ^= 0x01;
        tried++;
    }
    /* each character of the token text replaced by another of the alphabet */
    size_t tl = strlen(tok);
    for (size_t i = 10; i < tl; i++) {
        if (tok[i] == '.')
            continue;
        char keep = tok[i];
        tok[i] = ALPHABET[(b64val(keep) + 1 + (int)(i % 63)) % 64];
        refused(&pk, tok, "loan:7", 256, NULL);
        tok[i] = keep;
        tried++;
    }
    accepted(&pk, tok, "loan:7", m, footer);
    print_message("# %d tampered tokens refused\n", tried);
    assert_int_equal(tried, (int)(2 * total + flen + tl - 10 - 1));
    free(body);
    free(foot);
    free(tok);
}

/* ---- strictness ---- */

static char *with(const char *tok, size_t at, size_t drop, const char *ins)
{
    size_t n = strlen(tok) - drop + strlen(ins) + 1;
    char *t = malloc(n);
    assert_non_null(t);
    snprintf(t, n, "%.*s%s%s", (int)at, tok, ins, tok + at + drop);
    return t;
}

/* Sets leftover bits in the last character of the part ending at end (exclusive). */
static char *trailing_bits(const char *tok, size_t end)
{
    char *t = strdup(tok);
    assert_non_null(t);
    int v = b64val(t[end - 1]);
    assert_int_equal(v & 1, 0);
    t[end - 1] = ALPHABET[v | 1];
    return t;
}

static void test_strict_base64(void **state)
{
    (void)state;
    struct paseto_public_key pk;
    struct paseto_secret_key sk;
    fixed_keys(7, &pk, &sk);
    /* 65 + 64 bytes: 172 characters, no leftover bits; 66 + 64 = 130: 174, 4 bits over */
    char m65[66], m66[67], m67[68];
    memset(m65, 'a', 65);
    m65[65] = 0;
    memset(m66, 'b', 66);
    m66[66] = 0;
    memset(m67, 'c', 67);
    m67[67] = 0;
    char *t0 = sign(&sk, m65, "ff", NULL); /* footer "ff": 3 chars, 2 bits over */
    char *t1 = sign(&sk, m66, "f", NULL);  /* footer "f": 2 chars, 4 bits over */
    char *t2 = sign(&sk, m67, "fff", NULL);
    size_t b0 = 10 + strcspn(t0 + 10, "."), b1 = 10 + strcspn(t1 + 10, "."),
           b2 = 10 + strcspn(t2 + 10, ".");
    assert_int_equal(b0 - 10, 172);
    assert_int_equal(b1 - 10, 174);
    assert_int_equal(b2 - 10, 175);
    accepted(&pk, t0, NULL, m65, "ff");
    accepted(&pk, t1, NULL, m66, "f");
    accepted(&pk, t2, NULL, m67, "fff");

    /* non-zero leftover bits: same decoded bytes, so only strictness stops them */
    char *t;
    t = trailing_bits(t1, b1);
    refused(&pk, t, NULL, 256, "malformed_token");
    free(t);
    t = trailing_bits(t2, b2);
    refused(&pk, t, NULL, 256, "malformed_token");
    free(t);
    t = trailing_bits(t0, strlen(t0));
    refused(&pk, t, NULL, 256, "malformed_token");
    free(t);
    t = trailing_bits(t1, strlen(t1));
    refused(&pk, t, NULL, 256, "malformed_token");
    free(t);

    /* padding, on the body and on the footer */
    const char *pads[] = {"=", "==", "==="};
    for (int k = 0; k < 3; k++) {
        t = with(t1, b1, 0, pads[k]);
        refused(&pk, t, NULL, 256, "malformed_token");
        free(t);
        t = with(t1, strlen(t1), 0, pads[k]);
        refused(&pk, t, NULL, 256, "malformed_token");
        free(t);
        t = with(t0, b0, 0, pads[k]);
        refused(&pk, t, NULL, 256, "malformed_token");
        free(t);
    }
    /* whitespace anywhere */
    const char *ws[] = {" ", "\n", "\r\n", "\t"};
    for (int k = 0; k < 4; k++) {
        size_t at[] = {10, 40, b0, b0 + 1, strlen(t0)};
        for (size_t a = 0; a < sizeof at / sizeof at[0]; a++) {
            t = with(t0, at[a], 0, ws[k]);
            refused(&pk, t, NULL, 256, NULL);
            free(t);
        }
    }
    /* '+' and '/' in place of '-' and '_' (standard base64, same bits) */
    int swapped = 0;
    const char *toks[] = {t0, t1, t2};
    for (int k = 0; k < 3; k++) {
        char *c = strdup(toks[k]);
        for (char *p = c + 10; *p; p++) {
            if (*p == '-' || *p == '_') {
                char keep = *p;
                *p = keep == '-' ? '+' : '/';
                refused(&pk, c, NULL, 256, "malformed_token");
                *p = keep;
                swapped++;
            }
        }
        free(c);
    }
    print_message("# %d tokens with '+' or '/' for '-' or '_' refused\n", swapped);
    assert_true(swapped > 0);

    /* empty payload, short body, truncated signature */
    refused(&pk, "v4.public.", NULL, 256, "malformed_token");
    refused(&pk, "v4.public..Zg", NULL, 256, "malformed_token");
    char *short_body = with(t0, 10 + 84, b0 - 10 - 84, ""); /* 63 bytes */
    refused(&pk, short_body, NULL, 256, "malformed_token");
    free(short_body);
    t = with(t1, b1 - 1, 1, ""); /* 173 characters: a lone leftover character */
    refused(&pk, t, NULL, 256, "malformed_token");
    free(t);
    t = with(t0, b0 - 1, 1, ""); /* 171 characters: leftover bits or a shifted signature */
    refused(&pk, t, NULL, 256, NULL);
    free(t);
    t = with(t0, b0 - 4, 4, ""); /* three bytes less: the signature shifts */
    refused(&pk, t, NULL, 256, "bad_signature");
    free(t);
    t = with(t1, b1 - 2, 2, ""); /* a valid length again: the signature shifts */
    refused(&pk, t, NULL, 256, "bad_signature");
    free(t);
    t = with(t1, b1 - 3, 3, ""); /* 171 characters: leftover bits */
    refused(&pk, t, NULL, 256, "malformed_token");
    free(t);
    /* a payload with a signature of zeros, and a body of exactly 64 bytes */
    unsigned char zeros[64] = {0};
    t = assemble(zeros, 64, NULL, 0);
    refused(&pk, t, NULL, 256, "bad_signature");
    free(t);
    free(t0);
    free(t1);
    free(t2);
}

static void test_headers(void **state)
{
    (void)state;
    struct paseto_public_key pk;
    struct paseto_secret_key sk;
    fixed_keys(9, &pk, &sk);
    char *tok = sign(&sk, "{\"a\":1}", "{\"kid\":\"x\"}", NULL);
    const char *rest = tok + 10;
    char buf[600];
    struct {
        const char *prefix, *code;
    } h[] = {
        {"v2.public.", "wrong_version"},
        {"v3.public.", "wrong_version"},
        {"v1.local.", "wrong_version"},
        {"v40.public.", "wrong_version"},
        {"v4.local.", "wrong_purpose"},
        {"v4.secret.", "wrong_purpose"},
        {"v4.Public.", "wrong_purpose"},
        {"v4..", "wrong_purpose"},
        {"V4.public.", "malformed_token"},
        {"4.public.", "malformed_token"},
        {"v4public.", "malformed_token"},
        {" v4.public.", "malformed_token"},
        {"v4.public.v4.public.", "malformed_token"},
        {"", "malformed_token"},
        {"v.public.", "malformed_token"},
    };
    for (size_t i = 0; i < sizeof h / sizeof h[0]; i++) {
        snprintf(buf, sizeof buf, "%s%s", h[i].prefix, rest);
        refused(&pk, buf, NULL, 256, h[i].code);
    }
    refused(&pk, "v4.public", NULL, 256, "malformed_token");
    refused(&pk, "v4", NULL, 256, "malformed_token");
    refused(&pk, "", NULL, 256, "malformed_token");
    /* more parts, an empty footer after the dot */
    snprintf(buf, sizeof buf, "%s.Zg", tok);
    refused(&pk, buf, NULL, 256, "malformed_token");
    char *body_only = strndup(tok, 10 + strcspn(rest, "."));
    snprintf(buf, sizeof buf, "%s.", body_only);
    refused(&pk, buf, NULL, 256, "malformed_token");
    snprintf(buf, sizeof buf, "%s", body_only);
    refused(&pk, buf, NULL, 256, "bad_signature"); /* the footer was signed */
    free(body_only);
    /* over PASETO_MAX_TOKEN_LEN, refused before anything else is looked at */
    char *huge = malloc(PASETO_MAX_TOKEN_LEN + 2);
    memset(huge, 'A', PASETO_MAX_TOKEN_LEN + 1);
    memcpy(huge, "v4.public.", 10);
    huge[PASETO_MAX_TOKEN_LEN + 1] = 0;
    refused(&pk, huge, NULL, 256, "token_too_large");
    huge[PASETO_MAX_TOKEN_LEN - 2] = 0; /* 65534 characters: 65524 of body, 2 bits over */
    refused(&pk, huge, NULL, 256, "bad_signature");
    free(huge);
    struct paseto_error err = {0};
    assert_int_equal(paseto_v4_verify(NULL, tok, NULL, 256, NULL, NULL, NULL, &err), -1);
    assert_string_equal(err.code, "invalid_argument");
    assert_int_equal(paseto_v4_verify(&pk, NULL, NULL, 256, NULL, NULL, NULL, &err), -1);
    assert_string_equal(err.code, "invalid_argument");
    /* every output may be omitted */
    assert_int_equal(paseto_v4_verify(&pk, tok, NULL, 256, NULL, NULL, NULL, NULL), 0);
    /* a message quotes at most 24 characters, escaped */
    snprintf(buf, sizeof buf, "v9\x01\"%s", tok);
    assert_int_equal(paseto_v4_verify(&pk, buf, NULL, 256, NULL, NULL, NULL, &err), -1);
    assert_string_equal(err.code, "malformed_token");
    assert_non_null(strstr(err.message, "v9\\x01\\x22v4.public."));
    assert_non_null(strstr(err.message, "...\""));
    free(tok);
}

static void test_footer_cap(void **state)
{
    (void)state;
    struct paseto_public_key pk;
    struct paseto_secret_key sk;
    fixed_keys(11, &pk, &sk);
    char footer[301];
    memset(footer, 'f', 300);
    footer[300] = 0;
    char *tok = sign(&sk, "{}", footer, NULL);
    refused(&pk, tok, NULL, 299, "footer_too_large");
    refused(&pk, tok, NULL, 0, "footer_too_large");
    unsigned char *m = NULL;
    char *f = NULL;
    assert_int_equal(paseto_v4_verify(&pk, tok, NULL, 300, &m, NULL, &f, NULL), 0);
    assert_string_equal(f, footer);
    free(m);
    free(f);
    char *peek = NULL;
    struct paseto_error err = {0};
    assert_int_equal(paseto_peek_footer(tok, 299, &peek, &err), -1);
    assert_string_equal(err.code, "footer_too_large");
    assert_null(peek);
    free(tok);

    /*
     * The cap is applied before decoding: a footer part that is not base64 at all but
     * would be too large is footer_too_large, not malformed_token.
     */
    size_t n = 10 + 86 + 1 + 4000;
    char *t = malloc(n + 1);
    memcpy(t, "v4.public.", 10);
    memset(t + 10, 'A', 86);
    t[96] = '.';
    memset(t + 97, '!', 4000);
    t[n] = 0;
    refused(&pk, t, NULL, 256, "footer_too_large");
    assert_int_equal(paseto_peek_footer(t, 256, &peek, &err), -1);
    assert_string_equal(err.code, "footer_too_large");
    /* and the same under the cap is malformed */
    t[97 + 8] = 0;
    refused(&pk, t, NULL, 256, "malformed_token");
    free(t);

    /* a footer with a NUL byte, signed by hand */
    unsigned char body[64] = {0};
    unsigned char nulf[3] = {'a', 0, 'b'};
    t = assemble(body, 64, nulf, 3);
    refused(&pk, t, NULL, 256, "malformed_footer");
    free(t);
}

static void test_peek_footer(void **state)
{
    (void)state;
    struct paseto_public_key pk;
    struct paseto_secret_key sk;
    fixed_keys(13, &pk, &sk);
    char *tok =
        sign(&sk, "{}", "{\"kid\":\"k4.pid.S_XQmeEwHbbvRmiyfXfHYpLGjXGzjTRSDoT1YtTakWFE\"}", NULL);
    char *f = NULL;
    assert_int_equal(paseto_peek_footer(tok, 256, &f, NULL), 0);
    assert_string_equal(f, "{\"kid\":\"k4.pid.S_XQmeEwHbbvRmiyfXfHYpLGjXGzjTRSDoT1YtTakWFE\"}");
    free(f);
    free(tok);
    tok = sign(&sk, "{}", NULL, NULL);
    f = (char *)1;
    assert_int_equal(paseto_peek_footer(tok, 256, &f, NULL), 0);
    assert_null(f);
    free(tok);
    /* the peek does not check the signature (the footer is untrusted), but every shape rule */
    struct paseto_error err = {0};
    unsigned char zeros[64] = {0};
    char *forged = assemble(zeros, sizeof zeros, (const unsigned char *)"foo", 3);
    assert_non_null(strstr(forged, ".Zm9v"));
    assert_int_equal(paseto_peek_footer(forged, 256, &f, &err), 0);
    assert_string_equal(f, "foo");
    free(f);
    refused(&pk, forged, NULL, 256, "bad_signature");
    assert_int_equal(paseto_peek_footer("v4.local.AAAA.Zm9v", 256, &f, &err), -1);
    assert_string_equal(err.code, "wrong_purpose");
    assert_int_equal(paseto_peek_footer("v4.public.AAAA.Zm9v", 256, &f, &err), -1);
    assert_string_equal(err.code, "malformed_token");
    assert_int_equal(paseto_peek_footer(forged, 256, NULL, &err), -1);
    assert_string_equal(err.code, "invalid_argument");
    free(forged);
}

/* ---- kid ---- */

static void kid_refused(const char *footer, const char *code)
{
    char kid[PASETO_PASERK_ID_LEN + 1];
    struct paseto_error err = {0};
    int rc = paseto_footer_kid(footer, strlen(footer), kid, &err);
    if (rc == 0 || strcmp(err.code, code) != 0)
        print_message("# %s: rc %d %s: %s\n", footer, rc, err.code ? err.code : "-", err.message);
    assert_int_equal(rc, -1);
    assert_string_equal(err.code, code);
    assert_string_equal(kid, "");
}

#define PID1 "k4.pid.S_XQmeEwHbbvRmiyfXfHYpLGjXGzjTRSDoT1YtTakWFE"

static void test_footer_kid(void **state)
{
    (void)state;
    char kid[PASETO_PASERK_ID_LEN + 1];
    const char *good = "{\"kid\":\"" PID1 "\"}";
    assert_int_equal(paseto_footer_kid(good, strlen(good), kid, NULL), 0);
    assert_string_equal(kid, PID1);
    const char *other = "{\"wpk\":\"k4.seal.x\",\"kid\":\"" PID1 "\",\"n\":[1,2]}";
    assert_int_equal(paseto_footer_kid(other, strlen(other), kid, NULL), 0);
    assert_string_equal(kid, PID1);

    kid_refused("", "malformed_footer");
    kid_refused("arbitrary-string-that-isn't-json", "malformed_footer");
    kid_refused("[\"" PID1 "\"]", "malformed_footer");
    kid_refused("\"" PID1 "\"", "malformed_footer");
    kid_refused("{}", "malformed_footer");
    kid_refused("{\"kid\":1}", "malformed_footer");
    kid_refused("{\"kid\":null}", "malformed_footer");
    kid_refused("{\"kid\":[\"" PID1 "\"]}", "malformed_footer");
    kid_refused("{\"kid\":\"zVhMiPBP9fRf2snEcT7gFTioeA9COcNy9DfgL1W60haN\"}", "malformed_footer");
    kid_refused("{\"kid\":\"k3.pid.S_XQmeEwHbbvRmiyfXfHYpLGjXGzjTRSDoT1YtTakWFE\"}",
                "malformed_footer");
    kid_refused("{\"kid\":\"k4.lid.S_XQmeEwHbbvRmiyfXfHYpLGjXGzjTRSDoT1YtTakWFE\"}",
                "malformed_footer");
    kid_refused("{\"kid\":\"k4.sid.S_XQmeEwHbbvRmiyfXfHYpLGjXGzjTRSDoT1YtTakWFE\"}",
                "malformed_footer");
    kid_refused("{\"kid\":\"k4.pid.S_XQmeEwHbbvRmiyfXfHYpLGjXGzjTRSDoT1YtTakWF\"}",
                "malformed_footer");
    kid_refused("{\"kid\":\"k4.pid.S+XQmeEwHbbvRmiyfXfHYpLGjXGzjTRSDoT1YtTakWFE\"}",
                "malformed_footer");
    kid_refused("{\"kid\":\"" PID1 "\",\"kid\":\"" PID1 "\"}", "malformed_footer");
    kid_refused("{\"kid\":\"" PID1 "\"} x", "malformed_footer");
    kid_refused("{\"kid\":\"" PID1 "\",\"a\":{\"b\":{}}}", "malformed_footer");
    kid_refused("{\"kid\":\"" PID1 "\",\"a\":[[1]]}", "malformed_footer");
    kid_refused("{\"kid\":\"" PID1 "\",\"a\":1,\"b\":2,\"c\":3,\"d\":4,\"e\":5,\"f\":6,\"g\":7,"
                "\"h\":8}",
                "malformed_footer");
    kid_refused("{\"kid\":\"" PID1 "\\u0000\"}", "malformed_footer");
    /* brackets inside strings do not count as depth */
    const char *strs = "{\"kid\":\"" PID1 "\",\"a\":\"[[[[{{{{\\\"\"}";
    assert_int_equal(paseto_footer_kid(strs, strlen(strs), kid, NULL), 0);
    /* 1025 bytes: too large for footer JSON */
    char big[1100];
    snprintf(big, sizeof big, "{\"kid\":\"" PID1 "\",\"pad\":\"%0*d\"}", 1025 - 70, 0);
    assert_int_equal(strlen(big), 1025);
    kid_refused(big, "footer_too_large");
}

static void table_entry(struct paseto_keyring_entry *e, const struct paseto_public_key *pk)
{
    e->pk = *pk;
    assert_int_equal(paseto_paserk_pid(pk, e->kid, NULL), 0);
}

static char *kid_token(const struct paseto_secret_key *sk, const struct paseto_public_key *named,
                       const char *m)
{
    char kid[PASETO_PASERK_ID_LEN + 1], footer[100];
    assert_int_equal(paseto_paserk_pid(named, kid, NULL), 0);
    snprintf(footer, sizeof footer, "{\"kid\":\"%s\"}", kid);
    return sign(sk, m, footer, NULL);
}

static void with_keys_refused(const struct paseto_keyring_entry *keys, size_t n, const char *tok,
                              const char *code)
{
    unsigned char *m = (unsigned char *)1;
    size_t idx = 77;
    struct paseto_error err = {0};
    int rc = paseto_verify_with_keys(keys, n, tok, NULL, 256, &m, NULL, NULL, &idx, &err);
    if (rc == 0 || strcmp(err.code, code) != 0)
        print_message("# rc %d %s: %s (wanted %s)\n", rc, err.code ? err.code : "-", err.message,
                      code);
    assert_int_equal(rc, -1);
    assert_string_equal(err.code, code);
    assert_null(m);
    assert_int_equal(idx, 77);
}

static void test_verify_with_keys(void **state)
{
    (void)state;
    struct paseto_public_key a, b, c;
    struct paseto_secret_key ska, skb, skc;
    fixed_keys(20, &a, &ska);
    fixed_keys(40, &b, &skb);
    fixed_keys(60, &c, &skc);
    struct paseto_keyring_entry keys[2];
    table_entry(&keys[0], &a);
    table_entry(&keys[1], &b);

    /* named and signed by b: found at index 1 */
    char *tok = kid_token(&skb, &b, "{\"n\":1}");
    unsigned char *m = NULL;
    size_t ml = 0, idx = 9;
    char *f = NULL;
    assert_int_equal(paseto_verify_with_keys(keys, 2, tok, NULL, 256, &m, &ml, &f, &idx, NULL), 0);
    assert_int_equal(idx, 1);
    assert_int_equal(ml, 7);
    assert_memory_equal(m, "{\"n\":1}", 7);
    assert_non_null(strstr(f, keys[1].kid));
    free(m);
    free(f);
    free(tok);

    /* signed by a, named c (not in the table): unknown, though a would verify it */
    tok = kid_token(&ska, &c, "{\"n\":2}");
    {
        unsigned char *mm = NULL;
        assert_int_equal(paseto_v4_verify(&a, tok, NULL, 256, &mm, NULL, NULL, NULL), 0);
        free(mm);
    }
    with_keys_refused(keys, 2, tok, "unknown_kid");
    free(tok);

    /* signed by a, named b: only b is tried */
    tok = kid_token(&ska, &b, "{\"n\":3}");
    with_keys_refused(keys, 2, tok, "bad_signature");
    free(tok);

    /* no footer, a footer without kid, a kid of the wrong kind */
    tok = sign(&ska, "{}", NULL, NULL);
    with_keys_refused(keys, 2, tok, "unknown_kid");
    free(tok);
    tok = sign(&ska, "{}", "{\"x\":1}", NULL);
    with_keys_refused(keys, 2, tok, "malformed_footer");
    free(tok);
    tok = sign(&ska, "{}", "{\"kid\":\"zVhMiPBP9fRf2snEcT7gFTioeA9COcNy9DfgL1W60haN\"}", NULL);
    with_keys_refused(keys, 2, tok, "malformed_footer");
    free(tok);
    tok = kid_token(&ska, &a, "{}");
    with_keys_refused(keys, 0, tok, "unknown_kid");
    with_keys_refused(NULL, 0, tok, "unknown_kid");

    /* a table entry whose kid is not its key's: refused, not used */
    struct paseto_keyring_entry wrong[1];
    table_entry(&wrong[0], &b);
    memcpy(wrong[0].kid, keys[0].kid, sizeof wrong[0].kid);
    with_keys_refused(wrong, 1, tok, "invalid_key");
    wrong[0].pk = a;
    assert_int_equal(
        paseto_verify_with_keys(wrong, 1, tok, NULL, 256, NULL, NULL, NULL, NULL, NULL), 0);
    free(tok);
}

/* ---- claims ---- */

static void test_time_format_parse(void **state)
{
    (void)state;
    char s[PASETO_TIME_LEN + 1];
    assert_int_equal(paseto_time_format(NOW, s), 0);
    assert_string_equal(s, "2026-11-25T15:00:00Z");
    assert_int_equal(paseto_time_format(0, s), 0);
    assert_string_equal(s, "1970-01-01T00:00:00Z");
    assert_int_equal(paseto_time_format(951868799, s), 0);
    assert_string_equal(s, "2000-02-29T23:59:59Z");
    assert_int_equal(paseto_time_format(253402300799, s), 0);
    assert_string_equal(s, "9999-12-31T23:59:59Z");
    assert_int_equal(paseto_time_format(253402300800, s), -1);
    assert_int_equal(paseto_time_format(-62167219200, s), 0);
    assert_string_equal(s, "0000-01-01T00:00:00Z");
    assert_int_equal(paseto_time_format(-62167219201, s), -1);

    struct {
        const char *s;
        time_t t;
    } good[] = {
        {"2026-11-25T15:00:00Z", NOW},
        {"2026-11-25T16:00:00+01:00", NOW},
        {"2026-11-25T14:30:00-00:30", NOW},
        {"2026-11-25T15:00:00.999999999Z", NOW},
        {"2026-11-25T15:00:00.5+00:00", NOW},
        {"2000-02-29T23:59:59Z", 951868799},
        {"2022-01-01T00:00:00+00:00", 1640995200},
        {"1970-01-01T00:00:00Z", 0},
        {"2016-12-31T23:59:60Z", 1483228800},
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        time_t t = 1;
        if (paseto_time_parse(good[i].s, &t) != 0 || t != good[i].t)
            print_message("# %s -> %lld\n", good[i].s, (long long)t);
        assert_int_equal(paseto_time_parse(good[i].s, &t), 0);
        assert_int_equal(t, good[i].t);
    }
    const char *bad[] = {
        "2026-11-25t15:00:00Z",
        "2026-11-25T15:00:00z",
        "2026-11-25 15:00:00Z",
        "2026-11-25T15:00:00",
        "2026-11-25T15:00Z",
        "2026-02-29T00:00:00Z",
        "1900-02-29T00:00:00Z",
        "2026-13-01T00:00:00Z",
        "2026-00-01T00:00:00Z",
        "2026-11-31T00:00:00Z",
        "2026-11-00T00:00:00Z",
        "2026-11-25T24:00:00Z",
        "2026-11-25T15:60:00Z",
        "2026-11-25T15:00:61Z",
        "2026-11-25T15:00:00.Z",
        "2026-11-25T15:00:00.1234567890Z",
        "2026-11-25T15:00:00+0100",
        "2026-11-25T15:00:00+24:00",
        "2026-11-25T15:00:00Z ",
        " 2026-11-25T15:00:00Z",
        "+2026-11-25T15:00:00Z",
        "26-11-25T15:00:00Z",
        "2026-1-25T15:00:00Z",
        "2026-11-25T15:00:00+01",
        "2026-11-25T15:00:00ZZ",
        "",
        "1795618800",
        "2026-11-25T15:00:0Z",
        "2026-11-25T1:00:00Z",
        "2026-11-25T15:00:00+01:60",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        time_t t;
        if (paseto_time_parse(bad[i], &t) == 0)
            print_message("# accepted \"%s\"\n", bad[i]);
        assert_int_equal(paseto_time_parse(bad[i], &t), -1);
    }
}

static void test_claims_build(void **state)
{
    (void)state;
    struct paseto_claim extra[] = {{"aud", "content"}, {"loan", "7"}};
    struct paseto_claims c = {.iss = "pretnum",
                              .sub = "patron:42",
                              .iat = NOW,
                              .exp = NOW + 3600,
                              .extra = extra,
                              .n_extra = 2};
    char *j = NULL;
    assert_int_equal(paseto_claims_build(&c, &j, NULL), 0);
    assert_string_equal(
        j, "{\"iss\":\"pretnum\",\"sub\":\"patron:42\",\"iat\":\"2026-11-25T15:00:00Z\","
           "\"exp\":\"2026-11-25T16:00:00Z\",\"aud\":\"content\",\"loan\":\"7\"}");
    assert_int_equal(paseto_check_claims((unsigned char *)j, strlen(j), NOW, 0, NULL, NULL), 0);
    free(j);

    c.has_nbf = 1;
    c.nbf = NOW + 60;
    c.iss = NULL;
    c.n_extra = 0;
    assert_int_equal(paseto_claims_build(&c, &j, NULL), 0);
    assert_string_equal(j, "{\"sub\":\"patron:42\",\"iat\":\"2026-11-25T15:00:00Z\","
                           "\"nbf\":\"2026-11-25T15:01:00Z\",\"exp\":\"2026-11-25T16:00:00Z\"}");
    free(j);

    struct paseto_error err = {0};
    struct paseto_claims bad = c;
    bad.exp = bad.iat;
    assert_int_equal(paseto_claims_build(&bad, &j, &err), -1);
    assert_null(j);
    assert_string_equal(err.code, "invalid_claims");
    bad = c;
    bad.nbf = bad.exp;
    assert_int_equal(paseto_claims_build(&bad, &j, &err), -1);
    bad = c;
    bad.exp = 253402300800; /* year 10000 */
    assert_int_equal(paseto_claims_build(&bad, &j, &err), -1);
    assert_string_equal(err.code, "invalid_claims");
    bad = c;
    bad.sub = "\xff\xfe";
    assert_int_equal(paseto_claims_build(&bad, &j, &err), -1);
    assert_string_equal(err.code, "invalid_claims");
    struct paseto_claim reserved[] = {{"exp", "never"}};
    bad = c;
    bad.extra = reserved;
    bad.n_extra = 1;
    assert_int_equal(paseto_claims_build(&bad, &j, &err), -1);
    assert_string_equal(err.code, "invalid_claims");
    struct paseto_claim dup[] = {{"aud", "a"}, {"aud", "b"}};
    bad.extra = dup;
    bad.n_extra = 2;
    assert_int_equal(paseto_claims_build(&bad, &j, &err), -1);
    struct paseto_claim nulls[] = {{"aud", NULL}};
    bad.extra = nulls;
    bad.n_extra = 1;
    assert_int_equal(paseto_claims_build(&bad, &j, &err), -1);
    assert_null(j);
}

static void claims_refused(const char *j, time_t now, time_t leeway, const char *code)
{
    struct paseto_error err = {0};
    json_t *o = (json_t *)1;
    int rc = paseto_check_claims((const unsigned char *)j, strlen(j), now, leeway, &o, &err);
    if (rc == 0 || strcmp(err.code, code) != 0)
        print_message("# %.100s: rc %d %s: %s (wanted %s)\n", j, rc, err.code ? err.code : "-",
                      err.message, code);
    assert_int_equal(rc, -1);
    assert_null(o);
    assert_string_equal(err.code, code);
}

static void test_claims_check(void **state)
{
    (void)state;
    const char *good =
        "{\"iss\":\"pretnum\",\"sub\":\"patron:42\",\"iat\":\"2026-11-25T15:00:00Z\","
        "\"nbf\":\"2026-11-25T15:00:00Z\",\"exp\":\"2026-11-25T16:00:00Z\","
        "\"aud\":\"content\",\"jti\":\"j\",\"x\":{\"y\":[1,2]}}";
    json_t *o = NULL;
    assert_int_equal(
        paseto_check_claims((const unsigned char *)good, strlen(good), NOW, 0, &o, NULL), 0);
    assert_string_equal(json_string_value(json_object_get(o, "sub")), "patron:42");
    json_decref(o);
    assert_int_equal(
        paseto_check_claims((const unsigned char *)good, strlen(good), NOW + 3599, 0, NULL, NULL),
        0);

    /* expired: exp <= now, whatever the leeway */
    claims_refused(good, NOW + 3600, 0, "expired");
    claims_refused(good, NOW + 3600, 300, "expired");
    claims_refused(good, NOW + 100000, 0, "expired");
    /* not yet valid: nbf or iat after now + leeway */
    claims_refused(good, NOW - 1, 0, "not_yet_valid");
    assert_int_equal(
        paseto_check_claims((const unsigned char *)good, strlen(good), NOW - 30, 30, NULL, NULL),
        0);
    claims_refused(good, NOW - 31, 30, "not_yet_valid");
    const char *nbf_only = "{\"nbf\":\"2026-11-25T15:00:00Z\",\"exp\":\"2026-11-25T16:00:00Z\"}";
    claims_refused(nbf_only, NOW - 1, 0, "not_yet_valid");
    claims_refused(nbf_only, NOW - 61, 60, "not_yet_valid");
    assert_int_equal(paseto_check_claims((const unsigned char *)nbf_only, strlen(nbf_only),
                                         NOW - 60, 60, NULL, NULL),
                     0);
    const char *future_iat = "{\"iat\":\"2026-11-25T15:10:00Z\",\"exp\":\"2026-11-25T16:00:00Z\"}";
    claims_refused(future_iat, NOW, 599, "not_yet_valid");
    assert_int_equal(paseto_check_claims((const unsigned char *)future_iat, strlen(future_iat), NOW,
                                         600, NULL, NULL),
                     0);

    /* missing exp, malformed times, wrong types */
    claims_refused("{\"iat\":\"2026-11-25T15:00:00Z\"}", NOW, 0, "invalid_claims");
    claims_refused("{}", NOW, 0, "invalid_claims");
    claims_refused("{\"exp\":1795622400}", NOW, 0, "invalid_claims");
    claims_refused("{\"exp\":null}", NOW, 0, "invalid_claims");
    claims_refused("{\"exp\":\"2026-11-25t16:00:00Z\"}", NOW, 0, "invalid_claims");
    claims_refused("{\"exp\":\"2026-11-25T16:00:00\"}", NOW, 0, "invalid_claims");
    claims_refused("{\"exp\":\"2026-02-30T16:00:00Z\"}", NOW, 0, "invalid_claims");
    claims_refused("{\"exp\":\"tomorrow\"}", NOW, 0, "invalid_claims");
    claims_refused("{\"exp\":\"2026-11-25T16:00:00Z\",\"nbf\":\"soon\"}", NOW, 0, "invalid_claims");
    claims_refused("{\"exp\":\"2026-11-25T16:00:00Z\",\"iat\":0}", NOW, 0, "invalid_claims");
    claims_refused("{\"exp\":\"2026-11-25T16:00:00Z\",\"iss\":1}", NOW, 0, "invalid_claims");
    claims_refused("{\"exp\":\"2026-11-25T16:00:00Z\",\"sub\":{}}", NOW, 0, "invalid_claims");
    claims_refused("{\"exp\":\"2026-11-25T16:00:00Z\",\"aud\":[\"a\"]}", NOW, 0, "invalid_claims");
    claims_refused("{\"exp\":\"2026-11-25T16:00:00Z\",\"jti\":true}", NOW, 0, "invalid_claims");
    claims_refused("{\"exp\":\"2026-11-25T16:00:00Z\",\"exp\":\"2099-01-01T00:00:00Z\"}", NOW, 0,
                   "invalid_claims");
    claims_refused("[\"exp\"]", NOW, 0, "invalid_claims");
    claims_refused("", NOW, 0, "invalid_claims");
    claims_refused("{\"exp\":\"2026-11-25T16:00:00Z\"} {}", NOW, 0, "invalid_claims");
    claims_refused("{\"exp\":\"2026-11-25T16:00:00Z\\u0000\"}", NOW, 0, "invalid_claims");
    /* depth 8 passes, 9 does not */
    const char *d8 = "{\"exp\":\"2026-11-25T16:00:00Z\",\"a\":[[[[[[[1]]]]]]]}";
    assert_int_equal(paseto_check_claims((const unsigned char *)d8, strlen(d8), NOW, 0, NULL, NULL),
                     0);
    claims_refused("{\"exp\":\"2026-11-25T16:00:00Z\",\"a\":[[[[[[[[1]]]]]]]]}", NOW, 0,
                   "invalid_claims");
    /* deep nesting never reaches jansson */
    char *deep = malloc(200001);
    memset(deep, '[', 200000);
    deep[200000] = 0;
    claims_refused(deep, NOW, 0, "invalid_claims");
    free(deep);
    /* size cap */
    char *big = malloc(PASETO_CLAIMS_MAX_BYTES + 2);
    int n =
        snprintf(big, PASETO_CLAIMS_MAX_BYTES + 2, "{\"exp\":\"2026-11-25T16:00:00Z\",\"p\":\"");
    memset(big + n, 'p', (size_t)(PASETO_CLAIMS_MAX_BYTES - n - 2));
    memcpy(big + PASETO_CLAIMS_MAX_BYTES - 2, "\"}", 3);
    assert_int_equal(strlen(big), PASETO_CLAIMS_MAX_BYTES);
    assert_int_equal(
        paseto_check_claims((const unsigned char *)big, strlen(big), NOW, 0, NULL, NULL), 0);
    memmove(big + 1, big, PASETO_CLAIMS_MAX_BYTES + 1);
    big[0] = ' ';
    claims_refused(big, NOW, 0, "invalid_claims");
    free(big);
    /* extreme clocks do not overflow */
    claims_refused(good, (time_t)INT64_MAX, PASETO_MAX_LEEWAY, "expired");
    claims_refused(good, (time_t)INT64_MIN, PASETO_MAX_LEEWAY, "not_yet_valid");
    /* leeway range */
    struct paseto_error err = {0};
    assert_int_equal(
        paseto_check_claims((const unsigned char *)good, strlen(good), NOW, -1, NULL, &err), -1);
    assert_string_equal(err.code, "invalid_argument");
    assert_int_equal(paseto_check_claims((const unsigned char *)good, strlen(good), NOW,
                                         PASETO_MAX_LEEWAY + 1, NULL, &err),
                     -1);
    assert_string_equal(err.code, "invalid_argument");
}

/* The whole path a server takes: build, sign with kid, verify by kid, check the claims. */
static void test_end_to_end(void **state)
{
    (void)state;
    struct paseto_public_key pk;
    struct paseto_secret_key sk;
    fixed_keys(80, &pk, &sk);
    struct paseto_claims c = {.iss = "pretnum", .sub = "patron:42", .iat = NOW, .exp = NOW + 3600};
    char *claims = NULL;
    assert_int_equal(paseto_claims_build(&c, &claims, NULL), 0);
    struct paseto_keyring_entry keys[1];
    table_entry(&keys[0], &pk);
    char footer[100];
    snprintf(footer, sizeof footer, "{\"kid\":\"%s\"}", keys[0].kid);
    char *tok = sign(&sk, claims, footer, "title:9");
    unsigned char *m = NULL;
    size_t ml = 0;
    assert_int_equal(paseto_verify_with_keys(keys, 1, tok, "title:9", PASETO_DEFAULT_MAX_FOOTER, &m,
                                             &ml, NULL, NULL, NULL),
                     0);
    assert_string_equal((char *)m, claims);
    assert_int_equal(paseto_check_claims(m, ml, NOW + 10, 60, NULL, NULL), 0);
    struct paseto_error err = {0};
    assert_int_equal(paseto_check_claims(m, ml, NOW + 3600, 60, NULL, &err), -1);
    assert_string_equal(err.code, "expired");
    free(m);
    free(tok);
    free(claims);
}

/* Several threads at once, each with its own key, sharing one table: no shared state. */
struct worker {
    const struct paseto_keyring_entry *keys;
    unsigned char tag;
    int verified;
};

static void *work(void *arg)
{
    struct worker *w = arg;
    struct paseto_public_key pk;
    struct paseto_secret_key sk;
    unsigned char seed[PASETO_V4_SEED_BYTES];
    memset(seed, w->tag, sizeof seed);
    if (paseto_v4_seed_keypair(seed, &pk, &sk, NULL) != 0)
        return NULL;
    char footer[100];
    snprintf(footer, sizeof footer, "{\"kid\":\"%s\"}", w->keys[w->tag].kid);
    for (int i = 0; i < 50; i++) {
        char m[64], *tok = NULL;
        snprintf(m, sizeof m, "{\"n\":%d,\"t\":%d}", i, w->tag);
        unsigned char *out = NULL;
        size_t ol = 0, idx = 9;
        if (paseto_v4_sign(&sk, (unsigned char *)m, strlen(m), footer, NULL, &tok, NULL) == 0 &&
            paseto_verify_with_keys(w->keys, 4, tok, NULL, 256, &out, &ol, NULL, &idx, NULL) == 0 &&
            idx == w->tag && ol == strlen(m) && memcmp(out, m, ol) == 0)
            w->verified++;
        free(out);
        free(tok);
    }
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    struct paseto_keyring_entry keys[4];
    for (unsigned char t = 0; t < 4; t++) {
        unsigned char seed[PASETO_V4_SEED_BYTES];
        struct paseto_public_key pk;
        struct paseto_secret_key sk;
        memset(seed, t, sizeof seed);
        assert_int_equal(paseto_v4_seed_keypair(seed, &pk, &sk, NULL), 0);
        table_entry(&keys[t], &pk);
    }
    pthread_t th[4];
    struct worker w[4];
    for (unsigned char t = 0; t < 4; t++) {
        w[t] = (struct worker){keys, t, 0};
        assert_int_equal(pthread_create(&th[t], NULL, work, &w[t]), 0);
    }
    for (int t = 0; t < 4; t++) {
        assert_int_equal(pthread_join(th[t], NULL), 0);
        assert_int_equal(w[t].verified, 50);
    }
}

int main(void)
{
    t_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_v4_vectors),
        cmocka_unit_test(test_v4_public_only_vectors),
        cmocka_unit_test(test_vector_claims),
        cmocka_unit_test(test_paserk_public_vectors),
        cmocka_unit_test(test_paserk_secret_vectors),
        cmocka_unit_test(test_paserk_pid_vectors),
        cmocka_unit_test(test_paserk_sid_vectors),
        cmocka_unit_test(test_paserk_strict),
        cmocka_unit_test(test_roundtrip_lengths),
        cmocka_unit_test(test_sign_refuses_inconsistent_key),
        cmocka_unit_test(test_keypair_fresh),
        cmocka_unit_test(test_tamper_each_byte),
        cmocka_unit_test(test_strict_base64),
        cmocka_unit_test(test_headers),
        cmocka_unit_test(test_footer_cap),
        cmocka_unit_test(test_peek_footer),
        cmocka_unit_test(test_footer_kid),
        cmocka_unit_test(test_verify_with_keys),
        cmocka_unit_test(test_time_format_parse),
        cmocka_unit_test(test_claims_build),
        cmocka_unit_test(test_claims_check),
        cmocka_unit_test(test_end_to_end),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
