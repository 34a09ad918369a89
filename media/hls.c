/*
 * The HLS packager (see include/pretnum/hls.h for why at ingest). One pass: packets are
 * read from the hardened input (media/internal.h), copied or (audio only) re-encoded to
 * AAC, and fed to libavformat's mp4 muxer in fragmented mode with frag_custom, so that a
 * fragment ends exactly where this file decides. The muxer writes through one custom
 * AVIOContext; its write_data_type callback sends what the muxer marks as the header
 * (AVIO_DATA_MARKER_HEADER: ftyp + moov) to init.mp4 and the rest to the current segment
 * file, switched between fragments. delay_moov has the moov written once the first
 * fragment is complete, as libavformat's own hls and dash muxers do, and frag_discont
 * puts each track's first decode time in its first fragment (tfdt): audio that starts
 * after the video stays after it, for libavformat and for a browser alike. The cut points and the EXTINF values come from the same timestamps, so the
 * playlist and the segments cannot disagree.
 *
 * Durability. Nothing here is synced while packaging: a presentation is derived data,
 * made again at will from the stored source, which the catalogue syncs before the title
 * commits. So the title commits as soon as the presentation is written (as fast as the
 * ffmpeg command line, which syncs nothing either); media_hls_sync_later() then syncs it
 * in the background and marks it whole (.synced, written and synced after the files and
 * the directory). At the server's start media_hls_recover() looks at every presentation
 * without the mark: written during this boot (.packaged holds the boot id), the page
 * cache holds what was written and a sync makes it durable as it is; written in an
 * earlier boot, a crash or power cut may have cut files short, and it is packaged again
 * from the source into data_dir/tmp and exchanged for the old one (renameat2
 * RENAME_EXCHANGE), so a request never sees half of one. Until then a damaged
 * presentation may be served as it is: a crash costs at most the presentations imported
 * in the seconds before it.
 */
#include "pretnum/hls.h"

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/audio_fifo.h>
#include <libavutil/channel_layout.h>
#include <libavutil/opt.h>
#include <libswresample/swresample.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

const char MEDIA_UNSTREAMABLE_VIDEO[] = "unstreamable_video";
const char MEDIA_UNSTREAMABLE_AUDIO[] = "unstreamable_audio";
const char MEDIA_PACKAGING_FAILED[] = "packaging_failed";
const char MEDIA_PACKAGING_TIMEOUT[] = "packaging_timeout";
const char MEDIA_PRESENTATION_TOO_LARGE[] = "presentation_too_large";

#define DEFAULT_DEADLINE_S 1800.0
#define MAX_SEGMENTS 100000 /* 6 s each: a week of media */
#define IO_BUFFER_SIZE 65536
#define MAX_SEGMENT_S 600.0
#define VIDEO_QUEUE 32 /* a longer GOP is not a stream anyone can seek in */

struct segment {
    double start; /* seconds, on the reference stream's clock */
    int64_t bytes;
};

/* Audio re-encoding state. */
struct recode {
    AVCodecContext *dec, *enc;
    SwrContext *swr;
    AVAudioFifo *fifo;
    AVFrame *in, *out;
    int64_t next_pts;  /* in 1/sample_rate */
    int64_t first_pts; /* the first decoded sample's time, in 1/sample_rate */
    bool started;
    int in_rate, in_channels, in_format; /* what the resampler was set up for */
    int64_t in_next; /* where the next decoded frame should start, in 1/in_rate (NOPTS: unknown) */
};

struct pkg {
    const char *dir;
    struct media_error *err;
    struct media_input *in;
    AVFormatContext *ic, *oc;
    AVIOContext *pb;
    int fd;          /* the current segment file, -1 for none (dir NULL: count only) */
    int init_fd;     /* init.mp4 while the muxer writes the header into it, else -1 */
    bool header_done; /* the moov has been written (delay_moov: at the first fragment's end) */
    int64_t written; /* bytes into the current file */
    int64_t total;   /* bytes into every file */
    int64_t max_output;
    int vi, ai; /* input stream indexes, -1 when absent */
    int ov, oa; /* output stream indexes */
    int ref;    /* output stream whose timestamps cut segments */
    struct recode rc;
    double target;
    struct segment *seg;
    int nseg, capseg;
    bool seg_open;  /* the current segment has packets of the reference stream */
    double ref_end; /* end of the last reference packet (pts + duration), seconds */
    double ref_first;
    bool have_ref;
    int64_t last_dts[2];
    char codecs[64];
    AVPacket *vq[VIDEO_QUEUE]; /* video packets waiting for a decoding time */
    int nvq;
    int werr;    /* errno of a failed write */
    bool capped; /* a write would have passed max_output */
    double other_end; /* end of the last packet of the other stream, seconds */
    bool audio_only;
    int nal_len;   /* NAL length size of the video's avcC (1, 2 or 4); 0: Annex B */
    bool seen_idr; /* the video has begun (leading pictures before an IDR are dropped) */
    bool lead_discard; /* the reference stream began with pictures an edit list hides */
    bool shown;        /* a picture of the reference stream that is not hidden has come */
};

