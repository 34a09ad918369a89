/*
 * Cover thumbnails on the corpus' own pictures (the Readium fixed-layout smoke test
 * carries one logo as PNG, JPEG and GIF): WebP out, the asked width or the picture's own
 * when smaller, proportions kept, far fewer bytes, and clear refusals of what is not a
 * picture, a broken picture and widths out of bounds.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pretnum/epub.h"
#include "pretnum/media.h"
#include "testlib.h"

static struct epub *book;

static int setup(void **state)
{
    (void)state;
    media_init();
    struct epub_error ee;
    return epub_open_file(t_corpus("epub/valid/readium-SmokeTestFXL.epub"), NULL, &book, &ee);
}

static int teardown(void **state)
{
    (void)state;
    epub_close(book);
    return 0;
}

static unsigned char *entry(const char *name, size_t *len)
{
    unsigned char *buf;
    struct epub_error ee;
    assert_int_equal(epub_read_entry(book, name, 32u << 20, &buf, len, &ee), 0);
    return buf;
}

static void assert_webp(const unsigned char *p, size_t n)
{
    assert_true(n > 20);
    assert_memory_equal(p, "RIFF", 4);
    assert_memory_equal(p + 8, "WEBP", 4);
    /* The RIFF size is the file's, less its 8-byte header. */
    size_t riff = (size_t)p[4] | (size_t)p[5] << 8 | (size_t)p[6] << 16 | (size_t)p[7] << 24;
    assert_int_equal(riff + 8 + (riff & 1), n);
}

static void test_every_format(void **state)
{
    (void)state;
    static const char *const names[] = {"images/Readium-Logo-Page.png", "images/Readium-Logo-Page.jpg",
                                        "images/Readium-Logo-Page.gif"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        size_t len;
        unsigned char *src = entry(names[i], &len);
        /* The picture's own size: a thumbnail never grows it. */
        unsigned char *full, *thumb, *again;
        size_t full_len, thumb_len, again_len;
        int sw, sh, w, h, aw, ah;
        struct media_error err;
        assert_int_equal(media_thumbnail(src, len, MEDIA_THUMB_MAX_WIDTH, &full, &full_len, &sw, &sh, &err), 0);
        assert_true(sw > 320 && sh > 0);
        assert_int_equal(media_thumbnail(src, len, 320, &thumb, &thumb_len, &w, &h, &err), 0);
        assert_webp(thumb, thumb_len);
        assert_int_equal(w, 320);
        /* Proportions kept to the pixel. */
        long want_h = ((long)sh * 320 + sw / 2) / sw;
        assert_true(labs(h - want_h) <= 1);
        assert_true(thumb_len * 4 < len);
        /* It is a picture a decoder reads back at the size it says. */
        assert_int_equal(media_thumbnail(thumb, thumb_len, MEDIA_THUMB_MAX_WIDTH, &again, &again_len, &aw, &ah, &err), 0);
        assert_int_equal(aw, w);
        assert_int_equal(ah, h);
        printf("# %s: %zu bytes, %dx%d -> %zu bytes at %dx%d\n", names[i], len, sw, sh, thumb_len, w, h);
        free(again);
        free(thumb);
        free(full);
        free(src);
    }
}

/* A cover with transparency keeps it (WebP's VP8X header says so, an ALPH chunk holds
 * it); a 16-bit PNG and a JPEG with full-resolution colour (4:4:4) are read too. */
