/*
 * Cover thumbnails (media/thumb.c) on any bytes: the first byte picks the width
 * (16..271), the rest is the picture. Invariants checked (abort() when broken):
 *   - success gives a whole WebP file (RIFF size = file size) no wider than asked,
 *     with a height of at least 1 and at most 4 times the width;
 *   - failure gives a code and nothing to free.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pretnum/media.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    static int ready;
    if (!ready) {
        media_init();
        ready = 1;
    }
    if (len < 2 || len > (1u << 20))
        return 0;
    int width = 16 + data[0];
    unsigned char *out = NULL;
    size_t out_len = 0;
    int w = 0, h = 0;
    struct media_error err = {0};
    int rc = media_thumbnail(data + 1, len - 1, width, &out, &out_len, &w, &h, &err);
    if (rc == 0) {
        if (!out || out_len < 12 || memcmp(out, "RIFF", 4) || memcmp(out + 8, "WEBP", 4))
            abort();
        size_t riff = (size_t)out[4] | (size_t)out[5] << 8 | (size_t)out[6] << 16 | (size_t)out[7] << 24;
        if (riff + 8 + (riff & 1) != out_len || w < 1 || w > width || h < 1 || h > 4 * w)
            abort();
        free(out);
    } else if (rc != -1 || out || out_len || !err.code) {
        abort();
    }
    return 0;
}
