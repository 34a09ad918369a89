/*
 * The HLS packager on real files (the shared corpus and films and music this test makes
 * with the ffmpeg command line): playlists as RFC 8216 and Apple's authoring rules want
 * them, every segment starting on a keyframe (ffprobe on init + segment), EXTINF values
 * summing to the media's duration within one frame, refusals with their codes.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "pretnum/hls.h"
#include "pretnum/media.h"
#include "testdb.h"

static char *work;

static int setup(void **state)
{
    (void)state;
    media_init();
    work = t_tmpdir("hls");
    /* A film as a camera or an encoder makes it: H.264 High with B-frames, a keyframe
     * every 48 frames (1.92 s), AAC; and the same with a scene cut forcing keyframes at
     * odd times; music as MP3 and as PCM WAV; and a VP8 film. */
    static const char *const cmds[] = {
        "ffmpeg -nostdin -v error -y -f lavfi -i testsrc2=duration=20:size=640x360:rate=25 -f "
        "lavfi -i "
        "sine=duration=20 -c:v libx264 -preset veryfast -profile:v high -g 48 -bf 2 -c:a aac "
        "-shortest film.mp4",
        "ffmpeg -nostdin -v error -y -f lavfi -i testsrc2=duration=13:size=320x240:rate=30 -f "
        "lavfi -i "
        "sine=duration=13:frequency=300 -c:v libx264 -preset veryfast -profile:v main -g 250 "
        "-force_key_frames 0,2.5,4,9.1,11 -c:a libmp3lame -shortest film.mkv",
        "ffmpeg -nostdin -v error -y -f lavfi -i sine=duration=17:sample_rate=44100 -c:a "
        "libmp3lame -b:a 128k "
        "music.mp3",
        "ffmpeg -nostdin -v error -y -f lavfi -i sine=duration=9:sample_rate=32000 -ac 2 -c:a "
        "pcm_s16le "
        "music.wav",
        "ffmpeg -nostdin -v error -y -f lavfi -i testsrc2=duration=2:size=160x120:rate=10 -c:v "
        "libvpx "
        "film.webm",
        "printf "
        "'#EXTM3U\\n#EXT-X-TARGETDURATION:1\\n#EXTINF:1,\\nfile:///etc/passwd\\n#EXT-X-ENDLIST\\n' "
        "> list.m3u8",
    };
    for (size_t i = 0; i < sizeof cmds / sizeof *cmds; i++) {
        char cmd[2048];
        snprintf(cmd, sizeof cmd, "cd '%s' && %s", work, cmds[i]);
        if (t_cmd(cmd, NULL) != 0) {
            fprintf(stderr, "could not run: %s\n", cmd);
            return -1;
        }
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    t_rmtree(work);
    free(work);
    return 0;
}

/* A number from ffprobe: `ffprobe ... -of csv=p=0`; NAN when it gave none. */
static double probe_number(const char *args, const char *file)
{
    char cmd[1024], *out = NULL;
    snprintf(cmd, sizeof cmd, "ffprobe -v error %s -of csv=p=0 '%s'", args, file);
    double v = NAN;
    if (t_cmd(cmd, &out) == 0 && out && *out) {
        char *end;
        v = strtod(out, &end);
        if (end == out)
            v = NAN;
    }
    free(out);
    return v;
}

/* The value after "TAG:" on its own line of a playlist, or NULL. */
static const char *tag(const char *pl, const char *name)
{
    const char *p = strstr(pl, name);
    return p ? p + strlen(name) : NULL;
}

/*
 * Packages file, then checks the presentation. duration_ref: the duration it must sum to;
 * frame: one frame of the reference stream, in seconds.
 */
