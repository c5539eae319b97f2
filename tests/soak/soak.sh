#!/usr/bin/env bash
# Soak and overload: beamgrid on a loopback port under wrk well past its
# capacity, with the "soak" mix of deploy/loadtest/beamgrid.lua (repeated
# grids by POST and by id, new grids, malformed JSON, unknown fields,
# conflicting fields, and large grids computed on the pool: one pool thread
# of one OpenMP thread and a queue of --max-pending 1, so they are shed).
#
#   tests/soak/soak.sh [-d SECONDS] [-c CONNECTIONS] [-t THREADS]
#   (defaults 20 s, 64 connections, 2 wrk threads; BEAMGRID_BIN: the server)
#
# Passes when: no 5xx but 503 sheds, no socket errors, the server's peak
# memory stays within --max-memory-mb plus OVERHEAD_MB (connection buffers,
# thread stacks, allocator slack, the binary): the peak RSS (VmHWM) plus
# the largest total of the memory files holding cached bodies (shared
# memory, not in RSS), sampled every 0.2 s; it answers at once
# when the load stops (health, a small and a large grid, each 200 within a
# second), and SIGTERM ends it with exit status 0. Closes with
# "soak: N passed, N failed"; exits 1 on any failure, 2 on a usage error.
set -euo pipefail

usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; }

repo=$(cd "$(dirname "$0")/../.." && pwd)
# ok, not_ok, check, summary; start_server (tests/support/server.sh)
# shellcheck source-path=SCRIPTDIR source=../deploy/lib.sh
. "$repo/tests/deploy/lib.sh"
bin=${BEAMGRID_BIN:-$repo/build/beamgrid}
dur=20
conns=64
threads=2
CACHE_MB=64
MEMORY_MB=160
OVERHEAD_MB=96
while [ $# -gt 0 ]; do
  case "$1" in
    -d) dur=${2:?}; shift 2 ;;
    -c) conns=${2:?}; shift 2 ;;
    -t) threads=${2:?}; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "unknown argument $1" >&2; usage >&2; exit 2 ;;
  esac
done
for v in "$dur" "$conns" "$threads"; do
  [[ "$v" =~ ^[1-9][0-9]*$ ]] || { echo "durations and counts must be positive integers" >&2; exit 2; }
done
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 2; }

tmp=$(mktemp -d)
pid=""
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

started=0
start_server 10 "$tmp/out" - env UV_THREADPOOL_SIZE=1 "$bin" --port 0 --cache-mb "$CACHE_MB" \
  --max-memory-mb "$MEMORY_MB" --max-pending 1 --compute-threads 1 \
  --inline-max-kb 800 --log-level warn \
  --log-file "$tmp/server.log" && started=1
pid=$SERVER_PID port=$SERVER_PORT
if [ "$started" = 0 ]; then
  not_ok "server did not start: $(cat "$tmp/out")"
  summary soak || true
  exit 1
