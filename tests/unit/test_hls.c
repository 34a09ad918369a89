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
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

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
    /* Video segments cut at the first keyframe past 6 s: none shorter than 6 s but the
     * last. Audio, where every packet is a sync point: none longer than 6 s, none but the
     * last shorter by a frame or more. */
    int i = 0;
    for (const char *p = strstr(pl, "#EXTINF:"); p; p = strstr(p + 1, "#EXTINF:"), i++) {
        double d = strtod(p + 8, NULL);
        bool short_ = i + 1 < n && d < MEDIA_HLS_TARGET_S - (video ? 0.001 : frame);
        if (short_ || (!video && d > MEDIA_HLS_TARGET_S + 1e-6))
            fail_msg("%s: segment %d lasts %f", file, i, d);
    }
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
    /* The last segment ends with the stream that ends last: here the audio, by less than
     * a sample's rounding. */
    const char *second = strstr(pl, "#EXTINF:9.100000,\nseg-00000.m4s\n#EXTINF:");
    if (!second || fabs(strtod(second + strlen("#EXTINF:9.100000,\nseg-00000.m4s\n#EXTINF:"), NULL) -
                        3.9) > 0.001)
        fail_msg("%s", pl);
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
    assert_string_equal(err.code, "presentation_too_large");
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

/* Runs an ffmpeg command line in the work directory. */
static void make_media(const char *args)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "cd '%s' && ffmpeg -nostdin -v error -y %s", work, args);
    if (t_cmd(cmd, NULL) != 0)
        fail_msg("could not run: %s", cmd);
}

static void package_ok(const char *name, const struct media_hls_options *opt,
                       struct media_hls_result *res)
{
    char file[4096], dname[64];
    snprintf(file, sizeof file, "%s/%s", work, name);
    snprintf(dname, sizeof dname, "pkg-%s%s", name, opt && opt->audio_only ? "-a" : "");
    char *dir = fresh_dir(dname);
    struct media_error err;
    if (media_hls_package(file, dir, opt, res, &err) != 0)
        fail_msg("%s: %s %s", name, err.code, err.message);
    free(dir);
}

static void test_aac_raw_and_in_mp4(void **state)
{
    (void)state;
    make_media("-f lavfi -i sine=duration=17:sample_rate=44100 -c:a aac -f adts music.aac");
    make_media("-f lavfi -i sine=duration=17:sample_rate=44100 -c:a aac music.m4a");
    struct media_hls_result res;
    /* Raw ADTS has no AudioSpecificConfig for the init segment: re-encoded, not refused. */
    package_ok("music.aac", NULL, &res);
    assert_int_equal(res.kind, MEDIA_KIND_AUDIO);
    assert_true(res.audio_reencoded);
    assert_true(fabs(res.duration_s - 17) < 0.05);
    assert_int_equal(res.target_duration, 6);
    /* Copied AAC: every segment is at most the 6 s target, so the target is 6. */
    package_ok("music.m4a", NULL, &res);
    assert_false(res.audio_reencoded);
    if (res.max_segment_s > 6.0 + 1e-6 || res.target_duration != 6)
        fail_msg("longest segment %f s, target %d", res.max_segment_s, res.target_duration);
    assert_true(fabs(res.duration_s - 17) < 0.05);
}

static void test_cut_on_idr_only(void **state)
{
    (void)state;
    /* Open GOPs: an I picture every 2 s, flagged as a keyframe, but only the first is an
     * IDR. No segment may start on the others. */
    make_media("-f lavfi -i testsrc2=duration=20:size=320x240:rate=25 -c:v libx264 -preset "
               "veryfast -x264-params open-gop=1:keyint=50:min-keyint=50:scenecut=0 -bf 3 "
               "open-gop.mp4");
    struct media_hls_result res;
    package_ok("open-gop.mp4", NULL, &res);
    if (res.segments != 1 || fabs(res.duration_s - 20) > 0.05)
        fail_msg("%d segments over %f s: cut on a picture that is not an IDR", res.segments,
                 res.duration_s);
}

static void test_peak_not_from_a_sliver(void **state)
{
    (void)state;
    /* Segments of 6, 6 and 0.08 s: the last two frames, one an IDR, are no rate a player
     * must sustain; BANDWIDTH comes from the 6-second segments. */
    make_media("-f lavfi -i testsrc2=duration=12.08:size=320x240:rate=25 -c:v libx264 -preset "
               "veryfast -g 25 -bf 0 sliver.mp4");
    struct media_hls_result res;
    package_ok("sliver.mp4", NULL, &res);
    assert_int_equal(res.segments, 3);
    if ((double)res.bandwidth > 1.5 * (double)res.average_bandwidth)
        fail_msg("BANDWIDTH %lld for an average of %lld", (long long)res.bandwidth,
                 (long long)res.average_bandwidth);
}