static void check_presentation(const char *file, const char *dir, bool video, double duration_ref,
                               double frame, const char *codecs_prefix)
{
    struct media_hls_result res;
    struct media_error err;
    if (media_hls_package(file, dir, NULL, &res, &err) != 0)
        fail_msg("%s: %s %s", file, err.code, err.message);
    assert_int_equal(res.kind, video ? MEDIA_KIND_VIDEO : MEDIA_KIND_AUDIO);
    assert_true(res.segments >= 1);
    assert_true(res.bandwidth > 0 && res.average_bandwidth > 0 &&
                res.average_bandwidth <= res.bandwidth);
    if (strncmp(res.codecs, codecs_prefix, strlen(codecs_prefix)) != 0)
        fail_msg("%s: codecs %s, want %s...", file, res.codecs, codecs_prefix);

    char path[4096];
    size_t len;
    snprintf(path, sizeof path, "%s/master.m3u8", dir);
    char *master = t_slurp(path, &len);
    assert_non_null(master);
    assert_int_equal(strncmp(master, "#EXTM3U\n", 8), 0);
    assert_non_null(strstr(master, "\n#EXT-X-VERSION:7\n"));
    assert_non_null(strstr(master, "\n#EXT-X-INDEPENDENT-SEGMENTS\n"));
    const char *inf = tag(master, "#EXT-X-STREAM-INF:");
    assert_non_null(inf);
    char want[128];
    snprintf(want, sizeof want, "BANDWIDTH=%lld,", (long long)res.bandwidth);
    assert_non_null(strstr(inf, want));
    snprintf(want, sizeof want, "CODECS=\"%s\"", res.codecs);
    assert_non_null(strstr(inf, want));
    assert_true((strstr(inf, "RESOLUTION=") != NULL) == video);
    assert_non_null(strstr(master, "\nindex.m3u8\n"));
    free(master);

    snprintf(path, sizeof path, "%s/index.m3u8", dir);
    char *pl = t_slurp(path, &len);
    assert_non_null(pl);
    assert_int_equal(strncmp(pl, "#EXTM3U\n", 8), 0);
    static const char *const lines[] = {
        "\n#EXT-X-VERSION:7\n", "\n#EXT-X-PLAYLIST-TYPE:VOD\n", "\n#EXT-X-INDEPENDENT-SEGMENTS\n",
        "\n#EXT-X-MAP:URI=\"init.mp4\"\n", "\n#EXT-X-MEDIA-SEQUENCE:0\n"};
    for (size_t i = 0; i < sizeof lines / sizeof *lines; i++)
        if (!strstr(pl, lines[i]))
            fail_msg("%s: no %s", file, lines[i]);
    assert_int_equal(strcmp(pl + len - 15, "#EXT-X-ENDLIST\n"), 0);
    long target = strtol(tag(pl, "#EXT-X-TARGETDURATION:"), NULL, 10);
    assert_int_equal(target, res.target_duration);

    char init[4096];
    snprintf(init, sizeof init, "%s/init.mp4", dir);
    struct stat st;
    assert_int_equal(stat(init, &st), 0);
    assert_true(st.st_size > 0);
    double sum = 0;
    int n = 0;
    for (const char *p = strstr(pl, "#EXTINF:"); p; p = strstr(p + 1, "#EXTINF:")) {
        char *end;
        double d = strtod(p + 8, &end);
        assert_true(d > 0);
        assert_true(d <= (double)target); /* never above the target duration */
        sum += d;
        char name[32];
        assert_int_equal(sscanf(end, ",\n%31s", name), 1);
        char want_name[32];
        snprintf(want_name, sizeof want_name, "seg-%05d.m4s", n);
        assert_string_equal(name, want_name);
        assert_true(media_hls_valid_name(name));
        snprintf(path, sizeof path, "%s/%s", dir, name);
        assert_int_equal(stat(path, &st), 0);
        assert_true(st.st_size > 0); /* no empty segment */
        /* A segment plays from its first byte: init + segment decodes, starting on a keyframe. */
        char joined[4096], cmd[16384];
        snprintf(joined, sizeof joined, "%s/joined.mp4", work);
        snprintf(cmd, sizeof cmd, "cat '%s' '%s' > '%s'", init, path, joined);
        assert_int_equal(t_cmd(cmd, NULL), 0);
        if (video) {
            char *out = NULL;
            snprintf(cmd, sizeof cmd,
                     "ffprobe -v error -select_streams v:0 -show_entries packet=flags -of csv=p=0 "
                     "'%s' | head -1",
                     joined);
            assert_int_equal(t_cmd(cmd, &out), 0);
            if (!out || out[0] != 'K')
                fail_msg("%s: segment %d starts with flags %s", file, n, out ? out : "(none)");
            free(out);
            /* Its media lasts what the playlist says, to the frame. */
            double frames = probe_number(
                "-select_streams v:0 -count_packets -show_entries stream=nb_read_packets", joined);
            if (fabs(frames * frame - d) > frame / 2)
                fail_msg("%s: segment %d holds %g frames for EXTINF %f", file, n, frames, d);
        }
        snprintf(cmd, sizeof cmd, "ffmpeg -nostdin -v error -i '%s' -f null - 2>&1", joined);
        char *out = NULL;
        assert_int_equal(t_cmd(cmd, &out), 0);
        if (out && *out)
            fail_msg("%s: segment %d decodes with: %s", file, n, out);
        free(out);
        n++;
    }
    assert_int_equal(n, res.segments);
    if (fabs(sum - res.duration_s) > 1e-5 * n)
        fail_msg("%s: EXTINF sum %f, result %f", file, sum, res.duration_s);
    if (fabs(sum - duration_ref) > frame)
        fail_msg("%s: EXTINF sum %f, media %f (frame %f)", file, sum, duration_ref, frame);
    /* Segments cut at the first keyframe past 6 s: none shorter than 6 s but the last. */
    double prev = -1;
    int i = 0;
    for (const char *p = strstr(pl, "#EXTINF:"); p; p = strstr(p + 1, "#EXTINF:"), i++) {
        double d = strtod(p + 8, NULL);
        if (i + 1 < n && d < MEDIA_HLS_TARGET_S - 0.001)
            fail_msg("%s: segment %d lasts %f", file, i, d);
        prev = d;
    }
    (void)prev;
    /* The whole presentation reads as HLS with the ffmpeg command line. */
    char cmd[8192], *out = NULL;
    snprintf(cmd, sizeof cmd, "ffmpeg -nostdin -v error -i '%s/master.m3u8' -c copy -f null - 2>&1",
             dir);
    assert_int_equal(t_cmd(cmd, &out), 0);
    free(out);
    free(pl);
}

