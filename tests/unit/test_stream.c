/*
 * Streaming a borrowed film or album over HTTP: the loan's links.stream opens the master
 * playlist with no header or cookie, every URI resolved from the playlists works with the
 * token it carries, media types, ranges and cache headers are right, the ffmpeg command
 * line plays the stream as a client, each start is a usage event, and bad, foreign or
 * returned tokens are refused.
 */
#include <fcntl.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "pretnum/catalogue.h"
#include "pretnum/db.h"
#include "pretnum/media.h"
#include "pretnum/server.h"
#include "testdb.h"

static struct {
    char *ci, *data, *work;
    struct db *db;
    struct srv *srv;
    int port;
    char tok[44], tok2[44];
    char film[37], music[37], book[37];
} fx;

static int import(const char *file, char id[37])
{
    bool existed;
    struct lend_err le = {0};
    if (lend_import(fx.db, fx.data, file, NULL, id, &existed, &le) != LEND_OK) {
        fprintf(stderr, "%s: %s\n", file, le.message);
        return -1;
    }
    return 0;
}

static int setup(void **state)
{
    (void)state;
    if (sodium_init() < 0)
        return -1;
    media_init();
    fx.ci = t_db_create();
    fx.data = t_tmpdir("stream");
    fx.work = t_tmpdir("stream-src");
    char err[256], cmd[2048];
    fx.db = db_open(fx.ci, err, sizeof err);
    if (!fx.db)
        return -1;
    snprintf(
        cmd, sizeof cmd,
        "ffmpeg -nostdin -v error -y -f lavfi -i testsrc2=duration=20:size=640x360:rate=25 -f "
        "lavfi -i "
        "sine=duration=20 -c:v libx264 -preset veryfast -g 48 -c:a aac -shortest '%s/film.mp4'",
        fx.work);
    if (t_cmd(cmd, NULL) != 0)
        return -1;
    char film[4096];
    snprintf(film, sizeof film, "%s/film.mp4", fx.work);
    if (import(film, fx.film) != 0 ||
        import(t_corpus("media/valid/mozilla-48k-mono-vorbis.ogg"), fx.music) != 0 ||
        import(t_corpus("epub/valid/idpf-page-blanche.epub"), fx.book) != 0)
        return -1;
    t_sql(fx.ci,
          "INSERT INTO consortium (id, name) VALUES ('aaaaaaaa-0000-0000-0000-000000000000', 'A');"
          "INSERT INTO library (id, consortium_id, code, name, max_loans) VALUES"
          " ('11111111-0000-0000-0000-000000000000', 'aaaaaaaa-0000-0000-0000-000000000000', 'L1', "
          "'One', 20);"
          "INSERT INTO patron (library_id, card, password_hash) VALUES"
          " ('11111111-0000-0000-0000-000000000000', 'c', 'x'),"
          " ('11111111-0000-0000-0000-000000000000', 'd', 'x');"
          "INSERT INTO licence (title_id, consortium_id, concurrency)"
          " SELECT id, 'aaaaaaaa-0000-0000-0000-000000000000', 5 FROM title");
    char *id = t_sql_value(fx.ci, "SELECT id FROM patron WHERE card = 'c'");
    t_session(fx.ci, id, NULL, fx.tok);
    free(id);
    id = t_sql_value(fx.ci, "SELECT id FROM patron WHERE card = 'd'");
    t_session(fx.ci, id, NULL, fx.tok2);
    free(id);
    struct srv_config cfg = {.conninfo = fx.ci,
                             .data_dir = fx.data,
                             .threads = 2,
                             .quiet = true,
                             .sweep_interval_s = -1};
    if (srv_start(&cfg, &fx.srv, err, sizeof err) != 0)
        return -1;
    fx.port = srv_port(fx.srv);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    srv_stop(fx.srv, 1000);
    db_close(fx.db);
    t_db_drop(fx.ci);
    t_rmtree(fx.data);
    t_rmtree(fx.work);
    free(fx.data);
    free(fx.work);
    return 0;
}