static void test_alpha_and_depths(void **state)
{
    (void)state;
    char *dir = t_tmpdir("thumb-alpha"), cmd[1024], file[600];
    static const struct {
        const char *name, *args;
        int alpha;
    } cases[] = {
        {"alpha.png", "-f lavfi -i color=c=red@0.5:size=64x96,format=rgba", 1},
        {"deep.png", "-f lavfi -i testsrc=size=64x96,format=rgb48be", 0},
        {"full-colour.jpg", "-f lavfi -i testsrc=size=64x96 -pix_fmt yuvj444p", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        snprintf(file, sizeof file, "%s/%s", dir, cases[i].name);
        snprintf(cmd, sizeof cmd, "ffmpeg -nostdin -v error -y %s -frames:v 1 %s", cases[i].args, file);
        assert_int_equal(system(cmd), 0);
        size_t len, out_len;
        unsigned char *src = (unsigned char *)t_slurp(file, &len), *out;
        int w, h;
        struct media_error err;
        assert_int_equal(media_thumbnail(src, len, 32, &out, &out_len, &w, &h, &err), 0);
        assert_webp(out, out_len);
        assert_int_equal(w, 32);
        assert_int_equal(h, 48);
        bool has_alpha = out_len > 21 && !memcmp(out + 12, "VP8X", 4) && (out[20] & 0x10);
        assert_int_equal(has_alpha, cases[i].alpha);
        free(out);
        free(src);
    }
    t_rmtree(dir);
    free(dir);
}

static void test_refusals(void **state)
{
    (void)state;
    size_t len;
    unsigned char *src = entry("images/Readium-Logo-Page.png", &len);
    unsigned char *out = (unsigned char *)"untouched";
    size_t out_len = 7;
    struct media_error err;
    assert_int_equal(media_thumbnail(src, len, 8, &out, &out_len, NULL, NULL, &err), -1);
    assert_string_equal(err.code, "bad_width");
    assert_null(out);
    assert_int_equal(out_len, 0);
    assert_int_equal(media_thumbnail(src, len, 4096, &out, &out_len, NULL, NULL, &err), -1);
    assert_string_equal(err.code, "bad_width");
    /* Cut short: the signature is right, the picture is not there. */
    assert_int_equal(media_thumbnail(src, 200, 160, &out, &out_len, NULL, NULL, &err), -1);
    assert_string_equal(err.code, "bad_image");
    assert_null(out);
    free(src);
    /* Not a picture at all: a page of the book. */
    src = entry("xhtml/scripting-005.xhtml", &len);
    assert_int_equal(media_thumbnail(src, len, 160, &out, &out_len, NULL, NULL, &err), -1);
    assert_string_equal(err.code, "unsupported_image");
    free(src);
    assert_int_equal(media_thumbnail(NULL, 0, 160, &out, &out_len, NULL, NULL, &err), -1);
    assert_string_equal(err.code, "bad_image");
    /* A real picture of 36 megapixels is refused before it is decoded (the bound, not the
     * picture, refuses it: one of 16 megapixels made the same way goes through). */
    char *dir = t_tmpdir("thumb"), cmd[1024], file[600];
    static const struct {
        int side, ok;
    } sides[] = {{6000, 0}, {4000, 1}};
    for (size_t i = 0; i < 2; i++) {
        snprintf(file, sizeof file, "%s/big-%d.png", dir, sides[i].side);
        snprintf(cmd, sizeof cmd,
                 "ffmpeg -nostdin -v error -y -f lavfi -i color=c=teal:size=%dx%d -frames:v 1 %s", sides[i].side,
                 sides[i].side, file);
        assert_int_equal(system(cmd), 0);
        size_t big_len;
        unsigned char *big = (unsigned char *)t_slurp(file, &big_len);
        int rc = media_thumbnail(big, big_len, 160, &out, &out_len, NULL, NULL, &err);
        assert_int_equal(rc, sides[i].ok ? 0 : -1);
        if (!sides[i].ok) {
            assert_string_equal(err.code, "bad_image");
            assert_non_null(strstr(err.message, "megapixels"));
            printf("# %dx%d: %s\n", sides[i].side, sides[i].side, err.message);
        }
        free(out);
        free(big);
    }
    /* A JPEG of a hundred scans (here in a comment, which counts the same) is refused
     * unread: scans are what make a small JPEG cost minutes. */
    src = entry("images/Readium-Logo-Page.jpg", &len);
    size_t fat_len = len + 4 + 200;
    unsigned char *fat = malloc(fat_len);
    memcpy(fat, src, 2);                      /* SOI */
    fat[2] = 0xff, fat[3] = 0xfe;             /* COM */
    fat[4] = 0, fat[5] = 202;                 /* its length, itself included */
    for (int i = 0; i < 100; i++)
        fat[6 + 2 * i] = 0xff, fat[7 + 2 * i] = 0xda;
    memcpy(fat + 206, src + 2, len - 2);
    assert_int_equal(media_thumbnail(src, len, 160, &out, &out_len, NULL, NULL, &err), 0);
    free(out);
    assert_int_equal(media_thumbnail(fat, fat_len, 160, &out, &out_len, NULL, NULL, &err), -1);
    assert_string_equal(err.code, "bad_image");
    assert_non_null(strstr(err.message, "scans"));
    free(fat);
    free(src);
    t_rmtree(dir);
    free(dir);
}

int main(void)
{
    t_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_format),
        cmocka_unit_test(test_alpha_and_depths),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
