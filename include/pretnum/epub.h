/*
 * EPUB containers: the checks an uploaded EPUB must pass before anything is stored, the
 * metadata the catalogue and the reader need, and capped reads of its entries for delivery
 * (lending/epub.c, libzip + libxml2).
 *
 * Opening checks, in this order, and refuses at the first failure: the zip itself (readable,
 * consistent, entry count, safe names, no zip encryption, only stored/deflate, no duplicate
 * names after case folding, no overlapping entries, declared sizes within the limits), the
 * OCF rules for `mimetype`, META-INF/container.xml and the package document (OPF), that no
 * manifest, nav or NCX reference leaves the container, META-INF/encryption.xml (font
 * obfuscation is accepted, any other encryption is DRM and refused), and finally, unless
 * EPUB_SKIP_SCAN, that every entry inflates to exactly its declared size (CRC checked)
 * within the limits. Declared sizes are never trusted: every read counts the bytes it really
 * inflates and stops at its cap.
 *
 * XML (container, OPF, nav, NCX, encryption.xml) is parsed by libxml2 without network,
 * without loading DTDs and without substituting entities, from a size-capped buffer.
 *
 * Thread safety: different struct epub may be used from different threads at once; one
 * struct epub must not (it holds a libzip archive, which is not thread-safe).
 */
#ifndef PRETNUM_EPUB_H
#define PRETNUM_EPUB_H

#include <stddef.h>
#include <stdint.h>

/*
 * Error codes (epub_error.code). Each is a static string constant; compare with strcmp()
 * or with the pointers below.
 */
/* "not_a_zip": the file is empty, or not a zip at all */
extern const char EPUB_NOT_A_ZIP[];
/* "truncated_zip": it starts like a zip but ends too early */
extern const char EPUB_TRUNCATED_ZIP[];
/* "corrupt_zip": inconsistent headers, a bad CRC, short data */
extern const char EPUB_CORRUPT_ZIP[];
/* "too_many_entries": more entries than max_entries */
extern const char EPUB_TOO_MANY_ENTRIES[];
/* "unsafe_entry_name": "..", a leading "/", "\\", "C:", NUL, controls or bad UTF-8 in a name */
extern const char EPUB_UNSAFE_ENTRY_NAME[];
/* "duplicate_entry": two names equal as written or after folding */
extern const char EPUB_DUPLICATE_ENTRY[];
/* "encrypted_entry": zip encryption (PKWARE or AES) */
extern const char EPUB_ENCRYPTED_ENTRY[];
/* "unsupported_compression": a method other than stored or deflate */
extern const char EPUB_UNSUPPORTED_COMPRESSION[];
/* "zip_bomb": overlapping entries, or sizes or ratio past the limits, declared or real */
extern const char EPUB_ZIP_BOMB[];
/* "mimetype_missing" */
extern const char EPUB_MIMETYPE_MISSING[];
/* "mimetype_not_first" */
extern const char EPUB_MIMETYPE_NOT_FIRST[];
/* "mimetype_compressed" */
extern const char EPUB_MIMETYPE_COMPRESSED[];
/* "mimetype_extra_field": its data is not at offset 38 */
extern const char EPUB_MIMETYPE_EXTRA_FIELD[];
/* "mimetype_wrong": not exactly application/epub+zip */
extern const char EPUB_MIMETYPE_WRONG[];
/* "container_missing": no META-INF/container.xml */
extern const char EPUB_CONTAINER_MISSING[];
/* "opf_missing": container.xml names no package document, or it is not in the zip */
extern const char EPUB_OPF_MISSING[];
/* "malformed_xml": container.xml, the OPF, nav, NCX or encryption.xml */
extern const char EPUB_MALFORMED_XML[];
/* "invalid_opf": no metadata, manifest or spine; an unknown idref; a duplicate id */
extern const char EPUB_INVALID_OPF[];
/* "url_leaks_container": a manifest, nav, NCX or encryption reference leaves the zip */
extern const char EPUB_URL_LEAKS_CONTAINER[];
/* "encrypted_resource": encryption.xml names DRM, not font obfuscation */
extern const char EPUB_ENCRYPTED_RESOURCE[];
/* "entry_not_found": epub_read_entry() of a name not in the zip */
extern const char EPUB_ENTRY_NOT_FOUND[];
/* "entry_too_large": over the cap of that read */
extern const char EPUB_ENTRY_TOO_LARGE[];
/* "io_error": the file could not be opened or read */
extern const char EPUB_IO_ERROR[];
/* "out_of_memory" */
extern const char EPUB_OUT_OF_MEMORY[];

