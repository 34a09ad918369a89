#!/bin/sh
# Writes a C file holding every migration given as arguments, in order, as
# { name, bytes, length } entries; see include/pretnum/db.h (db_migrations).
set -eu
echo '#include "pretnum/db.h"'
i=0
for f in "$@"; do
    printf 'static const unsigned char m%d[] = {\n' "$i"
    od -An -v -tx1 "$f" | sed 's/ *\([0-9a-f][0-9a-f]\)/0x\1,/g'
    printf '0x00};\n'
    i=$((i + 1))
done
echo 'const struct db_migration db_migrations[] = {'
i=0
for f in "$@"; do
    printf '    {"%s", (const char *)m%d, %d},\n' "$(basename "$f")" "$i" "$(wc -c < "$f")"
    i=$((i + 1))
done
echo '    {0, 0, 0}};'
