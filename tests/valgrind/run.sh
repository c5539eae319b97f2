#!/usr/bin/env bash
# The server under valgrind (memcheck) over a set of requests: good ones in
# every representation, by id, 304s, bad JSON, out-of-range values, a body
# past the limit, unknown paths, wrong methods, chunked uploads, large grids
# computed on the pool and streamed, a download abandoned halfway, raw
# garbage. Then SIGTERM: the server must exit 0, and valgrind must report
# no error and no definitely lost block (--error-exitcode=99).
#   tests/valgrind/run.sh          (BEAMGRID_BIN: the server, default build/beamgrid)
# Closes with "valgrind: N passed, N failed"; exits 1 on any failure.
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
bin=${BEAMGRID_BIN:-$repo/build/beamgrid}
# ok, not_ok, summary; start_server (tests/support/server.sh)
# shellcheck source-path=SCRIPTDIR source=../deploy/lib.sh
. "$repo/tests/deploy/lib.sh"
command -v valgrind >/dev/null || { echo "valgrind is not installed (apt-get install valgrind)" >&2; exit 2; }
tmp=$(mktemp -d)
pid=""
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

started=0
start_server 120 "$tmp/out" "$tmp/stderr" \
  valgrind --quiet --error-exitcode=99 --leak-check=full \
  --errors-for-leak-kinds=definite --show-leak-kinds=definite \
  --suppressions="$repo/tests/valgrind/beamgrid.supp" --log-file="$tmp/valgrind.log" \
  "$bin" --port 0 --inline-max-kb 64 --max-body-kb 4 --cache-mb 1 \
    --log-file "$tmp/server.log" && started=1
pid=$SERVER_PID port=$SERVER_PORT
if [ "$started" = 0 ]; then
  not_ok "server did not start under valgrind: $(cat "$tmp/out")"
  cat "$tmp/stderr" "$tmp/valgrind.log" >&2 || true
  summary valgrind || true
  exit 1
fi
base=http://127.0.0.1:$port
echo "beamgrid under valgrind on $base"

# expect STATUS DESCRIPTION CURL-ARGS...: one request, its status checked.
expect() {
  local want=$1 what=$2 got
  shift 2
  got=$(curl -s -o /dev/null -w '%{http_code}' -m 120 "$@") || got="curl-error-$?"
  if [ "$got" = "$want" ]; then ok "$what ($got)"; else not_ok "$what: got $got, want $want"; fi
}
json=(-H 'Content-Type: application/json')
small='{"divergence_mrad":0.5,"divsteps":9,"dispersion_percent":0.1,"dispsteps":3}'
large='{"divergence_mrad":1,"divsteps":60,"round_div":false,"dispsteps":2,"dispersion_percent":0.1}'

expect 200 healthz "$base/healthz"
expect 200 readyz "$base/readyz"
expect 200 openapi "$base/openapi.yaml"
expect 200 page "$base/"
for f in json npy bin txt npz svg; do
  expect 200 "small grid as $f" "${json[@]}" -d "$small" "$base/v1/sources?format=$f"
  expect 200 "small grid as $f again (hit)" "${json[@]}" -d "$small" "$base/v1/sources?format=$f"
  expect 200 "large grid as $f (pool, streamed)" "${json[@]}" -d "$large" "$base/v1/sources?format=$f"
done
expect 200 "float32 npy" "${json[@]}" -d "$small" "$base/v1/sources?format=npy&dtype=float32"
expect 200 "float32 npz" "${json[@]}" -d "$large" "$base/v1/sources?format=npz&dtype=float32"
loc=$(curl -s -o /dev/null -w '%header{content-location}' "${json[@]}" -d "$small" "$base/v1/sources")
etag=$(curl -s -o /dev/null -w '%header{etag}' "$base$loc")
expect 200 "by id" "$base$loc?format=npy"
expect 304 "by id, If-None-Match" -H "If-None-Match: $etag" "$base$loc"
expect 200 "HEAD by id" -I "$base$loc"
torch='{"semantics":"nanobrag_torch","hdivsteps":51,"vdivsteps":51,"divergence_mrad":0.5,"dispsteps":21,"dispersion_percent":0.2,"divsteps":3}'
for f in json npy txt 'npy&dtype=float32' 'bin&dtype=float32'; do
  expect 200 "torch grid as $f (warnings)" "${json[@]}" -d "$torch" "$base/v1/sources?format=$f"
