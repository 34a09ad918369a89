/*
 * HTTP latency of catalogue searches, for `make bench`: one client, one keep-alive
 * connection, requests one after the other (like pgbench -c 1).
 *
 *   latency BASE_URL REPEAT WARMUP BUDGET_MS < queries > results.tsv
 *
 * Each input line is  name|q|kind|language|page  (an empty field is left out of the URL).
 * Each query is sent WARMUP times unmeasured (once only if the first answer took more
 * than SLOW_MS, and not at all, the first answer being timed, if it took more than
 * VERY_SLOW_MS), then REPEAT times measured (fewer, but at least MIN_TIMED, when REPEAT
 * of them would take longer than BUDGET_MS going by the first answer). One line per
 * query:
 *
 *   name n p50 p95 p99 mean min max total match warmups
 *
 * (milliseconds; total and match as the server answered, the same every time or the
 * run fails), then a line "ALL" over every measured request. The raw latencies go to
 * the file named by $LATENCY_RAW if set, one "name TAB ms" a line.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SLOW_MS 100.0        /* a first answer slower than this: no more warm-up */
#define VERY_SLOW_MS 1000.0  /* slower than this: no warm-up at all, the first one counts */
#define MIN_TIMED 3          /* timed requests per search, whatever the budget */

struct body {
    char *p;
    size_t n, cap;
};

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *ud)
{
    struct body *b = ud;
    size_t len = size * nmemb;
    if (b->n + len + 1 > b->cap) {
        size_t cap = (b->n + len + 1) * 2;
        char *p = realloc(b->p, cap);
        if (!p)
            return 0;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, ptr, len);
    b->n += len;
    b->p[b->n] = 0;
    return len;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* nearest-rank percentile of a sorted array */
static double pct(const double *v, size_t n, double p)
{
    size_t k = (size_t)(p / 100.0 * (double)n + 0.999999);
    if (k < 1)
        k = 1;
    if (k > n)
        k = n;
    return v[k - 1];
}

static void summary(const char *name, double *v, size_t n, const char *total, const char *match, int warm)
{
    qsort(v, n, sizeof *v, cmp_double);
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += v[i];
    printf("%s\t%zu\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t%s\t%s\t%d\n", name, n, pct(v, n, 50), pct(v, n, 95),
           pct(v, n, 99), sum / (double)n, v[0], v[n - 1], total, match, warm);
    fflush(stdout);
}

/* The value of a top-level key of the answer: its last occurrence, since "items" come
 * first and a key inside a JSON string has its quotes escaped. */
static void field(const char *json, const char *key, char *out, size_t cap)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *at = NULL;
    for (const char *p = json; (p = strstr(p, pat)); p++)
        at = p;
    snprintf(out, cap, "?");
    if (!at)
        return;
    at += strlen(pat);
    while (*at == ' ')
        at++;
    if (*at == '"')
        at++;
    size_t n = strcspn(at, "\",} \n");
    if (n >= cap)
        n = cap - 1;
    memcpy(out, at, n);
    out[n] = 0;
}

static char *split(char **line)
{
    char *s = *line, *tab;
    if (!s)
        return (char *)"";
    tab = strchr(s, '|');
    if (tab) {
        *tab = 0;
        *line = tab + 1;
    } else
        *line = NULL;
    s[strcspn(s, "\r\n")] = 0;
    return s;
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: latency BASE_URL REPEAT WARMUP BUDGET_MS < queries\n");
        return 2;
    }
    const char *base = argv[1];
    char *e1, *e2;
    long repeat = strtol(argv[2], &e1, 10), warmup = strtol(argv[3], &e2, 10);
    if (*e1 || *e2 || repeat > 1000000 || warmup > 1000000) {
        fprintf(stderr, "latency: REPEAT and WARMUP are whole numbers\n");
        return 2;
    }
    double budget = atof(argv[4]);
    if (repeat < 1 || warmup < 1) {
        fprintf(stderr, "latency: REPEAT and WARMUP must be at least 1\n");
        return 2;
    }
    FILE *raw = getenv("LATENCY_RAW") ? fopen(getenv("LATENCY_RAW"), "w") : NULL;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    CURL *c = curl_easy_init();
    if (!c)
        return 1;
    struct body b = {0};
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
    curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, NULL);

    size_t all_cap = 1024, all_n = 0;
    double *all = malloc(all_cap * sizeof *all);
    double *v = malloc((size_t)repeat * sizeof *v);
    long connects = 0;
    char line[4096];
    int rc = 0;
    while (fgets(line, sizeof line, stdin)) {
        if (line[0] == '#' || line[0] == '\n')
            continue;
        char *rest = line;
        const char *name = split(&rest), *q = split(&rest), *kind = split(&rest), *lang = split(&rest),
                   *page = split(&rest);
        char url[8192];
        size_t u = (size_t)snprintf(url, sizeof url, "%s/api/v1/titles?", base);
        const char *keys[] = {"q", "kind", "language", "page"}, *vals[] = {q, kind, lang, page};
        for (int k = 0; k < 4; k++) {
            if (!*vals[k])
                continue;
            char *e = curl_easy_escape(c, vals[k], 0);
            u += (size_t)snprintf(url + u, sizeof url - u, "%s%s=%s", url[u - 1] == '?' ? "" : "&", keys[k], e);
            curl_free(e);
        }
        curl_easy_setopt(c, CURLOPT_URL, url);
        char total[64] = "", match[32] = "";
        int n = repeat, warm = warmup;
        for (int i = 0; i < warm + n; i++) {
            b.n = 0;
            double t0 = now_ms();
            CURLcode cc = curl_easy_perform(c);
            double dt = now_ms() - t0;
            long status = 0, nc = 0;
            curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
            curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &nc);
            connects += nc;
            if (cc != CURLE_OK || status != 200) {
                fprintf(stderr, "latency: %s: %s: %s %ld %.300s\n", name, url, curl_easy_strerror(cc), status,
                        b.p ? b.p : "");
                return 1;
            }
            char t[64], m[32];
            field(b.p, "total", t, sizeof t);
            field(b.p, "match", m, sizeof m);
            if (i == 0) {
                snprintf(total, sizeof total, "%s", t);
                snprintf(match, sizeof match, "%s", m);
                /* A slow search needs no more warming up, and fewer timings fit its budget. */
                if (dt > SLOW_MS)
                    warm = 1;
                if (dt > VERY_SLOW_MS)
                    warm = 0;
                if (budget > 0 && dt * n > budget)
                    n = dt > 0 ? (int)(budget / dt) : n;
                if (n < MIN_TIMED)
                    n = MIN_TIMED;
                if (n > repeat)
                    n = repeat;
            } else if (strcmp(t, total) || strcmp(m, match)) {
                fprintf(stderr, "latency: %s: the answer changed (%s %s, then %s %s)\n", name, total, match, t, m);
                rc = 1;
            }
            if (i < warm)
                continue;
            v[i - warm] = dt;
            if (raw)
                fprintf(raw, "%s\t%.3f\n", name, dt);
            if (all_n == all_cap) {
                all_cap *= 2;
                all = realloc(all, all_cap * sizeof *all);
                if (!all)
                    return 1;
            }
            all[all_n++] = dt;
        }
        summary(name, v, (size_t)n, total, match, warm);
    }
    if (all_n)
        summary("ALL", all, all_n, "-", "-", 0);
    fprintf(stderr, "latency: %zu requests on %ld connection(s)\n", all_n, connects);
    if (raw)
        fclose(raw);
    curl_easy_cleanup(c);
    curl_global_cleanup();
    free(b.p);
    free(v);
    free(all);
    return rc;
}
