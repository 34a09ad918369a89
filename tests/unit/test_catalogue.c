/*
 * The catalogue against a real PostgreSQL and real files: every corpus EPUB and media
 * file ingests with its publisher's metadata, every broken one is refused leaving
 * nothing behind, uploads stream over HTTP, and search finds what people type.
 */
#include <dirent.h>
#include <unistd.h>
#include <zip.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pretnum/catalogue.h"
#include "pretnum/db.h"
#include "pretnum/lending.h"
#include "pretnum/media.h"
#include "pretnum/server.h"
#include "testdb.h"

/* Files under dir, without the .synced marks a presentation gets in the background once
 * synced (include/pretnum/hls.h): whether one is there yet is a matter of timing. */
static int count_files(const char *dir)
{
    return t_count_files_but(dir, ".synced");
}

static struct {
    char *ci, *data;
    struct db *db;
    struct srv *srv;
    int port;
    char staff[64], patron[64];
} fx;

#define PW "catalogue pw"

static const char *sign_in(const char *body, char out[64])
{
    struct t_resp r;
    const char *hs[] = {"Content-Type: application/json", NULL};
    t_http(&r, fx.port, "POST", "/api/v1/session", body, hs);
    assert_int_equal(r.status, 201);
    snprintf(out, 64, "%s", json_string_value(json_object_get(r.json, "token")));
    t_resp_free(&r);
    return out;
}