/**
 * Why a call failed. code is one of the constants above (static storage); message is for
 * people: lowercase, says what failed first and quotes the object, e.g.
 * `entry "../../tmp/evil.txt" has an unsafe name (".." segment)`. It may quote the caller's
 * path: log it; what it says about the book itself may be shown to the uploader.
 */
struct epub_error {
    const char *code;
    char message[256];
};

/** epub_limits.flags: skip the final inflate-everything pass (for a file already checked). */
#define EPUB_SKIP_SCAN 1u

/**
 * Bounds of one open. A zero field takes the default shown.
 * - max_entries: zip entries (10 000).
 * - max_entry_bytes: inflated size of any one entry (64 MiB).
 * - max_xml_bytes: inflated size of container.xml, the OPF, nav, NCX, encryption.xml (8 MiB).
 * - max_total_bytes: sum of declared sizes, and bytes really inflated while opening (1 GiB).
 * - max_ratio: inflated/compressed ratio of an entry larger than 1 MiB (100).
 * - flags: EPUB_SKIP_SCAN or 0. Skipping makes opening cost only the metadata; every
 *   structural check still runs and every later read is still capped and CRC-checked.
 */
struct epub_limits {
    size_t max_entries;
    uint64_t max_entry_bytes;
    uint64_t max_xml_bytes;
    uint64_t max_total_bytes;
    unsigned max_ratio;
    unsigned flags;
};

/** A list of strings; v is NULL when n is 0. */
struct epub_strings {
    const char **v;
    size_t n;
};

/** A dc:creator or dc:contributor. */
struct epub_person {
    const char *name; /* never NULL */
    /* MARC relator ("aut", "ill") from EPUB 3 refines or EPUB 2 opf:role, or NULL */
    const char *role;
    const char *file_as; /* sort form ("Curry, Charles Madison"), or NULL */
};

/** A dc:identifier. */
struct epub_identifier {
    const char *value;  /* as written, never NULL */
    const char *scheme; /* EPUB 2 opf:scheme, or NULL */
    /* 1 for urn:isbn:, opf:scheme="ISBN", ONIX identifier-type 02/15, or a valid bare ISBN */
    int is_isbn;
    /* when is_isbn: its 10 or 13 characters without hyphens, or NULL if not shaped like one */
    const char *isbn;
};

/** A manifest item. */
struct epub_item {
    const char *id; /* never NULL */
    /* the full entry name in the zip (percent-decoded, normalised); the URL when remote */
    const char *href;
    const char *media_type;  /* never NULL */
    const char *properties;  /* space-separated, as written, or NULL */
    int remote;              /* 1: an http(s) audio, video or font resource outside the zip */
    const char *obfuscation; /* font obfuscation algorithm URI from encryption.xml, or NULL */
};

/** A spine itemref, in reading order. */
struct epub_spine_item {
    const struct epub_item *item; /* never NULL */
    int linear;                   /* 0 for linear="no" */
    const char *properties;       /* or NULL */
};

/** A table-of-contents entry (nav toc li, or NCX navPoint). */
struct epub_toc_entry {
    const char *title;    /* whitespace-collapsed text, never NULL (may be "") */
    const char *href;     /* full entry name in the zip, or NULL for a heading without link */
    const char *fragment; /* what followed '#', or NULL */
    const struct epub_toc_entry *children;
    size_t n_children;
};

/**
 * What the package says. Strings are NULL when absent; lists come with counts. Everything
 * here belongs to the struct epub it came from and lives until epub_close().
 */
struct epub_meta {
    const char *opf_path; /* "EPUB/package.opf" */
    const char *version;  /* package@version: "2.0", "3.0" */
    const char *title;    /* the dc:title refined as title-type main, else the first */
    /* the value of the dc:identifier named by package@unique-identifier */
    const char *unique_identifier;
    const struct epub_person *creators;
    size_t n_creators;
    const struct epub_person *contributors;
    size_t n_contributors;
    struct epub_strings languages;
    const struct epub_identifier *identifiers;
    size_t n_identifiers;
    const char *publisher;
    /* the first dc:date without opf:event or with opf:event="publication", else the first */
    const char *date;
    const char *description;
    struct epub_strings subjects;
    const char *rights;
    /* an image: property cover-image, else EPUB 2 <meta name="cover">, else item "cover" */
    const struct epub_item *cover;

