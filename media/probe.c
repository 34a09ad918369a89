/*
 * media_probe_*: libavformat on untrusted input. Both entry points read through one custom
 * AVIOContext (a regular file by pread, or a buffer), so libavformat never opens anything
 * by itself: its io_open is replaced by a refusal, and the format is detected here first so
 * that a demuxer outside the whitelist is refused with its name before it reads a byte.
 */
#include "pretnum/media.h"
#include "internal.h"

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/avstring.h>
#include <libavutil/dict.h>
#include <libavutil/error.h>
#include <libavutil/log.h>
#include <libavutil/mem.h>

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

const char MEDIA_UNREADABLE[] = "media_unreadable";
const char MEDIA_UNSUPPORTED_FORMAT[] = "unsupported_format";
const char MEDIA_NO_MEDIA_STREAM[] = "no_media_stream";
const char MEDIA_ZERO_DURATION[] = "zero_duration";
const char MEDIA_PROBE_TIMEOUT[] = "probe_timeout";
const char MEDIA_INVALID_ARGUMENT[] = "invalid_argument";
const char MEDIA_OUT_OF_MEMORY[] = "out_of_memory";
const char MEDIA_TRUNCATED[] = "truncated_file";
const char MEDIA_INVALID_CONTAINER[] = "invalid_container";

/*
 * Demuxer names as av_match_list() compares them with AVInputFormat.name ("mov,mp4,m4a,
 * 3gp,3g2,mj2" matches through "mov"). None of these opens another file: mov could
 * through data references, which stay off (enable_drefs=0, and io_open refuses anyway).
 * Left out on purpose: hls, dash, concat, image2 and the other image demuxers, avi (its
 * GAB2 subtitles start a nested probe), mpegts/mpeg (no catalogue need, large surface),
 * and the text and subtitle formats.
 */
#define ACCEPTED_FORMATS "mov,mp4,m4a,matroska,webm,ogg,mp3,flac,wav,aac,aiff"

#define DEFAULT_PROBESIZE 5000000
#define DEFAULT_ANALYZEDURATION_US 5000000
#define DEFAULT_MAX_STREAMS 16
#define DEFAULT_DEADLINE_S 10.0
#define MAX_DEADLINE_S 86400.0
#define MIN_PROBESIZE 2048 /* av_probe_input_buffer2() refuses less */
#define MAX_PROBESIZE (1 << 30)
#define IO_BUFFER_SIZE 32768
#define LANGUAGE_MAX 64
#define COVER_MAX (16 * 1024 * 1024)
/*
 * Largest single libav allocation. Demuxers size tables from counts in the header before
 * any data backs them: a 2 KB fragmented MP4 whose trun claims 83 million samples made mov
 * ask for 2 GB three times over (found by fuzz_media). The largest honest table is the
 * sample index of a long MP4 audiobook: 60 h of AAC at 44.1 kHz is 9.3 million entries of
 * 24 bytes, 223 MB.
 */
#define MAX_ALLOC ((size_t)256 * 1024 * 1024)

struct limits {
    int64_t probesize;
    int64_t analyzeduration_us;
    int max_streams;
    double deadline_s;
};

/* What the AVIOContext reads: a buffer (data != NULL) or a regular file (fd). */
struct source {
    const unsigned char *data;
    int fd;
    int64_t size;
    int64_t pos;
    struct timespec deadline;
    int timed_out;
};

void media_init(void)
{
    /* Our errors say what failed, once; libav's own lines about a hostile file would break
     * the command line's one-line rule and interleave with the server's access log. */
    av_log_set_level(AV_LOG_FATAL);
    av_max_alloc(MAX_ALLOC);
}

const char *media_kind_name(enum media_kind kind)
{
    return kind == MEDIA_KIND_VIDEO ? "video" : "audio";
}

