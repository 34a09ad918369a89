#include "testdb.h"

#include "pretnum/catalogue.h"
#include "pretnum/db.h"
#include "pretnum/media.h"
#include "pretnum/server.h"

#include <sodium.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- database and HTTP helpers ---- */

#include <arpa/inet.h>
#include <curl/curl.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <poll.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>

static const char *test_pg(void)
{
    const char *pg = getenv("PRETNUM_TEST_PG");
    if (!pg) {
        fprintf(stderr, "PRETNUM_TEST_PG is not set: run the tests through make check\n");
        abort();
    }
    return pg;
}

static PGresult *run_sql(const char *conninfo, const char *sql, bool must)
{
    PGconn *c = PQconnectdb(conninfo);
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "t_sql: %s", PQerrorMessage(c));
        PQfinish(c);
        if (must)
            fail_msg("could not connect to %s", conninfo);
        return NULL;
    }
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        fprintf(stderr, "t_sql: %s: %s", sql, PQresultErrorMessage(r));
        PQclear(r);
        PQfinish(c);
        if (must)
            fail_msg("SQL failed: %s", sql);
        return NULL;
    }
    PQfinish(c);
    return r;
}

char *t_db_create(void)
{
    static int seq;
    char name[64], sql[160], *ci;
    snprintf(name, sizeof name, "t_%d_%d", (int)getpid(), ++seq);
    snprintf(sql, sizeof sql, "CREATE DATABASE %s TEMPLATE pretnum_tmpl", name);
    char admin[512];
    snprintf(admin, sizeof admin, "%s dbname=postgres", test_pg());
    PQclear(run_sql(admin, sql, true));
    if (asprintf(&ci, "%s dbname=%s", test_pg(), name) < 0)
        abort();
    return ci;
}

void t_db_drop(char *conninfo)
{
    const char *name = strstr(conninfo, "dbname=");
    if (name) {
        char admin[512], sql[160];
        snprintf(admin, sizeof admin, "%s dbname=postgres", test_pg());
        snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", name + 7);
        PQclear(run_sql(admin, sql, false));
    }
    free(conninfo);
}

void t_sql(const char *conninfo, const char *sql)
{
    PQclear(run_sql(conninfo, sql, true));
}

char *t_sql_value(const char *conninfo, const char *sql)
{
    PGresult *r = run_sql(conninfo, sql, true);
    char *v = NULL;
    if (r && PQntuples(r) > 0 && !PQgetisnull(r, 0, 0))
        v = strdup(PQgetvalue(r, 0, 0));
    PQclear(r);
    return v;
}

struct buf {
    char *p;
    size_t n;
};

static size_t collect(char *data, size_t size, size_t nmemb, void *ud)
{
    struct buf *b = ud;
    size_t n = size * nmemb;
    char *np = realloc(b->p, b->n + n + 1);
    if (!np)
        return 0;
    memcpy(np + b->n, data, n);
    b->n += n;
    np[b->n] = 0;
    b->p = np;
    return n;
}

/* Sends what c was set up for, with the extra headers, and fills out. */
static long perform(CURL *c, const char *const *headers, struct t_resp *out)
{
    struct buf b = {0}, h = {0};
    struct curl_slist *hl = NULL;
    for (int i = 0; headers && headers[i]; i++)
        hl = curl_slist_append(hl, headers[i]);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &h);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
    curl_slist_free_all(hl);
    out->body = b.p ? b.p : strdup("");
    out->len = b.n;
    out->headers = h.p ? h.p : strdup("");
    out->json = json_loadb(out->body, out->len, 0, NULL);
    return out->status;
}

long t_http(struct t_resp *out, int port, const char *method, const char *path, const char *body,
            const char *const *headers)
{
    memset(out, 0, sizeof *out);
    CURL *c = curl_easy_init();
    char url[2048];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (!strcmp(method, "HEAD"))
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    }
    perform(c, headers, out);
    curl_easy_cleanup(c);
    return out->status;
}

void t_resp_free(struct t_resp *r)
{
    free(r->body);
    free(r->headers);
    json_decref(r->json);
    memset(r, 0, sizeof *r);
}