static long call(struct t_resp *r, const char *tok, const char *method, const char *path,
                 const char *body)
{
    char auth[100];
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", tok);
    const char *hs[] = {auth, "Content-Type: application/json", NULL};
    return t_http(r, fx.port, method, path, body, hs);
}

/* Borrows a title for the first patron; returns links.stream (malloc'd) and the loan id. */
static char *borrow(const char *title, char loan[64])
{
    struct t_resp r;
    char body[128];
    snprintf(body, sizeof body, "{\"title_id\":\"%s\"}", title);
    assert_int_equal(call(&r, fx.tok, "POST", "/api/v1/loans", body), 201);
    json_t *l = json_object_get(r.json, "loan");
    snprintf(loan, 64, "%s", json_string_value(json_object_get(l, "id")));
    const char *link = json_string_value(json_object_get(json_object_get(l, "links"), "stream"));
    assert_non_null(link);
    assert_null(json_object_get(json_object_get(l, "links"), "read"));
    char *copy = strdup(link);
    t_resp_free(&r);
    return copy;
}

/* The URL a player resolves for uri, relative to the playlist at base. */
static char *resolve(const char *base, const char *uri)
{
    const char *slash = strrchr(base, '/');
    assert_non_null(slash);
    char *out = NULL;
    assert_true(asprintf(&out, "%.*s%s", (int)(slash - base) + 1, base, uri) > 0);
    return out;
}

static long stream_starts(const char *loan)
{
    char q[256];
    snprintf(q, sizeof q,
             "SELECT count(*) FROM usage_event WHERE type = 'stream_start' AND loan_id = '%s'",
             loan);
    char *v = t_sql_value(fx.ci, q);
    long n = strtol(v, NULL, 10);
    free(v);
    return n;
}

/* Walks a presentation as a player does; returns the number of media segments. */
static int walk(const char *master_url, const char *seg_type)
{
    struct t_resp r;
    assert_int_equal(t_http(&r, fx.port, "GET", master_url, NULL, NULL),
                     200); /* no header, no cookie */
    assert_string_equal(t_resp_header(&r, "Content-Type"), "application/vnd.apple.mpegurl");
    assert_non_null(strstr(t_resp_header(&r, "Cache-Control"), "no-store"));
    assert_non_null(strstr(t_resp_header(&r, "Cache-Control"), "private"));
    assert_non_null(strstr(r.body, "#EXT-X-STREAM-INF:BANDWIDTH="));
    char *variant = strdup(strstr(r.body, "\nindex.m3u8") ? "index.m3u8" : "?");
    t_resp_free(&r);
    char *index = resolve(master_url, variant);
    free(variant);
    assert_int_equal(t_http(&r, fx.port, "GET", index, NULL, NULL), 200);
    assert_string_equal(t_resp_header(&r, "Content-Type"), "application/vnd.apple.mpegurl");
    assert_non_null(strstr(t_resp_header(&r, "Cache-Control"), "no-store"));
    char *pl = strdup(r.body);
    t_resp_free(&r);
    int segs = 0;
    for (char *line = strtok(pl, "\n"); line; line = strtok(NULL, "\n")) {
        const char *uri = NULL;
        if (!strncmp(line, "#EXT-X-MAP:URI=\"", 16)) {
            uri = line + 16;
            *strchr(line + 16, '"') = 0;
        } else if (line[0] != '#') {
            uri = line;
            segs++;
        }
        if (!uri)
            continue;
        char *url = resolve(index, uri);
        assert_int_equal(t_http(&r, fx.port, "GET", url, NULL, NULL), 200);
        assert_string_equal(t_resp_header(&r, "Content-Type"), seg_type);
        assert_string_equal(t_resp_header(&r, "Cache-Control"),
                            "public, max-age=31536000, immutable");
        assert_string_equal(t_resp_header(&r, "Accept-Ranges"), "bytes");
        assert_true(r.len > 0);
        t_resp_free(&r);
        free(url);
    }
    free(pl);
    free(index);
    return segs;
}

