/*
 * Ingest and search. A file is checked where it will be kept: it is first copied (and
 * hashed on the way) into data_dir/tmp, checked there, then renamed into place, so what
 * was checked is what is stored, and a refusal leaves nothing behind.
 */
#include "sql.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pretnum/catalogue.h"
#include "pretnum/epub.h"
#include "pretnum/hls.h"
#include "pretnum/media.h"

#define MAX_COVER (16u << 20)

/* Checkers name the temporary copy they read; people know the file by its own name. */
static void rename_in_message(char *msg, size_t cap, const char *tmp, const char *path)
{
    char *at = strstr(msg, tmp);
    if (!at)
        return;
    char out[512];
    snprintf(out, sizeof out, "%.*s%s%s", (int)(at - msg), msg, path, at + strlen(tmp));
    size_t n = strlen(out) < cap - 1 ? strlen(out) : cap - 1;
    memcpy(msg, out, n);
    msg[n] = 0;
}

static int mkdir_p(const char *dir)
{
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s", dir);
    for (char *p = tmp + 1; *p; p++) {
        if (*p == '/') {
            *p = 0;
            if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
                return -1;
            *p = '/';
        }
    }
    return mkdir(tmp, 0700) != 0 && errno != EEXIST ? -1 : 0;
}

/* Copies src to a new temporary file in data_dir/tmp while hashing it. */
static enum lend_status copy_hashed(const char *data_dir, const char *src, char tmp_out[PATH_MAX],
                                    char sha_hex[65], long long *size, unsigned char magic[4],
                                    struct lend_err *err)
{
    char dir[PATH_MAX - 32];
    if ((size_t)snprintf(dir, sizeof dir, "%s/tmp", data_dir) >= sizeof dir)
        return lend_fail(err, LEND_INTERNAL, "storage_error", "the data directory path is too long");
    if (mkdir_p(dir) != 0)
        return lend_fail(err, LEND_INTERNAL, "storage_error", "could not create \"%s\": %s", dir, strerror(errno));
    int in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return lend_fail(err, LEND_INVALID, "unreadable_file", "could not open \"%s\": %s", src, strerror(errno));
    struct stat st;
    if (fstat(in, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(in);
        return lend_fail(err, LEND_INVALID, "unreadable_file", "\"%s\" is not a regular file", src);
    }
    snprintf(tmp_out, PATH_MAX, "%s/import-XXXXXX", dir);
    int out = mkostemp(tmp_out, O_CLOEXEC);
    if (out < 0) {
        close(in);
        return lend_fail(err, LEND_INTERNAL, "storage_error", "could not create a file in \"%s\": %s", dir,
                         strerror(errno));
    }
    /* OpenSSL's SHA-256 uses the CPU's SHA extensions: 1.5 GB/s where libsodium's portable
     * code does 0.1 GB/s, which made hashing the longest part of a film's import. */
    EVP_MD_CTX *h = EVP_MD_CTX_new();
    enum { CHUNK = 8 << 20, ALIGN = 4096 }; /* 8 MiB writes: three times the rate of 1 MiB ones here */
    unsigned char *buf = h && EVP_DigestInit_ex(h, EVP_sha256(), NULL) == 1 ? aligned_alloc(ALIGN, CHUNK) : NULL;
    /* The copy is written with O_DIRECT where the file system allows it: the disk takes the
     * bytes straight from the buffer (no page cache to fill, so no CPU spent on it beside
     * the packaging, and the fsync after has only the last block and the metadata left).
     * The checks read the file given, not this copy. */
    int direct = open(tmp_out, O_WRONLY | O_DIRECT | O_CLOEXEC);
    long long total = 0;
    ssize_t n = 0;
    enum lend_status rc = LEND_OK;
    memset(magic, 0, 4);
    while (buf) {
        size_t got = 0;
        while (got < CHUNK && (n = read(in, buf + got, CHUNK - got)) > 0)
            got += (size_t)n;
        if (n < 0 || got == 0)
            break;
        if (total < 4)
            memcpy(magic + total, buf, got < (size_t)(4 - total) ? got : (size_t)(4 - total));
        if (EVP_DigestUpdate(h, buf, got) != 1) {
            rc = lend_fail(err, LEND_INTERNAL, "storage_error", "could not hash \"%s\"", src);
            goto out;
        }
        for (size_t off = 0; off < got;) {
            /* Whole blocks directly; the tail (and everything, without O_DIRECT) buffered. */
            size_t len = got - off;
            bool whole = direct >= 0 && off % ALIGN == 0 && len >= ALIGN;
            if (whole)
                len -= len % ALIGN;
            ssize_t w = pwrite(whole ? direct : out, buf + off, len, total + (long long)off);
            if (w < 0 && whole && errno == EINVAL) { /* not for this file system after all */
                close(direct);
                direct = -1;
                continue;
            }
            if (w <= 0) {
                rc = lend_fail(err, LEND_INTERNAL, "storage_error", "could not write \"%s\": %s", tmp_out,
                               w < 0 ? strerror(errno) : "no space");
                goto out;
            }
            off += (size_t)w;
        }
        total += (long long)got;
        if (got < CHUNK)
            break;
    }
    if (!buf || n < 0)
        rc = lend_fail(err, LEND_INTERNAL, "storage_error", "could not read \"%s\"", src);
out:
    free(buf);
    close(in);
    if (direct >= 0)
        close(direct);
    if (close(out) != 0 && rc == LEND_OK)
        rc = lend_fail(err, LEND_INTERNAL, "storage_error", "could not write \"%s\"", tmp_out);
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned int dlen = 0;
    if (rc == LEND_OK && (EVP_DigestFinal_ex(h, d, &dlen) != 1 || dlen != 32))
        rc = lend_fail(err, LEND_INTERNAL, "storage_error", "could not hash \"%s\"", src);
    EVP_MD_CTX_free(h);
    if (rc != LEND_OK) {
        unlink(tmp_out);
        return rc;
    }
    sodium_bin2hex(sha_hex, 65, d, 32);
    *size = total;
    return LEND_OK;
}

/*
 * The copy is on disk before it is stored and its title committed. The fsync runs in a
 * thread from the moment the copy is written, while the file is checked and packaged
 * (which read it from the page cache): the disk's work overlaps the CPU's, and the import
 * waits only for what is left of it.
 */
struct stored_sync {
    pthread_t thread;
    bool started;
    char path[PATH_MAX];
    int rc, errnum;
};

static void *stored_sync_run(void *arg)
{
    struct stored_sync *ss = arg;
    int fd = open(ss->path, O_RDONLY | O_CLOEXEC);
    ss->rc = fd >= 0 && fsync(fd) == 0 ? 0 : -1;
    ss->errnum = ss->rc ? errno : 0;
    if (fd >= 0)
        close(fd);
    return NULL;
}

static void stored_sync_start(struct stored_sync *ss, const char *path)
{
    snprintf(ss->path, sizeof ss->path, "%s", path);
    ss->started = pthread_create(&ss->thread, NULL, stored_sync_run, ss) == 0;
    if (!ss->started) /* no thread: synced now */
        stored_sync_run(ss);
}

/* Waits for the sync; 0, or -1 with errno. Once only. */
static int stored_sync_wait(struct stored_sync *ss)
{
    if (ss->started) {
        pthread_join(ss->thread, NULL);
        ss->started = false;
    }
    errno = ss->errnum;
    return ss->rc;
}

static int write_file(const char *path, const void *data, size_t len)
{
    char tmp[PATH_MAX + 16];
    snprintf(tmp, sizeof tmp, "%s.tmp-XXXXXX", path);
    int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0)
        return -1;
    const unsigned char *p = data;
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, p + off, len - off);
        if (w < 0) {
            close(fd);
            unlink(tmp);
            return -1;
        }
        off += (size_t)w;
    }
    if (close(fd) != 0 || rename(tmp, path) != 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

static json_t *strings_json(struct epub_strings s)
{
    json_t *a = json_array();
    for (size_t i = 0; i < s.n; i++)
        json_array_append_new(a, json_string(s.v[i]));
    return a;
}

static json_t *nonnull_string(const char *s)
{
    return s ? json_string(s) : json_null();
}

/* Valid UTF-8 only goes to jansson; anything else becomes NULL rather than an error. */
static const char *utf8_or_null(const char *s)
{
    if (!s)
        return NULL;
    json_t *j = json_string(s);
    if (!j)
        return NULL;
    json_decref(j);
    return s;
}

/* What we keep of a file, whatever its kind. Strings point into the checker's result. */
struct record {
    const char *kind, *title, *language, *publisher, *published, *description, *isbn;
    const char *media_type, *ext;
    json_t *creators, *subjects, *identifiers, *accessibility, *details;
    double duration_s;
    const unsigned char *cover;
    size_t cover_len;
    const char *cover_type;
    unsigned char *cover_owned;
};

static void record_free(struct record *r)
{
    json_decref(r->creators);
    json_decref(r->subjects);
    json_decref(r->identifiers);
    json_decref(r->accessibility);
    json_decref(r->details);
    free(r->cover_owned);
}

static void toc_count(const struct epub_toc_entry *e, size_t n, size_t *count)
{
    for (size_t i = 0; i < n; i++) {
        (*count)++;
        toc_count(e[i].children, e[i].n_children, count);
    }
}

static const char *image_type(const char *mt)
{
    static const char *ok[] = {"image/jpeg", "image/png", "image/gif", "image/svg+xml", "image/webp"};
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++)
        if (mt && !strcmp(mt, ok[i]))
            return ok[i];
    return NULL;
}

