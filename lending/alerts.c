/*
 * E-mail delivery from the notification outbox with libcurl's SMTP client (Debian's
 * libcurl: a maintained SMTP implementation with TLS, rather than one of our own), and
 * the portal's list of notifications.
 */
#include "sql.h"

#include <curl/curl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pretnum/alerts.h"

struct payload {
    const char *data;
    size_t len, off;
};

static size_t feed(char *buf, size_t size, size_t n, void *ud)
{
    struct payload *p = ud;
    size_t room = size * n, left = p->len - p->off;
    size_t k = left < room ? left : room;
    memcpy(buf, p->data + p->off, k);
    p->off += k;
    return k;
}

/* Header values must not end a header early: no CR, LF or angle brackets in addresses. */
static bool plain_address(const char *a)
{
    return a && strchr(a, '@') && !strpbrk(a, "\r\n<>\"(), ;:\\") && strlen(a) <= 254;
}

static void one_line(char *s)
{
    for (; *s; s++)
        if (*s == '\r' || *s == '\n' || *s == '\t')
            *s = ' ';
}

/* "2026-12-01T10:00:00Z" → "1 December 2026 at 10:00 UTC" / "1 décembre 2026 à 10:00 UTC". */
static void human_date(const char *rfc, bool french, char *out, size_t cap)
{
    static const char *fr[] = {"janvier", "février", "mars", "avril", "mai", "juin", "juillet",
                               "août", "septembre", "octobre", "novembre", "décembre"};
    static const char *en[] = {"January", "February", "March", "April", "May", "June", "July",
                               "August", "September", "October", "November", "December"};
    int y, mo, d, h, mi;
    if (!rfc || sscanf(rfc, "%d-%d-%dT%d:%d", &y, &mo, &d, &h, &mi) != 5 || mo < 1 || mo > 12) {
        snprintf(out, cap, "%s", rfc ? rfc : "");
        return;
    }
    snprintf(out, cap, french ? "%d %s %d à %02d:%02d UTC" : "%d %s %d at %02d:%02d UTC", d,
             french ? fr[mo - 1] : en[mo - 1], y, h, mi);
}

static char *compose(const struct lend_mail *m, const PGresult *r, int i)
{
    char title[600], fr_date[80], en_date[80];
    snprintf(title, sizeof title, "%s", db_get(r, i, "title"));
    one_line(title);
    human_date(db_get(r, i, "due"), true, fr_date, sizeof fr_date);
    human_date(db_get(r, i, "due"), false, en_date, sizeof en_date);
    const char *kind = db_get(r, i, "kind");
    char subject[800], body[4000];
    if (!strcmp(kind, "hold_ready")) {
        snprintf(subject, sizeof subject, "Votre réservation est disponible / Your hold is ready: %s", title);
        snprintf(body, sizeof body,
                 "Bonjour,\r\n\r\n« %s » vous attend : empruntez-le avant le %s.\r\n\r\n"
                 "Hello,\r\n\r\n\"%s\" is waiting for you: borrow it before %s.\r\n",
                 title, fr_date, title, en_date);
    } else if (!strcmp(kind, "hold_expiring")) {
        snprintf(subject, sizeof subject, "Dernier jour pour emprunter / Last day to borrow: %s", title);
        snprintf(body, sizeof body,
                 "Bonjour,\r\n\r\n« %s » vous est réservé jusqu'au %s ; ensuite il passera au lecteur suivant.\r\n\r\n"
                 "Hello,\r\n\r\n\"%s\" is kept for you until %s; then it goes to the next reader.\r\n",
                 title, fr_date, title, en_date);
    } else {
        snprintf(subject, sizeof subject, "Votre prêt se termine bientôt / Your loan ends soon: %s", title);
        snprintf(body, sizeof body,
                 "Bonjour,\r\n\r\nVotre prêt de « %s » se termine le %s. Vous pouvez le prolonger si personne ne l'attend.\r\n\r\n"
                 "Hello,\r\n\r\nYour loan of \"%s\" ends on %s. You may renew it if no one is waiting.\r\n",
                 title, fr_date, title, en_date);
    }
    /* RFC 2047: the subject is UTF-8, so it travels base64-encoded. */
    char b64[sizeof subject * 2];
    sodium_bin2base64(b64, sizeof b64, (const unsigned char *)subject, strlen(subject), sodium_base64_VARIANT_ORIGINAL);
    char date[64];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
    char library[300];
    snprintf(library, sizeof library, "%s", db_get(r, i, "library"));
    one_line(library);
    char *msg;
    if (asprintf(&msg,
                 "Date: %s\r\nFrom: %s <%s>\r\nTo: <%s>\r\nSubject: =?UTF-8?B?%s?=\r\n"
                 "Message-ID: <%s@pretnum>\r\nMIME-Version: 1.0\r\n"
                 "Content-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
                 "%s\r\n%s\r\n-- \r\n%s\r\n",
                 date, "Pretnum", m->from, db_get(r, i, "email_to"), b64, db_get(r, i, "id"), body,
                 m->portal_url ? m->portal_url : "", library) < 0)
        return NULL;
    return msg;
}

