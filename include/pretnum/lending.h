/*
 * The lending domain: consortia, libraries, patrons, staff, sessions, and (later)
 * licences, loans and holds. Every rule and every SQL statement lives behind these
 * functions; the server turns their status into HTTP.
 */
#ifndef PRETNUM_LENDING_H
#define PRETNUM_LENDING_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

struct db;

/** What a domain call came to. Only server/ maps these to HTTP statuses. */
enum lend_status {
    LEND_OK = 0,
    LEND_INVALID,      /* bad input (400) */
    LEND_UNAUTHORIZED, /* not signed in, bad credentials (401) */
    LEND_FORBIDDEN,    /* signed in but not allowed (403) */
    LEND_NOT_FOUND,    /* unknown, or not visible to the caller (404) */
    LEND_CONFLICT,     /* state conflict (409) */
    LEND_TOO_LARGE,    /* a body or file over its cap (413) */
    LEND_UNSUPPORTED,  /* wrong media type (415) */
    LEND_UNACCEPTABLE, /* a well-formed file we cannot take: invalid EPUB, bad codec (422) */
    LEND_THROTTLED,    /* too many attempts (429) */
    LEND_UNAVAILABLE,  /* the database is away (503) */
    LEND_RETRY,        /* serialization failure: retry the transaction */
    LEND_INTERNAL,     /* a bug or broken invariant (500) */
};

/** The reason that goes with a status: an API error code and a sentence for people. */
struct lend_err {
    const char *code; /* "bad_credentials"; a string constant */
    char message[256];
    int retry_after; /* seconds, for LEND_THROTTLED */
};

/** Sets err and returns st, so failures read `return lend_fail(err, ...)`. */
enum lend_status lend_fail(struct lend_err *err, enum lend_status st, const char *code,
                           const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/** Process-wide settings of the domain. Zero fields take the defaults shown. */
struct lend_config {
    int max_hashers;          /* concurrent password hashes (2): each takes 64 MiB */
    int account_max_failures; /* failed sign-ins per account in a window (5) */
    int address_max_failures; /* per client address (30) */
    int throttle_window_s;    /* window and lock-out length (900) */
    int patron_session_s;     /* session lifetime for patrons (14 days) */
    int staff_session_s;      /* for staff (12 hours) */
};

/** Applies the configuration; call once before serving (tests may call it again). */
void lend_configure(const struct lend_config *cfg);

/**
 * Prepares what sign-in needs before the first request: the dummy hash that unknown
 * accounts are checked against, so that even the first of them takes as long as a real
 * one. Safe to call more than once, from any thread.
 */
void lend_warm_up(void);

/* ---- Accounts (the CLI verbs). Each prints nothing; ids are written to id_out. ---- */

enum lend_status lend_consortium_add(struct db *db, const char *name, char id_out[37],
                                     struct lend_err *err);
enum lend_status lend_library_add(struct db *db, const char *consortium_id, const char *code,
                                  const char *name, char id_out[37], struct lend_err *err);
/** password is hashed here with Argon2id; the caller wipes its copy. */
enum lend_status lend_patron_add(struct db *db, const char *library_code, const char *card,
                                 const char *name, const char *email, const char *password,
                                 char id_out[37], struct lend_err *err);
/** library_code is NULL for a consortium_admin, required for a library_admin. */
enum lend_status lend_staff_add(struct db *db, const char *consortium_id, const char *library_code,
                                const char *email, const char *role, const char *password,
                                char id_out[37], struct lend_err *err);

/** Hashes a password (Argon2id, libsodium's interactive limits), bounded in concurrency. */
int lend_password_hash(const char *password, char out[128]);

/* ---- Sessions ---- */

enum lend_role { LEND_PATRON = 1, LEND_LIBRARY_ADMIN, LEND_CONSORTIUM_ADMIN };

/** Who is calling: resolved from a session at each request. */
struct lend_principal {
    enum lend_role role;
    char id[37];            /* patron or staff id */
    char library_id[37];    /* "" for a consortium admin */
    char consortium_id[37];
    char pseudonym[37];     /* patrons only */
    unsigned char session_hash[32];
    int session_left_s;     /* seconds the session had left when it was looked up */
};

/** Sign-in credentials: library + card for patrons, email for staff. */
struct lend_credentials {
    const char *library, *card, *email, *password;
    const char *address; /* the client's IP, for throttling */
};

/** Session token length: 32 random bytes in unpadded base64url. */
#define LEND_TOKEN_LEN 43

/**
 * Checks credentials and opens a session. On LEND_OK, token_out holds the secret (give
 * it to the client; it is stored only hashed) and *account is a new reference to the
 * account's JSON (you own it: json_decref). The same LEND_UNAUTHORIZED
 * "bad_credentials" answers an unknown account and a wrong password, after the same
 * work; LEND_THROTTLED after repeated failures for the account or the address.
 */
enum lend_status lend_session_create(struct db *db, const struct lend_credentials *cred,
                                     char token_out[LEND_TOKEN_LEN + 1], json_t **account,
                                     struct lend_err *err);

/** Resolves a session token to its principal; LEND_UNAUTHORIZED when unknown or expired. */
enum lend_status lend_session_lookup(struct db *db, const char *token, struct lend_principal *who,
                                     struct lend_err *err);

/** Ends the caller's session for good. */
enum lend_status lend_session_end(struct db *db, const struct lend_principal *who,
                                  struct lend_err *err);

/**
 * The CSRF token bound to a session token: BLAKE2b(token) under a fixed context, so it
 * can be shown to scripts without revealing the HttpOnly session secret.
 */
void lend_csrf_token(const char *session_token, char out[LEND_TOKEN_LEN + 1]);

/** GET /api/v1/me: the account, its library and consortium, counts and limits. */
enum lend_status lend_me(struct db *db, const struct lend_principal *who, json_t **out,
                         struct lend_err *err);

/* ---- Staff administration, scoped: a consortium admin sees its consortium, a library
 * admin its library; anything else is LEND_NOT_FOUND, as if it did not exist. ---- */

/** Paged list of libraries visible to the caller: {"items": [...], "total": N}. */
enum lend_status lend_admin_libraries(struct db *db, const struct lend_principal *who,
                                      json_t **out, struct lend_err *err);

/** Changes a library's loan policy from a JSON object of the fields to change. */
enum lend_status lend_admin_library_update(struct db *db, const struct lend_principal *who,
                                           const char *code, const json_t *changes,
                                           json_t **out, struct lend_err *err);

/** Paged list of patrons, optionally of one library (code), with a card/name search. */
enum lend_status lend_admin_patrons(struct db *db, const struct lend_principal *who,
                                    const char *library_code, const char *q, int page,
                                    int per_page, json_t **out, struct lend_err *err);

enum lend_status lend_admin_patron(struct db *db, const struct lend_principal *who,
                                   const char *id, json_t **out, struct lend_err *err);

/** True when s is a canonical lowercase or uppercase UUID (ids in URLs are checked first). */
bool lend_is_uuid(const char *s);

#endif
