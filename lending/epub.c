/*
 * EPUB container checks and metadata; the contract is in include/pretnum/epub.h.
 *
 * libzip gives us consistency checks (ZIP_CHECKCONS), inflation and CRCs, but it hides
 * where entries lie in the file and it rewrites NUL bytes in names to spaces. So the
 * central directory is also walked here, byte by byte, and cross-checked entry for entry
 * against libzip's view: that gives the raw names (NUL, controls, bad UTF-8), the local
 * header of `mimetype` (its data must start at offset 38) and the data ranges, whose
 * overlap is what betrays an overlapping-entry zip bomb before a byte is inflated.
 *
 * Everything an open produces lives in one memory pool freed by epub_close(), so error paths
 * only have to release what they borrowed from libxml2 or libzip.
 */
#include "pretnum/epub.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <zip.h>

const char EPUB_NOT_A_ZIP[] = "not_a_zip";
const char EPUB_TRUNCATED_ZIP[] = "truncated_zip";
const char EPUB_CORRUPT_ZIP[] = "corrupt_zip";
const char EPUB_TOO_MANY_ENTRIES[] = "too_many_entries";
const char EPUB_UNSAFE_ENTRY_NAME[] = "unsafe_entry_name";
const char EPUB_DUPLICATE_ENTRY[] = "duplicate_entry";
const char EPUB_ENCRYPTED_ENTRY[] = "encrypted_entry";
const char EPUB_UNSUPPORTED_COMPRESSION[] = "unsupported_compression";
const char EPUB_ZIP_BOMB[] = "zip_bomb";
const char EPUB_MIMETYPE_MISSING[] = "mimetype_missing";
const char EPUB_MIMETYPE_NOT_FIRST[] = "mimetype_not_first";
const char EPUB_MIMETYPE_COMPRESSED[] = "mimetype_compressed";
const char EPUB_MIMETYPE_EXTRA_FIELD[] = "mimetype_extra_field";
const char EPUB_MIMETYPE_WRONG[] = "mimetype_wrong";
const char EPUB_CONTAINER_MISSING[] = "container_missing";
const char EPUB_OPF_MISSING[] = "opf_missing";
const char EPUB_MALFORMED_XML[] = "malformed_xml";
const char EPUB_INVALID_OPF[] = "invalid_opf";
const char EPUB_URL_LEAKS_CONTAINER[] = "url_leaks_container";
const char EPUB_ENCRYPTED_RESOURCE[] = "encrypted_resource";
const char EPUB_ENTRY_NOT_FOUND[] = "entry_not_found";
const char EPUB_ENTRY_TOO_LARGE[] = "entry_too_large";
const char EPUB_IO_ERROR[] = "io_error";
const char EPUB_OUT_OF_MEMORY[] = "out_of_memory";

#define DEFAULT_MAX_ENTRIES 10000
#define DEFAULT_MAX_ENTRY_BYTES (64ull << 20)
#define DEFAULT_MAX_XML_BYTES (8ull << 20)
#define DEFAULT_MAX_TOTAL_BYTES (1ull << 30)
#define DEFAULT_MAX_RATIO 100
/* Small entries may compress better than max_ratio (a blank page, a CSS reset). */
#define RATIO_FREE_BYTES (1ull << 20)
/* 10 000 entries with 255-byte names take 3 MB; anything near this is not an EPUB. */
#define MAX_CDIR_BYTES (64u << 20)
#define TOC_MAX_DEPTH 32
#define TOC_MAX_ENTRIES 10000

#define SIG_LOCAL 0x04034b50u
#define SIG_CENTRAL 0x02014b50u
#define SIG_EOCD 0x06054b50u
#define SIG_EOCD64 0x06064b50u
#define SIG_EOCD64_LOC 0x07064b50u

static const char NS_OPF[] = "http://www.idpf.org/2007/opf";
static const char NS_DC[] = "http://purl.org/dc/elements/1.1/";
static const char NS_OCF[] = "urn:oasis:names:tc:opendocument:xmlns:container";
static const char NS_XHTML[] = "http://www.w3.org/1999/xhtml";
static const char NS_OPS[] = "http://www.idpf.org/2007/ops";
static const char NS_NCX[] = "http://www.daisy.org/z3986/2005/ncx/";
static const char NS_XMLENC[] = "http://www.w3.org/2001/04/xmlenc#";
static const char ALG_IDPF_FONT[] = "http://www.idpf.org/2008/embedding";
static const char ALG_ADOBE_FONT[] = "http://ns.adobe.com/pdf/enc#RC";
static const char MIMETYPE[] = "application/epub+zip";

/* ---- memory pool (private: this module builds alone) ---- */

#define POOL_BLOCK 16384

struct block {
    struct block *next;
    size_t used, cap;
    max_align_t mem[];
};

struct pool {
    struct block *head;
    bool failed; /* an allocation failed: the open reports out_of_memory */
};

/* Zeroed, aligned, owned by the pool; NULL when out of memory. */
static void *pool_alloc(struct pool *a, size_t n)
{
    const size_t al = sizeof(max_align_t);
    if (n > SIZE_MAX / 4) {
        a->failed = true;
        return NULL;
    }
    n = n ? (n + al - 1) / al * al : al;
    struct block *b = a->head;
    if (!b || b->cap - b->used < n) {
        size_t cap = n > POOL_BLOCK ? n : POOL_BLOCK;
        b = malloc(sizeof *b + cap);
        if (!b) {
            a->failed = true;
            return NULL;
        }
        b->cap = cap;
        b->used = 0;
        /* A large block goes second so the current block's free space stays in use. */
        if (cap > POOL_BLOCK && a->head) {
            b->next = a->head->next;
            a->head->next = b;
        } else {
            b->next = a->head;
            a->head = b;
        }
    }
    void *p = (char *)b->mem + b->used;
    b->used += n;
    memset(p, 0, n);
    return p;
}

static char *pool_strndup(struct pool *a, const char *s, size_t n)
{
    char *p = pool_alloc(a, n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = 0;
    }
    return p;
}

static void pool_release(struct pool *a)
{
    struct block *b = a->head;
    while (b) {
        struct block *next = b->next;
        free(b);
        b = next;
    }
    a->head = NULL;
}

/*
 * Makes room for one more element in a pool array of n elements; returns the (maybe
 * moved) array or NULL when out of memory. The old copy is left to the pool.
 */
static void *grow(struct pool *a, void *arr, size_t n, size_t *cap, size_t size)
{
    if (n < *cap)
        return arr;
    size_t nc = *cap ? *cap * 2 : 8;
    if (nc > SIZE_MAX / 4 / size)
        return NULL;
    void *p = pool_alloc(a, nc * size);
    if (!p)
        return NULL;
    if (n)
        memcpy(p, arr, n * size);
    *cap = nc;
    return p;
}

/* ---- the open archive ---- */

struct entry {
    const char *name; /* raw bytes from the central directory, NUL-terminated */
    size_t name_len;
    uint64_t lh_off, data_off, csize, usize;
    unsigned method, gpflags;
    zip_uint64_t index;
};

struct epub {
    zip_t *zip;
    int fd;                   /* our descriptor of the file, for raw reads; -1 for a buffer */
    const unsigned char *buf; /* the caller's bytes for a buffer */
    uint64_t size;
    struct epub_limits lim;
    struct pool pool;
    struct entry *entries; /* central directory order = libzip index */
    size_t n_entries;
    const struct entry **by_name; /* sorted by name, for lookups */
    uint64_t inflated;            /* bytes inflated while opening, against max_total_bytes */
    struct epub_item *items;      /* = meta.manifest, writable */
    struct epub_meta meta;
};

/* ---- errors ---- */

static int fail(struct epub_error *err, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(struct epub_error *err, const char *code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        err->code = code;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static int oom(struct epub_error *err)
{
    return fail(err, EPUB_OUT_OF_MEMORY, "out of memory");
}

/* Printable form of untrusted bytes for a message: escapes, and cut at 80 bytes. */
struct quoted {
    char s[100];
};

static struct quoted quote_n(const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    struct quoted q;
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (w > 80) {
            memcpy(q.s + w, "...", 3);
            w += 3;
            break;
        }
        if (c < 0x20 || c == 0x7f || c == '"' || c == '\\') {
            q.s[w++] = '\\';
            q.s[w++] = 'x';
            q.s[w++] = hex[c >> 4];
            q.s[w++] = hex[c & 15];
        } else {
            q.s[w++] = (char)c;
        }
    }
    q.s[w] = 0;
    return q;
}

static struct quoted quote(const char *s)
{
    return quote_n(s ? s : "", s ? strlen(s) : 0);
}

/* ---- raw bytes ---- */

static uint16_t le16(const unsigned char *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const unsigned char *p)
{
    return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

/* Reads exactly n bytes at off of the archive's bytes; -1 past the end or on error. */
static int raw_read(const struct epub *e, uint64_t off, void *dst, size_t n)
{
    if (off > e->size || n > e->size - off)
        return -1;
    if (!e->buf) {
        unsigned char *d = dst;
        while (n) {
            ssize_t r = pread(e->fd, d, n, (off_t)off);
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0)
                return -1;
            d += r;
            n -= (size_t)r;
            off += (uint64_t)r;
        }
        return 0;
    }
    memcpy(dst, e->buf + off, n);
    return 0;
}

/* ---- names ---- */

/* Returns the length of the UTF-8 sequence at s (strict: no overlongs, no surrogates), 0 if bad. */
static size_t utf8_len(const unsigned char *s, size_t n, uint32_t *cp)
{
    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    size_t len;
    uint32_t c, min;
    if ((s[0] & 0xe0) == 0xc0) {
        len = 2, c = s[0] & 0x1fu, min = 0x80;
    } else if ((s[0] & 0xf0) == 0xe0) {
        len = 3, c = s[0] & 0x0fu, min = 0x800;
    } else if ((s[0] & 0xf8) == 0xf0) {
        len = 4, c = s[0] & 0x07u, min = 0x10000;
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        c = c << 6 | (s[i] & 0x3fu);
    }
    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
        return 0;
    *cp = c;
    return len;
}

/* Why a raw entry name is unsafe, or NULL if it is fine. */
static const char *name_problem(const char *name, size_t n)
{
    const unsigned char *s = (const unsigned char *)name;
    if (n == 0)
        return "empty name";
    if (s[0] == '/')
        return "absolute path";
    if (n >= 2 && s[1] == ':' && ((s[0] | 0x20) >= 'a' && (s[0] | 0x20) <= 'z'))
        return "drive letter";
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        if (s[i] == 0)
            return "NUL byte";
        if (s[i] < 0x20 || s[i] == 0x7f)
            return "control character";
        if (s[i] == '\\')
            return "backslash";
        size_t l = utf8_len(s + i, n - i, &cp);
        if (l == 0)
            return "not valid UTF-8";
        if (cp >= 0x80 && cp < 0xa0)
            return "control character";
        i += l;
    }
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && s[j] != '/')
            j++;
        if (j - i == 2 && s[i] == '.' && s[i + 1] == '.')
            return "\"..\" segment";
        i = j + 1;
    }
    return NULL;
}