static int failf(struct pkg *p, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int failf(struct pkg *p, const char *code, const char *fmt, ...)
{
    if (p->err && !p->err->code) {
        p->err->code = code;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(p->err->message, sizeof p->err->message, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* A failed libav write or read (averr), said as what stopped it. */
static int fail_av(struct pkg *p, const char *what, int averr)
{
    if (p->capped)
        return failf(p, MEDIA_PRESENTATION_TOO_LARGE,
                     "could not package %s: the presentation would pass %lld MiB",
                     media_input_name(p->in), (long long)(p->max_output >> 20));
    if (media_input_timed_out(p->in))
        return failf(p, MEDIA_PACKAGING_TIMEOUT, "could not package %s: it took too long",
                     media_input_name(p->in));
    if (p->werr)
        return failf(p, MEDIA_PACKAGING_FAILED, "could not write the presentation: %s",
                     strerror(p->werr));
    return failf(p, MEDIA_PACKAGING_FAILED, "could not %s %s: %s", what, media_input_name(p->in),
                 av_err2str(averr));
}

/* Writes size bytes to fd (-1: nowhere); 0, or an AVERROR with p->werr set. */
static int write_all(struct pkg *p, int fd, const uint8_t *buf, int size)
{
    if (p->total + size > p->max_output) {
        p->capped = true;
        return AVERROR(EFBIG);
    }
    for (size_t off = 0; fd >= 0 && off < (size_t)size;) {
        ssize_t w = write(fd, buf + off, (size_t)size - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            p->werr = w < 0 ? errno : EIO;
            return AVERROR(p->werr);
        }
        off += (size_t)w;
    }
    p->total += size;
    return 0;
}

/* The AVIOContext's sink: the current segment file, or nothing when only counting. */
static int sink_write(void *opaque, uint8_t *buf, int size)
{
    struct pkg *p = opaque;
    if (size <= 0)
        return 0;
    if (p->dir && p->fd < 0) {
        p->werr = EPROTO; /* bytes outside any segment: the muxer did not do as expected */
        return AVERROR(EPROTO);
    }
    int r = write_all(p, p->fd, buf, size);
    if (r < 0)
        return r;
    p->written += size;
    return size;
}

/*
 * The same, told by the muxer what the bytes are: the header (ftyp + moov, which
 * delay_moov writes when the first fragment ends) goes to init.mp4, everything else
 * (moof + mdat) to the current segment.
 */
static int sink_write_typed(void *opaque, uint8_t *buf, int size, enum AVIODataMarkerType type,
                            int64_t time)
{
    (void)time;
    struct pkg *p = opaque;
    if (type != AVIO_DATA_MARKER_HEADER)
        return sink_write(opaque, buf, size);
    if (size <= 0)
        return 0;
    if (p->header_done || (p->dir && p->init_fd < 0)) {
        p->werr = EPROTO; /* a second header, or one outside the first fragment's end */
        return AVERROR(EPROTO);
    }
    int r = write_all(p, p->init_fd, buf, size);
    return r < 0 ? r : size;
}

static int open_out(struct pkg *p, const char *name)
{
    p->written = 0;
    if (!p->dir)
        return 0;
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", p->dir, name) >= sizeof path)
        return failf(p, MEDIA_PACKAGING_FAILED, "the presentation's path is too long");
    p->fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (p->fd < 0)
        return failf(p, MEDIA_PACKAGING_FAILED, "could not create %s: %s", name, strerror(errno));
    return 0;
}

static int close_out(struct pkg *p)
{
    avio_flush(p->pb);
    if (p->pb->error < 0 || p->werr) {
        if (p->fd >= 0)
            close(p->fd);
        p->fd = -1;
        return fail_av(p, "write", p->pb->error);
    }
    if (p->fd >= 0 && close(p->fd) != 0) {
        p->fd = -1;
        return failf(p, MEDIA_PACKAGING_FAILED, "could not write the presentation: %s",
                     strerror(errno));
    }
    p->fd = -1;
    return 0;
}

static int write_text(struct pkg *p, const char *name, const char *text, size_t len)
{
    if (open_out(p, name) != 0)
        return -1;
    int rc = sink_write(p, (uint8_t *)(uintptr_t)text, (int)len) == (int)len ? 0 : -1;
    if (p->fd >= 0 && close(p->fd) != 0)
        rc = -1;
    p->fd = -1;
    return rc == 0 ? 0 : failf(p, MEDIA_PACKAGING_FAILED, "could not write %s", name);
}

/* ---- codecs ---- */

/* The first three bytes of an H.264 stream's SPS (profile_idc, constraint flags,
 * level_idc), from its avcC or its first SPS in Annex B; NULL when it has none. */
static const uint8_t *sps_head(const AVCodecParameters *par)
{
    const uint8_t *x = par->extradata;
    int n = par->extradata_size;
    if (x && n >= 4 && x[0] == 1)
        return x + 1;
    for (int i = 0; x && i + 6 < n; i++) /* Annex B: 00 00 01 then the NAL header */
        if (x[i] == 0 && x[i + 1] == 0 && x[i + 2] == 1 && (x[i + 3] & 0x1f) == 7)
            return x + i + 4;
    return NULL;
}

/* The RFC 6381 name of an H.264 stream, from its SPS as stored; 0 or -1. */
static int avc1_name(const AVCodecParameters *par, char *out, size_t cap)
{
    const uint8_t *h = sps_head(par);
    if (!h)
        return -1;
    snprintf(out, cap, "avc1.%02x%02x%02x", h[0], h[1], h[2]);
    return 0;
}

/*
 * The browsers' H.264: Constrained Baseline, Main, High; 8-bit 4:2:0. The profile is the
 * stream's own profile_idc (what CODECS says), libavformat's only when there is no SPS to
 * read; a stream whose profile is known from neither is refused.
 */
static bool playable_h264(const AVCodecParameters *par)
{
    const uint8_t *h = sps_head(par);
    int prof = h ? h[0] : par->profile & ~FF_PROFILE_H264_CONSTRAINED;
    bool profile_ok = prof == FF_PROFILE_H264_BASELINE || prof == FF_PROFILE_H264_MAIN ||
                      prof == FF_PROFILE_H264_HIGH;
    bool format_ok = par->format == AV_PIX_FMT_NONE || par->format == AV_PIX_FMT_YUV420P ||
                     par->format == AV_PIX_FMT_YUVJ420P;
    return profile_ok && format_ok;
}

/* AAC's audio object type: from the AudioSpecificConfig, else the profile. */
static int aac_object_type(const AVCodecParameters *par)
{
    if (par->extradata && par->extradata_size >= 2) {
        int aot = par->extradata[0] >> 3;
        if (aot == 31)
            aot = 32 + ((par->extradata[0] & 7) << 3 | par->extradata[1] >> 5);
        return aot;
    }
    return par->profile >= 0 ? par->profile + 1 : 2;
}

/*
 * AAC is copied. MP3 is not, although MP4 can hold it: hls.js refuses the CODECS value
 * "mp4a.6B" and Chromium's MSE rejects MP3 appended as "mp4a.40.34" (tests/js/
 * test_player.mjs saw both), and Apple's HLS authoring specification lists no MP3 in
 * fMP4. So MP3 is re-encoded to AAC like FLAC, Vorbis, Opus and PCM.
 */
static bool copyable_audio(const AVCodecParameters *par)
{
    /* Raw ADTS (.aac) has no AudioSpecificConfig for the moov, and the muxer gets no
     * aac_adtstoasc in fragmented mode: it is re-encoded. */
    if (par->codec_id != AV_CODEC_ID_AAC || !par->extradata || par->extradata_size < 2)
        return false;
    int aot = aac_object_type(par);
    return (aot == 2 || aot == 5 || aot == 29) && par->ch_layout.nb_channels >= 1 &&
           par->ch_layout.nb_channels <= 8;
}

/* ---- audio re-encoding ---- */

static void recode_free(struct recode *rc)
{
    avcodec_free_context(&rc->dec);
    avcodec_free_context(&rc->enc);
    swr_free(&rc->swr);
    if (rc->fifo)
        av_audio_fifo_free(rc->fifo);
    rc->fifo = NULL;
    av_frame_free(&rc->in);
    av_frame_free(&rc->out);
}

/*
 * The AAC bit rate for a source of bit rate src (0: unknown): 64 kb/s mono, 128 kb/s
 * stereo, transparent for the sources of music; never far above a low-rate source (a
 * spoken-word Opus at 8 kb/s gets 32 kb/s, not 16 times its size).
 */
static int64_t aac_bit_rate(int channels, int64_t src)
{
    int64_t full = channels == 1 ? 64000 : 128000, floor_ = channels == 1 ? 32000 : 48000;
    if (src <= 0 || src * 2 >= full)
        return full;
    return src * 2 > floor_ ? src * 2 : floor_;
}

static int recode_open(struct pkg *p, const AVStream *st)
{
    struct recode *rc = &p->rc;
    const AVCodec *dc = avcodec_find_decoder(st->codecpar->codec_id);
    const AVCodec *ec = avcodec_find_encoder(AV_CODEC_ID_AAC);
    if (!dc)
        return failf(p, MEDIA_UNSTREAMABLE_AUDIO,
                     "could not stream %s: its %s audio cannot be decoded", media_input_name(p->in),
                     avcodec_get_name(st->codecpar->codec_id));
    if (!ec)
        return failf(p, MEDIA_PACKAGING_FAILED, "no AAC encoder in this build of libavcodec");
    if (!(rc->dec = avcodec_alloc_context3(dc)) ||
        avcodec_parameters_to_context(rc->dec, st->codecpar) < 0)
        return failf(p, MEDIA_OUT_OF_MEMORY, "out of memory opening a decoder");
    rc->dec->pkt_timebase = st->time_base;
    rc->dec->thread_count = 1;
    if (avcodec_open2(rc->dec, dc, NULL) < 0)
        return failf(p, MEDIA_UNSTREAMABLE_AUDIO,
                     "could not stream %s: its %s audio cannot be decoded", media_input_name(p->in),
                     avcodec_get_name(st->codecpar->codec_id));
    int channels = rc->dec->ch_layout.nb_channels;
    int rate = rc->dec->sample_rate;
    if (channels < 1 || rate < 1000 || rate > 768000)
        return failf(p, MEDIA_UNSTREAMABLE_AUDIO,
                     "could not stream %s: its audio has %d channels at %d Hz",
                     media_input_name(p->in), channels, rate);
    if (!(rc->enc = avcodec_alloc_context3(ec)))
        return failf(p, MEDIA_OUT_OF_MEMORY, "out of memory opening an encoder");
    rc->enc->sample_rate = rate == 44100 || rate == 48000 ? rate : 48000;
    av_channel_layout_default(&rc->enc->ch_layout, channels == 1 ? 1 : 2);
    rc->enc->sample_fmt = AV_SAMPLE_FMT_FLTP;
    rc->enc->bit_rate = aac_bit_rate(channels == 1 ? 1 : 2, st->codecpar->bit_rate);
    rc->enc->profile = FF_PROFILE_AAC_LOW;
    rc->enc->time_base = (AVRational){1, rc->enc->sample_rate};
    rc->enc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER; /* the AudioSpecificConfig goes into the moov */
    if (avcodec_open2(rc->enc, ec, NULL) < 0)
        return failf(p, MEDIA_PACKAGING_FAILED, "could not open the AAC encoder");
    AVChannelLayout in_layout;
    if (rc->dec->ch_layout.order == AV_CHANNEL_ORDER_UNSPEC)
        av_channel_layout_default(&in_layout, channels);
    else if (av_channel_layout_copy(&in_layout, &rc->dec->ch_layout) < 0)
        return failf(p, MEDIA_OUT_OF_MEMORY, "out of memory");
    int r =
        swr_alloc_set_opts2(&rc->swr, &rc->enc->ch_layout, rc->enc->sample_fmt,
                            rc->enc->sample_rate, &in_layout, rc->dec->sample_fmt, rate, 0, NULL);
    av_channel_layout_uninit(&in_layout);
    rc->in_rate = rate;
    rc->in_next = AV_NOPTS_VALUE;
    rc->in_channels = channels;
    rc->in_format = rc->dec->sample_fmt;
    if (r < 0 || swr_init(rc->swr) < 0)
        return failf(p, MEDIA_UNSTREAMABLE_AUDIO,
                     "could not stream %s: its audio cannot be resampled", media_input_name(p->in));
    if (!(rc->fifo = av_audio_fifo_alloc(rc->enc->sample_fmt, rc->enc->ch_layout.nb_channels,
                                         rc->enc->frame_size)) ||
        !(rc->in = av_frame_alloc()) || !(rc->out = av_frame_alloc()))
        return failf(p, MEDIA_OUT_OF_MEMORY, "out of memory");
    return 0;
}

static int write_packet(struct pkg *p, AVPacket *pkt, int ost, bool key);
static int video_packet(struct pkg *p, AVPacket *pkt);
static bool sane_times(const AVPacket *pkt);

/* Drains the encoder's packets into the muxer. */
static int drain_encoder(struct pkg *p)
{
    AVPacket *pkt = av_packet_alloc();
    if (!pkt)
        return failf(p, MEDIA_OUT_OF_MEMORY, "out of memory");
    int r;
    while ((r = avcodec_receive_packet(p->rc.enc, pkt)) >= 0) {
        av_packet_rescale_ts(pkt, p->rc.enc->time_base, p->oc->streams[p->oa]->time_base);
        pkt->stream_index = p->oa;
        if (write_packet(p, pkt, p->oa, true) != 0) {
            av_packet_free(&pkt);
            return -1;
        }
        av_packet_unref(pkt);
    }
    av_packet_free(&pkt);
    if (r != AVERROR(EAGAIN) && r != AVERROR_EOF)
        return failf(p, MEDIA_PACKAGING_FAILED, "the AAC encoder failed: %s", av_err2str(r));
    return 0;
}

/* Encodes whole frames from the FIFO (and the rest when flushing). */
static int encode_fifo(struct pkg *p, bool flush)
{
    struct recode *rc = &p->rc;
    int fs = rc->enc->frame_size;
    while (av_audio_fifo_size(rc->fifo) >= fs || (flush && av_audio_fifo_size(rc->fifo) > 0)) {
        int n = FFMIN(fs, av_audio_fifo_size(rc->fifo));
        av_frame_unref(rc->out);
        rc->out->nb_samples = n;
        rc->out->format = rc->enc->sample_fmt;
        rc->out->sample_rate = rc->enc->sample_rate;
        if (av_channel_layout_copy(&rc->out->ch_layout, &rc->enc->ch_layout) < 0 ||
            av_frame_get_buffer(rc->out, 0) < 0)
            return failf(p, MEDIA_OUT_OF_MEMORY, "out of memory");
        if (av_audio_fifo_read(rc->fifo, (void **)rc->out->data, n) != n)
            return failf(p, MEDIA_PACKAGING_FAILED, "audio buffer underflow");
        rc->out->pts = rc->next_pts;
        rc->next_pts += n;
        int r = avcodec_send_frame(rc->enc, rc->out);
        if (r < 0)
            return failf(p, MEDIA_PACKAGING_FAILED, "the AAC encoder failed: %s", av_err2str(r));
        if (drain_encoder(p) != 0)
            return -1;
    }
    if (flush) {
        int r = avcodec_send_frame(rc->enc, NULL);
        if (r < 0 && r != AVERROR_EOF)
            return failf(p, MEDIA_PACKAGING_FAILED, "the AAC encoder failed: %s", av_err2str(r));
        return drain_encoder(p);
    }
    return 0;
}

/* Converts one decoded frame (NULL: the resampler's tail) into the FIFO. */
static int resample_into_fifo(struct pkg *p, const AVFrame *f)
{
    struct recode *rc = &p->rc;
    int in_n = f ? f->nb_samples : 0;
    int out_n = swr_get_out_samples(rc->swr, in_n);
    if (out_n < 0)
        return failf(p, MEDIA_PACKAGING_FAILED, "the resampler failed");
    if (out_n == 0)
        return 0;
    uint8_t **buf = NULL;
    if (av_samples_alloc_array_and_samples(&buf, NULL, rc->enc->ch_layout.nb_channels, out_n,
                                           rc->enc->sample_fmt, 0) < 0)
        return failf(p, MEDIA_OUT_OF_MEMORY, "out of memory");
    int got = swr_convert(rc->swr, buf, out_n, f ? (const uint8_t **)f->extended_data : NULL, in_n);
    int rcode = 0;
    if (got < 0)
        rcode =
            failf(p, MEDIA_UNSTREAMABLE_AUDIO, "could not stream %s: its audio cannot be resampled",
                  media_input_name(p->in));
    else if (got > 0 && av_audio_fifo_write(rc->fifo, (void **)buf, got) < got)
        rcode = failf(p, MEDIA_OUT_OF_MEMORY, "out of memory");
    av_freep(&buf[0]);
    av_freep(&buf);
    return rcode;
}

/* n samples of silence into the FIFO (a gap in the source's timestamps), a second at a time. */
static int pad_silence(struct pkg *p, int64_t n)
{
    struct recode *rc = &p->rc;
    int chunk = rc->enc->sample_rate;
    uint8_t **buf = NULL;
    if (av_samples_alloc_array_and_samples(&buf, NULL, rc->enc->ch_layout.nb_channels, chunk,
                                           rc->enc->sample_fmt, 0) < 0)
        return failf(p, MEDIA_OUT_OF_MEMORY, "out of memory");
    av_samples_set_silence(buf, 0, chunk, rc->enc->ch_layout.nb_channels, rc->enc->sample_fmt);
    int rcode = 0;
    while (rcode == 0 && n > 0) {
        int k = n < chunk ? (int)n : chunk;
        if (av_audio_fifo_write(rc->fifo, (void **)buf, k) < k)
            rcode = failf(p, MEDIA_OUT_OF_MEMORY, "out of memory");
        else
            rcode = encode_fifo(p, false);
        n -= k;
    }
    av_freep(&buf[0]);
    av_freep(&buf);
    return rcode;
}

/*
 * Keeps re-encoded audio on the source's clock, where the encoder only counts samples: a
 * frame that starts later than the previous one ended (a gap in the timestamps: a
 * broadcast recording, a file joined from parts) is preceded by as much silence; one that
 * starts before (an overlap) is dropped when it lies wholly in what was already played.
 * Differences under 50 ms are the timestamps' own jitter and left alone. Returns 1 when
 * the frame is to be dropped, 0 to keep it, -1 on failure.
 */
static int follow_clock(struct pkg *p, const AVFrame *f)
{
    struct recode *rc = &p->rc;
    int64_t pts = f->best_effort_timestamp, at = AV_NOPTS_VALUE;
    const int64_t lim = INT64_C(1) << 60;
    if (pts != AV_NOPTS_VALUE && pts > -lim && pts < lim)
        at = av_rescale_q(pts, p->ic->streams[p->ai]->time_base, (AVRational){1, rc->in_rate});
    if (at != AV_NOPTS_VALUE && (at <= -lim || at >= lim))
        at = AV_NOPTS_VALUE;
    if (at != AV_NOPTS_VALUE && rc->in_next != AV_NOPTS_VALUE) {
        int64_t gap = at - rc->in_next, tol = rc->in_rate / 20;
        if (gap > (int64_t)rc->in_rate * 600)
            return failf(p, MEDIA_PACKAGING_FAILED,
                         "could not package %s: its audio stops for over 10 minutes",
                         media_input_name(p->in));
        if (gap > tol) {
            if (pad_silence(p, av_rescale(gap, rc->enc->sample_rate, rc->in_rate)) != 0)
                return -1;
        } else if (gap < -tol && -gap >= f->nb_samples) {
            return 1;
        }
    }
    if (at != AV_NOPTS_VALUE)
        rc->in_next = at + f->nb_samples;
    else if (rc->in_next != AV_NOPTS_VALUE)
        rc->in_next += f->nb_samples;
    return 0;
}

/* Decodes one audio packet (NULL: flush) and encodes what it gives. */
static int recode_packet(struct pkg *p, const AVPacket *pkt)
{
    struct recode *rc = &p->rc;
    int r = avcodec_send_packet(rc->dec, pkt);
    if (r < 0 && r != AVERROR(EAGAIN) && r != AVERROR_EOF) {
        if (r == AVERROR_INVALIDDATA && pkt)
            return 0; /* a damaged packet: skipped, as players do */
        return failf(p, MEDIA_UNSTREAMABLE_AUDIO, "could not decode the audio of %s: %s",
                     media_input_name(p->in), av_err2str(r));
    }
    while ((r = avcodec_receive_frame(rc->dec, rc->in)) >= 0) {
        if (!rc->started) {
            /* The first sample's time, so that re-encoded audio stays in step with video. */
            int64_t pts = rc->in->best_effort_timestamp;
            rc->next_pts =
                pts == AV_NOPTS_VALUE
                    ? 0
                    : av_rescale_q(pts, p->ic->streams[p->ai]->time_base, rc->enc->time_base);
            rc->first_pts = rc->next_pts;
            rc->started = true;
        }
        /* Against what the resampler was set up for: the decoder's own fields follow the
         * stream. */
        if (rc->in->sample_rate != rc->in_rate || rc->in->ch_layout.nb_channels != rc->in_channels ||
            rc->in->format != rc->in_format) {
            av_frame_unref(rc->in);
            return failf(p, MEDIA_UNSTREAMABLE_AUDIO,
                         "could not stream %s: its audio changes format midway",
                         media_input_name(p->in));
        }
        int follow = follow_clock(p, rc->in);
        if (follow < 0) {
            av_frame_unref(rc->in);
            return -1;
        }
        int e = follow ? 0 : resample_into_fifo(p, rc->in);
        av_frame_unref(rc->in);
        if (e != 0 || encode_fifo(p, false) != 0)
            return -1;
    }
    if (r != AVERROR(EAGAIN) && r != AVERROR_EOF) {
        if (r == AVERROR_INVALIDDATA)
            return 0;
        return failf(p, MEDIA_UNSTREAMABLE_AUDIO, "could not decode the audio of %s: %s",
                     media_input_name(p->in), av_err2str(r));
    }
    if (!pkt) {
        if (resample_into_fifo(p, NULL) != 0)
            return -1;
        return encode_fifo(p, true);
    }
    return 0;
}

/* ---- segments ---- */

/*
 * The header: delay_moov has the muxer write ftyp + moov when the first fragment ends, once
 * every track's first timestamps are known (so its edit lists keep the tracks' relative
 * start, e.g. audio that begins half a second after the video); sink_write_typed() has
 * sent it to init.mp4, which is closed here.
 */
static int finish_init(struct pkg *p)
{
    avio_flush(p->pb);
    if (p->pb->error < 0 || p->werr)
        return fail_av(p, "write", p->pb->error);
    p->header_done = true;
    if (p->init_fd < 0)
        return 0;
    off_t size = lseek(p->init_fd, 0, SEEK_END);
    int c = close(p->init_fd);
    p->init_fd = -1;
    if (c != 0)
        return failf(p, MEDIA_PACKAGING_FAILED, "could not write the presentation: %s",
                     strerror(errno));
    if (size <= 0)
        return failf(p, MEDIA_PACKAGING_FAILED, "could not package %s: no header was written",
                     media_input_name(p->in));
    return 0;
}

/* Writes what the muxer holds as one fragment (moof + mdat) into the current segment,
 * the header first when it is still to be written. */
static int flush_fragment(struct pkg *p)
{
    int r = av_interleaved_write_frame(p->oc, NULL); /* empties the interleaving queue */
    if (r >= 0 && !p->header_done) {
        r = av_write_frame(p->oc, NULL); /* delay_moov: this first flush writes the moov alone */
        if (r >= 0 && finish_init(p) != 0)
            return -1;
    }
    if (r >= 0)
        r = av_write_frame(p->oc, NULL); /* frag_custom: writes moof + mdat */
    if (r < 0)
        return fail_av(p, "write a segment of", r);
    return 0;
}

/* Ends the current fragment into the current segment file and records the segment. */
static int end_segment(struct pkg *p)
{
    if (flush_fragment(p) != 0)
        return -1;
    int64_t bytes = p->written;
    if (close_out(p) != 0)
        return -1;
    p->seg[p->nseg - 1].bytes = bytes;
    p->seg_open = false;
    return 0;
}

static int start_segment(struct pkg *p, double start)
{
    if (p->nseg >= MAX_SEGMENTS)
        return failf(p, MEDIA_PACKAGING_FAILED, "could not package %s: more than %d segments",
                     media_input_name(p->in), MAX_SEGMENTS);
    if (p->nseg == p->capseg) {
        int cap = p->capseg ? p->capseg * 2 : 64;
        struct segment *s = realloc(p->seg, (size_t)cap * sizeof *s);
        if (!s)
            return failf(p, MEDIA_OUT_OF_MEMORY, "out of memory");
        p->seg = s;
        p->capseg = cap;
    }
    p->seg[p->nseg++] = (struct segment){.start = start};
    char name[32];
    snprintf(name, sizeof name, "seg-%05d.m4s", p->nseg - 1);
    return open_out(p, name);
}

/*
 * Every packet goes through here, timestamps already in the output stream's time base.
 * A packet of the reference stream that is a keyframe at or past the current segment's
 * start + target opens a new segment.
 */
static int write_packet(struct pkg *p, AVPacket *pkt, int ost, bool key)
{
    AVRational tb = p->oc->streams[ost]->time_base;
    if (!sane_times(pkt))
        return failf(p, MEDIA_PACKAGING_FAILED, "could not package %s: absurd timestamps",
                     media_input_name(p->in));
    if (pkt->dts == AV_NOPTS_VALUE)
        pkt->dts = pkt->pts;
    if (pkt->pts == AV_NOPTS_VALUE)
        pkt->pts = pkt->dts;
    if (pkt->dts == AV_NOPTS_VALUE)
        return failf(p, MEDIA_PACKAGING_FAILED, "could not package %s: a packet has no timestamp",
                     media_input_name(p->in));
    int slot = ost == p->ov ? 0 : 1;
    if (p->last_dts[slot] != AV_NOPTS_VALUE && pkt->dts <= p->last_dts[slot])
        return failf(p, MEDIA_PACKAGING_FAILED, "could not package %s: its timestamps go backwards",
                     media_input_name(p->in));
    p->last_dts[slot] = pkt->dts;
    if (ost == p->ref) {
        double t = (double)pkt->pts * av_q2d(tb);
        double end = (double)(pkt->pts + (pkt->duration > 0 ? pkt->duration : 0)) * av_q2d(tb);
        bool hidden = pkt->flags & AV_PKT_FLAG_DISCARD;
        if (!isfinite(t) || !isfinite(end))
            return failf(p, MEDIA_PACKAGING_FAILED, "could not package %s: absurd timestamps",
                         media_input_name(p->in));
        if (!p->have_ref) {
            if (p->nseg == 0 && start_segment(p, t) != 0)
                return -1;
            /* Re-encoded audio starts at its first sample, not at the encoder's priming. */
            p->seg[0].start =
                p->rc.enc && ost == p->oa ? (double)p->rc.first_pts / p->rc.enc->sample_rate : t;
            p->have_ref = true;
            p->ref_first = t;
            p->ref_end = hidden ? -INFINITY : t;
            p->lead_discard = hidden;
            p->shown = !hidden;
        } else if (key && p->seg_open &&
                   (ost == p->ov ? t >= p->seg[p->nseg - 1].start + p->target - 1e-6
                                 /* audio: every packet is a sync point; a segment ends
                                  * before a packet that would take it past the target */
                                 : end > p->seg[p->nseg - 1].start + p->target + 1e-6)) {
            if (t <= p->seg[p->nseg - 1].start)
                return failf(p, MEDIA_PACKAGING_FAILED,
                             "could not package %s: its keyframes go backwards",
                             media_input_name(p->in));
            if (end_segment(p) != 0 || start_segment(p, t) != 0)
                return -1;
        }
        if (p->lead_discard && !hidden && p->nseg == 1 && (!p->shown || t < p->seg[0].start)) {
            /* A file cut without re-encoding (`ffmpeg -ss 3 -c copy`) starts on the keyframe
             * before the cut and hides the pictures up to it with an edit list, which the
             * moov keeps (delay_moov): the presentation, and its first EXTINF, begin with
             * the first picture shown (the earliest: B-frames come out of order). */
            p->seg[0].start = t;
            p->shown = true;
        }
        if (t - p->seg[p->nseg - 1].start > MAX_SEGMENT_S)
            return failf(p, MEDIA_PACKAGING_FAILED,
                         "could not package %s: no IDR keyframe for over %g s (an open-GOP "
                         "encoding?); re-encode it with closed GOPs",
                         media_input_name(p->in), MAX_SEGMENT_S);
        if (end > p->ref_end && !hidden) /* hidden pictures at the end do not count either */
            p->ref_end = end;
        p->seg_open = true;
    } else {
        if (p->nseg == 0 && start_segment(p, 0) != 0)
            return -1; /* the first segment's start is the reference stream's first packet */
        /* Copied audio that outlasts the video: the last segment holds it, and says so.
         * (Re-encoded audio is counted from its samples, without the encoder's padding.) */
        if (!p->rc.enc) {
            double end = (double)(pkt->pts + (pkt->duration > 0 ? pkt->duration : 0)) * av_q2d(tb);
            if (isfinite(end) && end > p->other_end)
                p->other_end = end;
        }
    }
    pkt->stream_index = ost;
    pkt->pos = -1;
    int r = av_interleaved_write_frame(p->oc, pkt);
    if (r < 0)
        return fail_av(p, "package", r);
    return 0;
}

/*
 * Timestamps a file may give, however hostile, such that sums of a few of them and their
 * durations cannot overflow: within 2^60 ticks, durations within 2^40.
 */
static bool sane_times(const AVPacket *pkt)
{
    const int64_t lim = INT64_C(1) << 60;
    bool pts_ok = pkt->pts == AV_NOPTS_VALUE || (pkt->pts > -lim && pkt->pts < lim);
    bool dts_ok = pkt->dts == AV_NOPTS_VALUE || (pkt->dts > -lim && pkt->dts < lim);
    return pts_ok && dts_ok && pkt->duration >= 0 && pkt->duration < (INT64_C(1) << 40);
}

/*
 * True when the H.264 access unit in pkt holds an IDR picture (NAL unit type 5): the only
 * pictures a segment may start on. An I picture of an open GOP is flagged as a keyframe
 * too, but the pictures after it may refer to the segment before; a player starting
 * there (a seek, a switch) would decode garbage.
 */
static bool has_idr(const struct pkg *p, const AVPacket *pkt)
{
    const uint8_t *d = pkt->data;
    size_t n = pkt->size > 0 ? (size_t)pkt->size : 0;
    if (!d)
        return false;
    if (p->nal_len) {
        size_t ls = (size_t)p->nal_len, off = 0;
        while (off + ls < n) {
            size_t len = 0;
            for (size_t i = 0; i < ls; i++)
                len = len << 8 | d[off + i];
            if (len == 0 || len > n - off - ls)
                return false;
            if ((d[off + ls] & 0x1f) == 5)
                return true;
            off += ls + len;
        }
        return false;
    }
    for (size_t i = 0; i + 3 < n; i++) /* Annex B: 00 00 01 then the NAL header */
        if (d[i] == 0 && d[i + 1] == 0 && d[i + 2] == 1 && (d[i + 3] & 0x1f) == 5)
            return true;
    return false;
}

static bool video_key(const struct pkg *p, const AVPacket *pkt)
{
    return (pkt->flags & AV_PKT_FLAG_KEY) && has_idr(p, pkt);
}

/*
 * Video packets without a decoding time (Matroska stores none: libavformat infers it, but
 * not for the first packets of a stream with B-frames) wait until one comes that has it;
 * theirs are then counted back from it, a frame apart. pkt NULL: the end of the stream.
 */
static int video_packet(struct pkg *p, AVPacket *pkt)
{
    if (pkt && !p->seen_idr) {
        if (!video_key(p, pkt))
            return 0; /* pictures before the first IDR cannot be decoded: dropped */
        p->seen_idr = true;
    }
    if (pkt && !sane_times(pkt))
        return failf(p, MEDIA_PACKAGING_FAILED, "could not package %s: absurd timestamps",
                     media_input_name(p->in));
    if (pkt && pkt->dts == AV_NOPTS_VALUE && pkt->pts == AV_NOPTS_VALUE)
        return failf(p, MEDIA_PACKAGING_FAILED, "could not package %s: a packet has no timestamp",
                     media_input_name(p->in));
    if (pkt && pkt->dts == AV_NOPTS_VALUE) {
        if (p->nvq == VIDEO_QUEUE)
            return failf(p, MEDIA_PACKAGING_FAILED,
                         "could not package %s: its video has no decoding times",
                         media_input_name(p->in));
        if (!(p->vq[p->nvq] = av_packet_clone(pkt)))
            return failf(p, MEDIA_OUT_OF_MEMORY, "out of memory");
        p->nvq++;
        return 0;
    }
    int rc = 0;
    if (p->nvq) {
        int64_t step = 1;
        for (int i = 0; i < p->nvq; i++)
            if (p->vq[i]->duration > 0)
                step = p->vq[i]->duration;
        int64_t next;
        if (pkt)
            next = pkt->dts;
        else if (p->last_dts[0] != AV_NOPTS_VALUE)
            next = p->last_dts[0] + step * (p->nvq + 1);
        else
            next = p->vq[0]->pts + step * p->nvq;
        for (int i = 0; i < p->nvq; i++) {
            AVPacket *q = p->vq[i];
            q->dts = next - step * (p->nvq - i);
            if (q->dts > q->pts)
                q->dts = q->pts; /* never decoded after shown; a clash is caught in write_packet */
            if (rc == 0)
                rc = write_packet(p, q, p->ov, video_key(p, q));
            av_packet_free(&p->vq[i]);
        }
        p->nvq = 0;
    }
    if (rc == 0 && pkt)
        rc = write_packet(p, pkt, p->ov, video_key(p, pkt));
    return rc;
}

/* ---- playlists ---- */

struct text {
    char *s;
    size_t len, cap;
    bool oom;
};

static void put(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(struct text *t, const char *fmt, ...)
{
    if (t->oom)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(t->s ? t->s + t->len : NULL, t->s ? t->cap - t->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            t->oom = true;
            return;
        }
        if (t->s && (size_t)n < t->cap - t->len) {
            t->len += (size_t)n;
            return;
        }
        size_t cap = t->cap ? t->cap * 2 : 4096;
        while (cap < t->len + (size_t)n + 1)
            cap *= 2;
        char *s = realloc(t->s, cap);
        if (!s) {
            t->oom = true;
            return;
        }
        t->s = s;
        t->cap = cap;
    }
}

/* The boot this machine is in (its page cache is what was written since), or "". */
static void boot_id(char out[64])
{
    out[0] = 0;
    FILE *f = fopen("/proc/sys/kernel/random/boot_id", "re");
    if (!f)
        return;
    if (!fgets(out, 64, f))
        out[0] = 0;
    fclose(f);
    out[strcspn(out, "\n")] = 0;
}

/* .packaged: how the presentation was made (the boot, the options), not synced. */
static int write_packaged(struct pkg *p)
{
    if (!p->dir)
        return 0;
    char boot[64], text[160];
    boot_id(boot);
    int n = snprintf(text, sizeof text, "boot=%s\naudio_only=%d\n", boot, p->audio_only ? 1 : 0);
    return write_text(p, MEDIA_HLS_PACKAGED, text, (size_t)n);
}

static int write_playlists(struct pkg *p, struct media_hls_result *res)
{
    double maxd = 0, total = 0, peak = 0;
    int64_t bytes = 0;
    for (int i = 0; i < p->nseg; i++) {
        double d = (i + 1 < p->nseg ? p->seg[i + 1].start : p->ref_end) - p->seg[i].start;
        if (!(d > 0))
            return failf(p, MEDIA_PACKAGING_FAILED,
                         "could not package %s: a segment has no duration",
                         media_input_name(p->in));
        maxd = d > maxd ? d : maxd;
        total += d;
        bytes += p->seg[i].bytes;
        /* A last sliver of a segment (a few frames) is no rate a player must sustain. */
        double rate = (double)p->seg[i].bytes * 8 / d;
        if ((d >= 1.0 || p->nseg == 1) && rate > peak)
            peak = rate;
    }
    /* Rounded up, so that no EXTINF exceeds it (RFC 8216 asks only for the rounding). */
    int target = (int)ceil(maxd - 1e-6);
    if (target < 1)
        target = 1;
    struct text m = {0}, x = {0};
    put(&m,
        "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:%d\n#EXT-X-MEDIA-SEQUENCE:0\n"
        "#EXT-X-PLAYLIST-TYPE:VOD\n#EXT-X-INDEPENDENT-SEGMENTS\n#EXT-X-MAP:URI=\"init.mp4\"\n",
        target);
    for (int i = 0; i < p->nseg; i++) {
        double d = (i + 1 < p->nseg ? p->seg[i + 1].start : p->ref_end) - p->seg[i].start;
        put(&m, "#EXTINF:%.6f,\nseg-%05d.m4s\n", d, i);
    }
    put(&m, "#EXT-X-ENDLIST\n");
    int64_t avg = (int64_t)ceil((double)bytes * 8 / total), bw = (int64_t)ceil(peak);
    if (bw < avg)
        bw = avg;
    put(&x,
        "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n"
        "#EXT-X-STREAM-INF:BANDWIDTH=%lld,AVERAGE-BANDWIDTH=%lld,CODECS=\"%s\"",
        (long long)bw, (long long)avg, p->codecs);
    if (p->ov >= 0) {
        const AVStream *vs = p->ic->streams[p->vi];
        put(&x, ",RESOLUTION=%dx%d", vs->codecpar->width, vs->codecpar->height);
        double fps = vs->avg_frame_rate.den > 0 ? av_q2d(vs->avg_frame_rate) : 0;
        if (fps > 0 && fps < 1000)
            put(&x, ",FRAME-RATE=%.3f", fps);
    }
    put(&x, "\nindex.m3u8\n");
    int rc = -1;
    if (m.oom || x.oom)
        failf(p, MEDIA_OUT_OF_MEMORY, "out of memory");
    else if (write_text(p, "index.m3u8", m.s, m.len) == 0 &&
             write_text(p, "master.m3u8", x.s, x.len) == 0 && write_packaged(p) == 0)
        rc = 0;
    free(m.s);
    free(x.s);
    if (rc == 0 && res) {
        res->duration_s = total;
        res->max_segment_s = maxd;
        res->segments = p->nseg;
        res->target_duration = target;
        res->bandwidth = bw;
        res->average_bandwidth = avg;
        res->bytes = p->total;
        snprintf(res->codecs, sizeof res->codecs, "%s", p->codecs);
        res->kind = p->ov >= 0 ? MEDIA_KIND_VIDEO : MEDIA_KIND_AUDIO;
        res->audio_reencoded = p->rc.enc != NULL;
    }
    return rc;
}

/* ---- the pass ---- */

static int choose_streams(struct pkg *p)
{
    /* libavformat's choice of the main streams (the default disposition, the most
     * frames probed, the highest rate), as the ffmpeg command line makes it; never a cover
     * picture, and the audio preferably one a decoder exists for. */
    p->vi = p->ai = -1;
    if (!p->audio_only) {
        int v = av_find_best_stream(p->ic, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
        if (v >= 0 && (p->ic->streams[v]->disposition & AV_DISPOSITION_ATTACHED_PIC)) {
            v = -1;
            for (unsigned i = 0; i < p->ic->nb_streams && v < 0; i++) {
                const AVStream *st = p->ic->streams[i];
                if (st->codecpar->codec_type == AVMEDIA_TYPE_VIDEO &&
                    !(st->disposition & AV_DISPOSITION_ATTACHED_PIC))
                    v = (int)i;
            }
        }
        p->vi = v >= 0 ? v : -1;
    }
    int a = av_find_best_stream(p->ic, AVMEDIA_TYPE_AUDIO, -1, p->vi, NULL, 0);
    if (a >= 0 && p->ic->streams[a]->codecpar->codec_id != AV_CODEC_ID_AAC &&
        !avcodec_find_decoder(p->ic->streams[a]->codecpar->codec_id)) {
        /* An audio stream that can be neither copied nor decoded: another one if any,
         * else this one, refused with its codec's name. */
        for (unsigned i = 0; i < p->ic->nb_streams; i++) {
            const AVCodecParameters *par = p->ic->streams[i]->codecpar;
            if (par->codec_type == AVMEDIA_TYPE_AUDIO &&
                (par->codec_id == AV_CODEC_ID_AAC || avcodec_find_decoder(par->codec_id))) {
                a = (int)i;
                break;
            }
        }
    }
    p->ai = a >= 0 ? a : -1;
    if (p->vi < 0 && p->ai < 0)
        return failf(p, MEDIA_NO_MEDIA_STREAM, "no audio or video stream in %s",
                     media_input_name(p->in));
    if (p->vi >= 0) {
        const AVCodecParameters *par = p->ic->streams[p->vi]->codecpar;
        if (par->codec_id != AV_CODEC_ID_H264)
            return failf(p, MEDIA_UNSTREAMABLE_VIDEO,
                         "could not stream %s: its video is %s, which not every browser plays; "
                         "re-encode it to H.264",
                         media_input_name(p->in), avcodec_get_name(par->codec_id));
        if (!playable_h264(par) || par->width <= 0 || par->height <= 0)
            return failf(
                p, MEDIA_UNSTREAMABLE_VIDEO,
                "could not stream %s: its H.264 video is not 8-bit 4:2:0 Baseline, Main or High",
                media_input_name(p->in));
    }
    return 0;
}

static int add_streams(struct pkg *p)
{
    char vname[32] = "", aname[32] = "";
    p->ov = p->oa = -1;
    if (p->vi >= 0) {
        const AVStream *is = p->ic->streams[p->vi];
        AVStream *os = avformat_new_stream(p->oc, NULL);
        if (!os || avcodec_parameters_copy(os->codecpar, is->codecpar) < 0)
            return failf(p, MEDIA_OUT_OF_MEMORY, "out of memory");
        os->codecpar->codec_tag = 0;
        os->time_base = is->time_base;
        os->avg_frame_rate = is->avg_frame_rate;
        p->ov = os->index;
        const AVCodecParameters *vp = is->codecpar;
        p->nal_len = vp->extradata && vp->extradata_size >= 7 && vp->extradata[0] == 1
                         ? (vp->extradata[4] & 3) + 1
                         : 0;
        if (p->nal_len == 3)
            return failf(p, MEDIA_UNSTREAMABLE_VIDEO,
                         "could not stream %s: its H.264 video has a 3-byte NAL length",
                         media_input_name(p->in));
        if (avc1_name(is->codecpar, vname, sizeof vname) != 0)
            return failf(p, MEDIA_UNSTREAMABLE_VIDEO,
                         "could not stream %s: its H.264 video has no parameter sets",
                         media_input_name(p->in));
    }
    if (p->ai >= 0) {
        const AVStream *is = p->ic->streams[p->ai];
        AVStream *os = avformat_new_stream(p->oc, NULL);
        if (!os)
            return failf(p, MEDIA_OUT_OF_MEMORY, "out of memory");
        if (copyable_audio(is->codecpar)) {
            if (avcodec_parameters_copy(os->codecpar, is->codecpar) < 0)
                return failf(p, MEDIA_OUT_OF_MEMORY, "out of memory");
            os->codecpar->codec_tag = 0;
            os->time_base = is->time_base;
            snprintf(aname, sizeof aname, "mp4a.40.%d", aac_object_type(is->codecpar));
        } else {
            if (recode_open(p, is) != 0)
                return -1;
            if (avcodec_parameters_from_context(os->codecpar, p->rc.enc) < 0)
                return failf(p, MEDIA_OUT_OF_MEMORY, "out of memory");
            os->time_base = p->rc.enc->time_base;
            snprintf(aname, sizeof aname, "mp4a.40.2");
        }
        p->oa = os->index;
    }
    snprintf(p->codecs, sizeof p->codecs, "%s%s%s", vname, vname[0] && aname[0] ? "," : "", aname);
    p->ref = p->ov >= 0 ? p->ov : p->oa;
    return 0;
}

static int run(struct pkg *p, struct media_hls_result *res)
{
    p->ic = media_input_ctx(p->in);
    if (choose_streams(p) != 0)
        return -1;
    if (avformat_alloc_output_context2(&p->oc, NULL, "mp4", NULL) < 0 || !p->oc)
        return failf(p, MEDIA_OUT_OF_MEMORY, "out of memory");
    unsigned char *iobuf = av_malloc(IO_BUFFER_SIZE);
    if (!iobuf ||
        !(p->pb = avio_alloc_context(iobuf, IO_BUFFER_SIZE, 1, p, NULL, sink_write, NULL))) {
        av_free(iobuf);
        return failf(p, MEDIA_OUT_OF_MEMORY, "out of memory");
    }
    p->oc->pb = p->pb;
    p->oc->flags |= AVFMT_FLAG_CUSTOM_IO | AVFMT_FLAG_BITEXACT;
    if (add_streams(p) != 0)
        return -1;
    p->pb->write_data_type = sink_write_typed;
    AVDictionary *opts = NULL;
    /* As libavformat's own hls and dash muxers: frag_custom, fragments end only where
     * end_segment() says; delay_moov, the moov is written when the first fragment ends, so
     * that it holds edit lists with each track's start (an empty moov would start every
     * track at zero and lose the offset between audio and video); dash, each segment
     * stands alone (default_base_moof, a sidx); frag_discont, each track's first
     * fragment carries its own first decode time (tfdt): a track that starts later
     * starts later there too, where browsers' Media Source Extensions look (Chromium
     * ignores an edit list's leading empty edit), not only in an edit list. */
    av_dict_set(&opts, "movflags", "frag_custom+delay_moov+dash+skip_trailer+frag_discont", 0);
    /* A first decode time is never negative (an AAC encoder's priming, B-frames): every
     * track is shifted by the same amount, which keeps their offsets. */
    p->oc->avoid_negative_ts = AVFMT_AVOID_NEG_TS_MAKE_NON_NEGATIVE;
    if (p->dir) {
        char path[4096];
        if ((size_t)snprintf(path, sizeof path, "%s/init.mp4", p->dir) >= sizeof path) {
            av_dict_free(&opts);
            return failf(p, MEDIA_PACKAGING_FAILED, "the presentation's path is too long");
        }
        p->init_fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (p->init_fd < 0) {
            av_dict_free(&opts);
            return failf(p, MEDIA_PACKAGING_FAILED, "could not create init.mp4: %s",
                         strerror(errno));
        }
    }
    int r = avformat_write_header(p->oc, &opts);
    av_dict_free(&opts);
    if (r < 0)
        return fail_av(p, "package", r);

    AVPacket *pkt = av_packet_alloc();
    if (!pkt)
        return failf(p, MEDIA_OUT_OF_MEMORY, "out of memory");
    int rc = 0;
    while (rc == 0 && (r = av_read_frame(p->ic, pkt)) >= 0) {
        if (pkt->stream_index == p->vi) {
            av_packet_rescale_ts(pkt, p->ic->streams[p->vi]->time_base,
                                 p->oc->streams[p->ov]->time_base);
            rc = video_packet(p, pkt);
        } else if (pkt->stream_index == p->ai && p->rc.dec) {
            rc = recode_packet(p, pkt);
        } else if (pkt->stream_index == p->ai && (pkt->flags & AV_PKT_FLAG_DISCARD)) {
            /* Audio an edit list hides (before a cut, an encoder's priming): not played, so
             * not copied (the decoder drops it itself when re-encoding). */
        } else if (pkt->stream_index == p->ai) {
            av_packet_rescale_ts(pkt, p->ic->streams[p->ai]->time_base,
                                 p->oc->streams[p->oa]->time_base);
            rc = write_packet(p, pkt, p->oa, true);
        }
        av_packet_unref(pkt);
    }
    av_packet_free(&pkt);
    if (rc != 0)
        return -1;
    if (r != AVERROR_EOF) {
        if (media_input_timed_out(p->in))
            return fail_av(p, "read", r);
        media_input_fail(p->in, p->err, r);
        return -1;
    }
    if (p->nvq && video_packet(p, NULL) != 0)
        return -1;
    if (p->rc.dec && recode_packet(p, NULL) != 0)
        return -1;
    if (!p->have_ref)
        return failf(p, MEDIA_ZERO_DURATION, "no media in %s", media_input_name(p->in));
    if (p->rc.enc && p->ref == p->oa) {
        /* Re-encoded audio: the encoder's priming and padding are not media; the stream
         * lasts as long as the samples fed to it. */
        double sr = p->rc.enc->sample_rate;
        p->seg[0].start = (double)p->rc.first_pts / sr;
        p->ref_end = (double)p->rc.next_pts / sr;
        if (p->nseg > 1 && p->seg[1].start <= p->seg[0].start)
            return failf(p, MEDIA_PACKAGING_FAILED, "could not package %s: absurd timestamps",
                         media_input_name(p->in));
    }
    /* The presentation ends with the stream that ends last. */
    if (p->rc.enc && p->ref != p->oa) {
        double aend = (double)p->rc.next_pts / p->rc.enc->sample_rate;
        if (aend > p->other_end)
            p->other_end = aend;
    }
    if (p->other_end > p->ref_end)
        p->ref_end = p->other_end;
    if (flush_fragment(p) != 0) /* the last fragment */
        return -1;
    r = av_write_trailer(p->oc); /* skip_trailer: nothing more */
    if (r < 0)
        return fail_av(p, "package", r);
    int64_t bytes = p->written;
    if (close_out(p) != 0)
        return -1;
    p->seg[p->nseg - 1].bytes = bytes;
    if (bytes == 0)
        return failf(p, MEDIA_PACKAGING_FAILED, "could not package %s: its last segment is empty",
                     media_input_name(p->in));
    return write_playlists(p, res);
}

/* The duration of the input in seconds, 0 when unknown (bounded: a header may lie). */
static double input_duration(struct media_input *in)
{
    const AVFormatContext *ic = media_input_ctx(in);
    if (ic->duration <= 0 || ic->duration == AV_NOPTS_VALUE)
        return 0;
    double d = (double)ic->duration / AV_TIME_BASE;
    return d < 7 * 86400.0 ? d : 7 * 86400.0;
}

/*
 * What a presentation may weigh: 4 x the input + 64 MiB, or, for a long low-rate source
 * re-encoded at a higher rate (a spoken-word audiobook), its duration at the source's
 * rate plus the AAC rate, + 25 % for the containers + 64 MiB.
 */
static int64_t default_cap(struct media_input *in, int64_t in_size)
{
    int64_t cap = 4 * in_size + (64 << 20);
    double d = input_duration(in);
    const AVFormatContext *ic = media_input_ctx(in);
    double src = ic->bit_rate > 0 ? (double)ic->bit_rate : (d > 0 ? (double)in_size * 8 / d : 0);
    double by_rate = d * (src + 2 * 128000.0) / 8 * 1.25 + (64 << 20);
    if (by_rate > (double)cap && by_rate < (double)INT64_MAX / 2)
        cap = (int64_t)by_rate;
    return cap;
}

static int package(struct media_input *in, int64_t in_size, const char *dir,
                   const struct media_hls_options *opt, struct media_hls_result *res,
                   struct media_error *err)
{
    struct pkg p = {
        .dir = dir, .err = err, .in = in, .fd = -1, .init_fd = -1, .last_dts = {AV_NOPTS_VALUE, AV_NOPTS_VALUE}};
    p.target = opt && opt->target_s > 0 ? opt->target_s : MEDIA_HLS_TARGET_S;
    p.audio_only = opt && opt->audio_only;
    p.max_output = opt && opt->max_output > 0 ? opt->max_output : default_cap(in, in_size);
    int rc = run(&p, res);
    if (p.fd >= 0)
        close(p.fd);
    if (p.init_fd >= 0)
        close(p.init_fd);
    if (p.oc) {
        if (p.oc->pb && rc != 0)
            p.oc->pb = NULL; /* not flushed again into a closed file */
        avformat_free_context(p.oc);
    }
    if (p.pb) {
        av_freep(&p.pb->buffer);
        avio_context_free(&p.pb);
    }
    recode_free(&p.rc);
    for (int i = 0; i < p.nvq; i++)
        av_packet_free(&p.vq[i]);
    free(p.seg);
    return rc;
}

static struct media_limits limits_of(const struct media_hls_options *opt)
{
    struct media_limits lim = {0};
    lim.deadline_s = opt && opt->deadline_s > 0 ? opt->deadline_s : DEFAULT_DEADLINE_S;
    return lim;
}

int media_hls_package(const char *path, const char *dir, const struct media_hls_options *opt,
                      struct media_hls_result *out, struct media_error *err)
{
    struct media_error scratch;
    if (!err)
        err = &scratch;
    memset(err, 0, sizeof *err);
    if (out)
        memset(out, 0, sizeof *out);
    if (!path || !dir) {
        err->code = MEDIA_INVALID_ARGUMENT;
        snprintf(err->message, sizeof err->message, "invalid argument: no path or directory");
        return -1;
    }
    struct media_limits lim = limits_of(opt);
    struct media_input *in;
    if (media_input_open(path, &lim, &in, err) != 0)
        return -1;
    if (!(opt && opt->deadline_s > 0))
        media_input_set_deadline(in, DEFAULT_DEADLINE_S + input_duration(in));
    /* The size of the file opened, not of a path looked at before (it may have changed). */
    int rc = package(in, media_input_size(in), dir, opt, out, err);
    media_input_close(in);
    return rc;
}

int media_hls_package_buffer(const void *data, size_t len, const char *dir,
                             const struct media_hls_options *opt, struct media_hls_result *out,
                             struct media_error *err)
{
    struct media_error scratch;
    if (!err)
        err = &scratch;
    memset(err, 0, sizeof *err);
    if (out)
        memset(out, 0, sizeof *out);
    struct media_limits lim = limits_of(opt);
    struct media_input *in;
    if (media_input_open_buffer(data, len, &lim, &in, err) != 0)
        return -1;
    int rc = package(in, (int64_t)len, dir, opt, out, err);
    media_input_close(in);
    return rc;
}

bool media_hls_valid_name(const char *name)
{
    if (!name)
        return false;
    if (!strcmp(name, "master.m3u8") || !strcmp(name, "index.m3u8") || !strcmp(name, "init.mp4"))
        return true;
    if (strncmp(name, "seg-", 4) != 0)
        return false;
    size_t n = 0;
    while (name[4 + n] >= '0' && name[4 + n] <= '9')
        n++;
    return n >= 5 && n <= 6 && !strcmp(name + 4 + n, ".m4s");
}

int media_hls_remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? 0 : -1;
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        if (unlinkat(dirfd(d), e->d_name, 0) != 0)
            rc = -1;
    }
    closedir(d);
    if (rmdir(dir) != 0)
        rc = -1;
    return rc;
}

/* ---- durability and recovery ---- */

/* The contents of dir/name (at most cap - 1 bytes), or -1. */
static int read_small(const char *dir, const char *name, char *out, size_t cap)
{
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, name) >= sizeof path)
        return -1;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, out, cap - 1);
    close(fd);
    if (n < 0)
        return -1;
    out[n] = 0;
    return 0;
}

