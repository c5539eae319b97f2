#!/usr/bin/env bash
# Single-quoted $names below are meant literally: envsubst's list of
# variables, and the conditions that cond evaluates when it runs.
# shellcheck disable=SC2016
# deploy/nginx/beamgrid.conf in front of two real replicas, all on loopback:
#   - nginx (non-daemon, its own prefix and temp dirs in a temp directory)
#     runs the very template, placeholders substituted with envsubst;
#   - a POST through nginx answers a grid, and is never cached;
#   - GET /v1/sources/{id} through nginx is answered whichever replica gets
#     it (both replicas serve the id: the one that computed it and the other);
#   - the repeat GET is an nginx cache HIT with the same ETag and bytes, and
#     If-None-Match gets 304 from the cache;
#   - a 1,000-channel table spectrum (its id about 12k characters): POST and
#     GET of the id through nginx in json, lam, dxtbx and npy, answered by
#     both replicas, then an nginx cache HIT; a 10,000-entry table body;
#   - SIGTERM to one replica while two clients keep sending requests loses
#     none: every request during and after the stop is 200, and the stopped
#     replica exits 0;
#   - a slow download in flight on a replica when it gets SIGTERM completes
#     (the drain), and the replica exits 0;
#   - a smoke run of deploy/loadtest/run.sh (all three scenarios) through
#     nginx, and of wrk.sh for two seconds.
# Everything is bounded in time; a trap stops what the test started.
# Usage: tests/deploy/nginx_test.sh [REPO_ROOT]   (BEAMGRID_BIN: the server)
set -euo pipefail

repo=$(cd "${1:-$(dirname "$0")/../..}" && pwd)
here=$repo/tests/deploy
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"
BEAMGRID_BIN=${BEAMGRID_BIN:-$repo/build/beamgrid}
case "$BEAMGRID_BIN" in /*) ;; *) BEAMGRID_BIN=$repo/$BEAMGRID_BIN ;; esac
[ -x "$BEAMGRID_BIN" ] || { echo "no server binary at $BEAMGRID_BIN (make all)" >&2; exit 1; }
command -v nginx >/dev/null || { echo "nginx is not installed (make deps)" >&2; exit 1; }
command -v envsubst >/dev/null || { echo "envsubst is not installed (make deps: gettext-base)" >&2; exit 1; }

tmp=$(mktemp -d /tmp/beamgrid-nginx-test.XXXXXX)
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  sleep 0.2
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
# nginx's workers run as nobody when the test runs as root.
chmod 755 "$tmp"

echo "== two replicas"
start_beamgrid "$tmp/r1.log" --drain-s 5 --log-level warn
r1_pid=$BG_PID r1_port=$BG_PORT
pids+=("$r1_pid")
start_beamgrid "$tmp/r2.log" --drain-s 5 --log-level warn
r2_pid=$BG_PID r2_port=$BG_PORT
pids+=("$r2_pid")
ok "replicas on 127.0.0.1:$r1_port and 127.0.0.1:$r2_port"

echo "== nginx with deploy/nginx/beamgrid.conf"
nport=$(free_port)
mkdir -p "$tmp/conf" "$tmp/logs"
UPSTREAM_1=127.0.0.1:$r1_port UPSTREAM_2=127.0.0.1:$r2_port \
LISTEN=127.0.0.1:$nport CACHE_DIR=$tmp/cache \
  envsubst '${UPSTREAM_1} ${UPSTREAM_2} ${LISTEN} ${CACHE_DIR}' \
  < "$repo/deploy/nginx/beamgrid.conf" > "$tmp/conf/beamgrid.conf"
user_line=""
if [ "$(id -u)" = 0 ]; then user_line="user nobody nogroup;"; fi
cat > "$tmp/conf/nginx.conf" <<EOF
$user_line
daemon off;
worker_processes 1;
pid $tmp/nginx.pid;
error_log $tmp/logs/error.log warn;
events { worker_connections 512; }
http {
    default_type application/octet-stream;
    client_body_temp_path $tmp/client_body;
    proxy_temp_path $tmp/proxy_temp;
    fastcgi_temp_path $tmp/fastcgi_temp;
    uwsgi_temp_path $tmp/uwsgi_temp;
    scgi_temp_path $tmp/scgi_temp;
    include $tmp/conf/beamgrid.conf;
}
EOF
check "nginx -t accepts the config" \
  nginx -q -t -p "$tmp" -e "$tmp/logs/error.log" -c "$tmp/conf/nginx.conf"
nginx -p "$tmp" -e "$tmp/logs/error.log" -c "$tmp/conf/nginx.conf" \
  > "$tmp/logs/access.log" 2> "$tmp/logs/stderr.log" &
pids+=("$!")
if ! wait_port 127.0.0.1 "$nport" 10; then
  not_ok "nginx listens on 127.0.0.1:$nport"
  cat "$tmp/logs/error.log" "$tmp/logs/stderr.log"
  summary nginx-test
  exit 1
fi
ok "nginx listens on 127.0.0.1:$nport"
lb=http://127.0.0.1:$nport

# req NAME [curl args...]: headers to $tmp/NAME.h (lower-cased names), body
# to $tmp/NAME.b; prints the status code.
req() {
  local name=$1; shift
  curl -sS -m 20 -o "$tmp/$name.b" -D "$tmp/$name.raw" -w '%{http_code}' "$@" || echo 000
  tr -d '\r' < "$tmp/$name.raw" | awk -F': ' 'NF > 1 {print tolower($1) ": " $2}' > "$tmp/$name.h" || true
}
hdr() { sed -n "s/^$2: //p" "$tmp/$1.h" | tail -n1; }  # hdr NAME header-name
json=(-H 'Content-Type: application/json')
body='{"divergence_mrad":0.5,"divsteps":25,"dispersion_percent":0.1,"dispsteps":9}'

echo "== POST through nginx"
st=$(req post1 "${json[@]}" --data-raw "$body" "$lb/v1/sources")
check "POST /v1/sources through nginx: 200 (got $st)" [ "$st" = 200 ]
loc=$(hdr post1 content-location)
id=${loc##*/}
check "POST answers Content-Location: /v1/sources/{id} ($loc)" cond '[ -n "$id" ] && [ "$loc" = "/v1/sources/$id" ]'
check "POST answers an ETag" [ -n "$(hdr post1 etag)" ]
st=$(req post2 "${json[@]}" --data-raw "$body" "$lb/v1/sources")
check "repeat POST: 200, not served from nginx's cache (X-Proxy-Cache: '$(hdr post2 x-proxy-cache)')" \
  cond '[ "$st" = 200 ] && [ "$(hdr post2 x-proxy-cache)" != HIT ]'