static enum lend_status from_epub(struct epub *e, struct record *r, struct lend_err *err)
{
    const struct epub_meta *m = epub_meta(e);
    r->kind = "ebook";
    r->media_type = "application/epub+zip";
    r->ext = "epub";
    r->title = utf8_or_null(m->title);
    r->language = m->languages.n ? utf8_or_null(m->languages.v[0]) : NULL;
    r->publisher = utf8_or_null(m->publisher);
    r->published = utf8_or_null(m->date);
    r->description = utf8_or_null(m->description);
    r->creators = json_array();
    for (size_t i = 0; i < m->n_creators; i++)
        json_array_append_new(r->creators, json_pack("{s:s?, s:s?, s:s?}", "name", utf8_or_null(m->creators[i].name),
                                                     "role", utf8_or_null(m->creators[i].role), "file_as",
                                                     utf8_or_null(m->creators[i].file_as)));
    for (size_t i = 0; i < m->n_contributors; i++)
        json_array_append_new(r->creators,
                              json_pack("{s:s?, s:s, s:s?}", "name", utf8_or_null(m->contributors[i].name), "role",
                                        m->contributors[i].role ? m->contributors[i].role : "ctb", "file_as",
                                        utf8_or_null(m->contributors[i].file_as)));
    r->subjects = strings_json(m->subjects);
    r->identifiers = json_array();
    for (size_t i = 0; i < m->n_identifiers; i++) {
        const struct epub_identifier *id = &m->identifiers[i];
        json_array_append_new(r->identifiers, json_pack("{s:s?, s:s?}", "value", utf8_or_null(id->value), "scheme",
                                                        id->is_isbn ? "ISBN" : utf8_or_null(id->scheme)));
        if (id->is_isbn && id->isbn && !r->isbn)
            r->isbn = id->isbn;
    }
    r->accessibility = json_pack("{s:o, s:o, s:o, s:o, s:o}", "summary", nonnull_string(utf8_or_null(m->accessibility_summary)),
                                 "modes", strings_json(m->access_modes), "sufficient",
                                 strings_json(m->access_modes_sufficient), "features",
                                 strings_json(m->accessibility_features), "hazards",
                                 strings_json(m->accessibility_hazards));
    size_t toc = 0;
    toc_count(m->toc, m->n_toc, &toc);
    r->details = json_pack("{s:s, s:s?, s:s?, s:s?, s:s?, s:I, s:I, s:I, s:s?}", "format", "epub", "version",
                           m->version, "layout", m->layout, "page_progression", m->page_progression_direction,
                           "opf", m->opf_path, "spine_items", (json_int_t)m->n_spine, "resources",
                           (json_int_t)m->n_manifest, "toc_entries", (json_int_t)toc, "rights",
                           utf8_or_null(m->rights));
    if (m->cover && !m->cover->remote && image_type(m->cover->media_type)) {
        unsigned char *buf;
        size_t len;
        struct epub_error ee;
        if (epub_read_entry(e, m->cover->href, MAX_COVER, &buf, &len, &ee) == 0) {
            r->cover_owned = buf;
            r->cover = buf;
            r->cover_len = len;
            r->cover_type = image_type(m->cover->media_type);
        }
    }
    if (!r->creators || !r->subjects || !r->identifiers || !r->accessibility || !r->details)
        return lend_fail(err, LEND_UNACCEPTABLE, "invalid_metadata", "the package metadata could not be read");
    return LEND_OK;
}

