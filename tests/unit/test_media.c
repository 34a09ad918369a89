/*
 * media_probe_*: the shared corpus (figures measured with ffprobe 5.1 on Debian 12), files
 * made here with the ffmpeg CLI (tags, covers, refusals), and the limits.
 */
#include "pretnum/media.h"
#include "testlib.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#define FFMPEG "/usr/bin/ffmpeg -v error -nostdin -y"

/* Runs `cd dir && ffmpeg ARGS`; the test fails if ffmpeg does. */
static void ffmpeg(const char *dir, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void ffmpeg(const char *dir, const char *fmt, ...)
{
    char args[2048], cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof cmd, "cd '%s' && " FFMPEG " %s", dir, args);
    assert_int_equal(system(cmd), 0);
}

static char *path_in(const char *dir, const char *name)
{
    char *p;
    assert_true(asprintf(&p, "%s/%s", dir, name) > 0);
    return p;
}

static void write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

/* Probes path and asserts the refusal code; returns nothing to free. */
static void expect_refused(const char *path, const struct media_limits *lim, const char *code)
{
    struct media_info info;
    struct media_error err = {0};
    int rc = media_probe_file(path, lim, &info, &err);
    if (rc == 0)
        print_error("%s was accepted as %s\n", path, info.format);
    assert_int_equal(rc, -1);
    assert_non_null(err.code);
    assert_string_equal(err.code, code);
    assert_true(strlen(err.message) > 10);
    /* A refusal leaves nothing behind. */
    assert_null(info.format);
    assert_null(info.streams);
    assert_int_equal(info.n_streams, 0);
    assert_null(info.cover);
}

static void probe_ok(const char *path, struct media_info *info)
{
    struct media_error err = {0};
    int rc = media_probe_file(path, NULL, info, &err);
    if (rc != 0)
        print_error("%s: %s\n", err.code, err.message);
    assert_int_equal(rc, 0);
}

static double absdiff(double a, double b)
{
    return a > b ? a - b : b - a;
}

#define assert_near(a, b, eps) assert_true(absdiff((a), (b)) <= (eps))

static void assert_str_or_null(const char *got, const char *want)
{
    if (want)
        assert_string_equal(got, want);
    else
        assert_null(got);
}

/* ---- the shared corpus --------------------------------------------------------------- */

struct want_stream {
    enum media_stream_type type;
    const char *codec, *profile;
    int width, height;
    double fps;
    int sample_rate, channels;
};

struct want {
    const char *file;
    const char *format;
    enum media_kind kind;
    double duration; /* ffprobe -show_entries format=duration */
    int64_t bit_rate;
    size_t n_streams;
    struct want_stream s[2];
};

/* The fields of a struct want_stream, to go inside braces. */
#define VIDEO(codec, profile, w, h, fps) MEDIA_STREAM_VIDEO, codec, profile, w, h, fps, 0, 0
#define AUDIO(codec, profile, rate, ch) MEDIA_STREAM_AUDIO, codec, profile, 0, 0, 0, rate, ch

static const struct want valid[] = {
    {.file = "media/valid/h264-aac-publicdomain-sample.mp4",
     .format = "mov,mp4,m4a,3gp,3g2,mj2",
     .kind = MEDIA_KIND_VIDEO,
     .duration = 30.080000,
     .bit_rate = 233644,
     .n_streams = 2,
     .s = {{VIDEO("h264", "Main", 640, 360, 25.0)}, {AUDIO("aac", "LC", 48000, 2)}}},
    {.file = "media/valid/mediabunny-trim-buck-bunny-vp9-opus.webm",
     .format = "matroska,webm",
     .kind = MEDIA_KIND_VIDEO,
     .duration = 5.020000,
     .bit_rate = 265679,
     .n_streams = 2,
     .s = {{VIDEO("vp9", "Profile 0", 320, 180, 24.0)}, {AUDIO("opus", NULL, 48000, 2)}}},
    {.file = "media/valid/mediabunny-frames-vp9-single-gop.webm",
     .format = "matroska,webm",
     .kind = MEDIA_KIND_VIDEO,
     .duration = 3.333000,
     .bit_rate = 161545,
     .n_streams = 1,
     .s = {{VIDEO("vp9", "Profile 0", 1080, 1080, 30.0)}}},
    {.file = "media/valid/mewkiz-44127-8bit-mono-22254hz.flac",
     .format = "flac",
     .kind = MEDIA_KIND_AUDIO,
     .duration = 4.382853,
     .bit_rate = 88577,
     .n_streams = 1,
     .s = {{AUDIO("flac", NULL, 22254, 1)}}},
    {.file = "media/valid/mozilla-48k-mono-vorbis.ogg",
     .format = "ogg",
     .kind = MEDIA_KIND_AUDIO,
     .duration = 10.734042,
     .bit_rate = 33482,
     .n_streams = 1,
     .s = {{AUDIO("vorbis", NULL, 48000, 1)}}},
};

