#!/bin/sh
# Composes the demo's music and films with the ffmpeg command line, from the scores in
# scripts/demo/music (see melody.awk) and lavfi's cellular automata:
#   make-media.sh audio|video OUT_DIR
# audio: valse.mp3, harbour.mp3 (MP3, ID3v2.3 tags, cover picture), comptine.flac (FLAC,
#        Vorbis comments, cover picture).
# video: cellules.mp4, triangles.mp4 (H.264 + AAC in MP4, 25 fps, a keyframe every 2 s,
#        faststart, title card, tags, poster picture).
# The two halves are independent so that the caller may run them side by side.
set -eu
# Bytes and C numbers whatever the caller's locale (awk writes the notes' frequencies).
LC_ALL=C
export LC_ALL
[ $# -eq 2 ] || { echo "usage: make-media.sh audio|video OUT_DIR" >&2; exit 2; }
what=$1
out=$2
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out"
out=$(cd "$out" && pwd)
cd "$out"

ff() { ffmpeg -nostdin -hide_banner -loglevel error -y "$@"; }
exact="-fflags +bitexact -flags:v +bitexact -flags:a +bitexact"

# score NAME: the filtergraph script of scripts/demo/music/NAME.score, output pad [out].
score() { awk -f "$here/melody.awk" "$here/music/$1.score" >"$1.graph"; }

# track NAME EXT COLOUR0 COLOUR1 TITLE ARTIST ALBUM DATE GENRE TRACK COMMENT
track() {
    name=$1 ext=$2
    score "$name"
    "$here/make-cover.sh" "$out/$name-cover.jpg" 600x600 "$3" "$4" "$5" "$6" "$7"
    case $ext in
        mp3) codec="-c:a libmp3lame -q:a 5 -id3v2_version 3 -write_id3v1 0" ;;
        flac) codec="-c:a flac -compression_level 8 -ac 1" ;;
    esac
    # shellcheck disable=SC2086 # codec and exact are lists of options
    ff -filter_complex_script "$name.graph" -i "$name-cover.jpg" -map '[out]' -map 0:v \
        $codec -c:v copy -disposition:v:0 attached_pic \
        -metadata:s:v title="Cover" -metadata:s:v comment="Cover (front)" \
        -metadata title="$5" -metadata artist="$6" -metadata album="$7" -metadata date="$8" \
        -metadata genre="$9" -metadata track="${10}" -metadata comment="${11}" \
        -metadata language=zxx $exact "$name.$ext"
    rm -f "$name.graph" "$name-cover.jpg"
}

# has_drawtext: whether this ffmpeg can write text (libfreetype and a font).
has_drawtext() {
    ff -f lavfi -i color=c=black:s=32x32 -frames:v 1 -vf "drawtext=font=DejaVu Sans:text=A" -f null - \
        >/dev/null 2>&1
}

# film NAME SOURCE_FILTERS COLOUR0 COLOUR1 TITLE ARTIST DATE GENRE LANG COMMENT
# SOURCE_FILTERS is a lavfi graph giving 640x360 at 25 fps; the title is drawn over its
# first three seconds, fading out.
film() {
    name=$1 src=$2
    score "$name"
    "$here/make-cover.sh" "$out/$name-poster.jpg" 600x900 "$3" "$4" "$5" "$6"
    vf=$src
    if has_drawtext; then
        printf '%s' "$5" >"$name.title"
        vf="$vf,drawbox=x=0:y=140:w=640:h=80:color=0x000000@0.45:t=fill:enable='lt(t,3.5)'"
        vf="$vf,drawtext=font=DejaVu Serif:textfile=$name.title:expansion=none:fontsize=40"
        vf="$vf:fontcolor=0xf8f4e3:x=(w-text_w)/2:y=158:alpha='if(lt(t,3),1,max(0,1-(t-3)*2))'"
        vf="$vf:enable='lt(t,3.5)'"
    fi
    # The video source and the score's notes make one graph: outputs [vout] and [out].
    # The film lasts as long as its score (the poster is a single frame, so no -shortest).
    secs=$(sed -n 's/.*atrim=end=\([0-9.]*\)\[out\].*/\1/p' "$name.graph")
    { echo "$vf,format=yuv420p[vout];"; cat "$name.graph"; } >"$name.full"
    # shellcheck disable=SC2086 # exact is a list of options
    ff -filter_complex_script "$name.full" -i "$name-poster.jpg" \
        -map '[vout]' -map '[out]' -map 0:v \
        -c:v:0 libx264 -preset veryfast -profile:v:0 main -crf 33 -r 25 -g 50 -keyint_min 50 \
        -sc_threshold 0 -c:v:1 copy -disposition:v:1 attached_pic \
        -c:a aac -b:a 96k -ar 44100 -t "$secs" -movflags +faststart \
        -metadata title="$5" -metadata artist="$6" -metadata date="$7" -metadata genre="$8" \
        -metadata comment="${10}" -metadata:s:a:0 language="$9" -metadata:s:v:0 language="$9" \
        $exact "$name.mp4"
    rm -f "$name.graph" "$name.full" "$name.title" "$name-poster.jpg"
}

case $what in
    audio)
        track valse mp3 0x6d597a 0xe56b6f "Petite valse du matin" "Ensemble Tilleul" "Carnets sonores" \
            2023 Valse 1/3 \
            "Une petite valse pour piano et basse, en do majeur, composée note à note pour la démonstration de Pretnum."
        track harbour mp3 0x1b3a4b 0x65a6c4 "Rain on the Harbour" "The Harbour Lights Trio" "Carnets sonores" \
            2023 Ambient 2/3 \
            "Bells in A minor pentatonic over two slow drones: thirty seconds of rain on a quiet harbour."
        track comptine flac 0xf4a261 0xe76f51 "Comptine pour Lou" "Boîte à musique Pétrel" "Carnets sonores" \
            2023 Berceuse 3/3 \
            "Une berceuse en fa majeur pour boîte à musique et basse douce, pour s'endormir en moins d'une minute."
        ;;
    video)
        film cellules "life=s=320x180:r=25:mold=10:ratio=0.12:random_seed=42:life_color=0xa8dadc:death_color=0x1d3557,scale=640:360:flags=neighbor" \
            0x1d3557 0xa8dadc "La Vie des cellules" "Collectif Pixel Lent" 2024 "Court métrage" fre \
            "Le jeu de la vie de John Conway : sur une grille, des cellules naissent, vivent et meurent selon trois règles simples, au son d'une boîte à musique."
        film triangles "cellauto=s=320x180:r=25:rule=90:random_fill_ratio=0.05:random_seed=3:scroll=1,scale=640:360:flags=neighbor,format=rgb24,colorchannelmixer=rr=0.95:gg=0.75:bb=0.35" \
            0x3d2c08 0xd4a017 "Golden Triangles" "Ada Lindqvist" 2024 Animation eng \
            "Rule 90, the simplest cellular automaton that draws Sierpinski triangles, scrolling upwards in gold over a pentatonic piano line."
        ;;
    *)
        echo "make-media.sh: audio or video, not \"$what\"" >&2
        exit 2
        ;;
esac