/*
 * Canonical decomposition of the lower case of U+00C0..U+017F (Python:
 * unicodedata.normalize("NFD", chr(c).lower())), so that precomposed and decomposed
 * spellings of Latin letters, and their cases, compare equal. Other scripts are compared
 * by code point after ASCII folding: full NFC would need ICU or libunistring.
 */
static const char *const latin_fold[0x180 - 0xc0] = {
    "a\314\200", "a\314\201", "a\314\202", "a\314\203", "a\314\210", "a\314\212", "\303\246",
    "c\314\247", "e\314\200", "e\314\201", "e\314\202", "e\314\210", "i\314\200", "i\314\201",
    "i\314\202", "i\314\210", "\303\260",  "n\314\203", "o\314\200", "o\314\201", "o\314\202",
    "o\314\203", "o\314\210", "\303\227",  "\303\270",  "u\314\200", "u\314\201", "u\314\202",
    "u\314\210", "y\314\201", "\303\276",  "\303\237",  "a\314\200", "a\314\201", "a\314\202",
    "a\314\203", "a\314\210", "a\314\212", "\303\246",  "c\314\247", "e\314\200", "e\314\201",
    "e\314\202", "e\314\210", "i\314\200", "i\314\201", "i\314\202", "i\314\210", "\303\260",
    "n\314\203", "o\314\200", "o\314\201", "o\314\202", "o\314\203", "o\314\210", "\303\267",
    "\303\270",  "u\314\200", "u\314\201", "u\314\202", "u\314\210", "y\314\201", "\303\276",
    "y\314\210", "a\314\204", "a\314\204", "a\314\206", "a\314\206", "a\314\250", "a\314\250",
    "c\314\201", "c\314\201", "c\314\202", "c\314\202", "c\314\207", "c\314\207", "c\314\214",
    "c\314\214", "d\314\214", "d\314\214", "\304\221",  "\304\221",  "e\314\204", "e\314\204",
    "e\314\206", "e\314\206", "e\314\207", "e\314\207", "e\314\250", "e\314\250", "e\314\214",
    "e\314\214", "g\314\202", "g\314\202", "g\314\206", "g\314\206", "g\314\207", "g\314\207",
    "g\314\247", "g\314\247", "h\314\202", "h\314\202", "\304\247",  "\304\247",  "i\314\203",
    "i\314\203", "i\314\204", "i\314\204", "i\314\206", "i\314\206", "i\314\250", "i\314\250",
    "i\314\207", "\304\261",  "\304\263",  "\304\263",  "j\314\202", "j\314\202", "k\314\247",
    "k\314\247", "\304\270",  "l\314\201", "l\314\201", "l\314\247", "l\314\247", "l\314\214",
    "l\314\214", "\305\200",  "\305\200",  "\305\202",  "\305\202",  "n\314\201", "n\314\201",
    "n\314\247", "n\314\247", "n\314\214", "n\314\214", "\305\211",  "\305\213",  "\305\213",
    "o\314\204", "o\314\204", "o\314\206", "o\314\206", "o\314\213", "o\314\213", "\305\223",
    "\305\223",  "r\314\201", "r\314\201", "r\314\247", "r\314\247", "r\314\214", "r\314\214",
    "s\314\201", "s\314\201", "s\314\202", "s\314\202", "s\314\247", "s\314\247", "s\314\214",
    "s\314\214", "t\314\247", "t\314\247", "t\314\214", "t\314\214", "\305\247",  "\305\247",
    "u\314\203", "u\314\203", "u\314\204", "u\314\204", "u\314\206", "u\314\206", "u\314\212",
    "u\314\212", "u\314\213", "u\314\213", "u\314\250", "u\314\250", "w\314\202", "w\314\202",
    "y\314\202", "y\314\202", "y\314\210", "z\314\201", "z\314\201", "z\314\207", "z\314\207",
    "z\314\214", "z\314\214", "\305\277",
};

/* The folded key of a valid UTF-8 name (at most 2 bytes out per byte in), into the pool. */
static char *fold_name(struct pool *a, const char *name, size_t n)
{
    char *out = pool_alloc(a, 2 * n + 1);
    if (!out)
        return NULL;
    const unsigned char *s = (const unsigned char *)name;
    size_t w = 0;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t l = utf8_len(s + i, n - i, &cp);
        if (l == 0)
            l = 1, cp = s[i];
        if (cp >= 'A' && cp <= 'Z') {
            out[w++] = (char)(cp | 0x20);
        } else if (cp >= 0xc0 && cp < 0x180) {
            const char *f = latin_fold[cp - 0xc0];
            size_t fl = strlen(f);
            memcpy(out + w, f, fl);
            w += fl;
        } else {
            memcpy(out + w, s + i, l);
            w += l;
        }
        i += l;
    }
    out[w] = 0;
    return out;
}

