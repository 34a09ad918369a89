# Turns one chapter of a demo book (scripts/demo/books/*/NN.txt) into EPUB 3 XHTML, or
# into its entry of the nav document's table of contents. POSIX awk (mawk is enough).
#
#   awk -v mode=page|nav -v id=chap01 -v lang=fr -v verse=0|1 -f txt2xhtml.awk NN.txt
#
# Chapter text: the first line is the chapter's title; then blocks separated by blank
# lines. A block is a paragraph (its lines joined), or with verse=1 a stanza (its lines
# kept, with <br/>). A block whose first line starts with "## " opens a poem (a section
# with that line as its h2); the rest of the block, if any, is its first stanza.
BEGIN {
    RS = ""
    nb = 0
    np = 0
    nbsp = "\302\240"
}

function esc(s) {
    gsub(/&/, "\\&amp;", s)
    gsub(/</, "\\&lt;", s)
    gsub(/>/, "\\&gt;", s)
    return s
}

# Typographic apostrophes everywhere; in French, no-break spaces before ; : ! ? and
# inside guillemets, so that a line never starts with a lone punctuation mark.
function typo(s) {
    gsub(/'/, "\342\200\231", s)
    if (lang ~ /^fr/) {
        gsub(/ ;/, nbsp ";", s)
        gsub(/ :/, nbsp ":", s)
        gsub(/ !/, nbsp "!", s)
        gsub(/ \?/, nbsp "?", s)
        gsub(/ \302\273/, nbsp "\302\273", s)
        gsub(/\302\253 /, "\302\253" nbsp, s)
    }
    return s
}

function text(s) { return typo(esc(s)) }

function close_poem() {
    if (in_poem) print "</section>"
    in_poem = 0
}

{
    n = split($0, L, "\n")
    nb++
    if (nb == 1) {
        title = text(L[1])
        if (mode == "page") {
            print "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
            print "<!DOCTYPE html>"
            print "<html xmlns=\"http://www.w3.org/1999/xhtml\" xmlns:epub=\"http://www.idpf.org/2007/ops\" xml:lang=\"" lang "\" lang=\"" lang "\">"
            print "<head>"
            print "<meta charset=\"utf-8\"/>"
            print "<title>" title "</title>"
            print "<link rel=\"stylesheet\" type=\"text/css\" href=\"../css/book.css\"/>"
            print "</head>"
            print "<body>"
            if (verse)
                print "<section id=\"" id "\" epub:type=\"part\" role=\"doc-part\" aria-labelledby=\"" id "-title\">"
            else
                print "<section id=\"" id "\" epub:type=\"chapter\" role=\"doc-chapter\" aria-labelledby=\"" id "-title\">"
            print "<h1 id=\"" id "-title\">" title "</h1>"
        } else {
            printf "<li><a href=\"%s.xhtml\">%s</a>", id, title
        }
        first = 2
    } else {
        first = 1
    }
    if (first > n) next
    if (L[first] ~ /^## /) {
        np++
        sub(/^## /, "", L[first])
        pid = id "-p" np
        if (mode == "page") {
            close_poem()
            print "<section class=\"poem\" id=\"" pid "\" aria-labelledby=\"" pid "-title\">"
            print "<h2 id=\"" pid "-title\">" text(L[first]) "</h2>"
            in_poem = 1
        } else {
            if (np == 1) printf "\n<ol>\n"
            printf "<li><a href=\"%s.xhtml#%s\">%s</a></li>\n", id, pid, text(L[first])
        }
        first++
        if (first > n) next
    }
    if (mode != "page") next
    out = text(L[first])
    for (i = first + 1; i <= n; i++)
        out = out (verse ? "<br/>\n" : " ") text(L[i])
    if (verse) print "<p class=\"stanza\">" out "</p>"
    else print "<p>" out "</p>"
}

END {
    if (mode == "page") {
        close_poem()
        print "</section>"
        print "</body>"
        print "</html>"
    } else {
        if (np > 0) printf "</ol>\n"
        print "</li>"
    }
}
