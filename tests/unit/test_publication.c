/* The Web Publication Manifest of every valid corpus EPUB. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pretnum/epub.h"
#include "pretnum/publication.h"
#include "testlib.h"

static const char *const books[] = {
    "epub/valid/epubcheck-epub2-ocf-minimal-valid.epub", "epub/valid/idpf-childrens-literature.epub",
    "epub/valid/idpf-haruko-html-jpeg.epub",             "epub/valid/idpf-page-blanche.epub",
    "epub/valid/idpf-wasteland-otf-obf.epub",            "epub/valid/readium-SmokeTest-EPUB2.epub",
    "epub/valid/readium-SmokeTestFXL.epub",              "epub/valid/w3c-css-epub-writing-mode.epub",
};

static size_t count_toc(json_t *a)
{
    size_t n = 0, i;
    json_t *l;
    json_array_foreach(a, i, l) n += 1 + count_toc(json_object_get(l, "children"));
    return n;
}

static size_t count_entries(const struct epub_toc_entry *e, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += 1 + count_entries(e[i].children, e[i].n_children);
    return c;
}

static void test_every_book(void **state)
{
    (void)state;
    for (size_t b = 0; b < sizeof books / sizeof *books; b++) {
        struct epub *e;
        struct epub_error err;
        assert_int_equal(epub_open_file(t_corpus(books[b]), NULL, &e, &err), 0);
        const struct epub_meta *m = epub_meta(e);
        json_t *w = lend_webpub_manifest(m, "/content/TOKEN/", "/content/TOKEN/manifest.json");
        assert_non_null(w);
        assert_string_equal(json_string_value(json_object_get(w, "@context")),
                            "https://readium.org/webpub-manifest/context.jsonld");
        json_t *md = json_object_get(w, "metadata");
        assert_string_equal(json_string_value(json_object_get(md, "title")), m->title);
        json_t *self = json_array_get(json_object_get(w, "links"), 0);
        assert_string_equal(json_string_value(json_object_get(self, "rel")), "self");
        assert_string_equal(json_string_value(json_object_get(self, "type")), "application/webpub+json");

        json_t *order = json_object_get(w, "readingOrder"), *res = json_object_get(w, "resources");
        assert_int_equal(json_array_size(order), m->n_spine);
        assert_int_equal(json_array_size(order) + json_array_size(res), m->n_manifest);
        /* Every link is typed, under the base, and listed once. */
        json_t *seen = json_object();
        json_t *lists[] = {order, res};
        for (int k = 0; k < 2; k++) {
            size_t i;
            json_t *l;
            json_array_foreach(lists[k], i, l) {
                const char *href = json_string_value(json_object_get(l, "href"));
                assert_non_null(json_string_value(json_object_get(l, "type")));
                assert_true(!strncmp(href, "/content/TOKEN/", 15) || !strncmp(href, "http", 4));
                assert_null(json_object_get(seen, href));
                json_object_set_new(seen, href, json_true());
            }
        }
        json_decref(seen);
        assert_int_equal(count_toc(json_object_get(w, "toc")), count_entries(m->toc, m->n_toc));
        json_decref(w);
        epub_close(e);
    }
}