static void check_want(const struct want *w, const struct media_info *info)
{
    assert_string_equal(info->format, w->format);
    assert_int_equal(info->kind, w->kind);
    assert_near(info->duration_s, w->duration, 0.05);
    assert_int_equal(info->bit_rate, w->bit_rate);
    assert_int_equal(info->n_streams, w->n_streams);
    for (size_t i = 0; i < w->n_streams; i++) {
        const struct want_stream *ws = &w->s[i];
        const struct media_stream *s = &info->streams[i];
        assert_int_equal(s->type, ws->type);
        assert_string_equal(s->codec, ws->codec);
        assert_str_or_null(s->profile, ws->profile);
        assert_int_equal(s->width, ws->width);
        assert_int_equal(s->height, ws->height);
        assert_near(s->frame_rate, ws->fps, 0.001);
        assert_int_equal(s->sample_rate, ws->sample_rate);
        assert_int_equal(s->channels, ws->channels);
        assert_null(s->language); /* "und" or absent in all of them */
    }
    assert_null(info->cover);
    assert_null(info->tags.title);
}

static void test_corpus_valid(void **state)
{
    const struct want *w = *state;
    struct media_info info;
    probe_ok(t_corpus(w->file), &info);
    check_want(w, &info);
    media_info_free(&info);
}

static void test_corpus_mp4_bad_stsc(void **state)
{
    (void)state;
    expect_refused(t_corpus("media/invalid/sitkevij-chunk_out_of_range.mp4"), NULL,
                   MEDIA_UNREADABLE);
    struct media_info info;
    struct media_error err;
    media_probe_file(t_corpus("media/invalid/sitkevij-chunk_out_of_range.mp4"), NULL, &info, &err);
    assert_non_null(strstr(err.message, "could not read \""));
    assert_non_null(strstr(err.message, "chunk_out_of_range.mp4\": Invalid data found"));
}

/*
 * Two media/invalid files that libavformat reads anyway, which the catalogue refuses: a
 * WAV whose header declares 44100 data bytes (4.0 s) when the file holds 19956, and a
 * Matroska file whose EBML header lacks the mandatory DocType.
 */
static void test_corpus_truncated_wav(void **state)
{
    (void)state;
    expect_refused(t_corpus("media/invalid/mozilla-r11025_u8_c1_trunc.wav"), NULL, MEDIA_TRUNCATED);
    size_t len;
    char *data = t_slurp(t_corpus("media/invalid/mozilla-r11025_u8_c1_trunc.wav"), &len);
    struct media_info info;
    struct media_error err;
    assert_int_equal(media_probe_buffer(data, len, NULL, &info, &err), -1);
    assert_string_equal(err.code, MEDIA_TRUNCATED);
    assert_non_null(strstr(err.message, "19956 of 44100 bytes"));
    free(data);
}

static void test_corpus_mkv_without_doctype(void **state)
{
    (void)state;
    expect_refused(t_corpus("media/invalid/matroska-no_DocType.mkv"), NULL, MEDIA_INVALID_CONTAINER);
}

static void test_corpus_bogus_ogv(void **state)
{
    (void)state;
    expect_refused(t_corpus("media/invalid/mozilla-bogus.ogv"), NULL, MEDIA_UNREADABLE);
}

