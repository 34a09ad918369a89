/*
 * The watermarked download; the contract is in include/pretnum/watermark.h.
 *
 * The package document is parsed with libxml2 (no network, no DTD, no entity
 * substitution), three nodes are added, and it is written back as UTF-8. The archive is
 * rebuilt with libzip: `mimetype` first and stored, then every entry of the source in its
 * order, copied compressed (ZIP_FL_COMPRESSED) with its own method, so that nothing is
 * inflated or deflated again but the package document and the notice.
 */
#include "pretnum/watermark.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <zip.h>

#include "pretnum/epub.h"

#define OPF_NS "http://www.idpf.org/2007/opf"
#define DC_NS "http://purl.org/dc/elements/1.1/"
#define MAX_OPF_BYTES (8u << 20)

static int fail(struct epub_error *err, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(struct epub_error *err, const char *code, const char *fmt, ...)
{
    if (err) {
        err->code = code;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* ---- the notice page ---- */

struct buf {
    char *s;
    size_t len, cap;
    bool oom;
};

static void put(struct buf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 1024;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->s, cap);
        if (!p) {
            b->oom = true;
            return;
        }
        b->s = p;
        b->cap = cap;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = 0;
}

static void puts_(struct buf *b, const char *s)
{
    put(b, s, strlen(s));
}

/* Text content, escaped for XML. */
static void text(struct buf *b, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&': puts_(b, "&amp;"); break;
        case '<': puts_(b, "&lt;"); break;
        case '>': puts_(b, "&gt;"); break;
        case '"': puts_(b, "&quot;"); break;
        default: put(b, s, 1);
        }
    }
}

/*
 * One of the two sentences, with the mark's fields in place of %L (library), %B
 * (borrowed), %D (due) and %I (loan id).
 */
static void sentence(struct buf *b, const char *tpl, const struct lend_mark *m)
{
    for (const char *p = tpl; *p; p++) {
        if (*p == '%' && p[1]) {
            p++;
            text(b, *p == 'L' ? m->library : *p == 'B' ? m->borrowed : *p == 'D' ? m->due : m->loan_id);
        } else {
            put(b, p, 1);
        }
    }
}

