/*
 * Licences, loans, holds and usage (part of the lending module). All the rules of
 * ../shared/DESIGN.md's lending model live behind these functions; each change runs in
 * one transaction that first locks the title's licences in the patron's consortium.
 */
#ifndef PRETNUM_LOANS_H
#define PRETNUM_LOANS_H

#include <jansson.h>
#include <stdbool.h>

#include "pretnum/lending.h"

struct db;

/** Terms of a new licence. Zero/NULL means unlimited (or, for loan_days, library policy). */
struct lend_licence_terms {
    const char *title_id;
    const char *library_code; /* NULL: for the whole consortium */
    int concurrency;          /* simultaneous loans; 0 = unlimited */
    int checkouts;            /* loans over its life; 0 = unlimited */
    const char *expires;      /* RFC 3339 time or YYYY-MM-DD; NULL = perpetual */
    int loan_days;            /* longest loan; 0 = library policy */
};

/**
 * Adds a licence for who's consortium (a library admin: only for its own library).
 * The CLI passes a consortium admin principal built from --consortium. *out is the
 * licence as GET /api/v1/admin/licences shows it.
 */
enum lend_status lend_licence_add(struct db *db, const struct lend_principal *who,
                                  const struct lend_licence_terms *t, json_t **out,
                                  struct lend_err *err);

/** Licences visible to who, with live in_use, checkouts_used, checkouts_left, state. */
enum lend_status lend_licences_list(struct db *db, const struct lend_principal *who,
                                    const char *title_id, const char *expiring_before, int page,
                                    int per_page, json_t **out, struct lend_err *err);

/** Changes concurrency, checkouts, expires, loan_days or suspended from a JSON object. */
enum lend_status lend_licence_update(struct db *db, const struct lend_principal *who,
                                     const char *id, const json_t *changes, json_t **out,
                                     struct lend_err *err);

/** An Idempotency-Key and a digest of the request it came with (NULL key: none). */
struct lend_idem {
    const char *key;
    char request_hash[65];
};

/**
 * Borrows a title for days (0 = the library's default). On LEND_OK *out is the loan.
 * Refusals: LEND_CONFLICT no_copy_available / already_borrowed, LEND_FORBIDDEN
 * loan_limit_reached / no_licence, LEND_NOT_FOUND unknown_title, LEND_INVALID
 * invalid_loan_days; LEND_UNACCEPTABLE idempotency_key_reused for the same key with
 * another request. Refusals are recorded as turnaways; a retry with the same key gets
 * the first answer, refusal or loan, and changes nothing.
 */
enum lend_status lend_checkout(struct db *db, const struct lend_principal *who, const char *title_id,
                               int days, const struct lend_idem *idem, json_t **out,
                               struct lend_err *err);

enum lend_status lend_loans_list(struct db *db, const struct lend_principal *who, bool all, int page,
                                 int per_page, json_t **out, struct lend_err *err);
enum lend_status lend_loan_get(struct db *db, const struct lend_principal *who, const char *id,
                               json_t **out, struct lend_err *err);
/** Ends an active loan now; its copy goes at once to the first hold waiting for it. */
enum lend_status lend_loan_return(struct db *db, const struct lend_principal *who, const char *id,
                                  json_t **out, struct lend_err *err);
/**
 * Extends an active loan by days (0 = default) from its due date. LEND_CONFLICT
 * holds_waiting, renewal_limit or licence_ends.
 */
enum lend_status lend_loan_renew(struct db *db, const struct lend_principal *who, const char *id,
                                 int days, json_t **out, struct lend_err *err);

/**
 * Places a hold. LEND_CONFLICT copy_available / already_on_hold / already_borrowed,
 * LEND_FORBIDDEN hold_limit_reached / no_licence. *out is the hold with its position
 * and estimated wait.
 */
enum lend_status lend_hold_place(struct db *db, const struct lend_principal *who, const char *title_id,
                                 const struct lend_idem *idem, json_t **out, struct lend_err *err);
enum lend_status lend_holds_list(struct db *db, const struct lend_principal *who, int page,
                                 int per_page, json_t **out, struct lend_err *err);
enum lend_status lend_hold_cancel(struct db *db, const struct lend_principal *who, const char *id,
                                  struct lend_err *err);

/**
 * Housekeeping any number of servers may run at once (SKIP LOCKED): closes loans past
 * due, lapses ready holds past their window, and gives free copies to waiting holds.
 * Returns how many rows it changed, or -1.
 */
int lend_sweep(struct db *db);

/** Availability of a title in who's consortium: {copies, available, holds}, or NULL. */
json_t *lend_availability(struct db *db, const struct lend_principal *who, const char *title_id);

/** What the content endpoints need to know of a loan named by a verified token. */
struct lend_content {
    bool active;          /* not ended and before due */
    char file_path[256];  /* data-directory-relative */
    char sha256[65];
    char kind[8];
};

/** What a download needs beside lend_content: the words of the watermark. */
struct lend_download {
    struct lend_content c;
    char title[1001];
    char library[201];
    char borrowed[11], due[11]; /* YYYY-MM-DD, UTC */
    long long started;          /* the loan's start, seconds since the epoch */
};

/** LEND_NOT_FOUND when there is no such loan of that title. */
enum lend_status lend_download_loan(struct db *db, const char *loan_id, const char *title_id,
                                    struct lend_download *out, struct lend_err *err);

/** LEND_NOT_FOUND when there is no such loan of that title. */
enum lend_status lend_content_loan(struct db *db, const char *loan_id, const char *title_id,
                                   struct lend_content *out, struct lend_err *err);

/**
 * Records that a stream of an active loan starts (a 'stream_start' usage event).
 * LEND_FORBIDDEN "loan_ended" when the loan is no longer active.
 */
enum lend_status lend_stream_start(struct db *db, const char *loan_id, struct lend_err *err);

/**
 * Usage per title and month in who's scope between from and to (YYYY-MM-DD, to exclusive):
 * {"items": [{title_id, title, month, loans, renewals, streams, unique_patrons, turnaways,
 * turnaways_no_copy, turnaways_no_licence, turnaways_limit, holds_placed}]}.
 */
enum lend_status lend_report_usage(struct db *db, const struct lend_principal *who, const char *from,
                                   const char *to, json_t **out, struct lend_err *err);

#endif
