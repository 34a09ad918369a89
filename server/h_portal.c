/*
 * The portal's files: index.html for the application's pages, /assets/ from the web
 * directory (PRETNUM_WEB_DIR, "web" by default) and /vendor/ from an explicit list of
 * files of its node_modules, never the whole tree. Every answer carries a strict
 * Content-Security-Policy (this origin only, no inline script) and a validator, so a
 * browser asks again with If-None-Match and gets a 304.
 */
#include "internal.h"

#include "compress.h"

#include "pretnum/catalogue.h"

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
 * The portal runs only its own scripts: no inline script, no eval. blob: is allowed where
 * the two libraries need it: hls.js feeds the player through Media Source Extensions,
 * and Readium's navigator shows each page of a book as a blob: document in a frame of
 * this origin, with its reading styles and helper scripts as blob: files. Such a frame
 * inherits this policy, so a book's inline scripts and event attributes never run in it
 * (and /content/ refuses to send a book's script files to it: see h_content.c). Inline
 * styles are allowed because books are full of them (a style runs nothing). Frames:
 * only of this origin and blob:, and the portal itself only inside its own pages
 * (frame-ancestors 'self'), never another site's.
 */
static const char csp[] = "default-src 'self'; script-src 'self' blob:; style-src 'self' blob: 'unsafe-inline'; "
                          "img-src 'self' data: blob:; media-src 'self' blob:; connect-src 'self' blob:; "
                          "worker-src 'self' blob:; frame-src 'self' blob:; font-src 'self' data: blob:; "
                          "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'self'";

/* Pinned by package-lock.json. Readium's navigator loads its translations as modules
 * next to it, by these names. */
static const struct {
    const char *url, *file;
} vendor[] = {
    {"hls.mjs", "node_modules/hls.js/dist/hls.min.mjs"},
    {"hls.worker.js", "node_modules/hls.js/dist/hls.worker.js"},
    {"readium/navigator.js", "node_modules/@readium/navigator/dist/index.js"},
    {"readium/shared.js", "node_modules/@readium/shared/dist/index.js"},
    {"readium/fr-C5HEel98.js", "node_modules/@readium/navigator/dist/fr-C5HEel98.js"},
    {"readium/ar-DyHX_uy2.js", "node_modules/@readium/navigator/dist/ar-DyHX_uy2.js"},
    {"readium/da-Dct0PS3E.js", "node_modules/@readium/navigator/dist/da-Dct0PS3E.js"},
    {"readium/it-DFOBoXGy.js", "node_modules/@readium/navigator/dist/it-DFOBoXGy.js"},
    {"readium/pt_PT-Di3sVjze.js", "node_modules/@readium/navigator/dist/pt_PT-Di3sVjze.js"},
    {"readium/sv-BfzAFsVN.js", "node_modules/@readium/navigator/dist/sv-BfzAFsVN.js"},
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

/* The answer for a portal file: its bytes (taken), gzipped or not, with its headers. */
static void send_web_buffer(struct srv_req *r, const char *type, char *buf, size_t len, const char *etag,
                            const char *cache_control, bool vary, bool gzipped)
{
    srv_reply_buffer(r, 200, type, buf, len);
    srv_add_header(r, MHD_HTTP_HEADER_ETAG, etag);
    srv_add_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, cache_control);
    srv_add_header(r, "Content-Security-Policy", csp);
    if (gzipped)
        srv_add_header(r, MHD_HTTP_HEADER_CONTENT_ENCODING, "gzip");
    if (vary)
        srv_add_header(r, MHD_HTTP_HEADER_VARY, MHD_HTTP_HEADER_ACCEPT_ENCODING);
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
    /* Text goes gzipped to a client that takes it (compress.c): another representation,
     * with its own validator, and caches told that the answer depends on the header. */
    bool compressible = srv_gzip_suits(type, (size_t)st.st_size);
    bool gz = compressible && srv_gzip_accepted(srv_header(r, MHD_HTTP_HEADER_ACCEPT_ENCODING));
    char etag[80], etag_id[80];
    snprintf(etag_id, sizeof etag_id, "\"%llx-%llx-%lx\"", (unsigned long long)st.st_size,
             (unsigned long long)st.st_mtim.tv_sec, (unsigned long)st.st_mtim.tv_nsec);
    snprintf(etag, sizeof etag, "\"%llx-%llx-%lx%s\"", (unsigned long long)st.st_size,
             (unsigned long long)st.st_mtim.tv_sec, (unsigned long)st.st_mtim.tv_nsec, gz ? "-gz" : "");
    const char *inm = srv_header(r, MHD_HTTP_HEADER_IF_NONE_MATCH);
    if (inm && (strstr(inm, etag) || !strcmp(inm, "*"))) {
        close(fd);
        srv_reply_empty(r, 304);
        srv_add_header(r, MHD_HTTP_HEADER_ETAG, etag);
        srv_add_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, cache_control);
        if (compressible)
            srv_add_header(r, MHD_HTTP_HEADER_VARY, MHD_HTTP_HEADER_ACCEPT_ENCODING);
        return;
    }
    size_t zlen = 0;
    char *z = gz ? srv_gzip_kept(real, etag, &zlen) : NULL;
    if (z) {
        close(fd);
        send_web_buffer(r, type, z, zlen, etag, cache_control, true, true);
        return;
    }
    size_t len = (size_t)st.st_size, got = 0;
    char *buf = (char *)srv_read_all(fd, len, &got);
    if (!buf || got != len) {
        free(buf);
        srv_reply_error(r, 500, "internal_error", "could not read the portal's file");
        return;
    }
    if (gz && (z = srv_gzip_keep(real, etag, buf, len, &zlen))) {
        free(buf);
        send_web_buffer(r, type, z, zlen, etag, cache_control, true, true);
        return;
    }
    /* Identity: not asked for gzip, not worth it, or no memory to compress. */
    send_web_buffer(r, type, buf, len, etag_id, cache_control, compressible, false);
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

/* ---- /catalogue: the catalogue without JavaScript ---- */

/* The page's words, French first. */
enum { W_TITLE, W_LABEL, W_ALL, W_EBOOK, W_AUDIO, W_VIDEO, W_KIND, W_SEARCH, W_FOUND1, W_FOUND, W_NONE, W_PREV,
       W_NEXT, W_PAGES, W_COVER_A, W_COVER_B, W_PORTAL, W_SKIP, W_NAV, W_FOOT, W_COUNT };

static const char *const words[2][W_COUNT] = {
    {"Catalogue", "Rechercher un titre, un auteur, un sujet", "Tout", "Livres numériques", "Musique", "Films",
     "Type", "Rechercher", "titre trouvé.", "titres trouvés.", "Aucun titre trouvé.", "Page précédente",
     "Page suivante", "Pages de résultats", "Couverture de « ", " »",
     "Emprunter, lire et écouter demandent JavaScript : ouvrez le portail complet.", "Aller au contenu",
     "Menu principal", "Pretnum — prêt numérique des bibliothèques publiques."},
    {"Catalogue", "Search a title, an author, a subject", "Everything", "E-books", "Music", "Films", "Kind",
     "Search", "title found.", "titles found.", "No title found.", "Previous page", "Next page", "Result pages",
     "Cover of “", "”", "Borrowing, reading and listening need JavaScript: open the full portal.",
     "Skip to content", "Main menu", "Pretnum — digital lending for public libraries."},
};

static const char *const kinds[] = {"ebook", "audio", "video"};
static const char *const kind_one[2][3] = {{"Livre numérique", "Musique", "Film"}, {"E-book", "Music", "Film"}};

/* Writes text with &, <, >, " and ' escaped, for element content and quoted attributes. */
static void esc(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&#39;", f); break;
        default: fputc(*s, f);
        }
    }
}

