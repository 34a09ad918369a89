/*
 * Private to media/: the hardened opening of media_probe_*() (whitelisted demuxers, no
 * protocol, probe limits, wall-clock deadline through the interrupt callback), kept open
 * for a caller that goes on to read the packets, as the HLS packager does.
 */
#ifndef PRETNUM_MEDIA_INTERNAL_H
#define PRETNUM_MEDIA_INTERNAL_H

#include <libavformat/avformat.h>

#include "pretnum/media.h"

struct media_input;

/* Opens a regular file (or a buffer, which must outlive the input) and finds its stream
 * parameters under lim's bounds; the deadline covers everything read until close.
 * 0, or -1 with err filled and nothing open. */
int media_input_open(const char *path, const struct media_limits *lim, struct media_input **out,
                     struct media_error *err);
int media_input_open_buffer(const void *data, size_t len, const struct media_limits *lim,
                            struct media_input **out, struct media_error *err);
AVFormatContext *media_input_ctx(struct media_input *in);
/* The input as messages name it: the quoted path, or "buffer of N bytes". */
const char *media_input_name(const struct media_input *in);
/* The input's size in bytes, as it was when opened. */
int64_t media_input_size(const struct media_input *in);
/* Moves the deadline to seconds from now (bounded as the limits are). */
void media_input_set_deadline(struct media_input *in, double seconds);
/* Non-zero once the deadline has passed (reading then fails with AVERROR_EXIT). */
int media_input_timed_out(struct media_input *in);
/* Fills err for a libav failure averr while reading in (a timeout when the deadline stopped it). */
void media_input_fail(struct media_input *in, struct media_error *err, int averr);
void media_input_close(struct media_input *in);

#endif