static void test_details(void **state)
{
    (void)state;
    struct epub *e;
    struct epub_error err;
    assert_int_equal(epub_open_file(t_corpus("epub/valid/idpf-haruko-html-jpeg.epub"), NULL, &e, &err), 0);
    json_t *w = lend_webpub_manifest(epub_meta(e), "/c/", "/c/manifest.json");
    json_t *md = json_object_get(w, "metadata");
    assert_string_equal(json_string_value(json_object_get(md, "readingProgression")), "rtl");
    assert_string_equal(json_string_value(json_object_get(json_object_get(md, "presentation"), "layout")), "fixed");
    assert_string_equal(json_string_value(json_object_get(md, "layout")), "fixed");
    assert_string_equal(json_string_value(json_object_get(md, "conformsTo")),
                        "https://readium.org/webpub-manifest/profiles/epub");
    json_decref(w);
    epub_close(e);

    assert_int_equal(epub_open_file(t_corpus("epub/valid/idpf-childrens-literature.epub"), NULL, &e, &err), 0);
    w = lend_webpub_manifest(epub_meta(e), "/c/", "/c/manifest.json");
    md = json_object_get(w, "metadata");
    assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(md, "author"), 0), "name")),
                        "Charles Madison Curry");
    assert_string_equal(json_string_value(json_object_get(md, "published")), "2008-05-20");
    assert_string_equal(json_string_value(json_object_get(md, "language")), "en");
    assert_string_equal(json_string_value(json_object_get(md, "layout")), "reflowable");
    assert_null(json_object_get(md, "presentation"));
    /* The cover is linked, and the first chapter is the first of the reading order. */
    json_t *links = json_object_get(w, "links");
    assert_string_equal(json_string_value(json_object_get(json_array_get(links, 1), "rel")), "cover");
    const char *first = json_string_value(json_object_get(json_array_get(json_object_get(w, "readingOrder"), 0), "href"));
    assert_int_equal(strncmp(first, "/c/EPUB/", 8), 0);
    json_decref(w);
    epub_close(e);

    char *enc = lend_path_encode("OEBPS/Text/chapter one#?.xhtml");
    assert_string_equal(enc, "OEBPS/Text/chapter%20one%23%3F.xhtml");
    free(enc);
    enc = lend_path_encode("été/ü.xhtml");
    assert_string_equal(enc, "%C3%A9t%C3%A9/%C3%BC.xhtml");
    free(enc);
}

/* The positions list of every book: one position per 1024 stored bytes of each reflowable
 * resource (at least one), one per page of a fixed layout; numbered from 1 in reading
 * order; hrefs exactly the readingOrder's; progressions rising from 0 below 1. */
static void test_positions(void **state)
{
    (void)state;
    for (size_t b = 0; b < sizeof books / sizeof *books; b++) {
        struct epub *e;
        struct epub_error err;
        assert_int_equal(epub_open_file(t_corpus(books[b]), NULL, &e, &err), 0);
        const struct epub_meta *m = epub_meta(e);
        bool fixed = m->layout && !strcmp(m->layout, "pre-paginated");
        uint64_t *sizes = calloc(m->n_spine, sizeof *sizes), want = 0;
        assert_non_null(sizes);
        for (size_t i = 0; i < m->n_spine; i++) {
            assert_int_equal(epub_entry_stored_size(e, m->spine[i].item->href, &sizes[i]), 1);
            uint64_t n = fixed ? 1 : (sizes[i] + 1023) / 1024;
            want += n ? n : 1;
        }
        json_t *w = lend_webpub_manifest(m, "/content/T/", "/content/T/manifest.json");
        json_t *p = lend_webpub_positions(m, "/content/T/", sizes);
        assert_non_null(p);
        json_t *list = json_object_get(p, "positions");
        assert_int_equal(json_integer_value(json_object_get(p, "total")), want);
        assert_int_equal(json_array_size(list), want);
        json_t *order = json_object_get(w, "readingOrder");
        size_t item = 0, i;
        json_t *l;
        double last_total = -1, last_in = -1;
        json_array_foreach(list, i, l) {
            const char *href = json_string_value(json_object_get(l, "href"));
            json_t *loc = json_object_get(l, "locations");
            double in = json_real_value(json_object_get(loc, "progression"));
            double total = json_real_value(json_object_get(loc, "totalProgression"));
            /* The next resource of the reading order starts at progression 0. */
            if (strcmp(href, json_string_value(json_object_get(json_array_get(order, item), "href")))) {
                item++;
                last_in = -1;
            }
            assert_true(item < m->n_spine);
            assert_string_equal(href, json_string_value(json_object_get(json_array_get(order, item), "href")));
            assert_string_equal(json_string_value(json_object_get(l, "type")), m->spine[item].item->media_type);
            assert_int_equal(json_integer_value(json_object_get(loc, "position")), (json_int_t)i + 1);
            assert_true(in > last_in && in >= 0 && in < 1);
            assert_true(total > last_total && total >= 0 && total < 1);
            last_in = in;
            last_total = total;
        }
        assert_int_equal(item, m->n_spine - 1);
        json_decref(p);
        json_decref(w);
        free(sizes);
        epub_close(e);
    }
}

int main(void)
{
    t_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_book),
        cmocka_unit_test(test_details),
        cmocka_unit_test(test_positions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