static const char *media_type_of(const struct media_info *mi)
{
    const char *f = mi->format ? mi->format : "";
    bool video = mi->kind == MEDIA_KIND_VIDEO;
    if (!strncmp(f, "mov,mp4", 7))
        return video ? "video/mp4" : "audio/mp4";
    if (!strncmp(f, "matroska", 8))
        return video ? "video/webm" : "audio/webm";
    if (!strcmp(f, "ogg"))
        return video ? "video/ogg" : "audio/ogg";
    if (!strcmp(f, "mp3"))
        return "audio/mpeg";
    if (!strcmp(f, "flac"))
        return "audio/flac";
    if (!strcmp(f, "wav"))
        return "audio/wav";
    if (!strcmp(f, "aac"))
        return "audio/aac";
    return "application/octet-stream";
}

static const char *ext_of(const struct media_info *mi)
{
    const char *t = media_type_of(mi);
    if (!strcmp(t, "video/mp4") || !strcmp(t, "audio/mp4"))
        return mi->kind == MEDIA_KIND_VIDEO ? "mp4" : "m4a";
    if (strstr(t, "webm"))
        return !strcmp(mi->format, "matroska,webm") ? "mkv" : "webm";
    if (strstr(t, "ogg"))
        return "ogg";
    if (!strcmp(t, "audio/mpeg"))
        return "mp3";
    if (!strcmp(t, "audio/flac"))
        return "flac";
    if (!strcmp(t, "audio/wav"))
        return "wav";
    if (!strcmp(t, "audio/aac"))
        return "aac";
    return "bin";
}

static void add_person(json_t *a, const char *name, const char *role)
{
    if (utf8_or_null(name) && *name)
        json_array_append_new(a, json_pack("{s:s, s:s}", "name", name, "role", role));
}

static enum lend_status from_media(struct media_info *mi, struct record *r, struct lend_err *err)
{
    r->kind = media_kind_name(mi->kind);
    r->media_type = media_type_of(mi);
    r->ext = ext_of(mi);
    r->title = utf8_or_null(mi->tags.title);
    r->language = utf8_or_null(mi->tags.language);
    r->published = utf8_or_null(mi->tags.date);
    r->description = utf8_or_null(mi->tags.comment);
    r->duration_s = mi->duration_s;
    r->creators = json_array();
    add_person(r->creators, mi->tags.director, "drt");
    add_person(r->creators, mi->tags.artist, "prf");
    if (mi->tags.album_artist && (!mi->tags.artist || strcmp(mi->tags.album_artist, mi->tags.artist)))
        add_person(r->creators, mi->tags.album_artist, "prf");
    add_person(r->creators, mi->tags.composer, "cmp");
    r->subjects = json_array();
    if (utf8_or_null(mi->tags.genre) && *mi->tags.genre)
        json_array_append_new(r->subjects, json_string(mi->tags.genre));
    r->identifiers = json_array();
    r->accessibility = json_object();
    json_t *streams = json_array();
    for (size_t i = 0; i < mi->n_streams; i++) {
        const struct media_stream *s = &mi->streams[i];
        json_t *o = json_pack("{s:s, s:s, s:s?, s:s?}", "type", s->type == MEDIA_STREAM_VIDEO ? "video" : "audio",
                              "codec", s->codec, "profile", utf8_or_null(s->profile), "language",
                              utf8_or_null(s->language));
        if (s->type == MEDIA_STREAM_VIDEO) {
            json_object_set_new(o, "width", json_integer(s->width));
            json_object_set_new(o, "height", json_integer(s->height));
            json_object_set_new(o, "frame_rate", json_real(s->frame_rate));
        } else {
            json_object_set_new(o, "sample_rate", json_integer(s->sample_rate));
            json_object_set_new(o, "channels", json_integer(s->channels));
        }
        json_array_append_new(streams, o);
    }
    r->details = json_pack("{s:s, s:I, s:o, s:s?, s:i}", "format", mi->format, "bit_rate", (json_int_t)mi->bit_rate,
                           "streams", streams, "album", utf8_or_null(mi->tags.album), "track", mi->tags.track);
    if (mi->cover) {
        r->cover = mi->cover;
        r->cover_len = mi->cover_size;
        r->cover_type = mi->cover_mime;
    }
    if (!r->creators || !r->subjects || !r->details)
        return lend_fail(err, LEND_UNACCEPTABLE, "invalid_metadata", "the file's tags could not be read");
    return LEND_OK;
}