static char *fresh_dir(const char *name)
{
    char *d = malloc(4096);
    snprintf(d, 4096, "%s/%s", work, name);
    assert_int_equal(mkdir(d, 0700), 0);
    return d;
}

static void test_film_remuxed(void **state)
{
    (void)state;
    char file[4096];
    snprintf(file, sizeof file, "%s/film.mp4", work);
    char *dir = fresh_dir("film");
    double vdur = probe_number("-select_streams v:0 -show_entries stream=duration", file);
    check_presentation(file, dir, true, vdur, 1.0 / 25, "avc1.64");
    free(dir);
}

static void test_film_odd_keyframes_mp3(void **state)
{
    (void)state;
    char file[4096];
    snprintf(file, sizeof file, "%s/film.mkv", work);
    char *dir = fresh_dir("mkv");
    /* Keyframes at 0, 2.5, 4, 9.1, 11: segments [0, 9.1) and [9.1, 13); its MP3 is re-encoded. */
    check_presentation(file, dir, true, 13.0, 1.0 / 30, "avc1.4d");
    char path[4096];
    snprintf(path, sizeof path, "%s/index.m3u8", dir);
    size_t len;
    char *pl = t_slurp(path, &len);
    assert_non_null(
        strstr(pl, "#EXTINF:9.100000,\nseg-00000.m4s\n#EXTINF:3.900000,\nseg-00001.m4s\n"));
    assert_non_null(strstr(pl, "#EXT-X-TARGETDURATION:10\n"));
    free(pl);
    snprintf(path, sizeof path, "%s/master.m3u8", dir);
    pl = t_slurp(path, &len);
    assert_non_null(strstr(pl, ",mp4a.40.2\"")); /* MP3 re-encoded to AAC */
    free(pl);
    free(dir);
}

static void test_corpus_film(void **state)
{
    (void)state;
    const char *file = t_corpus("media/valid/h264-aac-publicdomain-sample.mp4");
    char *dir = fresh_dir("corpus-film");
    double vdur = probe_number("-select_streams v:0 -show_entries stream=duration", file);
    check_presentation(file, dir, true, vdur, 1.0 / 25, "avc1.4d401e,mp4a.40.2");
    free(dir);
}