/* Same bytes, same answer: the buffer path is the file path minus the extension hint. */
static void test_buffer_matches_file(void **state)
{
    const struct want *w = *state;
    size_t len;
    char *data = t_slurp(t_corpus(w->file), &len);
    assert_non_null(data);
    struct media_info a, b;
    struct media_error err;
    probe_ok(t_corpus(w->file), &a);
    assert_int_equal(media_probe_buffer(data, len, NULL, &b, &err), 0);
    free(data); /* the result must not point into the caller's buffer */
    check_want(w, &b);
    assert_string_equal(a.format, b.format);
    assert_true(a.duration_s == b.duration_s);
    assert_int_equal(a.bit_rate, b.bit_rate);
    assert_int_equal(a.n_streams, b.n_streams);
    for (size_t i = 0; i < a.n_streams; i++) {
        assert_string_equal(a.streams[i].codec, b.streams[i].codec);
        assert_true(a.streams[i].frame_rate == b.streams[i].frame_rate);
    }
    media_info_free(&a);
    media_info_free(&b);
}

/* ---- files made here ------------------------------------------------------------------ */

static void test_mp3_id3_tags_and_cover(void **state)
{
    (void)state;
    char *dir = t_tmpdir("media");
    ffmpeg(dir, "-f lavfi -i color=c=red:s=32x32:d=1 -frames:v 1 cover.jpg");
    ffmpeg(dir, "-f lavfi -i sine=f=440:d=1 -i cover.jpg -map 0:a -map 1:v -c:a libmp3lame "
                "-b:a 32k -c:v copy -id3v2_version 3 -metadata title='Le Petit Prince' "
                "-metadata artist='Antoine de Saint-Exupéry' -metadata album=Contes "
                "-metadata date=1943 -metadata genre=Audiobook -metadata album_artist=Gallimard "
                "-metadata track=3/12 -metadata comment='Read aloud' "
                "-disposition:v attached_pic tagged.mp3");
    char *mp3 = path_in(dir, "tagged.mp3"), *jpg = path_in(dir, "cover.jpg");
    struct media_info info;
    probe_ok(mp3, &info);
    assert_string_equal(info.format, "mp3");
    assert_int_equal(info.kind, MEDIA_KIND_AUDIO); /* the cover is not a video stream */
    assert_near(info.duration_s, 1.044898, 0.05);  /* ffprobe: 1.044898 */
    assert_int_equal(info.n_streams, 1);
    assert_string_equal(info.streams[0].codec, "mp3");
    assert_int_equal(info.streams[0].sample_rate, 44100);
    assert_int_equal(info.streams[0].channels, 1);
    assert_string_equal(info.tags.title, "Le Petit Prince");
    assert_string_equal(info.tags.artist, "Antoine de Saint-Exupéry");
    assert_string_equal(info.tags.album, "Contes");
    assert_string_equal(info.tags.album_artist, "Gallimard");
    assert_string_equal(info.tags.date, "1943");
    assert_string_equal(info.tags.genre, "Audiobook");
    assert_string_equal(info.tags.comment, "Read aloud");
    assert_int_equal(info.tags.track, 3);
    assert_null(info.tags.director);

    assert_non_null(info.cover);
    assert_string_equal(info.cover_mime, "image/jpeg");
    assert_int_equal(info.cover[0], 0xff);
    assert_int_equal(info.cover[1], 0xd8);
    size_t jlen;
    char *jpeg = t_slurp(jpg, &jlen);
    assert_non_null(jpeg);
    assert_int_equal(info.cover_size, jlen); /* exactly the picture that went in */
    assert_memory_equal(info.cover, jpeg, jlen);
    free(jpeg);
    media_info_free(&info);
    assert_null(info.cover); /* media_info_free zeroes */
    media_info_free(&info);  /* and a second call is harmless */
    free(mp3);
    free(jpg);
    t_rmtree(dir);
    free(dir);
}

