/*
 * Alerts end to end: written with the change that causes them, listed for the patron,
 * delivered by e-mail to a real SMTP server on loopback (a small sink this test runs),
 * retried when the server refuses, and never lost while it is down.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pretnum/alerts.h"
#include "pretnum/db.h"
#include "pretnum/loans.h"
#include "pretnum/server.h"
#include "testdb.h"

/* ---- an SMTP sink: enough of RFC 5321 for one client at a time ---- */

static struct {
    int fd, port;
    pthread_t th;
    pthread_mutex_t mu;
    volatile int stop;
    volatile int refuse; /* answer DATA with 451, a temporary failure */
    char *messages[16];
    int count;
} sink;

static bool read_line(int fd, char *buf, size_t cap)
{
    size_t n = 0;
    while (n + 1 < cap) {
        char c;
        if (recv(fd, &c, 1, 0) != 1)
            return false;
        buf[n++] = c;
        if (c == '\n')
            break;
    }
    buf[n] = 0;
    return true;
}

static void say(int fd, const char *s)
{
    send(fd, s, strlen(s), MSG_NOSIGNAL);
}

static void *sink_run(void *arg)
{
    (void)arg;
    while (!sink.stop) {
        struct pollfd p = {.fd = sink.fd, .events = POLLIN};
        if (poll(&p, 1, 100) <= 0)
            continue;
        int c = accept(sink.fd, NULL, NULL);
        if (c < 0)
            continue;
        say(c, "220 sink ESMTP\r\n");
        char line[2048];
        while (read_line(c, line, sizeof line)) {
            if (!strncasecmp(line, "EHLO", 4) || !strncasecmp(line, "HELO", 4)) {
                say(c, "250 sink\r\n");
            } else if (!strncasecmp(line, "MAIL", 4) || !strncasecmp(line, "RCPT", 4) ||
                       !strncasecmp(line, "RSET", 4) || !strncasecmp(line, "NOOP", 4)) {
                say(c, "250 ok\r\n");
            } else if (!strncasecmp(line, "DATA", 4)) {
                if (sink.refuse) {
                    say(c, "451 try again later\r\n");
                    continue;
                }
                say(c, "354 go on\r\n");
                size_t cap = 1 << 16, n = 0;
                char *msg = malloc(cap);
                while (read_line(c, line, sizeof line) && strcmp(line, ".\r\n") != 0) {
                    size_t k = strlen(line);
                    if (n + k + 1 < cap) {
                        memcpy(msg + n, line, k);
                        n += k;
                    }
                }
                msg[n] = 0;
                pthread_mutex_lock(&sink.mu);
                if (sink.count < 16)
                    sink.messages[sink.count++] = msg;
                else
                    free(msg);
                pthread_mutex_unlock(&sink.mu);
                say(c, "250 queued\r\n");
            } else if (!strncasecmp(line, "QUIT", 4)) {
                say(c, "221 bye\r\n");
                break;
            } else {
                say(c, "502 not implemented\r\n");
            }
        }
        close(c);
    }
    return NULL;
}

static void sink_start(void)
{
    sink.fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(sink.fd, (struct sockaddr *)&a, sizeof a);
    socklen_t len = sizeof a;
    getsockname(sink.fd, (struct sockaddr *)&a, &len);
    sink.port = ntohs(a.sin_port);
    listen(sink.fd, 8);
    pthread_mutex_init(&sink.mu, NULL);
    pthread_create(&sink.th, NULL, sink_run, NULL);
}

static void sink_stop(void)
{
    sink.stop = 1;
    pthread_join(sink.th, NULL);
    close(sink.fd);
    for (int i = 0; i < sink.count; i++)
        free(sink.messages[i]);
    pthread_mutex_destroy(&sink.mu);
}

/* ---- fixture ---- */

static struct {
    char *ci;
    struct db *db;
    struct srv *srv;
    int port;
    char a[44], b[44], c[44];
    char smtp[64];
} fx;

#define TITLE "00000000-0000-0000-0000-0000000000a1"