static int cmp_str_ptr(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int cmp_entry_name(const void *a, const void *b)
{
    const struct entry *x = *(const struct entry *const *)a;
    const struct entry *y = *(const struct entry *const *)b;
    return strcmp(x->name, y->name);
}

static int cmp_key_entry(const void *key, const void *el)
{
    return strcmp((const char *)key, (*(const struct entry *const *)el)->name);
}

static const struct entry *find_entry(const struct epub *e, const char *name)
{
    if (!e->by_name)
        return NULL;
    const struct entry *const *p =
        bsearch(name, e->by_name, e->n_entries, sizeof *e->by_name, cmp_key_entry);
    return p ? *p : NULL;
}

/* ---- opening the zip ---- */

static int zip_failed(struct epub *e, int code, struct epub_error *err)
{
    unsigned char sig[4];
    switch (code) {
    case ZIP_ER_NOZIP:
        if (raw_read(e, 0, sig, 4) == 0 && le32(sig) == SIG_LOCAL)
            return fail(err, EPUB_TRUNCATED_ZIP,
                        "archive is truncated: it has no end of central directory");
        return fail(err, EPUB_NOT_A_ZIP, "file is not a zip archive");
    case ZIP_ER_EXISTS:
        return fail(err, EPUB_DUPLICATE_ENTRY, "archive has two entries with the same name");
    case ZIP_ER_INCONS:
        return fail(err, EPUB_CORRUPT_ZIP, "archive is inconsistent: its headers disagree");
    case ZIP_ER_EOF:
    case ZIP_ER_READ:
    case ZIP_ER_SEEK:
        return fail(err, EPUB_TRUNCATED_ZIP, "archive is truncated: a read ran past its end");
    case ZIP_ER_MEMORY:
        return oom(err);
    case ZIP_ER_MULTIDISK:
        return fail(err, EPUB_CORRUPT_ZIP, "archive is split over several disks");
    default: {
        zip_error_t ze;
        zip_error_init_with_code(&ze, code);
        fail(err, EPUB_CORRUPT_ZIP, "archive could not be opened: %s", zip_error_strerror(&ze));
        zip_error_fini(&ze);
        return -1;
    }
    }
}

/* Locates the central directory from the (zip64) end record. */
static int find_cdir(struct epub *e, uint64_t *off, uint64_t *size, uint64_t *count,
                     struct epub_error *err)
{
    size_t tail = e->size < 22 + 0xffff ? (size_t)e->size : 22 + 0xffff;
    if (tail < 22)
        return fail(err, EPUB_NOT_A_ZIP, "file is not a zip archive");
    unsigned char *t = malloc(tail);
    if (!t)
        return oom(err);
    if (raw_read(e, e->size - tail, t, tail) != 0) {
        free(t);
        return fail(err, EPUB_IO_ERROR, "archive could not be read");
    }
    size_t pos = SIZE_MAX, loose = SIZE_MAX;
    for (size_t i = tail - 22 + 1; i-- > 0;) {
        if (le32(t + i) != SIG_EOCD)
            continue;
        size_t end = i + 22 + le16(t + i + 20);
        if (end == tail) {
            pos = i;
            break;
        }
        if (end < tail && loose == SIZE_MAX)
            loose = i;
    }
    if (pos == SIZE_MAX)
        pos = loose;
    if (pos == SIZE_MAX) {
        free(t);
        return fail(err, EPUB_CORRUPT_ZIP, "archive has no end of central directory record");
    }
    const unsigned char *p = t + pos;
    uint64_t eocd = e->size - tail + pos;
    uint64_t n = le16(p + 10), sz = le32(p + 12), o = le32(p + 16);
    int disks = le16(p + 4) != 0 || le16(p + 6) != 0;
    free(t);
    if (disks)
        return fail(err, EPUB_CORRUPT_ZIP, "archive is split over several disks");
    if (n == 0xffff || sz == 0xffffffffu || o == 0xffffffffu) {
        unsigned char loc[20], r[56];
        if (eocd < 20 || raw_read(e, eocd - 20, loc, 20) != 0 || le32(loc) != SIG_EOCD64_LOC ||
            raw_read(e, le64(loc + 8), r, 56) != 0 || le32(r) != SIG_EOCD64)
            return fail(err, EPUB_CORRUPT_ZIP, "archive has a broken zip64 end record");
        n = le64(r + 32);
        sz = le64(r + 40);
        o = le64(r + 48);
    }
    if (o > e->size || sz > e->size - o)
        return fail(err, EPUB_CORRUPT_ZIP, "central directory lies outside the file");
    *off = o;
    *size = sz;
    *count = n;
    return 0;
}

/* Reads the zip64 extended information extra field for the values saturated in the record. */
static int zip64_extra(const unsigned char *x, size_t xl, uint64_t *usize, uint64_t *csize,
                       uint64_t *lh_off)
{
    while (xl >= 4) {
        unsigned id = le16(x), len = le16(x + 2);
        if (len > xl - 4)
            return -1;
        if (id == 0x0001) {
            const unsigned char *q = x + 4, *end = q + len;
            uint64_t *fields[3] = {usize, csize, lh_off};
            for (int i = 0; i < 3; i++) {
                if (*fields[i] != 0xffffffffu)
                    continue;
                if (end - q < 8)
                    return -1;
                *fields[i] = le64(q);
                q += 8;
            }
            return 0;
        }
        x += 4 + len;
        xl -= 4 + len;
    }
    return -1;
}

/*
 * Walks the central directory, checks each entry (name, encryption, method) and cross-checks
 * it against libzip's view; then builds the by-name index.
 */
static int load_directory(struct epub *e, struct epub_error *err)
{
    zip_int64_t zn = zip_get_num_entries(e->zip, 0);
    if (zn < 0)
        return fail(err, EPUB_CORRUPT_ZIP, "archive has no readable central directory");
    if ((uint64_t)zn > e->lim.max_entries)
        return fail(err, EPUB_TOO_MANY_ENTRIES,
                    "archive has %lld entries, more than the limit of %zu", (long long)zn,
                    e->lim.max_entries);
    uint64_t cd_off, cd_size, count;
    if (find_cdir(e, &cd_off, &cd_size, &count, err) != 0)
        return -1;
    if (count != (uint64_t)zn)
        return fail(err, EPUB_CORRUPT_ZIP,
                    "archive's end record counts %llu entries, its directory %lld",
                    (unsigned long long)count, (long long)zn);
    if (cd_size > MAX_CDIR_BYTES)
        return fail(err, EPUB_CORRUPT_ZIP, "central directory of %llu bytes is too large",
                    (unsigned long long)cd_size);
    size_t n = (size_t)zn;
    e->n_entries = n;
    e->entries = pool_alloc(&e->pool, (n ? n : 1) * sizeof *e->entries);
    unsigned char *cd = malloc(cd_size ? (size_t)cd_size : 1);
    if (!e->entries || !cd) {
        free(cd);
        return oom(err);
    }
    if (raw_read(e, cd_off, cd, (size_t)cd_size) != 0) {
        free(cd);
        return fail(err, EPUB_IO_ERROR, "central directory could not be read");
    }
    int rc = -1;
    size_t pos = 0;
    for (size_t i = 0; i < n; i++) {
        struct entry *en = &e->entries[i];
        if (cd_size - pos < 46 || le32(cd + pos) != SIG_CENTRAL) {
            fail(err, EPUB_CORRUPT_ZIP, "central directory record %zu is broken", i);
            goto out;
        }
        const unsigned char *p = cd + pos;
        size_t nl = le16(p + 28), xl = le16(p + 30), cl = le16(p + 32);
        if (cd_size - pos - 46 < nl + xl + cl) {
            fail(err, EPUB_CORRUPT_ZIP, "central directory record %zu runs past its end", i);
            goto out;
        }
        en->index = i;
        en->gpflags = le16(p + 8);
        en->method = le16(p + 10);
        en->csize = le32(p + 20);
        en->usize = le32(p + 24);
        en->lh_off = le32(p + 42);
        en->name_len = nl;
        en->name = pool_strndup(&e->pool, (const char *)p + 46, nl);
        if (!en->name) {
            oom(err);
            goto out;
        }
        if ((en->csize == 0xffffffffu || en->usize == 0xffffffffu || en->lh_off == 0xffffffffu) &&
            zip64_extra(p + 46 + nl, xl, &en->usize, &en->csize, &en->lh_off) != 0) {
            fail(err, EPUB_CORRUPT_ZIP, "entry \"%s\" has a broken zip64 field",
                 quote_n(en->name, nl).s);
            goto out;
        }
        /* libzip reads the same record: it must see the same name (it turns NUL into ' '). */
        const char *zname = zip_get_name(e->zip, i, ZIP_FL_ENC_RAW);
        bool same = zname && strlen(zname) == nl;
        for (size_t k = 0; same && k < nl; k++)
            same = (en->name[k] ? en->name[k] : ' ') == zname[k];
        if (!same) {
            fail(err, EPUB_CORRUPT_ZIP, "entry %zu reads differently from two directories", i);
            goto out;
        }
        const char *why = name_problem(en->name, nl);
        if (why) {
            fail(err, EPUB_UNSAFE_ENTRY_NAME, "entry \"%s\" has an unsafe name (%s)",
                 quote_n(en->name, nl).s, why);
            goto out;
        }
        /* Bit 0: encrypted; bit 6: strong encryption; bit 13: encrypted directory. 99: AES. */
        if ((en->gpflags & (1u | 1u << 6 | 1u << 13)) || en->method == 99) {
            fail(err, EPUB_ENCRYPTED_ENTRY, "entry \"%s\" is encrypted", quote(en->name).s);
            goto out;
        }
        if (en->method != ZIP_CM_STORE && en->method != ZIP_CM_DEFLATE) {
            fail(err, EPUB_UNSUPPORTED_COMPRESSION,
                 "entry \"%s\" uses compression method %u (only stored and deflate are allowed)",
                 quote(en->name).s, en->method);
            goto out;
        }
        pos += 46 + nl + xl + cl;
    }
    e->by_name = pool_alloc(&e->pool, (n ? n : 1) * sizeof *e->by_name);
    if (!e->by_name) {
        oom(err);
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        e->by_name[i] = &e->entries[i];
    qsort(e->by_name, n, sizeof *e->by_name, cmp_entry_name);
    rc = 0;
out:
    free(cd);
    return rc;
}

/* Names must stay distinct after case folding (and Latin canonical equivalence). */
static int check_duplicates(struct epub *e, struct epub_error *err)
{
    size_t n = e->n_entries;
    if (n < 2)
        return 0;
    const char **keys = pool_alloc(&e->pool, n * sizeof *keys);
    if (!keys)
        return oom(err);
    for (size_t i = 0; i < n; i++) {
        keys[i] = fold_name(&e->pool, e->entries[i].name, e->entries[i].name_len);
        if (!keys[i])
            return oom(err);
    }
    qsort(keys, n, sizeof *keys, cmp_str_ptr);
    for (size_t i = 1; i < n; i++) {
        if (strcmp(keys[i - 1], keys[i]) != 0)
            continue;
        /* Name both spellings: find the entries that folded to this key. */
        const char *a = NULL, *b = NULL;
        for (size_t j = 0; j < n && !b; j++) {
            char *k = fold_name(&e->pool, e->entries[j].name, e->entries[j].name_len);
            if (k && strcmp(k, keys[i]) == 0) {
                if (!a)
                    a = e->entries[j].name;
                else
                    b = e->entries[j].name;
            }
        }
        return fail(err, EPUB_DUPLICATE_ENTRY, "entries \"%s\" and \"%s\" have the same name",
                    quote(a).s, quote(b).s);
    }
    return 0;
}

struct span {
    uint64_t start, end;
    const struct entry *en;
};

static int cmp_span(const void *a, const void *b)
{
    const struct span *x = a, *y = b;
    return x->start < y->start ? -1 : x->start > y->start;
}

/*
 * Local headers, data ranges and declared sizes. Entries whose data overlap (the
 * overlapping-entry bomb) or whose declared sizes break the limits are refused here,
 * before anything is inflated.
 */
static int check_layout(struct epub *e, struct epub_error *err)
{
    size_t n = e->n_entries;
    struct span *sp = malloc((n ? n : 1) * sizeof *sp);
    if (!sp)
        return oom(err);
    int rc = -1;
    for (size_t i = 0; i < n; i++) {
        struct entry *en = &e->entries[i];
        unsigned char lh[30];
        if (raw_read(e, en->lh_off, lh, sizeof lh) != 0 || le32(lh) != SIG_LOCAL) {
            fail(err, EPUB_CORRUPT_ZIP, "local header of \"%s\" is missing", quote(en->name).s);
            goto out;
        }
        en->data_off = en->lh_off + 30 + le16(lh + 26) + le16(lh + 28);
        if (en->data_off > e->size || en->csize > e->size - en->data_off) {
            fail(err, EPUB_CORRUPT_ZIP, "data of \"%s\" runs past the end of the file",
                 quote(en->name).s);
            goto out;
        }
        sp[i].start = en->lh_off;
        sp[i].end = en->data_off + en->csize;
        sp[i].en = en;
    }
    qsort(sp, n, sizeof *sp, cmp_span);
    for (size_t i = 1; i < n; i++) {
        if (sp[i - 1].end > sp[i].start) {
            fail(err, EPUB_ZIP_BOMB, "entries \"%s\" and \"%s\" overlap in the file",
                 quote(sp[i - 1].en->name).s, quote(sp[i].en->name).s);
            goto out;
        }
    }
    /* The compressed sizes are now bounded by the file; the declared sizes are promises. */
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        const struct entry *en = &e->entries[i];
        if (en->method == ZIP_CM_STORE && en->usize != en->csize) {
            fail(err, EPUB_CORRUPT_ZIP, "stored entry \"%s\" declares two different sizes",
                 quote(en->name).s);
            goto out;
        }
        if (en->usize > e->lim.max_entry_bytes) {
            fail(err, EPUB_ZIP_BOMB,
                 "entry \"%s\" declares %llu bytes, more than the limit of %llu", quote(en->name).s,
                 (unsigned long long)en->usize, (unsigned long long)e->lim.max_entry_bytes);
            goto out;
        }
        if (en->usize > RATIO_FREE_BYTES && en->usize / e->lim.max_ratio > en->csize) {
            fail(err, EPUB_ZIP_BOMB, "entry \"%s\" declares a compression ratio over %u:1",
                 quote(en->name).s, e->lim.max_ratio);
            goto out;
        }
        total += en->usize;
        if (total > e->lim.max_total_bytes) {
            fail(err, EPUB_ZIP_BOMB, "archive declares more than %llu bytes in all",
                 (unsigned long long)e->lim.max_total_bytes);
            goto out;
        }
    }
    rc = 0;
out:
    free(sp);
    return rc;
}

/* ---- capped inflation ---- */

static int zip_read_failed(const struct entry *en, zip_error_t *ze, struct epub_error *err)
{
    int code = ze ? zip_error_code_zip(ze) : ZIP_ER_INTERNAL;
    switch (code) {
    case ZIP_ER_CRC:
        return fail(err, EPUB_CORRUPT_ZIP, "entry \"%s\" fails its CRC check", quote(en->name).s);
    case ZIP_ER_MEMORY:
        return oom(err);
    case ZIP_ER_EOF:
    case ZIP_ER_READ:
    case ZIP_ER_SEEK:
        return fail(err, EPUB_TRUNCATED_ZIP, "entry \"%s\" could not be read to its end",
                    quote(en->name).s);
    case ZIP_ER_COMPNOTSUPP:
        return fail(err, EPUB_UNSUPPORTED_COMPRESSION,
                    "entry \"%s\" uses an unsupported compression", quote(en->name).s);
    case ZIP_ER_ENCRNOTSUPP:
        return fail(err, EPUB_ENCRYPTED_ENTRY, "entry \"%s\" is encrypted", quote(en->name).s);
    default:
        return fail(err, EPUB_CORRUPT_ZIP, "entry \"%s\" could not be inflated: %s",
                    quote(en->name).s, ze ? zip_error_strerror(ze) : "unknown error");
    }
}

/*
 * Inflates one entry, counting the bytes really produced: at most cap (over it: over_code),
 * never past the declared size (a lie: zip_bomb), and, when counted, within what is left of
 * max_total_bytes. With out, returns the bytes in a malloc'd buffer (NUL-terminated) that
 * the caller owns; without, discards them (a check).
 */
static int inflate_entry(struct epub *e, const struct entry *en, uint64_t cap,
                         const char *over_code, bool counted, unsigned char **out, size_t *len,
                         struct epub_error *err)
{
    if (out)
        *out = NULL;
    if (en->usize > cap)
        return fail(err, over_code, "entry \"%s\" declares %llu bytes, more than the %llu allowed",
                    quote(en->name).s, (unsigned long long)en->usize, (unsigned long long)cap);
    unsigned char chunk[16384];
    unsigned char *buf = NULL;
    size_t room = sizeof chunk;
    if (out) {
        buf = malloc((size_t)en->usize + 1);
        if (!buf)
            return oom(err);
        room = (size_t)en->usize + 1;
    }
    zip_file_t *f = zip_fopen_index(e->zip, en->index, 0);
    if (!f) {
        free(buf);
        return zip_read_failed(en, zip_get_error(e->zip), err);
    }
    int rc = -1;
    uint64_t got = 0;
    for (;;) {
        /* Ask for one byte more than declared, to catch an entry that inflates further. */
        unsigned char *dst = buf ? buf + got : chunk;
        zip_uint64_t want = buf ? room - got : sizeof chunk;
        zip_int64_t r = zip_fread(f, dst, want);
        if (r < 0) {
            zip_read_failed(en, zip_file_get_error(f), err);
            goto out;
        }
        if (r == 0)
            break;
        got += (uint64_t)r;
        if (got > en->usize) {
            fail(err, EPUB_ZIP_BOMB, "entry \"%s\" inflates past its declared %llu bytes",
                 quote(en->name).s, (unsigned long long)en->usize);
            goto out;
        }
        if (counted) {
            e->inflated += (uint64_t)r;
            if (e->inflated > e->lim.max_total_bytes) {
                fail(err, EPUB_ZIP_BOMB, "archive inflates to more than %llu bytes in all",
                     (unsigned long long)e->lim.max_total_bytes);
                goto out;
            }
        }
    }
    if (got != en->usize) {
        fail(err, EPUB_CORRUPT_ZIP, "entry \"%s\" inflates to %llu bytes, not the %llu declared",
             quote(en->name).s, (unsigned long long)got, (unsigned long long)en->usize);
        goto out;
    }
    if (out) {
        buf[got] = 0;
        *out = buf;
        *len = (size_t)got;
        buf = NULL;
    }
    rc = 0;
out:
    zip_fclose(f);
    free(buf);
    return rc;
}

/* ---- mimetype ---- */

static int check_mimetype(struct epub *e, struct epub_error *err)
{
    const struct entry *m = find_entry(e, "mimetype");
    if (!m)
        return fail(err, EPUB_MIMETYPE_MISSING, "entry \"mimetype\" is missing");
    if (m->index != 0)
        return fail(err, EPUB_MIMETYPE_NOT_FIRST, "entry \"mimetype\" is entry %llu, not the first",
                    (unsigned long long)m->index);
    if (m->lh_off != 0)
        return fail(err, EPUB_MIMETYPE_NOT_FIRST,
                    "entry \"mimetype\" starts at byte %llu, not at the start of the file",
                    (unsigned long long)m->lh_off);
    if (m->method != ZIP_CM_STORE)
        return fail(err, EPUB_MIMETYPE_COMPRESSED, "entry \"mimetype\" is compressed");
    if (m->data_off != 30 + 8)
        return fail(err, EPUB_MIMETYPE_EXTRA_FIELD,
                    "entry \"mimetype\" has an extra field: its data starts at byte %llu, not 38",
                    (unsigned long long)m->data_off);
    unsigned char *v;
    size_t n;
    if (inflate_entry(e, m, 64, EPUB_MIMETYPE_WRONG, true, &v, &n, err) != 0)
        return -1;
    bool ok = n == sizeof MIMETYPE - 1 && memcmp(v, MIMETYPE, n) == 0;
    struct quoted q = quote_n((const char *)v, n);
    free(v);
    if (!ok)
        return fail(err, EPUB_MIMETYPE_WRONG, "entry \"mimetype\" says \"%s\", not \"%s\"", q.s,
                    MIMETYPE);
    return 0;
}

/* ---- XML ---- */

static pthread_once_t xml_once = PTHREAD_ONCE_INIT;

static void xml_init(void)
{
    xmlInitParser();
}

/*
 * libxml2 reports encoding and I/O errors (a document declared or sniffed as UCS-4 that is
 * not) through the thread's generic error handler, which prints to stderr; XML_PARSE_NOERROR
 * does not reach them. parse_xml() swaps this in for the duration of a parse.
 */
static void xml_silent(void *ctx, const char *msg, ...)
{
    (void)ctx;
    (void)msg;
}

/* Parses an entry as XML: capped, no network, no DTD, no entity substitution, silent. */
static int parse_xml(struct epub *e, const struct entry *en, xmlDoc **doc, struct epub_error *err)
{
    unsigned char *buf;
    size_t len;
    *doc = NULL;
    if (inflate_entry(e, en, e->lim.max_xml_bytes, EPUB_ENTRY_TOO_LARGE, true, &buf, &len, err) !=
        0)
        return -1;
    xmlParserCtxt *ctxt = xmlNewParserCtxt();
    if (!ctxt) {
        free(buf);
        return oom(err);
    }
    /* The handler is per thread in libxml2: restoring it leaves other users undisturbed. */
    xmlGenericErrorFunc saved = xmlGenericError;
    void *saved_ctx = xmlGenericErrorContext;
    xmlSetGenericErrorFunc(NULL, xml_silent);
    xmlDoc *d = xmlCtxtReadMemory(ctxt, (const char *)buf, (int)len, NULL, NULL,
                                  XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING |
                                      XML_PARSE_NOCDATA);
    xmlSetGenericErrorFunc(saved_ctx, saved);
    int rc = 0;
    if (!d || !ctxt->wellFormed || !xmlDocGetRootElement(d)) {
        const xmlError *xe = xmlCtxtGetLastError(ctxt);
        char why[120] = "no root element";
        if (xe && xe->message) {
            snprintf(why, sizeof why, "%s", xe->message);
            why[strcspn(why, "\n")] = 0;
        }
        fail(err, EPUB_MALFORMED_XML, "\"%s\" is not well-formed XML: %s (line %d)",
             quote(en->name).s, why, xe ? xe->line : 0);
        xmlFreeDoc(d);
        d = NULL;
        rc = -1;
    }
    xmlFreeParserCtxt(ctxt);
    free(buf);
    *doc = d;
    return rc;
}

static bool ns_is(const xmlNs *ns, const char *uri)
{
    return ns && ns->href && strcmp((const char *)ns->href, uri) == 0;
}

/* An element with this local name in namespace ns, or in no namespace. */
static bool is_el(const xmlNode *n, const char *ns, const char *name)
{
    return n->type == XML_ELEMENT_NODE && strcmp((const char *)n->name, name) == 0 &&
           (!n->ns || ns_is(n->ns, ns));
}

static bool is_dc(const xmlNode *n, const char *name)
{
    return n->type == XML_ELEMENT_NODE && strcmp((const char *)n->name, name) == 0 &&
           ns_is(n->ns, NS_DC);
}

static const xmlNode *first_child(const xmlNode *parent, const char *ns, const char *name)
{
    for (const xmlNode *c = parent->children; c; c = c->next)
        if (is_el(c, ns, name))
            return c;
    return NULL;
}

/* An attribute's value (its text; entity references are not expanded), or NULL. */
static char *attr(struct epub *e, const xmlNode *n, const char *ns, const char *name)
{
    for (const xmlAttr *a = n->properties; a; a = a->next) {
        if (strcmp((const char *)a->name, name) != 0 || (ns ? !ns_is(a->ns, ns) : a->ns != NULL))
            continue;
        size_t len = 0;
        for (const xmlNode *c = a->children; c; c = c->next)
            if (c->type == XML_TEXT_NODE && c->content)
                len += strlen((const char *)c->content);
        char *v = pool_alloc(&e->pool, len + 1);
        if (!v)
            return NULL;
        size_t w = 0;
        for (const xmlNode *c = a->children; c; c = c->next) {
            if (c->type == XML_TEXT_NODE && c->content) {
                size_t l = strlen((const char *)c->content);
                memcpy(v + w, c->content, l);
                w += l;
            }
        }
        return v;
    }
    return NULL;
}

/*
 * Calls fn on each text node under root in document order. Entity references are not
 * entered, so an entity can neither expand nor smuggle in text.
 */
static void each_text(const xmlNode *root, void (*fn)(void *, const char *), void *ctx)
{
    const xmlNode *n = root->children;
    while (n) {
        if ((n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) && n->content)
            fn(ctx, (const char *)n->content);
        if (n->type == XML_ELEMENT_NODE && n->children) {
            n = n->children;
            continue;
        }
        while (!n->next) {
            n = n->parent;
            if (!n || n == root)
                return;
        }
        n = n->next;
    }
}

struct textbuf {
    char *p;
    size_t n;
    bool space;
};

static void text_measure(void *ctx, const char *s)
{
    ((struct textbuf *)ctx)->n += strlen(s);
}

static void text_append(void *ctx, const char *s)
{
    struct textbuf *t = ctx;
    for (; *s; s++) {
        if (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r') {
            t->space = true;
            continue;
        }
        if (t->space && t->n)
            t->p[t->n++] = ' ';
        t->space = false;
        t->p[t->n++] = *s;
    }
}

/* The element's text, whitespace collapsed and trimmed, in the pool ("" when empty); NULL: OOM. */
static char *text(struct epub *e, const xmlNode *n)
{
    struct textbuf t = {0};
    each_text(n, text_measure, &t);
    t.p = pool_alloc(&e->pool, t.n + 1);
    if (!t.p)
        return NULL;
    t.n = 0;
    each_text(n, text_append, &t);
    t.p[t.n] = 0;
    return t.p;
}

static bool has_token(const char *list, const char *tok)
{
    size_t tl = strlen(tok);
    for (const char *s = list; s && *s;) {
        while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
            s++;
        size_t l = strcspn(s, " \t\n\r");
        if (l == tl && memcmp(s, tok, l) == 0)
            return true;
        s += l;
    }
    return false;
}

/* ---- URLs inside the container ---- */

enum resolve_rc { RES_OK, RES_REMOTE, RES_LEAK, RES_UNSAFE, RES_OOM };

struct resolved {
    char *path;     /* entry name, or the URL when remote */
    char *fragment; /* after '#', or NULL */
};

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/*
 * Resolves href, found in the document at self (an entry name, or "" for the container
 * root), to an entry name: percent-decoded, '.' and '..' applied, no leading '/'. An
 * absolute http(s) URL gives RES_REMOTE; any other scheme, a network-path ("//host") or a
 * '..' above the root gives RES_LEAK; control characters or backslashes, which a browser
 * would read as a separator, give RES_UNSAFE. An empty path refers to self.
 */
static enum resolve_rc resolve(struct epub *e, const char *self, const char *href,
                               struct resolved *r)
{
    r->path = r->fragment = NULL;
    while (*href == ' ' || *href == '\t' || *href == '\n' || *href == '\r')
        href++;
    size_t hl = strlen(href);
    while (hl && (href[hl - 1] == ' ' || href[hl - 1] == '\t' || href[hl - 1] == '\n' ||
                  href[hl - 1] == '\r'))
        hl--;
    size_t pl = strcspn(href, "#?");
    if (pl > hl)
        pl = hl;
    const char *hash = memchr(href, '#', hl);
    if (hash) {
        r->fragment = pool_strndup(&e->pool, hash + 1, hl - (size_t)(hash + 1 - href));
        if (!r->fragment)
            return RES_OOM;
    }
    /* scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) ":" (RFC 3986) */
    size_t k = 0;
    if ((href[0] | 0x20) >= 'a' && (href[0] | 0x20) <= 'z') {
        k = 1;
        while (k < pl && (((href[k] | 0x20) >= 'a' && (href[k] | 0x20) <= 'z') ||
                          (href[k] >= '0' && href[k] <= '9') || href[k] == '+' || href[k] == '-' ||
                          href[k] == '.'))
            k++;
    }
    if (k > 0 && k < pl && href[k] == ':') {
        if ((k == 4 && strncasecmp(href, "http", 4) == 0) ||
            (k == 5 && strncasecmp(href, "https", 5) == 0)) {
            r->path = pool_strndup(&e->pool, href, hl);
            return r->path ? RES_REMOTE : RES_OOM;
        }
        return RES_LEAK;
    }
    if (pl >= 2 && href[0] == '/' && href[1] == '/')
        return RES_LEAK;
    const char *base = self;
    size_t bl = 0;
    if (pl == 0) {
        bl = strlen(self);
    } else if (href[0] != '/') {
        const char *slash = strrchr(self, '/');
        bl = slash ? (size_t)(slash - self) + 1 : 0;
    }
    char *s = pool_alloc(&e->pool, bl + pl + 2);
    if (!s)
        return RES_OOM;
    memcpy(s, base, bl);
    size_t w = bl;
    for (size_t i = 0; i < pl; i++) {
        int c = (unsigned char)href[i];
        if (c == '%' && i + 2 < pl && hexval(href[i + 1]) >= 0 && hexval(href[i + 2]) >= 0) {
            c = hexval(href[i + 1]) << 4 | hexval(href[i + 2]);
            i += 2;
        }
        if (c < 0x20 || c == 0x7f || c == '\\')
            return RES_UNSAFE;
        s[w++] = (char)c;
    }
    s[w] = 0;
    /* Apply the segments in place; output "seg/" per kept segment, then drop the last '/'. */
    size_t rd = 0, out = 0;
    while (rd < w) {
        size_t end = rd;
        while (end < w && s[end] != '/')
            end++;
        size_t len = end - rd;
        if (len == 0 || (len == 1 && s[rd] == '.')) {
            /* nothing */
        } else if (len == 2 && s[rd] == '.' && s[rd + 1] == '.') {
            if (out == 0)
                return RES_LEAK;
            out--;
            while (out > 0 && s[out - 1] != '/')
                out--;
        } else {
            memmove(s + out, s + rd, len);
            out += len;
            s[out++] = '/';
        }
        rd = end + 1;
    }
    if (out == 0)
        return RES_UNSAFE;
    s[out - 1] = 0;
    r->path = s;
    return RES_OK;
}

/* Maps a failed resolve() to an error, naming where the reference was found. */
static int resolve_failed(enum resolve_rc rc, const char *where, const char *href,
                          struct epub_error *err)
{
    switch (rc) {
    case RES_OOM:
        return oom(err);
    case RES_UNSAFE:
        return fail(err, EPUB_URL_LEAKS_CONTAINER,
                    "%s \"%s\" is not a safe path inside the container", where, quote(href).s);
    default:
        return fail(err, EPUB_URL_LEAKS_CONTAINER, "%s \"%s\" leads outside the container", where,
                    quote(href).s);
    }
}

/* EPUB 3 lets audio, video and fonts stay remote; nothing else may. */
static bool remote_allowed(const char *media_type)
{
    return strncmp(media_type, "audio/", 6) == 0 || strncmp(media_type, "video/", 6) == 0 ||
           strncmp(media_type, "font/", 5) == 0 ||
           strncmp(media_type, "application/font-", 17) == 0 ||
           strncmp(media_type, "application/x-font-", 19) == 0 ||
           strcmp(media_type, "application/vnd.ms-opentype") == 0;
}

/* ---- the package document ---- */

struct refine {
    const char *target, *property, *value, *scheme;
    size_t order;
};

static int cmp_refine(const void *a, const void *b)
{
    const struct refine *x = a, *y = b;
    int c = strcmp(x->target, y->target);
    if (!c)
        c = strcmp(x->property, y->property);
    if (!c)
        c = x->order < y->order ? -1 : x->order > y->order;
    return c;
}

struct refines {
    struct refine *v;
    size_t n;
};

/* The first refinement of #id with this property, or NULL. */
static const struct refine *refined(const struct refines *rs, const char *id, const char *property)
{
    if (!id)
        return NULL;
    size_t lo = 0, hi = rs->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(rs->v[mid].target, id);
        if (!c)
            c = strcmp(rs->v[mid].property, property);
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < rs->n && strcmp(rs->v[lo].target, id) == 0 &&
        strcmp(rs->v[lo].property, property) == 0)
        return &rs->v[lo];
    return NULL;
}