static int send_one(const struct lend_mail *m, const char *to, const char *msg, char *err, size_t errlen)
{
    CURL *c = curl_easy_init();
    if (!c) {
        snprintf(err, errlen, "could not start an SMTP client");
        return -1;
    }
    char rcpt_addr[300], from_addr[300];
    snprintf(rcpt_addr, sizeof rcpt_addr, "<%s>", to);
    snprintf(from_addr, sizeof from_addr, "<%s>", m->from);
    struct curl_slist *rcpt = curl_slist_append(NULL, rcpt_addr);
    struct payload p = {.data = msg, .len = strlen(msg)};
    char ebuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(c, CURLOPT_URL, m->smtp_url);
    curl_easy_setopt(c, CURLOPT_MAIL_FROM, from_addr);
    curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpt);
    curl_easy_setopt(c, CURLOPT_READFUNCTION, feed);
    curl_easy_setopt(c, CURLOPT_READDATA, &p);
    curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, m->timeout_s > 0 ? m->timeout_s : 20L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, ebuf);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    CURLcode rc = curl_easy_perform(c);
    if (rc != CURLE_OK)
        snprintf(err, errlen, "%s", ebuf[0] ? ebuf : curl_easy_strerror(rc));
    curl_slist_free_all(rcpt);
    curl_easy_cleanup(c);
    return rc == CURLE_OK ? 0 : -1;
}

struct deliver {
    const struct lend_mail *mail;
    int sent;
};

static enum lend_status deliver_tx(struct db *db, void *ctx)
{
    struct deliver *d = ctx;
    d->sent = 0;
    int qs;
    PGresult *r = db_exec(db, "outbox_take", 0, NULL, &qs);
    if (!r)
        return db_failure(db, qs);
    for (int i = 0; i < qs; i++) {
        const char *id = db_get(r, i, "id"), *to = db_get(r, i, "email_to");
        char err[CURL_ERROR_SIZE + 64] = "";
        char *msg = plain_address(to) ? compose(d->mail, r, i) : NULL;
        int ok = msg && send_one(d->mail, to, msg, err, sizeof err) == 0;
        if (!msg && !err[0])
            snprintf(err, sizeof err, "not a deliverable address: \"%s\"", to ? to : "");
        free(msg);
        const char *p[2] = {id, err};
        int u;
        PQclear(db_exec(db, ok ? "outbox_sent" : "outbox_failed", ok ? 1 : 2, p, &u));
        if (u < 0) {
            PQclear(r);
            return db_failure(db, u);
        }
        d->sent += ok;
        if (!ok)
            fprintf(stderr, "level=warn msg=\"e-mail %s not sent, will retry\" detail=\"%s\"\n", id, err);
    }
    PQclear(r);
    return LEND_OK;
}

int lend_alerts_deliver(struct db *db, const struct lend_mail *mail)
{
    if (!mail || !mail->smtp_url || !mail->from)
        return 0;
    struct deliver d = {.mail = mail};
    return db_transaction(db, deliver_tx, &d) == LEND_OK ? d.sent : -1;
}

enum lend_status lend_notifications(struct db *db, const struct lend_principal *who, int page, int per_page,
                                    json_t **out, struct lend_err *err)
{
    if (who->role != LEND_PATRON)
        return lend_fail(err, LEND_FORBIDDEN, "patrons_only", "Notifications are for library members.");
    char lim[16], off[32];
    snprintf(lim, sizeof lim, "%d", per_page);
    snprintf(off, sizeof off, "%lld", (long long)(page - 1) * per_page);
    const char *p[3] = {who->id, lim, off};
    int qs;
    PGresult *r = db_exec(db, "notifications_list", 3, p, &qs);
    if (!r)
        return db_failed(db, qs, err);
    json_t *items = json_array();
    for (int i = 0; i < qs; i++)
        json_array_append_new(items, json_pack("{s:s, s:s, s:s, s:s, s:s?, s:s, s:b, s:s}", "id", db_get(r, i, "id"),
                                               "kind", db_get(r, i, "kind"), "title_id", db_get(r, i, "title_id"),
                                               "title", db_get(r, i, "title"), "due", db_get(r, i, "due"), "created",
                                               db_get(r, i, "created"), "read", db_get_bool(r, i, "read"), "email",
                                               db_get(r, i, "email_state")));
    PQclear(r);
    r = db_exec(db, "notifications_count", 1, p, &qs);
    if (!r) {
        json_decref(items);
        return db_failed(db, qs, err);
    }
    *out = json_pack("{s:o, s:I, s:I}", "items", items, "total", (json_int_t)strtoll(PQgetvalue(r, 0, 0), NULL, 10),
                     "unread", (json_int_t)strtoll(PQgetvalue(r, 0, 1), NULL, 10));
    PQclear(r);
    return LEND_OK;
}

enum lend_status lend_notifications_read(struct db *db, const struct lend_principal *who, struct lend_err *err)
{
    if (who->role != LEND_PATRON)
        return lend_fail(err, LEND_FORBIDDEN, "patrons_only", "Notifications are for library members.");
    const char *p[1] = {who->id};
    int qs;
    PGresult *r = db_exec(db, "notifications_read", 1, p, &qs);
    if (!r)
        return db_failed(db, qs, err);
    PQclear(r);
    return LEND_OK;
}