static void test_m4a_tags_and_png_cover(void **state)
{
    (void)state;
    char *dir = t_tmpdir("media");
    ffmpeg(dir, "-f lavfi -i color=c=blue:s=16x16:d=1 -frames:v 1 cover.png");
    ffmpeg(dir, "-f lavfi -i sine=f=440:d=1 -i cover.png -map 0:a -map 1:v -c:a aac -b:a 32k "
                "-c:v copy -disposition:v attached_pic -metadata title='M4A Title' "
                "-metadata artist='M4A Artist' -metadata album='M4A Album' -metadata composer=Bach "
                "-metadata genre=Classical -metadata date=2001 -metadata comment='A comment' "
                "-metadata track=5 tagged.m4a");
    char *p = path_in(dir, "tagged.m4a");
    struct media_info info;
    probe_ok(p, &info);
    assert_string_equal(info.format, "mov,mp4,m4a,3gp,3g2,mj2");
    assert_int_equal(info.kind, MEDIA_KIND_AUDIO);
    assert_near(info.duration_s, 1.0, 0.05); /* ffprobe: 1.000000 */
    assert_int_equal(info.n_streams, 1);
    assert_string_equal(info.streams[0].codec, "aac");
    assert_string_equal(info.streams[0].profile, "LC");
    assert_string_equal(info.tags.title, "M4A Title");
    assert_string_equal(info.tags.artist, "M4A Artist");
    assert_string_equal(info.tags.album, "M4A Album");
    assert_string_equal(info.tags.composer, "Bach");
    assert_string_equal(info.tags.genre, "Classical");
    assert_string_equal(info.tags.date, "2001");
    assert_string_equal(info.tags.comment, "A comment");
    assert_int_equal(info.tags.track, 5);
    assert_non_null(info.cover);
    assert_string_equal(info.cover_mime, "image/png");
    assert_memory_equal(info.cover, "\x89PNG\r\n\x1a\n", 8);
    media_info_free(&info);
    free(p);
    t_rmtree(dir);
    free(dir);
}

static void test_mkv_director_and_languages(void **state)
{
    (void)state;
    char *dir = t_tmpdir("media");
    ffmpeg(dir,
           "-f lavfi -i testsrc=s=64x48:r=10:d=1 -f lavfi -i sine=d=1 -c:v mpeg4 -c:a flac "
           "-metadata title=Film -metadata DIRECTOR='Agnès Varda' -metadata DATE_RELEASED=1962 "
           "-metadata DESCRIPTION='A day in Paris' -metadata:s:v title='Main picture' "
           "-metadata:s:a language=fre tagged.mkv");
    char *p = path_in(dir, "tagged.mkv");
    struct media_info info;
    probe_ok(p, &info);
    assert_string_equal(info.format, "matroska,webm");
    assert_int_equal(info.kind, MEDIA_KIND_VIDEO);
    assert_near(info.duration_s, 1.0, 0.05); /* ffprobe: 1.000000 */
    assert_int_equal(info.n_streams, 2);
    assert_int_equal(info.streams[0].type, MEDIA_STREAM_VIDEO);
    assert_string_equal(info.streams[0].codec, "mpeg4");
    assert_int_equal(info.streams[0].width, 64);
    assert_int_equal(info.streams[0].height, 48);
    assert_near(info.streams[0].frame_rate, 10.0, 0.001);
    assert_null(info.streams[0].language);
    assert_int_equal(info.streams[1].type, MEDIA_STREAM_AUDIO);
    assert_string_equal(info.streams[1].language, "fre");
    assert_string_equal(info.tags.title, "Film"); /* not the track's "Main picture" */
    assert_string_equal(info.tags.director, "Agnès Varda");
    assert_string_equal(info.tags.date, "1962");
    assert_string_equal(info.tags.comment, "A day in Paris");
    assert_string_equal(info.tags.language, "fre"); /* from the stream: none in the container */
    assert_null(info.tags.artist);
    assert_int_equal(info.tags.track, 0);
    media_info_free(&info);
    free(p);
    t_rmtree(dir);
    free(dir);
}

/* Ogg keeps its Vorbis comments on the stream, not on the container. */
static void test_ogg_stream_comments(void **state)
{
    (void)state;
    char *dir = t_tmpdir("media");
    ffmpeg(dir, "-f lavfi -i sine=d=1 -c:a libvorbis -metadata title='Ogg title' "
                "-metadata artist='Ogg artist' -metadata album_artist=OA -metadata track=7 "
                "-metadata:s:a language=eng t.ogg");
    char *p = path_in(dir, "t.ogg");
    struct media_info info;
    probe_ok(p, &info);
    assert_string_equal(info.format, "ogg");
    assert_string_equal(info.tags.title, "Ogg title");
    assert_string_equal(info.tags.artist, "Ogg artist");
    assert_string_equal(info.tags.album_artist, "OA");
    assert_int_equal(info.tags.track, 7);
    assert_string_equal(info.tags.language, "eng");
    assert_string_equal(info.streams[0].language, "eng");
    media_info_free(&info);
    free(p);
    t_rmtree(dir);
    free(dir);
}

