#!/usr/bin/env bash
# http_bench.sh - the service under wrk, beside nginx serving the very same
# bytes as static files, measured in one run on loopback.
#
# Scenarios (issue 4), each run REPEATS times (default 7), beamgrid and
# nginx taking turns of DURATION seconds (default 3; which goes first
# alternates), medians reported with the range of the turns:
#   a. hit:  GET /v1/sources/{id}?format=npy of S, 32 connections
#   b. hit:  the same for M
#   c. cold: POSTs of never-seen M grids (lambda_A varies per request),
#            8 connections, npy; nginx serves M's npy bytes at 8 connections
#   d. hit:  GET /v1/sources/{id}?format=json of S, 32 connections
# then the JSON encoder through the server's own path (the first GET of a
# computed grid as JSON against a repeat GET of it), and how cost grows:
# POST time and peak RSS from 1e3 to 1e7 sources.
#
# Like with like: the same body bytes (checked with cmp), the same
# connection count, as many server threads on each side (beamgrid
# --threads and --compute-threads, nginx worker_processes), and both
# writing an access log through a 32 KiB buffer flushed every 100 ms
# (beamgrid's own; nginx access_log buffer=32k flush=100ms). The header
# bytes of each are printed; the bytes a response are measured.
# Pinning (PIN=1, the default on 2 or more CPUs): the servers run on the
# first half of the CPUs (taskset), wrk on the rest, each with one thread
# per CPU it has. PIN=0 lets the scheduler place them: servers with one
# thread per CPU, wrk with 2.
# Errors are counted on both sides from wrk's own totals (a Lua done()
# hook: connect, read, write and timeout errors, and statuses >= 400). A
# scenario with any error, or with responses shorter than the body, is
# flagged in the report, and the script then exits 1 after writing it.
#
# Appends markdown to $OUT (default bench/results.md), draws $PLOT (PNG,
# gnuplot) and prints what it appended. Loopback only; every wrk run is
# bounded by DURATION seconds. A quick check of the script itself:
# DURATION=1 REPEATS=1 bench/http_bench.sh (make bench passes both on).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BEAMGRID_BIN:-$ROOT/build/beamgrid}
DURATION=${DURATION:-3}
REPEATS=${REPEATS:-7}
OUT=${OUT:-$ROOT/bench/results.md}
PLOT=${PLOT:-$ROOT/bench/results.png}
WORK=$(mktemp -d)
chmod 755 "$WORK" # nginx workers (user nobody when run as root) read www/
GROWTH_TSV=$WORK/growth.tsv
BG_PID=""
NGINX_PID=""
ANY_ERRORS=0

NCPU=$(nproc)
if [ -z "${PIN:-}" ]; then PIN=$([ "$NCPU" -ge 2 ] && echo 1 || echo 0); fi
if [ "$PIN" = 1 ]; then
    SRV_THREADS=$((NCPU / 2))
    WRK_THREADS=$((NCPU - SRV_THREADS))
    SRV_CPUS="0-$((SRV_THREADS - 1))"
    WRK_CPUS="$SRV_THREADS-$((NCPU - 1))"
    SRV_RUN=(taskset -c "$SRV_CPUS")
    WRK_RUN=(taskset -c "$WRK_CPUS")
    PLACEMENT="servers pinned to CPU $SRV_CPUS, wrk to CPU $WRK_CPUS (taskset)"
else
    SRV_THREADS=$NCPU
    WRK_THREADS=2
    SRV_RUN=()
    WRK_RUN=()
    PLACEMENT="no pinning (PIN=0)"
fi

S_BODY='{"divergence_mrad":0.5,"divsteps":25,"dispersion_percent":0.1,"dispsteps":9}'
M_BODY='{"divergence_mrad":0.5,"divsteps":51,"dispersion_percent":0.1,"dispsteps":21}'