static int setup(void **state)
{
    (void)state;
    if (sodium_init() < 0)
        return -1;
    media_init();
    fx.ci = t_db_create();
    fx.data = t_tmpdir("catalogue");
    char err[256], id[37], cons[37];
    fx.db = db_open(fx.ci, err, sizeof err);
    if (!fx.db)
        return -1;
    struct lend_err le = {0};
    if (lend_consortium_add(fx.db, "Cat", cons, &le) || lend_library_add(fx.db, cons, "CAT", "Cat library", id, &le) ||
        lend_patron_add(fx.db, "CAT", "1", NULL, NULL, PW, id, &le) ||
        lend_staff_add(fx.db, cons, NULL, "staff@cat.example", "consortium_admin", PW, id, &le))
        return -1;
    struct srv_config cfg = {.conninfo = fx.ci, .data_dir = fx.data, .threads = 2, .quiet = true,
                             .max_upload = 600 * 1024};
    if (srv_start(&cfg, &fx.srv, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    fx.port = srv_port(fx.srv);
    sign_in("{\"email\":\"staff@cat.example\",\"password\":\"" PW "\"}", fx.staff);
    sign_in("{\"library\":\"CAT\",\"card\":\"1\",\"password\":\"" PW "\"}", fx.patron);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    srv_stop(fx.srv, 1000);
    db_close(fx.db);
    t_db_drop(fx.ci);
    t_rmtree(fx.data);
    free(fx.data);
    return 0;
}

static void import_ok(const char *rel, const struct lend_import_opts *o, char id[37])
{
    bool existed = true;
    struct lend_err err = {0};
    enum lend_status st = lend_import(fx.db, fx.data, t_corpus(rel), o, id, &existed, &err);
    if (st != LEND_OK)
        fail_msg("%s: %s (%s)", rel, err.message, err.code);
    assert_false(existed);
}

static void expect(const char *id, const char *col, const char *want)
{
    char q[512];
    snprintf(q, sizeof q, "SELECT %s FROM title WHERE id = '%s'", col, id);
    char *v = t_sql_value(fx.ci, q);
    if (!v || strcmp(v, want) != 0)
        fail_msg("%s of %s: got \"%s\", want \"%s\"", col, id, v ? v : "(null)", want);
    free(v);
}

static void test_valid_epubs(void **state)
{
    (void)state;
    char id[37];
    import_ok("epub/valid/idpf-childrens-literature.epub", NULL, id);
    expect(id, "title", "Children's Literature");
    expect(id, "kind", "ebook");
    expect(id, "language", "en");
    expect(id, "creators->0->>'name'", "Charles Madison Curry");
    expect(id, "creators->1->>'name'", "Erle Elsworth Clippinger");
    expect(id, "published", "2008-05-20");
    expect(id, "subjects[1]", "Children -- Books and reading");
    expect(id, "cover_type", "image/png");
    expect(id, "details->>'toc_entries'", "31");
    expect(id, "media_type", "application/epub+zip");

    import_ok("epub/valid/idpf-page-blanche.epub", NULL, id);
    expect(id, "title", "Page Blanche");
    expect(id, "language", "fr");
    expect(id, "publisher", "éditions Delcourt");
    expect(id, "cover_type", "image/jpeg");
    expect(id, "details->>'layout'", "pre-paginated");

    import_ok("epub/valid/idpf-wasteland-otf-obf.epub", NULL, id);
    expect(id, "title", "The Waste Land");
    expect(id, "creator_names", "T.S. Eliot");
    expect(id, "language", "en-US");

    import_ok("epub/valid/readium-SmokeTest-EPUB2.epub", NULL, id);
    expect(id, "title", "SmokeTest - EPUB 2");
    expect(id, "details->>'version'", "2.0");
    expect(id, "creator_names", "Ric Wright");

    import_ok("epub/valid/epubcheck-epub2-ocf-minimal-valid.epub", NULL, id);
    expect(id, "title", "Minimal EPUB 2.0");
    import_ok("epub/valid/idpf-haruko-html-jpeg.epub", NULL, id);
    expect(id, "title", "ハルコさんの彼氏");
    expect(id, "details->>'page_progression'", "rtl");
    import_ok("epub/valid/readium-SmokeTestFXL.epub", NULL, id);
    expect(id, "publisher", "Readium");
    import_ok("epub/valid/w3c-css-epub-writing-mode.epub", NULL, id);
    expect(id, "publisher", "W3C");

    /* Each stored once, under its hash, with a cover where the book has one. */
    char *n = t_sql_value(fx.ci, "SELECT count(*) FROM title WHERE kind = 'ebook'");
    assert_string_equal(n, "8");
    free(n);
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/files", fx.data);
    assert_int_equal(count_files(dir), 8);
    snprintf(dir, sizeof dir, "%s/covers", fx.data);
    n = t_sql_value(fx.ci, "SELECT count(*) FROM title WHERE cover_path IS NOT NULL");
    long covers = strtol(n, NULL, 10);
    assert_int_equal(count_files(dir), covers);
    assert_true(covers >= 4);
    free(n);
}

static void test_valid_media(void **state)
{
    (void)state;
    static const struct {
        const char *file, *kind;
        double duration;
        const char *codec;
    } cases[] = {
        {"media/valid/h264-aac-publicdomain-sample.mp4", "video", 30.08, "h264"},
        {"media/valid/mewkiz-44127-8bit-mono-22254hz.flac", "audio", 4.3829, "flac"},
        {"media/valid/mozilla-48k-mono-vorbis.ogg", "audio", 10.734, "vorbis"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char id[37];
        import_ok(cases[i].file, NULL, id);
        expect(id, "kind", cases[i].kind);
        expect(id, "details->'streams'->0->>'codec'", cases[i].codec);
        char q[256];
        snprintf(q, sizeof q, "SELECT abs(duration_s - %f) < 0.01 FROM title WHERE id = '%s'", cases[i].duration, id);
        char *v = t_sql_value(fx.ci, q);
        assert_string_equal(v, "t");
        free(v);
    }
    /* The file name stands in for a missing title tag. */
    char *v = t_sql_value(fx.ci, "SELECT title FROM title WHERE media_type = 'audio/flac'");
    assert_string_equal(v, "mewkiz-44127-8bit-mono-22254hz");
    free(v);
}

static void test_duplicate_recognised(void **state)
{
    (void)state;
    char first[37], again[37];
    bool existed;
    struct lend_err err = {0};
    assert_int_equal(lend_import(fx.db, fx.data, t_corpus("media/valid/mozilla-48k-mono-vorbis.ogg"), NULL, again,
                                 &existed, &err), LEND_OK);
    assert_true(existed);
    char *v = t_sql_value(fx.ci, "SELECT id FROM title WHERE media_type = 'audio/ogg'");
    snprintf(first, sizeof first, "%s", v);
    free(v);
    assert_string_equal(first, again);
    v = t_sql_value(fx.ci, "SELECT count(*) FROM title WHERE media_type = 'audio/ogg'");
    assert_string_equal(v, "1");
    free(v);
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/tmp", fx.data);
    assert_int_equal(count_files(dir), 0);
    /* Its stream was packaged at the first import; lost, the same bytes package it again. */
    v = t_sql_value(fx.ci, "SELECT file_sha256 FROM title WHERE media_type = 'audio/ogg'");
    char master[4200], hls[4096];
    snprintf(hls, sizeof hls, "%s/hls/%s", fx.data, v);
    snprintf(master, sizeof master, "%s/master.m3u8", hls);
    free(v);
    assert_int_equal(access(master, F_OK), 0);
    int files = count_files(hls);
    assert_true(files >= 5); /* master, index, init and two segments */
    t_rmtree(hls);
    assert_int_not_equal(access(master, F_OK), 0);
    assert_int_equal(lend_import(fx.db, fx.data, t_corpus("media/valid/mozilla-48k-mono-vorbis.ogg"), NULL, again,
                                 &existed, &err), LEND_OK);
    assert_true(existed);
    assert_string_equal(first, again);
    assert_int_equal(access(master, F_OK), 0);
    assert_int_equal(count_files(hls), files);
    assert_int_equal(count_files(dir), 0);
}

/*
 * A presentation already at hls/SHA (another import of the same bytes serving it) is kept
 * as it is, never replaced or removed by this import; and a film catalogued as music
 * streams its audio alone.
 */
static void test_presentation_kept_film_as_music(void **state)
{
    (void)state;
    char *work = t_tmpdir("catalogue-film");
    char cmd[20000], *out = NULL, file[4200], file2[4200];
    snprintf(file, sizeof file, "%s/film.mp4", work);
    snprintf(file2, sizeof file2, "%s/film2.mp4", work);
    snprintf(cmd, sizeof cmd,
             "ffmpeg -nostdin -v error -y -f lavfi -i testsrc2=duration=3:size=160x120:rate=25 -f lavfi "
             "-i sine=duration=3 -c:v libx264 -preset veryfast -c:a aac '%s' && "
             "ffmpeg -nostdin -v error -y -f lavfi -i testsrc2=duration=4:size=160x120:rate=25 -f lavfi "
             "-i sine=duration=4 -c:v libx264 -preset veryfast -c:a aac '%s' && sha256sum '%s' | cut -c1-64",
             file, file2, file);
    assert_int_equal(t_cmd(cmd, &out), 0);
    char sha[65];
    snprintf(sha, sizeof sha, "%.64s", out);
    free(out);
    char hls[4200], master[4300];
    snprintf(hls, sizeof hls, "%s/hls/%s", fx.data, sha);
    snprintf(master, sizeof master, "%s/master.m3u8", hls);
    snprintf(cmd, sizeof cmd, "mkdir -p '%s' && printf '#EXTM3U\\n# served\\n' > '%s'", hls, master);
    assert_int_equal(t_cmd(cmd, NULL), 0);
    char id[37];
    bool existed;
    struct lend_err err = {0};
    struct lend_import_opts music = {.kind = "audio"};
    if (lend_import(fx.db, fx.data, file, &music, id, &existed, &err) != LEND_OK)
        fail_msg("%s: %s", err.code, err.message);
    assert_false(existed);
    size_t len;
    char *m = t_slurp(master, &len);
    assert_non_null(m);
    assert_string_equal(m, "#EXTM3U\n# served\n");
    free(m);
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s/tmp", fx.data);
    assert_int_equal(count_files(tmp), 0); /* this import's own packaging is gone */
    /* Catalogued as music: audio only, whatever else the file holds. */
    assert_int_equal(lend_import(fx.db, fx.data, file2, &music, id, &existed, &err), LEND_OK);
    snprintf(cmd, sizeof cmd, "cat '%s'/hls/$(sha256sum '%s' | cut -c1-64)/master.m3u8", fx.data, file2);
    assert_int_equal(t_cmd(cmd, &out), 0);
    if (!strstr(out, "CODECS=\"mp4a.40.2\"\n") || strstr(out, "RESOLUTION="))
        fail_msg("%s", out);
    free(out);
    t_rmtree(work);
    free(work);
}

static void test_invalid_files_leave_nothing(void **state)
{
    (void)state;
    static const struct {
        const char *file, *code;
    } cases[] = {
        {"epub/invalid/epubcheck-ocf-mimetype-file-missing-error.epub", "mimetype_missing"},
        {"epub/invalid/takahashim-epubsample025-mimetype-not-first.epub", "mimetype_not_first"},
        {"epub/invalid/epubcheck-ocf-zip-mimetype-entry-extra-field-error.epub", "mimetype_extra_field"},
        {"epub/invalid/epubcheck-ocf-container-file-missing-fatal.epub", "container_missing"},
        {"epub/invalid/epubcheck-epub2-opf-spine-missing-error.epub", "invalid_opf"},
        {"epub/invalid/epubcheck-ocf-url-leaking-in-opf-error.epub", "url_leaks_container"},
        {"epub/invalid/epubcheck-ocf-filename-duplicate-zip-entry-error.epub", "duplicate_entry"},
        {"epub/invalid/epubcheck-ocf-zip-unreadable-empty-fatal.epub", "empty_file"},
        {"epub/invalid/libzip-testfile-truncated.zip", "truncated_zip"},
        {"epub/invalid/libzip-incons-central-compsize-larger.zip", "corrupt_zip"},
        {"epub/invalid/libzip-incons-filename-nul-byte.zip", "unsafe_entry_name"},
        {"epub/invalid/libzip-encrypt.zip", "encrypted_entry"},
        {"epub/invalid/harimypala-zbsm-overlap-bomb.zip", "zip_bomb"},
        {"epub/invalid/snyk-zip-slip.zip", "unsafe_entry_name"},
        {"media/invalid/mozilla-bogus.ogv", "media_unreadable"},
        {"media/invalid/sitkevij-chunk_out_of_range.mp4", "media_unreadable"},
        {"media/invalid/mozilla-r11025_u8_c1_trunc.wav", "truncated_file"},
        {"media/invalid/matroska-no_DocType.mkv", "invalid_container"},
        /* Valid files, but VP9 is not played by every browser's HLS: refused at import, so
         * that no patron borrows a film that cannot play (see include/pretnum/hls.h). */
        {"media/valid/mediabunny-trim-buck-bunny-vp9-opus.webm", "unstreamable_video"},
        {"media/valid/mediabunny-frames-vp9-single-gop.webm", "unstreamable_video"},
    };
    char *before = t_sql_value(fx.ci, "SELECT count(*) FROM title");
    char files[4096];
    snprintf(files, sizeof files, "%s", fx.data);
    int nfiles = count_files(files);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char id[37];
        bool existed;
        struct lend_err err = {0};
        enum lend_status st = lend_import(fx.db, fx.data, t_corpus(cases[i].file), NULL, id, &existed, &err);
        if (st != LEND_UNACCEPTABLE || strcmp(err.code, cases[i].code) != 0)
            fail_msg("%s: status %d code %s (%s), want %s", cases[i].file, st, err.code, err.message, cases[i].code);
        /* The message names the file as given, never our temporary copy. */
        assert_null(strstr(err.message, "/tmp/import-"));
    }
    char *after = t_sql_value(fx.ci, "SELECT count(*) FROM title");
    assert_string_equal(before, after);
    assert_int_equal(count_files(files), nfiles);
    free(before);
    free(after);
    /* A film that is not a film. */
    char id[37];
    bool existed;
    struct lend_err err = {0};
    struct lend_import_opts o = {.kind = "video"};
    assert_int_equal(lend_import(fx.db, fx.data, t_corpus("media/valid/mozilla-48k-mono-vorbis.ogg"), &o, id,
                                 &existed, &err), LEND_UNACCEPTABLE);
    assert_string_equal(err.code, "kind_mismatch");
    o.kind = "novel";
    assert_int_equal(lend_import(fx.db, fx.data, t_corpus("media/valid/mozilla-48k-mono-vorbis.ogg"), &o, id,
                                 &existed, &err), LEND_INVALID);
    assert_int_equal(lend_import(fx.db, fx.data, "/nonexistent/file.epub", NULL, id, &existed, &err), LEND_INVALID);
    assert_int_equal(count_files(files), nfiles);
}

/* ---- search, covers, uploads ---- */

/* Writes a small valid EPUB 3 with the given metadata (libzip, mimetype first and stored). */
static void make_epub(const char *path, const char *title, const char *author, const char *lang,
                      const char *subject, const char *description)
{
    int ze;
    zip_t *z = zip_open(path, ZIP_CREATE | ZIP_TRUNCATE, &ze);
    assert_non_null(z);
    static const char mimetype[] = "application/epub+zip";
    static const char container[] =
        "<?xml version=\"1.0\"?><container version=\"1.0\" xmlns=\"urn:oasis:names:tc:opendocument:xmlns:container\">"
        "<rootfiles><rootfile full-path=\"OEBPS/content.opf\" media-type=\"application/oebps-package+xml\"/>"
        "</rootfiles></container>";
    char *opf;
    assert_true(asprintf(&opf,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
        "<package xmlns=\"http://www.idpf.org/2007/opf\" version=\"3.0\" unique-identifier=\"uid\">"
        "<metadata xmlns:dc=\"http://purl.org/dc/elements/1.1/\">"
        "<dc:identifier id=\"uid\">urn:uuid:%s</dc:identifier><dc:title>%s</dc:title>"
        "<dc:creator id=\"c1\">%s</dc:creator><meta refines=\"#c1\" property=\"role\" scheme=\"marc:relators\">aut</meta>"
        "<dc:language>%s</dc:language><dc:subject>%s</dc:subject><dc:description>%s</dc:description>"
        "<meta property=\"dcterms:modified\">2026-01-01T00:00:00Z</meta>"
        "<meta property=\"schema:accessMode\">textual</meta>"
        "<meta property=\"schema:accessibilityFeature\">tableOfContents</meta>"
        "<meta property=\"schema:accessibilityHazard\">none</meta>"
        "<meta property=\"schema:accessibilitySummary\">Texte structuré, sans images.</meta>"
        "</metadata><manifest>"
        "<item id=\"nav\" href=\"nav.xhtml\" media-type=\"application/xhtml+xml\" properties=\"nav\"/>"
        "<item id=\"c1\" href=\"ch1.xhtml\" media-type=\"application/xhtml+xml\"/>"
        "</manifest><spine><itemref idref=\"c1\"/></spine></package>",
        title, title, author, lang, subject, description) > 0);
    static const char nav[] =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><html xmlns=\"http://www.w3.org/1999/xhtml\" "
        "xmlns:epub=\"http://www.idpf.org/2007/ops\"><head><title>toc</title></head><body>"
        "<nav epub:type=\"toc\"><ol><li><a href=\"ch1.xhtml\">One</a></li></ol></nav></body></html>";
    static const char ch1[] =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><html xmlns=\"http://www.w3.org/1999/xhtml\"><head>"
        "<title>One</title></head><body><p>Text.</p></body></html>";
    const char *names[] = {"mimetype", "META-INF/container.xml", "OEBPS/content.opf", "OEBPS/nav.xhtml", "OEBPS/ch1.xhtml"};
    const char *data[] = {mimetype, container, opf, nav, ch1};
    for (int i = 0; i < 5; i++) {
        zip_source_t *src = zip_source_buffer(z, data[i], strlen(data[i]), 0);
        zip_int64_t idx = zip_file_add(z, names[i], src, ZIP_FL_ENC_UTF_8);
        assert_true(idx >= 0);
        if (i == 0)
            zip_set_file_compression(z, (zip_uint64_t)idx, ZIP_CM_STORE, 0);
    }
    assert_int_equal(zip_close(z), 0);
    free(opf);
}

static void add_book(const char *title, const char *author, const char *lang, const char *subject,
                     const char *description, char id[37])
{
    char path[4096];
    snprintf(path, sizeof path, "%s/book.epub", fx.data);
    make_epub(path, title, author, lang, subject, description);
    bool existed;
    struct lend_err err = {0};
    if (lend_import(fx.db, fx.data, path, NULL, id, &existed, &err) != LEND_OK)
        fail_msg("%s: %s", title, err.message);
    unlink(path);
}

static json_t *search(const char *query)
{
    struct t_resp r;
    assert_int_equal(t_http(&r, fx.port, "GET", query, NULL, NULL), 200);
    json_t *j = json_incref(r.json);
    t_resp_free(&r);
    return j;
}

static const char *first_title(json_t *res)
{
    return json_string_value(json_object_get(json_array_get(json_object_get(res, "items"), 0), "title"));
}

static bool has_title(json_t *res, const char *title)
{
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(res, "items"), i, t) {
        if (!strcmp(json_string_value(json_object_get(t, "title")), title))
            return true;
    }
    return false;
}

static void test_search(void **state)
{
    (void)state;
    char id[37], mis[37];
    add_book("Les Misérables", "Victor Hugo", "fr", "Roman historique", "Jean Valjean, ancien forçat.", mis);
    add_book("Notre-Dame de Paris", "Victor Hugo", "fr", "Roman", "La cathédrale et Quasimodo.", id);
    add_book("The Hunchback of Notre Dame", "Victor Hugo", "en", "Novels", "Quasimodo loves Esmeralda.", id);
    add_book("Hugging Trees", "Anna Smith", "en", "Forests", "Stories of the forest.", id);
    add_book("Le Petit Prince", "Antoine de Saint-Exupéry", "fr", "Conte", "Un aviateur dans le désert.", id);
    add_book("Chevaux de trait", "Marie Dubois", "fr", "Agriculture", "Des misérables bêtes de somme ?", id);

    json_t *r = search("/api/v1/titles?q=miserables");
    assert_string_equal(json_string_value(json_object_get(r, "match")), "text");
    /* The title outranks a word of a description. */
    assert_string_equal(first_title(r), "Les Misérables");
    assert_int_equal(json_integer_value(json_object_get(r, "total")), 2);
    json_decref(r);
    r = search("/api/v1/titles?q=Mis%C3%A9rables");
    assert_string_equal(first_title(r), "Les Misérables");
    json_decref(r);
    r = search("/api/v1/titles?q=hugo");
    assert_int_equal(json_integer_value(json_object_get(r, "total")), 3);
    assert_true(has_title(r, "Les Misérables") && has_title(r, "Notre-Dame de Paris"));
    assert_false(has_title(r, "Hugging Trees"));
    json_decref(r);
    /* French stems: "cheval" finds "Chevaux". */
    r = search("/api/v1/titles?q=cheval");
    assert_true(has_title(r, "Chevaux de trait"));
    json_decref(r);
    /* A one-letter typo, and a prefix, fall back to similarity. */
    r = search("/api/v1/titles?q=miserbles");
    assert_string_equal(json_string_value(json_object_get(r, "match")), "similar");
    assert_string_equal(first_title(r), "Les Misérables");
    json_decref(r);
    r = search("/api/v1/titles?q=petit%20pri");
    assert_string_equal(json_string_value(json_object_get(r, "match")), "prefix");
    assert_string_equal(first_title(r), "Le Petit Prince");
    assert_false(json_is_true(json_object_get(r, "total_capped")));
    json_decref(r);
    r = search("/api/v1/titles?q=exupery");
    assert_string_equal(first_title(r), "Le Petit Prince");
    json_decref(r);
    /* Filters. */
    r = search("/api/v1/titles?q=hugo&language=en");
    assert_int_equal(json_integer_value(json_object_get(r, "total")), 1);
    assert_string_equal(first_title(r), "The Hunchback of Notre Dame");
    json_decref(r);
    r = search("/api/v1/titles?kind=audio");
    assert_int_equal(json_integer_value(json_object_get(r, "total")), 2);
    json_decref(r);
    r = search("/api/v1/titles?q=zzzzqqqq");
    assert_int_equal(json_integer_value(json_object_get(r, "total")), 0);
    assert_int_equal(json_array_size(json_object_get(r, "items")), 0);
    json_decref(r);
    struct t_resp bad;
    assert_int_equal(t_http(&bad, fx.port, "GET", "/api/v1/titles?kind=book", NULL, NULL), 400);
    t_resp_free(&bad);
    assert_int_equal(t_http(&bad, fx.port, "GET", "/api/v1/titles?per_page=101", NULL, NULL), 400);
    t_resp_free(&bad);

    /* Stable pagination: pages of 3 cover every title exactly once. */
    json_t *all = search("/api/v1/titles?per_page=100");
    long long total = json_integer_value(json_object_get(all, "total"));
    assert_int_equal(json_array_size(json_object_get(all, "items")), (size_t)total);
    json_t *seen = json_object();
    for (int page = 1; page <= (total + 2) / 3 + 1; page++) {
        char q[128];
        snprintf(q, sizeof q, "/api/v1/titles?per_page=3&page=%d", page);
        json_t *p = search(q);
        assert_int_equal(json_integer_value(json_object_get(p, "total")), total);
        size_t i;
        json_t *t;
        json_array_foreach(json_object_get(p, "items"), i, t) {
            const char *tid = json_string_value(json_object_get(t, "id"));
            assert_null(json_object_get(seen, tid));
            json_object_set_new(seen, tid, json_true());
        }
        json_decref(p);
    }
    assert_int_equal(json_object_size(seen), (size_t)total);
    json_decref(seen);
    json_decref(all);

    /* A word in thousands of titles: at most 1000 are ranked, and the answer says so. */
    t_sql(fx.ci, "INSERT INTO title (kind, title, file_sha256, file_path, file_size, media_type)"
                 " SELECT 'ebook', 'Amour numéro ' || i, md5(i::text) || md5((i + 1)::text), 'x', 1,"
                 "        'application/epub+zip' FROM generate_series(1, 2100) i");
    r = search("/api/v1/titles?q=amour&per_page=100&page=10");
    assert_int_equal(json_integer_value(json_object_get(r, "total")), 1000);
    assert_true(json_is_true(json_object_get(r, "total_capped")));
    assert_int_equal(json_array_size(json_object_get(r, "items")), 100);
    json_decref(r);
    t_sql(fx.ci, "DELETE FROM title WHERE title LIKE 'Amour numéro %'");

    /* One title, with its accessibility metadata. */
    char path[128];
    snprintf(path, sizeof path, "/api/v1/titles/%s", mis);
    r = search(path);
    assert_string_equal(json_string_value(json_object_get(r, "language")), "fr");
    assert_string_equal(json_string_value(json_array_get(json_object_get(r, "authors"), 0)), "Victor Hugo");
    assert_string_equal(json_string_value(json_array_get(json_object_get(r, "accessibility"), 0)), "tableOfContents");
    assert_string_equal(json_string_value(json_object_get(r, "accessibility_summary")), "Texte structuré, sans images.");
    assert_true(json_is_null(json_object_get(r, "cover")));
    json_decref(r);
    assert_int_equal(t_http(&bad, fx.port, "GET", "/api/v1/titles/00000000-0000-0000-0000-000000000000", NULL, NULL), 404);
    assert_string_equal(t_err_code(&bad), "unknown_title");
    t_resp_free(&bad);
    assert_int_equal(t_http(&bad, fx.port, "GET", "/api/v1/titles/nope", NULL, NULL), 404);
    t_resp_free(&bad);
}

static void test_cover(void **state)
{
    (void)state;
    char *id = t_sql_value(fx.ci, "SELECT id FROM title WHERE title = 'Children''s Literature'");
    char path[128];
    snprintf(path, sizeof path, "/api/v1/titles/%s", id);
    json_t *t = search(path);
    const char *cover = json_string_value(json_object_get(t, "cover"));
    assert_non_null(cover);
    struct t_resp r;
    assert_int_equal(t_http(&r, fx.port, "GET", cover, NULL, NULL), 200);
    assert_string_equal(t_resp_header(&r, "Content-Type"), "image/png");
    assert_true(r.len > 8 && !memcmp(r.body, "\x89PNG\r\n\x1a\n", 8));
    assert_non_null(strstr(t_resp_header(&r, "Cache-Control"), "public"));
    t_resp_free(&r);
    json_decref(t);
    free(id);
    id = t_sql_value(fx.ci, "SELECT id FROM title WHERE cover_path IS NULL LIMIT 1");
    snprintf(path, sizeof path, "/api/v1/titles/%s/cover", id);
    assert_int_equal(t_http(&r, fx.port, "GET", path, NULL, NULL), 404);
    t_resp_free(&r);
    free(id);
}

/* Thumbnails: made once as WebP at one of the portal's widths, kept, sent again with
 * a validator; other widths refused; a cover that cannot be made smaller sent as it is. */
static void test_cover_thumbnails(void **state)
{
    (void)state;
    char *id = t_sql_value(fx.ci, "SELECT id FROM title WHERE title = 'Children''s Literature'");
    char *cover_rel = t_sql_value(fx.ci, "SELECT cover_path FROM title WHERE title = 'Children''s Literature'");
    char path[160], file[4096];
    snprintf(path, sizeof path, "/api/v1/titles/%s/cover", id);
    struct t_resp whole, r;
    assert_int_equal(t_http(&whole, fx.port, "GET", path, NULL, NULL), 200);
    snprintf(path, sizeof path, "/api/v1/titles/%s/cover?w=160", id);
    assert_int_equal(t_http(&r, fx.port, "GET", path, NULL, NULL), 200);
    assert_string_equal(t_resp_header(&r, "Content-Type"), "image/webp");
    assert_true(r.len > 12 && !memcmp(r.body, "RIFF", 4) && !memcmp((char *)r.body + 8, "WEBP", 4));
    assert_true(r.len * 2 < whole.len);
    assert_non_null(strstr(t_resp_header(&r, "Cache-Control"), "public"));
    printf("# cover %zu bytes, thumbnail at 160: %zu bytes\n", whole.len, r.len);
    /* Kept beside the covers, under the cover's own name. */
    const char *base = strrchr(cover_rel, '/') + 1;
    snprintf(file, sizeof file, "%s/covers/thumbs/%.*s-160.webp", fx.data, (int)strcspn(base, "."), base);
    size_t kept_len;
    char *kept = t_slurp(file, &kept_len);
    assert_non_null(kept);
    assert_int_equal(kept_len, r.len);
    assert_memory_equal(kept, r.body, r.len);
    free(kept);
    char inm[600];
    snprintf(inm, sizeof inm, "If-None-Match: %s", t_resp_header(&r, "ETag"));
    char whole_etag[600];
    snprintf(whole_etag, sizeof whole_etag, "%s", t_resp_header(&whole, "ETag"));
    assert_string_not_equal(t_resp_header(&r, "ETag"), whole_etag);
    t_resp_free(&r);
    const char *cond[] = {inm, NULL};
    assert_int_equal(t_http(&r, fx.port, "GET", path, NULL, cond), 304);
    t_resp_free(&r);
    /* A larger width gives a larger picture; an unlisted width is refused. */
    snprintf(path, sizeof path, "/api/v1/titles/%s/cover?w=480", id);
    assert_int_equal(t_http(&r, fx.port, "GET", path, NULL, NULL), 200);
    assert_string_equal(t_resp_header(&r, "Content-Type"), "image/webp");
    t_resp_free(&r);
    static const char *const bad[] = {"161", "0", "-160", "1e3", "160x", "99999999999999999999", ""};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        snprintf(path, sizeof path, "/api/v1/titles/%s/cover?w=%s", id, bad[i]);
        assert_int_equal(t_http(&r, fx.port, "GET", path, NULL, NULL), 400);
        assert_string_equal(t_err_code(&r), "bad_width");
        t_resp_free(&r);
    }
    /* A cover libavcodec cannot read is sent as it is, and that is remembered (the
     * cover is put back afterwards: later tests use it). */
    snprintf(file, sizeof file, "%s/%s", fx.data, cover_rel);
    size_t orig_len;
    char *orig = t_slurp(file, &orig_len);
    assert_non_null(orig);
    FILE *f = fopen(file, "r+b");
    assert_non_null(f);
    assert_int_equal(fseek(f, 16, SEEK_SET), 0);
    for (int i = 0; i < 64; i++)
        fputc(0xff, f);
    fclose(f);
    snprintf(path, sizeof path, "/api/v1/titles/%s/cover?w=320", id);
    assert_int_equal(t_http(&r, fx.port, "GET", path, NULL, NULL), 200);
    assert_string_equal(t_resp_header(&r, "Content-Type"), "image/png");
    t_resp_free(&r);
    snprintf(file, sizeof file, "%s/covers/thumbs/%.*s-320.orig", fx.data, (int)strcspn(base, "."), base);
    assert_int_equal(access(file, F_OK), 0);
    snprintf(file, sizeof file, "%s/%s", fx.data, cover_rel);
    f = fopen(file, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(orig, 1, orig_len, f), orig_len);
    fclose(f);
    free(orig);
    t_resp_free(&whole);
    free(cover_rel);
    free(id);
}

