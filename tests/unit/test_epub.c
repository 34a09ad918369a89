/*
 * lending/epub.c: every book of the shared corpus (epub/valid opens with what its publisher
 * wrote, epub/invalid is refused with its specific code, by path and from memory), and
 * archives built here with libzip for what the corpus lacks.
 */
#include "testlib.h"

#include "pretnum/epub.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zip.h>

/* ---- helpers ---- */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct epub *open_path(const char *path, const struct epub_limits *lim)
{
    struct epub *e = NULL;
    struct epub_error err = {0};
    int rc = epub_open_file(path, lim, &e, &err);
    if (rc != 0)
        print_message("# unexpected refusal of %s: %s: %s\n", path, err.code, err.message);
    assert_int_equal(rc, 0);
    assert_non_null(e);
    return e;
}

static struct epub *open_corpus(const char *rel)
{
    return open_path(t_corpus(rel), NULL);
}

/*
 * Asserts that the file at path is refused with code, both by path and from memory, and
 * returns the message (static storage) for further checks.
 */
static const char *expect_refused(const char *path, const struct epub_limits *lim, const char *code)
{
    static struct epub_error err;
    struct epub *e = (struct epub *)1;
    memset(&err, 0, sizeof err);
    int rc = epub_open_file(path, lim, &e, &err);
    if (rc == 0 || strcmp(err.code, code) != 0)
        print_message("# %s: got rc %d, %s: %s\n", path, rc, err.code ? err.code : "(none)",
                      err.message);
    assert_int_equal(rc, -1);
    assert_null(e);
    assert_string_equal(err.code, code);
    assert_true(err.message[0] != 0);

    size_t len;
    char *data = t_slurp(path, &len);
    assert_non_null(data);
    struct epub_error berr = {0};
    e = (struct epub *)1;
    rc = epub_open_buffer(data, len, lim, &e, &berr);
    free(data);
    assert_int_equal(rc, -1);
    assert_null(e);
    assert_string_equal(berr.code, code);
    return err.message;
}

static void expect_corpus_refused(const char *rel, const char *code)
{
    expect_refused(t_corpus(rel), NULL, code);
}

static void assert_contains(const char *haystack, const char *needle)
{
    if (!strstr(haystack, needle))
        print_message("# \"%s\" does not contain \"%s\"\n", haystack, needle);
    assert_non_null(strstr(haystack, needle));
}

static const struct epub_item *item(const struct epub_meta *m, const char *id)
{
    for (size_t i = 0; i < m->n_manifest; i++)
        if (strcmp(m->manifest[i].id, id) == 0)
            return &m->manifest[i];
    return NULL;
}

static size_t toc_count(const struct epub_toc_entry *t, size_t n)
{
    size_t c = n;
    for (size_t i = 0; i < n; i++)
        c += toc_count(t[i].children, t[i].n_children);
    return c;
}

/* ---- building archives ---- */

#define STORED ZIP_CM_STORE
#define DEFLATED ZIP_CM_DEFLATE

struct zentry {
    const char *name;
    const void *data;
    size_t len; /* 0: strlen(data) */
    int method;
};

struct built {
    char *dir;
    char path[512];
};

/* Zeros, streamed to libzip so a large entry never sits in memory. */
struct zeros {
    zip_uint64_t size, pos;
};

static zip_int64_t zeros_cb(void *ud, void *data, zip_uint64_t len, zip_source_cmd_t cmd)
{
    struct zeros *z = ud;
    switch (cmd) {
    case ZIP_SOURCE_OPEN:
        z->pos = 0;
        return 0;
    case ZIP_SOURCE_READ: {
        zip_uint64_t n = z->size - z->pos < len ? z->size - z->pos : len;
        memset(data, 0, n);
        z->pos += n;
        return (zip_int64_t)n;
    }
    case ZIP_SOURCE_CLOSE:
    case ZIP_SOURCE_FREE:
        return 0;
    case ZIP_SOURCE_STAT: {
        zip_stat_t *st = data;
        zip_stat_init(st);
        st->size = z->size;
        st->valid |= ZIP_STAT_SIZE;
        return sizeof *st;
    }
    case ZIP_SOURCE_ERROR:
        memset(data, 0, 2 * sizeof(int));
        return 2 * sizeof(int);
    case ZIP_SOURCE_SUPPORTS:
        return zip_source_make_command_bitmap(ZIP_SOURCE_OPEN, ZIP_SOURCE_READ, ZIP_SOURCE_CLOSE,
                                              ZIP_SOURCE_STAT, ZIP_SOURCE_ERROR, ZIP_SOURCE_FREE,
                                              -1);
    default:
        return -1;
    }
}

/* Writes the entries, in order, to a fresh tmpdir; zeros (may be NULL) is added last as name. */
static void build(struct built *b, const struct zentry *v, size_t n, const char *zeros_name,
                  struct zeros *zeros)
{
    b->dir = t_tmpdir("epub");
    assert_non_null(b->dir);
    snprintf(b->path, sizeof b->path, "%s/book.epub", b->dir);
    int ze = 0;
    zip_t *za = zip_open(b->path, ZIP_CREATE | ZIP_EXCL, &ze);
    assert_non_null(za);
    for (size_t i = 0; i < n; i++) {
        size_t len = v[i].len ? v[i].len : strlen(v[i].data);
        zip_source_t *src = zip_source_buffer(za, v[i].data, len, 0);
        assert_non_null(src);
        zip_int64_t idx = zip_file_add(za, v[i].name, src, 0);
        assert_true(idx >= 0);
        assert_int_equal(zip_set_file_compression(za, (zip_uint64_t)idx, v[i].method, 0), 0);
    }
    if (zeros) {
        zip_source_t *src = zip_source_function(za, zeros_cb, zeros);
        assert_non_null(src);
        zip_int64_t idx = zip_file_add(za, zeros_name, src, 0);
        assert_true(idx >= 0);
        assert_int_equal(zip_set_file_compression(za, (zip_uint64_t)idx, ZIP_CM_DEFLATE, 9), 0);
    }
    assert_int_equal(zip_close(za), 0);
}

static void built_done(struct built *b)
{
    t_rmtree(b->dir);
    free(b->dir);
}

#define OPF_HEAD                                                                                   \
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"                                                 \
    "<package xmlns=\"http://www.idpf.org/2007/opf\" version=\"3.0\" unique-identifier=\"u\">"     \
    "<metadata xmlns:dc=\"http://purl.org/dc/elements/1.1/\">"                                     \
    "<dc:identifier id=\"u\">urn:uuid:00000000-0000-4000-8000-000000000000</dc:identifier>"        \
    "<dc:title>Built</dc:title><dc:language>en</dc:language></metadata>"
#define MANIFEST_MIN                                                                               \
    "<manifest>"                                                                                   \
    "<item id=\"nav\" href=\"nav.xhtml\" media-type=\"application/xhtml+xml\" "                    \
    "properties=\"nav\"/>"                                                                         \
    "<item id=\"ch1\" href=\"ch1.xhtml\" media-type=\"application/xhtml+xml\"/>"                   \
    "</manifest>"
#define SPINE_MIN "<spine><itemref idref=\"ch1\"/></spine>"
#define OPF_MIN OPF_HEAD MANIFEST_MIN SPINE_MIN "</package>"

#define NAV_OPEN                                                                                   \
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"                                                 \
    "<html xmlns=\"http://www.w3.org/1999/xhtml\" xmlns:epub=\"http://www.idpf.org/2007/ops\">"    \
    "<head><title>nav</title></head><body>"
#define NAV_CLOSE "</body></html>"
#define NAV_MIN                                                                                    \
    NAV_OPEN                                                                                       \
    "<nav epub:type=\"toc\"><ol><li><a href=\"ch1.xhtml\">One</a></li></ol></nav>" NAV_CLOSE

static const char CONTAINER[] =
    "<?xml version=\"1.0\"?>\n"
    "<container version=\"1.0\" xmlns=\"urn:oasis:names:tc:opendocument:xmlns:container\">"
    "<rootfiles><rootfile full-path=\"OEBPS/content.opf\" "
    "media-type=\"application/oebps-package+xml\"/></rootfiles></container>";
static const char CH1[] = "<?xml version=\"1.0\"?>\n<html xmlns=\"http://www.w3.org/1999/xhtml\">"
                          "<head><title>1</title></head><body><p>One.</p></body></html>";

/* mimetype, container, OEBPS/content.opf (opf), OEBPS/nav.xhtml (nav), OEBPS/ch1.xhtml, extras. */
static void book(struct built *b, const char *opf, const char *nav, const struct zentry *extra,
                 size_t n_extra)
{
    struct zentry v[48] = {
        {"mimetype", "application/epub+zip", 0, STORED},
        {"META-INF/container.xml", CONTAINER, 0, DEFLATED},
        {"OEBPS/content.opf", opf, 0, DEFLATED},
        {"OEBPS/nav.xhtml", nav, 0, DEFLATED},
        {"OEBPS/ch1.xhtml", CH1, 0, DEFLATED},
    };
    assert_true(n_extra <= 48 - 5);
    for (size_t i = 0; i < n_extra; i++)
        v[5 + i] = extra[i];
    build(b, v, 5 + n_extra, NULL, NULL);
}

static void set16(unsigned char *p, unsigned v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
}

static void set32(unsigned char *p, uint32_t v)
{
    set16(p, v & 0xffff);
    set16(p + 2, v >> 16);
}

static uint32_t get32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/*
 * Rewrites the named entry's central and local headers in place: what a hostile archiver
 * would write. field: offset in the central record; the local offset is derived (-2).
 */
