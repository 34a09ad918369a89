/*
 * Load for bench/lending.sh: patrons borrowing and returning over HTTP.
 *
 *   lending_load sessions N TOKENS_FILE > sessions.sql
 *       N session tokens as the server makes them (32 random bytes, base64url, 43
 *       characters), one a line in TOKENS_FILE; on stdout the INSERTs of their rows for
 *       patrons 1..N (id_hash = BLAKE2b-256 of the token, as lending/accounts.c does).
 *
 *   lending_load run BASE_URL TOKENS_FILE NTITLES SECONDS WARMUP_SECONDS > results.tsv
 *       One thread per token (patron), one keep-alive connection each, looping: borrow a
 *       random title (POST /api/v1/loans), then return it (POST /api/v1/loans/{id}/return).
 *       A checkout refused with 409 no_copy_available is retried with another title. The
 *       first WARMUP_SECONDS are not recorded. At the deadline a thread returns the loan
 *       it holds (unrecorded), so no loan stays open.
 *
 * Output, tab-separated, milliseconds:
 *   lat NAME n p50 p90 p99 mean max    NAME: checkout (201), refused (409), return (200),
 *                                            cycle (successful checkout start to return end)
 *   seconds S / cycles N / checkouts_total N (201s, warm-up included) / returns_total N
 *   cpu_ms N   this program's own CPU time (user + system), warm-up included
 *   patron_cycles MIN MEDIAN MAX   measured cycles of the slowest, median and fastest patron
 *   status ENDPOINT HTTP_STATUS CODE COUNT   every answer of the measured window
 *
 * With LENDING_LOAD_RAW=FILE, every measured request is also written there, one a line:
 * "start_ms_since_measuring thread endpoint status ms" (to look for stalls over time).
 *
 * Titles are numbered 1..NTITLES with ids 00000000-0000-0000-0002-<n on 12 digits>.
 */
#include <curl/curl.h>
#include <pthread.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define TOKEN_LEN 43
#define MAX_PATRONS 1024
#define MAX_STATUS 64

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *msg)
{
    fprintf(stderr, "lending_load: %s\n", msg);
    exit(1);
}

/* ---- sessions ---- */

static int cmd_sessions(int n, const char *path)
{
    if (sodium_init() < 0)
        die("libsodium failed to initialise");
    FILE *f = fopen(path, "w");
    if (!f)
        die("cannot write the tokens file");
    printf("INSERT INTO session (id_hash, patron_id, expires_at) VALUES\n");
    for (int i = 1; i <= n; i++) {
        unsigned char secret[32], h[32];
        char token[TOKEN_LEN + 1], hex[65];
        randombytes_buf(secret, sizeof secret);
        sodium_bin2base64(token, sizeof token, secret, sizeof secret,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING);
        crypto_generichash(h, sizeof h, (const unsigned char *)token, strlen(token), NULL, 0);
        sodium_bin2hex(hex, sizeof hex, h, sizeof h);
        fprintf(f, "%s\n", token);
        printf("  (decode('%s', 'hex'), '00000000-0000-0000-0001-%012d', now() + interval '14 "
               "days')%s\n",
               hex, i, i < n ? "," : ";");
    }
    return fclose(f) == 0 ? 0 : 1;
}

/* ---- run ---- */

struct lat {
    double *v;
    size_t n, cap;
};

static void lat_add(struct lat *l, double ms)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 4096;
        l->v = realloc(l->v, l->cap * sizeof *l->v);
        if (!l->v)
            die("out of memory");
    }
    l->v[l->n++] = ms;
}

static void lat_merge(struct lat *into, const struct lat *from)
{
    for (size_t i = 0; i < from->n; i++)
        lat_add(into, from->v[i]);
}

enum { L_CHECKOUT, L_REFUSED, L_RETURN, L_CYCLE, L_KINDS };
static const char *lat_names[L_KINDS] = {"checkout", "refused", "return", "cycle"};

struct status_count {
    char endpoint[16];
    long status;
    char code[48];
    long count;
};

struct body {
    char buf[16384];
    size_t n;
};

