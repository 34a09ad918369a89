/*
 * Probing of untrusted audio and video files for the catalogue: container, duration,
 * streams, normalised tags and cover art, read with libavformat under hard limits.
 *
 * Only local data is read: a path is opened by this module as a regular file, and a
 * buffer is read in memory; libavformat itself never opens anything (no protocol, no
 * playlist, no reference to another file). Only the demuxers of a whitelist are used:
 * MP4/MOV/M4A/3GP, Matroska/WebM, Ogg, MP3, FLAC, WAV, ADTS AAC and AIFF. Probing is
 * bounded in bytes (probesize), in media time (analyzeduration), in streams (max_streams)
 * and in wall-clock time (deadline).
 *
 * Call media_init() once at program start. After that every function here is
 * thread-safe: a probe keeps all its state on its own stack and in its result.
 */
#ifndef PRETNUM_MEDIA_H
#define PRETNUM_MEDIA_H

#include <stddef.h>
#include <stdint.h>

/*
 * Error codes (media_error.code), static string constants; compare with strcmp().
 *   media_unreadable    not a regular file, or not a file libavformat can read
 *   unsupported_format  detected as a format outside the whitelist (HLS, an image, SRT...)
 *   no_media_stream     no audio or video stream (a cover picture is not video)
 *   zero_duration       the duration is zero or unknown
 *   probe_timeout       the wall-clock deadline passed
 *   invalid_argument    a NULL path, data or out
 *   out_of_memory       an allocation of this module failed
 */
extern const char MEDIA_UNREADABLE[];
extern const char MEDIA_UNSUPPORTED_FORMAT[];
extern const char MEDIA_NO_MEDIA_STREAM[];
extern const char MEDIA_ZERO_DURATION[];
extern const char MEDIA_PROBE_TIMEOUT[];
extern const char MEDIA_INVALID_ARGUMENT[];
extern const char MEDIA_OUT_OF_MEMORY[];
extern const char MEDIA_TRUNCATED[];         /* "truncated_file": a WAV whose data chunk runs past the end */
extern const char MEDIA_INVALID_CONTAINER[]; /* "invalid_container": Matroska without a DocType */

/**
 * Why a probe failed. code is one of the constants above (static storage, never freed);
 * message is for people: lowercase, says what failed first and quotes the file, e.g.
 * `could not read "x.mp4": Invalid data found when processing input`. The message may
 * quote the caller's path: log it, but do not send it to a client as is.
 */
struct media_error {
    const char *code;
    char message[256];
};

/**
 * Bounds of one probe. A field that is zero, negative (or NaN) takes its default:
 * probesize 5 000 000 bytes read to detect the format and the stream parameters (raised
 * to 2048 at least, capped at 1 GiB), analyzeduration_us 5 s of media decoded for the
 * stream parameters, max_streams 16 (a file declaring more is unreadable), deadline_s
 * 10 s of wall-clock time for the whole probe (capped at one day).
 */
struct media_limits {
    int64_t probesize;
    int64_t analyzeduration_us;
    int max_streams;
    double deadline_s;
};

/** Longest tag value kept, in bytes (longer values are cut at a character boundary). */
#define MEDIA_TAG_MAX 4096

/** What a title is, as far as its file tells: a real video stream makes it video. */
enum media_kind { MEDIA_KIND_AUDIO = 1, MEDIA_KIND_VIDEO };

enum media_stream_type { MEDIA_STREAM_AUDIO = 1, MEDIA_STREAM_VIDEO };

/** One audio or video stream (subtitles, data and cover pictures are not listed). */
struct media_stream {
    enum media_stream_type type;
    char *codec;    /* libavcodec short name: "h264", "aac", "vp9", "opus"; never NULL */
    char *profile;  /* "Main", "LC", "Profile 0"; NULL when the codec has none or unknown */
    char *language; /* language tag ("eng", "fre"), sanitised like tags; NULL if absent or "und" */
    int width, height; /* video: picture size in pixels; 0 for audio */
    double frame_rate; /* video: average frames per second; 0 when unknown or audio */
    int sample_rate;   /* audio: Hz; 0 for video */
    int channels;      /* audio: channel count; 0 for video */
};

/**
 * Tags normalised across containers (ID3v2, MP4 atoms, Matroska tags, Vorbis comments;
 * for Ogg, whose comments belong to a stream, those of the first audio stream). Each
 * string is NULL when the file does not carry it; otherwise it is valid UTF-8 (invalid
 * bytes become U+FFFD) of at most MEDIA_TAG_MAX bytes.
 */