static void patch_entry(const char *path, const char *name, unsigned central_off, uint32_t value,
                        int width)
{
    size_t len;
    unsigned char *d = (unsigned char *)t_slurp(path, &len);
    assert_non_null(d);
    size_t nl = strlen(name);
    int done = 0;
    for (size_t i = 0; i + 46 <= len; i++) {
        if (get32(d + i) != 0x02014b50u || (size_t)(d[i + 28] | d[i + 29] << 8) != nl ||
            i + 46 + nl > len || memcmp(d + i + 46, name, nl) != 0)
            continue;
        unsigned char *c = d + i, *l = d + get32(c + 42);
        /* Central: method 10, usize 24; local: method 8, usize 22. */
        if (width == 2) {
            set16(c + central_off, value);
            set16(l + central_off - 2, value);
        } else {
            set32(c + central_off, value);
            set32(l + central_off - 2, value);
        }
        done = 1;
    }
    assert_true(done);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(d, 1, len, f), len);
    fclose(f);
    free(d);
}

/* ---- the valid corpus ---- */

static void test_valid_childrens_literature(void **state)
{
    (void)state;
    struct epub *e = open_corpus("epub/valid/idpf-childrens-literature.epub");
    const struct epub_meta *m = epub_meta(e);
    assert_string_equal(m->opf_path, "EPUB/package.opf");
    assert_string_equal(m->version, "3.0");
    /* Two titles; the one refined as title-type main wins. */
    assert_string_equal(m->title, "Children's Literature");
    assert_int_equal(m->n_creators, 2);
    assert_string_equal(m->creators[0].name, "Charles Madison Curry");
    assert_string_equal(m->creators[0].file_as, "Curry, Charles Madison");
    assert_null(m->creators[0].role);
    assert_string_equal(m->creators[1].name, "Erle Elsworth Clippinger");
    assert_string_equal(m->creators[1].file_as, "Clippinger, Erle Elsworth");
    assert_int_equal(m->languages.n, 1);
    assert_string_equal(m->languages.v[0], "en");
    assert_string_equal(m->unique_identifier, "http://www.gutenberg.org/ebooks/25545");
    assert_int_equal(m->n_identifiers, 1);
    assert_int_equal(m->identifiers[0].is_isbn, 0);
    assert_string_equal(m->date, "2008-05-20");
    assert_int_equal(m->subjects.n, 2);
    assert_string_equal(m->subjects.v[1], "Children's literature -- Study and teaching");
    assert_string_equal(m->rights, "Public domain in the USA.");
    assert_null(m->publisher);
    assert_non_null(m->cover);
    assert_string_equal(m->cover->href, "EPUB/images/cover.png");
    assert_string_equal(m->cover->media_type, "image/png");
    assert_string_equal(m->layout, "reflowable");
    assert_int_equal(m->n_manifest, 7);
    assert_int_equal(m->n_spine, 3);
    assert_string_equal(m->spine[0].item->href, "EPUB/cover.xhtml");
    assert_string_equal(m->spine[2].item->href, "EPUB/s04.xhtml");

    /* The nav document wins over the NCX; headings (span) have no href. */
    assert_string_equal(m->toc_path, "EPUB/nav.xhtml");
    assert_int_equal(m->n_toc, 1);
    const struct epub_toc_entry *top = &m->toc[0];
    assert_string_equal(top->title, "SECTION IV FAIRY STORIES\xe2\x80\x94MODERN FANTASTIC TALES");
    assert_string_equal(top->href, "EPUB/s04.xhtml");
    assert_string_equal(top->fragment, "pgepubid00492");
    assert_int_equal(top->n_children, 11);
    assert_string_equal(top->children[0].title, "BIBLIOGRAPHY");
    const struct epub_toc_entry *isaacs = &top->children[2];
    assert_string_equal(isaacs->title, "Abram S. Isaacs");
    assert_null(isaacs->href);
    assert_int_equal(isaacs->n_children, 1);
    assert_int_equal(isaacs->children[0].n_children, 4);
    /* Titles spread over lines and tabs are collapsed. */
    assert_string_equal(isaacs->children[0].children[0].title, "I. The Rabbi and the Diadem");
    assert_int_equal(toc_count(m->toc, m->n_toc), 31);
    assert_int_equal(m->toc_truncated, 0);
    epub_close(e);
}

static void test_valid_page_blanche(void **state)
{
    (void)state;
    struct epub *e = open_corpus("epub/valid/idpf-page-blanche.epub");
    const struct epub_meta *m = epub_meta(e);
    assert_string_equal(m->title, "Page Blanche");
    assert_int_equal(m->n_creators, 2);
    assert_string_equal(m->creators[0].name, "Boulet");
    assert_string_equal(m->creators[0].role, "aut");
    assert_string_equal(m->creators[1].name, "Bagieu P\xc3\xa9n\xc3\xa9lope");
    assert_string_equal(m->creators[1].role, "ill");
    assert_string_equal(m->creators[1].file_as, "Bagieu, P\xc3\xa9n\xc3\xa9lope");
    assert_int_equal(m->n_contributors, 1);
    assert_string_equal(m->contributors[0].name, "Vincent Gros");
    assert_string_equal(m->contributors[0].role, "mrk");
    assert_string_equal(m->contributors[0].file_as, "Gros, Vincent");
    assert_string_equal(m->publisher, "\xc3\xa9"
                                      "ditions Delcourt");
    assert_string_equal(m->languages.v[0], "fr");
    assert_string_equal(m->date, "2012-01-18");
    assert_non_null(strstr(m->rights, "CC BY-SA 3.0"));
    assert_string_equal(m->layout, "pre-paginated");
    /* cover-image wins over <meta name="cover" content="cover">, which names no item. */
    assert_string_equal(m->cover->href, "EPUB/Image/cover.jpg");
    assert_int_equal(m->n_manifest, 22);
    assert_int_equal(m->n_spine, 10);
    assert_string_equal(m->spine[0].properties, "page-spread-right");
    assert_string_equal(m->toc_path, "EPUB/Navigation/nav.xhtml");
    assert_int_equal(m->n_toc, 2);
    assert_string_equal(m->toc[0].title, "D\xc3\xa9"
                                         "dicace");
    /* "../Content/..." relative to EPUB/Navigation/. */
    assert_string_equal(m->toc[0].href, "EPUB/Content/PageBlanche_Page_002.xhtml");
    assert_string_equal(m->toc[1].title, "Commencer la lecture");
    epub_close(e);
}

static void test_valid_haruko(void **state)
{
    (void)state;
    struct epub *e = open_corpus("epub/valid/idpf-haruko-html-jpeg.epub");
    const struct epub_meta *m = epub_meta(e);
    assert_string_equal(m->title, "\xe3\x83\x8f\xe3\x83\xab\xe3\x82\xb3\xe3\x81\x95\xe3\x82\x93"
                                  "\xe3\x81\xae\xe5\xbd\xbc\xe6\xb0\x8f");
    assert_string_equal(m->languages.v[0], "ja-jp");
    assert_int_equal(m->n_creators, 0);
    assert_string_equal(m->layout, "pre-paginated");
    assert_string_equal(m->page_progression_direction, "rtl");
    assert_null(m->cover);
    assert_int_equal(m->n_manifest, 30);
    assert_int_equal(m->n_spine, 13);
    assert_string_equal(m->spine[12].item->href, "OPS/xhtml/AboutThisDocument.xhtml");
    assert_string_equal(m->spine[12].properties, "page-spread-left rendition:layout-reflowable");
    assert_string_equal(item(m, "j01")->href, "OPS/images/01.jpg");
    assert_string_equal(m->toc_path, "OPS/xhtml/toc.xhtml");
    assert_int_equal(m->n_toc, 2);
    assert_string_equal(m->toc[1].href, "OPS/xhtml/AboutThisDocument.xhtml");
    epub_close(e);
}

static void test_valid_wasteland_obfuscated_fonts(void **state)
{
    (void)state;
    struct epub *e = open_corpus("epub/valid/idpf-wasteland-otf-obf.epub");
    const struct epub_meta *m = epub_meta(e);
    assert_string_equal(m->opf_path, "EPUB/wasteland.opf");
    assert_string_equal(m->title, "The Waste Land");
    assert_int_equal(m->n_creators, 1);
    assert_string_equal(m->creators[0].name, "T.S. Eliot");
    assert_string_equal(m->languages.v[0], "en-US");
    assert_string_equal(m->date, "2011-09-01");
    assert_string_equal(m->description, "OTF font obfuscated using algorithm defined in OCF 3.0, "
                                        "fallback to sans-serif system font");
    assert_string_equal(m->cover->href, "EPUB/wasteland-cover.jpg");
    /* encryption.xml with the IDPF algorithm is accepted and marks the three fonts. */
    const char *fonts[] = {"font.OldStandard.regular", "font.OldStandard.italic",
                           "font.OldStandard.bold"};
    for (size_t i = 0; i < 3; i++) {
        const struct epub_item *it = item(m, fonts[i]);
        assert_non_null(it);
        assert_non_null(it->obfuscation);
        assert_string_equal(it->obfuscation, "http://www.idpf.org/2008/embedding");
    }
    assert_null(item(m, "css")->obfuscation);
    assert_int_equal(m->n_toc, 6);
    assert_string_equal(m->toc[5].title, "NOTES ON \"THE WASTE LAND\"");
    assert_string_equal(m->toc[5].href, "EPUB/wasteland-content.xhtml");
    assert_string_equal(m->toc[5].fragment, "rearnotes");
    /* The obfuscated font is delivered as stored (de-obfuscation is the reader's job). */
    uint64_t size = 0;
    assert_int_equal(epub_entry_size(e, "EPUB/OldStandard-Regular.obf.otf", &size), 1);
    assert_int_equal(size, 443980);
    epub_close(e);
}