echo "== GET by id: any replica answers"
for r in "$r1_port" "$r2_port"; do
  st=$(req "direct_$r" "http://127.0.0.1:$r/v1/sources/$id")
  check "replica :$r answers GET /v1/sources/{id} directly: 200 (got $st)" [ "$st" = 200 ]
done
check "both replicas give the same bytes" cmp -s "$tmp/direct_$r1_port.b" "$tmp/direct_$r2_port.b"
# Distinct representations are distinct cache keys, so each first GET goes
# to a replica (round robin): both replicas serve the id through nginx.
all200=1
for f in json npy bin txt; do
  st=$(req "get_$f" "$lb/v1/sources/$id?format=$f")
  [ "$st" = 200 ] || { all200=0; echo "  ?format=$f: $st"; }
  [ "$(hdr "get_$f" x-proxy-cache)" = MISS ] || { all200=0; echo "  ?format=$f: X-Proxy-Cache $(hdr "get_$f" x-proxy-cache)"; }
done
check "first GET of each format through nginx: 200, X-Proxy-Cache: MISS" [ "$all200" = 1 ]
served=$(awk -v id="$id" '$0 ~ "GET /v1/sources/" id && / 200 / {
           for (i = 1; i <= NF; i++) if ($i ~ /^upstream=/) print substr($i, 10) }' \
         "$tmp/logs/access.log" | sort -u | tr '\n' ' ')
check "GETs of the id through nginx were answered by both replicas ($served)" \
  [ "$(wc -w <<<"$served")" -ge 2 ]

echo "== nginx cache"
st=$(req get_json2 "$lb/v1/sources/$id?format=json")
check "repeat GET: 200 and X-Proxy-Cache: HIT (got $st, $(hdr get_json2 x-proxy-cache))" \
  cond '[ "$st" = 200 ] && [ "$(hdr get_json2 x-proxy-cache)" = HIT ]'
check "the HIT has the replica's ETag and bytes" \
  cond '[ "$(hdr get_json2 etag)" = "$(hdr get_json etag)" ] && cmp -s "$tmp/get_json.b" "$tmp/get_json2.b"'
check "the HIT keeps Cache-Control: immutable ($(hdr get_json2 cache-control))" \
  has_word immutable "$(hdr get_json2 cache-control)"
st=$(req inm -H "If-None-Match: $(hdr get_json etag)" "$lb/v1/sources/$id?format=json")
check "If-None-Match through nginx: 304 (got $st)" [ "$st" = 304 ]