struct strvec {
    const char **v;
    size_t n, cap;
};

static int push_str(struct epub *e, struct strvec *sv, const char *s)
{
    if (!s || !*s)
        return 0;
    const char **p = grow(&e->pool, sv->v, sv->n, &sv->cap, sizeof *sv->v);
    if (!p)
        return -1;
    sv->v = p;
    sv->v[sv->n++] = s;
    return 0;
}

static struct epub_strings strings_of(const struct strvec *sv)
{
    struct epub_strings s = {sv->n ? sv->v : NULL, sv->n};
    return s;
}

/* ISBN-10/13 check digits over exactly 10 or 13 characters [0-9] (X last for ISBN-10). */
static bool isbn_checksum(const char *d, size_t n)
{
    if (n == 13) {
        int sum = 0;
        for (size_t i = 0; i < 13; i++) {
            if (d[i] < '0' || d[i] > '9')
                return false;
            sum += (d[i] - '0') * (i % 2 ? 3 : 1);
        }
        return sum % 10 == 0 && (strncmp(d, "978", 3) == 0 || strncmp(d, "979", 3) == 0);
    }
    if (n == 10) {
        int sum = 0;
        for (size_t i = 0; i < 10; i++) {
            int v;
            if (d[i] >= '0' && d[i] <= '9')
                v = d[i] - '0';
            else if (i == 9 && (d[i] == 'X' || d[i] == 'x'))
                v = 10;
            else
                return false;
            sum += v * (int)(10 - i);
        }
        return sum % 11 == 0;
    }
    return false;
}