static void test_music(void **state)
{
    (void)state;
    static const struct {
        const char *file;
        bool corpus, reencoded;
        const char *codecs;
    } cases[] = {
        {"music.mp3", false, true, "mp4a.40.2"},
        {"music.wav", false, true, "mp4a.40.2"},
        {"media/valid/mewkiz-44127-8bit-mono-22254hz.flac", true, true, "mp4a.40.2"},
        {"media/valid/mozilla-48k-mono-vorbis.ogg", true, true, "mp4a.40.2"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char file[4096], name[32];
        if (cases[i].corpus)
            snprintf(file, sizeof file, "%s", t_corpus(cases[i].file));
        else
            snprintf(file, sizeof file, "%s/%s", work, cases[i].file);
        snprintf(name, sizeof name, "music-%zu", i);
        char *dir = fresh_dir(name);
        /* The media's duration: its samples as the ffmpeg command line decodes them (an
         * MP3's header counts the encoder's delay and padding as well). */
        double sr = probe_number("-select_streams a:0 -show_entries stream=sample_rate", file);
        char cmd[8192], *out = NULL;
        snprintf(cmd, sizeof cmd,
                 "ffmpeg -nostdin -v error -i '%s' -map 0:a:0 -ac 1 -f s16le - | wc -c", file);
        assert_int_equal(t_cmd(cmd, &out), 0);
        double dur = strtod(out, NULL) / 2 / sr;
        free(out);
        assert_true(dur > 1);
        /* One frame: an AAC frame at the output rate (44.1 or 48 kHz). */
        double frame = 1024.0 / (sr == 48000 ? 48000 : 44100);
        check_presentation(file, dir, false, dur, frame, cases[i].codecs);
        struct media_hls_result res;
        struct media_error err;
        char again[4096];
        snprintf(again, sizeof again, "%s-again", dir);
        assert_int_equal(mkdir(again, 0700), 0);
        assert_int_equal(media_hls_package(file, again, NULL, &res, &err), 0);
        assert_int_equal(res.audio_reencoded, cases[i].reencoded);
        free(dir);
    }
}

static void test_refusals(void **state)
{
    (void)state;
    static const struct {
        const char *file;
        bool corpus;
        const char *code;
    } cases[] = {
        {"media/valid/mediabunny-trim-buck-bunny-vp9-opus.webm", true, "unstreamable_video"},
        {"media/valid/mediabunny-frames-vp9-single-gop.webm", true, "unstreamable_video"},
        {"film.webm", false, "unstreamable_video"},
        {"media/invalid/mozilla-bogus.ogv", true, "media_unreadable"},
        {"media/invalid/sitkevij-chunk_out_of_range.mp4", true, "media_unreadable"},
        {"media/invalid/mozilla-r11025_u8_c1_trunc.wav", true, "truncated_file"},
        {"media/invalid/matroska-no_DocType.mkv", true, "invalid_container"},
        {"epub/valid/idpf-page-blanche.epub", true, "media_unreadable"},
        {"list.m3u8", false, "unsupported_format"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char file[4096], name[32];
        if (cases[i].corpus)
            snprintf(file, sizeof file, "%s", t_corpus(cases[i].file));
        else
            snprintf(file, sizeof file, "%s/%s", work, cases[i].file);
        snprintf(name, sizeof name, "refused-%zu", i);
        char *dir = fresh_dir(name);
        struct media_hls_result res;
        struct media_error err;
        assert_int_equal(media_hls_package(file, dir, NULL, &res, &err), -1);
        if (!err.code || strcmp(err.code, cases[i].code) != 0)
            fail_msg("%s: %s (%s), want %s", cases[i].file, err.code, err.message, cases[i].code);
        assert_int_equal(media_hls_remove_dir(dir), 0);
        struct stat st;
        assert_int_equal(stat(dir, &st), -1);
        free(dir);
    }
    /* A deadline that has passed stops the work. */
    char file[4096];
    snprintf(file, sizeof file, "%s/film.mp4", work);
    struct media_hls_result res;
    struct media_error err;
    struct media_hls_options o = {.deadline_s = 1e-9};
    assert_int_equal(media_hls_package_buffer("", 0, NULL, NULL, &res, &err), -1);
    assert_int_equal(media_hls_package(file, work, &o, &res, &err), -1);
    assert_string_equal(err.code, "probe_timeout");
    /* A cap on the output stops a file that would write too much. */
    char *dir = fresh_dir("capped");
    o = (struct media_hls_options){.max_output = 20000};
    assert_int_equal(media_hls_package(file, dir, &o, &res, &err), -1);
    assert_string_equal(err.code, "packaging_failed");
    media_hls_remove_dir(dir);
    free(dir);
}

static void test_buffer_writes_nothing(void **state)
{
    (void)state;
    char file[4096];
    snprintf(file, sizeof file, "%s/music.mp3", work);
    size_t len;
    char *data = t_slurp(file, &len);
    assert_non_null(data);
    int before = t_count_files(work);
    struct media_hls_result res;
    struct media_error err;
    assert_int_equal(media_hls_package_buffer(data, len, NULL, NULL, &res, &err), 0);
    assert_true(res.segments == 3 && res.bytes > 0);
    assert_int_equal(t_count_files(work), before);
    free(data);
}

static void test_names(void **state)
{
    (void)state;
    static const char *const good[] = {"master.m3u8", "index.m3u8", "init.mp4", "seg-00000.m4s",
                                       "seg-123456.m4s"};
    static const char *const bad[] = {"",
                                      "../master.m3u8",
                                      "seg-1.m4s",
                                      "seg-00000.m4s/x",
                                      "seg-00000.mp4",
                                      "seg-0000000.m4s",
                                      "Master.m3u8",
                                      "seg--0001.m4s",
                                      "init.mp4.tmp",
                                      "a/init.mp4"};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++)
        assert_true(media_hls_valid_name(good[i]));
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (media_hls_valid_name(bad[i]))
            fail_msg("%s accepted", bad[i]);
    assert_false(media_hls_valid_name(NULL));
}

int main(void)
{
    t_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_film_remuxed), cmocka_unit_test(test_film_odd_keyframes_mp3),
        cmocka_unit_test(test_corpus_film),  cmocka_unit_test(test_music),
        cmocka_unit_test(test_refusals),     cmocka_unit_test(test_buffer_writes_nothing),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
