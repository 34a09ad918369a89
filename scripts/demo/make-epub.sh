#!/bin/sh
# Builds one EPUB 3 from a demo book's sources (scripts/demo/books/NAME: book.conf and
# chapters NN.txt): package document with Dublin Core and schema.org accessibility
# metadata, nav document, cover image and cover page, title page, CSS and one XHTML
# page per chapter; then the OCF zip, mimetype first and stored.
#   make-epub.sh BOOK_DIR WORK_DIR OUT.epub
# WORK_DIR is scratch space (created, left for the caller to remove). The zip is the
# same bytes for the same sources on the same machine: fixed dates, sorted entries.
set -eu
# Bytes and C numbers whatever the caller's locale: the same output everywhere.
LC_ALL=C
export LC_ALL
[ $# -eq 3 ] || { echo "usage: make-epub.sh BOOK_DIR WORK_DIR OUT.epub" >&2; exit 2; }
src=$(cd "$1" && pwd)
work=$2
out=$3
here=$(cd "$(dirname "$0")" && pwd)
case $out in /*) ;; *) out=$(pwd)/$out ;; esac

TITLE='' AUTHOR='' FILE_AS='' BOOK_LANG='' IDENTIFIER='' PUBLISHER='' DATE='' DESCRIPTION='' SUBJECTS=''
COVER='' SUMMARY='' VERSE=0
# shellcheck disable=SC1091 # the book's settings
. "$src/book.conf"
for v in TITLE AUTHOR FILE_AS BOOK_LANG IDENTIFIER PUBLISHER DATE DESCRIPTION SUBJECTS COVER SUMMARY; do
    eval "val=\${$v}"
    [ -n "$val" ] || { echo "make-epub: $src/book.conf lacks $v" >&2; exit 1; }
done

# XML text and attribute values.
x() { printf '%s' "$1" | sed -e 's/&/\&amp;/g' -e 's/</\&lt;/g' -e 's/>/\&gt;/g' -e 's/"/\&quot;/g'; }

rm -rf "$work"
mkdir -p "$work/META-INF" "$work/OEBPS/text" "$work/OEBPS/css" "$work/OEBPS/images"
printf 'application/epub+zip' >"$work/mimetype"

cat >"$work/META-INF/container.xml" <<'EOF'
<?xml version="1.0" encoding="UTF-8"?>
<container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">
  <rootfiles>
    <rootfile full-path="OEBPS/package.opf" media-type="application/oebps-package+xml"/>
  </rootfiles>
</container>
EOF

cp "$here/book.css" "$work/OEBPS/css/book.css"

# shellcheck disable=SC2086 # COVER is two colours
set -- $COVER
"$here/make-cover.sh" "$work/OEBPS/images/cover.png" 600x900 "$1" "$2" "$TITLE" "$AUTHOR" "$PUBLISHER"

case $BOOK_LANG in
    fr*)
        cover_alt="Couverture : $TITLE, de $AUTHOR"
        cover_title=Couverture
        toc_title="Table des matières"
        landmarks_title="Repères"
        start_label="Début du texte"
        rights="Texte original écrit pour la démonstration de Pretnum ; libre de droits (CC0)."
        ;;
    *)
        cover_alt="Cover: $TITLE, by $AUTHOR"
        cover_title=Cover
        toc_title=Contents
        landmarks_title=Landmarks
        start_label="Start of the text"
        rights="An original text written for the Pretnum demonstration; in the public domain (CC0)."
        ;;
esac
year=${DATE%%-*}

cat >"$work/OEBPS/text/cover.xhtml" <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE html>
<html xmlns="http://www.w3.org/1999/xhtml" xmlns:epub="http://www.idpf.org/2007/ops" xml:lang="$BOOK_LANG" lang="$BOOK_LANG">
<head>
<meta charset="utf-8"/>
<title>$(x "$cover_title")</title>
<link rel="stylesheet" type="text/css" href="../css/book.css"/>
</head>
<body class="cover">
<section epub:type="cover">
<img role="doc-cover" src="../images/cover.png" alt="$(x "$cover_alt")"/>
</section>
</body>
</html>
EOF

cat >"$work/OEBPS/text/titlepage.xhtml" <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE html>
<html xmlns="http://www.w3.org/1999/xhtml" xmlns:epub="http://www.idpf.org/2007/ops" xml:lang="$BOOK_LANG" lang="$BOOK_LANG">
<head>
<meta charset="utf-8"/>
<title>$(x "$TITLE")</title>
<link rel="stylesheet" type="text/css" href="../css/book.css"/>
</head>
<body class="titlepage">
<section epub:type="titlepage">
<h1>$(x "$TITLE")</h1>
<p class="author">$(x "$AUTHOR")</p>
<p class="publisher">$(x "$PUBLISHER"), $year</p>
<p class="rights">$(x "$rights")</p>
</section>
</body>
</html>
EOF

# Chapters and their table-of-contents entries.
manifest=
spine=
toc=
n=0
for f in "$src"/[0-9]*.txt; do
    [ -f "$f" ] || continue
    n=$((n + 1))
    id=chap$(printf '%02d' "$n")
    awk -v mode=page -v id="$id" -v lang="$BOOK_LANG" -v verse="$VERSE" -f "$here/txt2xhtml.awk" "$f" \
        >"$work/OEBPS/text/$id.xhtml"
    toc="$toc$(awk -v mode=nav -v id="$id" -v lang="$BOOK_LANG" -v verse="$VERSE" -f "$here/txt2xhtml.awk" "$f")
"
    manifest="$manifest    <item id=\"$id\" href=\"text/$id.xhtml\" media-type=\"application/xhtml+xml\"/>
"
    spine="$spine    <itemref idref=\"$id\"/>
"
done
[ "$n" -gt 0 ] || { echo "make-epub: no chapter in $src" >&2; exit 1; }

cat >"$work/OEBPS/text/nav.xhtml" <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE html>
<html xmlns="http://www.w3.org/1999/xhtml" xmlns:epub="http://www.idpf.org/2007/ops" xml:lang="$BOOK_LANG" lang="$BOOK_LANG">
<head>
<meta charset="utf-8"/>
<title>$(x "$toc_title")</title>
<link rel="stylesheet" type="text/css" href="../css/book.css"/>
</head>
<body>
<nav epub:type="toc" id="toc" role="doc-toc" aria-labelledby="toc-title">
<h1 id="toc-title">$(x "$toc_title")</h1>
<ol>
$toc</ol>
</nav>
<nav epub:type="landmarks" id="landmarks" hidden="hidden">
<h2>$(x "$landmarks_title")</h2>
<ol>
<li><a epub:type="cover" href="cover.xhtml">$(x "$cover_title")</a></li>
<li><a epub:type="bodymatter" href="chap01.xhtml">$(x "$start_label")</a></li>
</ol>
</nav>
</body>
</html>
EOF

subjects=$(printf '%s\n' "$SUBJECTS" | tr '|' '\n' | while IFS= read -r s; do
    [ -n "$s" ] && printf '    <dc:subject>%s</dc:subject>\n' "$(x "$s")"
done)

cat >"$work/OEBPS/package.opf" <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<package xmlns="http://www.idpf.org/2007/opf" version="3.0" unique-identifier="pub-id" xml:lang="$BOOK_LANG">
  <metadata xmlns:dc="http://purl.org/dc/elements/1.1/">
    <dc:identifier id="pub-id">$(x "$IDENTIFIER")</dc:identifier>
    <dc:title id="title">$(x "$TITLE")</dc:title>
    <meta refines="#title" property="title-type">main</meta>
    <dc:creator id="aut">$(x "$AUTHOR")</dc:creator>
    <meta refines="#aut" property="role" scheme="marc:relators">aut</meta>
    <meta refines="#aut" property="file-as">$(x "$FILE_AS")</meta>
    <dc:language>$BOOK_LANG</dc:language>
    <dc:publisher>$(x "$PUBLISHER")</dc:publisher>
    <dc:date>$DATE</dc:date>
    <dc:description>$(x "$DESCRIPTION")</dc:description>
$subjects
    <dc:rights>$(x "$rights")</dc:rights>
    <meta property="dcterms:modified">${DATE}T12:00:00Z</meta>
    <meta property="schema:accessMode">textual</meta>
    <meta property="schema:accessMode">visual</meta>
    <meta property="schema:accessModeSufficient">textual</meta>
    <meta property="schema:accessibilityFeature">tableOfContents</meta>
    <meta property="schema:accessibilityFeature">readingOrder</meta>
    <meta property="schema:accessibilityFeature">structuralNavigation</meta>
    <meta property="schema:accessibilityFeature">alternativeText</meta>
    <meta property="schema:accessibilityHazard">none</meta>
    <meta property="schema:accessibilitySummary">$(x "$SUMMARY")</meta>
    <meta name="cover" content="cover-image"/>
  </metadata>
  <manifest>
    <item id="nav" href="text/nav.xhtml" media-type="application/xhtml+xml" properties="nav"/>
    <item id="css" href="css/book.css" media-type="text/css"/>
    <item id="cover-image" href="images/cover.png" media-type="image/png" properties="cover-image"/>
    <item id="cover" href="text/cover.xhtml" media-type="application/xhtml+xml"/>
    <item id="titlepage" href="text/titlepage.xhtml" media-type="application/xhtml+xml"/>
$manifest  </manifest>
  <spine>
    <itemref idref="cover" linear="no"/>
    <itemref idref="titlepage"/>
$spine  </spine>
</package>
EOF

# The OCF container: mimetype first, stored, without extra fields; then the rest,
# sorted, with fixed dates, and no directory entries.
find "$work" -exec touch -h -t 202401010000 {} +
rm -f "$out"
(cd "$work" && TZ=UTC zip -q -X -0 "$out" mimetype &&
    find META-INF OEBPS -type f | LC_ALL=C sort | TZ=UTC zip -q -X -9 -D "$out" -@)