static char *notice_page(const struct lend_mark *m, bool epub3, bool fixed, size_t *len)
{
    struct buf b = {0};
    puts_(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    if (epub3)
        puts_(&b, "<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\" xml:lang=\"fr\" lang=\"fr\">\n");
    else
        puts_(&b, "<!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.1//EN\" "
                  "\"http://www.w3.org/TR/xhtml11/DTD/xhtml11.dtd\">\n"
                  "<html xmlns=\"http://www.w3.org/1999/xhtml\" xml:lang=\"fr\">\n");
    puts_(&b, "<head>\n");
    if (epub3)
        puts_(&b, "<meta charset=\"UTF-8\"/>\n");
    /* A page of a fixed-layout book must say its size. */
    if (fixed)
        puts_(&b, "<meta name=\"viewport\" content=\"width=600, height=800\"/>\n");
    puts_(&b, "<title>Exemplaire de prêt numérique</title>\n"
              "<style type=\"text/css\">body{margin:3em 2em;font-family:serif;line-height:1.5}"
              "h1{font-size:1.3em}p.id{font-family:monospace;font-size:.85em}</style>\n"
              "</head>\n<body>\n");
    puts_(&b, epub3 ? "<section>\n" : "<div>\n");
    puts_(&b, "<h1>Exemplaire de prêt numérique</h1>\n<p>");
    sentence(&b,
             "Ce livre numérique vous est prêté par %L du %B au %D. Il est destiné à votre "
             "lecture personnelle : merci de ne pas le diffuser.",
             m);
    puts_(&b, "</p>\n");
    puts_(&b, epub3 ? "<h1 lang=\"en\" xml:lang=\"en\">Digital loan copy</h1>\n<p lang=\"en\" xml:lang=\"en\">"
                    : "<h1 xml:lang=\"en\">Digital loan copy</h1>\n<p xml:lang=\"en\">");
    sentence(&b,
             "This e-book is lent to you by %L from %B to %D. It is for your personal reading: "
             "please do not share it.",
             m);
    puts_(&b, "</p>\n<p class=\"id\">");
    sentence(&b, "Prêt / loan %I", m);
    puts_(&b, "</p>\n");
    puts_(&b, epub3 ? "</section>\n" : "</div>\n");
    puts_(&b, "</body>\n</html>\n");
    if (b.oom) {
        free(b.s);
        return NULL;
    }
    *len = b.len;
    return b.s;
}

/* ---- the package document ---- */

static bool is(const xmlNode *n, const char *ns, const char *name)
{
    return n && n->type == XML_ELEMENT_NODE && n->ns && n->ns->href && !strcmp((const char *)n->ns->href, ns) &&
           !strcmp((const char *)n->name, name);
}

static xmlNode *child(xmlNode *parent, const char *ns, const char *name)
{
    for (xmlNode *c = parent ? parent->children : NULL; c; c = c->next)
        if (is(c, ns, name))
            return c;
    return NULL;
}

static bool id_used(const xmlNode *n, const char *id)
{
    for (; n; n = n->next) {
        if (n->type != XML_ELEMENT_NODE)
            continue;
        xmlChar *v = xmlGetProp(n, (const xmlChar *)"id");
        bool same = v && !strcmp((const char *)v, id);
        xmlFree(v);
        if (same || id_used(n->children, id))
            return true;
    }
    return false;
}

static void xml_silent(void *ctx, const char *msg, ...)
{
    (void)ctx;
    (void)msg;
}

/*
 * Adds the mark to the package document opf (len bytes): the identifier and rights in
 * the metadata, the notice (notice_href, relative to the package) in the manifest and the
 * spine. Returns the new document, malloc'd, or NULL with *err set.
 */
static char *mark_opf(const unsigned char *opf, size_t len, const struct lend_mark *m, const char *notice_id,
                      const char *notice_href, bool fixed, size_t *out_len, struct epub_error *err)
{
    xmlGenericErrorFunc saved = xmlGenericError;
    void *saved_ctx = xmlGenericErrorContext;
    xmlSetGenericErrorFunc(NULL, xml_silent);
    xmlDoc *doc = xmlReadMemory((const char *)opf, (int)len, NULL, NULL,
                                XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    xmlSetGenericErrorFunc(saved_ctx, saved);
    xmlNode *pkg = doc ? xmlDocGetRootElement(doc) : NULL;
    xmlNode *meta = child(pkg, OPF_NS, "metadata"), *manifest = child(pkg, OPF_NS, "manifest"),
            *spine = child(pkg, OPF_NS, "spine");
    if (!is(pkg, OPF_NS, "package") || !meta || !manifest || !spine) {
        xmlFreeDoc(doc);
        fail(err, EPUB_INVALID_OPF, "the package document cannot be marked");
        return NULL;
    }
    /* EPUB 2 still allows OEBPS 1.2's <dc-metadata> wrapper; the DC elements go inside. */
    xmlNode *dcparent = child(meta, OPF_NS, "dc-metadata");
    if (!dcparent)
        dcparent = meta;
    xmlNs *dc = xmlSearchNsByHref(doc, dcparent, (const xmlChar *)DC_NS);
    if (!dc)
        dc = xmlNewNs(dcparent, (const xmlChar *)DC_NS, (const xmlChar *)"dc");

    char urn[64], rights[1024];
    snprintf(urn, sizeof urn, "urn:uuid:%s", m->loan_id);
    snprintf(rights, sizeof rights,
             "Exemplaire prêté par %s du %s au %s (prêt %s), pour un usage personnel. "
             "Lent by %s from %s to %s (loan %s), for personal use.",
             m->library, m->borrowed, m->due, m->loan_id, m->library, m->borrowed, m->due, m->loan_id);
    xmlNode *ident = xmlNewTextChild(dcparent, dc, (const xmlChar *)"identifier", (const xmlChar *)urn);
    xmlNode *right = xmlNewTextChild(dcparent, dc, (const xmlChar *)"rights", (const xmlChar *)rights);
    xmlNode *item = xmlNewChild(manifest, manifest->ns, (const xmlChar *)"item", NULL);
    xmlNode *ref = xmlNewNode(spine->ns, (const xmlChar *)"itemref");
    bool ok = ident && right && item && ref;
    if (ok) {
        char id_loan[40] = "pretnum-loan";
        for (int k = 2; id_used(pkg, id_loan); k++)
            snprintf(id_loan, sizeof id_loan, "pretnum-loan-%d", k);
        ok = xmlNewProp(ident, (const xmlChar *)"id", (const xmlChar *)id_loan) &&
             xmlNewProp(item, (const xmlChar *)"id", (const xmlChar *)notice_id) &&
             xmlNewProp(item, (const xmlChar *)"href", (const xmlChar *)notice_href) &&
             xmlNewProp(item, (const xmlChar *)"media-type", (const xmlChar *)"application/xhtml+xml") &&
             xmlNewProp(ref, (const xmlChar *)"idref", (const xmlChar *)notice_id);
    }
    if (ok) {
        /* Second in a reflowable book, after its cover or title page; last in a fixed
         * layout, whose left and right pages would otherwise swap. */
        xmlNode *first = NULL;
        for (xmlNode *c = spine->children; c && !first; c = c->next)
            if (is(c, OPF_NS, "itemref"))
                first = c;
        ok = (!fixed && first) ? xmlAddNextSibling(first, ref) != NULL : xmlAddChild(spine, ref) != NULL;
        if (ok)
            ref = NULL;
    }
    xmlFreeNode(ref);
    xmlChar *out = NULL;
    int n = 0;
    if (ok)
        xmlDocDumpMemoryEnc(doc, &out, &n, "UTF-8");
    xmlFreeDoc(doc);
    if (!out) {
        fail(err, EPUB_OUT_OF_MEMORY, "out of memory marking the package document");
        return NULL;
    }
    char *copy = malloc((size_t)n + 1);
    if (copy) {
        memcpy(copy, out, (size_t)n + 1);
        *out_len = (size_t)n;
    } else {
        fail(err, EPUB_OUT_OF_MEMORY, "out of memory marking the package document");
    }
    xmlFree(out);
    return copy;
}

/* ---- the archive ---- */

/* Adds len bytes (taken: freed by libzip, or here on failure) as name; returns its index. */
static zip_int64_t add_buffer(zip_t *z, const char *name, char *data, size_t len, zip_int32_t method,
                              time_t mtime)
{
    zip_source_t *s = zip_source_buffer(z, data, len, 1);
    if (!s) {
        free(data);
        return -1;
    }
    zip_int64_t i = zip_file_add(z, name, s, ZIP_FL_ENC_UTF_8);
    if (i < 0) {
        zip_source_free(s);
        return -1;
    }
    if (zip_set_file_compression(z, (zip_uint64_t)i, method, 0) != 0 ||
        zip_file_set_mtime(z, (zip_uint64_t)i, mtime, 0) != 0)
        return -1;
    return i;
}

/* Copies the source's entries after `mimetype`, the package document replaced by opf
 * (taken, whatever happens). */
static int copy_entries(zip_t *dz, zip_t *sz, const char *opf_path, char *opf, size_t opf_len,
                        const struct lend_mark *m)
{
    zip_int64_t n = zip_get_num_entries(sz, 0);
    for (zip_int64_t i = 0; i < n; i++) {
        const char *name = zip_get_name(sz, (zip_uint64_t)i, 0);
        if (!name)
            goto fail;
        if (!strcmp(name, "mimetype"))
            continue;
        if (opf && !strcmp(name, opf_path)) {
            char *data = opf;
            opf = NULL;
            if (add_buffer(dz, name, data, opf_len, ZIP_CM_DEFLATE, m->started) < 0)
                goto fail;
            continue;
        }
        size_t nl = strlen(name);
        if (nl && name[nl - 1] == '/') {
            if (zip_dir_add(dz, name, ZIP_FL_ENC_UTF_8) < 0)
                goto fail;
            continue;
        }
        zip_stat_t st;
        if (zip_stat_index(sz, (zip_uint64_t)i, 0, &st) != 0 || !(st.valid & ZIP_STAT_COMP_METHOD))
            goto fail;
        zip_source_t *s = zip_source_zip(dz, sz, (zip_uint64_t)i, ZIP_FL_COMPRESSED, 0, -1);
        if (!s)
            goto fail;
        zip_int64_t j = zip_file_add(dz, name, s, ZIP_FL_ENC_UTF_8);
        if (j < 0) {
            zip_source_free(s);
            goto fail;
        }
        /* The same method as the source: its bytes are copied as they are. */
        if (zip_set_file_compression(dz, (zip_uint64_t)j, st.comp_method, 0) != 0)
            goto fail;
    }
    if (!opf)
        return 0;
fail:
    free(opf);
    return -1;
}

int lend_watermark_epub(const char *src, const struct lend_mark *m, const char *dst, struct epub_error *err)
{
    if (!src || !m || !dst || !m->loan_id || !m->library || !m->borrowed || !m->due)
        return fail(err, EPUB_IO_ERROR, "nothing to mark");
    struct epub *e;
    struct epub_limits lim = {.flags = EPUB_SKIP_SCAN};
    if (epub_open_file(src, &lim, &e, err) != 0)
        return -1;
    const struct epub_meta *meta = epub_meta(e);
    bool epub3 = meta->version && meta->version[0] >= '3';
    bool fixed = meta->layout && !strcmp(meta->layout, "pre-paginated");

    /* The notice sits beside the package document, under a name and an id no entry or
     * element of the book has. */
    const char *slash = strrchr(meta->opf_path, '/');
    int dirlen = slash ? (int)(slash - meta->opf_path + 1) : 0;
    char href[64] = "pretnum-loan-notice.xhtml", entry[1100];
    snprintf(entry, sizeof entry, "%.*s%s", dirlen, meta->opf_path, href);
    for (int k = 2; epub_entry_size(e, entry, NULL) && k < 100; k++) {
        snprintf(href, sizeof href, "pretnum-loan-notice-%d.xhtml", k);
        snprintf(entry, sizeof entry, "%.*s%s", dirlen, meta->opf_path, href);
    }
    char notice_id[40] = "pretnum-loan-notice";
    for (size_t i = 0, k = 2; i < meta->n_manifest; i++) {
        if (!strcmp(meta->manifest[i].id, notice_id)) {
            snprintf(notice_id, sizeof notice_id, "pretnum-loan-notice-%zu", k++);
            i = (size_t)-1; /* again from the start with the new id */
        }
    }

    unsigned char *opf;
    size_t opf_len;
    if (epub_read_entry(e, meta->opf_path, MAX_OPF_BYTES, &opf, &opf_len, err) != 0) {
        epub_close(e);
        return -1;
    }
    size_t marked_len = 0, page_len = 0;
    char *marked = mark_opf(opf, opf_len, m, notice_id, href, fixed, &marked_len, err);
    free(opf);
    char opf_path[1100];
    snprintf(opf_path, sizeof opf_path, "%s", meta->opf_path);
    epub_close(e);
    if (!marked)
        return -1;
    char *page = notice_page(m, epub3, fixed, &page_len);
    char *mime = strdup("application/epub+zip");
    if (!page || !mime) {
        free(marked);
        free(page);
        free(mime);
        return fail(err, EPUB_OUT_OF_MEMORY, "out of memory writing the notice");
    }

    /* libzip writes to a temporary file beside dst and renames it only when zip_close()
     * succeeds: a failure leaves nothing, and an existing dst is never touched. */
    int zerr = 0;
    zip_t *sz = zip_open(src, ZIP_RDONLY, &zerr);
    zip_t *dz = sz ? zip_open(dst, ZIP_CREATE | ZIP_EXCL, &zerr) : NULL;
    int rc = -1;
    /* add_buffer() and copy_entries() take the buffers they are given. */
    if (dz) {
        char *data = mime;
        mime = NULL;
        rc = add_buffer(dz, "mimetype", data, strlen(data), ZIP_CM_STORE, m->started) < 0 ? -1 : 0;
    }
    if (rc == 0) {
        rc = copy_entries(dz, sz, opf_path, marked, marked_len, m);
        marked = NULL;
    }
    if (rc == 0) {
        char *data = page;
        page = NULL;
        rc = add_buffer(dz, entry, data, page_len, ZIP_CM_DEFLATE, m->started) < 0 ? -1 : 0;
    }
    free(mime);
    free(marked);
    free(page);
    if (rc == 0 && zip_close(dz) != 0) {
        fail(err, EPUB_IO_ERROR, "could not write the marked copy: %s", zip_strerror(dz));
        zip_discard(dz);
        dz = NULL;
        rc = -1;
    } else if (rc != 0) {
        fail(err, EPUB_IO_ERROR, "could not write the marked copy: %s",
             dz ? zip_strerror(dz) : sz ? "cannot create the file" : "cannot reopen the book");
        if (dz)
            zip_discard(dz);
    }
    if (sz)
        zip_discard(sz);
    return rc;
}

int lend_watermark_open(const char *data_dir, const char *src, const struct lend_mark *m, struct epub_error *err)
{
    char dir[4096], path[4200], rnd[17];
    unsigned char b[8];
    if ((size_t)snprintf(dir, sizeof dir, "%s/tmp", data_dir) >= sizeof dir)
        return fail(err, EPUB_IO_ERROR, "the data directory's path is too long");
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return fail(err, EPUB_IO_ERROR, "cannot create \"%s\": %s", dir, strerror(errno));
    randombytes_buf(b, sizeof b);
    sodium_bin2hex(rnd, sizeof rnd, b, sizeof b);
    snprintf(path, sizeof path, "%s/download-%s.epub", dir, rnd);
    if (lend_watermark_epub(src, m, path, err) != 0)
        return -1;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    int saved = errno;
    unlink(path);
    if (fd < 0)
        return fail(err, EPUB_IO_ERROR, "cannot reopen the marked copy: %s", strerror(saved));
    return fd;
}