/* Tags are valid UTF-8 and capped, whatever the file holds. */
static void test_tags_sanitised(void **state)
{
    (void)state;
    char *dir = t_tmpdir("media");
    /* An ffmetadata file passes raw bytes through to the Matroska tags. */
    char meta[5200];
    int n = snprintf(meta, sizeof meta, ";FFMETADATA1\ntitle=bad\xff\xc3(end\ncomment=");
    memset(meta + n, 'a', 5000);
    meta[n + MEDIA_TAG_MAX - 1] = '\xc3'; /* an "é" across the cut: must not be split */
    meta[n + MEDIA_TAG_MAX] = '\xa9';
    memcpy(meta + n + 5000, "\n", 2);
    char *mp = path_in(dir, "meta.txt");
    write_file(mp, meta, (size_t)n + 5001);
    ffmpeg(dir, "-f lavfi -i sine=d=1 -i meta.txt -map 0 -map_metadata 1 -c:a flac t.mkv");
    char *p = path_in(dir, "t.mkv");
    struct media_info info;
    probe_ok(p, &info);
    assert_string_equal(info.tags.title, "bad\xef\xbf\xbd\xef\xbf\xbd(end");
    assert_int_equal(strlen(info.tags.comment), MEDIA_TAG_MAX - 1);
    assert_int_equal(info.tags.comment[MEDIA_TAG_MAX - 2], 'a');
    media_info_free(&info);
    free(mp);
    free(p);
    t_rmtree(dir);
    free(dir);
}

static void test_subtitle_only(void **state)
{
    (void)state;
    char *dir = t_tmpdir("media");
    char *srt = path_in(dir, "s.srt");
    const char text[] = "1\n00:00:00,000 --> 00:00:01,000\nHello\n\n";
    write_file(srt, text, sizeof text - 1);
    ffmpeg(dir, "-i s.srt -c:s srt subonly.mkv");
    char *p = path_in(dir, "subonly.mkv");
    expect_refused(p, NULL, MEDIA_NO_MEDIA_STREAM);
    /* The .srt itself is a format we do not take. */
    expect_refused(srt, NULL, MEDIA_UNSUPPORTED_FORMAT);
    free(p);
    free(srt);
    t_rmtree(dir);
    free(dir);
}

static void test_cover_only(void **state)
{
    (void)state;
    char *dir = t_tmpdir("media");
    ffmpeg(dir, "-f lavfi -i color=c=red:s=32x32:d=1 -frames:v 1 cover.jpg");
    ffmpeg(dir, "-i cover.jpg -map 0 -c copy -disposition:0 attached_pic coveronly.mp4");
    char *p = path_in(dir, "coveronly.mp4");
    struct media_info info;
    struct media_error err;
    assert_int_equal(media_probe_file(p, NULL, &info, &err), -1);
    assert_string_equal(err.code, MEDIA_NO_MEDIA_STREAM);
    assert_non_null(strstr(err.message, "no audio or video stream in \""));
    free(p);
    t_rmtree(dir);
    free(dir);
}

static void test_text_named_mp4(void **state)
{
    (void)state;
    char *dir = t_tmpdir("media");
    char *p = path_in(dir, "film.mp4");
    const char text[] = "This is a plain text file, not a movie.\nIt only has two lines.\n";
    write_file(p, text, sizeof text - 1);
    expect_refused(p, NULL, MEDIA_UNREADABLE);
    struct media_info info;
    struct media_error err;
    assert_int_equal(media_probe_buffer(text, sizeof text - 1, NULL, &info, &err), -1);
    assert_string_equal(err.code, MEDIA_UNREADABLE);
    assert_string_equal(
        err.message, "could not read buffer of 63 bytes: Invalid data found when processing input");
    free(p);
    t_rmtree(dir);
    free(dir);
}

static void test_image_refused(void **state)
{
    (void)state;
    char *dir = t_tmpdir("media");
    ffmpeg(dir, "-f lavfi -i color=c=red:s=32x32:d=1 -frames:v 1 still.jpg");
    char *p = path_in(dir, "still.jpg");
    struct media_info info;
    struct media_error err;
    assert_int_equal(media_probe_file(p, NULL, &info, &err), -1);
    assert_string_equal(err.code, MEDIA_UNSUPPORTED_FORMAT);
    assert_non_null(strstr(err.message, "still.jpg\": format \"jpeg_pipe\" is not supported"));
    free(p);
    t_rmtree(dir);
    free(dir);
}