static void test_stream_choice(void **state)
{
    (void)state;
    struct media_hls_result res;
    /* A film catalogued as music: its audio alone. */
    struct media_hls_options audio = {.audio_only = true};
    package_ok("film.mp4", &audio, &res);
    assert_int_equal(res.kind, MEDIA_KIND_AUDIO);
    assert_string_equal(res.codecs, "mp4a.40.2");
    /* Audio that outlasts the video: the presentation lasts as long as the audio. */
    make_media("-f lavfi -i testsrc2=duration=4:size=160x120:rate=25 -f lavfi -i "
               "sine=duration=10 -c:v libx264 -preset veryfast -g 25 -c:a aac long-audio.mp4");
    package_ok("long-audio.mp4", NULL, &res);
    if (fabs(res.duration_s - 10) > 0.05)
        fail_msg("duration %f s, want 10", res.duration_s);
    /* Two audio streams, the second the default one: libavformat's best stream is kept. */
    make_media("-f lavfi -i sine=duration=3 -f lavfi -i sine=duration=8 -map 0 -map 1 -c:a "
               "libvorbis -disposition:a:0 0 -disposition:a:1 default two-audio.mkv");
    package_ok("two-audio.mkv", NULL, &res);
    if (fabs(res.duration_s - 8) > 0.05)
        fail_msg("duration %f s: not the default stream", res.duration_s);
}

/* The start time of a file's first stream of type v or a, as ffprobe reads it. */
static double start_of(const char *file, char type)
{
    char args[128];
    snprintf(args, sizeof args, "-select_streams %c:0 -show_entries stream=start_time", type);
    return probe_number(args, file);
}

/* init.mp4 and the segments joined into one file (what a player plays) at work/name. */
static void join_presentation(const char *dir, const char *name, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s", work, name);
    char cmd[16384];
    snprintf(cmd, sizeof cmd, "cat '%s/init.mp4' '%s'/seg-*.m4s > '%s'", dir, dir, out);
    assert_int_equal(t_cmd(cmd, NULL), 0);
}

static void test_av_offset_kept(void **state)
{
    (void)state;
    /* Audio that begins 0.48 s after the video (a film cut from a longer one, a delayed
     * track), in Matroska: its AAC copied, and as Vorbis re-encoded. The presentation
     * keeps the offset between the two (an empty moov would start both at zero). */
    static const struct {
        const char *name, *codec;
        double tolerance; /* one frame of video; re-encoded: one AAC frame, the priming */
    } cases[] = {
        {"offset-aac.mkv", "aac", 0.04},
        {"offset-vorbis.mkv", "libvorbis", 1024.0 / 44100 + 0.005},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char args[1024];
        snprintf(args, sizeof args,
                 "-f lavfi -i testsrc2=duration=10:size=320x240:rate=25 -itsoffset 0.48 -f lavfi "
                 "-i sine=duration=10:sample_rate=44100 -map 0 -map 1 -c:v libx264 -preset "
                 "veryfast -g 25 -bf 2 -c:a %s %s",
                 cases[i].codec, cases[i].name);
        make_media(args);
        char file[4096];
        snprintf(file, sizeof file, "%s/%s", work, cases[i].name);
        double want = start_of(file, 'a') - start_of(file, 'v');
        assert_true(want > 0.4 && want < 0.5);
        struct media_hls_result res;
        package_ok(cases[i].name, NULL, &res);
        char dir[4096], joined[4096];
        snprintf(dir, sizeof dir, "%s/pkg-%s", work, cases[i].name);
        join_presentation(dir, "offset-joined.mp4", joined, sizeof joined);
        double got = start_of(joined, 'a') - start_of(joined, 'v');
        if (!(fabs(got - want) <= cases[i].tolerance))
            fail_msg("%s: audio starts %f s after the video, in the source %f s", cases[i].name,
                     got, want);
    }
}