done
expect 200 "torch fallback" "${json[@]}" -d '{"semantics":"nanobrag_torch","dtype":"float64","divsteps":5,"divergence_mrad":1}' "$base/v1/sources"
expect 422 "torch refusal" "${json[@]}" -d '{"semantics":"nanobrag_torch","source_distance_mm":1}' "$base/v1/sources"
expect 400 "malformed JSON" "${json[@]}" -d '{"divsteps": ' "$base/v1/sources"
expect 400 "unknown field" "${json[@]}" -d '{"<script>\u0000":1}' "$base/v1/sources"
expect 422 "negative value" "${json[@]}" -d '{"lambda_A":-1}' "$base/v1/sources"
expect 422 "too many sources" "${json[@]}" -d '{"divsteps":100000,"divergence_mrad":1,"round_div":false}' "$base/v1/sources"
head -c 100000 /dev/zero | tr '\0' ' ' > "$tmp/big.json"
expect 413 "body past the limit" "${json[@]}" --data-binary @"$tmp/big.json" "$base/v1/sources"
expect 415 "not JSON" -H 'Content-Type: text/plain' -d '{}' "$base/v1/sources"
expect 406 "unacceptable" "${json[@]}" -H 'Accept: image/png' -d '{}' "$base/v1/sources"
expect 404 "unknown id" "$base/v1/sources/AAAA"
expect 404 "unknown path" "$base/nope/%00%ff"
expect 405 "wrong method" -X DELETE "$base/healthz"
expect 200 "chunked upload" "${json[@]}" -H 'Transfer-Encoding: chunked' -d "$small" "$base/v1/sources"
# The beam models (docs/beams.md): a table spectrum owns memory in every
# copy of its resolved set (request, compute task, body task, stream).
table='{"divergence_mrad":0.3,"divsteps":5,"spectrum":{"kind":"table","lambda_A":[1.0,1.001,1.002],"weights":[1,2,1]},"divergence_profile":{"kind":"gaussian","sigma_h_mrad":0.1,"sigma_v_mrad":0.1},"weights":{"normalize":"mean"}}'
bigtable='{"divergence_mrad":1,"divsteps":60,"round_div":false,"spectrum":{"kind":"table","energy_eV":[9000,9001,9002],"weights":[1,0,3]}}'
for f in json npy txt lam dxtbx; do
  expect 200 "table spectrum as $f" "${json[@]}" -d "$table" "$base/v1/sources?format=$f"
  expect 200 "large table-spectrum grid as $f (pool)" "${json[@]}" -d "$bigtable" "$base/v1/sources?format=$f"
done
tloc=$(curl -s -o /dev/null -w '%header{content-location}' "${json[@]}" -d "$table" "$base/v1/sources")
expect 200 "table spectrum by id" "$base$tloc?format=dxtbx"
expect 200 "Gaussian quantiles" "${json[@]}" -d '{"hdivsteps":3,"spectrum":{"kind":"gaussian","sampling":"quantiles","fwhm_eV":5,"channels":4},"divergence_profile":{"kind":"gaussian","sampling":"quantiles","sigma_h_mrad":0.1,"sigma_v_mrad":0.1}}' "$base/v1/sources?format=lam"
expect 422 "table weight refused" "${json[@]}" -d '{"spectrum":{"kind":"table","lambda_A":[1,2],"weights":[1,-1]}}' "$base/v1/sources"
expect 400 "table weight of a wrong type" "${json[@]}" -d '{"spectrum":{"kind":"table","lambda_A":[1,2],"weights":[1,"x"]}}' "$base/v1/sources"
expect 422 "bad .lam line" "${json[@]}" -d '{"spectrum":{"kind":"lam","text":"# h\n1.0 2.0\n"}}' "$base/v1/sources"
# Many distinct grids: the 1 MiB cache evicts.
for i in $(seq 1 12); do
  curl -s -o /dev/null "${json[@]}" -d "{\"divergence_mrad\":0.5,\"divsteps\":40,\"lambda_A\":1.$i}" "$base/v1/sources?format=txt" || true
done
ok "12 distinct grids through a 1 MiB cache"
# A download abandoned halfway, and raw garbage.
curl -s -o /dev/null --limit-rate 20k -m 1 "${json[@]}" -d "$large" "$base/v1/sources?format=txt" || true
ok "download abandoned"
{ printf 'GARBAGE \x01\xff\r\n\r\n' >/dev/tcp/127.0.0.1/"$port"; } 2>/dev/null || true
ok "raw garbage sent"
expect 200 metrics "$base/metrics"
# Wait (bounded) until every earlier request has ended, the abandoned
# download included: only the /metrics request itself is in flight.
settled=0
for _ in $(seq 1 600); do
  inflight=$(curl -s -m 10 "$base/metrics" | awk '$1 == "beamgrid_inflight_requests" { print $2 }') || inflight=""
  if [ "$inflight" = 1 ]; then settled=1; break; fi
  sleep 0.05
done
if [ "$settled" = 1 ]; then ok "every request ended"; else not_ok "requests still in flight: ${inflight:-?}"; fi

kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
pid=""
if [ "$rc" = 0 ]; then
  ok "clean exit under valgrind"
else
  not_ok "exit status $rc (99: valgrind found errors)"
  cat "$tmp/valgrind.log"
fi
if grep -q "definitely lost: [1-9]" "$tmp/valgrind.log"; then
  not_ok "definitely lost blocks"
  cat "$tmp/valgrind.log"
fi
summary valgrind
