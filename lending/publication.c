#include "pretnum/publication.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pretnum/epub.h"

char *lend_path_encode(const char *path)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = strlen(path);
    char *out = malloc(n * 3 + 1), *o = out;
    if (!out)
        return NULL;
    for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
        if (isalnum(*p) || strchr("/-._~!$&'()*+,;=:@", *p)) {
            *o++ = (char)*p;
        } else {
            *o++ = '%';
            *o++ = hex[*p >> 4];
            *o++ = hex[*p & 15];
        }
    }
    *o = 0;
    return out;
}

static json_t *href_of(const char *base, const struct epub_item *it, const char *fragment)
{
    if (it && it->remote)
        return json_string(it->href);
    char *enc = lend_path_encode(it ? it->href : "");
    json_t *h = enc ? json_sprintf("%s%s%s%s", base, enc, fragment ? "#" : "", fragment ? fragment : "") : NULL;
    free(enc);
    return h;
}

static json_t *link(const char *base, const struct epub_item *it)
{
    json_t *l = json_object();
    json_object_set_new(l, "href", href_of(base, it, NULL));
    json_object_set_new(l, "type", json_string(it->media_type));
    return l;
}

/* Only the values the schema's enumerations allow pass; others are dropped. */
static json_t *vocabulary(struct epub_strings s, const char *const *allowed)
{
    json_t *a = json_array();
    for (size_t i = 0; i < s.n; i++)
        for (const char *const *v = allowed; *v; v++)
            if (!strcmp(s.v[i], *v)) {
                json_array_append_new(a, json_string(*v));
                break;
            }
    return a;
}

static bool is_date(const char *d)
{
    int y, m, day;
    char rest;
    if (!d)
        return false;
    if (strlen(d) == 10 && sscanf(d, "%4d-%2d-%2d%c", &y, &m, &day, &rest) == 3)
        return m >= 1 && m <= 12 && day >= 1 && day <= 31;
    /* a full date-time: 2011-09-01T00:00:00Z */
    return strlen(d) >= 20 && d[4] == '-' && d[7] == '-' && d[10] == 'T' && (d[strlen(d) - 1] == 'Z' || strchr(d + 10, '+'));
}

static bool is_uri(const char *s)
{
    if (!s || !isalpha((unsigned char)s[0]))
        return false;
    const char *p = s;
    while (isalnum((unsigned char)*p) || *p == '+' || *p == '-' || *p == '.')
        p++;
    return *p == ':' && p[1] && !strpbrk(s, " \t\r\n<>\"");
}

static json_t *contributors(const struct epub_person *p, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *c = json_pack("{s:s}", "name", p[i].name);
        if (p[i].file_as)
            json_object_set_new(c, "sortAs", json_string(p[i].file_as));
        json_array_append_new(a, c);
    }
    return a;
}

static json_t *toc(const char *base, const struct epub_meta *m, const struct epub_toc_entry *e, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *l = json_object();
        if (e[i].href) {
            struct epub_item tmp = {.href = e[i].href};
            const struct epub_item *it = &tmp;
            for (size_t k = 0; k < m->n_manifest; k++)
                if (!strcmp(m->manifest[k].href, e[i].href))
                    it = &m->manifest[k];
            json_object_set_new(l, "href", href_of(base, it, e[i].fragment));
            if (it->media_type)
                json_object_set_new(l, "type", json_string(it->media_type));
        } else {
            /* a heading without a link: the schema needs an href, so it points nowhere */
            json_object_set_new(l, "href", json_string("#"));
        }
        json_object_set_new(l, "title", json_string(e[i].title));
        if (e[i].n_children)
            json_object_set_new(l, "children", toc(base, m, e[i].children, e[i].n_children));
        json_array_append_new(a, l);
    }
    return a;
}

