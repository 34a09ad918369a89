/*
 * libFuzzer target for the HLS packager, media_hls_package_buffer(): any bytes are opened as
 * media_probe_buffer() opens them, then demuxed, copied or re-encoded to AAC, and muxed
 * as fMP4 segments and playlists that are counted, never written (dir NULL). A deadline
 * and an output cap keep one input to about a second. A packaging that succeeds must keep
 * hls.h's promises; one that fails must say why.
 */
#include "pretnum/hls.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    media_init();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const struct media_hls_options o = {.deadline_s = 1.0, .max_output = 8 << 20};
    struct media_hls_result res;
    struct media_error err;
    if (media_hls_package_buffer(data, size, NULL, &o, &res, &err) == 0) {
        if (res.segments < 1 || !(res.duration_s > 0) || !isfinite(res.duration_s) ||
            !(res.max_segment_s > 0) || res.max_segment_s > res.target_duration ||
            res.max_segment_s > res.duration_s + 1e-9)
            abort();
        if (res.bandwidth < res.average_bandwidth || res.average_bandwidth <= 0 || res.bytes <= 0 ||
            !res.codecs[0] || strlen(res.codecs) >= sizeof res.codecs)
            abort();
        if (res.kind != MEDIA_KIND_AUDIO && res.kind != MEDIA_KIND_VIDEO)
            abort();
        if ((res.kind == MEDIA_KIND_VIDEO) != !strncmp(res.codecs, "avc1.", 5))
            abort();
    } else if (!err.code || !err.message[0]) {
        abort();
    }
    return 0;
}