static void test_borrow_and_play(void **state)
{
    (void)state;
    char loan[64];
    char *film = borrow(fx.film, loan);
    assert_int_equal(strncmp(film, "/stream/", 8), 0);
    assert_int_equal(strcmp(film + strlen(film) - 12, "/master.m3u8"), 0);
    assert_int_equal(stream_starts(loan), 0);
    assert_true(walk(film, "video/mp4") >= 3);
    assert_int_equal(stream_starts(loan), 1); /* the master playlist is the start */
    assert_true(walk(film, "video/mp4") >= 3);
    assert_int_equal(stream_starts(loan), 2);
    struct t_resp head;
    assert_int_equal(t_http(&head, fx.port, "HEAD", film, NULL, NULL), 200);
    t_resp_free(&head);
    assert_int_equal(stream_starts(loan), 2); /* a HEAD starts nothing */
    char mloan[64];
    char *music = borrow(fx.music, mloan);
    assert_int_equal(walk(music, "audio/mp4"), 2);
    assert_int_equal(stream_starts(mloan), 1);
    /* The usage report counts the starts. */
    t_sql(fx.ci, "INSERT INTO staff (consortium_id, email, password_hash, role) VALUES"
                 " ('aaaaaaaa-0000-0000-0000-000000000000', 'a@x', 'x', 'consortium_admin')");
    char *sid = t_sql_value(fx.ci, "SELECT id FROM staff");
    char stok[44];
    t_session(fx.ci, NULL, sid, stok);
    free(sid);
    struct t_resp r;
    assert_int_equal(
        call(&r, stok, "GET", "/api/v1/admin/reports/usage?from=2000-01-01&to=2100-01-01", NULL),
        200);
    size_t i;
    json_t *row;
    long streams = 0;
    json_array_foreach(json_object_get(r.json, "items"), i, row) streams +=
        (long)json_integer_value(json_object_get(row, "streams"));
    assert_int_equal(streams, 3);
    t_resp_free(&r);
    /* An e-book loan has no stream link, and its token opens no stream. */
    char bloan[64], body[128];
    snprintf(body, sizeof body, "{\"title_id\":\"%s\"}", fx.book);
    assert_int_equal(call(&r, fx.tok, "POST", "/api/v1/loans", body), 201);
    json_t *links = json_object_get(json_object_get(r.json, "loan"), "links");
    assert_null(json_object_get(links, "stream"));
    const char *read = json_string_value(json_object_get(links, "read"));
    char path[2048];
    snprintf(path, sizeof path, "/stream/%.*s/master.m3u8", (int)(strlen(read) - 23), read + 9);
    snprintf(bloan, sizeof bloan, "%s",
             json_string_value(json_object_get(json_object_get(r.json, "loan"), "id")));
    t_resp_free(&r);
    assert_int_equal(t_http(&r, fx.port, "GET", path, NULL, NULL), 404);
    t_resp_free(&r);
    free(film);
    free(music);
}

/* The stream link of the film's loan (malloc'd). */
static char *film_link(void)
{
    struct t_resp r;
    assert_int_equal(call(&r, fx.tok, "GET", "/api/v1/loans", NULL), 200);
    char *link = NULL;
    size_t i;
    json_t *l;
    json_array_foreach(json_object_get(r.json, "items"), i,
                       l) if (!strcmp(json_string_value(json_object_get(l, "title_id")), fx.film))
        link = strdup(json_string_value(json_object_get(json_object_get(l, "links"), "stream")));
    t_resp_free(&r);
    assert_non_null(link);
    return link;
}

/* Playlists are kept in memory by the server; a presentation packaged again (here: its
 * media playlist rewritten on disk) is read again at the next request. */