    /* schema.org accessibility metadata (EPUB 3 meta property, EPUB 2 meta name/content) */
    struct epub_strings access_modes;            /* schema:accessMode */
    struct epub_strings access_modes_sufficient; /* schema:accessModeSufficient */
    struct epub_strings accessibility_features;  /* schema:accessibilityFeature */
    struct epub_strings accessibility_hazards;   /* schema:accessibilityHazard */
    const char *accessibility_summary;           /* schema:accessibilitySummary */

    /* rendition:layout: "pre-paginated", else "reflowable" (also when absent) */
    const char *layout;
    /* the spine's page-progression-direction: "ltr", "rtl", "default", or NULL */
    const char *page_progression_direction;

    const struct epub_item *manifest;
    size_t n_manifest;
    const struct epub_spine_item *spine;
    size_t n_spine; /* >= 1 */

    /* From the EPUB 3 nav document's toc nav, else the EPUB 2 NCX navMap. */
    const char *toc_path; /* the entry it came from, or NULL when there is no toc */
    const struct epub_toc_entry *toc;
    size_t n_toc;
    int toc_truncated; /* 1 when entries past 32 levels or 10 000 in all were left out */
};

/** An open, checked EPUB. */
struct epub;

/**
 * Opens and checks the EPUB at path (a regular file). lim may be NULL for the defaults.
 *
 * Returns 0 and sets *out, which the caller owns: release it with epub_close(). Returns -1
 * with *out set to NULL and *err filled (err may be NULL) when the file is refused or cannot
 * be read. The file is held open until epub_close(); replacing it on disk meanwhile is safe.
 */
int epub_open_file(const char *path, const struct epub_limits *lim, struct epub **out,
                   struct epub_error *err);

/**
 * Same as epub_open_file() on len bytes in memory (an upload). The bytes are NOT copied:
 * the caller keeps ownership of data and must keep it valid and unchanged until epub_close().
 */
int epub_open_buffer(const void *data, size_t len, const struct epub_limits *lim, struct epub **out,
                     struct epub_error *err);

/** The metadata of an open EPUB; owned by e, valid until epub_close(e). Never NULL. */
const struct epub_meta *epub_meta(const struct epub *e);

/**
 * Tells whether the entry named exactly name (as in epub_item.href) exists: returns 1 and
 * sets *size (may be NULL) to its size, or returns 0. The size is the declared one, which
 * opening verified unless EPUB_SKIP_SCAN was given; reads check it again.
 */
int epub_entry_size(const struct epub *e, const char *name, uint64_t *size);

/**
 * Like epub_entry_size(), with the size the entry takes in the archive (compressed when
 * it is): what Readium's reading systems count positions by. Thread-safe.
 */
int epub_entry_stored_size(const struct epub *e, const char *name, uint64_t *size);

/**
 * Where a stored (uncompressed) entry's bytes lie in the file: returns 1 and sets *offset
 * and *size, so that they can be sent straight from the file (sendfile), or returns 0 when
 * the entry is absent, compressed, or e was opened from a buffer. The layout was checked
 * at open: the range lies inside the file and overlaps no other entry. Thread-safe, like
 * epub_meta() and epub_entry_size(): it only reads what opening built.
 */
int epub_entry_span(const struct epub *e, const char *name, uint64_t *offset, uint64_t *size);

/**
 * Reads the entry named exactly name, inflating at most max bytes (declared sizes are not
 * trusted: the bytes really produced are counted). Returns 0 with *buf set to a malloc'd
 * buffer of *len bytes followed by one NUL (not counted), which the caller now owns and
 * releases with free(3). Returns -1 with *buf NULL and *err set: EPUB_ENTRY_NOT_FOUND,
 * EPUB_ENTRY_TOO_LARGE (over max), EPUB_ZIP_BOMB (inflates past its declared size),
 * EPUB_CORRUPT_ZIP (bad CRC or short data), EPUB_IO_ERROR, EPUB_OUT_OF_MEMORY.
 */
int epub_read_entry(struct epub *e, const char *name, size_t max, unsigned char **buf, size_t *len,
                    struct epub_error *err);

/** Releases everything e holds (archive, file, metadata). NULL is accepted. */
void epub_close(struct epub *e);

#endif