static const char *base_name(const char *path, char *buf, size_t cap)
{
    const char *b = strrchr(path, '/');
    snprintf(buf, cap, "%s", b ? b + 1 : path);
    char *dot = strrchr(buf, '.');
    if (dot && dot != buf)
        *dot = 0;
    for (char *p = buf; *p; p++)
        if (*p == '_')
            *p = ' ';
    return utf8_or_null(buf) ? buf : "Untitled";
}

static bool valid_kind(const char *k)
{
    return !k || !strcmp(k, "ebook") || !strcmp(k, "audio") || !strcmp(k, "video");
}

/*
 * Packages the file path into a new directory hls_tmp under data_dir/tmp (held with flock
 * in *lock); notes the stream in details when not NULL. On failure hls_tmp may name a
 * directory for the caller to remove.
 */
static enum lend_status package_media(const char *data_dir, const char *path, const char *kind,
                                      char hls_tmp[PATH_MAX], int *lock, json_t *details, struct lend_err *err)
{
    snprintf(hls_tmp, PATH_MAX, "%s/tmp/hls-XXXXXX", data_dir);
    if (!mkdtemp(hls_tmp)) {
        enum lend_status rc =
            lend_fail(err, LEND_INTERNAL, "storage_error", "could not create \"%s\": %s", hls_tmp, strerror(errno));
        hls_tmp[0] = 0;
        return rc;
    }
    /* Held until the import ends: a directory of data_dir/tmp nobody holds is a leftover
     * of a process that died, which media_hls_recover() removes. */
    *lock = open(hls_tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (*lock < 0 || flock(*lock, LOCK_EX) != 0)
        return lend_fail(err, LEND_INTERNAL, "storage_error", "could not lock \"%s\": %s", hls_tmp, strerror(errno));
    struct media_error he = {0};
    struct media_hls_result hr;
    /* A title catalogued as music streams its audio alone, whatever else the file holds. */
    struct media_hls_options ho = {.audio_only = kind && !strcmp(kind, "audio")};
    if (media_hls_package(path, hls_tmp, &ho, &hr, &he) != 0) {
        return lend_fail(err, LEND_UNACCEPTABLE, he.code ? he.code : "packaging_failed",
                         "not a file that can be streamed: %s", he.message);
    }
    if (details)
        json_object_set_new(details, "stream",
                            json_pack("{s:s, s:i, s:f, s:I, s:b}", "codecs", hr.codecs, "segments", hr.segments,
                                      "duration", hr.duration_s, "bandwidth", (json_int_t)hr.bandwidth,
                                      "audio_reencoded", hr.audio_reencoded));
    return LEND_OK;
}

/*
 * Moves the packaged hls_tmp to data_dir/hls/SHA (hls_path); hls_tmp is emptied once moved
 * and *placed tells whether this import put it there. A presentation already there is
 * kept as it is and never removed by this import: another import of the same bytes may be
 * serving it (they give the same presentation: the packager writes bit-exact output), or
 * an earlier import left it complete (it is only ever moved there whole).
 */
static enum lend_status place_presentation(const char *data_dir, const char *sha, char hls_tmp[PATH_MAX],
                                           char hls_path[PATH_MAX], bool *placed, struct lend_err *err)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/hls", data_dir);
    snprintf(hls_path, PATH_MAX, "%s/hls/%s", data_dir, sha);
    *placed = false;
    if (mkdir_p(dir) != 0)
        return lend_fail(err, LEND_INTERNAL, "storage_error", "could not store \"%s\": %s", hls_path, strerror(errno));
    if (renameat2(AT_FDCWD, hls_tmp, AT_FDCWD, hls_path, RENAME_NOREPLACE) == 0) {
        *placed = true;
        hls_tmp[0] = 0;
        return LEND_OK;
    }
    if (errno == EEXIST || errno == ENOTEMPTY) {
        char master[PATH_MAX + 16];
        snprintf(master, sizeof master, "%s/master.m3u8", hls_path);
        if (access(master, F_OK) == 0)
            return LEND_OK; /* hls_tmp, ours, is removed by the caller */
        errno = EEXIST;
    }
    return lend_fail(err, LEND_INTERNAL, "storage_error", "could not store \"%s\": %s", hls_path, strerror(errno));
}

/*
 * The copy into data_dir/tmp, its hash and its fsync, in a thread while the media is
 * probed and packaged from the file given: on two cores the import takes about as long as
 * the packaging alone. The file given must not change meanwhile (same_file() checks it
 * after), so that what was checked and packaged is what is stored.
 */
struct copier {
    pthread_t thread;
    bool started;
    const char *data_dir, *src;
    char tmp[PATH_MAX], sha[65];
    long long size;
    unsigned char magic[4];
    enum lend_status rc;
    struct lend_err err;
    struct stored_sync *ss;
};

static void *copier_run(void *arg)
{
    struct copier *c = arg;
    c->rc = copy_hashed(c->data_dir, c->src, c->tmp, c->sha, &c->size, c->magic, &c->err);
    if (c->rc == LEND_OK) {
        snprintf(c->ss->path, sizeof c->ss->path, "%s", c->tmp);
        stored_sync_run(c->ss);
    }
    return NULL;
}