/* Names of the files opened in dir since the watch was set, as "a,b,". */
static void opened_files(int fd, char *names, size_t cap)
{
    _Alignas(struct inotify_event) char buf[8192];
    names[0] = '\0';
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) {
        for (char *q = buf; q < buf + n;) {
            const struct inotify_event *ev = (const struct inotify_event *)q;
            size_t used = strlen(names);
            if ((ev->mask & IN_OPEN) && ev->len)
                snprintf(names + used, cap - used, "%s,", ev->name);
            q += sizeof *ev + ev->len;
        }
    }
}

/*
 * An HLS playlist whose segment is real, readable media next to it (ffprobe plays the
 * playlist as a 1 s mp3): it is refused, and inotify shows that only the playlist itself was
 * opened, under its own name, disguised as .mp3, and as a buffer.
 */
static void test_playlist_refused_nothing_else_opened(void **state)
{
    (void)state;
    char *dir = t_tmpdir("media");
    ffmpeg(dir, "-f lavfi -i sine=d=1 -c:a libmp3lame -b:a 32k song.mp3");
    char *m3u8 = path_in(dir, "list.m3u8"), *song = path_in(dir, "song.mp3");
    char *disguised = path_in(dir, "list.mp3");
    const char text[] = "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:1\n"
                        "#EXTINF:1.0,\nsong.mp3\n#EXT-X-ENDLIST\n";
    write_file(m3u8, text, sizeof text - 1);
    write_file(disguised, text, sizeof text - 1);

    int in = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    assert_true(in >= 0);
    assert_true(inotify_add_watch(in, dir, IN_OPEN) >= 0);
    char names[512];

    struct media_info info;
    struct media_error err;
    assert_int_equal(media_probe_file(m3u8, NULL, &info, &err), -1);
    assert_string_equal(err.code, MEDIA_UNSUPPORTED_FORMAT);
    assert_non_null(strstr(err.message, "list.m3u8\": format \"hls\" is not supported"));
    opened_files(in, names, sizeof names);
    assert_string_equal(names, "list.m3u8,");

    expect_refused(disguised, NULL, MEDIA_UNSUPPORTED_FORMAT);
    opened_files(in, names, sizeof names);
    assert_string_equal(names, "list.mp3,");

    assert_int_equal(media_probe_buffer(text, sizeof text - 1, NULL, &info, &err), -1);
    assert_string_equal(err.code, MEDIA_UNSUPPORTED_FORMAT);
    opened_files(in, names, sizeof names);
    assert_string_equal(names, "");

    /* The watch does see opens, and the segment itself is fine media. */
    probe_ok(song, &info);
    assert_string_equal(info.streams[0].codec, "mp3");
    media_info_free(&info);
    opened_files(in, names, sizeof names);
    assert_string_equal(names, "song.mp3,");
    close(in);
    free(m3u8);
    free(song);
    free(disguised);
    t_rmtree(dir);
    free(dir);
}

static void test_zero_duration(void **state)
{
    (void)state;
    char *dir = t_tmpdir("media");
    ffmpeg(dir, "-f lavfi -i anullsrc=r=8000:cl=mono -t 0 zero.wav");
    ffmpeg(dir, "-f lavfi -i anullsrc=r=8000:cl=mono -frames:a 0 -c:a flac zero.flac");
    char *wav = path_in(dir, "zero.wav"), *flac = path_in(dir, "zero.flac");
    expect_refused(wav, NULL, MEDIA_ZERO_DURATION);
    expect_refused(flac, NULL, MEDIA_ZERO_DURATION);
    free(wav);
    free(flac);
    t_rmtree(dir);
    free(dir);
}

static long peak_rss_kb(void)
{
    struct rusage ru;
    assert_int_equal(getrusage(RUSAGE_SELF, &ru), 0);
    return ru.ru_maxrss;
}

/*
 * fuzz_media's first find: a fragmented MP4 whose trun claims 0x05000000 samples made the
 * mov demuxer allocate 2 GB three times (6 GB peak and 9 s in ffprobe). With media_init()'s
 * allocation cap it is refused at once.
 */
