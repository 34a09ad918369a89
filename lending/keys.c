#include "pretnum/keys.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pretnum/paseto.h"

struct key {
    char name[128]; /* file name: YYYYmmddTHHMMSS.nnnnnnnnnZ-<hex>.k4.secret: sorts by age */
    struct paseto_secret_key sk;
    struct paseto_keyring_entry pub;
};

struct lend_keyring {
    struct key *keys; /* newest first */
    size_t n;
};

static const char SUFFIX[] = ".k4.secret";

static int by_name_desc(const void *a, const void *b)
{
    return strcmp(((const struct key *)b)->name, ((const struct key *)a)->name);
}

static bool is_key_file(const char *name)
{
    size_t n = strlen(name), s = sizeof SUFFIX - 1;
    return n > s && n < 120 && !strcmp(name + n - s, SUFFIX) && name[0] != '.';
}

static int write_new_key(const char *dir, char kid[64], char *err, size_t errlen)
{
    struct paseto_public_key pk;
    struct paseto_secret_key sk;
    struct paseto_error pe;
    char paserk[PASETO_PASERK_SECRET_LEN + 1], pid[PASETO_PASERK_ID_LEN + 1];
    if (paseto_v4_keypair(&pk, &sk, &pe) != 0 || paseto_paserk_secret_encode(&sk, paserk, &pe) != 0 ||
        paseto_paserk_pid(&pk, pid, &pe) != 0) {
        snprintf(err, errlen, "could not make a signing key: %s", pe.message);
        return -1;
    }
    /* Names sort by age, to the nanosecond: two keys made in one second keep their order. */
    char day[24], stamp[48], path[4200], tmp[4300];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    strftime(day, sizeof day, "%Y%m%dT%H%M%S", &tm);
    snprintf(stamp, sizeof stamp, "%s.%09ldZ", day, (long)ts.tv_nsec);
    unsigned char r[4];
    char rh[9];
    randombytes_buf(r, sizeof r);
    sodium_bin2hex(rh, sizeof rh, r, sizeof r);
    snprintf(path, sizeof path, "%s/%s-%s%s", dir, stamp, rh, SUFFIX);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    int ok = fd >= 0 && write(fd, paserk, strlen(paserk)) == (ssize_t)strlen(paserk) && fsync(fd) == 0;
    if (fd >= 0 && close(fd) != 0)
        ok = 0;
    ok = ok && rename(tmp, path) == 0;
    sodium_memzero(paserk, sizeof paserk);
    paseto_secret_key_wipe(&sk);
    if (!ok) {
        snprintf(err, errlen, "could not write the signing key \"%s\": %s", path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    if (kid)
        snprintf(kid, 64, "%s", pid);
    return 0;
}

static int keys_dir(const char *data_dir, char *dir, size_t cap, char *err, size_t errlen)
{
    snprintf(dir, cap, "%s/keys", data_dir);
    if ((mkdir(data_dir, 0700) != 0 && errno != EEXIST) || (mkdir(dir, 0700) != 0 && errno != EEXIST)) {
        snprintf(err, errlen, "could not create \"%s\": %s", dir, strerror(errno));
        return -1;
    }
    return 0;
}

struct lend_keyring *lend_keys_load(const char *data_dir, char *err, size_t errlen)
{
    char dir[4096];
    if (keys_dir(data_dir, dir, sizeof dir, err, errlen) != 0)
        return NULL;
    struct lend_keyring *k = calloc(1, sizeof *k);
    if (!k) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    for (int pass = 0; pass < 2 && k->n == 0; pass++) {
        if (pass == 1 && write_new_key(dir, NULL, err, errlen) != 0) {
            lend_keys_free(k);
            return NULL;
        }
        DIR *d = opendir(dir);
        struct dirent *e;
        while (d && (e = readdir(d))) {
            if (!is_key_file(e->d_name))
                continue;
            char path[4400], buf[PASETO_PASERK_SECRET_LEN + 2] = "";
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            int fd = open(path, O_RDONLY | O_CLOEXEC);
            ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
            if (fd >= 0)
                close(fd);
            struct key *nk = realloc(k->keys, (k->n + 1) * sizeof *nk);
            if (!nk) {
                closedir(d);
                lend_keys_free(k);
                snprintf(err, errlen, "out of memory");
                return NULL;
            }
            k->keys = nk;
            struct key *key = &k->keys[k->n];
            memset(key, 0, sizeof *key);
            struct paseto_error pe;
            buf[n > 0 ? n : 0] = 0;
            buf[strcspn(buf, "\r\n")] = 0;
            if (n <= 0 || paseto_paserk_secret_decode(buf, &key->sk, &pe) != 0 ||
                paseto_v4_public_from_secret(&key->sk, &key->pub.pk, &pe) != 0 ||
                paseto_paserk_pid(&key->pub.pk, key->pub.kid, &pe) != 0) {
                sodium_memzero(buf, sizeof buf);
                closedir(d);
                lend_keys_free(k);
                snprintf(err, errlen, "signing key \"%s\" is unreadable or not a k4.secret PASERK", path);
                return NULL;
            }
            sodium_memzero(buf, sizeof buf);
            snprintf(key->name, sizeof key->name, "%.120s", e->d_name);
            k->n++;
        }
        if (d)
            closedir(d);
    }
    qsort(k->keys, k->n, sizeof *k->keys, by_name_desc);
    return k;
}

void lend_keys_free(struct lend_keyring *k)
{
    if (!k)
        return;
    for (size_t i = 0; i < k->n; i++)
        paseto_secret_key_wipe(&k->keys[i].sk);
    free(k->keys);
    free(k);
}

/* "20261125T154000.123456789Z-..." → its time (to the second). */
static time_t name_time(const char *name)
{
    struct tm tm = {0};
    if (sscanf(name, "%4d%2d%2dT%2d%2d%2dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
               &tm.tm_sec) != 6)
        return 0;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return timegm(&tm);
}

int lend_keys_rotate(const char *data_dir, char kid[64], char *err, size_t errlen)
{
    char dir[4096];
    if (keys_dir(data_dir, dir, sizeof dir, err, errlen) != 0 || write_new_key(dir, kid, err, errlen) != 0)
        return -1;
    struct lend_keyring *k = lend_keys_load(data_dir, err, errlen);
    if (!k)
        return -1;
    /* keys[i] was replaced when keys[i - 1] was made; tokens live at most LEND_TOKEN_TTL */
    time_t now = time(NULL);
    for (size_t i = 1; i < k->n; i++) {
        time_t replaced = name_time(k->keys[i - 1].name);
        if (replaced && now - replaced > 2 * 3600) {
            char path[4400];
            snprintf(path, sizeof path, "%s/%s", dir, k->keys[i].name);
            unlink(path);
        }
    }
    lend_keys_free(k);
    return 0;
}

json_t *lend_keys_public(const struct lend_keyring *k)
{
    json_t *a = json_array();
    for (size_t i = 0; i < k->n; i++) {
        char paserk[PASETO_PASERK_PUBLIC_LEN + 1];
        struct paseto_error pe;
        if (paseto_paserk_public_encode(&k->keys[i].pub.pk, paserk, &pe) == 0)
            json_array_append_new(a, json_pack("{s:s, s:s}", "kid", k->keys[i].pub.kid, "paserk", paserk));
    }
    return json_pack("{s:o}", "keys", a);
}

int lend_token_issue(const struct lend_keyring *k, const struct lend_token_claims *c, time_t now, char **token,
                     char expires[32])
{
    *token = NULL;
    if (!k || !k->n || c->due <= now)
        return -1;
    time_t exp = now + LEND_TOKEN_TTL < c->due ? now + LEND_TOKEN_TTL : c->due;
    const struct paseto_claim extra[] = {{"loan", c->loan}, {"title", c->title}, {"kind", c->kind}};
    struct paseto_claims claims = {.iss = c->iss, .sub = c->sub, .iat = now, .exp = exp, .extra = extra, .n_extra = 3};
    char *json = NULL, footer[128];
    struct paseto_error pe;
    if (paseto_claims_build(&claims, &json, &pe) != 0)
        return -1;
    snprintf(footer, sizeof footer, "{\"kid\":\"%s\"}", k->keys[0].pub.kid);
    int rc = paseto_v4_sign(&k->keys[0].sk, (const unsigned char *)json, strlen(json), footer, NULL, token, &pe);
    free(json);
    if (rc == 0 && expires) {
        char t[PASETO_TIME_LEN + 1];
        paseto_time_format(exp, t);
        snprintf(expires, 32, "%s", t);
    }
    return rc;
}

int lend_token_verify(const struct lend_keyring *k, const char *token, time_t now, json_t **claims,
                      const char **code)
{
    struct paseto_keyring_entry table[16];
    size_t n = k->n < 16 ? k->n : 16;
    for (size_t i = 0; i < n; i++)
        table[i] = k->keys[i].pub;
    unsigned char *m = NULL;
    size_t mlen = 0;
    struct paseto_error pe = {0};
    int rc = paseto_verify_with_keys(table, n, token, NULL, PASETO_DEFAULT_MAX_FOOTER, &m, &mlen, NULL, NULL, &pe);
    if (rc == 0)
        rc = paseto_check_claims(m, mlen, now, 60, claims, &pe);
    free(m);
    if (rc != 0 && code)
        *code = pe.code;
    return rc;
}