static int setup(void **state)
{
    (void)state;
    if (sodium_init() < 0)
        return -1;
    sink_start();
    snprintf(fx.smtp, sizeof fx.smtp, "smtp://127.0.0.1:%d", sink.port);
    fx.ci = t_db_create();
    t_sql(fx.ci, "INSERT INTO consortium (id, name) VALUES ('aaaaaaaa-0000-0000-0000-000000000000', 'A');"
                 "INSERT INTO library (id, consortium_id, code, name) VALUES"
                 " ('11111111-0000-0000-0000-000000000000', 'aaaaaaaa-0000-0000-0000-000000000000', 'L1',"
                 "  'Médiathèque');"
                 "INSERT INTO patron (library_id, card, email, password_hash) VALUES"
                 " ('11111111-0000-0000-0000-000000000000', 'a', 'a@example.org', 'x'),"
                 " ('11111111-0000-0000-0000-000000000000', 'b', 'b@example.org', 'x'),"
                 " ('11111111-0000-0000-0000-000000000000', 'c', NULL, 'x');"
                 "INSERT INTO title (id, kind, title, file_sha256, file_path, file_size, media_type) VALUES"
                 " ('" TITLE "', 'ebook', 'Les Misérables', repeat('a', 64), 'x', 1, 'application/epub+zip');"
                 "INSERT INTO licence (title_id, consortium_id, concurrency)"
                 " VALUES ('" TITLE "', 'aaaaaaaa-0000-0000-0000-000000000000', 1)");
    char *id;
    t_session(fx.ci, id = t_sql_value(fx.ci, "SELECT id FROM patron WHERE card = 'a'"), NULL, fx.a), free(id);
    t_session(fx.ci, id = t_sql_value(fx.ci, "SELECT id FROM patron WHERE card = 'b'"), NULL, fx.b), free(id);
    t_session(fx.ci, id = t_sql_value(fx.ci, "SELECT id FROM patron WHERE card = 'c'"), NULL, fx.c), free(id);
    char err[256];
    fx.db = db_open(fx.ci, err, sizeof err);
    struct srv_config cfg = {.data_dir = getenv("PRETNUM_DATA_DIR"), .conninfo = fx.ci, .threads = 2, .quiet = true, .sweep_interval_s = -1};
    if (!fx.db || srv_start(&cfg, &fx.srv, err, sizeof err) != 0)
        return -1;
    fx.port = srv_port(fx.srv);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    srv_stop(fx.srv, 1000);
    db_close(fx.db);
    t_db_drop(fx.ci);
    sink_stop();
    return 0;
}

static long call(struct t_resp *r, const char *token, const char *method, const char *path, const char *body)
{
    char auth[100];
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
    const char *hs[] = {auth, "Content-Type: application/json", NULL};
    return t_http(r, fx.port, method, path, body, hs);
}

static char *one(const char *sql)
{
    return t_sql_value(fx.ci, sql);
}

static void test_hold_ready_alert_and_delivery(void **state)
{
    (void)state;
    struct t_resp r;
    assert_int_equal(call(&r, fx.a, "POST", "/api/v1/loans", "{\"title_id\":\"" TITLE "\"}"), 201);
    char loan[64], path[128];
    snprintf(loan, sizeof loan, "%s", json_string_value(json_object_get(json_object_get(r.json, "loan"), "id")));
    t_resp_free(&r);
    assert_int_equal(call(&r, fx.b, "POST", "/api/v1/holds", "{\"title_id\":\"" TITLE "\"}"), 201);
    t_resp_free(&r);
    assert_int_equal(call(&r, fx.c, "POST", "/api/v1/holds", "{\"title_id\":\"" TITLE "\"}"), 201);
    t_resp_free(&r);
    char *n = one("SELECT count(*) FROM notification");
    assert_string_equal(n, "0");
    free(n);
    snprintf(path, sizeof path, "/api/v1/loans/%s/return", loan);
    assert_int_equal(call(&r, fx.a, "POST", path, NULL), 200);
    t_resp_free(&r);
    /* Written in the return's own transaction. */
    n = one("SELECT kind || ' ' || email_state FROM notification");
    assert_string_equal(n, "hold_ready pending");
    free(n);

    /* The SMTP server refuses for now: nothing is lost, a retry is planned. */
    sink.refuse = 1;
    struct lend_mail mail = {.smtp_url = fx.smtp, .from = "alerts@pretnum.example", .portal_url = "http://portal"};
    assert_int_equal(lend_alerts_deliver(fx.db, &mail), 0);
    n = one("SELECT email_state || ' ' || attempts || ' ' || (next_attempt > now()) FROM notification");
    assert_string_equal(n, "pending 1 true");
    free(n);
    assert_int_equal(sink.count, 0);
    /* Nor while nothing listens at all. */
    t_sql(fx.ci, "UPDATE notification SET next_attempt = now()");
    struct lend_mail nowhere = {.smtp_url = "smtp://127.0.0.1:1", .from = "alerts@pretnum.example"};
    assert_int_equal(lend_alerts_deliver(fx.db, &nowhere), 0);
    n = one("SELECT email_state || ' ' || attempts FROM notification");
    assert_string_equal(n, "pending 2");
    free(n);

    sink.refuse = 0;
    t_sql(fx.ci, "UPDATE notification SET next_attempt = now()");
    assert_int_equal(lend_alerts_deliver(fx.db, &mail), 1);
    assert_int_equal(sink.count, 1);
    const char *m = sink.messages[0];
    assert_non_null(strstr(m, "To: <b@example.org>"));
    assert_non_null(strstr(m, "From: Pretnum <alerts@pretnum.example>"));
    assert_non_null(strstr(m, "Subject: =?UTF-8?B?"));
    assert_non_null(strstr(m, "« Les Misérables » vous attend"));
    assert_non_null(strstr(m, "\"Les Misérables\" is waiting for you"));
    assert_non_null(strstr(m, "Médiathèque"));
    n = one("SELECT email_state FROM notification");
    assert_string_equal(n, "sent");
    free(n);
    /* Sent once only. */
    assert_int_equal(lend_alerts_deliver(fx.db, &mail), 0);
    assert_int_equal(sink.count, 1);

    /* The portal lists it, and /me counts it until read. */
    assert_int_equal(call(&r, fx.b, "GET", "/api/v1/me/notifications", NULL), 200);
    assert_int_equal(json_integer_value(json_object_get(r.json, "unread")), 1);
    json_t *it = json_array_get(json_object_get(r.json, "items"), 0);
    assert_string_equal(json_string_value(json_object_get(it, "kind")), "hold_ready");
    assert_string_equal(json_string_value(json_object_get(it, "title")), "Les Misérables");
    assert_non_null(json_string_value(json_object_get(it, "due")));
    t_resp_free(&r);
    assert_int_equal(call(&r, fx.b, "GET", "/api/v1/me", NULL), 200);
    assert_int_equal(json_integer_value(json_object_get(r.json, "notifications_unread")), 1);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(r.json, "holds"), "ready")), 1);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(r.json, "loans"), "max")), 5);
    t_resp_free(&r);
    assert_int_equal(call(&r, fx.b, "POST", "/api/v1/me/notifications/read", NULL), 204);
    t_resp_free(&r);
    assert_int_equal(call(&r, fx.b, "GET", "/api/v1/me", NULL), 200);
    assert_int_equal(json_integer_value(json_object_get(r.json, "notifications_unread")), 0);
    t_resp_free(&r);
}

