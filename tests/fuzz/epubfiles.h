/*
 * The "EPUBFILES" input form of the EPUB fuzz targets: an input that starts with
 * "EPUBFILES\n" is a list of records "@@ name\ndata" (separated by "\n@@ ") zipped here, in
 * memory, with valid CRCs ("mimetype" stored, the rest deflated), so that mutations reach
 * the XML and URL code instead of failing a CRC. Included by one target each; static.
 */
#ifndef PRETNUM_FUZZ_EPUBFILES_H
#define PRETNUM_FUZZ_EPUBFILES_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zip.h>

static const char EPUBFILES_MAGIC[] = "EPUBFILES\n";
#define MAX_RECORDS 64

static int epubfiles_is(const uint8_t *data, size_t size)
{
    return size >= sizeof EPUBFILES_MAGIC - 1 && memcmp(data, EPUBFILES_MAGIC, sizeof EPUBFILES_MAGIC - 1) == 0;
}

/* Zips the records of a "EPUBFILES" input in memory; returns malloc'd bytes or NULL. */
static unsigned char *epubfiles_assemble(const uint8_t *data, size_t size, size_t *len)
{
    const char *p = (const char *)data + sizeof EPUBFILES_MAGIC - 1, *end = (const char *)data + size;
    if (end - p < 3 || memcmp(p, "@@ ", 3) != 0)
        return NULL;
    p += 3;
    zip_error_t ze;
    zip_error_init(&ze);
    zip_source_t *src = zip_source_buffer_create(NULL, 0, 0, &ze);
    zip_error_fini(&ze);
    if (!src)
        return NULL;
    zip_source_keep(src);
    zip_error_init(&ze);
    zip_t *za = zip_open_from_source(src, ZIP_TRUNCATE, &ze);
    zip_error_fini(&ze);
    if (!za) {
        zip_source_free(src);
        zip_source_free(src);
        return NULL;
    }
    char name[256];
    for (int n = 0; p < end && n < MAX_RECORDS; n++) {
        const char *next = memmem(p, (size_t)(end - p), "\n@@ ", 4);
        const char *rec_end = next ? next : end;
        const char *nl = memchr(p, '\n', (size_t)(rec_end - p));
        const char *body = nl ? nl + 1 : rec_end;
        size_t name_len = (size_t)((nl ? nl : rec_end) - p);
        if (name_len > 0 && name_len < sizeof name) {
            memcpy(name, p, name_len);
            name[name_len] = 0;
            zip_source_t *fs = zip_source_buffer(za, body, (zip_uint64_t)(rec_end - body), 0);
            zip_int64_t idx = fs ? zip_file_add(za, name, fs, ZIP_FL_ENC_RAW) : -1;
            if (idx < 0) {
                zip_source_free(fs);
            } else {
                zip_int32_t method = strcmp(name, "mimetype") == 0 ? ZIP_CM_STORE : ZIP_CM_DEFLATE;
                zip_set_file_compression(za, (zip_uint64_t)idx, method, 1);
            }
        }
        p = next ? next + 4 : end;
    }
    unsigned char *out = NULL;
    zip_stat_t st;
    if (zip_close(za) != 0) {
        zip_discard(za);
    } else if (zip_source_stat(src, &st) == 0 && (st.valid & ZIP_STAT_SIZE) && st.size > 0 &&
               zip_source_open(src) == 0) {
        out = malloc(st.size);
        if (out && zip_source_read(src, out, st.size) != (zip_int64_t)st.size) {
            free(out);
            out = NULL;
        }
        zip_source_close(src);
        *len = st.size;
    }
    zip_source_free(src);
    return out;
}

#endif