static void test_playlist_kept_then_reread(void **state)
{
    (void)state;
    char *link = film_link();
    char *index = resolve(link, "index.m3u8");
    struct t_resp a, b;
    assert_int_equal(t_http(&a, fx.port, "GET", index, NULL, NULL), 200);
    assert_int_equal(t_http(&b, fx.port, "GET", index, NULL, NULL), 200);
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.body, b.body, a.len);
    assert_string_equal(t_resp_header(&b, "Content-Type"), "application/vnd.apple.mpegurl");
    assert_string_equal(t_resp_header(&b, "Cache-Control"), "private, no-store");
    t_resp_free(&b);
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT file_sha256 FROM title WHERE id = '%s'", fx.film);
    char *sha = t_sql_value(fx.ci, sql);
    char path[4096], tmp[4200];
    snprintf(path, sizeof path, "%s/hls/%s/index.m3u8", fx.data, sha);
    snprintf(tmp, sizeof tmp, "%s.new", path);
    FILE *f = fopen(tmp, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(a.body, 1, a.len, f), a.len);
    fputs("# packaged again\n", f);
    fclose(f);
    assert_int_equal(rename(tmp, path), 0);
    assert_int_equal(t_http(&b, fx.port, "GET", index, NULL, NULL), 200);
    assert_int_equal(b.len, a.len + strlen("# packaged again\n"));
    assert_memory_equal(b.body, a.body, a.len);
    t_resp_free(&b);
    /* Put back as it was. */
    f = fopen(tmp, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(a.body, 1, a.len, f), a.len);
    fclose(f);
    assert_int_equal(rename(tmp, path), 0);
    t_resp_free(&a);
    free(sha);
    free(index);
    free(link);
}

static void test_ranges_and_validators(void **state)
{
    (void)state;
    char *link = film_link();
    char *seg = resolve(link, "seg-00001.m4s");
    struct t_resp whole, part;
    assert_int_equal(t_http(&whole, fx.port, "GET", seg, NULL, NULL), 200);
    assert_true(whole.len > 1000);
    const char *range[] = {"Range: bytes=100-1099", NULL};
    assert_int_equal(t_http(&part, fx.port, "GET", seg, NULL, range), 206);
    assert_int_equal(part.len, 1000);
    assert_memory_equal(part.body, whole.body + 100, 1000);
    char cr[64];
    snprintf(cr, sizeof cr, "bytes 100-1099/%zu", whole.len);
    assert_string_equal(t_resp_header(&part, "Content-Range"), cr);
    assert_string_equal(t_resp_header(&part, "Content-Type"), "video/mp4");
    t_resp_free(&part);
    const char *tail[] = {"Range: bytes=-10", NULL};
    assert_int_equal(t_http(&part, fx.port, "GET", seg, NULL, tail), 206);
    assert_int_equal(part.len, 10);
    assert_memory_equal(part.body, whole.body + whole.len - 10, 10);
    t_resp_free(&part);
    const char *bad[] = {"Range: bytes=999999999-", NULL};
    assert_int_equal(t_http(&part, fx.port, "GET", seg, NULL, bad), 416);
    t_resp_free(&part);
    /* RFC 9110: a unit not understood, several ranges, or a malformed range are ignored:
     * the whole segment. */
    static const char *const ignored[] = {"Range: items=0-9", "Range: bytes=0-9,20-29",
                                          "Range: bytes=9-0", "Range: bytes=abc"};
    for (size_t k = 0; k < sizeof ignored / sizeof *ignored; k++) {
        const char *h[] = {ignored[k], NULL};
        long st = t_http(&part, fx.port, "GET", seg, NULL, h);
        if (st != 200 || part.len != whole.len)
            fail_msg("%s gave %ld, %zu bytes", ignored[k], st, part.len);
        t_resp_free(&part);
    }
    /* The validator says nothing of the file's hash. */
    char q[160];
    snprintf(q, sizeof q, "SELECT left(file_sha256, 8) FROM title WHERE id = '%s'", fx.film);
    char *prefix = t_sql_value(fx.ci, q);
    assert_null(strstr(t_resp_header(&whole, "ETag"), prefix));
    free(prefix);
    char inm[128];
    snprintf(inm, sizeof inm, "If-None-Match: %s", t_resp_header(&whole, "ETag"));
    const char *cond[] = {inm, NULL};
    assert_int_equal(t_http(&part, fx.port, "GET", seg, NULL, cond), 304);
    /* A 304 says what the 200 said about caching, or a cache would stop keeping it. */
    assert_string_equal(t_resp_header(&part, "Cache-Control"),
                        "public, max-age=31536000, immutable");
    assert_string_equal(t_resp_header(&part, "Access-Control-Allow-Origin"), "*");
    t_resp_free(&part);
    assert_int_equal(t_http(&part, fx.port, "HEAD", seg, NULL, NULL), 200);
    t_resp_free(&part);
    t_resp_free(&whole);
    /* Only the presentation's own names. */
    static const char *const names[] = {"seg-99999.m4s", "../../files", "index.m3u8/x", "seg-1.m4s",
                                        "a.mp4"};
    for (size_t k = 0; k < sizeof names / sizeof *names; k++) {
        char *u = resolve(link, names[k]);
        long st = t_http(&part, fx.port, "GET", u, NULL, NULL);
        if (st != 404 && st != 400)
            fail_msg("%s gave %ld", names[k], st);
        t_resp_free(&part);
        free(u);
    }
    free(seg);
    free(link);
}

