/*
 * Cover thumbnails: a cover picture (PNG, JPEG, GIF or WebP, as EPUBs and tags carry them)
 * decoded with libavcodec, scaled with libswscale and encoded as WebP (libwebp through
 * libavcodec), so that a result list on a phone loads a few kilobytes a cover instead of
 * the publisher's full-size picture. The bytes come from a stored title, which a
 * publisher or a member of staff supplied: the decoder is bounded (one thread, at most
 * MEDIA_THUMB_MAX_PIXELS pixels, the input's size) and every failure is an error, never a
 * crash or a half-written picture.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
#include <libswscale/swscale.h>

#include "pretnum/media.h"

/* Fills err with code and msg, followed by libav's words for averr when there is one. */
static int fail(struct media_error *err, const char *code, const char *msg, int averr)
{
    if (err) {
        char buf[AV_ERROR_MAX_STRING_SIZE] = "";
        if (averr)
            av_strerror(averr, buf, sizeof buf);
        err->code = code;
        snprintf(err->message, sizeof err->message, "%s%s%s", msg, averr ? ": " : "", buf);
    }
    return -1;
}

/* The picture's format from its first bytes, as a browser would sniff it. */
static enum AVCodecID sniff(const unsigned char *p, size_t n)
{
    if (n >= 8 && !memcmp(p, "\x89PNG\r\n\x1a\n", 8))
        return AV_CODEC_ID_PNG;
    if (n >= 3 && p[0] == 0xff && p[1] == 0xd8 && p[2] == 0xff)
        return AV_CODEC_ID_MJPEG;
    if (n >= 6 && (!memcmp(p, "GIF87a", 6) || !memcmp(p, "GIF89a", 6)))
        return AV_CODEC_ID_GIF;
    if (n >= 12 && !memcmp(p, "RIFF", 4) && !memcmp(p + 8, "WEBP", 4))
        return AV_CODEC_ID_WEBP;
    return AV_CODEC_ID_NONE;
}

/* A JPEG's scans (SOS markers). A progressive JPEG has about ten; each costs a pass over
 * the whole picture, so a small file with thousands of them keeps a core busy for
 * minutes. 0xFF 0xDA cannot occur inside entropy-coded data (0xFF is stuffed there), so
 * counting the pairs counts the scans, and any in embedded thumbnails, which only errs
 * on the side of refusing. */
static size_t jpeg_scans(const unsigned char *p, size_t n)
{
    size_t scans = 0;
    for (size_t i = 0; i + 1 < n; i++)
        if (p[i] == 0xff && p[i + 1] == 0xda)
            scans++;
    return scans;
}

static uint32_t be16(const unsigned char *p) { return (uint32_t)p[0] << 8 | p[1]; }
static uint32_t le16(const unsigned char *p) { return (uint32_t)p[1] << 8 | p[0]; }
static uint32_t le24(const unsigned char *p) { return (uint32_t)p[2] << 16 | le16(p); }

/* The size a picture declares in its header, read before anything is decoded (0 x 0
 * when the header is not where it should be: the decoder then says what is wrong). */
static void declared_size(enum AVCodecID id, const unsigned char *p, size_t n, uint64_t *w, uint64_t *h)
{
    *w = *h = 0;
    if (id == AV_CODEC_ID_PNG && n >= 24 && !memcmp(p + 12, "IHDR", 4)) {
        *w = be16(p + 16) << 16 | be16(p + 18);
        *h = be16(p + 20) << 16 | be16(p + 22);
    } else if (id == AV_CODEC_ID_GIF && n >= 10) {
        *w = le16(p + 6);
        *h = le16(p + 8);
    } else if (id == AV_CODEC_ID_WEBP && n >= 30) {
        if (!memcmp(p + 12, "VP8X", 4)) {
            *w = 1 + (uint64_t)le24(p + 24);
            *h = 1 + (uint64_t)le24(p + 27);
        } else if (!memcmp(p + 12, "VP8L", 4)) {
            *w = 1 + ((uint64_t)(p[22] & 0x3f) << 8 | p[21]);
            *h = 1 + ((uint64_t)(p[24] & 0x0f) << 10 | (uint64_t)p[23] << 2 | (p[22] & 0xc0) >> 6);
        } else if (!memcmp(p + 12, "VP8 ", 4)) {
            *w = le16(p + 26) & 0x3fff;
            *h = le16(p + 28) & 0x3fff;
        }
    } else if (id == AV_CODEC_ID_MJPEG) {
        /* The markers up to the frame header (SOF0..SOF15 but DHT, JPG and DAC). */
        for (size_t i = 2; i + 9 <= n && p[i] == 0xff;) {
            unsigned m = p[i + 1];
            if (m == 0xff) {
                i++;
                continue;
            }
            if (m >= 0xc0 && m <= 0xcf && m != 0xc4 && m != 0xc8 && m != 0xcc) {
                *h = be16(p + i + 5);
                *w = be16(p + i + 7);
                return;
            }
            if (m == 0xda)
                return;
            i += 2 + be16(p + i + 2);
        }
    }
}