/*
 * Flags an identifier as an ISBN and sets its compact form. Declared ISBNs (urn:isbn:,
 * opf:scheme, ONIX type) only need the shape; a bare number must also pass its checksum.
 */
static int classify_identifier(struct epub *e, struct epub_identifier *id, bool declared)
{
    const char *v = id->value;
    if (strncasecmp(v, "urn:isbn:", 9) == 0) {
        v += 9;
        declared = true;
    } else if (strncasecmp(v, "isbn:", 5) == 0 || strncasecmp(v, "isbn ", 5) == 0) {
        v += 5;
    }
    if (id->scheme && strcasecmp(id->scheme, "isbn") == 0)
        declared = true;
    char d[14];
    size_t n = 0;
    bool shaped = true;
    for (; *v && shaped; v++) {
        if (*v == '-' || *v == ' ')
            continue;
        if (n == 13 || !((*v >= '0' && *v <= '9') || *v == 'X' || *v == 'x'))
            shaped = false;
        else
            d[n++] = *v == 'x' ? 'X' : *v;
    }
    shaped = shaped && (n == 10 || n == 13);
    if (declared || (shaped && isbn_checksum(d, n))) {
        id->is_isbn = 1;
        if (shaped && !(id->isbn = pool_strndup(&e->pool, d, n)))
            return -1;
    }
    return 0;
}

static int cmp_item_id(const void *a, const void *b)
{
    return strcmp((*(const struct epub_item *const *)a)->id,
                  (*(const struct epub_item *const *)b)->id);
}

static int cmp_item_href(const void *a, const void *b)
{
    return strcmp((*(const struct epub_item *const *)a)->href,
                  (*(const struct epub_item *const *)b)->href);
}

static int cmp_key_item_id(const void *key, const void *el)
{
    return strcmp((const char *)key, (*(const struct epub_item *const *)el)->id);
}

static int cmp_key_item_href(const void *key, const void *el)
{
    return strcmp((const char *)key, (*(const struct epub_item *const *)el)->href);
}

struct opf {
    struct epub *e;
    const char *path;
    struct refines refines;
    struct epub_item **by_id, **by_href; /* local items only in by_href */
    size_t n_by_href;
    const char *cover_id; /* EPUB 2 <meta name="cover"> */
    const char *ncx_id;   /* spine@toc */
};

static struct epub_item *item_by_id(const struct opf *o, const char *id)
{
    if (!id)
        return NULL;
    struct epub_item **p =
        bsearch(id, o->by_id, o->e->meta.n_manifest, sizeof *o->by_id, cmp_key_item_id);
    return p ? *p : NULL;
}

static struct epub_item *item_by_href(const struct opf *o, const char *href)
{
    struct epub_item **p =
        bsearch(href, o->by_href, o->n_by_href, sizeof *o->by_href, cmp_key_item_href);
    return p ? *p : NULL;
}