static void test_ffmpeg_plays_over_http(void **state)
{
    (void)state;
    struct t_resp r;
    assert_int_equal(call(&r, fx.tok, "GET", "/api/v1/loans", NULL), 200);
    size_t i;
    json_t *l;
    int played = 0;
    json_array_foreach(json_object_get(r.json, "items"), i, l)
    {
        const char *link =
            json_string_value(json_object_get(json_object_get(l, "links"), "stream"));
        if (!link)
            continue;
        char cmd[4096], *out = NULL;
        snprintf(cmd, sizeof cmd,
                 "ffmpeg -nostdin -v error -i 'http://127.0.0.1:%d%s' -map 0 -c copy -f null - "
                 "2>&1; echo \"rc=$?\"",
                 fx.port, link);
        assert_int_equal(t_cmd(cmd, &out), 0);
        if (strcmp(out, "rc=0\n") != 0)
            fail_msg("ffmpeg on %s: %s", link, out);
        free(out);
        /* And it decodes: every frame, start to end, with its duration. */
        snprintf(
            cmd, sizeof cmd,
            "ffprobe -v error -show_entries format=duration -of csv=p=0 'http://127.0.0.1:%d%s'",
            fx.port, link);
        assert_int_equal(t_cmd(cmd, &out), 0);
        double d = strtod(out, NULL);
        free(out);
        const char *kind = json_string_value(json_object_get(l, "kind"));
        if (!strcmp(kind, "video"))
            assert_true(d > 19.9 && d < 20.2);
        else
            assert_true(d > 10.6 && d < 10.9);
        played++;
    }
    t_resp_free(&r);
    assert_int_equal(played, 2);
}

static void test_tokens_refused(void **state)
{
    (void)state;
    char loan[64];
    struct t_resp r;
    /* The second patron borrows the album; the first patron's session cannot see it. */
    char body[128];
    snprintf(body, sizeof body, "{\"title_id\":\"%s\"}", fx.music);
    assert_int_equal(call(&r, fx.tok2, "POST", "/api/v1/loans", body), 201);
    json_t *loan_json = json_object_get(r.json, "loan");
    snprintf(loan, sizeof loan, "%s", json_string_value(json_object_get(loan_json, "id")));
    char *link =
        strdup(json_string_value(json_object_get(json_object_get(loan_json, "links"), "stream")));
    t_resp_free(&r);
    char path[256];
    snprintf(path, sizeof path, "/api/v1/loans/%s/token", loan);
    assert_int_equal(call(&r, fx.tok, "POST", path, NULL), 404);
    t_resp_free(&r);
    /* A second token of the same loan, for later: issued in another second, since the
     * same claims signed in the same second give the same token. */
    sleep(1);
    assert_int_equal(call(&r, fx.tok2, "POST", path, NULL), 200);
    assert_null(strstr(link, json_string_value(json_object_get(r.json, "token"))));
    char *spare = NULL;
    const char *t2 = json_string_value(json_object_get(r.json, "token"));
    assert_non_null(t2);
    size_t n = strlen("/stream/") + strlen(t2) + strlen("/seg-00000.m4s") + 1;
    spare = malloc(n);
    snprintf(spare, n, "/stream/%s/seg-00000.m4s", t2);
    t_resp_free(&r);

    char *seg = resolve(link, "seg-00000.m4s");
    assert_int_equal(t_http(&r, fx.port, "GET", seg, NULL, NULL), 200);
    t_resp_free(&r);
    /* Forged: one character of the signature changed. */
    char *forged = strdup(seg);
    char *at = strstr(forged, "/seg-") - 5;
    *at = *at == 'A' ? 'B' : 'A';
    assert_int_equal(t_http(&r, fx.port, "GET", forged, NULL, NULL), 401);
    assert_string_equal(t_err_code(&r), "invalid_token");
    t_resp_free(&r);
    free(forged);
    /* Not a token, and a token of another issuer's key (a v4.public token of its own). */
    assert_int_equal(t_http(&r, fx.port, "GET", "/stream/nonsense/master.m3u8", NULL, NULL), 401);
    t_resp_free(&r);
    assert_int_equal(t_http(&r, fx.port, "GET",
                            "/stream/"
                            "v4.public."
                            "eyJsb2FuIjoiMSJ9AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
                            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA/index.m3u8",
                            NULL, NULL),
                     401);
    t_resp_free(&r);
    /* The loan's due date passes. */
    char sql[512];
    snprintf(sql, sizeof sql,
             "UPDATE loan SET due = now() - interval '1 second', started = now() - interval '1 day'"
             " WHERE id = '%s'",
             loan);
    char *m = resolve(link, "master.m3u8");
    /* Returned (here: ended by the database) loans stop: the start is checked at once... */
    t_sql(fx.ci, sql);
    assert_int_equal(t_http(&r, fx.port, "GET", m, NULL, NULL), 403);
    assert_string_equal(t_err_code(&r), "loan_ended");
    t_resp_free(&r);
    /* ...and a token not seen within the last 10 s is checked against the database. */
    assert_int_equal(t_http(&r, fx.port, "GET", spare, NULL, NULL), 403);
    t_resp_free(&r);
    free(m);
    free(seg);
    free(spare);
    free(link);
}