struct media_tags {
    char *title;
    char *artist;
    char *album_artist;
    char *album;
    char *composer;
    char *director;
    char *date; /* as written: "1943", "2001-05-04" (ID3 TYER/TDRC, MP4 ©day, DATE...) */
    char *genre;
    char *language; /* the container's language tag, else the first stream's that has one */
    char *comment;  /* comment, else description */
    int track;      /* track number (the 3 of "3/12"); 0 when absent */
};

/**
 * The result of a successful probe. Every pointer in it is owned by the structure: release
 * all of it with media_info_free(), never piecemeal.
 */
struct media_info {
    /* libavformat's demuxer name, as ffprobe's format_name: "mov,mp4,m4a,3gp,3g2,mj2",
       "matroska,webm", "ogg", "mp3", "flac", "wav", "aac", "aiff" */
    char *format;
    double duration_s; /* > 0: the container's duration, else the longest stream's */
    int64_t bit_rate;  /* overall bits per second; 0 when unknown */
    enum media_kind kind;
    struct media_stream *streams; /* audio and video streams in file order */
    size_t n_streams;             /* >= 1 */
    struct media_tags tags;
    /* The first embedded cover picture that is a JPEG or PNG of at most 16 MiB: its bytes as
       stored, checked to start with the format's signature; NULL when there is none. */
    unsigned char *cover;
    size_t cover_size;
    const char *cover_mime; /* "image/jpeg" or "image/png" (static storage) when cover != NULL */
};

/**
 * Sets libav's logging to errors only, and caps any single libav allocation at 256 MiB
 * (av_max_alloc), since a tiny hostile file can make a demuxer ask for gigabytes. Call
 * once, before any probe and before threads start: these are the only changes this module
 * makes to process-wide state, and they apply to all libav use in the process.
 */
void media_init(void);

/**
 * Probes the regular file at path (not a URL: "http://x" is a file name here; FIFOs and
 * devices are refused). lim may be NULL for the defaults.
 *
 * On success returns 0 and fills *out, which the caller then owns: release it with
 * media_info_free(). On failure returns -1, fills *err (when err is not NULL) and leaves
 * *out zeroed, so media_info_free(out) is harmless either way.
 */
int media_probe_file(const char *path, const struct media_limits *lim, struct media_info *out,
                     struct media_error *err);

/**
 * Same as media_probe_file() on len bytes in memory (an upload). The bytes are only read,
 * never kept: the caller keeps ownership of data and may free it as soon as this returns.
 * The format is detected from the content alone (a path's extension also counts for
 * media_probe_file). Messages name the object `buffer of N bytes`.
 */
int media_probe_buffer(const void *data, size_t len, const struct media_limits *lim,
                       struct media_info *out, struct media_error *err);

/** Releases everything media_info holds and zeroes it. NULL and zeroed structs are accepted. */
void media_info_free(struct media_info *info);

/** "audio" or "video" (static storage), for the catalogue and the API's JSON. */
const char *media_kind_name(enum media_kind kind);

/** Thumbnail widths accepted, the largest picture decoded, the largest input. */
#define MEDIA_THUMB_MIN_WIDTH 16
#define MEDIA_THUMB_MAX_WIDTH 2048
#define MEDIA_THUMB_MAX_PIXELS (25 * 1000 * 1000)
#define MEDIA_THUMB_MAX_SCANS 64
#define MEDIA_THUMB_MAX_INPUT ((size_t)32 << 20)

/**
 * A WebP thumbnail of a cover picture (PNG, JPEG, GIF or WebP, told from its bytes; for a
 * GIF its first frame) at most width pixels wide (16..2048), never larger than the
 * picture, the height keeping the proportions (within 1:4), transparency kept. Returns 0
 * with *out (malloc'd, the caller frees it), *out_len and, when not NULL, the size drawn;
 * or -1 with *err: "bad_width", "unsupported_image" (not one of those formats),
 * "bad_image" (undecodable, more than MEDIA_THUMB_MAX_PIXELS, a JPEG of more than
 * MEDIA_THUMB_MAX_SCANS scans), "no_memory" (which may pass).
 * Thread-safe; data is only read.
 */
int media_thumbnail(const void *data, size_t len, int width, unsigned char **out, size_t *out_len,
                    int *out_width, int *out_height, struct media_error *err);

#endif