static void test_huge_sample_count(void **state)
{
    (void)state;
    char *dir = t_tmpdir("media");
    ffmpeg(dir, "-f lavfi -i testsrc=s=32x24:r=10 -frames:v 3 -c:v mpeg4 -f mp4 "
                "-movflags frag_keyframe+empty_moov frag.mp4");
    char *p = path_in(dir, "frag.mp4");
    size_t len;
    unsigned char *data = (unsigned char *)t_slurp(p, &len);
    assert_non_null(data);
    struct media_info info;
    struct media_error err;
    assert_int_equal(media_probe_buffer(data, len, NULL, &info, &err), 0); /* sane as made */
    media_info_free(&info);
    unsigned char *trun = memmem(data, len, "trun", 4);
    assert_non_null(trun);
    assert_memory_equal(trun + 8, "\0\0\0\3", 4); /* after version and flags: 3 samples */
    memcpy(trun + 8, "\x05\0\0\0", 4);
    long before = peak_rss_kb();
    assert_int_equal(media_probe_buffer(data, len, NULL, &info, &err), -1);
    assert_string_equal(err.code, MEDIA_UNREADABLE);
    assert_non_null(strstr(err.message, "Cannot allocate memory"));
    assert_true(peak_rss_kb() - before < 300 * 1024);
    free(data);
    free(p);
    t_rmtree(dir);
    free(dir);
}

/* A file declaring more streams than max_streams is refused, not truncated. */
static void test_max_streams(void **state)
{
    (void)state;
    char *dir = t_tmpdir("media");
    ffmpeg(dir, "-f lavfi -i sine=d=1 -f lavfi -i sine=f=220:d=1 -f lavfi -i sine=f=330:d=1 "
                "-map 0 -map 1 -map 2 -c:a flac three.mkv");
    char *p = path_in(dir, "three.mkv");
    struct media_limits lim = {.max_streams = 2};
    expect_refused(p, &lim, MEDIA_UNREADABLE);
    struct media_info info;
    struct media_error err;
    assert_int_equal(media_probe_file(p, &lim, &info, &err), -1);
    assert_non_null(strstr(err.message, "Cannot allocate memory (more than 2 streams"));
    lim.max_streams = 3;
    assert_int_equal(media_probe_file(p, &lim, &info, &err), 0);
    assert_int_equal(info.n_streams, 3);
    media_info_free(&info);
    free(p);
    t_rmtree(dir);
    free(dir);
}

static void test_deadline(void **state)
{
    (void)state;
    const char *p = t_corpus("media/valid/h264-aac-publicdomain-sample.mp4");
    struct media_limits lim = {.deadline_s = 1e-9};
    struct media_info info;
    struct media_error err;
    assert_int_equal(media_probe_file(p, &lim, &info, &err), -1);
    assert_string_equal(err.code, MEDIA_PROBE_TIMEOUT);
    assert_non_null(strstr(err.message, "deadline"));
    assert_null(info.format);
    /* Nonsense limits fall back to the defaults instead of disabling the bounds. */
    lim = (struct media_limits){
        .probesize = -1, .analyzeduration_us = -5, .max_streams = -1, .deadline_s = -1};
    assert_int_equal(media_probe_file(p, &lim, &info, &err), 0);
    assert_near(info.duration_s, 30.08, 0.05);
    media_info_free(&info);
}

/* Probes share no state: threads probing different files at once get the serial answers. */
struct job {
    const struct want *w;
    char path[4096]; /* resolved before the threads start: t_corpus reuses one buffer */
};

static void *probe_repeatedly(void *arg)
{
    const struct job *job = arg;
    const struct want *w = job->w;
    for (int i = 0; i < 3; i++) {
        struct media_info info;
        struct media_error err;
        if (media_probe_file(job->path, NULL, &info, &err) != 0)
            return (void *)"failed";
        int same = !strcmp(info.format, w->format) &&
                   absdiff(info.duration_s, w->duration) < 0.05 && info.n_streams == w->n_streams &&
                   !strcmp(info.streams[0].codec, w->s[0].codec);
        media_info_free(&info);
        if (!same)
            return (void *)"differed";
    }
    return NULL;
}

static void test_concurrent_probes(void **state)
{
    (void)state;
    pthread_t th[5];
    static struct job jobs[5];
    for (int i = 0; i < 5; i++) {
        jobs[i].w = &valid[i];
        snprintf(jobs[i].path, sizeof jobs[i].path, "%s", t_corpus(valid[i].file));
    }
    for (int i = 0; i < 5; i++)
        assert_int_equal(pthread_create(&th[i], NULL, probe_repeatedly, &jobs[i]), 0);
    for (int i = 0; i < 5; i++) {
        void *res = (void *)"not joined";
        assert_int_equal(pthread_join(th[i], &res), 0);
        assert_null(res);
    }
}

