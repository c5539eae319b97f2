#!/usr/bin/env bash
# http_bench.sh - the service under wrk, beside nginx serving the very same
# bytes as static files, measured in one run on loopback.
#
# Scenarios (SPEC 4, issue 4):
#   a. hit:  GET /v1/sources/{id}?format=npy of S, 32 connections
#   b. hit:  the same for M
#   c. cold: POSTs of never-seen M grids (lambda_A varies per request),
#            8 connections, npy; nginx serves M's npy bytes at 8 connections
#   d. hit:  GET /v1/sources/{id}?format=json of S, 32 connections
# then how cost grows: POST time and peak RSS from 1e3 to 1e7 sources.
#
# Writes a markdown table to $OUT (default bench/results-http.md) and prints
# it. Loopback only; every run is bounded by DURATION seconds.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BEAMGRID_BIN:-$ROOT/build/beamgrid}
DURATION=${DURATION:-8}
OUT=${OUT:-$ROOT/bench/results-http.md}
GROWTH_TSV=${GROWTH_TSV:-$ROOT/bench/growth.tsv}
WORK=$(mktemp -d)
chmod 755 "$WORK"   # nginx workers (user nobody when run as root) read www/
BG_PID=""
NGINX_PID=""

S_BODY='{"divergence_mrad":0.5,"divsteps":25,"dispersion_percent":0.1,"dispsteps":9}'
M_BODY='{"divergence_mrad":0.5,"divsteps":51,"dispersion_percent":0.1,"dispsteps":21}'