static void test_edit_list_cut(void **state)
{
    (void)state;
    /* A film cut without re-encoding: `ffmpeg -ss 3 -c copy` keeps the video from the
     * keyframe before 3 s and the audio from a second before, and hides what precedes 3 s
     * with an edit list (packets libavformat flags AV_PKT_FLAG_DISCARD). The playlist lasts
     * what the cut file shows, 17 s, not the 20 s of what it holds. */
    make_media("-f lavfi -i testsrc2=duration=20:size=320x240:rate=25 -f lavfi -i "
               "sine=duration=20 -c:v libx264 -preset veryfast -g 100 -bf 2 -c:a aac uncut.mp4");
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "cd '%s' && ffmpeg -nostdin -v error -y -ss 3 -i uncut.mp4 -c copy cut.mp4",
             work);
    assert_int_equal(t_cmd(cmd, NULL), 0);
    char file[4096];
    snprintf(file, sizeof file, "%s/cut.mp4", work);
    double dur = probe_number("-show_entries format=duration", file);
    assert_true(fabs(dur - 17) < 0.05);
    struct media_hls_result res;
    package_ok("cut.mp4", NULL, &res);
    if (fabs(res.duration_s - dur) > 1.0 / 25)
        fail_msg("EXTINF sum %f s for a file of %f s", res.duration_s, dur);
    /* The presentation plays, from its playlist, as long as the cut file. */
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/pkg-cut.mp4", work);
    snprintf(cmd, sizeof cmd, "ffmpeg -nostdin -v error -i '%s/index.m3u8' -c copy -f null - 2>&1", dir);
    char *out = NULL;
    assert_int_equal(t_cmd(cmd, &out), 0);
    free(out);
}

static void test_audio_gap_kept(void **state)
{
    (void)state;
    /* Re-encoded audio whose timestamps jump 2 s ahead after 3 s (a recording joined from
     * parts): the encoder counts samples, so without silence in the gap everything after it
     * would come 2 s early (against the video, or the playlist's durations). */
    make_media("-f lavfi -i sine=duration=6:sample_rate=44100 -af "
               "\"asetpts='if(gte(T,3),PTS+2/TB,PTS)'\" -c:a pcm_s16le gap.mka");
    char file[4096];
    snprintf(file, sizeof file, "%s/gap.mka", work);
    double dur = probe_number("-show_entries format=duration", file);
    assert_true(fabs(dur - 8) < 0.05);
    struct media_hls_result res;
    package_ok("gap.mka", NULL, &res);
    assert_true(res.audio_reencoded);
    if (fabs(res.duration_s - dur) > 1024.0 / 44100)
        fail_msg("%f s of audio for a file of %f s", res.duration_s, dur);
    /* And the tone after the gap is where the source has it: silence at 4 s, sound at 6 s. */
    char dir[4096], joined[4096], cmd[16384], *out = NULL;
    snprintf(dir, sizeof dir, "%s/pkg-gap.mka", work);
    join_presentation(dir, "gap-joined.mp4", joined, sizeof joined);
    snprintf(cmd, sizeof cmd,
             "for t in 4 6; do ffmpeg -nostdin -v info -ss $t -t 0.5 -i '%s' -af volumedetect -f null - "
             "2>&1 | sed -n 's/.*max_volume: \\([-0-9.]*\\) dB/\\1/p'; done",
             joined);
    assert_int_equal(t_cmd(cmd, &out), 0);
    double quiet = NAN, loud = NAN;
    if (!out || sscanf(out, "%lf %lf", &quiet, &loud) != 2 || !(quiet < -60) || !(loud > -30))
        fail_msg("max volume at 4 s and 6 s: %s", out ? out : "(none)");
    free(out);
}

/* Writes text into dir/name. */
static void put_file(const char *dir, const char *name, const char *text)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