static void test_returned_loan_stops(void **state)
{
    (void)state;
    char loan[64];
    struct t_resp r;
    /* The film: return it, then the master playlist refuses at once. */
    assert_int_equal(call(&r, fx.tok, "GET", "/api/v1/loans", NULL), 200);
    size_t i;
    json_t *l;
    char *link = NULL;
    json_array_foreach(json_object_get(r.json, "items"), i,
                       l) if (!strcmp(json_string_value(json_object_get(l, "title_id")), fx.film))
    {
        link = strdup(json_string_value(json_object_get(json_object_get(l, "links"), "stream")));
        snprintf(loan, sizeof loan, "%s", json_string_value(json_object_get(l, "id")));
    }
    t_resp_free(&r);
    assert_non_null(link);
    char *seg = resolve(link, "seg-00001.m4s");
    assert_int_equal(t_http(&r, fx.port, "GET", seg, NULL, NULL), 200); /* now remembered */
    t_resp_free(&r);
    char path[256];
    snprintf(path, sizeof path, "/api/v1/loans/%s/return", loan);
    assert_int_equal(call(&r, fx.tok, "POST", path, NULL), 200);
    t_resp_free(&r);
    /* Returned through this server: forgotten at once, even the token seen just now. */
    assert_int_equal(t_http(&r, fx.port, "GET", seg, NULL, NULL), 403);
    t_resp_free(&r);
    free(seg);
    assert_int_equal(t_http(&r, fx.port, "GET", link, NULL, NULL), 403);
    assert_string_equal(t_err_code(&r), "loan_ended");
    t_resp_free(&r);
    long before = stream_starts(loan);
    assert_int_equal(t_http(&r, fx.port, "GET", link, NULL, NULL), 403);
    t_resp_free(&r);
    assert_int_equal(stream_starts(loan), before); /* a refused start is no start */
    free(link);
}

