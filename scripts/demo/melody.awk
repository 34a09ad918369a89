# Turns a little score (scripts/demo/music/*.score) into an ffmpeg filtergraph script
# whose output pad is [out]: every note is an aevalsrc cut to the exact sample, the
# notes of a voice are concatenated, the voices mixed, given a touch of echo, made
# stereo and faded out. POSIX awk (mawk is enough).
#
# Score:   # comment
#          bpm 132
#          voice piano|bell|bass|pad GAIN
#          E5 2 G5 1 | C6 2 G5 1 ...      (note and beats; R is a rest; "|" is ignored)
BEGIN {
    sr = 44100
    beat = 0.5
    nv = 0
    split("9 11 0 2 4 5 7", semi, " ") # A B C D E F G
    # Timbres: F is the frequency, D the note's length, t the time within the note.
    tim["piano"] = "(sin(2*PI*F*t)+0.4*sin(4*PI*F*t)*exp(-2*t)+0.15*sin(6*PI*F*t)*exp(-4*t))*exp(-2.2*t)*min(1,t*150)*min(1,(D-t)*30)"
    tim["bell"] = "(sin(2*PI*F*t)+0.45*sin(4*PI*F*t)*exp(-3*t)+0.2*sin(2*PI*F*3.01*t)*exp(-6*t))*exp(-2.6*t)*min(1,t*500)*min(1,(D-t)*30)"
    tim["bass"] = "(sin(2*PI*F*t)+0.3*sin(4*PI*F*t))*exp(-1.4*t)*min(1,t*200)*min(1,(D-t)*20)"
    tim["pad"] = "(sin(2*PI*F*t)+0.5*sin(2*PI*F*1.004*t)+0.25*sin(4*PI*F*t))*min(1,t*2.5)*min(1,(D-t)*2.5)"
}

function freq(name,    l, o, acc, s, m) {
    l = substr(name, 1, 1)
    acc = 0
    if (substr(name, 2, 1) == "#") { acc = 1; o = substr(name, 3) }
    else if (substr(name, 2, 1) == "b") { acc = -1; o = substr(name, 3) }
    else o = substr(name, 2)
    s = index("ABCDEFG", l)
    if (s == 0 || o !~ /^[0-9]$/) { bad = "unknown note " name; exit 1 }
    m = 12 * (o + 1) + semi[s] + acc
    return 440 * exp(log(2) * (m - 69) / 12)
}

function note(name, beats,    d, n, e, f) {
    if (nv == 0) { bad = "a note before any voice"; exit 1 }
    d = beats * beat
    n = int(d * sr + 0.5)
    len[nv] += n
    k = ++count[nv]
    if (name == "R") {
        e = "0"
    } else {
        f = sprintf("%.3f", freq(name))
        e = tim[timbre[nv]]
        gsub(/F/, f, e)
        gsub(/D/, sprintf("%.4f", d), e)
        e = gain[nv] "*" e
    }
    printf "aevalsrc=exprs='%s':s=%d:d=%.4f,atrim=end_sample=%d[v%d_%d];\n", e, sr, d + 0.1, n, nv, k
}

/^[ \t]*#/ || NF == 0 { next }
$1 == "bpm" { beat = 60 / $2; next }
$1 == "voice" {
    if (!($2 in tim)) { bad = "unknown timbre " $2; exit 1 }
    nv++
    timbre[nv] = $2
    gain[nv] = $3 + 0
    next
}
{
    pending = ""
    for (i = 1; i <= NF; i++) {
        if ($i == "|") continue
        if (pending == "") pending = $i
        else { note(pending, $i + 0); pending = "" }
    }
    if (pending != "") { bad = "a note without its length: " pending; exit 1 }
}

END {
    if (bad != "") { print "melody.awk: " bad > "/dev/stderr"; exit 1 }
    if (nv == 0) { print "melody.awk: no voice" > "/dev/stderr"; exit 1 }
    total = 0
    for (v = 1; v <= nv; v++) {
        for (k = 1; k <= count[v]; k++) printf "[v%d_%d]", v, k
        printf "concat=n=%d:v=0:a=1[voice%d];\n", count[v], v
        if (len[v] > total) total = len[v]
    }
    secs = total / sr
    for (v = 1; v <= nv; v++) printf "[voice%d]", v
    if (nv > 1) printf "amix=inputs=%d:duration=longest:normalize=0,", nv
    printf "volume=1.4,aecho=0.8:0.75:70|130:0.22|0.12,pan=stereo|c0=c0|c1=c0,"
    printf "afade=t=in:d=0.05,afade=t=out:st=%.3f:d=2,atrim=end=%.3f[out]\n", secs - 1.5, secs + 0.5
}
