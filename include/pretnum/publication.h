/*
 * The Readium Web Publication Manifest of an EPUB (part of the lending module): what a
 * browser reader needs to open a book resource by resource, built from the checked
 * package (../shared/corpus/schemas/readium.org/webpub-manifest).
 */
#ifndef PRETNUM_PUBLICATION_H
#define PRETNUM_PUBLICATION_H

#include <jansson.h>
#include <stdint.h>

struct epub_meta;

/**
 * Builds the manifest: metadata (title, identifier as a URI when it is one, authors and
 * other contributors, languages, publisher, publication date when it is a date,
 * description, subjects, reading progression, schema.org accessibility limited to the
 * schema's vocabulary), links (self, cover), readingOrder from the spine, resources (the
 * rest of the manifest, each once), and toc from the nav document or the NCX.
 * Every href is base (e.g. "/content/TOKEN/") followed by the entry's percent-encoded
 * path inside the container, so the book's own relative links keep working.
 * Remote resources keep their URL. Returns a new reference, or NULL when out of memory.
 */
json_t *lend_webpub_manifest(const struct epub_meta *m, const char *base, const char *self_href);

/* Bytes of a reflowable resource per position, as Readium's own streamers count them. */
#define LEND_POSITION_BYTES 1024

/**
 * The positions list (application/vnd.readium.position-list+json) that a reading system
 * pages through and shows as "page N of M": one position per LEND_POSITION_BYTES of each
 * reflowable resource of the reading order (at least one), one per resource in a fixed
 * layout, each with its progression in the resource and through the book. sizes[i] is
 * the size spine item i takes in the archive (compressed when it is), as Readium's own
 * reading systems count, so "page 12" is the same page in the portal and in an app that
 * opened the download; hrefs are built as the manifest's are, so they match its
 * readingOrder. Returns a new reference, or NULL when out of memory.
 */
json_t *lend_webpub_positions(const struct epub_meta *m, const char *base, const uint64_t *sizes);

/** Percent-encodes an entry path for a URL path (keeps / and unreserved characters). */
char *lend_path_encode(const char *path);

#endif
