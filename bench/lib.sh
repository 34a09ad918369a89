# Sourced by the benchmarks.

# wait_for_url LOG PID: prints the URL that `pretnum serve` (PID, stderr in LOG) says it
# serves on, once it says so (30 s at most). Returns 1, with the log on stderr, when the
# server exits first or never says.
wait_for_url() {
    _i=0
    while [ $_i -lt 300 ]; do
        _url=$(sed -n 's/.*serving on \(http:\/\/[0-9.]*:[0-9]*\).*/\1/p' "$1" | head -1)
        if [ -n "$_url" ]; then
            printf '%s\n' "$_url"
            return 0
        fi
        kill -0 "$2" 2>/dev/null || { cat "$1" >&2; echo "pretnum serve exited" >&2; return 1; }
        sleep 0.1
        _i=$((_i + 1))
    done
    echo "pretnum serve did not say where it serves" >&2
    return 1
}
