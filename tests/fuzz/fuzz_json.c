/*
 * The first things outside bytes meet: the JSON body parser (depth pre-scan, then
 * jansson) and the router. The input is split at the first newline: the part before is
 * a path for the router, the rest is a body.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pretnum/server.h"

static void h(struct srv_req *r)
{
    (void)r;
}

static const struct srv_route routes[] = {
    {"GET", "/api/v1/titles/{id}", h, "a"},
    {"POST", "/api/v1/loans/{id}/renew", h, "b"},
    {"GET", "/content/{loan}/{a}/{b}/{c}", h, "c"},
    {"GET", "/healthz", h, "d"},
    {NULL, NULL, NULL, NULL},
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nl = memchr(data, '\n', size);
    size_t plen = nl ? (size_t)(nl - data) : size;
    char *path = malloc(plen + 1);
    memcpy(path, data, plen);
    path[plen] = 0;
    struct srv_params p;
    int i = srv_route_match(routes, "GET", path, &p);
    if (i >= 0)
        for (int k = 0; k < p.n; k++)
            if (strlen(p.value[k]) == 0 || strchr(p.value[k], '/'))
                abort(); /* a parameter is always one non-empty segment */
    free(path);
    if (nl) {
        char err[200];
        json_t *j = srv_json_parse((const char *)nl + 1, size - plen - 1, 16, err, sizeof err);
        json_decref(j);
    }
    return 0;
}