fi
base=http://127.0.0.1:$port
json=(-H 'Content-Type: application/json')
hit='{"divergence_mrad":0.5,"divsteps":9,"dispersion_percent":0.1,"dispsteps":3}'
loc=$(curl -s -o /dev/null -w '%header{content-location}' -m 10 "${json[@]}" -d "$hit" "$base/v1/sources")
id=${loc##*/}
echo "beamgrid on $base: wrk $dur s, $conns connections, $threads threads"

# memfd_kb: the kB of the server's memory files (cached bodies).
memfd_kb() {
  local f total=0
  for f in /proc/"$pid"/fd/*; do
    case "$(readlink "$f" 2>/dev/null)" in
      /memfd:*) total=$((total + $(stat -L -c %s "$f" 2>/dev/null || echo 0))) ;;
    esac
  done
  echo $((total / 1024))
}
( peak=0
  while kill -0 "$pid" 2>/dev/null; do
    m=$(memfd_kb)
    if [ "$m" -gt "$peak" ]; then peak=$m; echo "$peak" >"$tmp/memfd_peak"; fi
    sleep 0.2
  done ) &
sampler=$!

timeout -k 5 $((dur + 60)) wrk -t "$threads" -c "$conns" -d "${dur}s" --timeout 30s \
  --latency -s "$repo/deploy/loadtest/beamgrid.lua" "$base" -- soak "$id" 1 \
  | tee "$tmp/wrk.out" || true

# Recovery: the moment the load is gone.
# status_within PATH BODY: "STATUS SECONDS" of one request.
status_within() {
  local path=$1 body=$2
  if [ -n "$body" ]; then
    curl -s -o /dev/null -w '%{http_code} %{time_total}' -m 10 "${json[@]}" -d "$body" "$base$path" || echo "000 10"
  else
    curl -s -o /dev/null -w '%{http_code} %{time_total}' -m 10 "$base$path" || echo "000 10"
  fi
}
recovered() {
  local got status secs
  got=$(status_within "$1" "${2:-}")
  read -r status secs <<<"$got"
  echo "     $1: $status in $secs s"
  [ "$status" = 200 ] && awk -v s="$secs" 'BEGIN { exit !(s < 1.0) }'
}
check "healthy at once after the load" recovered /healthz
check "a small grid at once after the load" recovered /v1/sources '{"divergence_mrad":0.4,"divsteps":11}'
check "a large grid at once after the load" recovered "/v1/sources?format=bin" \
  '{"divergence_mrad":1,"divsteps":260,"round_div":false}'

num() { sed -n "s/^$1=\([0-9]*\).*/\1/p; s/.* $1=\([0-9]*\).*/\1/p" "$tmp/wrk.out" | head -n1; }
requests=$(sed -n 's/^requests \([0-9]*\) in .*/\1/p' "$tmp/wrk.out")
rate=$(sed -n 's/.*, \([0-9.]*\) requests\/s$/\1/p' "$tmp/wrk.out")
shed=$(num shed_503)
other=$(num other_5xx)
sock=$(num errors_socket)
check "wrk ran (${requests:-0} requests)" test -n "$requests" -a "${requests:-0}" -gt 0
check "no 5xx but sheds (${other:-?} other 5xx; ${shed:-?} sheds)" test "${other:-1}" = 0
check "no socket errors (${sock:-?})" test "${sock:-1}" = 0

hwm_kb=$(awk '/^VmHWM:/ {print $2}' "/proc/$pid/status")
rss_kb=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status")
memfd_peak_kb=$(cat "$tmp/memfd_peak" 2>/dev/null || echo 0)
peak_kb=$((hwm_kb + memfd_peak_kb))
bound_mb=$((MEMORY_MB + OVERHEAD_MB))
metrics=$(curl -s -m 5 "$base/metrics")
mval() { awk -v n="$1" '$1 == n {print $2}' <<<"$metrics"; }
echo "     peak RSS $((hwm_kb / 1024)) MiB (now $((rss_kb / 1024)) MiB) + memory files" \
     "$((memfd_peak_kb / 1024)) MiB = $((peak_kb / 1024)) MiB, bound $bound_mb MiB" \
     "(--max-memory-mb $MEMORY_MB + $OVERHEAD_MB); cache $(mval beamgrid_cache_bytes) bytes" \
     "of $((CACHE_MB << 20)); shed_total $(mval beamgrid_shed_total)"
check "peak memory $((peak_kb / 1024)) MiB within $bound_mb MiB" test "$peak_kb" -le $((bound_mb * 1024))
check "cache within --cache-mb" test "$(mval beamgrid_cache_bytes)" -le $((CACHE_MB << 20))

kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
pid=""
wait "$sampler" 2>/dev/null || true
check "SIGTERM: exit 0" test "$rc" = 0
if grep -q '"level":"error"' "$tmp/server.log"; then
  not_ok "errors in the server log"
  grep '"level":"error"' "$tmp/server.log" | head -5
fi
echo "soak summary: ${requests:-0} requests, ${rate:-0} requests/s, ${shed:-0} shed (503)," \
     "peak RSS $((hwm_kb / 1024)) MiB + memory files $((memfd_peak_kb / 1024)) MiB"
summary soak
