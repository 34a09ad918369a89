/*
 * gzip for the portal's text files (compress.c): which answers to compress, the
 * compression itself, and the versions kept in memory.
 */
#ifndef PRETNUM_SERVER_COMPRESS_H
#define PRETNUM_SERVER_COMPRESS_H

#include <stdbool.h>
#include <stddef.h>

/* True when an Accept-Encoding value (NULL when absent) takes gzip with a q above 0,
 * by name (gzip or x-gzip) or through "*" (RFC 9110, 12.5.3). */
bool srv_gzip_accepted(const char *accept_encoding);

/* True for a text type (HTML, CSS, JavaScript, JSON, SVG) of at least a few hundred
 * bytes; false for types compressed already and for files too small to gain. */
bool srv_gzip_suits(const char *type, size_t len);

/* buf compressed as one gzip member into a malloc'd buffer of *out_len bytes; NULL
 * when out of memory. */
char *srv_gzip(const char *buf, size_t len, size_t *out_len);

/* A malloc'd copy of the kept gzip bytes of this version of path (validator: its
 * ETag), or NULL when that version is not kept. */
char *srv_gzip_kept(const char *path, const char *validator, size_t *out_len);

/* Compresses buf, keeps the result as this version of path (replacing older ones) and
 * returns a malloc'd copy; NULL when out of memory. */
char *srv_gzip_keep(const char *path, const char *validator, const char *buf, size_t len, size_t *out_len);

#endif