/* The element children of <metadata>, also inside the EPUB 2 dc-metadata/x-metadata wrappers. */
static int metadata_elements(struct epub *e, const xmlNode *md, const xmlNode ***out, size_t *n)
{
    size_t cap = 0;
    *out = NULL;
    *n = 0;
    for (const xmlNode *c = md->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        const xmlNode *first = c, *one = c;
        if (is_el(c, NS_OPF, "dc-metadata") || is_el(c, NS_OPF, "x-metadata")) {
            first = c->children;
            one = NULL;
        }
        for (const xmlNode *x = first; x; x = one ? NULL : x->next) {
            if (x->type != XML_ELEMENT_NODE)
                continue;
            const xmlNode **p = grow(&e->pool, (void *)*out, *n, &cap, sizeof **out);
            if (!p)
                return -1;
            *out = p;
            (*out)[(*n)++] = x;
        }
    }
    return 0;
}

/* A <meta> that is not a refinement: layout, accessibility, EPUB 2 cover. */
static int global_meta(struct opf *o, const char *key, const char *value, struct strvec a11y[4])
{
    struct epub_meta *m = &o->e->meta;
    if (!key || !value || !*value)
        return 0;
    if (strcmp(key, "rendition:layout") == 0) {
        if (!m->layout)
            m->layout = value;
    } else if (strcmp(key, "schema:accessMode") == 0) {
        return push_str(o->e, &a11y[0], value);
    } else if (strcmp(key, "schema:accessModeSufficient") == 0) {
        return push_str(o->e, &a11y[1], value);
    } else if (strcmp(key, "schema:accessibilityFeature") == 0) {
        return push_str(o->e, &a11y[2], value);
    } else if (strcmp(key, "schema:accessibilityHazard") == 0) {
        return push_str(o->e, &a11y[3], value);
    } else if (strcmp(key, "schema:accessibilitySummary") == 0) {
        if (!m->accessibility_summary)
            m->accessibility_summary = value;
    } else if (strcmp(key, "cover") == 0) {
        if (!o->cover_id)
            o->cover_id = value;
    }
    return 0;
}

struct person_vec {
    struct epub_person *v;
    size_t n, cap;
};

static int parse_metadata(struct opf *o, const xmlNode *md, const char *uid_ref,
                          struct epub_error *err)
{
    struct epub *e = o->e;
    struct epub_meta *m = &e->meta;
    const xmlNode **els;
    size_t n;
    if (metadata_elements(e, md, &els, &n) != 0)
        return oom(err);

    /* Pass 1: <meta>: refinements (sorted for lookups) and global properties. */
    struct strvec a11y[4] = {{0}};
    size_t rcap = 0;
    for (size_t i = 0; i < n; i++) {
        const xmlNode *x = els[i];
        if (!is_el(x, NS_OPF, "meta"))
            continue;
        char *prop = attr(e, x, NULL, "property");
        if (prop) {
            char *refines = attr(e, x, NULL, "refines");
            char *value = text(e, x);
            if (!value)
                return oom(err);
            if (!refines) {
                if (global_meta(o, prop, value, a11y) != 0)
                    return oom(err);
                continue;
            }
            struct refine *p = grow(&e->pool, o->refines.v, o->refines.n, &rcap, sizeof *p);
            if (!p)
                return oom(err);
            o->refines.v = p;
            struct refine *r = &p[o->refines.n];
            r->target = refines[0] == '#' ? refines + 1 : refines;
            r->property = prop;
            r->value = value;
            r->scheme = attr(e, x, NULL, "scheme");
            r->order = o->refines.n++;
        } else {
            char *name = attr(e, x, NULL, "name");
            if (global_meta(o, name, attr(e, x, NULL, "content"), a11y) != 0)
                return oom(err);
        }
    }
    if (o->refines.n)
        qsort(o->refines.v, o->refines.n, sizeof *o->refines.v, cmp_refine);

    /* Pass 2: Dublin Core. */
    struct person_vec creators = {0}, contributors = {0};
    struct strvec languages = {0}, subjects = {0};
    struct epub_identifier *ids = NULL;
    size_t n_ids = 0, ids_cap = 0;
    const char *first_title = NULL, *main_title = NULL;
    bool date_is_pub = false;
    for (size_t i = 0; i < n; i++) {
        const xmlNode *x = els[i];
        if (x->ns == NULL || !ns_is(x->ns, NS_DC))
            continue;
        char *v = text(e, x);
        char *id = attr(e, x, NULL, "id");
        if (!v)
            return oom(err);
        if (!*v)
            continue;
        if (is_dc(x, "title")) {
            const struct refine *tt = refined(&o->refines, id, "title-type");
            if (!first_title)
                first_title = v;
            if (!main_title && tt && strcmp(tt->value, "main") == 0)
                main_title = v;
        } else if (is_dc(x, "creator") || is_dc(x, "contributor")) {
            struct person_vec *pv = is_dc(x, "creator") ? &creators : &contributors;
            struct epub_person *p = grow(&e->pool, pv->v, pv->n, &pv->cap, sizeof *p);
            if (!p)
                return oom(err);
            pv->v = p;
            struct epub_person *person = &p[pv->n++];
            const struct refine *role = refined(&o->refines, id, "role");
            const struct refine *file_as = refined(&o->refines, id, "file-as");
            person->name = v;
            person->role = attr(e, x, NS_OPF, "role");
            if (!person->role && role)
                person->role = role->value;
            person->file_as = attr(e, x, NS_OPF, "file-as");
            if (!person->file_as && file_as)
                person->file_as = file_as->value;
        } else if (is_dc(x, "language")) {
            if (push_str(e, &languages, v) != 0)
                return oom(err);
        } else if (is_dc(x, "subject")) {
            if (push_str(e, &subjects, v) != 0)
                return oom(err);
        } else if (is_dc(x, "identifier")) {
            struct epub_identifier *p = grow(&e->pool, ids, n_ids, &ids_cap, sizeof *p);
            if (!p)
                return oom(err);
            ids = p;
            struct epub_identifier *ident = &ids[n_ids++];
            ident->value = v;
            ident->scheme = attr(e, x, NS_OPF, "scheme");
            const struct refine *type = refined(&o->refines, id, "identifier-type");
            bool onix = type && type->scheme && strcmp(type->scheme, "onix:codelist5") == 0 &&
                        (strcmp(type->value, "02") == 0 || strcmp(type->value, "15") == 0);
            if (classify_identifier(e, ident, onix) != 0)
                return oom(err);
            if (uid_ref && id && strcmp(id, uid_ref) == 0 && !m->unique_identifier)
                m->unique_identifier = v;
        } else if (is_dc(x, "publisher")) {
            if (!m->publisher)
                m->publisher = v;
        } else if (is_dc(x, "description")) {
            if (!m->description)
                m->description = v;
        } else if (is_dc(x, "rights")) {
            if (!m->rights)
                m->rights = v;
        } else if (is_dc(x, "date")) {
            char *event = attr(e, x, NS_OPF, "event");
            bool pub = !event || strcasecmp(event, "publication") == 0;
            if (!m->date || (pub && !date_is_pub)) {
                m->date = v;
                date_is_pub = pub;
            }
        }
    }
    m->title = main_title ? main_title : first_title;
    m->creators = creators.v;
    m->n_creators = creators.n;
    m->contributors = contributors.v;
    m->n_contributors = contributors.n;
    m->languages = strings_of(&languages);
    m->subjects = strings_of(&subjects);
    m->identifiers = ids;
    m->n_identifiers = n_ids;
    m->access_modes = strings_of(&a11y[0]);
    m->access_modes_sufficient = strings_of(&a11y[1]);
    m->accessibility_features = strings_of(&a11y[2]);
    m->accessibility_hazards = strings_of(&a11y[3]);
    return 0;
}

static int parse_manifest(struct opf *o, const xmlNode *manifest, struct epub_error *err)
{
    struct epub *e = o->e;
    struct epub_item *items = NULL;
    size_t n = 0, cap = 0;
    for (const xmlNode *x = manifest->children; x; x = x->next) {
        if (!is_el(x, NS_OPF, "item"))
            continue;
        char *id = attr(e, x, NULL, "id");
        char *href = attr(e, x, NULL, "href");
        char *mt = attr(e, x, NULL, "media-type");
        if (!id || !*id || !href || !mt || !*mt)
            return fail(err, EPUB_INVALID_OPF,
                        "manifest item \"%s\" lacks an id, href or media-type",
                        quote(id ? id : href).s);
        struct epub_item *p = grow(&e->pool, items, n, &cap, sizeof *p);
        if (!p)
            return oom(err);
        items = p;
        struct epub_item *it = &items[n++];
        struct resolved r;
        enum resolve_rc rc = resolve(e, o->path, href, &r);
        if (rc == RES_REMOTE && !remote_allowed(mt))
            return fail(err, EPUB_URL_LEAKS_CONTAINER,
                        "manifest item \"%s\" is remote \"%s\", but a %s cannot be remote",
                        quote(id).s, quote(href).s, quote(mt).s);
        if (rc != RES_OK && rc != RES_REMOTE)
            return resolve_failed(rc, "manifest href", href, err);
        if (rc == RES_OK && r.fragment)
            return fail(err, EPUB_INVALID_OPF, "manifest href \"%s\" has a fragment",
                        quote(href).s);
        it->id = id;
        it->href = r.path;
        it->media_type = mt;
        it->properties = attr(e, x, NULL, "properties");
        it->remote = rc == RES_REMOTE;
    }
    e->items = items;
    e->meta.manifest = items;
    e->meta.n_manifest = n;
    o->by_id = pool_alloc(&e->pool, (n ? n : 1) * sizeof *o->by_id);
    o->by_href = pool_alloc(&e->pool, (n ? n : 1) * sizeof *o->by_href);
    if (!o->by_id || !o->by_href)
        return oom(err);
    for (size_t i = 0; i < n; i++) {
        o->by_id[i] = &items[i];
        if (!items[i].remote)
            o->by_href[o->n_by_href++] = &items[i];
    }
    qsort(o->by_id, n, sizeof *o->by_id, cmp_item_id);
    for (size_t i = 1; i < n; i++)
        if (strcmp(o->by_id[i - 1]->id, o->by_id[i]->id) == 0)
            return fail(err, EPUB_INVALID_OPF, "manifest id \"%s\" is used twice",
                        quote(o->by_id[i]->id).s);
    qsort(o->by_href, o->n_by_href, sizeof *o->by_href, cmp_item_href);
    return 0;
}