cleanup() {
    [ -n "$BG_PID" ] && kill "$BG_PID" 2>/dev/null && wait "$BG_PID" 2>/dev/null
    [ -n "$NGINX_PID" ] && kill "$NGINX_PID" 2>/dev/null && wait "$NGINX_PID" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT

free_port() {
    /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wait_http() {
    local url=$1
    for _ in $(seq 1 100); do
        curl -fsS -o /dev/null "$url" 2>/dev/null && return 0
        sleep 0.05
    done
    echo "not answering: $url" >&2
    return 1
}

start_beamgrid() {
    BG_PORT=$(free_port)
    "$BIN" --bind 127.0.0.1 --port "$BG_PORT" --log-level off "$@" 2>"$WORK/beamgrid.log" &
    BG_PID=$!
    wait_http "http://127.0.0.1:$BG_PORT/readyz"
}

stop_beamgrid() {
    kill "$BG_PID" && wait "$BG_PID" || true
    BG_PID=""
}

start_nginx() {
    NG_PORT=$(free_port)
    mkdir -p "$WORK/nginx/logs" "$WORK/www"
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
    nginx -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -g 'daemon off;' &
    NGINX_PID=$!
    wait_http "http://127.0.0.1:$NG_PORT/s.npy"
}

# wrk_run URL CONNS [LUA] -> prints "rps p99_ms"
wrk_run() {
    local url=$1 conns=$2 lua=${3:-}
    local args=(-t2 -c"$conns" -d"${DURATION}s" --latency)
    [ -n "$lua" ] && args+=(-s "$lua")
    wrk "${args[@]}" "$url" >"$WORK/wrk.out" 2>&1
    awk '
        function ms(v) {
            if (v ~ /us$/) { sub(/us$/, "", v); return v / 1000 }
            if (v ~ /ms$/) { sub(/ms$/, "", v); return v + 0 }
            if (v ~ /s$/)  { sub(/s$/, "", v);  return v * 1000 }
            return v
        }
        /Requests\/sec:/ { rps = $2 }
        $1 == "99%" { p99 = ms($2) }
        /Non-2xx or 3xx responses:/ { bad = $NF }
        /Socket errors:/ { sock = $0 }
        END { printf "%.0f %.3f %d\n", rps, p99, bad }' "$WORK/wrk.out"
}

post_id() {
    curl -fsS -o /dev/null -D - -H 'Content-Type: application/json' \
        --data "$1" "http://127.0.0.1:$BG_PORT/v1/sources?format=npy" |
        tr -d '\r' | awk -F': ' 'tolower($1) == "content-location" { sub(".*/", "", $2); print $2 }'
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
goal() { awk -v r="$1" -v g="$2" -v dir="$3" 'BEGIN { ok = (dir == ">=") ? (r >= g) : (r <= g); print ok ? "met" : "NOT met" }'; }

ROWS=()
row() { ROWS+=("$1"); }

scenario_hit() {
    local name=$1 path=$2 file=$3 conns=$4
    read -r bg_rps bg_p99 bg_bad < <(wrk_run "http://127.0.0.1:$BG_PORT$path" "$conns")
    read -r ng_rps ng_p99 _ < <(wrk_run "http://127.0.0.1:$NG_PORT/$file" "$conns")
    local r p
    r=$(ratio "$bg_rps" "$ng_rps")
    p=$(ratio "$bg_p99" "$ng_p99")
    row "| $name | $conns | $bg_rps | $ng_rps | $r (goal >= 0.8: $(goal "$r" 0.8 ">=")) | $bg_p99 / $ng_p99 | $p (goal <= 1.5: $(goal "$p" 1.5 "<=")) | $bg_bad |"
}

scenario_cold() {
    local conns=8
    cat >"$WORK/cold.lua" <<'EOF'
-- setup() runs once per thread in the main state and sets the global `tid`
-- in that thread's state, so no two threads send the same lambda_A.
local counter = 0
local nthreads = 0
function setup(thread)
    thread:set("tid", nthreads)
    nthreads = nthreads + 1
end
request = function()
    counter = counter + 1
    local lambda = string.format("%.12f", 1.0 + tid * 0.01 + counter * 1e-9)
    local body = '{"divergence_mrad":0.5,"divsteps":51,"dispersion_percent":0.1,"dispsteps":21,"lambda_A":' .. lambda .. '}'
    return wrk.format("POST", "/v1/sources?format=npy", {["Content-Type"] = "application/json"}, body)
end
EOF
    read -r bg_rps bg_p99 bg_bad < <(wrk_run "http://127.0.0.1:$BG_PORT" "$conns" "$WORK/cold.lua")
    read -r ng_rps ng_p99 _ < <(wrk_run "http://127.0.0.1:$NG_PORT/m.npy" "$conns")
    local r
    r=$(ratio "$bg_rps" "$ng_rps")
    row "| c. cold POST, M npy (new lambda_A each) | $conns | $bg_rps | $ng_rps | $r (goal >= 0.5: $(goal "$r" 0.5 ">=")) | $bg_p99 / $ng_p99 | - | $bg_bad |"
}

vm_hwm_kb() { awk '/VmHWM/ { print $2 }' "/proc/$1/status"; }

growth() {
    printf 'sources\tpost_ms\tpeak_rss_delta_mb\tbytes_per_source\tnpy_bytes_per_source\n' >"$GROWTH_TSV"
    for n in 32 100 316 1000 3163; do
        start_beamgrid --cache-mb 2048 --max-sources 20000000
        local base body t count hwm
        base=$(vm_hwm_kb "$BG_PID")
        body="{\"divergence_mrad\":1,\"divsteps\":$n,\"round_div\":false}"
        t=$(curl -fsS -o "$WORK/g.npy" -w '%{time_total}' -H 'Content-Type: application/json' \
            --data "$body" "http://127.0.0.1:$BG_PORT/v1/sources?format=npy")
        count=$((n * n))
        hwm=$(vm_hwm_kb "$BG_PID")
        awk -v n="$count" -v t="$t" -v b="$base" -v h="$hwm" -v sz="$(stat -c %s "$WORK/g.npy")" \
            'BEGIN { d = (h - b) * 1024; printf "%d\t%.3f\t%.1f\t%.1f\t%.1f\n", n, t * 1000, d / 1048576, d / n, sz / n }' \
            >>"$GROWTH_TSV"
        stop_beamgrid
    done
}

main() {
    command -v wrk >/dev/null || { echo "wrk missing: make bench installs it" >&2; exit 1; }
    start_beamgrid --cache-mb 512
    mkdir -p "$WORK/www"
    local s_id m_id
    s_id=$(post_id "$S_BODY")
    m_id=$(post_id "$M_BODY")
    curl -fsS -o "$WORK/www/s.npy" "http://127.0.0.1:$BG_PORT/v1/sources/$s_id?format=npy"
    curl -fsS -o "$WORK/www/m.npy" "http://127.0.0.1:$BG_PORT/v1/sources/$m_id?format=npy"
    curl -fsS -o "$WORK/www/s.json" "http://127.0.0.1:$BG_PORT/v1/sources/$s_id?format=json"
    start_nginx
    row "| scenario | conns | beamgrid req/s | nginx req/s | ratio | p99 ms beamgrid / nginx | p99 ratio | non-2xx |"
    row "|---|---|---|---|---|---|---|---|"
    scenario_hit "a. hit, S npy ($(stat -c %s "$WORK/www/s.npy") B)" "/v1/sources/$s_id?format=npy" s.npy 32
    scenario_hit "b. hit, M npy ($(stat -c %s "$WORK/www/m.npy") B)" "/v1/sources/$m_id?format=npy" m.npy 32
    scenario_cold
    scenario_hit "d. hit, S json ($(stat -c %s "$WORK/www/s.json") B)" "/v1/sources/$s_id?format=json" s.json 32
    stop_beamgrid
    growth
    {
        echo "## Service under wrk beside nginx $(nginx -v 2>&1 | sed 's/.*nginx\///') (same bytes, same connections, ${DURATION}s each, wrk -t2)"
        echo
        printf '%s\n' "${ROWS[@]}"
        echo
        echo "## How cost grows (cold POST, npy; peak RSS above an idle server)"
        echo
        echo "| sources | POST ms | peak RSS delta MB | bytes/source | npy bytes/source |"
        echo "|---|---|---|---|---|"
        tail -n +2 "$GROWTH_TSV" | awk -F'\t' '{ printf "| %d | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5 }'
    } >"$OUT"
    cat "$OUT"
}

main "$@"