const char *t_resp_header(const struct t_resp *r, const char *name)
{
    static char val[4096];
    size_t n = strlen(name);
    for (const char *line = r->headers; line && *line;) {
        const char *end = strstr(line, "\r\n");
        size_t len = end ? (size_t)(end - line) : strlen(line);
        if (len > n && line[n] == ':' && !strncasecmp(line, name, n)) {
            const char *v = line + n + 1;
            while (*v == ' ')
                v++;
            snprintf(val, sizeof val, "%.*s", (int)(len - (size_t)(v - line)), v);
            return val;
        }
        line = end ? end + 2 : NULL;
    }
    return NULL;
}

const char *t_err_code(const struct t_resp *r)
{
    const char *s = json_string_value(json_object_get(json_object_get(r->json, "error"), "code"));
    return s ? s : "";
}

char *t_raw(int port, const char *bytes, size_t len, int timeout_ms)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return strdup("");
    }
    if (send(fd, bytes, len, MSG_NOSIGNAL) < 0) {
        close(fd);
        return strdup("");
    }
    struct buf b = {0};
    char chunk[4096];
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, timeout_ms) <= 0)
            break;
        ssize_t n = recv(fd, chunk, sizeof chunk, 0);
        if (n <= 0)
            break;
        collect(chunk, 1, (size_t)n, &b);
    }
    close(fd);
    return b.p ? b.p : strdup("");
}