/* Out of memory is said as such: it may pass, where a bad picture stays bad. */
static const char *decode_code(int averr)
{
    return averr == AVERROR(ENOMEM) ? "no_memory" : "bad_image";
}

/* The first picture of data, decoded into *out (which the caller frees). */
static int decode(const unsigned char *data, size_t len, enum AVCodecID id, AVFrame **out, struct media_error *err)
{
    const AVCodec *codec = avcodec_find_decoder(id);
    if (!codec)
        return fail(err, "unsupported_image", "no decoder for this picture's format", 0);
    AVCodecContext *ctx = avcodec_alloc_context3(codec);
    AVPacket *pkt = av_packet_alloc();
    AVFrame *frame = av_frame_alloc();
    /* The packet needs zeroed padding after the bytes, which the caller's buffer lacks. */
    uint8_t *copy = av_malloc(len + AV_INPUT_BUFFER_PADDING_SIZE);
    int rc = -1, averr = 0;
    if (!ctx || !pkt || !frame || !copy) {
        fail(err, "no_memory", "out of memory", 0);
        goto out;
    }
    memcpy(copy, data, len);
    memset(copy + len, 0, AV_INPUT_BUFFER_PADDING_SIZE);
    ctx->thread_count = 1;
    ctx->max_pixels = MEDIA_THUMB_MAX_PIXELS;
    if ((averr = avcodec_open2(ctx, codec, NULL)) < 0) {
        fail(err, decode_code(averr), "the picture's decoder would not start", averr);
        goto out;
    }
    if ((averr = av_packet_from_data(pkt, copy, (int)len)) < 0) {
        fail(err, "no_memory", "out of memory", averr);
        goto out;
    }
    copy = NULL; /* the packet owns it */
    if ((averr = avcodec_send_packet(ctx, pkt)) < 0 && averr != AVERROR(EAGAIN)) {
        fail(err, decode_code(averr), "the picture cannot be decoded", averr);
        goto out;
    }
    averr = avcodec_receive_frame(ctx, frame);
    if (averr == AVERROR(EAGAIN)) {
        /* Some decoders hand the picture over only when told there is no more. */
        avcodec_send_packet(ctx, NULL);
        averr = avcodec_receive_frame(ctx, frame);
    }
    if (averr < 0) {
        fail(err, decode_code(averr), "the picture cannot be decoded", averr);
        goto out;
    }
    if (frame->width <= 0 || frame->height <= 0 || frame->format < 0) {
        fail(err, "bad_image", "the picture has no size", 0);
        goto out;
    }
    *out = frame;
    frame = NULL;
    rc = 0;
out:
    av_free(copy);
    av_frame_free(&frame);
    av_packet_free(&pkt);
    avcodec_free_context(&ctx);
    return rc;
}