bool media_hls_synced(const char *dir)
{
    char path[4096];
    return (size_t)snprintf(path, sizeof path, "%s/%s", dir, MEDIA_HLS_SYNCED) < sizeof path &&
           access(path, F_OK) == 0;
}

int media_hls_sync(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") ||
            !strcmp(e->d_name, MEDIA_HLS_SYNCED))
            continue;
        int fd = openat(dirfd(d), e->d_name, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || fdatasync(fd) != 0)
            rc = -1;
        if (fd >= 0)
            close(fd);
    }
    /* The files and their names, then the marker that says so, then its name. */
    if (rc == 0 && fsync(dirfd(d)) != 0)
        rc = -1;
    if (rc == 0) {
        int fd = openat(dirfd(d), MEDIA_HLS_SYNCED, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0 || fsync(fd) != 0)
            rc = -1;
        if (fd >= 0 && close(fd) != 0)
            rc = -1;
        if (rc == 0 && fsync(dirfd(d)) != 0)
            rc = -1;
    }
    closedir(d);
    return rc;
}

static void *sync_thread(void *arg)
{
    char *dir = arg;
    if (media_hls_sync(dir) != 0)
        fprintf(stderr, "level=warn msg=\"could not sync the presentation %s: %s; it is checked "
                        "again at the next start\"\n",
                dir, strerror(errno));
    free(dir);
    return NULL;
}

