/*
 * HLS packaging of the catalogue's music and films: one pass over an untrusted file (read
 * under media.h's limits) writes an HLS presentation of fragmented MP4 (CMAF) segments.
 *
 * Packaged at ingest, not on the fly: the segments are ordinary files, so the server hands
 * them to the kernel (sendfile through MHD_create_response_from_fd) and a CDN can keep
 * them; the playlists are written once with the segments' real durations; and the work
 * that can fail on a hostile file (demuxing, decoding) happens once, before the title
 * exists, where a failure is a clear refusal at import rather than a stream that breaks in
 * a patron's browser. The price is disk: a copy of the media (remuxed, so about the size of
 * the original) beside the original. A remux is a single sequential pass, about as fast as
 * `ffmpeg -c copy -f hls`.
 *
 * What is written into dir:
 *   master.m3u8   the multivariant playlist: one variant with BANDWIDTH, AVERAGE-BANDWIDTH,
 *                 CODECS (and RESOLUTION, FRAME-RATE for films)
 *   index.m3u8    the media playlist: VERSION 7, VOD, ENDLIST, INDEPENDENT-SEGMENTS,
 *                 EXT-X-MAP, one EXTINF per segment with its real duration
 *   init.mp4      the initialisation segment (ftyp + moov)
 *   seg-NNNNN.m4s the media segments (moof + mdat), each starting on a keyframe
 * Every URI in the playlists is relative and names a file of the same directory.
 *
 * Codecs. Video: H.264 (Constrained Baseline, Main or High, 8-bit 4:2:0) is copied as it
 * is; any other video codec (VP8, VP9, AV1, HEVC, MPEG-4 Part 2...) or H.264 profile is
 * refused: Safari's HLS does not play VP9 or AV1 in fMP4, Chromium's MSE does not decode
 * HEVC without hardware support, and a title that plays in some browsers only would be a
 * broken promise. Audio: AAC (LC, HE, HE v2) is copied; anything else libavcodec decodes
 * (MP3, FLAC, Vorbis, Opus, PCM, ALAC...) is re-encoded to AAC-LC at 44.1 or 48 kHz, mono
 * or stereo (MP3 too: hls.js and Chromium do not play MP3 in fMP4, nor does Apple list it). Raw
 * ADTS AAC (.aac, no AudioSpecificConfig) is re-encoded too. One video stream and one
 * audio stream are kept, as libavformat's av_find_best_stream() chooses them (cover
 * pictures excluded, audio preferably one that can be copied or decoded); audio_only
 * keeps the audio alone.
 *
 * Thread-safe after media_init(); each call keeps its state to itself.
 */
#ifndef PRETNUM_HLS_H
#define PRETNUM_HLS_H

#include <stdbool.h>
#include <stdint.h>

#include "pretnum/media.h"

/*
 * Error codes (media_error.code) beyond media.h's (media_unreadable, unsupported_format,
 * no_media_stream, probe_timeout...):
 *   unstreamable_video  a video codec or H.264 profile browsers do not all play
 *   unstreamable_audio  audio that can be neither copied nor decoded
 *   packaging_failed    the media could not be written as fMP4 (broken timestamps, a
 *                       segment too long, a write error)
 *   packaging_timeout   the pass outlived its deadline
 *   presentation_too_large  the output would pass its cap (max_output)
 */
extern const char MEDIA_UNSTREAMABLE_VIDEO[];
extern const char MEDIA_UNSTREAMABLE_AUDIO[];
extern const char MEDIA_PACKAGING_FAILED[];
extern const char MEDIA_PACKAGING_TIMEOUT[];
extern const char MEDIA_PRESENTATION_TOO_LARGE[];

/** Wished segment duration in seconds: segments are cut at the first keyframe after it. */
#define MEDIA_HLS_TARGET_S 6.0

/** Bounds of one packaging; zero fields take the defaults. */
struct media_hls_options {
    double deadline_s;  /* wall-clock bound on the whole pass; default 1800 s plus the
                           media's duration (a long audiobook is re-encoded too) */
    double target_s;    /* segment duration aimed at; default MEDIA_HLS_TARGET_S */
    int64_t max_output; /* bytes written at most; default the larger of 4 x input + 64 MiB
                           and what the duration at the source's bit rate plus the AAC
                           bit rate makes, + 25 % + 64 MiB */
    bool audio_only;    /* package the audio alone (a title catalogued as music) */
};

/** What was written. */
struct media_hls_result {
    enum media_kind kind; /* video when a video stream was packaged */
    double duration_s;    /* sum of the segments' EXTINF */
    double max_segment_s; /* the longest EXTINF */
    int segments;
    int target_duration; /* EXT-X-TARGETDURATION */
    int64_t bandwidth;   /* peak segment bit rate, bits/s */
    int64_t average_bandwidth;
    int64_t bytes;   /* init + segments */
    char codecs[64]; /* the CODECS attribute, e.g. "avc1.64001f,mp4a.40.2" */
    bool audio_reencoded;
};

/**
 * Packages the regular file at path into the existing, empty directory dir. On success
 * returns 0 and fills *out (when not NULL). On failure returns -1 and fills *err; files
 * already written in dir stay there: the caller removes the directory (media_hls_remove_dir).
 */
int media_hls_package(const char *path, const char *dir, const struct media_hls_options *opt,
                      struct media_hls_result *out, struct media_error *err);

/**
 * The same on len bytes in memory, with dir NULL to write nothing (the fuzz target):
 * every byte is produced and counted, none kept.
 */
int media_hls_package_buffer(const void *data, size_t len, const char *dir,
                             const struct media_hls_options *opt, struct media_hls_result *out,
                             struct media_error *err);

/*
 * Durability. A presentation is derived data: it can be made again from the stored source
 * (data_dir/files/SH/SHA.EXT), so it is not synced before its title is committed (the
 * source is). The packager writes .packaged (the machine's boot id, the options) and no
 * sync; after the commit media_hls_sync_later() syncs every file and the directory in the
 * background, then writes .synced. media_hls_recover(), at the server's start, finds the
 * presentations under data_dir/hls without .synced: one written during this boot is synced
 * as it is (the page cache holds what was written), one from an earlier boot (a crash, a
 * power cut since) is packaged again from its source and exchanged for the old one
 * atomically. It also removes data_dir/tmp/hls-* directories no process holds (flock):
 * those of an import or a rebuild that died.
 */
#define MEDIA_HLS_SYNCED ".synced"
#define MEDIA_HLS_PACKAGED ".packaged"

/** True when dir has been synced whole (its .synced marker is there). */
bool media_hls_synced(const char *dir);

/** Syncs the files of dir and dir itself, then writes .synced. 0, or -1 with errno. */
int media_hls_sync(const char *dir);

/** The same in a detached thread (a failure is logged; the next start tries again). */
int media_hls_sync_later(const char *dir);

struct media_hls_recovery {
    int synced;  /* written during this boot: synced as they were */
    int rebuilt; /* from an earlier boot: packaged again */
    int failed;  /* neither worked (no source, a write error): left as they are */
    int swept;   /* leftover data_dir/tmp/hls-* removed */
};

/** As described above, for the presentations under data_dir/hls. 0, or -1. */
int media_hls_recover(const char *data_dir, struct media_hls_recovery *st);

/** The same in a detached thread, its outcome logged (the server's start). */
int media_hls_recover_later(const char *data_dir);

/** Removes dir and the files of one level in it (a presentation). 0, or -1 with errno. */
int media_hls_remove_dir(const char *dir);

/** True when name is a file a presentation holds (as listed above; no path separator). */
bool media_hls_valid_name(const char *name);

#endif
