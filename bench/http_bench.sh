#!/usr/bin/env bash
# http_bench.sh - the service under wrk, beside nginx serving the very same
# bytes as static files, measured in one run on loopback.
#
# Scenarios (issue 4), each run REPEATS times, beamgrid and nginx
# taking turns (which goes first alternates), medians reported:
#   a. hit:  GET /v1/sources/{id}?format=npy of S, 32 connections
#   b. hit:  the same for M
#   c. cold: POSTs of never-seen M grids (lambda_A varies per request),
#            8 connections, npy; nginx serves M's npy bytes at 8 connections
#   d. hit:  GET /v1/sources/{id}?format=json of S, 32 connections
# then how cost grows: POST time and peak RSS from 1e3 to 1e7 sources.
#
# beamgrid runs as deployed: default threads, access log at info level (to
# a file). nginx: 2 workers, sendfile, access log off (its fastest).
# Appends markdown to $OUT (default bench/results.md), draws $PLOT (PNG,
# gnuplot) and prints what it appended. Loopback only; every wrk run is
# bounded by DURATION seconds.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BEAMGRID_BIN:-$ROOT/build/beamgrid}
DURATION=${DURATION:-5}
REPEATS=${REPEATS:-3}
OUT=${OUT:-$ROOT/bench/results.md}
PLOT=${PLOT:-$ROOT/bench/results.png}
WORK=$(mktemp -d)
chmod 755 "$WORK" # nginx workers (user nobody when run as root) read www/
GROWTH_TSV=$WORK/growth.tsv
BG_PID=""
NGINX_PID=""

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
    "$BIN" --bind 127.0.0.1 --port "$BG_PORT" --log-file "$WORK/access.log" "$@" \
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
worker_processes 2;
error_log $WORK/nginx/logs/error.log warn;
pid $WORK/nginx/nginx.pid;
events { worker_connections 1024; }
http {
    access_log off;
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
    nginx -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -g 'daemon off;' \
        2>"$WORK/nginx/logs/stderr.log" &
    NGINX_PID=$!
    wait_http "http://127.0.0.1:$NG_PORT/s.npy"
}