static void test_valid_writing_mode(void **state)
{
    (void)state;
    struct epub *e = open_corpus("epub/valid/w3c-css-epub-writing-mode.epub");
    const struct epub_meta *m = epub_meta(e);
    assert_string_equal(m->title, "css-epub-writing-mode");
    assert_string_equal(m->creators[0].name, "Wendy Reid");
    assert_string_equal(m->publisher, "W3C");
    assert_string_equal(m->date, "2022-03-02");
    assert_string_equal(m->description, "Tests for the prefixed CSS property -epub-writing-mode");
    assert_null(m->rights);
    assert_null(m->cover);
    assert_int_equal(m->n_spine, 3);
    assert_string_equal(m->toc_path, "EPUB/nav.xhtml");
    assert_int_equal(m->n_toc, 1);
    assert_string_equal(m->toc[0].title, "Link to main page");
    assert_string_equal(m->toc[0].href, "EPUB/content_001.xhtml");
    assert_null(m->toc[0].fragment);
    epub_close(e);
}

static void test_valid_smoketest_fxl(void **state)
{
    (void)state;
    struct epub *e = open_corpus("epub/valid/readium-SmokeTestFXL.epub");
    const struct epub_meta *m = epub_meta(e);
    assert_string_equal(m->opf_path, "content.opf");
    assert_string_equal(m->title, "Smoke Test FXL");
    assert_int_equal(m->n_creators, 7);
    assert_string_equal(m->creators[6].name, "Ric Wright");
    assert_string_equal(m->publisher, "Readium");
    assert_string_equal(m->rights, "Public Domain");
    assert_string_equal(m->layout, "pre-paginated");
    assert_string_equal(m->cover->href, "images/EPUB-Logo-Smoke.png");
    assert_int_equal(m->n_manifest, 130);
    assert_int_equal(m->n_spine, 76);
    size_t nonlinear = 0;
    for (size_t i = 0; i < m->n_spine; i++)
        nonlinear += !m->spine[i].linear;
    assert_int_equal(nonlinear, 2);
    /* IDPF and Adobe obfuscation are both accepted. */
    assert_string_equal(item(m, "sandome-ttf-obf")->obfuscation,
                        "http://www.idpf.org/2008/embedding");
    assert_string_equal(item(m, "sandome-ttf-adb")->obfuscation, "http://ns.adobe.com/pdf/enc#RC");
    assert_null(item(m, "sandome-ttf")->obfuscation);
    assert_int_equal(m->n_toc, 13);
    assert_string_equal(m->toc[12].title, "Test Links");
    assert_null(m->toc[12].href);
    assert_int_equal(m->toc[12].n_children, 2);
    assert_string_equal(m->toc[12].children[1].fragment, "nav-2b");
    epub_close(e);
}

static void test_valid_smoketest_epub2_ncx(void **state)
{
    (void)state;
    struct epub *e = open_corpus("epub/valid/readium-SmokeTest-EPUB2.epub");
    const struct epub_meta *m = epub_meta(e);
    assert_string_equal(m->version, "2.0");
    assert_string_equal(m->title, "SmokeTest - EPUB 2");
    assert_string_equal(m->creators[0].name, "Ric Wright");
    assert_string_equal(m->date, "2014-02-27");
    assert_int_equal(m->subjects.n, 1);
    assert_string_equal(m->subjects.v[0], "testfile");
    assert_string_equal(m->unique_identifier, "org.readium.smoketest.epub2");
    /* <meta name="cover" content="cover-image"> names no item, and no item is called "cover". */
    assert_null(m->cover);
    assert_int_equal(m->n_spine, 3);
    assert_string_equal(m->toc_path, "xhtml/toc.ncx");
    assert_int_equal(m->n_toc, 2);
    assert_string_equal(m->toc[0].title, "1. King Solomon's Mines");
    assert_string_equal(m->toc[0].href, "xhtml/chapter01.xhtml");
    assert_string_equal(m->toc[1].title, "2. The Marvellous Land of Oz");
    epub_close(e);
}

static void test_valid_epub2_minimal_ncx(void **state)
{
    (void)state;
    struct epub *e = open_corpus("epub/valid/epubcheck-epub2-ocf-minimal-valid.epub");
    const struct epub_meta *m = epub_meta(e);
    assert_string_equal(m->version, "2.0");
    assert_string_equal(m->title, "Minimal EPUB 2.0");
    assert_string_equal(m->identifiers[0].value, "NOID");
    assert_int_equal(m->n_creators, 0);
    assert_int_equal(m->n_manifest, 2);
    assert_int_equal(m->n_spine, 1);
    assert_string_equal(m->toc_path, "OPS/toc.ncx");
    assert_int_equal(m->n_toc, 1);
    assert_string_equal(m->toc[0].title, "Loomings");
    assert_string_equal(m->toc[0].href, "OPS/content_001.xhtml");
    epub_close(e);
}

/* Opening from memory gives what opening the file gives. */
static void test_valid_buffer_matches_file(void **state)
{
    (void)state;
    static const char *const books[] = {
        "epub/valid/epubcheck-epub2-ocf-minimal-valid.epub",
        "epub/valid/idpf-childrens-literature.epub",
        "epub/valid/idpf-haruko-html-jpeg.epub",
        "epub/valid/idpf-page-blanche.epub",
        "epub/valid/idpf-wasteland-otf-obf.epub",
        "epub/valid/readium-SmokeTest-EPUB2.epub",
        "epub/valid/readium-SmokeTestFXL.epub",
        "epub/valid/w3c-css-epub-writing-mode.epub",
    };
    for (size_t i = 0; i < sizeof books / sizeof *books; i++) {
        struct epub *f = open_corpus(books[i]);
        size_t len;
        char *data = t_slurp(t_corpus(books[i]), &len);
        assert_non_null(data);
        struct epub *b = NULL;
        struct epub_error err = {0};
        assert_int_equal(epub_open_buffer(data, len, NULL, &b, &err), 0);
        const struct epub_meta *mf = epub_meta(f), *mb = epub_meta(b);
        assert_string_equal(mf->title, mb->title);
        assert_int_equal(mf->n_manifest, mb->n_manifest);
        assert_int_equal(mf->n_spine, mb->n_spine);
        assert_int_equal(toc_count(mf->toc, mf->n_toc), toc_count(mb->toc, mb->n_toc));
        assert_true(mb->n_toc > 0);
        epub_close(b);
        epub_close(f);
        free(data);
    }
}

/* ---- the invalid corpus, one per file ---- */

static void test_invalid_mimetype_missing(void **state)
{
    (void)state;
    expect_corpus_refused("epub/invalid/epubcheck-ocf-mimetype-file-missing-error.epub",
                          EPUB_MIMETYPE_MISSING);
}

static void test_invalid_mimetype_not_first(void **state)
{
    (void)state;
    expect_corpus_refused("epub/invalid/takahashim-epubsample025-mimetype-not-first.epub",
                          EPUB_MIMETYPE_NOT_FIRST);
}

static void test_invalid_mimetype_extra_field(void **state)
{
    (void)state;
    const char *msg = expect_refused(
        t_corpus("epub/invalid/epubcheck-ocf-zip-mimetype-entry-extra-field-error.epub"), NULL,
        EPUB_MIMETYPE_EXTRA_FIELD);
    assert_contains(msg, "byte 66");
}

static void test_invalid_container_missing(void **state)
{
    (void)state;
    expect_corpus_refused("epub/invalid/epubcheck-ocf-container-file-missing-fatal.epub",
                          EPUB_CONTAINER_MISSING);
}

static void test_invalid_spine_missing(void **state)
{
    (void)state;
    const char *msg =
        expect_refused(t_corpus("epub/invalid/epubcheck-epub2-opf-spine-missing-error.epub"), NULL,
                       EPUB_INVALID_OPF);
    assert_contains(msg, "<spine>");
}

static void test_invalid_url_leaking_in_opf(void **state)
{
    (void)state;
    const char *msg =
        expect_refused(t_corpus("epub/invalid/epubcheck-ocf-url-leaking-in-opf-error.epub"), NULL,
                       EPUB_URL_LEAKS_CONTAINER);
    assert_contains(msg, "../../../../EPUB/content_001.xhtml");
}

static void test_invalid_duplicate_zip_entry(void **state)
{
    (void)state;
    expect_corpus_refused("epub/invalid/epubcheck-ocf-filename-duplicate-zip-entry-error.epub",
                          EPUB_DUPLICATE_ENTRY);
}

static void test_invalid_empty_file(void **state)
{
    (void)state;
    expect_corpus_refused("epub/invalid/epubcheck-ocf-zip-unreadable-empty-fatal.epub",
                          EPUB_NOT_A_ZIP);
}

static void test_invalid_truncated(void **state)
{
    (void)state;
    expect_corpus_refused("epub/invalid/libzip-testfile-truncated.zip", EPUB_TRUNCATED_ZIP);
}

static void test_invalid_inconsistent_sizes(void **state)
{
    (void)state;
    expect_corpus_refused("epub/invalid/libzip-incons-central-compsize-larger.zip",
                          EPUB_CORRUPT_ZIP);
}

