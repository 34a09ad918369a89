/*
 * The copy of an EPUB a patron downloads for a reading app (part of the lending module):
 * the stored book, watermarked for one loan, written as a new file with libzip.
 *
 * The mark is twofold. A visible notice (library, loan dates, loan id, in French and
 * English) is a new XHTML page in the reading order: second, after the cover or title
 * page, in a reflowable book; last in a fixed-layout one, whose page spreads must not
 * shift. The package document gains a dc:identifier "urn:uuid:LOAN" (id
 * "pretnum-loan") and a dc:rights line naming the library and the loan. Nothing else
 * changes: every other entry is copied as it is stored, compressed bytes and all, so a
 * book that passes epubcheck still passes, and fonts obfuscated with the book's unique
 * identifier still open.
 *
 * The output is a function of the book and the loan only (the new entries carry the
 * loan's start as their time), so the same loan always gets the same bytes: resumed
 * downloads (Range) and ETags hold.
 */
#ifndef PRETNUM_WATERMARK_H
#define PRETNUM_WATERMARK_H

#include <time.h>

struct epub_error;

/* Bumped whenever the output for the same book and loan changes (it is part of ETags). */
#define LEND_WATERMARK_VERSION 1

/** What the mark says. Every string is UTF-8 and required. */
struct lend_mark {
    const char *loan_id;  /* the loan's uuid */
    const char *library;  /* the name of the patron's library */
    const char *borrowed; /* the loan's start, "YYYY-MM-DD" */
    const char *due;      /* the loan's end, "YYYY-MM-DD" */
    time_t started;       /* the loan's start: the time of the entries written anew */
};

/**
 * Writes the marked copy of the EPUB at src (a stored book, checked at ingest) to dst,
 * which must not exist. Memory stays small whatever the book's size: entries are copied
 * from file to file. Returns 0, or -1 with *err set (err may be NULL) and nothing left at
 * dst: EPUB_* codes of epub_open_file() and epub_read_entry() for the source, or
 * EPUB_IO_ERROR when dst cannot be written.
 */
int lend_watermark_epub(const char *src, const struct lend_mark *mark, const char *dst,
                        struct epub_error *err);

/**
 * lend_watermark_epub() into a temporary file under data_dir/tmp, opened and at once
 * unlinked: returns its descriptor (the caller closes it), or -1 with *err set. Nothing is
 * left on disk either way, even if the process dies while the file is being read.
 */
int lend_watermark_open(const char *data_dir, const char *src, const struct lend_mark *mark,
                        struct epub_error *err);

#endif
