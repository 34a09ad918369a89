#!/bin/sh
# Draws a demo cover: a two-colour gradient, a frame, the title on a band and the
# author below, with ffmpeg's drawtext when it has a font (else colours and frame only).
#   make-cover.sh OUT.png|OUT.jpg WIDTHxHEIGHT COLOUR0 COLOUR1 TITLE AUTHOR [KICKER]
# Colours are ffmpeg colours (0x1d3557). The text goes through files next to OUT, so
# nothing in a title needs escaping. Output is bit-exact for the same arguments.
set -eu
# Bytes and C numbers whatever the caller's locale: the same output everywhere.
LC_ALL=C
export LC_ALL
[ $# -ge 6 ] || { echo "usage: make-cover.sh OUT SIZE C0 C1 TITLE AUTHOR [KICKER]" >&2; exit 2; }
out=$1 size=$2 c0=$3 c1=$4 title=$5 author=$6 kicker=${7:-}
w=${size%x*}
h=${size#*x}
dir=$(dirname "$out")
base=$(basename "$out")
stem=${base%.*}
cd "$dir"

# Whether drawtext works here (it needs libfreetype and a font fontconfig can find).
has_drawtext() {
    ffmpeg -nostdin -hide_banner -loglevel quiet -f lavfi -i color=c=black:s=32x32 -frames:v 1 \
        -vf "drawtext=font=DejaVu Sans:text=A" -f null - >/dev/null 2>&1
}

# Title lines: wrapped at spaces to about 15 characters per line (600 px at 52 px),
# scaled with the width; bytes stand in for characters, which is close enough.
per_line=$((w * 15 / 600))
printf '%s\n' "$title" | awk -v n="$per_line" '{
    line = ""
    for (i = 1; i <= NF; i++) {
        if (line != "" && length(line) + 1 + length($i) > n) { print line; line = $i }
        else line = (line == "" ? $i : line " " $i)
    }
    if (line != "") print line
}' >"$stem.lines"
nlines=$(wc -l <"$stem.lines")

fs=$((w * 52 / 600))
lh=$((fs * 13 / 10))
band_h=$((nlines * lh + fs))
band_y=$((h * 36 / 100 - band_h / 2))
m=$((w / 15))
vf="drawbox=x=$m:y=$m:w=$((w - 2 * m)):h=$((h - 2 * m)):color=0xf8f4e3@0.85:t=3"
vf="$vf,drawbox=x=0:y=$band_y:w=$w:h=$band_h:color=0x000000@0.28:t=fill"
if has_drawtext; then
    i=0
    while IFS= read -r line; do
        i=$((i + 1))
        printf '%s' "$line" >"$stem.t$i"
        y=$((band_y + fs / 2 + (i - 1) * lh))
        vf="$vf,drawtext=font=DejaVu Serif:textfile=$stem.t$i:expansion=none:fontsize=$fs:fontcolor=0xf8f4e3:x=(w-text_w)/2:y=$y"
    done <"$stem.lines"
    printf '%s' "$author" >"$stem.author"
    vf="$vf,drawtext=font=DejaVu Sans:textfile=$stem.author:expansion=none:fontsize=$((fs * 3 / 5)):fontcolor=0xf8f4e3:x=(w-text_w)/2:y=$((h * 78 / 100))"
    if [ -n "$kicker" ]; then
        printf '%s' "$kicker" >"$stem.kicker"
        vf="$vf,drawtext=font=DejaVu Sans:textfile=$stem.kicker:expansion=none:fontsize=$((fs * 2 / 5)):fontcolor=0xf8f4e3@0.8:x=(w-text_w)/2:y=$((m + fs / 2))"
    fi
fi

case $base in
    *.jpg | *.jpeg) enc="-c:v mjpeg -q:v 3 -pix_fmt yuvj420p" ;;
    *) enc="-c:v png -pix_fmt rgb24" ;;
esac
# shellcheck disable=SC2086 # enc is a list of options
ffmpeg -nostdin -hide_banner -loglevel error -y \
    -f lavfi -i "gradients=s=${w}x${h}:c0=$c0:c1=$c1:x0=0:y0=0:x1=$w:y1=$h:seed=1:speed=0.00001" \
    -frames:v 1 -vf "$vf" $enc -fflags +bitexact -flags:v +bitexact -update 1 "$base"
rm -f "$stem.lines" "$stem".t[0-9]* "$stem.author" "$stem.kicker"