/* True when the file given is still the one opened at first (fd), unchanged. */
static bool same_file(int fd, const struct stat *before, long long copied)
{
    struct stat now;
    return fstat(fd, &now) == 0 && now.st_size == before->st_size && now.st_size == copied &&
           now.st_mtim.tv_sec == before->st_mtim.tv_sec && now.st_mtim.tv_nsec == before->st_mtim.tv_nsec &&
           now.st_ctim.tv_sec == before->st_ctim.tv_sec && now.st_ctim.tv_nsec == before->st_ctim.tv_nsec;
}

/*
 * Imports of the same bytes, by this process or another (the command line, another
 * server on the same data directory), one at a time: each holds data_dir/tmp/sha-SHA.lock
 * (flock) from the moment it knows the hash until it is done, so the second finds the
 * first one's title and presentation complete, or nothing of them if the first failed,
 * never a presentation the first is about to remove. The holder unlinks the file before
 * closing it; a waiter that then gets the lock of an unlinked file takes the new one.
 * Returns the locked descriptor, or -1.
 */
static int lock_bytes(const char *data_dir, const char *sha, char path[PATH_MAX])
{
    if ((size_t)snprintf(path, PATH_MAX, "%s/tmp/sha-%s.lock", data_dir, sha) >= PATH_MAX)
        return -1;
    for (int tries = 0; tries < 1000; tries++) {
        int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (fd < 0)
            return -1;
        struct stat held, named;
        int r;
        while ((r = flock(fd, LOCK_EX)) != 0 && errno == EINTR)
            ;
        if (r == 0 && fstat(fd, &held) == 0 && stat(path, &named) == 0 && held.st_ino == named.st_ino &&
            held.st_dev == named.st_dev)
            return fd;
        close(fd);
        if (r != 0)
            return -1;
    }
    return -1;
}

static void unlock_bytes(const char *path, int fd)
{
    if (fd < 0)
        return;
    unlink(path);
    close(fd);
}

enum lend_status lend_import(struct db *db, const char *data_dir, const char *path,
                             const struct lend_import_opts *o, char id_out[37], bool *existed,
                             struct lend_err *err)
{
    static const struct lend_import_opts none = {0};
    if (!o)
        o = &none;
    *existed = false;
    if (!valid_kind(o->kind))
        return lend_fail(err, LEND_INVALID, "invalid_kind", "kind must be ebook, audio or video");
    const char *fields[] = {o->title, o->author, o->language, o->publisher, o->description};
    for (size_t i = 0; i < sizeof fields / sizeof *fields; i++)
        if (fields[i] && (!utf8_or_null(fields[i]) || strlen(fields[i]) > 20000))
            return lend_fail(err, LEND_INVALID, "invalid_metadata", "metadata must be UTF-8 text of reasonable length");
    if (o->title && !*o->title)
        return lend_fail(err, LEND_INVALID, "invalid_metadata", "a title cannot be empty");

    /* The first bytes tell an EPUB from media; the file stays open to see it unchanged. */
    int src = open(path, O_RDONLY | O_CLOEXEC);
    if (src < 0)
        return lend_fail(err, LEND_INVALID, "unreadable_file", "could not open \"%s\": %s", path, strerror(errno));
    struct stat src_st;
    unsigned char head[4] = {0};
    if (fstat(src, &src_st) != 0 || !S_ISREG(src_st.st_mode) || pread(src, head, sizeof head, 0) < 0) {
        close(src);
        return lend_fail(err, LEND_INVALID, "unreadable_file", "\"%s\" is not a regular file", path);
    }
    bool zip = head[0] == 'P' && head[1] == 'K';
    const char *kind = o->kind ? o->kind : zip ? "ebook" : NULL;
    bool ebook = kind && !strcmp(kind, "ebook");

    char tmp[PATH_MAX] = "", sha[65] = "", lock_path[PATH_MAX] = "";
    long long size = 0;
    int bytes_lock = -1;
    struct stored_sync ss = {0};
    struct record r = {0};
    struct epub *e = NULL;
    struct media_info mi = {0};
    bool have_media = false, packaged = false;
    char final_path[PATH_MAX] = "", cover_path[PATH_MAX] = "", rel_file[160] = "", rel_cover[160] = "";
    bool placed = false, cover_placed = false, hls_placed = false;
    char hls_tmp[PATH_MAX] = "", hls_path[PATH_MAX] = "";
    int hls_lock = -1;
    enum lend_status rc = LEND_OK;

