/*
 * A memory arena with cleanup hooks, one per HTTP request (h2o's mem pool, nginx's
 * r->pool): whatever a handler allocates here, and whatever it registers with
 * arena_defer(), is released once by arena_free() when the request completes, so an
 * error path never leaks and never frees by hand.
 */
#ifndef PRETNUM_ARENA_H
#define PRETNUM_ARENA_H

#include <stddef.h>

struct arena;

/** Creates an empty arena. Returns NULL when out of memory. Release with arena_free(). */
struct arena *arena_new(void);

/**
 * Runs the deferred cleanups (last registered first), then frees every allocation and
 * the arena itself. NULL is accepted.
 */
void arena_free(struct arena *a);

/** Allocates n zeroed bytes aligned for any type, owned by the arena; aborts on OOM. */
void *arena_alloc(struct arena *a, size_t n);

/** Copies s (NULL gives NULL) into the arena. */
char *arena_strdup(struct arena *a, const char *s);

/** Copies n bytes of s and a terminating NUL into the arena. */
char *arena_strndup(struct arena *a, const char *s, size_t n);

/** printf into the arena. */
char *arena_printf(struct arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/**
 * Registers fn(p) to run when the arena is freed (close a result, a file, a zip).
 * Hooks run in reverse order of registration.
 */
void arena_defer(struct arena *a, void (*fn)(void *), void *p);

#endif