static void test_recovery(void **state)
{
    (void)state;
    /* A data directory as the catalogue keeps it: the source at files/SH/SHA.mp4, its
     * presentation at hls/SHA. */
    const char *sha = "ab34567890123456789012345678901234567890123456789012345678901234";
    char data[2048], cmd[16384], hls[4200], seg[4300];
    snprintf(data, sizeof data, "%s/recovery", work);
    snprintf(cmd, sizeof cmd, "mkdir -p '%s/files/ab' '%s/hls' '%s/tmp' && cp '%s/film.mp4' '%s/files/ab/%s.mp4'",
             data, data, data, work, data, sha);
    assert_int_equal(t_cmd(cmd, NULL), 0);
    snprintf(hls, sizeof hls, "%s/hls/%s", data, sha);
    assert_int_equal(mkdir(hls, 0700), 0);
    char src[4200];
    snprintf(src, sizeof src, "%s/files/ab/%s.mp4", data, sha);
    struct media_hls_result res;
    struct media_error err;
    assert_int_equal(media_hls_package(src, hls, NULL, &res, &err), 0);
    /* Packaged, not synced: no marker until media_hls_sync(). */
    assert_false(media_hls_synced(hls));
    snprintf(seg, sizeof seg, "%s/seg-00001.m4s", hls);
    struct stat st;
    assert_int_equal(stat(seg, &st), 0);
    off_t seg_size = st.st_size;

    /* Written during this boot: synced as it is. */
    struct media_hls_recovery rec;
    assert_int_equal(media_hls_recover(data, &rec), 0);
    assert_int_equal(rec.synced, 1);
    assert_int_equal(rec.rebuilt, 0);
    assert_true(media_hls_synced(hls));
    /* Synced ones are left alone. */
    assert_int_equal(media_hls_recover(data, &rec), 0);
    assert_int_equal(rec.synced + rec.rebuilt + rec.failed, 0);

    /* Written before a crash (another boot), a segment's tail lost: packaged again, the
     * segment whole again. */
    char marker[4300];
    snprintf(marker, sizeof marker, "%s/.synced", hls);
    assert_int_equal(unlink(marker), 0);
    put_file(hls, ".packaged", "boot=00000000-0000-0000-0000-000000000000\naudio_only=0\n");
    assert_int_equal(truncate(seg, seg_size / 2), 0);
    assert_int_equal(media_hls_recover(data, &rec), 0);
    assert_int_equal(rec.rebuilt, 1);
    assert_int_equal(rec.synced + rec.failed, 0);
    assert_true(media_hls_synced(hls));
    assert_int_equal(stat(seg, &st), 0);
    assert_int_equal(st.st_size, seg_size);
    /* No .packaged at all (lost in the crash too): packaged again as well. */
    assert_int_equal(unlink(marker), 0);
    snprintf(marker, sizeof marker, "%s/.packaged", hls);
    assert_int_equal(unlink(marker), 0);
    assert_int_equal(truncate(seg, 0), 0);
    assert_int_equal(media_hls_recover(data, &rec), 0);
    assert_int_equal(rec.rebuilt, 1);
    assert_int_equal(stat(seg, &st), 0);
    assert_int_equal(st.st_size, seg_size);
    /* The rebuild left nothing in tmp. */
    snprintf(cmd, sizeof cmd, "%s/tmp", data);
    assert_int_equal(t_count_files(cmd), 0);

    /* Leftovers of imports that died are removed; one a live import holds is not. */
    char dead[4300], live[4300];
    snprintf(dead, sizeof dead, "%s/tmp/hls-dead01", data);
    snprintf(live, sizeof live, "%s/tmp/hls-live01", data);
    assert_int_equal(mkdir(dead, 0700), 0);
    assert_int_equal(mkdir(live, 0700), 0);
    put_file(dead, "seg-00000.m4s", "half a segment");
    put_file(live, "seg-00000.m4s", "a segment being written");
    /* Made just now: maybe an import that has not locked it yet; kept. */
    assert_int_equal(media_hls_recover(data, &rec), 0);
    assert_int_equal(rec.swept, 0);
    assert_int_equal(stat(dead, &st), 0);
    /* Two minutes old. */
    struct timespec old[2] = {{.tv_sec = time(NULL) - 120}, {.tv_sec = time(NULL) - 120}};
    assert_int_equal(utimensat(AT_FDCWD, dead, old, 0), 0);
    assert_int_equal(utimensat(AT_FDCWD, live, old, 0), 0);
    int lock = open(live, O_RDONLY | O_DIRECTORY);
    assert_true(lock >= 0);
    assert_int_equal(flock(lock, LOCK_EX), 0);
    assert_int_equal(media_hls_recover(data, &rec), 0);
    assert_int_equal(rec.swept, 1);
    assert_int_equal(stat(dead, &st), -1);
    assert_int_equal(stat(live, &st), 0);
    close(lock);
    assert_int_equal(media_hls_recover(data, &rec), 0);
    assert_int_equal(rec.swept, 1);
    assert_int_equal(stat(live, &st), -1);
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
        cmocka_unit_test(test_names),        cmocka_unit_test(test_aac_raw_and_in_mp4),
        cmocka_unit_test(test_stream_choice), cmocka_unit_test(test_cut_on_idr_only),
        cmocka_unit_test(test_peak_not_from_a_sliver), cmocka_unit_test(test_av_offset_kept),
        cmocka_unit_test(test_edit_list_cut), cmocka_unit_test(test_recovery),
        cmocka_unit_test(test_audio_gap_kept),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