    if (ebook) {
        unsigned char magic[4];
        if ((rc = copy_hashed(data_dir, path, tmp, sha, &size, magic, err)) != LEND_OK) {
            tmp[0] = 0;
            goto out;
        }
        stored_sync_start(&ss, tmp);
    } else {
        /* Music or a film: copied, hashed and synced in a thread while it is probed and
         * packaged here, from the file given, without the caller's connection. */
        struct copier c = {.data_dir = data_dir, .src = path, .ss = &ss};
        bool release = o->release_db && o->reacquire_db;
        if (release) {
            o->release_db(o->db_ctx, db);
            db = NULL;
        }
        c.started = pthread_create(&c.thread, NULL, copier_run, &c) == 0;
        if (!c.started)
            copier_run(&c);
        struct media_error me = {0};
        if (media_probe_file(path, NULL, &mi, &me) != 0) {
            rc = lend_fail(err, LEND_UNACCEPTABLE, me.code ? me.code : "media_unreadable",
                           "not an acceptable audio or video file: %s", me.message);
        } else {
            have_media = true;
            if (kind && strcmp(kind, media_kind_name(mi.kind)) != 0 &&
                !(!strcmp(kind, "audio") && mi.kind == MEDIA_KIND_VIDEO))
                rc = lend_fail(err, LEND_UNACCEPTABLE, "kind_mismatch",
                               "the file holds no video stream, so it cannot be a film");
            else if ((rc = from_media(&mi, &r, err)) == LEND_OK) {
                if (kind)
                    r.kind = kind;
                rc = package_media(data_dir, path, r.kind, hls_tmp, &hls_lock, r.details, err);
                packaged = rc == LEND_OK;
            }
        }
        if (c.started)
            pthread_join(c.thread, NULL);
        if (c.rc == LEND_OK) {
            snprintf(tmp, sizeof tmp, "%s", c.tmp);
            snprintf(sha, sizeof sha, "%s", c.sha);
            size = c.size;
        } else if (rc == LEND_OK) {
            *err = c.err;
            rc = c.rc;
        }
        if (release && !(db = o->reacquire_db(o->db_ctx)) && rc == LEND_OK)
            rc = lend_fail(err, LEND_UNAVAILABLE, "database_unavailable", "The database is not answering; try again shortly.");
        if (rc == LEND_OK && !same_file(src, &src_st, size))
            rc = lend_fail(err, LEND_INVALID, "file_changed", "\"%s\" changed while it was imported", path);
        if (rc != LEND_OK && size == 0 && c.rc == LEND_OK)
            rc = lend_fail(err, LEND_UNACCEPTABLE, "empty_file", "\"%s\" is empty", path);
        if (rc != LEND_OK)
            goto out;
    }
    if ((bytes_lock = lock_bytes(data_dir, sha, lock_path)) < 0) {
        rc = lend_fail(err, LEND_INTERNAL, "storage_error", "could not lock \"%s\": %s", lock_path, strerror(errno));
        goto out;
    }

    if (size == 0) {
        rc = lend_fail(err, LEND_UNACCEPTABLE, "empty_file", "\"%s\" is empty", path);
        goto out;
    }
    if (ebook) {
        struct epub_error ee = {0};
        if (epub_open_file(tmp, NULL, &e, &ee) != 0) {
            rename_in_message(ee.message, sizeof ee.message, tmp, path);
            rc = lend_fail(err, LEND_UNACCEPTABLE, ee.code ? ee.code : "invalid_epub", "not an acceptable EPUB: %s",
                           ee.message);
            goto out;
        }
        rc = from_epub(e, &r, err);
    }
    if (rc != LEND_OK)
        goto out;

    char fallback[256];
    if (o->title)
        r.title = o->title;
    if (!r.title || !*r.title)
        r.title = base_name(path, fallback, sizeof fallback);
    if (o->author) {
        json_decref(r.creators);
        r.creators = json_pack("[{s:s, s:s}]", "name", o->author, "role", !strcmp(r.kind, "ebook") ? "aut" : "prf");
    }
    if (o->language)
        r.language = o->language;
    if (o->publisher)
        r.publisher = o->publisher;
    if (o->description)
        r.description = o->description;
    if (r.language && strlen(r.language) > 35)
        r.language = NULL;

    /* The same bytes again: the title that has them. */
    int qs;
    const char *sp[1] = {sha};
    PGresult *res = db_exec(db, "title_by_sha", 1, sp, &qs);
    if (!res) {
        rc = db_failed(db, qs, err);
        goto out;
    }
    if (qs == 1) {
        snprintf(id_out, 37, "%s", PQgetvalue(res, 0, 0));
        PQclear(res);
        *existed = true;
        /* A title imported before streaming existed (or whose presentation was lost)
         * gets its presentation now. */
        char master[PATH_MAX];
        snprintf(master, sizeof master, "%s/hls/%s/master.m3u8", data_dir, sha);
        bool mine = false;
        if (packaged && access(master, F_OK) != 0 &&
            (rc = place_presentation(data_dir, sha, hls_tmp, hls_path, &mine, err)) == LEND_OK && mine)
            media_hls_sync_later(hls_path);
        goto out;
    }
    PQclear(res);

    /* Music and films were packaged for streaming above, before the title exists: a file
     * that cannot be streamed is refused, and the stream plays as soon as the title is in. */

    snprintf(rel_file, sizeof rel_file, "files/%.2s/%s.%s", sha, sha, r.ext);
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/files/%.2s", data_dir, sha);
    snprintf(final_path, sizeof final_path, "%s/%s", data_dir, rel_file);
    if (stored_sync_wait(&ss) != 0 || mkdir_p(dir) != 0 || rename(tmp, final_path) != 0) {
        rc = lend_fail(err, LEND_INTERNAL, "storage_error", "could not store \"%s\": %s", final_path, strerror(errno));
        goto out;
    }
    placed = true;
    tmp[0] = 0;
    if (hls_tmp[0]) {
        if ((rc = place_presentation(data_dir, sha, hls_tmp, hls_path, &hls_placed, err)) != LEND_OK)
            goto out;
    }
    if (r.cover && r.cover_len && r.cover_type) {
        const char *cext = !strcmp(r.cover_type, "image/png") ? "png" : !strcmp(r.cover_type, "image/gif") ? "gif"
                           : !strcmp(r.cover_type, "image/svg+xml") ? "svg" : !strcmp(r.cover_type, "image/webp") ? "webp" : "jpg";
        snprintf(rel_cover, sizeof rel_cover, "covers/%s.%s", sha, cext);
        snprintf(dir, sizeof dir, "%s/covers", data_dir);
        snprintf(cover_path, sizeof cover_path, "%s/%s", data_dir, rel_cover);
        if (mkdir_p(dir) != 0 || write_file(cover_path, r.cover, r.cover_len) != 0) {
            rc = lend_fail(err, LEND_INTERNAL, "storage_error", "could not store the cover: %s", strerror(errno));
            goto out;
        }
        cover_placed = true;
    }