int t_cmd(const char *cmd, char **out)
{
    FILE *f = popen(cmd, "r");
    if (!f)
        return -1;
    struct buf b = {0};
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        collect(chunk, 1, n, &b);
    int st = pclose(f);
    if (out)
        *out = b.p ? b.p : strdup("");
    else
        free(b.p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

long t_upload(struct t_resp *out, int port, const char *path, const char *file, const char *const *fields,
              const char *const *headers)
{
    memset(out, 0, sizeof *out);
    CURL *c = curl_easy_init();
    char url[2048];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
    curl_mime *mime = curl_mime_init(c);
    if (file) {
        curl_mimepart *p = curl_mime_addpart(mime);
        curl_mime_name(p, "file");
        curl_mime_filedata(p, file);
    }
    for (int i = 0; fields && fields[i] && fields[i + 1]; i += 2) {
        curl_mimepart *p = curl_mime_addpart(mime);
        curl_mime_name(p, fields[i]);
        curl_mime_data(p, fields[i + 1], CURL_ZERO_TERMINATED);
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_MIMEPOST, mime);
    perform(c, headers, out);
    curl_mime_free(mime);
    curl_easy_cleanup(c);
    return out->status;
}

pid_t t_serve_start(const char *conninfo, int *port, int *errfd)
{
    const char *bin = getenv("PRETNUM_BIN") ? getenv("PRETNUM_BIN") : "bin/pretnum";
    int p[2];
    if (pipe(p) != 0)
        abort();
    pid_t pid = fork();
    if (pid == 0) {
        dup2(p[1], 2);
        close(p[0]);
        setenv("PRETNUM_DATABASE_URL", conninfo, 1);
        setenv("PRETNUM_PORT", "0", 1);
        execl(bin, bin, "serve", (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    *errfd = p[0];
    char buf[4096];
    size_t n = 0;
    *port = 0;
    while (n < sizeof buf - 1) {
        ssize_t r = read(p[0], buf + n, sizeof buf - 1 - n);
        if (r <= 0)
            break;
        n += (size_t)r;
        buf[n] = 0;
        const char *at = strstr(buf, "serving on http://127.0.0.1:");
        if (at && strchr(at, '\n')) {
            *port = (int)strtol(at + strlen("serving on http://127.0.0.1:"), NULL, 10);
            break;
        }
    }
    return pid;
}

void t_session(const char *conninfo, const char *patron_id, const char *staff_id, char token[44])
{
    unsigned char secret[32], h[32];
    randombytes_buf(secret, sizeof secret);
    sodium_bin2base64(token, 44, secret, sizeof secret, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    crypto_generichash(h, sizeof h, (const unsigned char *)token, strlen(token), NULL, 0);
    char hex[65], sql[512];
    sodium_bin2hex(hex, sizeof hex, h, sizeof h);
    snprintf(sql, sizeof sql,
             "INSERT INTO session (id_hash, patron_id, staff_id, expires_at) VALUES"
             " (decode('%s', 'hex'), %s%s%s, %s%s%s, now() + interval '1 day')",
             hex, patron_id ? "'" : "", patron_id ? patron_id : "NULL", patron_id ? "'" : "", staff_id ? "'" : "",
             staff_id ? staff_id : "NULL", staff_id ? "'" : "");
    t_sql(conninfo, sql);
}

long t_call(struct t_resp *out, int port, const char *token, const char *method, const char *path,
            const char *body)
{
    char auth[100];
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
    const char *hs[] = {auth, "Content-Type: application/json", NULL};
    return t_http(out, port, method, path, body, hs);
}

int t_books_setup(struct t_books *fx, const char *tag, const char *library_name, const char *const *books, int n)
{
    if (sodium_init() < 0 || n > 16)
        return -1;
    media_init();
    memset(fx, 0, sizeof *fx);
    fx->ci = t_db_create();
    fx->data = t_tmpdir(tag);
    char err[256];
    fx->db = db_open(fx->ci, err, sizeof err);
    if (!fx->db)
        return -1;
    char *lib = NULL;
    if (asprintf(&lib,
                 "INSERT INTO consortium (id, name) VALUES ('aaaaaaaa-0000-0000-0000-000000000000', 'A');"
                 "INSERT INTO library (id, consortium_id, code, name, max_loans) VALUES"
                 " ('11111111-0000-0000-0000-000000000000', 'aaaaaaaa-0000-0000-0000-000000000000', 'L1', $$%s$$, 20);"
                 "INSERT INTO patron (library_id, card, password_hash) VALUES"
                 " ('11111111-0000-0000-0000-000000000000', 'c', 'x')",
                 library_name) < 0)
        return -1;
    t_sql(fx->ci, lib);
    free(lib);
    for (int i = 0; i < n; i++) {
        bool existed;
        struct lend_err le = {0};
        if (lend_import(fx->db, fx->data, t_corpus(books[i]), NULL, fx->titles[fx->n], &existed, &le) != LEND_OK) {
            fprintf(stderr, "%s: %s\n", books[i], le.message);
            return -1;
        }
        fx->n++;
    }
    t_sql(fx->ci, "INSERT INTO licence (title_id, consortium_id, concurrency)"
                  " SELECT id, 'aaaaaaaa-0000-0000-0000-000000000000', 1 FROM title");
    char *id = t_sql_value(fx->ci, "SELECT id FROM patron");
    t_session(fx->ci, id, NULL, fx->tok);
    free(id);
    struct srv_config cfg = {.conninfo = fx->ci, .data_dir = fx->data, .threads = 2, .quiet = true,
                             .sweep_interval_s = -1};
    if (srv_start(&cfg, &fx->srv, err, sizeof err) != 0)
        return -1;
    fx->port = srv_port(fx->srv);
    return 0;
}

void t_books_teardown(struct t_books *fx)
{
    srv_stop(fx->srv, 1000);
    db_close(fx->db);
    t_db_drop(fx->ci);
    t_rmtree(fx->data);
    free(fx->data);
}

char *t_borrow(const struct t_books *fx, const char *title, const char *link, char loan[64])
{
    struct t_resp r;
    char body[128];
    snprintf(body, sizeof body, "{\"title_id\":\"%s\"}", title);
    assert_int_equal(t_call(&r, fx->port, fx->tok, "POST", "/api/v1/loans", body), 201);
    json_t *l = json_object_get(r.json, "loan");
    snprintf(loan, 64, "%s", json_string_value(json_object_get(l, "id")));
    const char *href = json_string_value(json_object_get(json_object_get(l, "links"), link));
    assert_non_null(href);
    char *copy = strdup(href);
    t_resp_free(&r);
    return copy;
}