/* Runs fn on a copy of path (which fn frees) in a detached thread: 0, or -1 with nothing
 * started. */
static int detached(void *(*fn)(void *), const char *path)
{
    char *copy = strdup(path);
    pthread_t t;
    pthread_attr_t at;
    if (!copy || pthread_attr_init(&at) != 0) {
        free(copy);
        return -1;
    }
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    int r = pthread_create(&t, &at, fn, copy);
    pthread_attr_destroy(&at);
    if (r != 0) {
        free(copy);
        return -1;
    }
    return 0;
}

int media_hls_sync_later(const char *dir)
{
    return detached(sync_thread, dir);
}

/* The stored source of the presentation hls/SHA: files/SH/SHA.EXT (lending/catalogue.c). */
static int find_source(const char *data_dir, const char *sha, char *out, size_t cap)
{
    char dir[4096];
    if ((size_t)snprintf(dir, sizeof dir, "%s/files/%.2s", data_dir, sha) >= sizeof dir)
        return -1;
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    size_t n = strlen(sha);
    int rc = -1;
    struct dirent *e;
    while (rc != 0 && (e = readdir(d)))
        if (!strncmp(e->d_name, sha, n) && e->d_name[n] == '.' && !strchr(e->d_name + n + 1, '.') &&
            (size_t)snprintf(out, cap, "%s/%s", dir, e->d_name) < cap)
            rc = 0;
    closedir(d);
    return rc;
}