    char *creators = json_dumps(r.creators, JSON_COMPACT);
    char *subjects = json_dumps(r.subjects, JSON_COMPACT);
    char *identifiers = json_dumps(r.identifiers, JSON_COMPACT);
    char *access = json_dumps(r.accessibility, JSON_COMPACT);
    char *details = json_dumps(r.details, JSON_COMPACT);
    char names[4096] = "";
    size_t off = 0;
    for (size_t i = 0; i < json_array_size(r.creators) && off < sizeof names - 1; i++) {
        const char *n = json_string_value(json_object_get(json_array_get(r.creators, i), "name"));
        if (n)
            off += (size_t)snprintf(names + off, sizeof names - off, "%s%s", off ? " " : "", n);
    }
    if (off >= sizeof names)
        names[sizeof names - 1] = 0;
    char dur[64] = "", sz[32];
    if (strcmp(r.kind, "ebook") != 0)
        snprintf(dur, sizeof dur, "%.6f", r.duration_s);
    snprintf(sz, sizeof sz, "%lld", size);
    const char *p[20] = {r.kind, r.title, creators, names, r.language, r.publisher, r.published, r.description,
                         subjects, r.isbn, identifiers, dur[0] ? dur : NULL, access, details, sha, rel_file, sz,
                         r.media_type, cover_placed ? rel_cover : NULL, cover_placed ? r.cover_type : NULL};
    res = db_exec(db, "title_insert", 20, p, &qs);
    free(creators);
    free(subjects);
    free(identifiers);
    free(access);
    free(details);
    if (!res) {
        if (db_unique_violation(db)) {
            /* Imported by someone else meanwhile: same bytes, same stored file. */
            res = db_exec(db, "title_by_sha", 1, sp, &qs);
            if (res && qs == 1) {
                snprintf(id_out, 37, "%s", PQgetvalue(res, 0, 0));
                *existed = true;
                placed = cover_placed = hls_placed = false;
            } else {
                rc = db_failed(db, qs, err);
            }
            PQclear(res);
            goto out;
        }
        rc = !strncmp(db->sqlstate, "23", 2) || !strncmp(db->sqlstate, "22", 2)
                 ? lend_fail(err, LEND_UNACCEPTABLE, "invalid_metadata", "the file's metadata cannot be stored as it is")
                 : db_failed(db, qs, err);
        goto out;
    }
    snprintf(id_out, 37, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    /* The title is in; its presentation, derived from the file just synced, is synced
     * now in the background (see include/pretnum/hls.h). */
    if (hls_placed)
        media_hls_sync_later(hls_path);
    placed = cover_placed = hls_placed = false; /* kept */

out:
    close(src);
    stored_sync_wait(&ss);
    if (tmp[0])
        unlink(tmp);
    if (rc != LEND_OK) {
        if (placed)
            unlink(final_path);
        if (cover_placed)
            unlink(cover_path);
        if (hls_placed)
            media_hls_remove_dir(hls_path);
    }
    if (hls_tmp[0])
        media_hls_remove_dir(hls_tmp);
    if (hls_lock >= 0)
        close(hls_lock);
    unlock_bytes(lock_path, bytes_lock);
    if (e)
        epub_close(e);
    if (have_media)
        media_info_free(&mi);
    record_free(&r);
    return rc;
}

/* ---- reading ---- */

static json_t *parse_or(const char *text, json_t *dflt)
{
    json_t *j = text ? json_loads(text, 0, NULL) : NULL;
    if (!j)
        return dflt;
    json_decref(dflt);
    return j;
}

static json_t *title_json(const PGresult *res, int i)
{
    const char *id = db_get(res, i, "id");
    json_t *creators = parse_or(db_get(res, i, "creators"), json_array());
    json_t *authors = json_array();
    size_t k;
    json_t *c;
    json_array_foreach(creators, k, c) {
        const char *role = json_string_value(json_object_get(c, "role"));
        if (!role || !strcmp(role, "aut") || !strcmp(role, "prf") || !strcmp(role, "drt") || !strcmp(role, "cmp"))
            json_array_append(authors, json_object_get(c, "name"));
    }
    json_t *acc = parse_or(db_get(res, i, "accessibility"), json_object());
    json_t *t = json_pack("{s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "id", id, "kind",
                          db_get(res, i, "kind"), "title", db_get(res, i, "title"), "authors", authors, "creators",
                          creators, "language", nonnull_string(db_get(res, i, "language")), "publisher",
                          nonnull_string(db_get(res, i, "publisher")), "published",
                          nonnull_string(db_get(res, i, "published")), "description",
                          nonnull_string(db_get(res, i, "description")), "subjects",
                          parse_or(db_get(res, i, "subjects"), json_array()), "isbn",
                          nonnull_string(db_get(res, i, "isbn")), "identifiers",
                          parse_or(db_get(res, i, "identifiers"), json_array()), "details",
                          parse_or(db_get(res, i, "details"), json_object()));
    json_object_set_new(t, "cover", db_get_bool(res, i, "has_cover")
                                        ? json_sprintf("/api/v1/titles/%s/cover", id)
                                        : json_null());
    const char *dur = db_get(res, i, "duration_s");
    json_object_set_new(t, "duration_s", dur ? json_real(strtod(dur, NULL)) : json_null());
    json_t *features = json_object_get(acc, "features");
    json_object_set_new(t, "accessibility", features ? json_incref(features) : json_array());
    json_t *summary = json_object_get(acc, "summary"), *modes = json_object_get(acc, "modes");
    json_t *hazards = json_object_get(acc, "hazards");
    json_object_set(t, "accessibility_summary", summary ? summary : json_null());
    json_object_set_new(t, "access_modes", modes ? json_incref(modes) : json_array());
    json_object_set_new(t, "accessibility_hazards", hazards ? json_incref(hazards) : json_array());
    json_decref(acc);
    json_object_set_new(t, "media_type", json_string(db_get(res, i, "media_type")));
    json_object_set_new(t, "file_size", json_integer(db_get_ll(res, i, "file_size")));
    json_object_set_new(t, "added", json_string(db_get(res, i, "created")));
    return t;
}

enum lend_status lend_title_get(struct db *db, const char *id, json_t **out, struct lend_err *err)
{
    if (!lend_is_uuid(id))
        return lend_fail(err, LEND_NOT_FOUND, "unknown_title", "There is no such title.");
    const char *p[1] = {id};
    int qs;
    PGresult *res = db_exec(db, "title_get", 1, p, &qs);
    if (!res)
        return db_failed(db, qs, err);
    if (qs == 0) {
        PQclear(res);
        return lend_fail(err, LEND_NOT_FOUND, "unknown_title", "There is no such title.");
    }
    *out = title_json(res, 0);
    PQclear(res);
    return LEND_OK;
}

enum lend_status lend_title_cover(struct db *db, const char *id, char path_out[512], char type_out[32],
                                  struct lend_err *err)
{
    if (!lend_is_uuid(id))
        return lend_fail(err, LEND_NOT_FOUND, "unknown_title", "There is no such title.");
    const char *p[1] = {id};
    int qs;
    PGresult *res = db_exec(db, "title_cover", 1, p, &qs);
    if (!res)
        return db_failed(db, qs, err);
    if (qs == 0 || !db_get(res, 0, "cover_path")) {
        PQclear(res);
        return lend_fail(err, LEND_NOT_FOUND, "no_cover", "This title has no cover.");
    }
    snprintf(path_out, 512, "%s", db_get(res, 0, "cover_path"));
    snprintf(type_out, 32, "%s", db_get(res, 0, "cover_type"));
    PQclear(res);
    return LEND_OK;
}

/*
 * "petit pri" → "'petit' & 'pri':*": the typed words (letters, digits and any non-ASCII
 * character), each quoted, the last a prefix. False when there is no word.
 */
static bool prefix_query(const char *q, char *out, size_t cap)
{
    size_t o = 0;
    int words = 0;
    const unsigned char *p = (const unsigned char *)q;
    while (*p) {
        while (*p && *p < 0x80 && !isalnum(*p))
            p++;
        if (!*p)
            break;
        if (o + 8 >= cap)
            return false;
        o += (size_t)snprintf(out + o, cap - o, "%s'", words ? " & " : "");
        while (*p && (*p >= 0x80 || isalnum(*p)) && o + 6 < cap)
            out[o++] = (char)*p++;
        out[o++] = '\'';
        out[o] = 0;
        words++;
    }
    if (!words || o + 3 >= cap)
        return false;
    snprintf(out + o, cap - o, ":*");
    return true;
}

enum lend_status lend_titles_search(struct db *db, const struct lend_title_query *q, json_t **out,
                                    struct lend_err *err)
{
    if (q->kind && !valid_kind(q->kind))
        return lend_fail(err, LEND_INVALID, "invalid_kind", "kind must be ebook, audio or video");
    if (q->q && strlen(q->q) > 500)
        return lend_fail(err, LEND_INVALID, "query_too_long", "A search has at most 500 characters.");
    if (q->q && !utf8_or_null(q->q))
        return lend_fail(err, LEND_INVALID, "invalid_query", "A search must be UTF-8 text.");
    char limit[16], offset[32];
    snprintf(limit, sizeof limit, "%d", q->per_page);
    snprintf(offset, sizeof offset, "%lld", (long long)(q->page - 1) * q->per_page);
    const char *text = q->q && *q->q ? q->q : NULL;
    const char *p[8] = {text, q->kind && *q->kind ? q->kind : NULL, q->language && *q->language ? q->language : NULL,
                        limit, offset, q->available ? "true" : "false", q->consortium,
                        q->library && *q->library ? q->library : NULL};
    /* Full text first; then the words as typed, the last one a prefix; then similarity. */
    char prefix[1600];
    bool have_prefix = text && prefix_query(text, prefix, sizeof prefix);
    static const char *plan[] = {"titles_text", "titles_prefix", "titles_similar"};
    static const char *names[] = {"text", "prefix", "similar"};
    const char *match = text ? "text" : "all";
    PGresult *res = NULL;
    int qs = 0;
    for (int step = 0; step < (text ? 3 : 1); step++) {
        if (step == 1 && !have_prefix)
            continue;
        const char *stmt = text ? plan[step] : "titles_all";
        p[0] = step == 1 ? prefix : text;
        PQclear(res);
        res = db_exec(db, stmt, 8, p, &qs);
        if (!res)
            return db_failed(db, qs, err);
        if (text)
            match = names[step];
        if (!text || db_get_ll(res, 0, "total") > 0)
            break;
    }
    json_t *items = json_array();
    long long total = db_get_ll(res, 0, "total");
    for (int i = 0; i < qs; i++)
        if (db_get(res, i, "id"))
            json_array_append_new(items, title_json(res, i));
    PQclear(res);
    *out = json_pack("{s:o, s:I, s:s, s:b}", "items", items, "total", (json_int_t)total, "match", match,
                     "total_capped", text && total >= DB_SEARCH_CAP);
    return LEND_OK;
}
