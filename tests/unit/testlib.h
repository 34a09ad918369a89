/*
 * Helpers shared by the unit and HTTP tests. Tests are cmocka programs that print TAP
 * (scripts/check.sh counts the lines); each starts with t_init().
 */
#ifndef PRETNUM_TESTLIB_H
#define PRETNUM_TESTLIB_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

/** Sets cmocka's output to TAP; call first in main(). */
void t_init(void);

/**
 * Returns the path of a file of the shared test corpus, e.g. t_corpus("epub/valid/x.epub").
 * The corpus lives at $PRETNUM_CORPUS, by default ../shared/corpus. The string is static
 * storage reused by the next call.
 */
const char *t_corpus(const char *rel);

/** Makes a fresh empty directory under $TMPDIR and returns its path (you own it: free(3)). */
char *t_tmpdir(const char *tag);

/** Removes a directory tree made by t_tmpdir (rm -rf). */
void t_rmtree(const char *path);

/** Counts the regular files under a directory tree (to prove nothing was left behind). */
int t_count_files(const char *dir);
/** The same, leaving out the files named skip. */
int t_count_files_but(const char *dir, const char *skip);

/** Reads a whole file; returns malloc'd bytes (NUL-terminated) and sets *len, or NULL. */
char *t_slurp(const char *path, size_t *len);

#endif