static void fail(struct media_error *err, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void fail(struct media_error *err, const char *code, const char *fmt, ...)
{
    if (!err)
        return;
    err->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
}

static struct limits resolve_limits(const struct media_limits *lim)
{
    struct limits l = {DEFAULT_PROBESIZE, DEFAULT_ANALYZEDURATION_US, DEFAULT_MAX_STREAMS,
                       DEFAULT_DEADLINE_S};
    if (lim) {
        if (lim->probesize > 0)
            l.probesize = lim->probesize;
        if (lim->analyzeduration_us > 0)
            l.analyzeduration_us = lim->analyzeduration_us;
        if (lim->max_streams > 0)
            l.max_streams = lim->max_streams;
        if (lim->deadline_s > 0) /* false for NaN */
            l.deadline_s = lim->deadline_s;
    }
    if (l.probesize < MIN_PROBESIZE)
        l.probesize = MIN_PROBESIZE;
    if (l.probesize > MAX_PROBESIZE)
        l.probesize = MAX_PROBESIZE;
    if (l.deadline_s > MAX_DEADLINE_S)
        l.deadline_s = MAX_DEADLINE_S;
    return l;
}

static void set_deadline(struct source *src, double seconds)
{
    int64_t ns = (int64_t)(seconds * 1e9); /* seconds <= MAX_DEADLINE_S: no overflow */
    clock_gettime(CLOCK_MONOTONIC, &src->deadline);
    ns += src->deadline.tv_nsec;
    src->deadline.tv_sec += (time_t)(ns / 1000000000);
    src->deadline.tv_nsec = (long)(ns % 1000000000);
}

/* The AVIOInterruptCB: libavformat polls it in its loops, and so does src_read. */
static int deadline_passed(void *opaque)
{
    struct source *src = opaque;
    if (src->timed_out)
        return 1;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (now.tv_sec > src->deadline.tv_sec ||
        (now.tv_sec == src->deadline.tv_sec && now.tv_nsec >= src->deadline.tv_nsec))
        src->timed_out = 1;
    return src->timed_out;
}

static int src_read(void *opaque, uint8_t *buf, int size)
{
    struct source *src = opaque;
    if (deadline_passed(src))
        return AVERROR_EXIT;
    if (size <= 0 || src->pos >= src->size)
        return AVERROR_EOF;
    int64_t n = src->size - src->pos;
    if (n > size)
        n = size;
    if (src->data) {
        memcpy(buf, src->data + src->pos, (size_t)n);
    } else {
        ssize_t r;
        do
            r = pread(src->fd, buf, (size_t)n, (off_t)src->pos);
        while (r < 0 && errno == EINTR);
        if (r < 0)
            return AVERROR(errno);
        if (r == 0)
            return AVERROR_EOF; /* the file shrank since fstat */
        n = r;
    }
    src->pos += n;
    return (int)n;
}

static int64_t src_seek(void *opaque, int64_t offset, int whence)
{
    struct source *src = opaque;
    int64_t base;
    switch (whence & ~AVSEEK_FORCE) {
    case AVSEEK_SIZE:
        return src->size;
    case SEEK_SET:
        base = 0;
        break;
    case SEEK_CUR:
        base = src->pos;
        break;
    case SEEK_END:
        base = src->size;
        break;
    default:
        return AVERROR(EINVAL);
    }
    /* Offsets come from the file: keep base + offset within [0, size] without overflow. */
    if (offset < -base || offset > src->size - base)
        return AVERROR(EINVAL);
    src->pos = base + offset;
    return src->pos;
}

/* Installed as AVFormatContext.io_open: no demuxer may open a second file or a URL. */
static int refuse_io_open(struct AVFormatContext *s, AVIOContext **pb, const char *url, int flags,
                          AVDictionary **options)
{
    (void)s;
    (void)url;
    (void)flags;
    (void)options;
    *pb = NULL;
    return AVERROR(EPERM);
}

/*
 * Copies at most max bytes of s as valid UTF-8: an invalid byte becomes U+FFFD, and the
 * cut never splits a character. Returns NULL when out of memory.
 */
static char *utf8_dup(const char *s, size_t max)
{
    size_t len = strlen(s);
    char *out = malloc((len > max / 3 ? max : len * 3) + 1); /* a byte may become U+FFFD */
    if (!out)
        return NULL;
    const unsigned char *p = (const unsigned char *)s;
    size_t o = 0;
    while (*p) {
        unsigned c = p[0];
        size_t n = c < 0x80                 ? 1
                   : c >= 0xc2 && c <= 0xdf ? 2
                   : c >= 0xe0 && c <= 0xef ? 3
                   : c >= 0xf0 && c <= 0xf4 ? 4
                                            : 0;
        for (size_t i = 1; i < n; i++)
            if ((p[i] & 0xc0) != 0x80)
                n = 0; /* a truncated sequence; p[i] == 0 stops here too */
        if (n == 3 && ((c == 0xe0 && p[1] < 0xa0) || (c == 0xed && p[1] > 0x9f)))
            n = 0; /* overlong, or a UTF-16 surrogate */
        if (n == 4 && ((c == 0xf0 && p[1] < 0x90) || (c == 0xf4 && p[1] > 0x8f)))
            n = 0; /* overlong, or beyond U+10FFFF */
        const unsigned char *src = n ? p : (const unsigned char *)"\xef\xbf\xbd";
        size_t w = n ? n : 3;
        if (o + w > max)
            break;
        memcpy(out + o, src, w);
        o += w;
        p += n ? n : 1;
    }
    out[o] = '\0';
    return out;
}

/* The first non-empty value among keys (case-insensitive), looked up in each dict in turn. */
static const char *find_tag(AVDictionary *const *dicts, size_t n_dicts, const char *const *keys)
{
    for (size_t d = 0; d < n_dicts; d++) {
        if (!dicts[d])
            continue;
        for (const char *const *k = keys; *k; k++) {
            const AVDictionaryEntry *e = av_dict_get(dicts[d], *k, NULL, 0);
            if (e && e->value && e->value[0])
                return e->value;
        }
    }
    return NULL;
}

/* Sets *dst to a sanitised copy of value (NULL stays NULL); returns -1 when out of memory. */
static int take(char **dst, const char *value, size_t max)
{
    if (!value)
        return 0;
    *dst = utf8_dup(value, max);
    return *dst ? 0 : -1;
}

/* "3/12" -> 3; anything that does not start with a plausible number -> 0. */
static int track_number(const char *s)
{
    if (!s)
        return 0;
    while (*s == ' ')
        s++;
    long n = 0;
    int digits = 0;
    for (; *s >= '0' && *s <= '9' && digits < 6; s++, digits++)
        n = n * 10 + (*s - '0');
    return digits && (*s == '\0' || *s == '/' || *s == ' ') ? (int)n : 0;
}

static int is_media_stream(const AVStream *st)
{
    const AVCodecParameters *par = st->codecpar;
    if (st->disposition & AV_DISPOSITION_ATTACHED_PIC)
        return 0;
    if (par->codec_id == AV_CODEC_ID_NONE)
        return 0;
    return par->codec_type == AVMEDIA_TYPE_AUDIO || par->codec_type == AVMEDIA_TYPE_VIDEO;
}

static double q2d_or_zero(AVRational q)
{
    return q.num > 0 && q.den > 0 ? av_q2d(q) : 0.0;
}

static const char *language_of(const AVStream *st)
{
    const AVDictionaryEntry *e = av_dict_get(st->metadata, "language", NULL, 0);
    if (!e || !e->value || !e->value[0] || !strcmp(e->value, "und"))
        return NULL;
    return e->value;
}

static int fill_stream(struct media_stream *ms, const AVStream *st)
{
    const AVCodecParameters *par = st->codecpar;
    ms->codec = strdup(avcodec_get_name(par->codec_id));
    if (!ms->codec)
        return -1;
    const char *profile = avcodec_profile_name(par->codec_id, par->profile);
    if (profile && !(ms->profile = strdup(profile)))
        return -1;
    if (take(&ms->language, language_of(st), LANGUAGE_MAX) < 0)
        return -1;
    if (par->codec_type == AVMEDIA_TYPE_VIDEO) {
        ms->type = MEDIA_STREAM_VIDEO;
        ms->width = par->width > 0 ? par->width : 0;
        ms->height = par->height > 0 ? par->height : 0;
        ms->frame_rate = q2d_or_zero(st->avg_frame_rate);
        if (ms->frame_rate == 0.0)
            ms->frame_rate = q2d_or_zero(st->r_frame_rate);
    } else {
        ms->type = MEDIA_STREAM_AUDIO;
        ms->sample_rate = par->sample_rate > 0 ? par->sample_rate : 0;
        ms->channels = par->ch_layout.nb_channels > 0 ? par->ch_layout.nb_channels : 0;
    }
    return 0;
}

/* The container's duration when it has one, else the longest audio or video stream's. */
static double duration_of(const AVFormatContext *ctx)
{
    if (ctx->duration > 0) /* AV_NOPTS_VALUE is negative */
        return ctx->duration / (double)AV_TIME_BASE;
    double best = 0.0;
    for (unsigned i = 0; i < ctx->nb_streams; i++) {
        const AVStream *st = ctx->streams[i];
        if (!is_media_stream(st) || st->duration <= 0)
            continue;
        double d = st->duration * q2d_or_zero(st->time_base);
        if (d > best)
            best = d;
    }
    return best;
}

static int fill_tags(struct media_tags *t, const AVFormatContext *ctx)
{
    static const char *const k_title[] = {"title", NULL};
    static const char *const k_artist[] = {"artist", "author", NULL};
    static const char *const k_album_artist[] = {"album_artist", "albumartist", "album artist",
                                                 NULL};
    static const char *const k_album[] = {"album", NULL};
    static const char *const k_composer[] = {"composer", NULL};
    static const char *const k_director[] = {"director", NULL};
    static const char *const k_date[] = {"date", "year", "date_released", "date_recorded", NULL};
    static const char *const k_genre[] = {"genre", NULL};
    static const char *const k_language[] = {"language", NULL};
    static const char *const k_comment[] = {"comment", "description", "synopsis", "summary", NULL};
    static const char *const k_track[] = {"track", "tracknumber", NULL};

    /*
     * Elsewhere a stream's tags describe the stream ("title" names a Matroska track), but
     * Ogg keeps the work's Vorbis comments or OpusTags in its first logical stream.
     */
    AVDictionary *dicts[2] = {ctx->metadata, NULL};
    if (!strcmp(ctx->iformat->name, "ogg")) {
        for (unsigned i = 0; i < ctx->nb_streams && !dicts[1]; i++)
            if (ctx->streams[i]->codecpar->codec_type == AVMEDIA_TYPE_AUDIO)
                dicts[1] = ctx->streams[i]->metadata;
    }
    const size_t nd = 2;
    if (take(&t->title, find_tag(dicts, nd, k_title), MEDIA_TAG_MAX) < 0 ||
        take(&t->artist, find_tag(dicts, nd, k_artist), MEDIA_TAG_MAX) < 0 ||
        take(&t->album_artist, find_tag(dicts, nd, k_album_artist), MEDIA_TAG_MAX) < 0 ||
        take(&t->album, find_tag(dicts, nd, k_album), MEDIA_TAG_MAX) < 0 ||
        take(&t->composer, find_tag(dicts, nd, k_composer), MEDIA_TAG_MAX) < 0 ||
        take(&t->director, find_tag(dicts, nd, k_director), MEDIA_TAG_MAX) < 0 ||
        take(&t->date, find_tag(dicts, nd, k_date), MEDIA_TAG_MAX) < 0 ||
        take(&t->genre, find_tag(dicts, nd, k_genre), MEDIA_TAG_MAX) < 0 ||
        take(&t->comment, find_tag(dicts, nd, k_comment), MEDIA_TAG_MAX) < 0)
        return -1;
    const char *lang = find_tag(dicts, nd, k_language);
    if (lang && !strcmp(lang, "und"))
        lang = NULL;
    for (unsigned i = 0; !lang && i < ctx->nb_streams; i++)
        if (is_media_stream(ctx->streams[i]))
            lang = language_of(ctx->streams[i]);
    if (take(&t->language, lang, LANGUAGE_MAX) < 0)
        return -1;
    t->track = track_number(find_tag(dicts, nd, k_track));
    return 0;
}

/* The MIME type of an attached picture whose codec and first bytes agree, else NULL. */
static const char *cover_mime(const AVStream *st)
{
    static const unsigned char jpeg[] = {0xff, 0xd8, 0xff};
    static const unsigned char png[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    const AVPacket *pkt = &st->attached_pic;
    if (!pkt->data || pkt->size <= 0 || pkt->size > COVER_MAX)
        return NULL;
    size_t size = (size_t)pkt->size;
    switch (st->codecpar->codec_id) {
    case AV_CODEC_ID_MJPEG:
        return size >= sizeof jpeg && !memcmp(pkt->data, jpeg, sizeof jpeg) ? "image/jpeg" : NULL;
    case AV_CODEC_ID_PNG:
        return size >= sizeof png && !memcmp(pkt->data, png, sizeof png) ? "image/png" : NULL;
    default:
        return NULL;
    }
}

/* Turns an open, analysed context into *out; on failure fills err and returns -1. */
static int fill_info(const AVFormatContext *ctx, const char *obj, struct media_info *out,
                     struct media_error *err)
{
    size_t n = 0;
    for (unsigned i = 0; i < ctx->nb_streams; i++)
        n += is_media_stream(ctx->streams[i]);
    if (n == 0) {
        fail(err, MEDIA_NO_MEDIA_STREAM, "no audio or video stream in %s", obj);
        return -1;
    }
    double duration = duration_of(ctx);
    if (!(duration > 0) || !isfinite(duration)) {
        fail(err, MEDIA_ZERO_DURATION, "zero or unknown duration in %s", obj);
        return -1;
    }
    out->duration_s = duration;
    out->bit_rate = ctx->bit_rate > 0 ? ctx->bit_rate : 0;
    out->kind = MEDIA_KIND_AUDIO;
    if (!(out->format = strdup(ctx->iformat->name)))
        goto oom;
    if (!(out->streams = calloc(n, sizeof *out->streams)))
        goto oom;
    for (unsigned i = 0; i < ctx->nb_streams; i++) {
        const AVStream *st = ctx->streams[i];
        if (!is_media_stream(st))
            continue;
        struct media_stream *ms = &out->streams[out->n_streams++];
        if (fill_stream(ms, st) < 0)
            goto oom;
        if (ms->type == MEDIA_STREAM_VIDEO)
            out->kind = MEDIA_KIND_VIDEO;
    }
    if (fill_tags(&out->tags, ctx) < 0)
        goto oom;
    for (unsigned i = 0; i < ctx->nb_streams && !out->cover; i++) {
        const AVStream *st = ctx->streams[i];
        const char *mime;
        if (!(st->disposition & AV_DISPOSITION_ATTACHED_PIC) || !(mime = cover_mime(st)))
            continue;
        if (!(out->cover = malloc((size_t)st->attached_pic.size)))
            goto oom;
        memcpy(out->cover, st->attached_pic.data, (size_t)st->attached_pic.size);
        out->cover_size = (size_t)st->attached_pic.size;
        out->cover_mime = mime;
    }
    return 0;
oom:
    fail(err, MEDIA_OUT_OF_MEMORY, "out of memory probing %s", obj);
    return -1;
}

/*
 * Reports a libav failure, which is a timeout when our deadline is what stopped it.
 * ENOMEM from a demuxer is the file's doing far more often than the machine's: a size
 * beyond libav's allocation limit, or a stream beyond max_streams.
 */
static void fail_av(struct media_error *err, const struct source *src, const char *obj,
                    const struct limits *l, int averr)
{
    if (src->timed_out)
        fail(err, MEDIA_PROBE_TIMEOUT, "could not read %s: gave up after the %g s deadline", obj,
             l->deadline_s);
    else if (averr == AVERROR(ENOMEM))
        fail(err, MEDIA_UNREADABLE,
             "could not read %s: Cannot allocate memory (more than %d streams, or a size beyond "
             "the limits)",
             obj, l->max_streams);
    else
        fail(err, MEDIA_UNREADABLE, "could not read %s: %s", obj, av_err2str(averr));
}

/* Reads n bytes at off without moving the demuxer's position; returns the count read. */
static size_t src_pread(const struct source *src, int64_t off, unsigned char *buf, size_t n)
{
    if (off < 0 || off >= src->size)
        return 0;
    if ((int64_t)n > src->size - off)
        n = (size_t)(src->size - off);
    if (src->data) {
        memcpy(buf, src->data + off, n);
        return n;
    }
    ssize_t r;
    do
        r = pread(src->fd, buf, n, (off_t)off);
    while (r < 0 && errno == EINTR);
    return r > 0 ? (size_t)r : 0;
}

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/*
 * A WAV whose data chunk declares more bytes than the file holds was cut short: libavformat
 * quietly plays what is there, but the catalogue would sell a truncated recording.
 * 0 and 0xFFFFFFFF are the "unknown length" of streamed WAVs and pass.
 */
static int check_wav(const struct source *src, const char *obj, struct media_error *err)
{
    unsigned char h[12], c[8];
    if (src_pread(src, 0, h, 12) != 12 || memcmp(h, "RIFF", 4) != 0 || memcmp(h + 8, "WAVE", 4) != 0)
        return 0; /* RF64 and others: left to libavformat */
    int64_t off = 12;
    for (int i = 0; i < 64 && src_pread(src, off, c, 8) == 8; i++) {
        uint32_t size = le32(c + 4);
        if (!memcmp(c, "data", 4)) {
            if (size != 0 && size != 0xFFFFFFFFu && off + 8 + (int64_t)size > src->size) {
                fail(err, MEDIA_TRUNCATED, "could not accept %s: its audio data is cut short (%lld of %u bytes)",
                     obj, (long long)(src->size - off - 8), size);
                return -1;
            }
            return 0;
        }
        off += 8 + (int64_t)size + (size & 1);
    }
    return 0;
}

/* Reads an EBML variable-length integer at p (n bytes left); returns its length or 0. */
static int ebml_vint(const unsigned char *p, size_t n, uint64_t *value, int keep_marker)
{
    if (!n || !p[0])
        return 0;
    int len = 1;
    while (!(p[0] & (0x80 >> (len - 1))))
        len++;
    if ((size_t)len > n)
        return 0;
    uint64_t v = keep_marker ? p[0] : (p[0] & (0xFF >> len));
    for (int i = 1; i < len; i++)
        v = v << 8 | p[i];
    *value = v;
    return len;
}

/*
 * Matroska's EBML header must name its DocType ("matroska" or "webm"); libavformat
 * accepts a header without one, the specification does not.
 */
static int check_ebml(const struct source *src, const char *obj, struct media_error *err)
{
    unsigned char h[256];
    size_t n = src_pread(src, 0, h, sizeof h);
    uint64_t id, size;
    int a = ebml_vint(h, n, &id, 1), b = a ? ebml_vint(h + a, n - (size_t)a, &size, 0) : 0;
    if (!a || !b || id != 0x1A45DFA3) {
        fail(err, MEDIA_INVALID_CONTAINER, "could not accept %s: it has no EBML header", obj);
        return -1;
    }
    size_t pos = (size_t)(a + b), end = size < n - pos ? pos + (size_t)size : n;
    while (pos < end) {
        uint64_t cid, csize;
        int x = ebml_vint(h + pos, end - pos, &cid, 1);
        int y = x ? ebml_vint(h + pos + x, end - pos - (size_t)x, &csize, 0) : 0;
        if (!x || !y)
            break;
        pos += (size_t)(x + y);
        if (cid == 0x4282) {
            size_t len = csize < end - pos ? (size_t)csize : end - pos;
            if ((len == 8 && !memcmp(h + pos, "matroska", 8)) || (len == 4 && !memcmp(h + pos, "webm", 4)))
                return 0;
            break;
        }
        if (csize > end - pos)
            break;
        pos += (size_t)csize;
    }
    fail(err, MEDIA_INVALID_CONTAINER, "could not accept %s: its EBML header names no Matroska or WebM DocType", obj);
    return -1;
}

/*
 * Opens src with the checks and bounds above and finds the stream parameters: on success
 * *pbp and *ctxp are set (release them with close_input); on failure err is filled and
 * nothing is left open. url is what libavformat sees as the name (an extension helps
 * format detection); it is never opened. obj names the input in messages.
 */
static int open_input(struct source *src, const char *url, const char *obj, const struct limits *lp,
                      AVIOContext **pbp, AVFormatContext **ctxp, struct media_error *err)
{
    const struct limits l = *lp;
    AVIOContext *pb = NULL;
    AVFormatContext *ctx = NULL;
    AVDictionary *opts = NULL;
    const AVInputFormat *fmt = NULL;
    int rc = -1, ret;

    set_deadline(src, l.deadline_s);
    unsigned char *iobuf = av_malloc(IO_BUFFER_SIZE);
    if (!iobuf ||
        !(pb = avio_alloc_context(iobuf, IO_BUFFER_SIZE, 0, src, src_read, NULL, src_seek))) {
        av_free(iobuf);
        fail(err, MEDIA_OUT_OF_MEMORY, "out of memory probing %s", obj);
        goto out;
    }
    ret = av_probe_input_buffer2(pb, &fmt, url, NULL, 0, (unsigned)l.probesize);
    if (ret >= 0 && !fmt)
        ret = AVERROR_INVALIDDATA;
    if (ret < 0) {
        fail_av(err, src, obj, &l, ret);
        goto out;
    }
    if (av_match_list(fmt->name, ACCEPTED_FORMATS, ',') <= 0) {
        fail(err, MEDIA_UNSUPPORTED_FORMAT, "could not accept %s: format \"%s\" is not supported",
             obj, fmt->name);
        goto out;
    }
    if ((!strcmp(fmt->name, "wav") && check_wav(src, obj, err) != 0) ||
        (!strncmp(fmt->name, "matroska", 8) && check_ebml(src, obj, err) != 0))
        goto out;
    if (!(ctx = avformat_alloc_context())) {
        fail(err, MEDIA_OUT_OF_MEMORY, "out of memory probing %s", obj);
        goto out;
    }
    ctx->pb = pb;
    ctx->interrupt_callback.callback = deadline_passed;
    ctx->interrupt_callback.opaque = src;
    ctx->io_open = refuse_io_open;
    /* The whitelists repeat, inside libavformat, what the checks above enforce. */
    if (av_dict_set(&opts, "protocol_whitelist", "file", 0) < 0 ||
        av_dict_set(&opts, "format_whitelist", ACCEPTED_FORMATS, 0) < 0 ||
        av_dict_set_int(&opts, "probesize", l.probesize, 0) < 0 ||
        av_dict_set_int(&opts, "analyzeduration", l.analyzeduration_us, 0) < 0 ||
        av_dict_set_int(&opts, "max_streams", l.max_streams, 0) < 0 ||
        av_dict_set(&opts, "enable_drefs", "0", 0) < 0) {
        avformat_free_context(ctx);
        ctx = NULL;
        fail(err, MEDIA_OUT_OF_MEMORY, "out of memory probing %s", obj);
        goto out;
    }
    ret = avformat_open_input(&ctx, url, fmt, &opts); /* frees ctx on failure */
    if (ret < 0) {
        fail_av(err, src, obj, &l, ret);
        goto out;
    }
    ret = avformat_find_stream_info(ctx, NULL);
    if (ret < 0 || src->timed_out) {
        fail_av(err, src, obj, &l, ret);
        goto out;
    }
    rc = 0;
out:
    av_dict_free(&opts);
    if (rc != 0) {
        avformat_close_input(&ctx); /* leaves our pb alone: AVFMT_FLAG_CUSTOM_IO */
        if (pb) {
            av_freep(&pb->buffer); /* libavformat may have replaced iobuf */
            avio_context_free(&pb);
        }
    }
    *pbp = pb;
    *ctxp = ctx;
    return rc;
}

static void close_input(AVIOContext **pb, AVFormatContext **ctx)
{
    avformat_close_input(ctx); /* leaves our pb alone: AVFMT_FLAG_CUSTOM_IO */
    if (*pb) {
        av_freep(&(*pb)->buffer);
        avio_context_free(pb);
    }
}

/* The probe proper: see open_input for url and obj. */
static int probe(struct source *src, const char *url, const char *obj,
                 const struct media_limits *lim, struct media_info *out, struct media_error *err)
{
    const struct limits l = resolve_limits(lim);
    AVIOContext *pb = NULL;
    AVFormatContext *ctx = NULL;
    int rc = open_input(src, url, obj, &l, &pb, &ctx, err);
    if (rc == 0)
        rc = fill_info(ctx, obj, out, err);
    close_input(&pb, &ctx);
    if (rc != 0)
        media_info_free(out);
    return rc;
}

/* ---- for the packager (media/internal.h) ---- */

struct media_input {
    struct source src;
    struct limits l;
    AVIOContext *pb;
    AVFormatContext *ctx;
    char obj[200];
};

int media_input_open(const char *path, const struct media_limits *lim, struct media_input **out,
                     struct media_error *err)
{
    *out = NULL;
    struct media_input *in = calloc(1, sizeof *in);
    if (!in) {
        fail(err, MEDIA_OUT_OF_MEMORY, "out of memory opening a file");
        return -1;
    }
    snprintf(in->obj, sizeof in->obj, "\"%s\"", path);
    in->l = resolve_limits(lim);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        fail(err, MEDIA_UNREADABLE, "could not open %s: %s", in->obj,
             fd < 0 ? av_err2str(AVERROR(errno)) : "not a regular file");
        if (fd >= 0)
            close(fd);
        free(in);
        return -1;
    }
    in->src = (struct source){.fd = fd, .size = st.st_size};
    if (open_input(&in->src, path, in->obj, &in->l, &in->pb, &in->ctx, err) != 0) {
        close(fd);
        free(in);
        return -1;
    }
    *out = in;
    return 0;
}

int media_input_open_buffer(const void *data, size_t len, const struct media_limits *lim,
                            struct media_input **out, struct media_error *err)
{
    *out = NULL;
    static const unsigned char empty[1];
    struct media_input *in = calloc(1, sizeof *in);
    if (!in || len > INT64_MAX || (!data && len)) {
        free(in);
        fail(err, in ? MEDIA_INVALID_ARGUMENT : MEDIA_OUT_OF_MEMORY, "could not open a buffer");
        return -1;
    }
    snprintf(in->obj, sizeof in->obj, "buffer of %zu bytes", len);
    in->l = resolve_limits(lim);
    in->src = (struct source){.data = len ? data : empty, .fd = -1, .size = (int64_t)len};
    if (open_input(&in->src, "", in->obj, &in->l, &in->pb, &in->ctx, err) != 0) {
        free(in);
        return -1;
    }
    *out = in;
    return 0;
}

AVFormatContext *media_input_ctx(struct media_input *in)
{
    return in->ctx;
}

const char *media_input_name(const struct media_input *in)
{
    return in->obj;
}

int64_t media_input_size(const struct media_input *in)
{
    return in->src.size;
}

void media_input_set_deadline(struct media_input *in, double seconds)
{
    if (!(seconds > 0)) /* false for NaN */
        return;
    if (seconds > MAX_DEADLINE_S)
        seconds = MAX_DEADLINE_S;
    in->l.deadline_s = seconds;
    set_deadline(&in->src, seconds);
}

int media_input_timed_out(struct media_input *in)
{
    return deadline_passed(&in->src);
}

void media_input_fail(struct media_input *in, struct media_error *err, int averr)
{
    fail_av(err, &in->src, in->obj, &in->l, averr);
}

void media_input_close(struct media_input *in)
{
    if (!in)
        return;
    close_input(&in->pb, &in->ctx);
    if (in->src.fd >= 0)
        close(in->src.fd);
    free(in);
}

int media_probe_file(const char *path, const struct media_limits *lim, struct media_info *out,
                     struct media_error *err)
{
    if (out)
        memset(out, 0, sizeof *out);
    if (!path || !out) {
        fail(err, MEDIA_INVALID_ARGUMENT, "invalid argument: %s is NULL", path ? "out" : "path");
        return -1;
    }
    char obj[200];
    snprintf(obj, sizeof obj, "\"%s\"", path);
    /* O_NONBLOCK so that a FIFO cannot hang the open; it is refused just below anyway. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        fail(err, MEDIA_UNREADABLE, "could not open %s: %s", obj, av_err2str(AVERROR(errno)));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        fail(err, MEDIA_UNREADABLE, "could not open %s: not a regular file", obj);
        close(fd);
        return -1;
    }
    struct source src = {.fd = fd, .size = st.st_size};
    int rc = probe(&src, path, obj, lim, out, err);
    close(fd);
    return rc;
}

int media_probe_buffer(const void *data, size_t len, const struct media_limits *lim,
                       struct media_info *out, struct media_error *err)
{
    if (out)
        memset(out, 0, sizeof *out);
    if ((!data && len) || !out || len > INT64_MAX) {
        fail(err, MEDIA_INVALID_ARGUMENT, "invalid argument: %s", out ? "no data" : "out is NULL");
        return -1;
    }
    char obj[64];
    snprintf(obj, sizeof obj, "buffer of %zu bytes", len);
    static const unsigned char empty[1];
    struct source src = {.data = len ? data : empty, .fd = -1, .size = (int64_t)len};
    return probe(&src, "", obj, lim, out, err);
}

static void free_stream(struct media_stream *ms)
{
    free(ms->codec);
    free(ms->profile);
    free(ms->language);
}

void media_info_free(struct media_info *info)
{
    if (!info)
        return;
    for (size_t i = 0; i < info->n_streams; i++)
        free_stream(&info->streams[i]);
    free(info->streams);
    free(info->format);
    struct media_tags *t = &info->tags;
    free(t->title);
    free(t->artist);
    free(t->album_artist);
    free(t->album);
    free(t->composer);
    free(t->director);
    free(t->date);
    free(t->genre);
    free(t->language);
    free(t->comment);
    free(info->cover);
    memset(info, 0, sizeof *info);
}
