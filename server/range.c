/*
 * The Range request header (RFC 9110, section 14), one parser for every handler that
 * sends bytes of a file: book resources, downloads, stream segments.
 *
 * Only a single "bytes" range is honoured. As the RFC asks, a header a server does not
 * understand is ignored and the whole representation is sent (200): another unit, a
 * syntax error, or several ranges (which would need a multipart/byteranges answer; a
 * server may ignore them). Only a well-formed single range that lies outside the
 * representation, a first position at or past its end or a zero-length suffix, is
 * refused with 416.
 */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *skip_ows(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

/* Reads 1*DIGIT at *p; saturates at UINT64_MAX. False when there is no digit. */
static bool digits(const char **p, uint64_t *v)
{
    const char *s = *p;
    if (*s < '0' || *s > '9')
        return false;
    uint64_t n = 0;
    for (; *s >= '0' && *s <= '9'; s++) {
        unsigned d = (unsigned)(*s - '0');
        n = n > (UINT64_MAX - d) / 10 ? UINT64_MAX : n * 10 + d;
    }
    *p = s;
    *v = n;
    return true;
}

int srv_parse_range(const char *h, uint64_t size, uint64_t *from, uint64_t *to)
{
    if (!h)
        return 0;
    h = skip_ows(h);
    if (strncasecmp(h, "bytes", 5) != 0)
        return 0;
    const char *p = skip_ows(h + 5);
    if (*p != '=')
        return 0;
    p = skip_ows(p + 1);
    if (strchr(p, ','))
        return 0; /* several ranges: the whole representation instead */
    uint64_t a = 0, b = 0;
    bool suffix = *p == '-', has_b = false;
    if (suffix) {
        p++;
        if (!digits(&p, &b))
            return 0;
    } else {
        if (!digits(&p, &a) || *p != '-')
            return 0;
        p++;
        has_b = digits(&p, &b);
    }
    if (*skip_ows(p))
        return 0; /* trailing garbage: not a range-spec */
    if (has_b && b < a)
        return 0; /* invalid range-spec: ignored */
    if (suffix) {
        if (b == 0 || size == 0)
            return -1;
        *from = b >= size ? 0 : size - b;
        *to = size - 1;
        return 1;
    }
    if (a >= size)
        return -1;
    *from = a;
    *to = has_b && b < size ? b : size - 1;
    return 1;
}