/* A path is a file name, never a URL, a FIFO or a directory. */
static void test_not_a_regular_file(void **state)
{
    (void)state;
    char *dir = t_tmpdir("media");
    char *fifo = path_in(dir, "pipe.mp3");
    assert_int_equal(mkfifo(fifo, 0600), 0);
    expect_refused(fifo, NULL, MEDIA_UNREADABLE); /* and did not block on the open */
    expect_refused(dir, NULL, MEDIA_UNREADABLE);
    struct media_info info;
    struct media_error err;
    assert_int_equal(media_probe_file("http://127.0.0.1:9/x.mp3", NULL, &info, &err), -1);
    assert_string_equal(err.code, MEDIA_UNREADABLE);
    assert_string_equal(err.message,
                        "could not open \"http://127.0.0.1:9/x.mp3\": No such file or directory");
    expect_refused("/dev/zero", NULL, MEDIA_UNREADABLE);
    free(fifo);
    t_rmtree(dir);
    free(dir);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    struct media_info info;
    struct media_error err;
    assert_int_equal(media_probe_file(NULL, NULL, &info, &err), -1);
    assert_string_equal(err.code, MEDIA_INVALID_ARGUMENT);
    assert_int_equal(media_probe_buffer(NULL, 10, NULL, &info, &err), -1);
    assert_string_equal(err.code, MEDIA_INVALID_ARGUMENT);
    assert_int_equal(media_probe_buffer("", 0, NULL, &info, &err), -1);
    assert_string_equal(err.code, MEDIA_UNREADABLE);
    assert_int_equal(
        media_probe_file(t_corpus("media/valid/mozilla-48k-mono-vorbis.ogg"), NULL, NULL, &err),
        -1);
    assert_string_equal(err.code, MEDIA_INVALID_ARGUMENT);
    /* err may be NULL */
    assert_int_equal(media_probe_file("/nonexistent/x.mp3", NULL, &info, NULL), -1);
    media_info_free(NULL);
    assert_string_equal(media_kind_name(MEDIA_KIND_VIDEO), "video");
    assert_string_equal(media_kind_name(MEDIA_KIND_AUDIO), "audio");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_prestate(test_corpus_valid, (void *)&valid[0]),
        cmocka_unit_test_prestate(test_corpus_valid, (void *)&valid[1]),
        cmocka_unit_test_prestate(test_corpus_valid, (void *)&valid[2]),
        cmocka_unit_test_prestate(test_corpus_valid, (void *)&valid[3]),
        cmocka_unit_test_prestate(test_corpus_valid, (void *)&valid[4]),
        cmocka_unit_test(test_corpus_truncated_wav),
        cmocka_unit_test(test_corpus_mkv_without_doctype),
        cmocka_unit_test(test_corpus_mp4_bad_stsc),
        cmocka_unit_test(test_corpus_bogus_ogv),
        cmocka_unit_test_prestate(test_buffer_matches_file, (void *)&valid[0]),
        cmocka_unit_test_prestate(test_buffer_matches_file, (void *)&valid[1]),
        cmocka_unit_test_prestate(test_buffer_matches_file, (void *)&valid[4]),
        cmocka_unit_test(test_mp3_id3_tags_and_cover),
        cmocka_unit_test(test_m4a_tags_and_png_cover),
        cmocka_unit_test(test_mkv_director_and_languages),
        cmocka_unit_test(test_ogg_stream_comments),
        cmocka_unit_test(test_tags_sanitised),
        cmocka_unit_test(test_subtitle_only),
        cmocka_unit_test(test_cover_only),
        cmocka_unit_test(test_text_named_mp4),
        cmocka_unit_test(test_image_refused),
        cmocka_unit_test(test_playlist_refused_nothing_else_opened),
        cmocka_unit_test(test_zero_duration),
        cmocka_unit_test(test_huge_sample_count),
        cmocka_unit_test(test_max_streams),
        cmocka_unit_test(test_deadline),
        cmocka_unit_test(test_concurrent_probes),
        cmocka_unit_test(test_not_a_regular_file),
        cmocka_unit_test(test_bad_arguments),
    };
    t_init();
    media_init();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