static void test_invalid_nul_in_name(void **state)
{
    (void)state;
    const char *msg = expect_refused(t_corpus("epub/invalid/libzip-incons-filename-nul-byte.zip"),
                                     NULL, EPUB_UNSAFE_ENTRY_NAME);
    /* libzip shows the name as "te t"; the raw bytes say NUL. */
    assert_contains(msg, "NUL");
}

static void test_invalid_zip_encryption(void **state)
{
    (void)state;
    expect_corpus_refused("epub/invalid/libzip-encrypt.zip", EPUB_ENCRYPTED_ENTRY);
}

static void test_invalid_overlap_bomb(void **state)
{
    (void)state;
    double t0 = now_s();
    const char *msg = expect_refused(t_corpus("epub/invalid/harimypala-zbsm-overlap-bomb.zip"),
                                     NULL, EPUB_ZIP_BOMB);
    assert_contains(msg, "overlap");
    /* Even with limits that would let 546 GB through, the overlap alone refuses it. */
    struct epub_limits huge = {.max_entry_bytes = UINT64_MAX / 2,
                               .max_total_bytes = UINT64_MAX / 2,
                               .max_ratio = 1u << 30};
    msg = expect_refused(t_corpus("epub/invalid/harimypala-zbsm-overlap-bomb.zip"), &huge,
                         EPUB_ZIP_BOMB);
    assert_contains(msg, "overlap");
    assert_true(now_s() - t0 < 2.0);
}

static void test_invalid_zip_slip(void **state)
{
    (void)state;
    const char *msg =
        expect_refused(t_corpus("epub/invalid/snyk-zip-slip.zip"), NULL, EPUB_UNSAFE_ENTRY_NAME);
    assert_contains(msg, "\"..\" segment");
}

/* ---- archives built here ---- */

static void test_built_epub3_full_metadata(void **state)
{
    (void)state;
    static const char opf[] =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        "<package xmlns=\"http://www.idpf.org/2007/opf\" version=\"3.0\" unique-identifier=\"uid\">"
        "<metadata xmlns:dc=\"http://purl.org/dc/elements/1.1/\">"
        "<dc:identifier id=\"uid\">urn:isbn:978-0-306-40615-7</dc:identifier>"
        "<dc:identifier id=\"i2\">0-306-40615-2</dc:identifier>"
        "<dc:identifier id=\"i3\">1234567890123</dc:identifier>"
        "<dc:identifier id=\"i4\">ABC-123</dc:identifier>"
        "<meta refines=\"#i4\" property=\"identifier-type\" scheme=\"onix:codelist5\">15</meta>"
        "<dc:title id=\"t0\">Sous-titre d'abord</dc:title>"
        "<meta refines=\"#t0\" property=\"title-type\">subtitle</meta>"
        "<dc:title id=\"t1\">  Le   Titre\n\t principal </dc:title>"
        "<meta refines=\"#t1\" property=\"title-type\">main</meta>"
        "<dc:creator id=\"c1\">Marie Curie</dc:creator>"
        "<meta refines=\"#c1\" property=\"role\" scheme=\"marc:relators\">aut</meta>"
        "<meta refines=\"#c1\" property=\"file-as\">Curie, Marie</meta>"
        "<dc:contributor id=\"c2\">Jean Dupont</dc:contributor>"
        "<meta refines=\"#c2\" property=\"role\" scheme=\"marc:relators\">trl</meta>"
        "<dc:language>fr</dc:language><dc:language>en</dc:language>"
        "<dc:publisher>\xc3\x89"
        "ditions Test</dc:publisher>"
        "<dc:date>2021-03-04</dc:date>"
        "<dc:description>Un livre &amp; des <![CDATA[tests]]>.</dc:description>"
        "<dc:subject>Physique</dc:subject><dc:rights>CC0</dc:rights>"
        "<meta property=\"dcterms:modified\">2021-03-04T00:00:00Z</meta>"
        "<meta property=\"rendition:layout\">pre-paginated</meta>"
        "<meta property=\"schema:accessMode\">textual</meta>"
        "<meta property=\"schema:accessMode\">visual</meta>"
        "<meta property=\"schema:accessModeSufficient\">textual</meta>"
        "<meta property=\"schema:accessibilityFeature\">structuralNavigation</meta>"
        "<meta property=\"schema:accessibilityFeature\">alternativeText</meta>"
        "<meta property=\"schema:accessibilityHazard\">none</meta>"
        "<meta property=\"schema:accessibilitySummary\">Texte structur\xc3\xa9.</meta>"
        "</metadata><manifest>"
        "<item id=\"nav\" href=\"nav.xhtml\" media-type=\"application/xhtml+xml\" "
        "properties=\"nav\"/>"
        "<item id=\"ch1\" href=\"Text/ch%201.xhtml\" media-type=\"application/xhtml+xml\"/>"
        "<item id=\"ch2\" href=\"./Text/../Text/ch2.xhtml\" media-type=\"application/xhtml+xml\"/>"
        "<item id=\"img\" href=\"images/cover.png\" media-type=\"image/png\" "
        "properties=\"cover-image\"/>"
        "<item id=\"aud\" href=\"https://media.example.org/a.mp3\" media-type=\"audio/mpeg\"/>"
        "</manifest><spine page-progression-direction=\"rtl\">"
        "<itemref idref=\"ch1\"/><itemref idref=\"ch2\" linear=\"no\" "
        "properties=\"page-spread-left\"/>"
        "</spine></package>";
    static const char nav[] = NAV_OPEN
        "<nav epub:type=\"landmarks\"><ol><li><a href=\"Text/ch2.xhtml\">Landmark</a></li>"
        "</ol></nav><nav epub:type=\"toc\"><h1>Contents</h1><ol>"
        "<li><a href=\"Text/ch%201.xhtml#s1\">Chapitre <em>un</em></a>"
        "<ol><li><a href=\"#top\">Retour</a></li></ol></li>"
        "<li><span>Annexes</span><ol><li><a href=\"Text/ch2.xhtml\">Deux</a></li></ol></li>"
        "</ol></nav>" NAV_CLOSE;
    struct zentry extra[] = {
        {"OEBPS/Text/ch 1.xhtml", CH1, 0, DEFLATED},
        {"OEBPS/Text/ch2.xhtml", CH1, 0, DEFLATED},
        {"OEBPS/images/cover.png", "\x89PNG\r\n\x1a\n", 8, STORED},
    };
    struct built b;
    book(&b, opf, nav, extra, 3);
    struct epub *e = open_path(b.path, NULL);
    const struct epub_meta *m = epub_meta(e);
    assert_string_equal(m->title, "Le Titre principal");
    assert_string_equal(m->unique_identifier, "urn:isbn:978-0-306-40615-7");
    assert_int_equal(m->n_identifiers, 4);
    assert_int_equal(m->identifiers[0].is_isbn, 1);
    assert_string_equal(m->identifiers[0].isbn, "9780306406157");
    assert_int_equal(m->identifiers[1].is_isbn, 1); /* bare ISBN-10 with a valid check digit */
    assert_string_equal(m->identifiers[1].isbn, "0306406152");
    assert_int_equal(m->identifiers[2].is_isbn, 0); /* 13 digits, but no 978/979 nor checksum */
    assert_null(m->identifiers[2].isbn);
    assert_int_equal(m->identifiers[3].is_isbn, 1); /* ONIX code 15, not shaped like one */
    assert_null(m->identifiers[3].isbn);
    assert_int_equal(m->n_creators, 1);
    assert_string_equal(m->creators[0].name, "Marie Curie");
    assert_string_equal(m->creators[0].role, "aut");
    assert_string_equal(m->creators[0].file_as, "Curie, Marie");
    assert_int_equal(m->n_contributors, 1);
    assert_string_equal(m->contributors[0].role, "trl");
    assert_null(m->contributors[0].file_as);
    assert_int_equal(m->languages.n, 2);
    assert_string_equal(m->languages.v[1], "en");
    assert_string_equal(m->publisher, "\xc3\x89"
                                      "ditions Test");
    assert_string_equal(m->description, "Un livre & des tests.");
    assert_string_equal(m->subjects.v[0], "Physique");
    assert_string_equal(m->rights, "CC0");
    assert_string_equal(m->layout, "pre-paginated");
    assert_string_equal(m->page_progression_direction, "rtl");
    assert_int_equal(m->access_modes.n, 2);
    assert_string_equal(m->access_modes.v[0], "textual");
    assert_string_equal(m->access_modes.v[1], "visual");
    assert_int_equal(m->access_modes_sufficient.n, 1);
    assert_int_equal(m->accessibility_features.n, 2);
    assert_string_equal(m->accessibility_features.v[1], "alternativeText");
    assert_int_equal(m->accessibility_hazards.n, 1);
    assert_string_equal(m->accessibility_hazards.v[0], "none");
    assert_string_equal(m->accessibility_summary, "Texte structur\xc3\xa9.");
    assert_string_equal(m->cover->href, "OEBPS/images/cover.png");
    /* Percent-decoded and normalised hrefs; the remote audio keeps its URL. */
    assert_string_equal(item(m, "ch1")->href, "OEBPS/Text/ch 1.xhtml");
    assert_string_equal(item(m, "ch2")->href, "OEBPS/Text/ch2.xhtml");
    assert_int_equal(item(m, "aud")->remote, 1);
    assert_string_equal(item(m, "aud")->href, "https://media.example.org/a.mp3");
    assert_int_equal(item(m, "ch1")->remote, 0);
    assert_int_equal(m->n_spine, 2);
    assert_int_equal(m->spine[0].linear, 1);
    assert_int_equal(m->spine[1].linear, 0);
    assert_string_equal(m->spine[1].properties, "page-spread-left");
    /* The toc nav, not the landmarks before it. */
    assert_int_equal(m->n_toc, 2);
    assert_string_equal(m->toc[0].title, "Chapitre un");
    assert_string_equal(m->toc[0].href, "OEBPS/Text/ch 1.xhtml");
    assert_string_equal(m->toc[0].fragment, "s1");
    assert_string_equal(m->toc[0].children[0].href, "OEBPS/nav.xhtml");
    assert_string_equal(m->toc[0].children[0].fragment, "top");
    assert_string_equal(m->toc[1].title, "Annexes");
    assert_null(m->toc[1].href);
    assert_string_equal(m->toc[1].children[0].href, "OEBPS/Text/ch2.xhtml");
    /* The hrefs are the names to read. */
    unsigned char *buf;
    size_t len;
    struct epub_error err;
    assert_int_equal(epub_read_entry(e, m->spine[0].item->href, 4096, &buf, &len, &err), 0);
    assert_int_equal(len, strlen(CH1));
    assert_memory_equal(buf, CH1, len);
    free(buf);
    epub_close(e);
    built_done(&b);
}