static int parse_spine(struct opf *o, const xmlNode *spine, struct epub_error *err)
{
    struct epub *e = o->e;
    struct epub_spine_item *v = NULL;
    size_t n = 0, cap = 0;
    for (const xmlNode *x = spine->children; x; x = x->next) {
        if (!is_el(x, NS_OPF, "itemref"))
            continue;
        char *idref = attr(e, x, NULL, "idref");
        const struct epub_item *it = item_by_id(o, idref);
        if (!it)
            return fail(err, EPUB_INVALID_OPF, "spine itemref \"%s\" names no manifest item",
                        quote(idref).s);
        struct epub_spine_item *p = grow(&e->pool, v, n, &cap, sizeof *p);
        if (!p)
            return oom(err);
        v = p;
        char *linear = attr(e, x, NULL, "linear");
        v[n].item = it;
        v[n].linear = !(linear && strcmp(linear, "no") == 0);
        v[n].properties = attr(e, x, NULL, "properties");
        n++;
    }
    if (n == 0)
        return fail(err, EPUB_INVALID_OPF, "spine lists no item");
    e->meta.spine = v;
    e->meta.n_spine = n;
    e->meta.page_progression_direction = attr(e, spine, NULL, "page-progression-direction");
    o->ncx_id = attr(e, spine, NULL, "toc");
    return 0;
}

static bool is_image(const struct epub_item *it)
{
    return it && !it->remote && strncmp(it->media_type, "image/", 6) == 0;
}

static void find_cover(struct opf *o)
{
    struct epub_meta *m = &o->e->meta;
    for (size_t i = 0; i < m->n_manifest; i++) {
        if (has_token(m->manifest[i].properties, "cover-image") && is_image(&m->manifest[i])) {
            m->cover = &m->manifest[i];
            return;
        }
    }
    const struct epub_item *it = item_by_id(o, o->cover_id);
    if (is_image(it)) {
        m->cover = it;
        return;
    }
    it = item_by_id(o, "cover");
    if (is_image(it))
        m->cover = it;
}

static int parse_opf(struct opf *o, const xmlDoc *doc, struct epub_error *err)
{
    struct epub *e = o->e;
    const xmlNode *root = xmlDocGetRootElement(doc);
    if (!is_el(root, NS_OPF, "package"))
        return fail(err, EPUB_INVALID_OPF, "\"%s\" is not a package document: its root is <%s>",
                    quote(o->path).s, quote((const char *)root->name).s);
    const xmlNode *md = first_child(root, NS_OPF, "metadata");
    const xmlNode *manifest = first_child(root, NS_OPF, "manifest");
    const xmlNode *spine = first_child(root, NS_OPF, "spine");
    if (!md || !manifest || !spine)
        return fail(err, EPUB_INVALID_OPF, "package document \"%s\" has no <%s>", quote(o->path).s,
                    !md         ? "metadata"
                    : !manifest ? "manifest"
                                : "spine");
    e->meta.version = attr(e, root, NULL, "version");
    if (parse_metadata(o, md, attr(e, root, NULL, "unique-identifier"), err) != 0 ||
        parse_manifest(o, manifest, err) != 0 || parse_spine(o, spine, err) != 0)
        return -1;
    if (!e->meta.layout || strcmp(e->meta.layout, "pre-paginated") != 0)
        e->meta.layout = "reflowable";
    find_cover(o);
    return 0;
}

/* ---- encryption.xml ---- */

static int parse_encryption(struct opf *o, struct epub_error *err)
{
    struct epub *e = o->e;
    const struct entry *en = find_entry(e, "META-INF/encryption.xml");
    if (!en)
        return 0;
    xmlDoc *doc;
    if (parse_xml(e, en, &doc, err) != 0)
        return -1;
    int rc = -1;
    const xmlNode *root = xmlDocGetRootElement(doc);
    for (const xmlNode *d = root->children; d; d = d->next) {
        if (!is_el(d, NS_XMLENC, "EncryptedData"))
            continue;
        const xmlNode *method = first_child(d, NS_XMLENC, "EncryptionMethod");
        const xmlNode *cdata = first_child(d, NS_XMLENC, "CipherData");
        const xmlNode *ref = cdata ? first_child(cdata, NS_XMLENC, "CipherReference") : NULL;
        char *alg = method ? attr(e, method, NULL, "Algorithm") : NULL;
        char *uri = ref ? attr(e, ref, NULL, "URI") : NULL;
        if (!uri)
            continue;
        struct resolved r;
        enum resolve_rc res = resolve(e, "", uri, &r);
        if (res != RES_OK) {
            resolve_failed(res, "encrypted resource", uri, err);
            goto out;
        }
        if (!alg || (strcmp(alg, ALG_IDPF_FONT) != 0 && strcmp(alg, ALG_ADOBE_FONT) != 0)) {
            fail(err, EPUB_ENCRYPTED_RESOURCE, "resource \"%s\" is encrypted with \"%s\" (DRM)",
                 quote(r.path).s, quote(alg).s);
            goto out;
        }
        struct epub_item *it = item_by_href(o, r.path);
        if (it)
            it->obfuscation = strcmp(alg, ALG_IDPF_FONT) == 0 ? ALG_IDPF_FONT : ALG_ADOBE_FONT;
    }
    rc = 0;
out:
    xmlFreeDoc(doc);
    return rc;
}

/* ---- table of contents ---- */

struct toc {
    struct epub *e;
    const char *doc; /* the nav or NCX entry name, base of its hrefs */
    size_t count;
};

static int toc_push(struct toc *t, struct epub_toc_entry **v, size_t *n, size_t *cap,
                    struct epub_toc_entry **out)
{
    struct epub_toc_entry *p = grow(&t->e->pool, *v, *n, cap, sizeof *p);
    if (!p)
        return -1;
    *v = p;
    *out = &p[(*n)++];
    t->count++;
    return 0;
}

static int toc_link(struct toc *t, struct epub_toc_entry *te, const char *href,
                    struct epub_error *err)
{
    if (!href)
        return 0;
    struct resolved r;
    enum resolve_rc rc = resolve(t->e, t->doc, href, &r);
    if (rc != RES_OK)
        return resolve_failed(rc, "table of contents link", href, err);
    te->href = r.path;
    te->fragment = r.fragment;
    return 0;
}

/* An <ol> of the nav toc: li > (a | span), and a nested ol. */
static int nav_list(struct toc *t, const xmlNode *ol, int depth, struct epub_toc_entry **out,
                    size_t *n_out, struct epub_error *err)
{
    struct epub_toc_entry *v = NULL;
    size_t n = 0, cap = 0;
    for (const xmlNode *li = ol->children; li; li = li->next) {
        if (!is_el(li, NS_XHTML, "li"))
            continue;
        if (t->count >= TOC_MAX_ENTRIES) {
            t->e->meta.toc_truncated = 1;
            break;
        }
        const xmlNode *label = NULL, *sub = NULL;
        for (const xmlNode *c = li->children; c; c = c->next) {
            if (!label && (is_el(c, NS_XHTML, "a") || is_el(c, NS_XHTML, "span")))
                label = c;
            else if (!sub && is_el(c, NS_XHTML, "ol"))
                sub = c;
        }
        if (!label)
            continue;
        struct epub_toc_entry *te;
        if (toc_push(t, &v, &n, &cap, &te) != 0 || !(te->title = text(t->e, label)))
            return oom(err);
        if (is_el(label, NS_XHTML, "a") &&
            toc_link(t, te, attr(t->e, label, NULL, "href"), err) != 0)
            return -1;
        if (sub) {
            struct epub_toc_entry *kids;
            size_t nk;
            if (depth + 1 >= TOC_MAX_DEPTH) {
                t->e->meta.toc_truncated = 1;
            } else {
                if (nav_list(t, sub, depth + 1, &kids, &nk, err) != 0)
                    return -1;
                te->children = kids;
                te->n_children = nk;
            }
        }
    }
    *out = v;
    *n_out = n;
    return 0;
}

/* The navPoint children of an NCX navMap or navPoint. */
static int ncx_points(struct toc *t, const xmlNode *parent, int depth, struct epub_toc_entry **out,
                      size_t *n_out, struct epub_error *err)
{
    struct epub_toc_entry *v = NULL;
    size_t n = 0, cap = 0;
    for (const xmlNode *np = parent->children; np; np = np->next) {
        if (!is_el(np, NS_NCX, "navPoint"))
            continue;
        if (t->count >= TOC_MAX_ENTRIES) {
            t->e->meta.toc_truncated = 1;
            break;
        }
        const xmlNode *label = first_child(np, NS_NCX, "navLabel");
        const xmlNode *ltext = label ? first_child(label, NS_NCX, "text") : NULL;
        const xmlNode *content = first_child(np, NS_NCX, "content");
        struct epub_toc_entry *te;
        if (toc_push(t, &v, &n, &cap, &te) != 0)
            return oom(err);
        te->title = ltext ? text(t->e, ltext) : label ? text(t->e, label) : "";
        if (!te->title)
            return oom(err);
        if (content && toc_link(t, te, attr(t->e, content, NULL, "src"), err) != 0)
            return -1;
        if (first_child(np, NS_NCX, "navPoint")) {
            struct epub_toc_entry *kids;
            size_t nk;
            if (depth + 1 >= TOC_MAX_DEPTH) {
                t->e->meta.toc_truncated = 1;
            } else {
                if (ncx_points(t, np, depth + 1, &kids, &nk, err) != 0)
                    return -1;
                te->children = kids;
                te->n_children = nk;
            }
        }
    }
    *out = v;
    *n_out = n;
    return 0;
}

/* The first <nav epub:type="... toc ..."> in document order. */
static const xmlNode *find_toc_nav(struct epub *e, const xmlNode *root)
{
    const xmlNode *n = root;
    while (n) {
        if (is_el(n, NS_XHTML, "nav") && has_token(attr(e, n, NS_OPS, "type"), "toc"))
            return n;
        if (n->type == XML_ELEMENT_NODE && n->children) {
            n = n->children;
            continue;
        }
        while (n && !n->next) {
            n = n->parent;
            if (n == root)
                return NULL;
        }
        if (n)
            n = n->next;
    }
    return NULL;
}

