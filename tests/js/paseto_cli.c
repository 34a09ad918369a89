/*
 * A command-line face of lending/paseto.c for the cross-check against the paseto npm package
 * (tests/js/test_paseto.mjs). Keys, footers and implicit assertions are given in hex so any
 * bytes pass through argv:
 *   paseto_cli sign SECRET_HEX FOOTER_HEX IMPLICIT_HEX < payload   prints the token
 *   paseto_cli verify PUBLIC_HEX IMPLICIT_HEX TOKEN                  prints the payload
 * On refusal prints the error code on stderr and exits 1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pretnum/paseto.h"

static unsigned char *unhex(const char *h, size_t *n)
{
    size_t len = strlen(h);
    unsigned char *b = malloc(len / 2 + 1);
    if (!b || len % 2)
        exit(2);
    for (size_t i = 0; i < len / 2; i++) {
        unsigned v;
        if (sscanf(h + 2 * i, "%2x", &v) != 1)
            exit(2);
        b[i] = (unsigned char)v;
    }
    b[len / 2] = 0;
    *n = len / 2;
    return b;
}

static int refuse(const struct paseto_error *err)
{
    fprintf(stderr, "%s: %s\n", err->code, err->message);
    return 1;
}

int main(int argc, char **argv)
{
    struct paseto_error err = {0};
    size_t n, fl, il;
    if (argc == 5 && strcmp(argv[1], "sign") == 0) {
        unsigned char *k = unhex(argv[2], &n);
        unsigned char *f = unhex(argv[3], &fl);
        unsigned char *i = unhex(argv[4], &il);
        struct paseto_secret_key sk;
        if (paseto_v4_secret_key_from_bytes(k, n, &sk, &err) != 0)
            return refuse(&err);
        static unsigned char m[PASETO_MAX_TOKEN_LEN];
        size_t ml = fread(m, 1, sizeof m, stdin);
        char *tok = NULL;
        if (paseto_v4_sign(&sk, m, ml, (char *)f, (char *)i, &tok, &err) != 0)
            return refuse(&err);
        fputs(tok, stdout);
        free(tok);
        free(k);
        free(f);
        free(i);
        return 0;
    }
    if (argc == 5 && strcmp(argv[1], "verify") == 0) {
        unsigned char *k = unhex(argv[2], &n);
        unsigned char *i = unhex(argv[3], &il);
        struct paseto_public_key pk;
        if (paseto_v4_public_key_from_bytes(k, n, &pk, &err) != 0)
            return refuse(&err);
        unsigned char *m = NULL;
        size_t ml = 0;
        if (paseto_v4_verify(&pk, argv[4], (char *)i, PASETO_MAX_TOKEN_LEN, &m, &ml, NULL, &err))
            return refuse(&err);
        fwrite(m, 1, ml, stdout);
        free(m);
        free(k);
        free(i);
        return 0;
    }
    fprintf(stderr, "usage: paseto_cli sign SECRET_HEX FOOTER_HEX IMPLICIT_HEX < payload\n"
                    "       paseto_cli verify PUBLIC_HEX IMPLICIT_HEX TOKEN\n");
    return 2;
}
