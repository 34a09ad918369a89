#include "pretnum/server.h"

#include <string.h>

/*
 * Matches one pattern segment by segment; {name} takes a whole non-empty segment, and a
 * final {*name} the non-empty rest of the path, slashes included.
 */
static bool match(const char *pattern, const char *path, struct srv_params *pp)
{
    struct srv_params p = {0};
    size_t used = 0;
    const char *a = pattern, *b = path;
    while (*a && *b) {
        if (*a == '{') {
            const char *close = strchr(a, '}');
            bool rest = a[1] == '*';
            size_t seg = rest ? strlen(b) : strcspn(b, "/");
            if (rest && close && close[1])
                return false; /* {*name} must end the pattern */
            if (!close || seg == 0 || p.n == SRV_MAX_PARAMS || used + seg + 1 > sizeof p.buf)
                return false;
            p.name[p.n] = a + 1 + rest;
            p.name_len[p.n] = (size_t)(close - a - 1 - rest);
            memcpy(p.buf + used, b, seg);
            p.buf[used + seg] = 0;
            p.value[p.n++] = p.buf + used;
            used += seg + 1;
            a = close + 1;
            b += seg;
            continue;
        }
        if (*a != *b)
            return false;
        a++;
        b++;
    }
    if (*a || *b)
        return false;
    /* value pointers point into p.buf: rebase them into the caller's copy */
    *pp = p;
    for (int i = 0; i < pp->n; i++)
        pp->value[i] = pp->buf + (p.value[i] - p.buf);
    return true;
}

int srv_route_match(const struct srv_route *routes, const char *method, const char *path,
                    struct srv_params *params)
{
    if (strlen(path) >= sizeof params->buf)
        return -1;
    bool path_seen = false;
    bool head = !strcmp(method, "HEAD");
    for (int i = 0; routes[i].method; i++) {
        struct srv_params p;
        if (!match(routes[i].pattern, path, &p))
            continue;
        path_seen = true;
        if (!strcmp(routes[i].method, method) || (head && !strcmp(routes[i].method, "GET"))) {
            *params = p;
            for (int k = 0; k < params->n; k++)
                params->value[k] = params->buf + (p.value[k] - p.buf);
            return i;
        }
    }
    return path_seen ? -2 : -1;
}
