/*
 * libFuzzer target for media_probe_buffer(): any bytes, probed in memory through the
 * module's custom AVIOContext (no file is opened or written), under tight limits so that
 * one input takes at most about a second. A successful probe must keep the contract
 * written in media.h; a broken promise aborts, which the fuzzer reports as a crash.
 */
#include "pretnum/media.h"

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

static void check_tag(const char *s)
{
    if (s && (strlen(s) == 0 || strlen(s) > MEDIA_TAG_MAX))
        abort();
}

static void check_info(const struct media_info *info)
{
    if (!info->format || !info->streams || info->n_streams == 0)
        abort();
    if (!(info->duration_s > 0) || !isfinite(info->duration_s) || info->bit_rate < 0)
        abort();
    int video = 0;
    for (size_t i = 0; i < info->n_streams; i++) {
        const struct media_stream *s = &info->streams[i];
        if (!s->codec || (s->type != MEDIA_STREAM_AUDIO && s->type != MEDIA_STREAM_VIDEO))
            abort();
        if (s->width < 0 || s->height < 0 || s->sample_rate < 0 || s->channels < 0 ||
            !(s->frame_rate >= 0) || !isfinite(s->frame_rate))
            abort();
        check_tag(s->language);
        video |= s->type == MEDIA_STREAM_VIDEO;
    }
    if (info->kind != (video ? MEDIA_KIND_VIDEO : MEDIA_KIND_AUDIO))
        abort();
    const struct media_tags *t = &info->tags;
    const char *tags[] = {t->title,    t->artist, t->album_artist, t->album,    t->composer,
                          t->director, t->date,   t->genre,        t->language, t->comment};
    for (size_t i = 0; i < sizeof tags / sizeof *tags; i++)
        check_tag(tags[i]);
    if (t->track < 0 || (!info->cover) != (!info->cover_mime) ||
        (!info->cover) != !info->cover_size)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const struct media_limits lim = {
        .probesize = 1 << 20, .analyzeduration_us = 2000000, .max_streams = 16, .deadline_s = 1.0};
    struct media_info info;
    struct media_error err;
    if (media_probe_buffer(data, size, &lim, &info, &err) == 0) {
        check_info(&info);
    } else {
        if (!err.code || !err.message[0] || info.format || info.streams)
            abort();
    }
    media_info_free(&info);
    return 0;
}