json_t *lend_webpub_manifest(const struct epub_meta *m, const char *base, const char *self_href)
{
    static const char *const modes[] = {"auditory", "chartOnVisual", "chemOnVisual", "colorDependent",
                                        "diagramOnVisual", "mathOnVisual", "musicOnVisual", "tactile",
                                        "textOnVisual", "textual", "visual", NULL};
    static const char *const features[] = {
        "annotations", "ARIA", "bookmarks", "index", "pageBreakMarkers", "printPageNumbers", "pageNavigation",
        "readingOrder", "structuralNavigation", "tableOfContents", "taggedPDF", "alternativeText",
        "audioDescription", "closedCaptions", "captions", "describedMath", "longDescription", "openCaptions",
        "signLanguage", "transcript", "displayTransformability", "synchronizedAudioText", "timingControl",
        "unlocked", "ChemML", "latex", "MathML", "ttsMarkup", "highContrastAudio", "highContrastDisplay",
        "largePrint", "braille", "tactileGraphic", "tactileObject", "fullRubyAnnotations",
        "horizontalWriting", "rubyAnnotations", "verticalWriting", "withAdditionalWordSegmentation",
        "withoutAdditionalWordSegmentation", "none", NULL};
    static const char *const hazards[] = {"flashing", "noFlashingHazard", "motionSimulation",
                                          "noMotionSimulationHazard", "sound", "noSoundHazard", "unknown",
                                          "none", NULL};
    json_t *md = json_pack("{s:s, s:s}", "@type", "http://schema.org/Book", "title", m->title ? m->title : "Untitled");
    if (is_uri(m->unique_identifier))
        json_object_set_new(md, "identifier", json_string(m->unique_identifier));
    json_t *authors = json_array(), *others = json_array();
    for (size_t i = 0; i < m->n_creators; i++)
        json_array_append_new(!m->creators[i].role || !strcmp(m->creators[i].role, "aut") ? authors : others,
                              json_pack("{s:s}", "name", m->creators[i].name));
    json_decref(others);
    if (json_array_size(authors))
        json_object_set(md, "author", authors);
    json_decref(authors);
    if (m->n_contributors)
        json_object_set_new(md, "contributor", contributors(m->contributors, m->n_contributors));
    if (m->languages.n) {
        json_t *langs = json_array();
        for (size_t i = 0; i < m->languages.n; i++)
            json_array_append_new(langs, json_string(m->languages.v[i]));
        json_object_set_new(md, "language", m->languages.n == 1 ? json_incref(json_array_get(langs, 0)) : json_incref(langs));
        json_decref(langs);
    }
    if (m->publisher)
        json_object_set_new(md, "publisher", json_string(m->publisher));
    if (is_date(m->date))
        json_object_set_new(md, "published", json_string(m->date));
    if (m->description)
        json_object_set_new(md, "description", json_string(m->description));
    if (m->subjects.n) {
        json_t *subj = json_array();
        for (size_t i = 0; i < m->subjects.n; i++)
            json_array_append_new(subj, json_string(m->subjects.v[i]));
        json_object_set_new(md, "subject", subj);
    }
    if (m->page_progression_direction && !strcmp(m->page_progression_direction, "rtl"))
        json_object_set_new(md, "readingProgression", json_string("rtl"));
    else
        json_object_set_new(md, "readingProgression", json_string("ltr"));
    json_t *a11y = json_object();
    json_t *v;
    if (json_array_size(v = vocabulary(m->access_modes, modes)))
        json_object_set(a11y, "accessMode", v);
    json_decref(v);
    if (json_array_size(v = vocabulary(m->accessibility_features, features)))
        json_object_set(a11y, "feature", v);
    json_decref(v);
    if (json_array_size(v = vocabulary(m->accessibility_hazards, hazards)))
        json_object_set(a11y, "hazard", v);
    json_decref(v);
    if (m->accessibility_summary)
        json_object_set_new(a11y, "summary", json_string(m->accessibility_summary));
    if (json_object_size(a11y))
        json_object_set(md, "accessibility", a11y);
    json_decref(a11y);
    /* The EPUB profile tells a reading system to read this as an EPUB (Readium's
     * navigator lays out fixed-layout books only then); layout is the profile's field,
     * presentation.layout the older extension's, kept for the clients that read it. */
    json_object_set_new(md, "conformsTo", json_string("https://readium.org/webpub-manifest/profiles/epub"));
    bool fixed = m->layout && !strcmp(m->layout, "pre-paginated");
    json_object_set_new(md, "layout", json_string(fixed ? "fixed" : "reflowable"));
    if (fixed)
        json_object_set_new(md, "presentation", json_pack("{s:s}", "layout", "fixed"));

    json_t *links = json_array();
    json_array_append_new(links, json_pack("{s:s, s:s, s:s}", "rel", "self", "href", self_href, "type",
                                           "application/webpub+json"));
    if (m->cover) {
        json_t *c = link(base, m->cover);
        json_object_set_new(c, "rel", json_string("cover"));
        json_array_append_new(links, c);
    }

    json_t *order = json_array(), *resources = json_array();
    for (size_t i = 0; i < m->n_spine; i++)
        json_array_append_new(order, link(base, m->spine[i].item));
    for (size_t k = 0; k < m->n_manifest; k++) {
        bool in_order = false;
        for (size_t i = 0; i < m->n_spine && !in_order; i++)
            in_order = m->spine[i].item == &m->manifest[k];
        if (in_order)
            continue;
        json_t *l = link(base, &m->manifest[k]);
        if (m->manifest[k].properties && strstr(m->manifest[k].properties, "nav"))
            json_object_set_new(l, "rel", json_string("contents"));
        if (&m->manifest[k] == m->cover)
            json_object_set_new(l, "rel", json_string("cover"));
        json_array_append_new(resources, l);
    }
    json_t *out = json_pack("{s:s, s:o, s:o, s:o, s:o}", "@context", "https://readium.org/webpub-manifest/context.jsonld",
                            "metadata", md, "links", links, "readingOrder", order, "resources", resources);
    if (out && m->n_toc)
        json_object_set_new(out, "toc", toc(base, m, m->toc, m->n_toc));
    return out;
}

json_t *lend_webpub_positions(const struct epub_meta *m, const char *base, const uint64_t *sizes)
{
    bool fixed = m->layout && !strcmp(m->layout, "pre-paginated");
    uint64_t total = 0;
    for (size_t i = 0; i < m->n_spine; i++) {
        uint64_t n = fixed ? 1 : (sizes[i] + LEND_POSITION_BYTES - 1) / LEND_POSITION_BYTES;
        total += n ? n : 1;
    }
    json_t *list = json_array();
    uint64_t pos = 0;
    for (size_t i = 0; i < m->n_spine && list; i++) {
        uint64_t n = fixed ? 1 : (sizes[i] + LEND_POSITION_BYTES - 1) / LEND_POSITION_BYTES;
        if (!n)
            n = 1;
        for (uint64_t k = 0; k < n; k++) {
            json_t *l = link(base, m->spine[i].item);
            json_object_set_new(l, "locations",
                                json_pack("{s:f, s:I, s:f}", "progression", (double)k / (double)n, "position",
                                          (json_int_t)(pos + 1), "totalProgression", (double)pos / (double)total));
            json_array_append_new(list, l);
            pos++;
        }
    }
    return list ? json_pack("{s:I, s:o}", "total", (json_int_t)total, "positions", list) : NULL;
}
