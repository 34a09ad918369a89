/*
 * Alerts to patrons (part of the lending module): the notifications the portal lists,
 * and their e-mail delivery over SMTP from the outbox they are stored in.
 */
#ifndef PRETNUM_ALERTS_H
#define PRETNUM_ALERTS_H

#include <jansson.h>

#include "pretnum/lending.h"

struct db;

/** Where and how e-mail goes. smtp_url NULL: e-mails wait in the outbox. */
struct lend_mail {
    const char *smtp_url;   /* smtp://host:port or smtps://... (libcurl) */
    const char *from;       /* the sender's address */
    const char *portal_url; /* put in messages so people find their account */
    long timeout_s;         /* per message (20) */
};

/**
 * Sends up to 20 pending e-mails whose time has come, each marked sent, or retried
 * later with a growing delay (given up after 8 attempts). Runs in one transaction that
 * skips rows another server is sending. Returns how many were sent, or -1.
 */
int lend_alerts_deliver(struct db *db, const struct lend_mail *mail);

/** The caller's notifications, newest first: {"items": [...], "total": N, "unread": N}. */
enum lend_status lend_notifications(struct db *db, const struct lend_principal *who, int page,
                                    int per_page, json_t **out, struct lend_err *err);

/** Marks all the caller's notifications read. */
enum lend_status lend_notifications_read(struct db *db, const struct lend_principal *who,
                                         struct lend_err *err);

#endif
