/*
 * gzip for the portal's text files (HTML, CSS, JavaScript, JSON, SVG): a phone on a slow
 * line downloads the scripts a third of their size. Each version of a file (its path and
 * validator) is compressed once, at the highest level, and kept; later requests copy
 * the kept bytes. Types that are compressed already (images other than SVG, fonts,
 * media) are never compressed again, nor are files too small to gain anything.
 *
 * The kept versions are shared by every server of the process (a test may start
 * several): a version is a function of the file's path and validator only, so any
 * server may use what another compressed. At most KEEP_FILES versions and KEEP_BYTES
 * bytes are kept; the oldest goes first, and a new version of a file replaces the old.
 */
#include "compress.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

#define KEEP_FILES 64
#define KEEP_BYTES (16u << 20)
/* Below this, the gzip header and trailer eat most of the gain. */
#define MIN_GZIP_SIZE 256

struct kept {
    char *path, *validator;
    char *gz;
    size_t len;
    unsigned long long stamp; /* order of arrival: the smallest goes first */
};

static struct {
    pthread_mutex_t mu;
    struct kept files[KEEP_FILES];
    size_t bytes;
    unsigned long long clock;
} cache = {.mu = PTHREAD_MUTEX_INITIALIZER};

char *srv_gzip(const char *buf, size_t len, size_t *out_len)
{
    z_stream z = {0};
    /* 15 + 16: a gzip wrapper rather than zlib's; level 9, memory level 9. */
    if (deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY) != Z_OK)
        return NULL;
    size_t cap = deflateBound(&z, (uLong)len);
    char *out = malloc(cap ? cap : 1);
    if (!out) {
        deflateEnd(&z);
        return NULL;
    }
    z.next_in = (Bytef *)buf;
    z.avail_in = (uInt)len;
    z.next_out = (Bytef *)out;
    z.avail_out = (uInt)cap;
    int rc = deflate(&z, Z_FINISH);
    size_t got = z.total_out;
    deflateEnd(&z);
    if (rc != Z_STREAM_END) {
        free(out);
        return NULL;
    }
    *out_len = got;
    return out;
}

static const char *skip_ows(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

/*
 * A qvalue (RFC 9110, 12.4.2): "0" or "1" with up to three decimals. True when it is
 * above zero; a malformed one counts as refusal, the safe reading.
 */
static bool q_positive(const char *p, const char *end)
{
    if (p >= end || (*p != '0' && *p != '1'))
        return false;
    bool one = *p == '1', positive = one;
    p++;
    if (p < end && *p == '.') {
        p++;
        for (int n = 0; p < end && *p >= '0' && *p <= '9'; n++, p++) {
            if (n == 3 || (one && *p != '0'))
                return false; /* four decimals, or above 1 */
            if (*p != '0')
                positive = true;
        }
    }
    return p == end && positive;
}

bool srv_gzip_accepted(const char *accept_encoding)
{
    if (!accept_encoding)
        return false;
    int gzip = -1, star = -1; /* -1 unnamed, 0 refused, 1 accepted */
    const char *p = accept_encoding;
    while (*p) {
        p = skip_ows(p);
        const char *tok = p;
        while (*p && *p != ',' && *p != ';' && *p != ' ' && *p != '\t')
            p++;
        size_t toklen = (size_t)(p - tok);
        int ok = 1;
        p = skip_ows(p);
        /* Parameters: only q means anything here. */
        while (*p == ';') {
            p = skip_ows(p + 1);
            const char *name = p;
            while (*p && *p != '=' && *p != ',' && *p != ';' && *p != ' ' && *p != '\t')
                p++;
            size_t nlen = (size_t)(p - name);
            p = skip_ows(p);
            const char *val = p, *vend = p;
            if (*p == '=') {
                val = p = skip_ows(p + 1);
                while (*p && *p != ',' && *p != ';' && *p != ' ' && *p != '\t')
                    p++;
                vend = p;
                p = skip_ows(p);
            }
            if (nlen == 1 && (*name == 'q' || *name == 'Q'))
                ok = q_positive(val, vend);
        }
        if ((toklen == 4 && !strncasecmp(tok, "gzip", 4)) || (toklen == 6 && !strncasecmp(tok, "x-gzip", 6)))
            gzip = ok;
        else if (toklen == 1 && *tok == '*')
            star = ok;
        /* Whatever is left of a malformed element is skipped up to the next comma. */
        while (*p && *p != ',')
            p++;
        if (*p == ',')
            p++;
    }
    return gzip == 1 || (gzip == -1 && star == 1);
}

bool srv_gzip_suits(const char *type, size_t len)
{
    if (!type || len < MIN_GZIP_SIZE)
        return false;
    return !strncmp(type, "text/", 5) || !strncmp(type, "application/json", 16) ||
           !strncmp(type, "application/manifest+json", 25) || !strncmp(type, "image/svg+xml", 13);
}

static void forget(struct kept *k)
{
    cache.bytes -= k->len;
    free(k->path);
    free(k->validator);
    free(k->gz);
    memset(k, 0, sizeof *k);
}

static char *copy(const char *gz, size_t len)
{
    char *c = malloc(len ? len : 1);
    if (c)
        memcpy(c, gz, len);
    return c;
}

char *srv_gzip_kept(const char *path, const char *validator, size_t *out_len)
{
    char *out = NULL;
    pthread_mutex_lock(&cache.mu);
    for (int i = 0; i < KEEP_FILES; i++) {
        struct kept *k = &cache.files[i];
        if (k->path && !strcmp(k->path, path) && !strcmp(k->validator, validator)) {
            if ((out = copy(k->gz, k->len)))
                *out_len = k->len;
            break;
        }
    }
    pthread_mutex_unlock(&cache.mu);
    return out;
}

char *srv_gzip_keep(const char *path, const char *validator, const char *buf, size_t len, size_t *out_len)
{
    size_t zlen;
    char *gz = srv_gzip(buf, len, &zlen);
    if (!gz)
        return NULL;
    char *out = copy(gz, zlen);
    if (!out) {
        free(gz);
        return NULL;
    }
    *out_len = zlen;
    if (zlen > KEEP_BYTES) {
        free(gz);
        return out;
    }
    char *p = strdup(path), *v = strdup(validator);
    if (!p || !v) {
        free(p);
        free(v);
        free(gz);
        return out;
    }
    pthread_mutex_lock(&cache.mu);
    /* The file's older versions go, and then the oldest versions while it is too full. */
    for (int i = 0; i < KEEP_FILES; i++)
        if (cache.files[i].path && !strcmp(cache.files[i].path, path))
            forget(&cache.files[i]);
    for (;;) {
        int free_slot = -1, oldest = -1;
        for (int i = 0; i < KEEP_FILES; i++) {
            if (!cache.files[i].path) {
                if (free_slot < 0)
                    free_slot = i;
            } else if (oldest < 0 || cache.files[i].stamp < cache.files[oldest].stamp) {
                oldest = i;
            }
        }
        if (free_slot >= 0 && cache.bytes + zlen <= KEEP_BYTES) {
            cache.files[free_slot] = (struct kept){p, v, gz, zlen, ++cache.clock};
            cache.bytes += zlen;
            break;
        }
        forget(&cache.files[oldest]); /* there is one: zlen alone fits in KEEP_BYTES */
    }
    pthread_mutex_unlock(&cache.mu);
    return out;
}
