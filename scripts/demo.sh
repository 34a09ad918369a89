#!/bin/sh
# The demo that `make run` loads into a new database, once: a consortium with two
# libraries, patrons and staff to sign in with, and a small catalogue made on the spot
# (five EPUB 3 books written for it, three music tracks and two short films composed
# with ffmpeg) imported with `pretnum import`.
#
# Environment: PRETNUM_DATABASE_URL (libpq conninfo or URI; default the embedded
# cluster), PRETNUM_DATA_DIR (ingested files; default var/data), PRETNUM_BIN (the
# pretnum to use; default bin/pretnum), PRETNUM_DEMO=0 to skip the demo altogether.
#
# The database says whether the demo is there: it is loaded when the demo consortium
# and its administrator exist (the administrator is made last). A run that stopped
# half-way is completed by the next one: every account is looked up before it is made,
# and the generated files are the same bytes every time, which import recognises.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DEMO=$ROOT/scripts/demo
BIN=${PRETNUM_BIN:-$ROOT/bin/pretnum}
case $BIN in /*) ;; *) BIN=$(pwd)/$BIN ;; esac
export PRETNUM_DATABASE_URL="${PRETNUM_DATABASE_URL:-host=$ROOT/var/pg/sock user=pretnum dbname=pretnum}"
PRETNUM_DATA_DIR=${PRETNUM_DATA_DIR:-$ROOT/var/data}
case $PRETNUM_DATA_DIR in /*) ;; *) PRETNUM_DATA_DIR=$(pwd)/$PRETNUM_DATA_DIR ;; esac
export PRETNUM_DATA_DIR

CONSORTIUM="Réseau des médiathèques de démonstration"
ADMIN_EMAIL=admin@demo.example
ADMIN_PASSWORD=demo-admin
LIBRARIAN_EMAIL=bibliotheque@demo.example
LIBRARIAN_PASSWORD=demo-biblio
PATRON_PASSWORD=demo

if [ "${PRETNUM_DEMO:-1}" = 0 ]; then
    echo "demo: skipped (PRETNUM_DEMO=0)" >&2
    exit 0
fi

# SQL from stdin, psql variables from the arguments (-v name=value): one value per line.
sql() { psql -X -q -tA -v ON_ERROR_STOP=1 -d "$PRETNUM_DATABASE_URL" "$@"; }

loaded=$(sql -v c="$CONSORTIUM" -v e="$ADMIN_EMAIL" <<'EOF'
SELECT 1 FROM consortium c JOIN staff s ON s.consortium_id = c.id
 WHERE c.name = :'c' AND lower(s.email) = lower(:'e');
EOF
) || { echo "demo: could not read the database (is it migrated?)" >&2; exit 1; }
if [ -n "$loaded" ]; then
    echo "demo: already loaded" >&2
    exit 0
fi

for tool in ffmpeg zip awk; do
    command -v "$tool" >/dev/null 2>&1 ||
        { echo "demo: $tool is missing (scripts/install-deps.sh installs it)" >&2; exit 1; }
done
[ -x "$BIN" ] || { echo "demo: $BIN is missing (run make)" >&2; exit 1; }
mkdir -p "$PRETNUM_DATA_DIR"

started=$(date +%s)
W=$(mktemp -d "${TMPDIR:-/tmp}/pretnum-demo.XXXXXX")
vpid=
cleanup() {
    [ -n "$vpid" ] && kill "$vpid" 2>/dev/null
    rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "demo: making the demo catalogue (books, music, films)" >&2
# The films are the longest to make: they go in the background, the rest meanwhile.
"$DEMO/make-media.sh" video "$W/media" 2>"$W/video.err" &
vpid=$!
"$DEMO/make-media.sh" audio "$W/media"
for book in "$DEMO"/books/*/; do
    name=$(basename "$book")
    "$DEMO/make-epub.sh" "$book" "$W/epub/$name" "$W/$name.epub"
done
if ! wait "$vpid"; then
    vpid=
    cat "$W/video.err" >&2
    echo "demo: making the films failed" >&2
    exit 1
fi
vpid=