struct worker {
    pthread_t th;
    int idx;
    char auth[TOKEN_LEN + 32];
    unsigned long long rng;
    struct lat lat[L_KINDS];
    struct status_count st[MAX_STATUS];
    int nst;
    long cycles, checkouts_total, returns_total;
    struct body body;
    FILE *raw; /* LENDING_LOAD_RAW, shared */
};

static pthread_mutex_t raw_mu = PTHREAD_MUTEX_INITIALIZER;

static const char *base_url;
static int ntitles;
static double t_start, t_measure, t_end;
/* LENDING_LOAD_RATE: cycles per second in all, paced; 0 = each patron as fast as it can. */
static double rate;
static int nworkers;

static unsigned long long next_rand(unsigned long long *s)
{
    /* xorshift64* */
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ULL;
}

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *ud)
{
    struct body *b = ud;
    size_t len = size * nmemb, room = sizeof b->buf - 1 - b->n;
    memcpy(b->buf + b->n, ptr, len < room ? len : room);
    b->n += len < room ? len : room;
    b->buf[b->n] = 0;
    return len;
}

/* The string value of the first member named key ("id", "code") in a JSON text. */
static void json_str(const char *text, const char *key, char *out, size_t outlen)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\"", key);
    out[0] = 0;
    const char *p = strstr(text, pat);
    if (!p)
        return;
    p += strlen(pat);
    while (*p == ' ' || *p == ':')
        p++;
    if (*p != '"')
        return;
    p++;
    size_t i = 0;
    while (*p && *p != '"' && i + 1 < outlen)
        out[i++] = *p++;
    out[i] = 0;
}

static void count_status_n(struct worker *w, const char *endpoint, long status, const char *code,
                           long n)
{
    for (int i = 0; i < w->nst; i++) {
        struct status_count *s = &w->st[i];
        if (s->status == status && !strcmp(s->endpoint, endpoint) && !strcmp(s->code, code)) {
            s->count += n;
            return;
        }
    }
    if (w->nst == MAX_STATUS)
        return;
    struct status_count *s = &w->st[w->nst++];
    snprintf(s->endpoint, sizeof s->endpoint, "%s", endpoint);
    snprintf(s->code, sizeof s->code, "%s", code);
    s->status = status;
    s->count = n;
}

static void count_status(struct worker *w, const char *endpoint, long status, const char *code)
{
    count_status_n(w, endpoint, status, code, 1);
}

static void raw_line(struct worker *w, double t0, const char *endpoint, long status, double ms)
{
    if (!w->raw)
        return;
    pthread_mutex_lock(&raw_mu);
    fprintf(w->raw, "%.3f %d %s %ld %.3f\n", (t0 - t_measure) * 1e3, w->idx, endpoint, status, ms);
    pthread_mutex_unlock(&raw_mu);
}