static void test_built_epub2_metadata_and_ncx(void **state)
{
    (void)state;
    static const char container[] =
        "<?xml version=\"1.0\"?>\n"
        "<container version=\"1.0\" xmlns=\"urn:oasis:names:tc:opendocument:xmlns:container\">"
        "<rootfiles><rootfile full-path=\"content.opf\" "
        "media-type=\"application/oebps-package+xml\"/>"
        "</rootfiles></container>";
    static const char opf[] =
        "<?xml version=\"1.0\"?>\n"
        "<package xmlns=\"http://www.idpf.org/2007/opf\" version=\"2.0\" "
        "unique-identifier=\"bookid\">"
        "<metadata xmlns:dc=\"http://purl.org/dc/elements/1.1/\" "
        "xmlns:opf=\"http://www.idpf.org/2007/opf\">"
        "<dc:title>Vingt mille lieues</dc:title>"
        "<dc:creator opf:role=\"aut\" opf:file-as=\"Verne, Jules\">Jules Verne</dc:creator>"
        "<dc:contributor opf:role=\"ill\">Alphonse de Neuville</dc:contributor>"
        "<dc:identifier id=\"bookid\" opf:scheme=\"ISBN\">978-2-07-036822-8</dc:identifier>"
        "<dc:language>fr</dc:language>"
        "<dc:date opf:event=\"creation\">1869</dc:date>"
        "<dc:date opf:event=\"publication\">1870-06-20</dc:date>"
        "<meta name=\"cover\" content=\"cov\"/>"
        "<meta name=\"schema:accessMode\" content=\"textual\"/>"
        "<meta name=\"schema:accessibilityFeature\" content=\"tableOfContents\"/>"
        "<meta name=\"schema:accessibilityHazard\" content=\"noFlashingHazard\"/>"
        "<meta name=\"schema:accessibilitySummary\" content=\"R\xc3\xa9sum\xc3\xa9.\"/>"
        "</metadata><manifest>"
        "<item id=\"ncx\" href=\"toc.ncx\" media-type=\"application/x-dtbncx+xml\"/>"
        "<item id=\"ch1\" href=\"ch1.html\" media-type=\"application/xhtml+xml\"/>"
        "<item id=\"cov\" href=\"cover.jpg\" media-type=\"image/jpeg\"/>"
        "</manifest><spine toc=\"ncx\"><itemref idref=\"ch1\"/></spine></package>";
    static const char ncx[] =
        "<?xml version=\"1.0\"?>\n"
        "<ncx xmlns=\"http://www.daisy.org/z3986/2005/ncx/\" version=\"2005-1\"><head/>"
        "<docTitle><text>x</text></docTitle><navMap>"
        "<navPoint id=\"a\" playOrder=\"1\"><navLabel><text>Partie 1</text></navLabel>"
        "<content src=\"ch1.html#p1\"/>"
        "<navPoint id=\"b\" playOrder=\"2\"><navLabel><text> Chapitre\n 1 </text></navLabel>"
        "<content src=\"ch1.html#c1\"/></navPoint></navPoint>"
        "<navPoint id=\"c\" playOrder=\"3\"><navLabel><text>Fin</text></navLabel>"
        "<content src=\"ch1.html\"/></navPoint>"
        "</navMap></ncx>";
    struct zentry v[] = {
        {"mimetype", "application/epub+zip", 0, STORED},
        {"META-INF/container.xml", container, 0, DEFLATED},
        {"content.opf", opf, 0, DEFLATED},
        {"toc.ncx", ncx, 0, DEFLATED},
        {"ch1.html", CH1, 0, DEFLATED},
        {"cover.jpg", "\xff\xd8\xff\xe0", 4, STORED},
    };
    struct built b;
    build(&b, v, 6, NULL, NULL);
    struct epub *e = open_path(b.path, NULL);
    const struct epub_meta *m = epub_meta(e);
    assert_string_equal(m->version, "2.0");
    assert_string_equal(m->title, "Vingt mille lieues");
    assert_string_equal(m->creators[0].role, "aut");
    assert_string_equal(m->creators[0].file_as, "Verne, Jules");
    assert_string_equal(m->contributors[0].name, "Alphonse de Neuville");
    assert_string_equal(m->contributors[0].role, "ill");
    assert_string_equal(m->identifiers[0].scheme, "ISBN");
    assert_int_equal(m->identifiers[0].is_isbn, 1);
    assert_string_equal(m->identifiers[0].isbn, "9782070368228");
    assert_string_equal(m->date, "1870-06-20"); /* publication beats creation */
    assert_string_equal(m->cover->href, "cover.jpg");
    assert_int_equal(m->access_modes.n, 1);
    assert_string_equal(m->access_modes.v[0], "textual");
    assert_string_equal(m->accessibility_features.v[0], "tableOfContents");
    assert_string_equal(m->accessibility_hazards.v[0], "noFlashingHazard");
    assert_string_equal(m->accessibility_summary, "R\xc3\xa9sum\xc3\xa9.");
    assert_string_equal(m->layout, "reflowable");
    assert_string_equal(m->toc_path, "toc.ncx");
    assert_int_equal(m->n_toc, 2);
    assert_string_equal(m->toc[0].title, "Partie 1");
    assert_string_equal(m->toc[0].href, "ch1.html");
    assert_string_equal(m->toc[0].fragment, "p1");
    assert_int_equal(m->toc[0].n_children, 1);
    assert_string_equal(m->toc[0].children[0].title, "Chapitre 1");
    assert_string_equal(m->toc[0].children[0].fragment, "c1");
    assert_null(m->toc[1].fragment);
    epub_close(e);
    built_done(&b);
}

static void test_built_minimal_opens(void **state)
{
    (void)state;
    struct built b;
    book(&b, OPF_MIN, NAV_MIN, NULL, 0);
    struct epub *e = open_path(b.path, NULL);
    const struct epub_meta *m = epub_meta(e);
    assert_string_equal(m->title, "Built");
    assert_int_equal(m->n_toc, 1);
    assert_string_equal(m->toc[0].href, "OEBPS/ch1.xhtml");
    epub_close(e);
    built_done(&b);
}

static void test_built_mimetype_compressed(void **state)
{
    (void)state;
    struct zentry v[] = {
        {"mimetype", "application/epub+zip", 0, DEFLATED},
        {"META-INF/container.xml", CONTAINER, 0, DEFLATED},
        {"OEBPS/content.opf", OPF_MIN, 0, DEFLATED},
        {"OEBPS/nav.xhtml", NAV_MIN, 0, DEFLATED},
        {"OEBPS/ch1.xhtml", CH1, 0, DEFLATED},
    };
    struct built b;
    build(&b, v, 5, NULL, NULL);
    expect_refused(b.path, NULL, EPUB_MIMETYPE_COMPRESSED);
    built_done(&b);
}

static void test_built_mimetype_wrong(void **state)
{
    (void)state;
    struct zentry v[] = {
        {"mimetype", "application/epub+zip\n", 0, STORED},
        {"META-INF/container.xml", CONTAINER, 0, DEFLATED},
        {"OEBPS/content.opf", OPF_MIN, 0, DEFLATED},
        {"OEBPS/nav.xhtml", NAV_MIN, 0, DEFLATED},
        {"OEBPS/ch1.xhtml", CH1, 0, DEFLATED},
    };
    struct built b;
    build(&b, v, 5, NULL, NULL);
    const char *msg = expect_refused(b.path, NULL, EPUB_MIMETYPE_WRONG);
    assert_contains(msg, "application/epub+zip\\x0a");
    built_done(&b);
}

static void test_built_malformed_opf(void **state)
{
    (void)state;
    struct built b;
    book(&b, OPF_HEAD MANIFEST_MIN "<spine><itemref idref=\"ch1\"></spine></package>", NAV_MIN,
         NULL, 0);
    const char *msg = expect_refused(b.path, NULL, EPUB_MALFORMED_XML);
    assert_contains(msg, "OEBPS/content.opf");
    built_done(&b);
}

static void test_built_malformed_nav(void **state)
{
    (void)state;
    struct built b;
    book(&b, OPF_MIN, NAV_OPEN "<nav epub:type=\"toc\"><ol><li>" NAV_CLOSE, NULL, 0);
    expect_refused(b.path, NULL, EPUB_MALFORMED_XML);
    built_done(&b);
}