static void test_stream_outlives_its_token(void **state)
{
    (void)state;
    /* A film longer than a token's 15 minutes: once its token has expired, a stream goes
     * on with a fresh token of the same loan, never with the expired one. */
    char loan[64], path[256], sql[512];
    struct t_resp r;
    char *film = borrow(fx.film, loan);
    free(film);
    /* A token that ends in 2 s: the loan's due date is moved close for the issue... */
    snprintf(sql, sizeof sql, "UPDATE loan SET due = now() + interval '2 seconds' WHERE id = '%s'",
             loan);
    t_sql(fx.ci, sql);
    snprintf(path, sizeof path, "/api/v1/loans/%s/token", loan);
    sleep(1); /* another second than the borrow's token, so another token */
    assert_int_equal(call(&r, fx.tok, "POST", path, NULL), 200);
    char *tok = strdup(json_string_value(json_object_get(r.json, "token")));
    t_resp_free(&r);
    char master[2048], index[2048], seg[2048];
    snprintf(master, sizeof master, "/stream/%s/master.m3u8", tok);
    snprintf(index, sizeof index, "/stream/%s/index.m3u8", tok);
    snprintf(seg, sizeof seg, "/stream/%s/seg-00002.m4s", tok);
    assert_int_equal(t_http(&r, fx.port, "GET", master, NULL, NULL), 200);
    t_resp_free(&r);
    assert_int_equal(t_http(&r, fx.port, "GET", seg, NULL, NULL), 200); /* now remembered */
    t_resp_free(&r);
    sleep(3);
    /* ...and back: the loan goes on, the token has expired. */
    snprintf(sql, sizeof sql, "UPDATE loan SET due = now() + interval '1 day' WHERE id = '%s'",
             loan);
    t_sql(fx.ci, sql);
    const char *expired[] = {master, index, seg};
    for (size_t k = 0; k < 3; k++) {
        assert_int_equal(t_http(&r, fx.port, "GET", expired[k], NULL, NULL), 401);
        assert_string_equal(t_err_code(&r), "token_expired");
        assert_string_equal(t_resp_header(&r, "Access-Control-Allow-Origin"), "*");
        t_resp_free(&r);
    }
    /* A fresh token of the same loan: the same files, the stream goes on. */
    assert_int_equal(call(&r, fx.tok, "POST", path, NULL), 200);
    const char *fresh = json_string_value(json_object_get(r.json, "token"));
    assert_non_null(fresh);
    assert_string_not_equal(fresh, tok);
    char next[2048];
    long before = stream_starts(loan);
    snprintf(next, sizeof next, "/stream/%s/index.m3u8", fresh);
    struct t_resp p;
    assert_int_equal(t_http(&p, fx.port, "GET", next, NULL, NULL), 200);
    t_resp_free(&p);
    snprintf(next, sizeof next, "/stream/%s/seg-00002.m4s", fresh);
    assert_int_equal(t_http(&p, fx.port, "GET", next, NULL, NULL), 200);
    t_resp_free(&p);
    t_resp_free(&r);
    assert_int_equal(stream_starts(loan), before); /* going on is not a new start */
    /* A forged expired token is refused as forged. */
    char *forged = strdup(seg);
    char *at = strstr(forged, "/seg-") - 5;
    *at = *at == 'A' ? 'B' : 'A';
    assert_int_equal(t_http(&r, fx.port, "GET", forged, NULL, NULL), 401);
    t_resp_free(&r);
    free(forged);
    free(tok);
}

/* One import on its own connection, in a thread. */
struct import_job {
    char file[4096];
    char id[37];
    bool existed;
    enum lend_status st;
    char message[512];
    atomic_bool done;
};

static void *import_thread(void *arg)
{
    struct import_job *j = arg;
    char err[256];
    struct db *db = db_open(fx.ci, err, sizeof err);
    struct lend_err le = {0};
    j->st = db ? lend_import(db, fx.data, j->file, NULL, j->id, &j->existed, &le) : LEND_INTERNAL;
    snprintf(j->message, sizeof j->message, "%s", db ? le.message : err);
    db_close(db);
    atomic_store(&j->done, true);
    return NULL;
}

/* A film of its own bytes (seconds long), and its SHA-256 in hex. */
static void make_film(const char *name, int seconds, char *path, size_t cap, char sha[65])
{
    snprintf(path, cap, "%s/%s", fx.work, name);
    char cmd[8192], *out = NULL;
    snprintf(cmd, sizeof cmd,
             "ffmpeg -nostdin -v error -y -f lavfi -i testsrc2=duration=%d:size=320x240:rate=25 -f "
             "lavfi -i sine=duration=%d -c:v libx264 -preset veryfast -g 25 -c:a aac '%s' && "
             "sha256sum '%s'",
             seconds, seconds, path, path);
    assert_int_equal(t_cmd(cmd, &out), 0);
    assert_non_null(out);
    assert_true(strlen(out) >= 64);
    memcpy(sha, out, 64);
    sha[64] = 0;
    free(out);
}