echo "== a 1,000-channel table spectrum: its long id through nginx"
# table N [EXTRA]: a measured-looking table of N entries (docs/beams.md)
table() {
  awk -v n="$1" -v extra="${2:-}" 'BEGIN {
    printf "{\"spectrum\":{\"kind\":\"table\",\"lambda_A\":["
    for (k = 0; k < n; k++) printf "%s%.9g", (k ? "," : ""), 1.29 + k * 3.3333e-5
    printf "],\"weights\":["
    for (k = 0; k < n; k++) printf "%s%.6g", (k ? "," : ""), 1 + 1000 * (k * 7919 % 997) / 997
    printf "]%s}}", extra }'
}
table 1000 > "$tmp/t1000.json"
st=$(req tpost "${json[@]}" --data-binary "@$tmp/t1000.json" "$lb/v1/sources")
tloc=$(hdr tpost content-location)
tid=${tloc##*/}
check "POST of a 1,000-channel table through nginx: 200 with its id (got $st, id of ${#tid} characters)" \
  cond '[ "$st" = 200 ] && [ "${#tid}" -gt 8000 ]'
all200=1
for f in json lam dxtbx npy; do
  st=$(req "tget_$f" "$lb$tloc?format=$f")
  [ "$st" = 200 ] || { all200=0; echo "  ?format=$f: $st"; }
done
check "GET of the 1,000-channel id through nginx, json lam dxtbx npy: 200" [ "$all200" = 1 ]
served=$(awk -v id="$tid" 'index($0, "GET /v1/sources/" id) && / 200 / {
           for (i = 1; i <= NF; i++) if ($i ~ /^upstream=/) print substr($i, 10) }' \
         "$tmp/logs/access.log" | sort -u | tr '\n' ' ')
check "the long id was answered by both replicas through nginx ($served)" \
  [ "$(wc -w <<<"$served")" -ge 2 ]
check "the 1,000-channel lam export has a header and 1,000 lines" \
  [ "$(wc -l < "$tmp/tget_lam.b")" = 1001 ]
for r in "$r1_port" "$r2_port"; do
  req "tdirect_$r" "http://127.0.0.1:$r$tloc?format=json" > /dev/null
done
check "both replicas answer the long id with the same bytes as the POST" \
  cond 'cmp -s "$tmp/tdirect_$r1_port.b" "$tmp/tdirect_$r2_port.b" && cmp -s "$tmp/tpost.b" "$tmp/tdirect_$r1_port.b"'
st=$(req tget_json2 "$lb$tloc?format=json")
check "repeat GET of the long id: nginx cache HIT (got $st, $(hdr tget_json2 x-proxy-cache))" \
  cond '[ "$st" = 200 ] && [ "$(hdr tget_json2 x-proxy-cache)" = HIT ]'
table 10000 ',"stride":10' > "$tmp/t10000.json"
st=$(req t10k "${json[@]}" --data-binary "@$tmp/t10000.json" "$lb/v1/sources?format=lam")
check "a 10,000-entry table ($(wc -c < "$tmp/t10000.json") bytes) through nginx, stride 10: 200 (got $st)" \
  cond '[ "$st" = 200 ] && [ "$(wc -l < "$tmp/t10k.b")" = 1001 ]'

echo "== SIGTERM to one replica loses no request"
# Two clients, each a bounded sequence of requests that reach a replica
# (new grids by POST, and first GETs of their ids), while replica 1 stops.
client() {  # client N COUNT -> one status per line in $tmp/client_N
  local n=$1 count=$2 i lam st l
  for ((i = 0; i < count; i++)); do
    lam=$(awk -v n="$n" -v i="$i" 'BEGIN { printf "%.6f", 1.1 + n * 0.01 + i * 0.0001 }')
    st=$(curl -sS -m 20 -o /dev/null -D "$tmp/c$n.h" -w '%{http_code}' \
           -H 'Content-Type: application/json' \
           --data-raw "{\"divergence_mrad\":0.4,\"divsteps\":11,\"dispsteps\":3,\"dispersion_percent\":0.2,\"lambda_A\":$lam}" \
           "$lb/v1/sources" || echo 000)
    echo "POST $st" >> "$tmp/client_$n"
    l=$(tr -d '\r' < "$tmp/c$n.h" | awk 'tolower($1) == "content-location:" {print $2}')
    if [ -n "$l" ]; then
      st=$(curl -sS -m 20 -o /dev/null -w '%{http_code}' "$lb$l?format=npy" || echo 000)
      echo "GET $st" >> "$tmp/client_$n"
    fi
    sleep 0.02
  done
}
: > "$tmp/client_1"
: > "$tmp/client_2"
client 1 60 &
c1=$!
client 2 60 &
c2=$!
pids+=("$c1" "$c2")
# Let some requests through, then stop replica 1 mid-stream.
end=$((SECONDS + 10))
while [ "$(wc -l < "$tmp/client_1")" -lt 20 ] && [ "$SECONDS" -lt "$end" ]; do sleep 0.05; done
t0=$SECONDS
stop_pid "$r1_pid" 15
check "replica 1 exits 0 after SIGTERM (got $STOP_RC, in $((SECONDS - t0)) s)" [ "$STOP_RC" = 0 ]
wait_clients_ok=1
for c in "$c1" "$c2"; do
  for ((i = 0; i < 600; i++)); do kill -0 "$c" 2>/dev/null || break; sleep 0.1; done
  wait "$c" || wait_clients_ok=0
done
check "both clients finished within the time bound" [ "$wait_clients_ok" = 1 ]
total=$(cat "$tmp/client_1" "$tmp/client_2" | wc -l)
bad=$(cat "$tmp/client_1" "$tmp/client_2" | awk '$2 != 200' | wc -l)
check "$total requests during and after the stop, none lost ($bad not 200)" \
  cond '[ "$total" -ge 200 ] && [ "$bad" = 0 ]'
if [ "$bad" != 0 ]; then sort "$tmp/client_1" "$tmp/client_2" | uniq -c; fi
r1_served=$(grep -c "upstream=127.0.0.1:$r1_port" "$tmp/logs/access.log" || true)
check "replica 1 was serving through nginx before it stopped ($r1_served requests)" [ "$r1_served" -gt 0 ]
retried=$(grep -c 'upstream=[^ ]*, ' "$tmp/logs/access.log" || true)
echo "     (requests nginx passed on to the other replica after a failure: $retried)"
st=$(req after "$lb/v1/sources/$id?format=txt&x=after")
check "after the stop, nginx still answers from replica 2: 200 (got $st)" [ "$st" = 200 ]

echo "== load test smoke through nginx (replica 2 alone)"
for s in hits new mixed; do
  check "deploy/loadtest/run.sh $s (60 requests)" \
    "$repo/deploy/loadtest/run.sh" -u "$lb" -n 60 -c 4 -t 60 "$s"
done
check "run.sh refuses a non-loopback target" \
  expect_rc 2 "$repo/deploy/loadtest/run.sh" -u http://192.0.2.1:8080 -n 1 hits
check "wrk.sh refuses a non-loopback target" \
  expect_rc 2 "$repo/deploy/loadtest/wrk.sh" -u http://192.0.2.1:8080 -d 1 hits
if command -v wrk >/dev/null; then
  check "deploy/loadtest/wrk.sh mixed (2 s, 8 connections)" \
    "$repo/deploy/loadtest/wrk.sh" -u "$lb" -d 2 -c 8 -t 2 mixed
else
  not_ok "wrk is not installed (make deps)"
fi

echo "== metrics named in README.md exist"
# Every beamgrid_* name in the README but the Python client's module
# (clients/python/beamgrid_client.py), which is not a metric.
st=$(req metrics "http://127.0.0.1:$r2_port/metrics")
missing=""
while read -r m; do
  grep -q "^$m" "$tmp/metrics.b" || missing="$missing $m"
done < <(grep -o 'beamgrid_[a-z_]*[a-z]' "$repo/README.md" | grep -vx 'beamgrid_client' | sort -u)
check "every metric README.md names is in /metrics (missing:${missing:- none})" \
  cond '[ "$st" = 200 ] && [ -z "$missing" ]'
st=$(req lbmetrics "$lb/metrics")
check "/metrics through nginx from loopback: 200 (got $st)" [ "$st" = 200 ]

echo "== drain: a request in flight when SIGTERM arrives completes"
# A large grid (~7 MB as .npy) read slowly, straight from replica 2.
st=$(req big "${json[@]}" --data-raw '{"divergence_mrad":1,"divsteps":101,"dispersion_percent":0.2,"dispsteps":21}' \
       "http://127.0.0.1:$r2_port/v1/sources")
big=$(hdr big content-location)
check "large grid computed on replica 2 (got $st)" cond '[ "$st" = 200 ] && [ -n "$big" ]'
/usr/bin/python3 "$here/slow_get.py" 127.0.0.1 "$r2_port" "$big?format=npy" 65536 0.01 > "$tmp/slow.out" &
slow=$!
pids+=("$slow")
sleep 0.3
t0=$SECONDS
stop_pid "$r2_pid" 15
check "replica 2 exits 0 after SIGTERM (got $STOP_RC, in $((SECONDS - t0)) s)" [ "$STOP_RC" = 0 ]
wait "$slow" || true
read -r sst slen sgot ssecs < "$tmp/slow.out" || true
check "the slow download in flight at SIGTERM completed: status ${sst:-none}, ${sgot:-0} of ${slen:-?} bytes in ${ssecs:-?} s" \
  cond '[ "${sst:-}" = 200 ] && [ "${sgot:-0}" = "${slen:-x}" ] && [ "${sgot:-0}" -gt 4000000 ]'
if [ "$FAILED" -gt 0 ]; then
  echo "--- nginx error log"; tail -n 20 "$tmp/logs/error.log"
  echo "--- replica logs"; tail -n 5 "$tmp/r1.log" "$tmp/r2.log"
fi
summary nginx-test
