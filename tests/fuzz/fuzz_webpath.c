/*
 * The portal's file lookup: a path taken from a URL (already percent-decoded) is either
 * refused or stays below the web directory. Whatever srv_web_path_ok() accepts has no
 * "." or ".." segment, no empty segment, no leading slash and only plain characters.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pretnum/server.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *path = malloc(size + 1);
    if (!path)
        return 0;
    memcpy(path, data, size);
    path[size] = 0;
    if (srv_web_path_ok(path)) {
        size_t n = strlen(path);
        if (n == 0 || n > 200 || path[0] == '/' || path[n - 1] == '/' || strstr(path, "//"))
            abort();
        for (const char *seg = path; seg; seg = strchr(seg, '/') ? strchr(seg, '/') + 1 : NULL)
            if (*seg == '.')
                abort(); /* ".", "..", hidden files */
        for (const char *c = path; *c; c++)
            if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_/", *c))
                abort();
    }
    const char *type = srv_web_type(path);
    if (type && !strchr(type, '/'))
        abort();
    free(path);
    return 0;
}