/* Writes s percent-encoded for a query string. */
static void url_esc(FILE *f, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; p && *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || strchr("-_.~", *p))
            fputc(*p, f);
        else
            fprintf(f, "%%%02X", *p);
    }
}

static void page_link(FILE *f, const char *q, const char *kind, int en, long page)
{
    fputs("/catalogue?q=", f);
    url_esc(f, q ? q : "");
    if (kind) {
        fputs("&amp;kind=", f);
        url_esc(f, kind);
    }
    if (en)
        fputs("&amp;lang=en", f);
    fprintf(f, "&amp;page=%ld", page);
}

void h_portal_catalogue(struct srv_req *r)
{
    const char *lang = srv_query(r, "lang");
    int en = lang && !strcmp(lang, "en");
    const char *const *w = words[en];
    const char *q = srv_query(r, "q"), *kind = srv_query(r, "kind");
    if (q && !*q)
        q = NULL;
    bool known = false;
    for (size_t i = 0; kind && i < sizeof kinds / sizeof *kinds; i++)
        known |= !strcmp(kind, kinds[i]);
    if (!known)
        kind = NULL;
    long page = 1;
    const char *ps = srv_query(r, "page");
    if (ps) {
        char *end;
        errno = 0;
        page = strtol(ps, &end, 10);
        if (*end || errno || page < 1 || page > 50)
            page = 1;
    }
    struct db *db = srv_db(r);
    if (!db)
        return;
    const int per_page = 20;
    struct lend_title_query tq = {.q = q, .kind = kind, .page = (int)page, .per_page = per_page};
    json_t *res = NULL;
    struct lend_err err = {0};
    enum lend_status st = lend_titles_search(db, &tq, &res, &err);
    if (st != LEND_OK) {
        srv_reply_lend(r, st, &err);
        return;
    }
    long long total = json_integer_value(json_object_get(res, "total"));
    json_t *items = json_object_get(res, "items");

    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) {
        json_decref(res);
        srv_reply_error(r, 503, "busy", "Try again shortly.");
        return;
    }
    fprintf(f, "<!doctype html>\n<html lang=\"%s\">\n<head>\n<meta charset=\"utf-8\">\n"
               "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>",
            en ? "en" : "fr");
    if (q) {
        esc(f, q);
        fputs(" — ", f);
    }
    fprintf(f, "%s — Pretnum</title>\n<link rel=\"icon\" href=\"/assets/icon.svg\" type=\"image/svg+xml\">\n"
               "<link rel=\"stylesheet\" href=\"/assets/style.css\">\n</head>\n<body>\n"
               "<a class=\"skip\" href=\"#main\">%s</a>\n<header class=\"site\"><div class=\"bar\">"
               "<a class=\"brand\" href=\"/\">Pretnum</a>\n<nav aria-label=\"%s\"><ul><li><a href=\"/catalogue%s\" "
               "aria-current=\"page\">%s</a></li></ul></nav>\n<a class=\"lang\" lang=\"%s\" href=\"/catalogue?lang=%s\">%s</a>"
               "</div></header>\n<main id=\"main\">\n<h1>%s</h1>\n",
            w[W_TITLE], w[W_SKIP], w[W_NAV], en ? "?lang=en" : "", w[W_TITLE], en ? "fr" : "en", en ? "fr" : "en",
            en ? "Français" : "English", w[W_TITLE]);
    fprintf(f, "<p class=\"note\"><a href=\"/\">%s</a></p>\n", w[W_PORTAL]);
    fprintf(f, "<form role=\"search\" class=\"searchform\" action=\"/catalogue\" method=\"get\">\n"
               "<label for=\"q\">%s</label>\n<div class=\"searchrow\"><input type=\"search\" id=\"q\" name=\"q\" value=\"",
            w[W_LABEL]);
    esc(f, q);
    fprintf(f, "\"><label class=\"visually-hidden\" for=\"kind\">%s</label><select id=\"kind\" name=\"kind\">"
               "<option value=\"\">%s</option>",
            w[W_KIND], w[W_ALL]);
    for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++)
        fprintf(f, "<option value=\"%s\"%s>%s</option>", kinds[i], kind && !strcmp(kind, kinds[i]) ? " selected" : "",
                w[W_EBOOK + i]);
    fprintf(f, "</select>%s<button type=\"submit\">%s</button></div>\n</form>\n",
            en ? "<input type=\"hidden\" name=\"lang\" value=\"en\">" : "", w[W_SEARCH]);
    fputs("<section class=\"results\" aria-labelledby=\"results-count\">\n<h2 id=\"results-count\" class=\"count\">", f);
    if (total)
        fprintf(f, "%lld %s", total, w[total == 1 ? W_FOUND1 : W_FOUND]);
    else
        fputs(w[W_NONE], f);
    fputs("</h2>\n<ul class=\"cards\">\n", f);
    size_t i;
    json_t *t;
    json_array_foreach(items, i, t) {
        const char *id = json_string_value(json_object_get(t, "id"));
        const char *title = json_string_value(json_object_get(t, "title"));
        const char *k = json_string_value(json_object_get(t, "kind"));
        const char *cover = json_string_value(json_object_get(t, "cover"));
        fputs("<li class=\"card\">", f);
        if (cover) {
            /* WebP thumbnails the server makes (h_titles.c), picked by room and density. */
            fputs("<img class=\"cover\" width=\"160\" height=\"240\" loading=\"lazy\" src=\"", f);
            esc(f, cover);
            fputs("?w=320\" srcset=\"", f);
            static const int widths[] = {160, 240, 320, 480};
            for (size_t j = 0; j < sizeof widths / sizeof *widths; j++) {
                esc(f, cover);
                fprintf(f, "?w=%d %dw%s", widths[j], widths[j], j + 1 < sizeof widths / sizeof *widths ? ", " : "");
            }
            fprintf(f, "\" sizes=\"(max-width: 44rem) 9rem, 12rem\" alt=\"%s", w[W_COVER_A]);
            esc(f, title);
            fprintf(f, "%s\">", w[W_COVER_B]);
        }
        fputs("<div class=\"card-body\"><h3 class=\"card-title\"><a href=\"/titles/", f);
        esc(f, id);
        fputs("\">", f);
        esc(f, title);
        fputs("</a></h3>", f);
        json_t *authors = json_object_get(t, "authors"), *a;
        size_t j;
        if (json_array_size(authors)) {
            fputs("<p class=\"creators\">", f);
            json_array_foreach(authors, j, a) {
                if (j)
                    fputs(", ", f);
                esc(f, json_string_value(a));
            }
            fputs("</p>", f);
        }
        for (size_t x = 0; k && x < sizeof kinds / sizeof *kinds; x++)
            if (!strcmp(k, kinds[x]))
                fprintf(f, "<p class=\"kind\">%s</p>", kind_one[en][x]);
        fputs("</div></li>\n", f);
    }
    fputs("</ul>\n", f);
    long pages = (long)((total + per_page - 1) / per_page);
    if (pages > 1) {
        fprintf(f, "<nav class=\"pager\" aria-label=\"%s\">", w[W_PAGES]);
        if (page > 1) {
            fputs("<a rel=\"prev\" href=\"", f);
            page_link(f, q, kind, en, page - 1);
            fprintf(f, "\">%s</a>", w[W_PREV]);
        }
        fprintf(f, "<span>%ld / %ld</span>", page, pages);
        if (page < pages && page < 50) {
            fputs("<a rel=\"next\" href=\"", f);
            page_link(f, q, kind, en, page + 1);
            fprintf(f, "\">%s</a>", w[W_NEXT]);
        }
        fputs("</nav>\n", f);
    }
    fprintf(f, "</section>\n</main>\n<footer class=\"site\"><p>%s</p></footer>\n</body>\n</html>\n", w[W_FOOT]);
    json_decref(res);
    if (fclose(f) != 0 || !buf) {
        free(buf);
        srv_reply_error(r, 503, "busy", "Try again shortly.");
        return;
    }
    srv_reply_buffer(r, 200, "text/html; charset=utf-8", buf, len);
    srv_add_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    srv_add_header(r, "Content-Security-Policy", csp);
}