/*
 * Packages the source of hls/SHA again into data_dir/tmp, then exchanges the two
 * directories atomically (a request meanwhile gets the old file or the new one, each
 * whole) and removes the old one.
 */
static int rebuild(const char *data_dir, const char *sha, const char *hls_dir, bool audio_only)
{
    char src[4096], tmp[4096];
    if (find_source(data_dir, sha, src, sizeof src) != 0)
        return -1;
    if ((size_t)snprintf(tmp, sizeof tmp, "%s/tmp/hls-XXXXXX", data_dir) >= sizeof tmp ||
        !mkdtemp(tmp))
        return -1;
    int lock = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (lock >= 0)
        flock(lock, LOCK_EX); /* not swept away meanwhile */
    struct media_hls_options o = {.audio_only = audio_only};
    struct media_error err;
    int rc = media_hls_package(src, tmp, &o, NULL, &err);
    if (rc != 0)
        fprintf(stderr, "level=warn msg=\"could not package %s again: %s\"\n", src, err.message);
    if (rc == 0)
        rc = media_hls_sync(tmp);
    if (rc == 0)
        rc = renameat2(AT_FDCWD, tmp, AT_FDCWD, hls_dir, RENAME_EXCHANGE);
    media_hls_remove_dir(tmp); /* the old presentation, or the failed new one */
    if (lock >= 0)
        close(lock);
    return rc;
}