/* One POST; returns the HTTP status (0 when the transfer failed) and its time in ms. */
static long post(CURL *c, struct worker *w, const char *url, const char *data, double *ms)
{
    w->body.n = 0;
    w->body.buf[0] = 0;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, data);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(data));
    double t0 = now_s();
    CURLcode rc = curl_easy_perform(c);
    *ms = (now_s() - t0) * 1e3;
    long status = 0;
    if (rc == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    else
        snprintf(w->body.buf, sizeof w->body.buf, "{\"code\": \"curl_%d\"}", (int)rc);
    return status;
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    CURL *c = curl_easy_init();
    if (!c)
        die("curl_easy_init failed");
    struct curl_slist *hdr = NULL;
    hdr = curl_slist_append(hdr, w->auth);
    hdr = curl_slist_append(hdr, "Content-Type: application/json");
    hdr = curl_slist_append(hdr, "Expect:");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &w->body);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);

    char url_loans[256], url_return[320], data[128], code[64], loan[64];
    snprintf(url_loans, sizeof url_loans, "%s/api/v1/loans", base_url);
    /* Paced: each patron starts a cycle every nworkers / rate seconds, the patrons spread
     * evenly over that interval; a patron that falls behind starts again at once rather
     * than bursting to catch up. */
    double interval = rate > 0 ? (double)nworkers / rate : 0;
    double next_start = t_start + interval * (double)w->idx / (double)nworkers;
    while (now_s() < t_end) {
        if (interval > 0) {
            double wait = next_start - now_s();
            if (wait > 0)
                usleep((useconds_t)(wait * 1e6));
            next_start += interval;
            if (next_start < now_s())
                next_start = now_s();
            if (now_s() >= t_end)
                break;
        }
        int title = 1 + (int)(next_rand(&w->rng) % (unsigned long long)ntitles);
        snprintf(data, sizeof data, "{\"title_id\": \"00000000-0000-0000-0002-%012d\"}", title);
        double t0 = now_s(), ms;
        bool measured = t0 >= t_measure;
        long st = post(c, w, url_loans, data, &ms);
        json_str(w->body.buf, "code", code, sizeof code);
        if (measured) {
            count_status(w, "checkout", st, st == 201 ? "" : code);
            raw_line(w, t0, "checkout", st, ms);
        }
        if (st != 201) {
            if (measured && st == 409 && !strcmp(code, "no_copy_available"))
                lat_add(&w->lat[L_REFUSED], ms);
            if (st == 0 || st >= 500)
                usleep(10000); /* do not spin on a failing server */
            continue;
        }
        w->checkouts_total++;
        if (measured)
            lat_add(&w->lat[L_CHECKOUT], ms);
        json_str(w->body.buf, "id", loan, sizeof loan);
        if (strlen(loan) != 36) {
            if (measured)
                count_status(w, "checkout", 201, "no_loan_id");
            continue;
        }
        snprintf(url_return, sizeof url_return, "%s/api/v1/loans/%s/return", base_url, loan);
        /* A failed return is tried again (a loan left open would block that title). */
        for (int attempt = 0; attempt < 5; attempt++) {
            double t1 = now_s();
            bool m2 = measured && t1 < t_end;
            st = post(c, w, url_return, "", &ms);
            json_str(w->body.buf, "code", code, sizeof code);
            if (m2) {
                count_status(w, "return", st, st == 200 ? "" : code);
                raw_line(w, t1, "return", st, ms);
            }
            if (st == 200) {
                w->returns_total++;
                if (m2) {
                    lat_add(&w->lat[L_RETURN], ms);
                    lat_add(&w->lat[L_CYCLE], (now_s() - t0) * 1e3);
                    w->cycles++;
                }
                break;
            }
            if (st != 0 && st < 500)
                break;
            usleep(10000);
        }
    }
    curl_slist_free_all(hdr);
    curl_easy_cleanup(c);
    return NULL;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(const struct lat *l, double p)
{
    if (!l->n)
        return 0;
    size_t k = (size_t)(p / 100.0 * (double)l->n + 0.999999);
    if (k < 1)
        k = 1;
    if (k > l->n)
        k = l->n;
    return l->v[k - 1];
}