static void test_built_malformed_container(void **state)
{
    (void)state;
    struct zentry v[] = {
        {"mimetype", "application/epub+zip", 0, STORED},
        {"META-INF/container.xml", "<container><rootfiles>", 0, DEFLATED},
    };
    struct built b;
    build(&b, v, 2, NULL, NULL);
    expect_refused(b.path, NULL, EPUB_MALFORMED_XML);
    built_done(&b);
}

static void test_built_opf_missing(void **state)
{
    (void)state;
    static const char container[] =
        "<container xmlns=\"urn:oasis:names:tc:opendocument:xmlns:container\"><rootfiles>"
        "<rootfile full-path=\"OEBPS/missing.opf\" media-type=\"application/oebps-package+xml\"/>"
        "</rootfiles></container>";
    struct zentry v[] = {
        {"mimetype", "application/epub+zip", 0, STORED},
        {"META-INF/container.xml", container, 0, DEFLATED},
        {"OEBPS/content.opf", OPF_MIN, 0, DEFLATED},
    };
    struct built b;
    build(&b, v, 3, NULL, NULL);
    const char *msg = expect_refused(b.path, NULL, EPUB_OPF_MISSING);
    assert_contains(msg, "OEBPS/missing.opf");
    built_done(&b);

    static const char no_rootfile[] =
        "<container "
        "xmlns=\"urn:oasis:names:tc:opendocument:xmlns:container\"><rootfiles/></container>";
    v[1].data = no_rootfile;
    build(&b, v, 3, NULL, NULL);
    expect_refused(b.path, NULL, EPUB_OPF_MISSING);
    built_done(&b);
}

static void test_built_unsafe_names(void **state)
{
    (void)state;
    static const char *const names[] = {"OEBPS\\evil.xhtml", "/etc/evil",
                                        "C:/evil.xhtml",     "OEBPS/a\x01.xhtml",
                                        "OEBPS/../../evil",  "OEBPS/\xff.xhtml"};
    static const char *const why[] = {"backslash",         "absolute path",  "drive letter",
                                      "control character", "\"..\" segment", "UTF-8"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        struct zentry extra = {names[i], "x", 0, STORED};
        struct built b;
        book(&b, OPF_MIN, NAV_MIN, &extra, 1);
        const char *msg = expect_refused(b.path, NULL, EPUB_UNSAFE_ENTRY_NAME);
        assert_contains(msg, why[i]);
        built_done(&b);
    }
}

static void test_built_case_fold_duplicate(void **state)
{
    (void)state;
    struct zentry extra = {"OEBPS/CH1.xhtml", CH1, 0, DEFLATED};
    struct built b;
    book(&b, OPF_MIN, NAV_MIN, &extra, 1);
    const char *msg = expect_refused(b.path, NULL, EPUB_DUPLICATE_ENTRY);
    assert_contains(msg, "OEBPS/CH1.xhtml");
    built_done(&b);
}

static void test_built_canonical_duplicate(void **state)
{
    (void)state;
    /* "é" precomposed (U+00E9), decomposed (e + U+0301), and "É": one name once folded. */
    struct zentry pairs[][2] = {
        {{"OEBPS/\xc3\xa9t\xc3\xa9.xhtml", "a", 0, STORED},
         {"OEBPS/e\xcc\x81t\xc3\xa9.xhtml", "b", 0, STORED}},
        {{"OEBPS/\xc3\xa9t\xc3\xa9.xhtml", "a", 0, STORED},
         {"OEBPS/\xc3\x89T\xc3\x89.xhtml", "b", 0, STORED}},
    };
    for (size_t i = 0; i < 2; i++) {
        struct built b;
        book(&b, OPF_MIN, NAV_MIN, pairs[i], 2);
        expect_refused(b.path, NULL, EPUB_DUPLICATE_ENTRY);
        built_done(&b);
    }
    /* Different letters stay different; other scripts pass as they are. */
    struct zentry distinct[] = {{"OEBPS/\xc3\xa9t\xc3\xa9.xhtml", "a", 0, STORED},
                                {"OEBPS/ete.xhtml", "b", 0, STORED},
                                {"OEBPS/\xe6\x97\xa5\xe6\x9c\xac.xhtml", "c", 0, STORED},
                                {"OEBPS/\xf0\x9f\x93\x96.xhtml", "d", 0, STORED}};
    struct built b;
    book(&b, OPF_MIN, NAV_MIN, distinct, 4);
    epub_close(open_path(b.path, NULL));
    built_done(&b);
}

static void test_built_unsupported_compression(void **state)
{
    (void)state;
    struct zentry extra = {"OEBPS/data.bin", "0123456789", 0, STORED};
    struct built b;
    book(&b, OPF_MIN, NAV_MIN, &extra, 1);
    patch_entry(b.path, "OEBPS/data.bin", 10, 14 /* LZMA */, 2);
    const char *msg = expect_refused(b.path, NULL, EPUB_UNSUPPORTED_COMPRESSION);
    assert_contains(msg, "method 14");
    built_done(&b);
}

static void test_built_encryption_flag(void **state)
{
    (void)state;
    struct zentry extra = {"OEBPS/data.bin", "0123456789", 0, STORED};
    struct built b;
    book(&b, OPF_MIN, NAV_MIN, &extra, 1);
    patch_entry(b.path, "OEBPS/data.bin", 8, 1 /* general purpose bit 0 */, 2);
    expect_refused(b.path, NULL, EPUB_ENCRYPTED_ENTRY);
    built_done(&b);
}

/* A single entry of 200 MB of zeros (about 200 KB deflated) under the default limits. */
static void test_built_deflate_bomb_default_limits(void **state)
{
    (void)state;
    struct zentry v[] = {
        {"mimetype", "application/epub+zip", 0, STORED},
        {"META-INF/container.xml", CONTAINER, 0, DEFLATED},
        {"OEBPS/content.opf", OPF_MIN, 0, DEFLATED},
        {"OEBPS/nav.xhtml", NAV_MIN, 0, DEFLATED},
        {"OEBPS/ch1.xhtml", CH1, 0, DEFLATED},
    };
    struct zeros z = {200u << 20, 0};
    struct built b;
    build(&b, v, 5, "OEBPS/zeros.xhtml", &z);
    double t0 = now_s();
    const char *msg = expect_refused(b.path, NULL, EPUB_ZIP_BOMB);
    assert_contains(msg, "OEBPS/zeros.xhtml");
    assert_true(now_s() - t0 < 1.0); /* refused on its declarations, nothing inflated */
    built_done(&b);
}

/* 4 MB of zeros against a lowered per-entry cap, and against the ratio cap alone. */
static void test_built_deflate_bomb_caps(void **state)
{
    (void)state;
    struct zentry v[] = {
        {"mimetype", "application/epub+zip", 0, STORED},
        {"META-INF/container.xml", CONTAINER, 0, DEFLATED},
        {"OEBPS/content.opf", OPF_MIN, 0, DEFLATED},
        {"OEBPS/nav.xhtml", NAV_MIN, 0, DEFLATED},
        {"OEBPS/ch1.xhtml", CH1, 0, DEFLATED},
    };
    struct zeros z = {4u << 20, 0};
    struct built b;
    build(&b, v, 5, "OEBPS/zeros.bin", &z);
    struct epub_limits cap = {.max_entry_bytes = 1u << 20};
    const char *msg = expect_refused(b.path, &cap, EPUB_ZIP_BOMB);
    assert_contains(msg, "more than the limit of 1048576");
    msg = expect_refused(b.path, NULL, EPUB_ZIP_BOMB);
    assert_contains(msg, "ratio");
    /* A ratio cap that allows zeros lets the honest archive through. */
    struct epub_limits lax = {.max_ratio = 5000};
    epub_close(open_path(b.path, &lax));
    struct epub_limits total = {.max_ratio = 5000, .max_total_bytes = 2u << 20};
    msg = expect_refused(b.path, &total, EPUB_ZIP_BOMB);
    assert_contains(msg, "in all");
    built_done(&b);
}

/* An entry whose headers declare 1000 bytes but which inflates to 4 MB. */
static void test_built_lying_size_bomb(void **state)
{
    (void)state;
    struct zentry v[] = {
        {"mimetype", "application/epub+zip", 0, STORED},
        {"META-INF/container.xml", CONTAINER, 0, DEFLATED},
        {"OEBPS/content.opf", OPF_MIN, 0, DEFLATED},
        {"OEBPS/nav.xhtml", NAV_MIN, 0, DEFLATED},
        {"OEBPS/ch1.xhtml", CH1, 0, DEFLATED},
    };
    struct zeros z = {4u << 20, 0};
    struct built b;
    build(&b, v, 5, "OEBPS/zeros.bin", &z);
    patch_entry(b.path, "OEBPS/zeros.bin", 24, 1000, 4);
    const char *msg = expect_refused(b.path, NULL, EPUB_ZIP_BOMB);
    assert_contains(msg, "inflates past its declared 1000 bytes");

    /* Skipping the scan opens it; the read then meets the same counter. */
    struct epub_limits skip = {.flags = EPUB_SKIP_SCAN};
    struct epub *e = open_path(b.path, &skip);
    uint64_t size = 0;
    assert_int_equal(epub_entry_size(e, "OEBPS/zeros.bin", &size), 1);
    assert_int_equal(size, 1000);
    unsigned char *buf = (unsigned char *)1;
    size_t len = 7;
    struct epub_error err = {0};
    assert_int_equal(epub_read_entry(e, "OEBPS/zeros.bin", 1u << 30, &buf, &len, &err), -1);
    assert_string_equal(err.code, EPUB_ZIP_BOMB);
    assert_null(buf);
    epub_close(e);
    built_done(&b);
}