/* data_dir/tmp/hls-*: what an import or a rebuild packages into; nobody's (no lock held,
 * for a minute at least) means a process that died there. */
static void sweep_tmp(const char *data_dir, struct media_hls_recovery *st)
{
    char dir[4096];
    if ((size_t)snprintf(dir, sizeof dir, "%s/tmp", data_dir) >= sizeof dir)
        return;
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, "hls-", 4) != 0)
            continue;
        int fd = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
            continue;
        struct stat ds;
        /* A minute old at least: not one an import has just made and not yet locked. */
        if (fstat(fd, &ds) == 0 && ds.st_mtime < time(NULL) - 60 && flock(fd, LOCK_EX | LOCK_NB) == 0) {
            char path[4096 + 256];
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            if (media_hls_remove_dir(path) == 0)
                st->swept++;
        }
        close(fd);
    }
    closedir(d);
}

int media_hls_recover(const char *data_dir, struct media_hls_recovery *st)
{
    struct media_hls_recovery scratch;
    if (!st)
        st = &scratch;
    memset(st, 0, sizeof *st);
    sweep_tmp(data_dir, st);
    char dir[4096];
    if ((size_t)snprintf(dir, sizeof dir, "%s/hls", data_dir) >= sizeof dir)
        return -1;
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? 0 : -1;
    char boot[64];
    boot_id(boot);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || strlen(e->d_name) != 64)
            continue;
        char path[4096 + 256];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (media_hls_synced(path))
            continue;
        char info[256] = "", want[80];
        snprintf(want, sizeof want, "boot=%s\n", boot);
        bool readable = read_small(path, MEDIA_HLS_PACKAGED, info, sizeof info) == 0;
        bool audio_only = readable && strstr(info, "\naudio_only=1\n");
        if (readable && boot[0] && !strncmp(info, want, strlen(want))) {
            /* Written since this machine started: what is in the page cache is what was
             * written, so syncing it makes it durable as it is. */
            if (media_hls_sync(path) == 0)
                st->synced++;
            else
                st->failed++;
        } else if (rebuild(data_dir, e->d_name, path, audio_only) == 0) {
            /* Written before a crash or a power cut: files may have lost their tails. */
            st->rebuilt++;
        } else {
            st->failed++;
        }
    }
    closedir(d);
    return 0;
}

static void *recover_thread(void *arg)
{
    char *data_dir = arg;
    struct media_hls_recovery st;
    if (media_hls_recover(data_dir, &st) == 0 && (st.synced || st.rebuilt || st.swept || st.failed))
        fprintf(stderr,
                "level=info msg=\"presentations: %d synced, %d packaged again, %d failed; %d "
                "leftover packaging directories removed\"\n",
                st.synced, st.rebuilt, st.failed, st.swept);
    free(data_dir);
    return NULL;
}

int media_hls_recover_later(const char *data_dir)
{
    return detached(recover_thread, data_dir);
}
