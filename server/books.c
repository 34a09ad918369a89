/*
 * Open books, shared by the requests that read them.
 *
 * Opening an EPUB parses its container and package with libxml2: far more work than
 * sending one page of it. So the books being read stay open here (BOOKS_MAX of them,
 * least recently used out first), keyed by their content hash, which never changes for a
 * stored file. Their metadata is read-only and shared without a lock. Bytes come two
 * ways: a stored (uncompressed) entry, as images, audio and video usually are, is sent
 * straight from the file by the caller (sendfile, no copy; srv_book_span); a compressed
 * one is inflated once under the book's lock (libzip handles are not thread-safe) and,
 * when small, kept with the book for the next reader (BOOK_KEEP_ENTRY, BOOK_KEEP_TOTAL).
 *
 * A book leaves the table when it is the least recently used of a full one; it is freed
 * when its last reader lets go.
 */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pretnum/epub.h"

#define BOOKS_MAX 32
#define BOOK_KEEP_ENTRY (1u << 20)
#define BOOK_KEEP_TOTAL (16u << 20)


struct srv_book {
    char sha[65];
    char path[4400];
    struct epub *e;
    pthread_mutex_t mu; /* the epub's libzip handle and the kept entries */
    struct srv_bytes **kept; /* one per manifest item, NULL until read */
    size_t kept_total;
    int refs;           /* under the table's lock */
    unsigned long long used;
};

struct srv_books {
    pthread_mutex_t mu;
    struct srv_book *b[BOOKS_MAX];
    unsigned long long clock;
};

struct srv_books *srv_books_new(void)
{
    struct srv_books *t = calloc(1, sizeof *t);
    if (t)
        pthread_mutex_init(&t->mu, NULL);
    return t;
}

static void book_free(struct srv_book *b)
{
    if (!b)
        return;
    if (b->kept) {
        size_t n = epub_meta(b->e)->n_manifest;
        for (size_t i = 0; i < n; i++)
            srv_bytes_put(b->kept[i]);
        free(b->kept);
    }
    epub_close(b->e);
    pthread_mutex_destroy(&b->mu);
    free(b);
}

void srv_books_free(struct srv_books *t)
{
    if (!t)
        return;
    for (int i = 0; i < BOOKS_MAX; i++)
        book_free(t->b[i]); /* no request is running any more */
    pthread_mutex_destroy(&t->mu);
    free(t);
}

static void unref_locked(struct srv_book *b)
{
    if (--b->refs == 0)
        book_free(b);
}

void srv_book_put(struct srv_books *t, struct srv_book *b)
{
    if (!b)
        return;
    pthread_mutex_lock(&t->mu);
    unref_locked(b);
    pthread_mutex_unlock(&t->mu);
}

struct srv_book *srv_book_get(struct srv_books *t, const char *data_dir, const char *file_rel, const char *sha,
                              struct epub_error *err)
{
    pthread_mutex_lock(&t->mu);
    for (int i = 0; i < BOOKS_MAX; i++) {
        struct srv_book *b = t->b[i];
        if (b && !strcmp(b->sha, sha)) {
            b->refs++;
            b->used = ++t->clock;
            pthread_mutex_unlock(&t->mu);
            return b;
        }
    }
    pthread_mutex_unlock(&t->mu);

    /* Opened outside the lock: other books stay readable meanwhile. Two readers may open
     * the same book at once; the second one's copy is simply not kept. */
    struct srv_book *b = calloc(1, sizeof *b);
    if (!b) {
        if (err) {
            err->code = EPUB_OUT_OF_MEMORY;
            snprintf(err->message, sizeof err->message, "out of memory");
        }
        return NULL;
    }
    snprintf(b->sha, sizeof b->sha, "%s", sha);
    snprintf(b->path, sizeof b->path, "%s/%s", data_dir, file_rel);
    pthread_mutex_init(&b->mu, NULL);
    /* The file was checked in full at ingest; opening reads its metadata only. */
    struct epub_limits lim = {.flags = EPUB_SKIP_SCAN};
    if (epub_open_file(b->path, &lim, &b->e, err) != 0) {
        pthread_mutex_destroy(&b->mu);
        free(b);
        return NULL;
    }
    size_t n = epub_meta(b->e)->n_manifest;
    b->kept = calloc(n ? n : 1, sizeof *b->kept);
    b->refs = 1; /* the caller's */

    pthread_mutex_lock(&t->mu);
    int slot = -1;
    for (int i = 0; i < BOOKS_MAX && slot < 0; i++)
        if (t->b[i] && !strcmp(t->b[i]->sha, sha))
            slot = -2; /* opened meanwhile by another reader */
    if (slot == -1) {
        for (int i = 0; i < BOOKS_MAX; i++) {
            if (!t->b[i]) {
                slot = i;
                break;
            }
            if (slot < 0 || t->b[i]->used < t->b[slot]->used)
                slot = i;
        }
        if (t->b[slot])
            unref_locked(t->b[slot]);
        t->b[slot] = b;
        b->refs++; /* the table's */
    }
    b->used = ++t->clock;
    pthread_mutex_unlock(&t->mu);
    return b;
}

const struct epub_meta *srv_book_meta(const struct srv_book *b)
{
    return epub_meta(b->e);
}

const char *srv_book_path(const struct srv_book *b)
{
    return b->path;
}

int srv_book_span(const struct srv_book *b, const char *name, uint64_t *offset, uint64_t *size)
{
    return epub_entry_span(b->e, name, offset, size);
}

int srv_book_stored_size(const struct srv_book *b, const char *name, uint64_t *size)
{
    return epub_entry_stored_size(b->e, name, size);
}

void srv_bytes_put(struct srv_bytes *x)
{
    if (x && atomic_fetch_sub(&x->refs, 1) == 1)
        free(x);
}

struct srv_bytes *srv_book_bytes(struct srv_book *b, size_t item, size_t max, struct epub_error *err)
{
    const struct epub_meta *m = epub_meta(b->e);
    if (item >= m->n_manifest)
        return NULL;
    pthread_mutex_lock(&b->mu);
    struct srv_bytes *x = b->kept ? b->kept[item] : NULL;
    if (x) {
        atomic_fetch_add(&x->refs, 1);
        pthread_mutex_unlock(&b->mu);
        return x;
    }
    unsigned char *buf;
    size_t len;
    if (epub_read_entry(b->e, m->manifest[item].href, max, &buf, &len, err) != 0) {
        pthread_mutex_unlock(&b->mu);
        return NULL;
    }
    x = malloc(sizeof *x + (len ? len : 1));
    if (x) {
        atomic_init(&x->refs, 1); /* the caller's */
        x->len = len;
        memcpy(x->data, buf, len);
        if (b->kept && len <= BOOK_KEEP_ENTRY && b->kept_total + len <= BOOK_KEEP_TOTAL) {
            atomic_fetch_add(&x->refs, 1); /* the book's */
            b->kept[item] = x;
            b->kept_total += len;
        }
    } else if (err) {
        err->code = EPUB_OUT_OF_MEMORY;
        snprintf(err->message, sizeof err->message, "out of memory");
    }
    pthread_mutex_unlock(&b->mu);
    free(buf);
    return x;
}