int media_thumbnail(const void *data, size_t len, int width, unsigned char **out, size_t *out_len,
                    int *out_width, int *out_height, struct media_error *err)
{
    *out = NULL;
    *out_len = 0;
    if (width < MEDIA_THUMB_MIN_WIDTH || width > MEDIA_THUMB_MAX_WIDTH)
        return fail(err, "bad_width", "a thumbnail is 16 to 2048 pixels wide", 0);
    if (!data || len == 0 || len > MEDIA_THUMB_MAX_INPUT)
        return fail(err, "bad_image", "a cover is 1 byte to 32 MiB", 0);
    enum AVCodecID id = sniff(data, len);
    if (id == AV_CODEC_ID_NONE)
        return fail(err, "unsupported_image", "the picture is not a PNG, JPEG, GIF or WebP", 0);
    uint64_t dw, dh;
    declared_size(id, data, len, &dw, &dh);
    if (dw > MEDIA_THUMB_MAX_PIXELS || dh > MEDIA_THUMB_MAX_PIXELS || dw * dh > MEDIA_THUMB_MAX_PIXELS)
        return fail(err, "bad_image", "the picture has more than 25 megapixels", 0);
    if (id == AV_CODEC_ID_MJPEG && jpeg_scans(data, len) > MEDIA_THUMB_MAX_SCANS)
        return fail(err, "bad_image", "the JPEG has more scans than any cover needs", 0);
    AVFrame *src = NULL;
    if (decode(data, len, id, &src, err) != 0)
        return -1;

    /* Never larger than the source; the height follows, within 1:4 either way. */
    int w = width < src->width ? width : src->width;
    int64_t h64 = ((int64_t)src->height * w + src->width / 2) / src->width;
    int h = h64 < 1 ? 1 : h64 > (int64_t)w * 4 ? w * 4 : (int)h64;
    const AVPixFmtDescriptor *d = av_pix_fmt_desc_get(src->format);
    bool alpha = d && (d->flags & AV_PIX_FMT_FLAG_ALPHA);
    enum AVPixelFormat dst_fmt = alpha ? AV_PIX_FMT_YUVA420P : AV_PIX_FMT_YUV420P;

    const AVCodec *codec = avcodec_find_encoder_by_name("libwebp");
    AVCodecContext *enc = codec ? avcodec_alloc_context3(codec) : NULL;
    AVFrame *dst = av_frame_alloc();
    AVPacket *pkt = av_packet_alloc();
    struct SwsContext *sws = NULL;
    int rc = -1, averr = 0;
    if (!codec) {
        fail(err, "unsupported_image", "this build has no WebP encoder", 0);
        goto out;
    }
    if (!enc || !dst || !pkt) {
        fail(err, "no_memory", "out of memory", 0);
        goto out;
    }
    dst->format = dst_fmt;
    dst->width = w;
    dst->height = h;
    if ((averr = av_frame_get_buffer(dst, 0)) < 0) {
        fail(err, "no_memory", "out of memory", averr);
        goto out;
    }
    sws = sws_getContext(src->width, src->height, src->format, w, h, dst_fmt, SWS_BICUBIC, NULL, NULL, NULL);
    if (!sws) {
        fail(err, "unsupported_image", "the picture's pixel format cannot be scaled", 0);
        goto out;
    }
    if ((averr = sws_scale(sws, (const uint8_t *const *)src->data, src->linesize, 0, src->height, dst->data,
                           dst->linesize)) <= 0) {
        fail(err, "bad_image", "the picture cannot be scaled", averr);
        goto out;
    }
    enc->width = w;
    enc->height = h;
    enc->pix_fmt = dst_fmt;
    enc->time_base = (AVRational){1, 1};
    enc->thread_count = 1;
    av_opt_set_double(enc->priv_data, "quality", 80, 0);
    if ((averr = avcodec_open2(enc, codec, NULL)) < 0) {
        fail(err, "bad_image", "the WebP encoder would not start", averr);
        goto out;
    }
    dst->pts = 0;
    if ((averr = avcodec_send_frame(enc, dst)) < 0 || (averr = avcodec_send_frame(enc, NULL)) < 0 ||
        (averr = avcodec_receive_packet(enc, pkt)) < 0) {
        fail(err, "bad_image", "the thumbnail cannot be encoded", averr);
        goto out;
    }
    *out = malloc((size_t)pkt->size);
    if (!*out) {
        fail(err, "no_memory", "out of memory", 0);
        goto out;
    }
    memcpy(*out, pkt->data, (size_t)pkt->size);
    *out_len = (size_t)pkt->size;
    if (out_width)
        *out_width = w;
    if (out_height)
        *out_height = h;
    rc = 0;
out:
    sws_freeContext(sws);
    av_packet_free(&pkt);
    av_frame_free(&dst);
    av_frame_free(&src);
    avcodec_free_context(&enc);
    return rc;
}