/* One byte of a stored entry flipped on disk: its sizes agree, its CRC does not. */
static void test_built_crc_mismatch(void **state)
{
    (void)state;
    struct zentry extra = {"OEBPS/data.bin", "0123456789abcdef", 0, STORED};
    struct built b;
    book(&b, OPF_MIN, NAV_MIN, &extra, 1);
    size_t len;
    char *d = t_slurp(b.path, &len);
    assert_non_null(d);
    char *hit = memmem(d, len, "0123456789abcdef", 16);
    assert_non_null(hit);
    hit[5] = 'X';
    FILE *f = fopen(b.path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(d, 1, len, f), len);
    fclose(f);
    free(d);
    const char *msg = expect_refused(b.path, NULL, EPUB_CORRUPT_ZIP);
    assert_contains(msg, "CRC");

    struct epub_limits skip = {.flags = EPUB_SKIP_SCAN};
    struct epub *e = open_path(b.path, &skip);
    unsigned char *buf;
    struct epub_error err = {0};
    assert_int_equal(epub_read_entry(e, "OEBPS/data.bin", 100, &buf, &len, &err), -1);
    assert_string_equal(err.code, EPUB_CORRUPT_ZIP);
    assert_null(buf);
    epub_close(e);
    built_done(&b);
}

static void test_built_too_many_entries(void **state)
{
    (void)state;
    struct zentry extra[30];
    char names[30][32];
    for (size_t i = 0; i < 30; i++) {
        snprintf(names[i], sizeof names[i], "OEBPS/extra/%02zu.txt", i);
        extra[i] = (struct zentry){names[i], "x", 0, STORED};
    }
    struct built b;
    book(&b, OPF_MIN, NAV_MIN, extra, 30);
    struct epub_limits lim = {.max_entries = 20};
    const char *msg = expect_refused(b.path, &lim, EPUB_TOO_MANY_ENTRIES);
    assert_contains(msg, "35 entries");
    epub_close(open_path(b.path, NULL)); /* the default cap lets 35 through */
    built_done(&b);
}

static void test_built_url_leaks(void **state)
{
    (void)state;
    static const char *const manifests[] = {
        /* remote, but an image may not be remote */
        "<item id=\"x\" href=\"http://evil.example/i.png\" media-type=\"image/png\"/>",
        "<item id=\"x\" href=\"javascript:alert(1)\" media-type=\"application/xhtml+xml\"/>",
        "<item id=\"x\" href=\"file:///etc/passwd\" media-type=\"text/plain\"/>",
        "<item id=\"x\" href=\"//evil.example/a.css\" media-type=\"text/css\"/>",
        "<item id=\"x\" href=\"../../a.css\" media-type=\"text/css\"/>",
        "<item id=\"x\" href=\"%2e%2e/%2e%2e/a.css\" media-type=\"text/css\"/>",
        "<item id=\"x\" href=\"..\\a.css\" media-type=\"text/css\"/>",
        "<item id=\"x\" href=\"a%00.css\" media-type=\"text/css\"/>",
    };
    char opf[2048];
    for (size_t i = 0; i < sizeof manifests / sizeof *manifests; i++) {
        snprintf(opf, sizeof opf,
                 OPF_HEAD
                 "<manifest>"
                 "<item id=\"nav\" href=\"nav.xhtml\" media-type=\"application/xhtml+xml\" "
                 "properties=\"nav\"/>"
                 "<item id=\"ch1\" href=\"ch1.xhtml\" media-type=\"application/xhtml+xml\"/>"
                 "%s</manifest>" SPINE_MIN "</package>",
                 manifests[i]);
        struct built b;
        book(&b, opf, NAV_MIN, NULL, 0);
        expect_refused(b.path, NULL, EPUB_URL_LEAKS_CONTAINER);
        built_done(&b);
    }
    /* The same goes for the table of contents. */
    struct built b;
    book(&b, OPF_MIN,
         NAV_OPEN "<nav epub:type=\"toc\"><ol><li><a "
                  "href=\"../../../etc/passwd\">x</a></li></ol></nav>" NAV_CLOSE,
         NULL, 0);
    const char *msg = expect_refused(b.path, NULL, EPUB_URL_LEAKS_CONTAINER);
    assert_contains(msg, "table of contents");
    built_done(&b);
}

static void test_built_invalid_opf(void **state)
{
    (void)state;
    static const char *const opfs[] = {
        OPF_HEAD SPINE_MIN "</package>", /* no manifest */
        OPF_HEAD MANIFEST_MIN
        "<spine><itemref idref=\"nope\"/></spine></package>",                    /* unknown idref */
        OPF_HEAD MANIFEST_MIN "<spine/></package>",                              /* empty spine */
        "<?xml version=\"1.0\"?><html xmlns=\"http://www.w3.org/1999/xhtml\"/>", /* not a package */
        OPF_HEAD
        "<manifest><item id=\"ch1\" href=\"ch1.xhtml\" media-type=\"application/xhtml+xml\"/>"
        "<item id=\"ch1\" href=\"nav.xhtml\" media-type=\"application/xhtml+xml\"/>"
        "</manifest>" SPINE_MIN "</package>", /* duplicate id */
    };
    static const char *const why[] = {"<manifest>", "\"nope\"", "no item", "root", "twice"};
    for (size_t i = 0; i < sizeof opfs / sizeof *opfs; i++) {
        struct built b;
        book(&b, opfs[i], NAV_MIN, NULL, 0);
        const char *msg = expect_refused(b.path, NULL, EPUB_INVALID_OPF);
        assert_contains(msg, why[i]);
        built_done(&b);
    }
}

static void test_built_drm_refused(void **state)
{
    (void)state;
    static const char enc[] =
        "<encryption xmlns=\"urn:oasis:names:tc:opendocument:xmlns:container\">"
        "<EncryptedData xmlns=\"http://www.w3.org/2001/04/xmlenc#\">"
        "<EncryptionMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#aes256-cbc\"/>"
        "<CipherData><CipherReference URI=\"OEBPS/ch1.xhtml\"/></CipherData></EncryptedData>"
        "</encryption>";
    struct zentry extra = {"META-INF/encryption.xml", enc, 0, DEFLATED};
    struct built b;
    book(&b, OPF_MIN, NAV_MIN, &extra, 1);
    const char *msg = expect_refused(b.path, NULL, EPUB_ENCRYPTED_RESOURCE);
    assert_contains(msg, "aes256-cbc");
    built_done(&b);
}

/* XML attacks: an external entity is not fetched, an entity bomb does not expand. */
static void test_built_xml_entities(void **state)
{
    (void)state;
    static const char xxe[] =
        "<?xml version=\"1.0\"?>\n<!DOCTYPE package [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>"
        "<package xmlns=\"http://www.idpf.org/2007/opf\" version=\"3.0\" unique-identifier=\"u\">"
        "<metadata xmlns:dc=\"http://purl.org/dc/elements/1.1/\"><dc:identifier "
        "id=\"u\">x</dc:identifier>"
        "<dc:title>A&x;B</dc:title><dc:language>en</dc:language></metadata>" MANIFEST_MIN SPINE_MIN
        "</package>";
    struct built b;
    book(&b, xxe, NAV_MIN, NULL, 0);
    struct epub *e = open_path(b.path, NULL);
    assert_string_equal(epub_meta(e)->title, "AB");
    epub_close(e);
    built_done(&b);

    static const char lol[] =
        "<?xml version=\"1.0\"?>\n<!DOCTYPE package ["
        "<!ENTITY a \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\">"
        "<!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\">"
        "<!ENTITY c \"&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;\">"
        "<!ENTITY d \"&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;\">"
        "<!ENTITY e \"&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;\">"
        "<!ENTITY f \"&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;\">"
        "<!ENTITY g \"&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;\">"
        "<!ENTITY h \"&g;&g;&g;&g;&g;&g;&g;&g;&g;&g;&g;&g;&g;&g;&g;&g;\">]>"
        "<package xmlns=\"http://www.idpf.org/2007/opf\" version=\"3.0\" unique-identifier=\"u\">"
        "<metadata xmlns:dc=\"http://purl.org/dc/elements/1.1/\"><dc:identifier "
        "id=\"u\">x</dc:identifier>"
        "<dc:title>L&h;L</dc:title><dc:language>en</dc:language></metadata>" MANIFEST_MIN SPINE_MIN
        "</package>";
    /* 16^7 x 64 bytes: libxml2 itself calls it a loop. */
    book(&b, lol, NAV_MIN, NULL, 0);
    double t0 = now_s();
    const char *msg = expect_refused(b.path, NULL, EPUB_MALFORMED_XML);
    assert_contains(msg, "entity");
    assert_true(now_s() - t0 < 1.0);
    built_done(&b);

    /* A small amplification passes libxml2, and is still not expanded into the metadata. */
    static const char small[] =
        "<?xml version=\"1.0\"?>\n<!DOCTYPE package ["
        "<!ENTITY a \"aaaaaaaaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;\">]>"
        "<package xmlns=\"http://www.idpf.org/2007/opf\" version=\"3.0\" unique-identifier=\"u\">"
        "<metadata xmlns:dc=\"http://purl.org/dc/elements/1.1/\"><dc:identifier "
        "id=\"u\">x</dc:identifier>"
        "<dc:title>L&b;L</dc:title><dc:language>en</dc:language></metadata>" MANIFEST_MIN SPINE_MIN
        "</package>";
    book(&b, small, NAV_MIN, NULL, 0);
    e = open_path(b.path, NULL);
    assert_string_equal(epub_meta(e)->title, "LL");
    epub_close(e);
    built_done(&b);
}