static void test_upload(void **state)
{
    (void)state;
    char auth[128], pauth[128];
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", fx.staff);
    snprintf(pauth, sizeof pauth, "Authorization: Bearer %s", fx.patron);
    const char *staff[] = {auth, NULL}, *patron[] = {pauth, NULL};
    char book[4096], tmpdir[4096];
    snprintf(book, sizeof book, "%s/upload-src.epub", fx.data);
    snprintf(tmpdir, sizeof tmpdir, "%s/tmp", fx.data);
    make_epub(book, "Madame Bovary", "Gustave Flaubert", "fr", "Roman", "Emma rêve.");
    const char *fields[] = {"language", "fr-FR", "publisher", "Michel Lévy", NULL};
    struct t_resp r;

    assert_int_equal(t_upload(&r, fx.port, "/api/v1/admin/titles", book, NULL, NULL), 401);
    t_resp_free(&r);
    assert_int_equal(t_upload(&r, fx.port, "/api/v1/admin/titles", book, NULL, patron), 403);
    t_resp_free(&r);
    assert_int_equal(t_upload(&r, fx.port, "/api/v1/admin/titles", book, fields, staff), 201);
    assert_string_equal(json_string_value(json_object_get(r.json, "title")), "Madame Bovary");
    assert_string_equal(json_string_value(json_object_get(r.json, "language")), "fr-FR");
    assert_string_equal(json_string_value(json_object_get(r.json, "publisher")), "Michel Lévy");
    assert_non_null(strstr(t_resp_header(&r, "Location"), "/api/v1/titles/"));
    t_resp_free(&r);
    /* Again: recognised, not duplicated. */
    assert_int_equal(t_upload(&r, fx.port, "/api/v1/admin/titles", book, NULL, staff), 200);
    t_resp_free(&r);
    char *n = t_sql_value(fx.ci, "SELECT count(*) FROM title WHERE title = 'Madame Bovary'");
    assert_string_equal(n, "1");
    free(n);

    /* Refusals: a broken EPUB (422), too large (413), no file (400), not multipart (415). */
    char *before = t_sql_value(fx.ci, "SELECT count(*) FROM title");
    assert_int_equal(t_upload(&r, fx.port, "/api/v1/admin/titles",
                              t_corpus("epub/invalid/snyk-zip-slip.zip"), NULL, staff), 422);
    assert_string_equal(t_err_code(&r), "unsafe_entry_name");
    t_resp_free(&r);
    assert_int_equal(t_upload(&r, fx.port, "/api/v1/admin/titles",
                              t_corpus("media/valid/h264-aac-publicdomain-sample.mp4"), NULL, staff), 413);
    assert_string_equal(t_err_code(&r), "too_large");
    t_resp_free(&r);
    assert_int_equal(t_upload(&r, fx.port, "/api/v1/admin/titles", NULL, fields, staff), 400);
    assert_string_equal(t_err_code(&r), "missing_file");
    t_resp_free(&r);
    const char *json[] = {auth, "Content-Type: application/json", NULL};
    assert_int_equal(t_http(&r, fx.port, "POST", "/api/v1/admin/titles", "{}", json), 415);
    t_resp_free(&r);
    char *after = t_sql_value(fx.ci, "SELECT count(*) FROM title");
    assert_string_equal(before, after);
    free(before);
    free(after);
    assert_int_equal(count_files(tmpdir), 0);
    unlink(book);
}

int main(void)
{
    t_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_epubs),
        cmocka_unit_test(test_valid_media),
        cmocka_unit_test(test_duplicate_recognised),
        cmocka_unit_test(test_invalid_files_leave_nothing),
        cmocka_unit_test(test_search),
        cmocka_unit_test(test_cover),
        cmocka_unit_test(test_cover_thumbnails),
        cmocka_unit_test(test_upload),
        cmocka_unit_test(test_presentation_kept_film_as_music), /* adds two audio titles */
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
