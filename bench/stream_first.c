/*
 * Time from a fresh borrow to the first segment, for `make bench` (bench/hls.sh): one
 * client and one keep-alive connection, as a player after the portal's borrow button.
 *
 *   stream_first BASE_URL BEARER TITLE_ID N
 *
 * N + 3 times (3 unmeasured warm-ups): POST /api/v1/loans, then links.stream (the master
 * playlist), the media playlist it names, the init segment and the first media segment
 * the media playlist names, then the loan is returned (unmeasured). Prints two lines,
 *
 *   borrow_to_segment p50 p90 max      (the borrow's answer included)
 *   loan_to_segment p50 p90 max        (from the borrow's answer to the segment's last byte)
 *
 * in milliseconds, then "stream PATH" of the last loan (kept).
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct body {
    char *p;
    size_t len, cap;
};

static size_t collect(char *ptr, size_t size, size_t n, void *ud)
{
    struct body *b = ud;
    size_t add = size * n;
    if (b->len + add + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 65536;
        while (cap < b->len + add + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p)
            return 0;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, ptr, add);
    b->len += add;
    b->p[b->len] = 0;
    return add;
}

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static CURL *c;
static struct curl_slist *auth;

/* GET or POST url into b (emptied first); the status, 0 on a transport error. */
static long req(const char *url, const char *post, struct body *b)
{
    b->len = 0;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, post ? auth : NULL);
    if (post)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, post);
    else
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    long status = 0;
    if (curl_easy_perform(c) != CURLE_OK)
        return 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    return status;
}

/* The first line of a playlist that is not a tag or blank, copied into out. */
static int first_uri(const char *pl, const char *after, char *out, size_t cap)
{
    const char *p = after ? strstr(pl, after) : pl;
    if (!p)
        return -1;
    if (after) {
        p += strlen(after);
        const char *q = strchr(p, '"');
        if (!q || (size_t)(q - p) >= cap)
            return -1;
        snprintf(out, cap, "%.*s", (int)(q - p), p);
        return 0;
    }
    for (; *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : p + strlen(p)) {
        if (*p != '#' && *p != '\n') {
            size_t n = strcspn(p, "\r\n");
            if (n >= cap)
                return -1;
            snprintf(out, cap, "%.*s", (int)n, p);
            return 0;
        }
    }
    return -1;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: stream_first BASE_URL BEARER TITLE_ID N\n");
        return 2;
    }
    const char *base = argv[1], *title = argv[3];
    char *end;
    long nl = strtol(argv[4], &end, 10);
    if (*end || nl < 1 || nl > 1000000) {
        fprintf(stderr, "stream_first: N is a whole number from 1 to 1000000\n");
        return 2;
    }
    int n = (int)nl;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    c = curl_easy_init();
    struct body b = {0};
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    char h[512];
    snprintf(h, sizeof h, "Authorization: Bearer %s", argv[2]);
    auth = curl_slist_append(NULL, h);
    auth = curl_slist_append(auth, "Content-Type: application/json");
    double *total = calloc((size_t)n, sizeof *total), *after = calloc((size_t)n, sizeof *after);
    char url[10240], stream[2048] = "", dir[10240], uri[1024], loan[64], body[128];
    snprintf(body, sizeof body, "{\"title_id\":\"%s\"}", title);
    for (int i = 0; i < n + 3; i++) {
        double t0 = now_ms();
        snprintf(url, sizeof url, "%s/api/v1/loans", base);
        if (req(url, body, &b) != 201) {
            fprintf(stderr, "borrow: %s\n", b.p ? b.p : "");
            return 1;
        }
        double t1 = now_ms();
        const char *s = strstr(b.p, "\"stream\":\""), *id = strstr(b.p, "\"id\":\"");
        if (!s || !id || sscanf(s + 10, "%2047[^\"]", stream) != 1 ||
            sscanf(id + 6, "%63[^\"]", loan) != 1) {
            fprintf(stderr, "no links.stream: %s\n", b.p);
            return 1;
        }
        snprintf(url, sizeof url, "%s%s", base, stream);
        snprintf(dir, sizeof dir, "%s", url);
        *(strrchr(dir, '/') + 1) = 0;
        if (req(url, NULL, &b) != 200 || first_uri(b.p, NULL, uri, sizeof uri) != 0)
            return fprintf(stderr, "master playlist\n"), 1;
        snprintf(url, sizeof url, "%.8000s%.1023s", dir, uri);
        if (req(url, NULL, &b) != 200)
            return fprintf(stderr, "media playlist\n"), 1;
        char *pl = strdup(b.p), seg[1024];
        if (first_uri(pl, "#EXT-X-MAP:URI=\"", uri, sizeof uri) != 0 ||
            first_uri(pl, NULL, seg, sizeof seg) != 0)
            return fprintf(stderr, "media playlist: %s\n", pl), 1;
        free(pl);
        snprintf(url, sizeof url, "%.8000s%.1023s", dir, uri);
        if (req(url, NULL, &b) != 200)
            return fprintf(stderr, "init segment\n"), 1;
        snprintf(url, sizeof url, "%.8000s%.1023s", dir, seg);
        if (req(url, NULL, &b) != 200 || b.len == 0)
            return fprintf(stderr, "first segment\n"), 1;
        double t2 = now_ms();
        if (i >= 3) {
            total[i - 3] = t2 - t0;
            after[i - 3] = t2 - t1;
        }
        if (i < n + 2) {
            snprintf(url, sizeof url, "%s/api/v1/loans/%s/return", base, loan);
            if (req(url, "", &b) != 200)
                return fprintf(stderr, "return: %s\n", b.p), 1;
        }
    }
    qsort(total, (size_t)n, sizeof *total, cmp);
    qsort(after, (size_t)n, sizeof *after, cmp);
    int p90 = (int)(0.9 * n) < n ? (int)(0.9 * n) : n - 1;
    printf("borrow_to_segment %.1f %.1f %.1f\n", total[n / 2], total[p90], total[n - 1]);
    printf("loan_to_segment %.1f %.1f %.1f\n", after[n / 2], after[p90], after[n - 1]);
    printf("stream %s\n", stream);
    free(total);
    free(after);
    free(b.p);
    curl_slist_free_all(auth);
    curl_easy_cleanup(c);
    curl_global_cleanup();
    return 0;
}
