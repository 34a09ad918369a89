/*
 * The catalogue (part of the lending module): ingest of EPUBs, music and films with
 * the metadata their files carry, storage by content hash, and search.
 */
#ifndef PRETNUM_CATALOGUE_H
#define PRETNUM_CATALOGUE_H

#include <jansson.h>
#include <stdbool.h>

#include "pretnum/lending.h"

struct db;

/** What the command line or an upload may say over (or in place of) the file's metadata. */
struct lend_import_opts {
    const char *kind; /* "ebook", "audio", "video"; NULL = from the file */
    const char *title, *author, *language, *publisher, *description;
    /* The caller's connection is not held while a film is packaged (minutes for a long
     * one) when both are set: release_db(db_ctx, db) gives it back before, and
     * reacquire_db(db_ctx) gives the one used after (NULL: the import fails with
     * database_unavailable, the caller having answered). */
    void (*release_db)(void *db_ctx, struct db *db);
    struct db *(*reacquire_db)(void *db_ctx);
    void *db_ctx;
};

/**
 * Ingests one file: checks it (EPUB container and package, or libavformat probe),
 * copies it to data_dir/files/ under its SHA-256, stores its cover in data_dir/covers/,
 * and inserts the title. The same bytes imported again give the first title's id with
 * *existed set. On any failure nothing is left behind: no row, no file. Errors:
 * LEND_UNACCEPTABLE with the checker's code ("mimetype_missing", "no_media_stream"...),
 * LEND_INVALID for bad options, LEND_INTERNAL for I/O trouble.
 */
enum lend_status lend_import(struct db *db, const char *data_dir, const char *path,
                             const struct lend_import_opts *opts, char id_out[37], bool *existed,
                             struct lend_err *err);

/** A catalogue search. q may be NULL or empty (newest first). */
struct lend_title_query {
    const char *q, *kind, *language;
    int page, per_page;
    bool available;          /* only titles with a copy free now */
    const char *consortium;  /* the caller's (NULL: any), for available */
    const char *library;     /* the caller's library (NULL: consortium-wide licences only) */
};

/**
 * Full-text search (unaccented, French and English stems, weights title > creators >
 * subjects > description); when that finds nothing, trigram similarity catches typos
 * and prefixes. Answers {"items": [TITLE...], "total": N, "match": "text"|"similar"|"all"}.
 */
enum lend_status lend_titles_search(struct db *db, const struct lend_title_query *q, json_t **out,
                                    struct lend_err *err);

/** One title as the API shows it; LEND_NOT_FOUND for an unknown id. */
enum lend_status lend_title_get(struct db *db, const char *id, json_t **out, struct lend_err *err);

/** Where a title's cover is stored: data_dir-relative path and media type (static or copied). */
enum lend_status lend_title_cover(struct db *db, const char *id, char path_out[512],
                                  char type_out[32], struct lend_err *err);

#endif