static void test_time_driven_alerts(void **state)
{
    (void)state;
    struct t_resp r;
    /* b borrows the copy kept for it; then its loan nears its end. */
    assert_int_equal(call(&r, fx.b, "POST", "/api/v1/loans", "{\"title_id\":\"" TITLE "\"}"), 201);
    t_resp_free(&r);
    t_sql(fx.ci, "UPDATE loan SET started = now() - interval '12 days', due = now() + interval '2 days'"
                 " WHERE ended IS NULL");
    assert_true(lend_sweep(fx.db) >= 1);
    char *n = one("SELECT count(*) FROM notification WHERE kind = 'loan_ending'");
    assert_string_equal(n, "1");
    free(n);
    assert_true(lend_sweep(fx.db) >= 0);
    n = one("SELECT count(*) FROM notification WHERE kind = 'loan_ending'");
    assert_string_equal(n, "1"); /* once per due date */
    free(n);
    /* b returns; c (no e-mail address) gets the copy: listed in the portal, not mailed. */
    char *loan = one("SELECT id FROM loan WHERE ended IS NULL");
    char path[128];
    snprintf(path, sizeof path, "/api/v1/loans/%s/return", loan);
    free(loan);
    assert_int_equal(call(&r, fx.b, "POST", path, NULL), 200);
    t_resp_free(&r);
    n = one("SELECT email_state FROM notification n JOIN patron p ON p.id = n.patron_id WHERE p.card = 'c'");
    assert_string_equal(n, "none");
    free(n);
    /* A ready hold with less than a day left warns its patron. */
    t_sql(fx.ci, "UPDATE hold SET ready_until = now() + interval '20 hours' WHERE state = 'ready'");
    lend_sweep(fx.db);
    n = one("SELECT count(*) FROM notification WHERE kind = 'hold_expiring'");
    assert_string_equal(n, "1");
    free(n);
    struct lend_mail mail = {.smtp_url = fx.smtp, .from = "alerts@pretnum.example"};
    int before = sink.count;
    assert_int_equal(lend_alerts_deliver(fx.db, &mail), 1); /* b's loan_ending; c has no address */
    assert_int_equal(sink.count, before + 1);
    assert_non_null(strstr(sink.messages[before], "Your loan of \"Les Misérables\" ends on"));
    assert_int_equal(call(&r, fx.c, "GET", "/api/v1/me/notifications", NULL), 200);
    assert_int_equal(json_integer_value(json_object_get(r.json, "total")), 2);
    t_resp_free(&r);
}

int main(void)
{
    t_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hold_ready_alert_and_delivery),
        cmocka_unit_test(test_time_driven_alerts),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