/* Reads the toc from the item's document; *found says whether it had one. */
static int toc_from(struct epub *e, const struct epub_item *it, bool ncx, bool *found,
                    struct epub_error *err)
{
    *found = false;
    const struct entry *en = it && !it->remote ? find_entry(e, it->href) : NULL;
    if (!en)
        return 0;
    xmlDoc *doc;
    if (parse_xml(e, en, &doc, err) != 0)
        return -1;
    struct toc t = {e, it->href, 0};
    struct epub_toc_entry *v = NULL;
    size_t n = 0;
    int rc = 0;
    const xmlNode *root = xmlDocGetRootElement(doc);
    if (ncx) {
        const xmlNode *map =
            is_el(root, NS_NCX, "ncx") ? first_child(root, NS_NCX, "navMap") : NULL;
        if (map) {
            *found = true;
            rc = ncx_points(&t, map, 0, &v, &n, err);
        }
    } else {
        const xmlNode *nav = find_toc_nav(e, root);
        const xmlNode *ol = nav ? first_child(nav, NS_XHTML, "ol") : NULL;
        if (ol) {
            *found = true;
            rc = nav_list(&t, ol, 0, &v, &n, err);
        }
    }
    xmlFreeDoc(doc);
    if (rc == 0 && *found) {
        e->meta.toc_path = it->href;
        e->meta.toc = v;
        e->meta.n_toc = n;
    }
    return rc;
}

static int parse_toc(struct opf *o, struct epub_error *err)
{
    struct epub_meta *m = &o->e->meta;
    const struct epub_item *nav = NULL, *ncx = item_by_id(o, o->ncx_id);
    for (size_t i = 0; i < m->n_manifest && !nav; i++)
        if (has_token(m->manifest[i].properties, "nav"))
            nav = &m->manifest[i];
    for (size_t i = 0; i < m->n_manifest && !ncx; i++)
        if (strcmp(m->manifest[i].media_type, "application/x-dtbncx+xml") == 0)
            ncx = &m->manifest[i];
    bool found;
    if (toc_from(o->e, nav, false, &found, err) != 0)
        return -1;
    if (!found && toc_from(o->e, ncx, true, &found, err) != 0)
        return -1;
    return 0;
}

/* ---- container.xml and the whole package ---- */

static int find_rootfile(struct epub *e, char **path, struct epub_error *err)
{
    const struct entry *ce = find_entry(e, "META-INF/container.xml");
    if (!ce)
        return fail(err, EPUB_CONTAINER_MISSING, "entry \"META-INF/container.xml\" is missing");
    xmlDoc *doc;
    if (parse_xml(e, ce, &doc, err) != 0)
        return -1;
    const xmlNode *root = xmlDocGetRootElement(doc);
    const xmlNode *rootfiles =
        is_el(root, NS_OCF, "container") ? first_child(root, NS_OCF, "rootfiles") : NULL;
    const char *full = NULL;
    for (const xmlNode *r = rootfiles ? rootfiles->children : NULL; r; r = r->next) {
        if (!is_el(r, NS_OCF, "rootfile"))
            continue;
        char *fp = attr(e, r, NULL, "full-path");
        char *mt = attr(e, r, NULL, "media-type");
        if (!fp || !*fp)
            continue;
        if (mt && strcmp(mt, "application/oebps-package+xml") == 0) {
            full = fp;
            break;
        }
        if (!full)
            full = fp;
    }
    xmlFreeDoc(doc);
    if (!full)
        return fail(err, EPUB_OPF_MISSING, "\"META-INF/container.xml\" names no package document");
    struct resolved r;
    enum resolve_rc rc = resolve(e, "", full, &r);
    if (rc != RES_OK)
        return resolve_failed(rc, "rootfile", full, err);
    *path = r.path;
    return 0;
}

static int check_package(struct epub *e, struct epub_error *err)
{
    char *path = NULL;
    if (find_rootfile(e, &path, err) != 0)
        return -1;
    const struct entry *oe = find_entry(e, path);
    if (!oe)
        return fail(err, EPUB_OPF_MISSING,
                    "package document \"%s\" named by container.xml is missing", quote(path).s);
    e->meta.opf_path = path;
    xmlDoc *doc;
    if (parse_xml(e, oe, &doc, err) != 0)
        return -1;
    struct opf o = {.e = e, .path = path};
    int rc = parse_opf(&o, doc, err);
    xmlFreeDoc(doc);
    if (rc != 0 || parse_encryption(&o, err) != 0 || parse_toc(&o, err) != 0)
        return -1;
    return 0;
}

/* Inflates every entry once, so that no byte of the archive goes unchecked. */
static int scan_all(struct epub *e, struct epub_error *err)
{
    for (size_t i = 0; i < e->n_entries; i++) {
        const struct entry *en = &e->entries[i];
        if (en->csize == 0 && en->usize == 0)
            continue;
        if (inflate_entry(e, en, e->lim.max_entry_bytes, EPUB_ZIP_BOMB, true, NULL, NULL, err) != 0)
            return -1;
    }
    return 0;
}

/* ---- public ---- */

static struct epub *epub_new(const struct epub_limits *lim)
{
    struct epub *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    e->fd = -1;
    if (lim)
        e->lim = *lim;
    if (!e->lim.max_entries)
        e->lim.max_entries = DEFAULT_MAX_ENTRIES;
    if (!e->lim.max_entry_bytes)
        e->lim.max_entry_bytes = DEFAULT_MAX_ENTRY_BYTES;
    if (!e->lim.max_xml_bytes)
        e->lim.max_xml_bytes = DEFAULT_MAX_XML_BYTES;
    if (!e->lim.max_total_bytes)
        e->lim.max_total_bytes = DEFAULT_MAX_TOTAL_BYTES;
    if (!e->lim.max_ratio)
        e->lim.max_ratio = DEFAULT_MAX_RATIO;
    /* libxml2 takes an int length. */
    if (e->lim.max_xml_bytes > INT_MAX)
        e->lim.max_xml_bytes = INT_MAX;
    return e;
}

/* Everything after libzip opened the archive. */
static int check(struct epub *e, struct epub_error *err)
{
    pthread_once(&xml_once, xml_init);
    int rc = 0;
    if (load_directory(e, err) != 0 || check_duplicates(e, err) != 0 || check_layout(e, err) != 0 ||
        check_mimetype(e, err) != 0 || check_package(e, err) != 0)
        rc = -1;
    else if (!(e->lim.flags & EPUB_SKIP_SCAN) && scan_all(e, err) != 0)
        rc = -1;
    /* attr() and text() read a failed allocation as "absent": never let that pass as success. */
    if (e->pool.failed)
        return oom(err);
    return rc;
}

static int finish_open(struct epub *e, zip_source_t *src, struct epub **out, struct epub_error *err)
{
    zip_error_t ze;
    zip_error_init(&ze);
    e->zip = zip_open_from_source(src, ZIP_RDONLY | ZIP_CHECKCONS, &ze);
    if (!e->zip) {
        zip_source_free(src);
        zip_failed(e, zip_error_code_zip(&ze), err);
        zip_error_fini(&ze);
        epub_close(e);
        return -1;
    }
    zip_error_fini(&ze);
    if (check(e, err) != 0) {
        epub_close(e);
        return -1;
    }
    *out = e;
    return 0;
}

int epub_open_file(const char *path, const struct epub_limits *lim, struct epub **out,
                   struct epub_error *err)
{
    *out = NULL;
    struct epub *e = epub_new(lim);
    if (!e)
        return oom(err);
    struct stat st;
    e->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (e->fd < 0 || fstat(e->fd, &st) != 0) {
        fail(err, EPUB_IO_ERROR, "could not open \"%s\": %s", quote(path).s, strerror(errno));
        epub_close(e);
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        fail(err, EPUB_IO_ERROR, "could not open \"%s\": not a regular file", quote(path).s);
        epub_close(e);
        return -1;
    }
    e->size = (uint64_t)st.st_size;
    if (e->size == 0) {
        fail(err, EPUB_NOT_A_ZIP, "file \"%s\" is empty", quote(path).s);
        epub_close(e);
        return -1;
    }
    /* libzip reads through its own descriptor of the same open file: no second lookup of path. */
    int zfd = fcntl(e->fd, F_DUPFD_CLOEXEC, 0);
    FILE *fp = zfd >= 0 ? fdopen(zfd, "rb") : NULL;
    if (!fp) {
        if (zfd >= 0)
            close(zfd);
        fail(err, EPUB_IO_ERROR, "could not open \"%s\": %s", quote(path).s, strerror(errno));
        epub_close(e);
        return -1;
    }
    zip_error_t ze;
    zip_error_init(&ze);
    zip_source_t *src = zip_source_filep_create(fp, 0, -1, &ze);
    zip_error_fini(&ze);
    if (!src) {
        fclose(fp);
        epub_close(e);
        return oom(err);
    }
    return finish_open(e, src, out, err);
}

int epub_open_buffer(const void *data, size_t len, const struct epub_limits *lim, struct epub **out,
                     struct epub_error *err)
{
    *out = NULL;
    struct epub *e = epub_new(lim);
    if (!e)
        return oom(err);
    e->buf = data;
    e->size = len;
    if (len == 0 || !data) {
        fail(err, EPUB_NOT_A_ZIP, "buffer of %zu bytes is empty", len);
        epub_close(e);
        return -1;
    }
    zip_error_t ze;
    zip_error_init(&ze);
    zip_source_t *src = zip_source_buffer_create(data, len, 0, &ze);
    zip_error_fini(&ze);
    if (!src) {
        epub_close(e);
        return oom(err);
    }
    return finish_open(e, src, out, err);
}

const struct epub_meta *epub_meta(const struct epub *e)
{
    return &e->meta;
}

int epub_entry_size(const struct epub *e, const char *name, uint64_t *size)
{
    const struct entry *en = find_entry(e, name);
    if (!en)
        return 0;
    if (size)
        *size = en->usize;
    return 1;
}

int epub_entry_stored_size(const struct epub *e, const char *name, uint64_t *size)
{
    const struct entry *en = find_entry(e, name);
    if (!en)
        return 0;
    *size = en->csize;
    return 1;
}

int epub_entry_span(const struct epub *e, const char *name, uint64_t *offset, uint64_t *size)
{
    const struct entry *en = find_entry(e, name);
    if (!en || en->method != 0 || e->fd < 0 || en->csize != en->usize)
        return 0;
    *offset = en->data_off;
    *size = en->usize;
    return 1;
}

int epub_read_entry(struct epub *e, const char *name, size_t max, unsigned char **buf, size_t *len,
                    struct epub_error *err)
{
    *buf = NULL;
    *len = 0;
    const struct entry *en = find_entry(e, name);
    if (!en)
        return fail(err, EPUB_ENTRY_NOT_FOUND, "entry \"%s\" is not in the archive", quote(name).s);
    uint64_t cap = max < SIZE_MAX ? max : SIZE_MAX - 1;
    return inflate_entry(e, en, cap, EPUB_ENTRY_TOO_LARGE, false, buf, len, err);
}

void epub_close(struct epub *e)
{
    if (!e)
        return;
    if (e->zip)
        zip_discard(e->zip);
    if (e->fd >= 0)
        close(e->fd);
    pool_release(&e->pool);
    free(e);
}