/* Found by fuzzing: "<" and NULs make libxml2 sniff UCS-4 and fail the conversion, which it
 * printed to stderr despite XML_PARSE_NOERROR. Refused, and silently. */
static void test_built_xml_encoding_error_is_silent(void **state)
{
    (void)state;
    static const char container[] = "<\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0?xml version=\"1.0\"?>\n"
                                    "<container/>";
    struct zentry v[] = {
        {"mimetype", "application/epub+zip", 0, STORED},
        {"META-INF/container.xml", container, sizeof container - 1, DEFLATED},
    };
    struct built b;
    build(&b, v, 2, NULL, NULL);
    char log[600];
    snprintf(log, sizeof log, "%s/stderr.txt", b.dir);
    fflush(stderr);
    int saved = dup(2), fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(saved >= 0 && fd >= 0);
    dup2(fd, 2);
    struct epub *e = NULL;
    struct epub_error err = {0};
    int rc = epub_open_file(b.path, NULL, &e, &err);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    close(fd);
    assert_int_equal(rc, -1);
    assert_string_equal(err.code, EPUB_MALFORMED_XML);
    struct stat st;
    assert_int_equal(stat(log, &st), 0);
    assert_int_equal(st.st_size, 0);
    built_done(&b);
}

static void test_built_toc_depth_capped(void **state)
{
    (void)state;
    char nav[8192];
    size_t w = (size_t)snprintf(nav, sizeof nav, "%s<nav epub:type=\"toc\">", NAV_OPEN);
    for (int i = 0; i < 40; i++)
        w += (size_t)snprintf(nav + w, sizeof nav - w, "<ol><li><a href=\"ch1.xhtml#d%d\">L%d</a>",
                              i, i);
    for (int i = 0; i < 40; i++)
        w += (size_t)snprintf(nav + w, sizeof nav - w, "</li></ol>");
    snprintf(nav + w, sizeof nav - w, "</nav>%s", NAV_CLOSE);
    struct built b;
    book(&b, OPF_MIN, nav, NULL, 0);
    struct epub *e = open_path(b.path, NULL);
    const struct epub_meta *m = epub_meta(e);
    assert_int_equal(m->toc_truncated, 1);
    int depth = 0;
    for (const struct epub_toc_entry *t = m->toc; t; t = t->n_children ? t->children : NULL)
        depth++;
    assert_int_equal(depth, 32);
    assert_int_equal(toc_count(m->toc, m->n_toc), 32);
    epub_close(e);
    built_done(&b);
}

static void test_built_toc_count_capped(void **state)
{
    (void)state;
    static const char li[] = "<li><a href=\"ch1.xhtml\">x</a></li>";
    size_t cap = sizeof NAV_OPEN + 10050 * (sizeof li - 1) + 256;
    char *nav = malloc(cap);
    assert_non_null(nav);
    size_t w = (size_t)snprintf(nav, cap, "%s<nav epub:type=\"toc\"><ol>", NAV_OPEN);
    for (int i = 0; i < 10050; i++)
        w += (size_t)snprintf(nav + w, cap - w, "%s", li);
    snprintf(nav + w, cap - w, "</ol></nav>%s", NAV_CLOSE);
    struct built b;
    book(&b, OPF_MIN, nav, NULL, 0);
    struct epub *e = open_path(b.path, NULL);
    assert_int_equal(epub_meta(e)->n_toc, 10000);
    assert_int_equal(epub_meta(e)->toc_truncated, 1);
    epub_close(e);
    built_done(&b);
    free(nav);
}

static void test_read_entry(void **state)
{
    (void)state;
    struct epub *e = open_corpus("epub/valid/idpf-childrens-literature.epub");
    uint64_t size = 0;
    assert_int_equal(epub_entry_size(e, "EPUB/s04.xhtml", &size), 1);
    assert_int_equal(size, 338187);
    assert_int_equal(epub_entry_size(e, "epub/s04.xhtml", &size), 0); /* names are exact */
    assert_int_equal(epub_entry_size(e, "EPUB/s04.xhtml", NULL), 1);

    unsigned char *buf = (unsigned char *)1;
    size_t len = 7;
    struct epub_error err = {0};
    /* Past its cap: refused, nothing returned. */
    assert_int_equal(epub_read_entry(e, "EPUB/s04.xhtml", 1000, &buf, &len, &err), -1);
    assert_string_equal(err.code, EPUB_ENTRY_TOO_LARGE);
    assert_contains(err.message, "EPUB/s04.xhtml");
    assert_null(buf);
    assert_int_equal(len, 0);
    /* Exactly at its size: read whole, NUL-terminated. */
    assert_int_equal(epub_read_entry(e, "EPUB/s04.xhtml", 338187, &buf, &len, &err), 0);
    assert_int_equal(len, 338187);
    assert_memory_equal(buf, "<?xml", 5);
    assert_int_equal(buf[len], 0);
    free(buf);
    assert_int_equal(epub_read_entry(e, "mimetype", 64, &buf, &len, &err), 0);
    assert_int_equal(len, 20);
    assert_memory_equal(buf, "application/epub+zip", 20);
    free(buf);
    assert_int_equal(epub_read_entry(e, "EPUB/nope.xhtml", 1000, &buf, &len, &err), -1);
    assert_string_equal(err.code, EPUB_ENTRY_NOT_FOUND);
    assert_null(buf);
    epub_close(e);
    epub_close(NULL);
}

static void test_open_errors(void **state)
{
    (void)state;
    struct epub *e = (struct epub *)1;
    struct epub_error err = {0};
    assert_int_equal(epub_open_file("/nonexistent/pretnum/x.epub", NULL, &e, &err), -1);
    assert_null(e);
    assert_string_equal(err.code, EPUB_IO_ERROR);
    assert_contains(err.message, "/nonexistent/pretnum/x.epub");
    assert_int_equal(epub_open_file("/tmp", NULL, &e, &err), -1);
    assert_string_equal(err.code, EPUB_IO_ERROR);
    assert_int_equal(epub_open_buffer("", 0, NULL, &e, &err), -1);
    assert_string_equal(err.code, EPUB_NOT_A_ZIP);
    static const char text[] = "this is not a zip file, just words";
    assert_int_equal(epub_open_buffer(text, sizeof text, NULL, &e, &err), -1);
    assert_string_equal(err.code, EPUB_NOT_A_ZIP);
    assert_null(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_childrens_literature),
        cmocka_unit_test(test_valid_page_blanche),
        cmocka_unit_test(test_valid_haruko),
        cmocka_unit_test(test_valid_wasteland_obfuscated_fonts),
        cmocka_unit_test(test_valid_writing_mode),
        cmocka_unit_test(test_valid_smoketest_fxl),
        cmocka_unit_test(test_valid_smoketest_epub2_ncx),
        cmocka_unit_test(test_valid_epub2_minimal_ncx),
        cmocka_unit_test(test_valid_buffer_matches_file),
        cmocka_unit_test(test_invalid_mimetype_missing),
        cmocka_unit_test(test_invalid_mimetype_not_first),
        cmocka_unit_test(test_invalid_mimetype_extra_field),
        cmocka_unit_test(test_invalid_container_missing),
        cmocka_unit_test(test_invalid_spine_missing),
        cmocka_unit_test(test_invalid_url_leaking_in_opf),
        cmocka_unit_test(test_invalid_duplicate_zip_entry),
        cmocka_unit_test(test_invalid_empty_file),
        cmocka_unit_test(test_invalid_truncated),
        cmocka_unit_test(test_invalid_inconsistent_sizes),
        cmocka_unit_test(test_invalid_nul_in_name),
        cmocka_unit_test(test_invalid_zip_encryption),
        cmocka_unit_test(test_invalid_overlap_bomb),
        cmocka_unit_test(test_invalid_zip_slip),
        cmocka_unit_test(test_built_epub3_full_metadata),
        cmocka_unit_test(test_built_epub2_metadata_and_ncx),
        cmocka_unit_test(test_built_minimal_opens),
        cmocka_unit_test(test_built_mimetype_compressed),
        cmocka_unit_test(test_built_mimetype_wrong),
        cmocka_unit_test(test_built_malformed_opf),
        cmocka_unit_test(test_built_malformed_nav),
        cmocka_unit_test(test_built_malformed_container),
        cmocka_unit_test(test_built_opf_missing),
        cmocka_unit_test(test_built_unsafe_names),
        cmocka_unit_test(test_built_case_fold_duplicate),
        cmocka_unit_test(test_built_canonical_duplicate),
        cmocka_unit_test(test_built_unsupported_compression),
        cmocka_unit_test(test_built_encryption_flag),
        cmocka_unit_test(test_built_deflate_bomb_default_limits),
        cmocka_unit_test(test_built_deflate_bomb_caps),
        cmocka_unit_test(test_built_lying_size_bomb),
        cmocka_unit_test(test_built_crc_mismatch),
        cmocka_unit_test(test_built_too_many_entries),
        cmocka_unit_test(test_built_url_leaks),
        cmocka_unit_test(test_built_invalid_opf),
        cmocka_unit_test(test_built_drm_refused),
        cmocka_unit_test(test_built_xml_entities),
        cmocka_unit_test(test_built_xml_encoding_error_is_silent),
        cmocka_unit_test(test_built_toc_depth_capped),
        cmocka_unit_test(test_built_toc_count_capped),
        cmocka_unit_test(test_read_entry),
        cmocka_unit_test(test_open_errors),
    };
    t_init();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