# import FILE [OPTIONS]: adds the file to the catalogue (or finds it there) and notes
# its id and kind in $W/titles.
import() {
    file=$1
    shift
    id=$("$BIN" import "$@" "$file")
    kind=$(sql -v id="$id" <<'EOF'
SELECT kind FROM title WHERE id = :'id';
EOF
    )
    echo "$id $kind $(basename "$file")" >>"$W/titles"
}
: >"$W/titles"
for book in "$DEMO"/books/*/; do
    import "$W/$(basename "$book").epub"
done
import "$W/media/valse.mp3"
import "$W/media/harbour.mp3"
import "$W/media/comptine.flac"
import "$W/media/cellules.mp4" --language fr
import "$W/media/triangles.mp4" --language en

# The accounts, each looked up first.
consortium=$(sql -v c="$CONSORTIUM" <<'EOF'
SELECT id FROM consortium WHERE name = :'c';
EOF
)
[ -n "$consortium" ] || consortium=$("$BIN" consortium add "$CONSORTIUM")

library() { # CODE NAME
    have=$(sql -v code="$1" <<'EOF'
SELECT 1 FROM library WHERE lower(code) = lower(:'code');
EOF
    )
    [ -n "$have" ] || "$BIN" library add --consortium "$consortium" --code "$1" "$2" >/dev/null
}
library DEMO "Médiathèque Colette de Saint-Aubin-des-Prés"
library DEMO2 "Bibliothèque municipale de Montrevel-sur-Loire"

patron() { # CODE CARD NAME EMAIL
    have=$(sql -v code="$1" -v card="$2" <<'EOF'
SELECT 1 FROM patron p JOIN library l ON l.id = p.library_id
 WHERE lower(l.code) = lower(:'code') AND p.card = :'card';
EOF
    )
    [ -n "$have" ] || printf '%s\n' "$PATRON_PASSWORD" |
        "$BIN" patron add --library "$1" --card "$2" --name "$3" --email "$4" >/dev/null
}
patron DEMO 0001 "Camille Lefèvre" camille.lefevre@demo.example
patron DEMO2 0002 "Hugo Bernard" hugo.bernard@demo.example

staff() { # EMAIL PASSWORD ROLE [CODE]
    have=$(sql -v e="$1" <<'EOF'
SELECT 1 FROM staff WHERE lower(email) = lower(:'e');
EOF
    )
    [ -z "$have" ] || return 0
    if [ -n "${4:-}" ]; then
        printf '%s\n' "$2" | "$BIN" staff add --consortium "$consortium" --library "$4" --email "$1" --role "$3" >/dev/null
    else
        printf '%s\n' "$2" | "$BIN" staff add --consortium "$consortium" --email "$1" --role "$3" >/dev/null
    fi
}
staff "$LIBRARIAN_EMAIL" "$LIBRARIAN_PASSWORD" library_admin DEMO2

# Licences, so that the titles can be borrowed: where this pretnum has `licence add`.
# Two copies of each book (one of "La Bibliothèque de nuit", to see holds at work),
# five simultaneous streams of each track and film. Not having them is not fatal.
licences=0
if "$BIN" --help 2>&1 | grep -q 'licence add'; then
    while read -r id kind file; do
        n=2
        [ "$kind" = ebook ] || n=5
        [ "$file" = bibliotheque-de-nuit.epub ] && n=1
        have=$(sql -v id="$id" -v c="$consortium" <<'EOF'
SELECT 1 FROM licence WHERE title_id = :'id' AND consortium_id = :'c';
EOF
        )
        if [ -n "$have" ]; then
            licences=$((licences + 1))
        elif "$BIN" licence add --title "$id" --consortium "$consortium" --concurrency "$n" </dev/null >/dev/null; then
            licences=$((licences + 1))
        else
            echo "demo: no licence for $file (the titles are there, but cannot be borrowed yet)" >&2
        fi
    done <"$W/titles"
fi

# Last, the consortium's administrator: from now on the demo counts as loaded.
staff "$ADMIN_EMAIL" "$ADMIN_PASSWORD" consortium_admin

count() { awk -v k="$1" '$2 == k { n++ } END { print n + 0 }' "$W/titles"; }
total=$(wc -l <"$W/titles" | tr -d ' ')
{
    echo "demo: loaded in $(($(date +%s) - started)) s: $total titles ($(count ebook) e-books, $(count audio) music tracks, $(count video) films), $licences licences"
    echo "demo: consortium \"$CONSORTIUM\", libraries DEMO and DEMO2"
    echo "demo: patron sign-in: library DEMO, card 0001, password $PATRON_PASSWORD (also DEMO2 / 0002 / $PATRON_PASSWORD)"
    echo "demo: staff sign-in: $ADMIN_EMAIL / $ADMIN_PASSWORD (consortium), $LIBRARIAN_EMAIL / $LIBRARIAN_PASSWORD (DEMO2)"
} >&2