static int cmd_run(int argc, char **argv)
{
    if (argc != 7)
        die("usage: lending_load run BASE_URL TOKENS_FILE NTITLES SECONDS WARMUP_SECONDS");
    base_url = argv[2];
    char *end;
    long nt = strtol(argv[4], &end, 10);
    if (*end || nt > 1000000)
        die("NTITLES is a whole number");
    ntitles = (int)nt;
    double seconds = atof(argv[5]), warmup = atof(argv[6]);
    if (ntitles < 1 || seconds <= 0 || warmup < 0)
        die("bad arguments");
    FILE *f = fopen(argv[3], "r");
    if (!f)
        die("cannot read the tokens file");
    static struct worker workers[MAX_PATRONS];
    int n = 0;
    char line[256];
    unsigned long long seed = (unsigned long long)time(NULL) ^ ((unsigned long long)getpid() << 32);
    while (n < MAX_PATRONS && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = 0;
        if (strlen(line) != TOKEN_LEN)
            continue;
        struct worker *w = &workers[n];
        w->idx = n;
        snprintf(w->auth, sizeof w->auth, "Authorization: Bearer %s", line);
        w->rng = seed + 0x9E3779B97F4A7C15ULL * (unsigned long long)(n + 1);
        n++;
    }
    fclose(f);
    if (!n)
        die("no tokens");
    nworkers = n;
    if (getenv("LENDING_LOAD_RATE")) {
        rate = strtod(getenv("LENDING_LOAD_RATE"), &end);
        if (*end || rate < 0 || rate > 1e6)
            die("LENDING_LOAD_RATE is cycles per second");
    }
    FILE *raw = NULL;
    if (getenv("LENDING_LOAD_RAW") && !(raw = fopen(getenv("LENDING_LOAD_RAW"), "w")))
        die("cannot write LENDING_LOAD_RAW");
    for (int i = 0; i < n; i++)
        workers[i].raw = raw;
    if (curl_global_init(CURL_GLOBAL_ALL) != 0)
        die("curl_global_init failed");
    t_start = now_s();
    t_measure = t_start + warmup;
    t_end = t_measure + seconds;
    for (int i = 0; i < n; i++)
        if (pthread_create(&workers[i].th, NULL, worker_main, &workers[i]) != 0)
            die("pthread_create failed");
    for (int i = 0; i < n; i++)
        pthread_join(workers[i].th, NULL);
    double measured = now_s() < t_end ? now_s() - t_measure : seconds;

    struct lat all[L_KINDS] = {0};
    long cycles = 0, co_total = 0, ret_total = 0;
    struct worker sum = {0};
    for (int i = 0; i < n; i++) {
        struct worker *w = &workers[i];
        for (int k = 0; k < L_KINDS; k++)
            lat_merge(&all[k], &w->lat[k]);
        cycles += w->cycles;
        co_total += w->checkouts_total;
        ret_total += w->returns_total;
        for (int s = 0; s < w->nst; s++)
            count_status_n(&sum, w->st[s].endpoint, w->st[s].status, w->st[s].code, w->st[s].count);
    }
    for (int k = 0; k < L_KINDS; k++) {
        struct lat *l = &all[k];
        qsort(l->v, l->n, sizeof *l->v, cmp_double);
        double total = 0;
        for (size_t i = 0; i < l->n; i++)
            total += l->v[i];
        printf("lat\t%s\t%zu\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\n", lat_names[k], l->n, pct(l, 50),
               pct(l, 90), pct(l, 99), l->n ? total / (double)l->n : 0, l->n ? l->v[l->n - 1] : 0);
    }
    printf("seconds\t%.3f\n", measured);
    printf("cycles\t%ld\n", cycles);
    printf("checkouts_total\t%ld\n", co_total);
    printf("returns_total\t%ld\n", ret_total);
    double *pc = calloc((size_t)n, sizeof *pc);
    if (!pc)
        die("out of memory");
    for (int i = 0; i < n; i++)
        pc[i] = (double)workers[i].cycles;
    qsort(pc, (size_t)n, sizeof *pc, cmp_double);
    printf("patron_cycles\t%.0f\t%.0f\t%.0f\n", pc[0], pc[n / 2], pc[n - 1]);
    free(pc);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("cpu_ms\t%.0f\n", (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
                                 (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3);
    for (int s = 0; s < sum.nst; s++)
        printf("status\t%s\t%ld\t%s\t%ld\n", sum.st[s].endpoint, sum.st[s].status,
               sum.st[s].code[0] ? sum.st[s].code : "-", sum.st[s].count);
    curl_global_cleanup();
    if (raw && fclose(raw) != 0)
        die("could not write LENDING_LOAD_RAW");
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 4 && !strcmp(argv[1], "sessions"))
    {
        char *end;
        long n = strtol(argv[2], &end, 10);
        if (*end || n < 1 || n > 100000)
            die("sessions N: N is a whole number from 1 to 100000");
        return cmd_sessions((int)n, argv[3]);
    }
    if (argc >= 2 && !strcmp(argv[1], "run"))
        return cmd_run(argc, argv);
    fprintf(stderr,
            "usage: lending_load sessions N TOKENS_FILE > sessions.sql\n"
            "       lending_load run BASE_URL TOKENS_FILE NTITLES SECONDS WARMUP_SECONDS\n");
    return 2;
}