# wrk_run URL CONNS [LUA] -> prints "rps p99_ms requests errors"
# errors: non-2xx/3xx responses plus socket errors.
wrk_run() {
    local url=$1 conns=$2 lua=${3:-}
    local args=(-t2 -c"$conns" -d"${DURATION}s" --latency)
    if [ -n "$lua" ]; then args+=(-s "$lua"); fi
    wrk "${args[@]}" "$url" >"$WORK/wrk.out" 2>&1 || true
    awk '
        function ms(v) {
            if (v ~ /us$/) { sub(/us$/, "", v); return v / 1000 }
            if (v ~ /ms$/) { sub(/ms$/, "", v); return v + 0 }
            if (v ~ /s$/)  { sub(/s$/, "", v);  return v * 1000 }
            return v
        }
        /Requests\/sec:/ { rps = $2 }
        $1 == "99%" { p99 = ms($2) }
        / requests in / { n = $1 }
        /Non-2xx or 3xx responses:/ { bad += $NF }
        /Socket errors:/ {
            for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+,?$/) { v = $i; sub(/,/, "", v); bad += v }
        }
        END { printf "%.0f %.3f %d %d\n", rps, p99, n, bad }' "$WORK/wrk.out"
}

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print 0; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
spread() { sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%s-%s", lo, hi }'; }

# measure NAME BG_URL NG_URL CONNS [LUA [BEFORE]]: REPEATS turns each,
# alternating who goes first, running the command BEFORE (if given) at the
# start of each turn; leaves the medians in BG_RPS BG_P99 NG_RPS NG_P99, the
# ranges in BG_RANGE NG_RANGE, and totals in BG_REQS BG_ERRS.
measure() {
    local name=$1 bg_url=$2 ng_url=$3 conns=$4 lua=${5:-} before=${6:-}
    local i bg=() ng=() line
    BG_REQS=0
    BG_ERRS=0
    for i in $(seq 1 "$REPEATS"); do
        if [ -n "$before" ]; then "$before"; fi
        if [ $((i % 2)) -eq 1 ]; then
            bg+=("$(wrk_run "$bg_url" "$conns" "$lua")")
            ng+=("$(wrk_run "$ng_url" "$conns")")
        else
            ng+=("$(wrk_run "$ng_url" "$conns")")
            bg+=("$(wrk_run "$bg_url" "$conns" "$lua")")
        fi
        echo "  $name turn $i: beamgrid ${bg[-1]% * *} nginx ${ng[-1]% * *} (req/s p99_ms)" >&2
    done
    local n e
    for line in "${bg[@]}"; do
        read -r _ _ n e <<<"$line"
        BG_REQS=$((BG_REQS + n))
        BG_ERRS=$((BG_ERRS + e))
    done
    BG_RPS=$(printf '%s\n' "${bg[@]}" | awk '{ print $1 }' | median)
    BG_P99=$(printf '%s\n' "${bg[@]}" | awk '{ print $2 }' | median)
    NG_RPS=$(printf '%s\n' "${ng[@]}" | awk '{ print $1 }' | median)
    NG_P99=$(printf '%s\n' "${ng[@]}" | awk '{ print $2 }' | median)
    BG_RANGE=$(printf '%s\n' "${bg[@]}" | awk '{ print $1 }' | spread)
    NG_RANGE=$(printf '%s\n' "${ng[@]}" | awk '{ print $1 }' | spread)
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

scenario_hit() {
    local key=$1 name=$2 path=$3 file=$4 conns=$5
    same_bytes "$path" "$file" || { echo "beamgrid and nginx bodies differ: $path" >&2; exit 1; }
    measure "$key" "http://127.0.0.1:$BG_PORT$path" "http://127.0.0.1:$NG_PORT/$file" "$conns"
    local r p
    r=$(ratio "$BG_RPS" "$NG_RPS")
    p=$(ratio "$BG_P99" "$NG_P99")
    row "| $name | $conns | $BG_RPS ($BG_RANGE) | $NG_RPS ($NG_RANGE) | **$r** | >= 0.8: $(verdict "$r" 0.8 ">=") | $BG_P99 / $NG_P99 | **$p** | <= 1.5: $(verdict "$p" 1.5 "<=") | $BG_ERRS / $BG_REQS |"
    PLOTROWS+=("\"$key\" $BG_RPS $NG_RPS")
    SUMMARY+=("$key: req/s ratio $r ($(verdict "$r" 0.8 ">=")), p99 ratio $p ($(verdict "$p" 1.5 "<="))")
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
    local r
    r=$(ratio "$BG_RPS" "$NG_RPS")
    row "| c. cold POST, M npy, new lambda_A each ($COLD_MISSES misses, $COLD_HITS hits) | $conns | $BG_RPS ($BG_RANGE) | $NG_RPS ($NG_RANGE) | **$r** | >= 0.5: $(verdict "$r" 0.5 ">=") | $BG_P99 / $NG_P99 | $(ratio "$BG_P99" "$NG_P99") | - | $BG_ERRS / $BG_REQS |"
    PLOTROWS+=("\"c\" $BG_RPS $NG_RPS")
    SUMMARY+=("c: req/s ratio $r ($(verdict "$r" 0.5 ">="))")
}

vm_hwm_kb() { awk '/VmHWM/ { print $2 }' "/proc/$1/status"; }

growth() {
    printf 'sources\tpost_ms\tget_ms\tpeak_rss_delta_mb\tbytes_per_source\tnpy_bytes_per_source\n' >"$GROWTH_TSV"
    local n
    for n in 32 100 316 1000 3163; do
        start_beamgrid --cache-mb 2048 --max-sources 20000000
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
    row "| scenario | conns | beamgrid req/s median (range) | nginx req/s median (range) | ratio | goal | p99 ms beamgrid / nginx | p99 ratio | goal | beamgrid errors / requests |"
    row "|---|---|---|---|---|---|---|---|---|---|"
    echo "http: $REPEATS turns of ${DURATION}s per server and scenario" >&2
    scenario_hit a "a. hit, S npy ($(stat -c %s "$WORK/www/s.npy") B)" "/v1/sources/$s_id?format=npy" s.npy 32
    scenario_hit b "b. hit, M npy ($(stat -c %s "$WORK/www/m.npy") B)" "/v1/sources/$m_id?format=npy" m.npy 32
    scenario_cold
    scenario_hit d "d. hit, S json ($(stat -c %s "$WORK/www/s.json") B)" "/v1/sources/$s_id?format=json" s.json 32
    local log_lines
    log_lines=$(grep -c '"event":"request"' "$WORK/access.log" || true)
    stop_beamgrid
    echo "growth: 1e3 .. 1e7 sources" >&2
    growth
    draw_plot
    {
        echo "## Service under wrk beside nginx $(nginx -v 2>&1 | sed 's/.*nginx\///') (same bytes, same connections)"
        echo
        echo "wrk -t2 on loopback, ${DURATION}s per turn, $REPEATS turns per server, beamgrid and nginx"
        echo "alternating; medians (range of the turns). beamgrid: default threads, access log on"
        echo "($log_lines request lines written); nginx: 2 workers, sendfile, access log off."
        echo "Load average before: $load0, after: $(cut -d' ' -f1-3 /proc/loadavg)."
        echo
        printf '%s\n' "${ROWS[@]}"
        echo
        echo "## How cost grows (one cold POST on a fresh server, npy; then a GET of the same id)"
        echo
        echo "| sources | POST ms | GET (hit) ms | peak RSS above idle, MB | peak bytes/source | npy bytes/source |"
        echo "|---|---|---|---|---|---|"
        tail -n +2 "$GROWTH_TSV" | awk -F'\t' '{ printf "| %d | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6 }'
        echo
        if [ -f "$PLOT" ]; then echo "![requests/s and growth]($(basename "$PLOT"))"; echo; fi
        echo "Goals (service):"
        printf -- '- %s\n' "${SUMMARY[@]}"
        echo
    } >"$WORK/section.md"
    cat "$WORK/section.md" >>"$OUT"
    cat "$WORK/section.md"
}

main "$@"