/* The presentation of sha is whole: every URI of its media playlist is a file there. */
static void assert_presentation_whole(const char *sha)
{
    char path[4400];
    snprintf(path, sizeof path, "%s/hls/%s/index.m3u8", fx.data, sha);
    size_t len;
    char *pl = t_slurp(path, &len);
    assert_non_null(pl);
    int n = 0;
    for (char *line = strtok(pl, "\n"); line; line = strtok(NULL, "\n")) {
        if (line[0] == '#')
            continue;
        snprintf(path, sizeof path, "%s/hls/%s/%s", fx.data, sha, line);
        if (access(path, R_OK) != 0)
            fail_msg("%s is missing", line);
        n++;
    }
    assert_true(n >= 1);
    free(pl);
    snprintf(path, sizeof path, "%s/hls/%s/init.mp4", fx.data, sha);
    assert_int_equal(access(path, R_OK), 0);
}

static void test_same_bytes_one_at_a_time(void **state)
{
    (void)state;
    /* An import of bytes another import is busy with waits for it to end. */
    char sha[65], lock[4400], q[256];
    struct import_job a = {0};
    make_film("held.mp4", 3, a.file, sizeof a.file, sha);
    snprintf(lock, sizeof lock, "%s/tmp/sha-%s.lock", fx.data, sha);
    int fd = open(lock, O_RDWR | O_CREAT, 0600);
    assert_true(fd >= 0);
    assert_int_equal(flock(fd, LOCK_EX), 0);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, import_thread, &a), 0);
    usleep(1500 * 1000); /* what the import of a 3 s film takes many times over */
    assert_false(atomic_load(&a.done));
    snprintf(q, sizeof q, "SELECT count(*) FROM title WHERE file_sha256 = '%s'", sha);
    char *count = t_sql_value(fx.ci, q);
    assert_string_equal(count, "0");
    free(count);
    unlink(lock);
    close(fd);
    pthread_join(t, NULL);
    if (a.st != LEND_OK)
        fail_msg("%s", a.message);
    assert_false(a.existed);
    assert_presentation_whole(sha);

    /* Two imports of the same new bytes at once: one title, one whole presentation, and
     * nothing left in tmp. */
    struct import_job b[2] = {0};
    make_film("twice.mp4", 4, b[0].file, sizeof b[0].file, sha);
    snprintf(b[1].file, sizeof b[1].file, "%s", b[0].file);
    pthread_t tt[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&tt[i], NULL, import_thread, &b[i]), 0);
    for (int i = 0; i < 2; i++) {
        pthread_join(tt[i], NULL);
        if (b[i].st != LEND_OK)
            fail_msg("import %d: %s", i, b[i].message);
    }
    assert_string_equal(b[0].id, b[1].id);
    assert_true(b[0].existed != b[1].existed);
    assert_presentation_whole(sha);
    char tmp[4200], *out = NULL, cmd[4400];
    snprintf(tmp, sizeof tmp, "%s/tmp", fx.data);
    snprintf(cmd, sizeof cmd, "ls '%s' | grep -E '^(hls-|sha-|import-)' || true", tmp);
    assert_int_equal(t_cmd(cmd, &out), 0);
    if (out && *out)
        fail_msg("left in tmp: %s", out);
    free(out);
}

int main(void)
{
    t_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_borrow_and_play),
        cmocka_unit_test(test_ranges_and_validators),
        cmocka_unit_test(test_playlist_kept_then_reread),
        cmocka_unit_test(test_ffmpeg_plays_over_http),
        cmocka_unit_test(test_tokens_refused),
        cmocka_unit_test(test_returned_loan_stops),
        cmocka_unit_test(test_stream_outlives_its_token),
        cmocka_unit_test(test_same_bytes_one_at_a_time),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
