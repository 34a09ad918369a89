/*
 * Prints the SQL of one of the server's statements (lending/statements.c, compiled in
 * beside this file) with its parameters written in as literals, for pgbench and psql
 * to run exactly what the server runs:
 *
 *   stmt_sql NAME [P1 P2 ...]      a parameter given as \N is NULL
 *
 * Every other parameter becomes a quoted literal, as the server sends them all as text
 * and lets PostgreSQL infer their types.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sql.h"

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: stmt_sql NAME [PARAM...]\n");
        return 2;
    }
    const struct db_statement *s = db_statements;
    while (s->name && strcmp(s->name, argv[1]))
        s++;
    if (!s->name) {
        fprintf(stderr, "stmt_sql: no statement \"%s\"\n", argv[1]);
        return 1;
    }
    if (argc - 2 != s->nparams) {
        fprintf(stderr, "stmt_sql: %s takes %d parameters, not %d\n", s->name, s->nparams, argc - 2);
        return 1;
    }
    for (const char *p = s->sql; *p; p++) {
        if (*p == '$' && p[1] >= '1' && p[1] <= '9') {
            char *end;
            long k = strtol(p + 1, &end, 10);
            if (k < 1 || k > s->nparams) {
                fprintf(stderr, "stmt_sql: $%ld out of range\n", k);
                return 1;
            }
            const char *v = argv[1 + k];
            if (!strcmp(v, "\\N"))
                fputs("NULL", stdout);
            else {
                putchar('\'');
                for (const char *c = v; *c; c++) {
                    if (*c == '\'')
                        putchar('\'');
                    putchar(*c);
                }
                putchar('\'');
            }
            p = end - 1;
        } else
            putchar(*p);
    }
    puts(";");
    return 0;
}
