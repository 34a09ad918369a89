#include "pretnum/arena.h"

#include <stdalign.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Requests allocate little (parameters, a few strings): one 4 KiB chunk serves most. */
#define CHUNK_SIZE 4096

struct chunk {
    struct chunk *next;
    size_t used, size;
    alignas(max_align_t) unsigned char data[];
};

struct hook {
    struct hook *next;
    void (*fn)(void *);
    void *p;
};

struct arena {
    struct chunk *chunks;
    struct hook *hooks;
};

static void *xmalloc(size_t n)
{
    void *p = malloc(n);
    if (!p) {
        fputs("out of memory\n", stderr);
        abort();
    }
    return p;
}

struct arena *arena_new(void)
{
    struct arena *a = calloc(1, sizeof *a);
    return a;
}

void arena_free(struct arena *a)
{
    if (!a)
        return;
    for (struct hook *h = a->hooks; h; h = h->next)
        h->fn(h->p);
    struct chunk *c = a->chunks;
    while (c) {
        struct chunk *next = c->next;
        free(c);
        c = next;
    }
    free(a);
}

void *arena_alloc(struct arena *a, size_t n)
{
    const size_t align = alignof(max_align_t);
    n = (n + align - 1) & ~(align - 1);
    if (n == 0)
        n = align;
    struct chunk *c = a->chunks;
    if (!c || c->size - c->used < n) {
        size_t size = n > CHUNK_SIZE ? n : CHUNK_SIZE;
        c = xmalloc(sizeof *c + size);
        c->size = size;
        c->used = 0;
        /* A big allocation gets its own chunk behind the current one, so the rest of
         * the current chunk stays usable. */
        if (a->chunks && size > CHUNK_SIZE) {
            c->next = a->chunks->next;
            a->chunks->next = c;
        } else {
            c->next = a->chunks;
            a->chunks = c;
        }
    }
    void *p = c->data + c->used;
    c->used += n;
    memset(p, 0, n);
    return p;
}

char *arena_strndup(struct arena *a, const char *s, size_t n)
{
    char *d = arena_alloc(a, n + 1);
    memcpy(d, s, n);
    d[n] = 0;
    return d;
}

char *arena_strdup(struct arena *a, const char *s)
{
    return s ? arena_strndup(a, s, strlen(s)) : NULL;
}

char *arena_printf(struct arena *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return arena_strdup(a, "");
    char *d = arena_alloc(a, (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(d, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return d;
}

void arena_defer(struct arena *a, void (*fn)(void *), void *p)
{
    struct hook *h = arena_alloc(a, sizeof *h);
    h->fn = fn;
    h->p = p;
    h->next = a->hooks;
    a->hooks = h;
}
