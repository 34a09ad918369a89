#include "testlib.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void t_init(void)
{
    cmocka_set_message_output(CM_OUTPUT_TAP);
}

const char *t_corpus(const char *rel)
{
    static char buf[4096];
    const char *root = getenv("PRETNUM_CORPUS");
    snprintf(buf, sizeof buf, "%s/%s", root && *root ? root : "../shared/corpus", rel);
    return buf;
}

char *t_tmpdir(const char *tag)
{
    const char *tmp = getenv("TMPDIR");
    char *path;
    if (asprintf(&path, "%s/pretnum-%s-XXXXXX", tmp && *tmp ? tmp : "/tmp", tag) < 0)
        return NULL;
    if (!mkdtemp(path)) {
        free(path);
        return NULL;
    }
    return path;
}

/* Counts (and with remove, deletes) the files under dir; files named skip are neither. */
static int walk(const char *dir, int remove, const char *skip)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") || (skip && !strcmp(e->d_name, skip)))
            continue;
        char p[4096];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        struct stat st;
        if (lstat(p, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            n += walk(p, remove, skip);
            if (remove)
                rmdir(p);
        } else {
            n++;
            if (remove)
                unlink(p);
        }
    }
    closedir(d);
    return n;
}

void t_rmtree(const char *path)
{
    if (!path)
        return;
    walk(path, 1, NULL);
    rmdir(path);
}

int t_count_files(const char *dir)
{
    return walk(dir, 0, NULL);
}

int t_count_files_but(const char *dir, const char *skip)
{
    return walk(dir, 0, skip);
}

char *t_slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    size_t r;
    while (buf && (r = fread(buf + n, 1, cap - n, f)) > 0) {
        n += r;
        if (n == cap) {
            char *nb = realloc(buf, cap * 2 + 1);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    fclose(f);
    if (!buf)
        return NULL;
    buf[n] = 0;
    if (len)
        *len = n;
    return buf;
}