cleanup() {
    if [ -n "$BG_PID" ]; then kill "$BG_PID" 2>/dev/null || true; wait "$BG_PID" 2>/dev/null || true; fi
    if [ -n "$NGINX_PID" ]; then kill "$NGINX_PID" 2>/dev/null || true; wait "$NGINX_PID" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wait_http() {
    local url=$1
    for _ in $(seq 1 200); do
        curl -fsS -o /dev/null "$url" 2>/dev/null && return 0
        sleep 0.05
    done
    echo "not answering: $url" >&2
    return 1
}

start_beamgrid() {
    BG_PORT=$(free_port)
    "${SRV_RUN[@]}" "$BIN" --bind 127.0.0.1 --port "$BG_PORT" --log-file "$WORK/access.log" \
        --threads "$SRV_THREADS" --compute-threads "$SRV_THREADS" "$@" \
        >"$WORK/beamgrid.out" 2>&1 &
    BG_PID=$!
    wait_http "http://127.0.0.1:$BG_PORT/readyz"
}

stop_beamgrid() {
    kill "$BG_PID" 2>/dev/null || true
    wait "$BG_PID" 2>/dev/null || true
    BG_PID=""
}

start_nginx() {
    NG_PORT=$(free_port)
    mkdir -p "$WORK/nginx/logs" "$WORK/nginx/tmp" "$WORK/www"
    cat >"$WORK/nginx/nginx.conf" <<EOF
worker_processes $SRV_THREADS;
error_log $WORK/nginx/logs/error.log warn;
pid $WORK/nginx/nginx.pid;
events { worker_connections 1024; }
http {
    access_log $WORK/nginx/logs/access.log combined buffer=32k flush=100ms;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_requests 1000000;
    open_file_cache max=100;
    types { application/x-npy npy; application/json json; }
    client_body_temp_path $WORK/nginx/tmp;
    proxy_temp_path $WORK/nginx/tmp;
    fastcgi_temp_path $WORK/nginx/tmp;
    uwsgi_temp_path $WORK/nginx/tmp;
    scgi_temp_path $WORK/nginx/tmp;
    server {
        listen 127.0.0.1:$NG_PORT;
        root $WORK/www;
    }
}
EOF
    "${SRV_RUN[@]}" nginx -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -g 'daemon off;' \
        2>"$WORK/nginx/logs/stderr.log" &
    NGINX_PID=$!
    wait_http "http://127.0.0.1:$NG_PORT/s.npy"
}

# The Lua hook every wrk run loads (alone, or after a scenario's script):
# wrk's own totals at the end, every kind of error included.
write_count_lua() {
    cat >"$WORK/count.lua" <<'EOF'
function done(summary, latency, requests)
    local e = summary.errors
    io.write(string.format("COUNT requests=%d bytes=%d connect=%d read=%d write=%d status=%d timeout=%d\n",
        summary.requests, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout))
end
EOF
}

# wrk_run URL CONNS [LUA] -> prints "rps p99_ms requests errors bytes/response"
# errors: connect, read, write and timeout errors plus statuses >= 400,
# from wrk's own totals (count.lua); a wrk that printed no totals counts as
# one error.
wrk_run() {
    local url=$1 conns=$2 lua=${3:-}
    if [ -n "$lua" ]; then cat "$lua" "$WORK/count.lua" >"$WORK/run.lua"; else cp "$WORK/count.lua" "$WORK/run.lua"; fi
    "${WRK_RUN[@]}" wrk -t"$WRK_THREADS" -c"$conns" -d"${DURATION}s" --latency -s "$WORK/run.lua" "$url" \
        >"$WORK/wrk.out" 2>&1 || true
    awk '
        function ms(v) {
            if (v ~ /us$/) { sub(/us$/, "", v); return v / 1000 }
            if (v ~ /ms$/) { sub(/ms$/, "", v); return v + 0 }
            if (v ~ /s$/)  { sub(/s$/, "", v);  return v * 1000 }
            return v
        }
        function val(k,   i, kv) {
            for (i = 2; i <= NF; i++) { split($i, kv, "="); if (kv[1] == k) return kv[2] + 0 }
            return 0
        }
        /Requests\/sec:/ { rps = $2 }
        $1 == "99%" { p99 = ms($2) }
        $1 == "COUNT" {
            seen = 1; n = val("requests"); b = val("bytes")
            bad = val("connect") + val("read") + val("write") + val("status") + val("timeout")
        }
        END {
            if (!seen) { n = 0; bad = 1 }
            printf "%.0f %.3f %d %d %.0f\n", rps, p99, n, bad, (n > 0 ? b / n : 0)
        }' "$WORK/wrk.out"
}

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print 0; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
spread() { sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%s-%s", lo, hi }'; }
int0() { awk '{ printf "%.0f\n", $1 }'; }

# totals NAME LINE...: the sums of requests and errors and the median bytes
# a response of wrk_run lines, left in NAME_REQS NAME_ERRS NAME_BPR.
totals() {
    local name=$1 line n e reqs=0 errs=0
    shift
    for line in "$@"; do
        read -r _ _ n e _ <<<"$line"
        reqs=$((reqs + n))
        errs=$((errs + e))
    done
    printf -v "${name}_REQS" '%s' "$reqs"
    printf -v "${name}_ERRS" '%s' "$errs"
    printf -v "${name}_BPR" '%s' "$(printf '%s\n' "$@" | awk '{ print $5 }' | median | int0)"
}

# measure NAME BG_URL NG_URL CONNS [LUA [BEFORE]]: REPEATS turns each,
# alternating who goes first, running the command BEFORE (if given) at the
# start of each turn. Leaves the medians in BG_RPS BG_P99 NG_RPS NG_P99,
# the ranges of the turns in BG_RANGE NG_RANGE, the median and range of the
# turns' own ratios (beamgrid / nginx, each turn beside its partner) in
# RATIO RATIO_RANGE, and totals in BG_REQS BG_ERRS BG_BPR NG_REQS NG_ERRS
# NG_BPR.
measure() {
    local name=$1 bg_url=$2 ng_url=$3 conns=$4 lua=${5:-} before=${6:-}
    local i bg=() ng=() ratios
    for i in $(seq 1 "$REPEATS"); do
        if [ -n "$before" ]; then "$before"; fi
        if [ $((i % 2)) -eq 1 ]; then
            bg+=("$(wrk_run "$bg_url" "$conns" "$lua")")
            ng+=("$(wrk_run "$ng_url" "$conns")")
        else
            ng+=("$(wrk_run "$ng_url" "$conns")")
            bg+=("$(wrk_run "$bg_url" "$conns" "$lua")")
        fi
        echo "  $name turn $i: beamgrid ${bg[-1]} | nginx ${ng[-1]} (req/s p99_ms requests errors bytes/response)" >&2
    done
    totals BG "${bg[@]}"
    totals NG "${ng[@]}"
    BG_RPS=$(printf '%s\n' "${bg[@]}" | awk '{ print $1 }' | median | int0)
    BG_P99=$(printf '%s\n' "${bg[@]}" | awk '{ print $2 }' | median)
    NG_RPS=$(printf '%s\n' "${ng[@]}" | awk '{ print $1 }' | median | int0)
    NG_P99=$(printf '%s\n' "${ng[@]}" | awk '{ print $2 }' | median)
    BG_RANGE=$(printf '%s\n' "${bg[@]}" | awk '{ print $1 }' | spread)
    NG_RANGE=$(printf '%s\n' "${ng[@]}" | awk '{ print $1 }' | spread)
    ratios=$(paste -d' ' <(printf '%s\n' "${bg[@]}") <(printf '%s\n' "${ng[@]}") |
        awk '{ if ($6 > 0) printf "%.2f\n", $1 / $6; else print 0 }')
    RATIO=$(median <<<"$ratios" | awk '{ printf "%.2f\n", $1 }')
    RATIO_RANGE=$(spread <<<"$ratios")
}

# flags MIN_BYTES: the report's note on a scenario's errors and on
# responses shorter than MIN_BYTES, on either side, left in NOTE; sets
# ANY_ERRORS. (Not in a subshell: it sets globals.)
flags() {
    local min=$1
    NOTE=""
    if [ "$BG_ERRS" -gt 0 ] || [ "$NG_ERRS" -gt 0 ]; then NOTE="**ERRORS**"; fi
    if awk -v a="$BG_BPR" -v b="$NG_BPR" -v m="$min" 'BEGIN { exit !(a < m || b < m) }'; then
        NOTE="${NOTE:+$NOTE, }**SHORT RESPONSES**"
    fi
    if [ -n "$NOTE" ]; then ANY_ERRORS=1; else NOTE=none; fi
}

post_id() {
    curl -fsS -o /dev/null -D - -H 'Content-Type: application/json' \
        --data "$1" "http://127.0.0.1:$BG_PORT/v1/sources?format=npy" |
        tr -d '\r' | awk -F': ' 'tolower($1) == "content-location" { sub(".*/", "", $2); print $2 }'
}

metric() {
    curl -fsS "http://127.0.0.1:$BG_PORT/metrics" | awk -v m="$1" '$1 == m { print $2 }'
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
verdict() { awk -v r="$1" -v g="$2" -v dir="$3" 'BEGIN { ok = (dir == ">=") ? (r >= g) : (r <= g); print ok ? "met" : "**not met**" }'; }

ROWS=()
PLOTROWS=()
SUMMARY=()
row() { ROWS+=("$1"); }

# same_bytes PATH FILE: beamgrid's body equals the file nginx serves
same_bytes() {
    curl -fsS -o "$WORK/check.bin" "http://127.0.0.1:$BG_PORT$1"
    cmp -s "$WORK/check.bin" "$WORK/www/$2"
}

# header_bytes URL: the size of the response's header block
header_bytes() { curl -fsS -o /dev/null -w '%{size_header}' "$1"; }

# The columns every scenario shares, after its name and connections (flags
# ran first).
row_measured() {
    local goal=$1 pgoal=$2 bg_h=$3 ng_h=$4 r=$RATIO p note=$NOTE
    p=$(ratio "$BG_P99" "$NG_P99")
    local pcell="-"
    if [ "$pgoal" != - ]; then pcell="<= $pgoal: $(verdict "$p" "$pgoal" "<=")"; fi
    echo "| $BG_RPS ($BG_RANGE) | $NG_RPS ($NG_RANGE) | **$r** ($RATIO_RANGE) | >= $goal: $(verdict "$r" "$goal" ">=") | $BG_P99 / $NG_P99 = $p | $pcell | $BG_BPR ($bg_h) / $NG_BPR ($ng_h) | $BG_ERRS / $BG_REQS | $NG_ERRS / $NG_REQS | $note |"
}

scenario_hit() {
    local key=$1 name=$2 path=$3 file=$4 conns=$5
    same_bytes "$path" "$file" || { echo "beamgrid and nginx bodies differ: $path" >&2; exit 1; }
    local bg_url="http://127.0.0.1:$BG_PORT$path" ng_url="http://127.0.0.1:$NG_PORT/$file"
    local bg_h ng_h
    bg_h=$(header_bytes "$bg_url")
    ng_h=$(header_bytes "$ng_url")
    measure "$key" "$bg_url" "$ng_url" "$conns"
    flags "$(stat -c %s "$WORK/www/$file")"
    row "| $name | $conns $(row_measured 0.8 1.5 "$bg_h" "$ng_h")"
    PLOTROWS+=("\"$key\" $BG_RPS $NG_RPS")
    SUMMARY+=("$key: req/s ratio $RATIO ($(verdict "$RATIO" 0.8 ">=")), p99 ratio $(ratio "$BG_P99" "$NG_P99") ($(verdict "$(ratio "$BG_P99" "$NG_P99")" 1.5 "<="))")
}

scenario_cold() {
    local conns=8
    cat >"$WORK/cold.lua" <<'EOF'
-- setup() runs once per thread in the main state and sets the global `tid`
-- in that thread's state; `round` (a global) differs per wrk run, so no two
-- requests of the whole benchmark send the same lambda_A.
local counter = 0
local nthreads = 0
function setup(thread)
    thread:set("tid", nthreads)
    nthreads = nthreads + 1
end
request = function()
    counter = counter + 1
    local lambda = string.format("%.12f", 1.0 + tid * 0.25 + round * 0.01 + counter * 1e-9)
    local body = '{"divergence_mrad":0.5,"divsteps":51,"dispersion_percent":0.1,"dispsteps":21,"lambda_A":' .. lambda .. '}'
    return wrk.format("POST", "/v1/sources?format=npy", {["Content-Type"] = "application/json"}, body)
end
EOF
    local misses0 hits0 misses1 hits1
    misses0=$(metric beamgrid_cache_misses_total)
    hits0=$(metric beamgrid_cache_hits_total)
    # a distinct `round` per turn: prepend it to a copy of the script, which
    # wrk reads when it starts
    COLD_ROUND=0
    cold_lua() { COLD_ROUND=$((COLD_ROUND + 1)); { echo "round = $COLD_ROUND"; cat "$WORK/cold.lua"; } >"$WORK/cold_turn.lua"; }
    measure c "http://127.0.0.1:$BG_PORT" "http://127.0.0.1:$NG_PORT/m.npy" "$conns" "$WORK/cold_turn.lua" cold_lua
    misses1=$(metric beamgrid_cache_misses_total)
    hits1=$(metric beamgrid_cache_hits_total)
    COLD_MISSES=$((misses1 - misses0))
    COLD_HITS=$((hits1 - hits0))
    local bg_h ng_h
    bg_h=$(curl -fsS -o /dev/null -w '%{size_header}' -H 'Content-Type: application/json' \
        --data '{"divergence_mrad":0.5,"divsteps":51,"dispersion_percent":0.1,"dispsteps":21,"lambda_A":0.5}' \
        "http://127.0.0.1:$BG_PORT/v1/sources?format=npy")
    ng_h=$(header_bytes "http://127.0.0.1:$NG_PORT/m.npy")
    flags "$(stat -c %s "$WORK/www/m.npy")"
    row "| c. cold POST, M npy, new lambda_A each ($COLD_MISSES misses, $COLD_HITS hits) | $conns $(row_measured 0.5 - "$bg_h" "$ng_h")"
    PLOTROWS+=("\"c\" $BG_RPS $NG_RPS")
    SUMMARY+=("c: req/s ratio $RATIO ($(verdict "$RATIO" 0.5 ">="))")
}

# json_path: the JSON encoder through the server's own path. For REPEATS
# M grids computed (POSTed as npy) and never yet asked as JSON: the first
# GET as JSON (the body is encoded into the entry, then sent) against a
# second GET of it (sent from the cache): the difference is what encoding
# cost there. Leaves a markdown line in JSON_PATH.
json_path() {
    local i loc t1 t2 size lines=()
    for i in $(seq 1 "$REPEATS"); do
        loc=$(curl -fsS -o /dev/null -D - -H 'Content-Type: application/json' \
            --data "{\"divergence_mrad\":0.5,\"divsteps\":51,\"dispersion_percent\":0.1,\"dispsteps\":21,\"lambda_A\":$((200 + i))e-2}" \
            "http://127.0.0.1:$BG_PORT/v1/sources?format=npy" |
            tr -d '\r' | awk -F': ' 'tolower($1) == "content-location" { print $2 }')
        read -r t1 size < <(curl -fsS -o /dev/null -w '%{time_total} %{size_download}\n' \
            "http://127.0.0.1:$BG_PORT$loc?format=json")
        t2=$(curl -fsS -o /dev/null -w '%{time_total}' "http://127.0.0.1:$BG_PORT$loc?format=json")
        lines+=("$(awk -v a="$t1" -v b="$t2" -v n="$size" 'BEGIN { d = a - b; printf "%.3f %.3f %.0f %d\n", a * 1000, b * 1000, (d > 0 ? n / d / 1e6 : 0), n }')")
    done
    local first hit mbs
    first=$(printf '%s\n' "${lines[@]}" | awk '{ print $1 }')
    hit=$(printf '%s\n' "${lines[@]}" | awk '{ print $2 }')
    mbs=$(printf '%s\n' "${lines[@]}" | awk '{ print $3 }')
    JSON_PATH="M as JSON ($(awk '{ print $4; exit }' <<<"${lines[0]}") B), $REPEATS grids: first GET (encode into the cache entry, then send) $(median <<<"$first") ms ($(spread <<<"$first")), repeat GET (send) $(median <<<"$hit") ms ($(spread <<<"$hit")); encoding through the server: $(median <<<"$mbs" | int0) MB/s ($(spread <<<"$mbs"))."
}

vm_hwm_kb() { awk '/VmHWM/ { print $2 }' "/proc/$1/status"; }

# growth: not beside nginx, so as deployed: every CPU, default threads.
growth() {
    local SRV_RUN=()
    printf 'sources\tpost_ms\tget_ms\tpeak_rss_delta_mb\tbytes_per_source\tnpy_bytes_per_source\n' >"$GROWTH_TSV"
    local n
    for n in 32 100 316 1000 3163; do
        start_beamgrid --cache-mb 2048 --max-sources 20000000 --threads 0 --compute-threads 0
        local base body t t2 count hwm id
        base=$(vm_hwm_kb "$BG_PID")
        body="{\"divergence_mrad\":1,\"divsteps\":$n,\"round_div\":false}"
        t=$(curl -fsS -o "$WORK/g.npy" -D "$WORK/g.hdr" -w '%{time_total}' -H 'Content-Type: application/json' \
            --data "$body" "http://127.0.0.1:$BG_PORT/v1/sources?format=npy")
        id=$(tr -d '\r' <"$WORK/g.hdr" | awk -F': ' 'tolower($1) == "content-location" { print $2 }')
        t2=$(curl -fsS -o /dev/null -w '%{time_total}' "http://127.0.0.1:$BG_PORT$id?format=npy")
        count=$((n * n))
        hwm=$(vm_hwm_kb "$BG_PID")
        awk -v n="$count" -v t="$t" -v t2="$t2" -v b="$base" -v h="$hwm" -v sz="$(stat -c %s "$WORK/g.npy")" \
            'BEGIN { d = (h - b) * 1024; printf "%d\t%.3f\t%.3f\t%.1f\t%.1f\t%.1f\n", n, t * 1000, t2 * 1000, d / 1048576, d / n, sz / n }' \
            >>"$GROWTH_TSV"
        stop_beamgrid
    done
}

draw_plot() {
    command -v gnuplot >/dev/null || { echo "gnuplot missing: no plot" >&2; return 0; }
    printf '%s\n' "${PLOTROWS[@]}" >"$WORK/rps.dat"
    tail -n +2 "$GROWTH_TSV" >"$WORK/growth.dat"
    gnuplot <<EOF
set terminal pngcairo size 1200,480 font ",10"
set output "$PLOT"
set multiplot layout 1,2
set title "requests/s, same bytes, same connections (median of $REPEATS)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set logscale y
set ylabel "requests/s (log)"
set key top right
plot "$WORK/rps.dat" using 2:xtic(1) title "beamgrid", "" using 3 title "nginx (static file)"
unset logscale y
set title "how cost grows: cold POST (npy)"
set style data linespoints
set logscale xy
set xrange [500:3e7]
set xlabel "sources"
set ylabel "POST ms / peak RSS bytes per source"
set key top left
plot "$WORK/growth.dat" using 1:2 title "POST ms (compute + send)" lw 2, \
     "" using 1:5 title "peak RSS bytes/source" lw 2, \
     "" using 1:6 title "npy bytes/source" lw 2 dt 2
unset multiplot
EOF
}

main() {
    command -v wrk >/dev/null || { echo "wrk missing: make bench installs it" >&2; exit 1; }
    command -v nginx >/dev/null || { echo "nginx missing: make bench installs nginx-light" >&2; exit 1; }
    local load0
    load0=$(cut -d' ' -f1-3 /proc/loadavg)
    start_beamgrid --cache-mb 512
    mkdir -p "$WORK/www"
    local s_id m_id
    s_id=$(post_id "$S_BODY")
    m_id=$(post_id "$M_BODY")
    curl -fsS -o "$WORK/www/s.npy" "http://127.0.0.1:$BG_PORT/v1/sources/$s_id?format=npy"
    curl -fsS -o "$WORK/www/m.npy" "http://127.0.0.1:$BG_PORT/v1/sources/$m_id?format=npy"
    curl -fsS -o "$WORK/www/s.json" "http://127.0.0.1:$BG_PORT/v1/sources/$s_id?format=json"
    start_nginx
    write_count_lua
    row "| scenario | conns | beamgrid req/s median (range) | nginx req/s median (range) | ratio: median of turns (range) | goal | p99 ms beamgrid / nginx | p99 goal | bytes a response (headers) beamgrid / nginx | beamgrid errors / requests | nginx errors / requests | flags |"
    row "|---|---|---|---|---|---|---|---|---|---|---|---|"
    echo "http: $REPEATS turns of ${DURATION}s per server and scenario; $PLACEMENT" >&2
    scenario_hit a "a. hit, S npy ($(stat -c %s "$WORK/www/s.npy") B)" "/v1/sources/$s_id?format=npy" s.npy 32
    scenario_hit b "b. hit, M npy ($(stat -c %s "$WORK/www/m.npy") B)" "/v1/sources/$m_id?format=npy" m.npy 32
    scenario_cold
    scenario_hit d "d. hit, S json ($(stat -c %s "$WORK/www/s.json") B)" "/v1/sources/$s_id?format=json" s.json 32
    echo "json: the encoder through the server" >&2
    json_path
    local log_lines ng_lines
    log_lines=$(grep -c '"event":"request"' "$WORK/access.log" || true)
    stop_beamgrid
    kill "$NGINX_PID" 2>/dev/null || true
    wait "$NGINX_PID" 2>/dev/null || true
    NGINX_PID=""
    ng_lines=$(wc -l <"$WORK/nginx/logs/access.log")
    echo "growth: 1e3 .. 1e7 sources" >&2
    growth
    draw_plot
    {
        echo "## Service under wrk beside nginx $(nginx -v 2>&1 | sed 's/.*nginx\///') (same bytes, same connections)"
        echo
        echo "wrk -t$WRK_THREADS on loopback, ${DURATION}s per turn, $REPEATS turns per server, beamgrid"
        echo "and nginx alternating; medians (range of the turns); the ratio is the median of"
        echo "each turn's beamgrid / nginx (its range beside it). $PLACEMENT."
        echo "beamgrid: --threads $SRV_THREADS --compute-threads $SRV_THREADS, access log on ($log_lines"
        echo "request lines written); nginx: $SRV_THREADS workers, sendfile, access log on, buffer=32k"
        echo "flush=100ms ($ng_lines lines written). Errors: wrk's connect, read, write and"
        echo "timeout errors plus statuses >= 400, on each side; flags: any error, or a median"
        echo "response shorter than the body."
        echo "Load average before: $load0, after: $(cut -d' ' -f1-3 /proc/loadavg)."
        echo
        printf '%s\n' "${ROWS[@]}"
        echo
        echo "JSON encoding through the server: $JSON_PATH"
        echo
        echo "## How cost grows (one cold POST on a fresh server, npy; then a GET of the same id)"
        echo
        echo "The server as deployed: every CPU, default threads, not pinned."
        echo
        echo "| sources | POST ms | GET (hit) ms | peak RSS above idle, MB | peak bytes/source | npy bytes/source |"
        echo "|---|---|---|---|---|---|"
        tail -n +2 "$GROWTH_TSV" | awk -F'\t' '{ printf "| %d | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6 }'
        echo
        if [ -f "$PLOT" ]; then echo "![requests/s and growth]($(basename "$PLOT"))"; echo; fi
        echo "Goals (service):"
        printf -- '- %s\n' "${SUMMARY[@]}"
        if [ "$ANY_ERRORS" = 1 ]; then
            echo "- **this run had errors or short responses (see flags): its ratios do not count**"
        fi
        echo
    } >"$WORK/section.md"
    cat "$WORK/section.md" >>"$OUT"
    cat "$WORK/section.md"
    if [ "$ANY_ERRORS" = 1 ]; then
        echo "http_bench: errors or short responses in this run (flags column)" >&2
        exit 1
    fi
}

main "$@"
