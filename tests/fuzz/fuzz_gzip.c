/*
 * The portal's gzip (server/compress.c): the Accept-Encoding header is outside input,
 * and whatever is compressed must come back whole. The input is split at the first
 * newline: the part before is the header's value, the rest is a file's bytes.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

#include "../../server/compress.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nl = memchr(data, '\n', size);
    size_t hlen = nl ? (size_t)(nl - data) : size;
    char *header = malloc(hlen + 1);
    if (!header)
        return 0;
    memcpy(header, data, hlen);
    header[hlen] = 0;
    srv_gzip_accepted(header);
    /* gzip refused by name stays refused unless the rest names it again. */
    char *refused = malloc(hlen + 16);
    if (refused) {
        snprintf(refused, hlen + 16, "gzip;q=0,%s", header);
        if (!strcasestr(header, "gzip") && srv_gzip_accepted(refused))
            abort();
        free(refused);
    }
    free(header);
    if (!nl)
        return 0;
    const char *body = (const char *)nl + 1;
    size_t blen = size - hlen - 1;
    size_t zlen;
    char *z = srv_gzip(body, blen, &zlen);
    if (!z)
        return 0;
    char *back = malloc(blen + 1);
    z_stream s = {0};
    if (!back || inflateInit2(&s, 15 + 16) != Z_OK)
        abort();
    s.next_in = (Bytef *)z;
    s.avail_in = (uInt)zlen;
    s.next_out = (Bytef *)back;
    s.avail_out = (uInt)(blen + 1);
    int rc = inflate(&s, Z_FINISH);
    if (rc != Z_STREAM_END || s.total_out != blen || s.avail_in != 0 || memcmp(back, body, blen) != 0)
        abort();
    inflateEnd(&s);
    free(back);
    free(z);
    return 0;
}
