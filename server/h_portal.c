/*
 * The portal's files: index.html for the application's pages, /assets/ from the web
 * directory (PRETNUM_WEB_DIR, "web" by default) and /vendor/ from an explicit list of
 * files of its node_modules, never the whole tree. Every answer carries a strict
 * Content-Security-Policy (this origin only, no inline script) and a validator, so a
 * browser asks again with If-None-Match and gets a 304.
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Larger files are not the portal's: refuse rather than hold them in memory. */
#define MAX_WEB_FILE (8u << 20)

/*
 * The portal runs only its own scripts. Media may come from blob: (hls.js feeds the
 * player through Media Source Extensions); books are framed from /content/, whose pages
 * carry their own sandbox.
 */
static const char csp[] = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                          "media-src 'self' blob:; connect-src 'self'; worker-src 'self' blob:; "
                          "frame-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
                          "form-action 'self'; frame-ancestors 'none'";

static const struct {
    const char *url, *file;
} vendor[] = {
    {"hls.mjs", "node_modules/hls.js/dist/hls.min.mjs"},
    {"hls.worker.js", "node_modules/hls.js/dist/hls.worker.js"},
};

static const struct {
    const char *ext, *type;
} types[] = {
    {".html", "text/html; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".mjs", "text/javascript; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".json", "application/json"},
    {".webmanifest", "application/manifest+json"},
    {".svg", "image/svg+xml"},
    {".png", "image/png"},
    {".jpg", "image/jpeg"},
    {".ico", "image/x-icon"},
    {".woff2", "font/woff2"},
    {".txt", "text/plain; charset=utf-8"},
};

const char *srv_web_type(const char *path)
{
    const char *dot = strrchr(path, '.');
    if (!dot || strchr(dot, '/'))
        return NULL;
    for (size_t i = 0; i < sizeof types / sizeof *types; i++)
        if (!strcmp(dot, types[i].ext))
            return types[i].type;
    return NULL;
}

bool srv_web_path_ok(const char *rel)
{
    size_t n = strlen(rel);
    if (n == 0 || n > 200)
        return false;
    /* Each segment is non-empty, does not start with a dot (no "..", no hidden files)
     * and is made of plain characters: nothing a file system or a shell reads twice. */
    const char *seg = rel;
    for (const char *p = rel;; p++) {
        if (*p == '/' || *p == 0) {
            if (p == seg || *seg == '.')
                return false;
            if (!*p)
                return true;
            seg = p + 1;
            continue;
        }
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
              c == '-' || c == '_'))
            return false;
    }
}

/* Sends web_dir/rel (already checked) with its type, validator and policy. */
static void send_web_file(struct srv_req *r, const char *rel, const char *cache_control)
{
    const char *type = srv_web_type(rel);
    const char *dir = r->srv->cfg.web_dir ? r->srv->cfg.web_dir : "web";
    char root[PATH_MAX], want[PATH_MAX + 256], real[PATH_MAX];
    if (!type || !realpath(dir, root)) {
        srv_reply_error(r, 404, "not_found", "There is nothing at this address.");
        return;
    }
    snprintf(want, sizeof want, "%s/%s", root, rel);
    /* A symbolic link may not lead out of the web directory. */
    size_t rl = strlen(root);
    if (!realpath(want, real) || strncmp(real, root, rl) != 0 || real[rl] != '/') {
        srv_reply_error(r, 404, "not_found", "There is nothing at this address.");
        return;
    }
    int fd = open(real, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > (off_t)MAX_WEB_FILE) {
        if (fd >= 0)
            close(fd);
        srv_reply_error(r, 404, "not_found", "There is nothing at this address.");
        return;
    }
    char etag[80];
    snprintf(etag, sizeof etag, "\"%llx-%llx-%lx\"", (unsigned long long)st.st_size,
             (unsigned long long)st.st_mtim.tv_sec, (unsigned long)st.st_mtim.tv_nsec);
    const char *inm = srv_header(r, MHD_HTTP_HEADER_IF_NONE_MATCH);
    if (inm && (strstr(inm, etag) || !strcmp(inm, "*"))) {
        close(fd);
        srv_reply_empty(r, 304);
        srv_add_header(r, MHD_HTTP_HEADER_ETAG, etag);
        srv_add_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, cache_control);
        return;
    }
    size_t len = (size_t)st.st_size, got = 0;
    char *buf = malloc(len ? len : 1);
    while (buf && got < len) {
        ssize_t k = read(fd, buf + got, len - got);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        got += (size_t)k;
    }
    close(fd);
    if (!buf || got != len) {
        free(buf);
        srv_reply_error(r, 500, "internal_error", "could not read the portal's file");
        return;
    }
    srv_reply_buffer(r, 200, type, buf, len);
    srv_add_header(r, MHD_HTTP_HEADER_ETAG, etag);
    srv_add_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, cache_control);
    srv_add_header(r, "Content-Security-Policy", csp);
}

void h_portal_app(struct srv_req *r)
{
    /* Revalidated on each visit, so a new version is seen at once. */
    send_web_file(r, "index.html", "no-cache");
}

void h_portal_asset(struct srv_req *r)
{
    const char *path = srv_param(r, "path");
    if (!srv_web_path_ok(path)) {
        srv_reply_error(r, 404, "not_found", "There is nothing at this address.");
        return;
    }
    char rel[256];
    snprintf(rel, sizeof rel, "assets/%s", path);
    send_web_file(r, rel, "no-cache");
}

void h_portal_vendor(struct srv_req *r)
{
    const char *path = srv_param(r, "path");
    for (size_t i = 0; i < sizeof vendor / sizeof *vendor; i++)
        if (!strcmp(path, vendor[i].url)) {
            /* Pinned by package-lock.json: changes only with a release. */
            send_web_file(r, vendor[i].file, "public, max-age=86400");
            return;
        }
    srv_reply_error(r, 404, "not_found", "There is nothing at this address.");
}
