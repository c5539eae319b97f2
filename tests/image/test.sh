#!/usr/bin/env bash
# Single-quoted $names below are conditions that cond evaluates when it runs.
# shellcheck disable=SC2016
# make image-test: the real image ($IMAGE, built by make image) in real
# containers, with docker or podman (tests/image/engine.sh), on loopback:
#   1. one container, run as compose runs it (read-only root filesystem,
#      tmpfs /tmp, no capabilities, no new privileges): the README's
#      requests answer the same status, ETag, Content-Location and bytes as
#      build/beamgrid on the host; its process runs as uid 10001; its root
#      filesystem refuses writes; the image's HEALTHCHECK passes;
#   2. SIGTERM under load: slow downloads in flight and two clients posting
#      new grids; every download completes, no request is cut, and the
#      container exits 0 within the drain (BEAMGRID_DRAIN_S);
#   3. two replicas and deploy/nginx/beamgrid.conf (Debian's nginx 1.22 in
#      a container, tests/image/nginx.Containerfile), all three on one
#      network (a podman pod; with docker, one shared network namespace):
#      GET by id answered by either replica with the same bytes, both
#      replicas serving through nginx, and no request lost while one
#      replica is stopped (docker/podman stop) under load;
#   4. podman kube play of deploy/k8s's ConfigMap and Deployment (one
#      replica; tests/image/kube_manifest.py): the pod becomes ready through
#      the manifest's own probes, run from outside as the kubelet does
#      (tests/image/kube_probe.py), the ConfigMap's settings are in the
#      environment, it answers like build/beamgrid, runs as uid
#      10001 on a read-only root filesystem, and stops with exit 0.
# Prints the image size. No container engine: says so and fails. Every
# step is bounded; a trap removes the containers, pods and files it made,
# whatever happens.
# Usage: tests/image/test.sh [REPO_ROOT]   (IMAGE, BEAMGRID_BIN)
set -euo pipefail

repo=$(cd "${1:-$(dirname "$0")/../..}" && pwd)
# shellcheck source-path=SCRIPTDIR source=../deploy/lib.sh
. "$repo/tests/deploy/lib.sh"
# shellcheck source-path=SCRIPTDIR source=engine.sh
. "$repo/tests/image/engine.sh"
IMAGE=${IMAGE:-beamgrid:latest}
BEAMGRID_BIN=${BEAMGRID_BIN:-$repo/build/beamgrid}
case "$BEAMGRID_BIN" in /*) ;; *) BEAMGRID_BIN=$repo/$BEAMGRID_BIN ;; esac
py=/usr/bin/python3
NGINX_IMAGE=localhost/beamgrid-test-nginx:latest
DRAIN_S=10

if ! pick_engine; then
  not_ok "no container engine: the image cannot be tested"
  summary image-test
fi
[ -x "$BEAMGRID_BIN" ] || { not_ok "no server binary at $BEAMGRID_BIN (make all)"; summary image-test; }
if ! image_exists "$IMAGE"; then
  not_ok "no image $IMAGE in the $ENGINE store (make image)"
  summary image-test
fi

tag=bgimg-$$
tmp=$(mktemp -d /tmp/beamgrid-image-test.XXXXXX)
ctrs=()
pods=()
pids=()
kube_yaml=""
host_pid=""
cleanup() {
  set +e
  local x
  for x in "${pids[@]}"; do kill -KILL "$x" 2>/dev/null; done
  [ -z "$host_pid" ] || stop_pid "$host_pid" 5
  for x in "${ctrs[@]}"; do rm_ctr "$x"; done
  if [ -n "$kube_yaml" ]; then timeout 60 podman kube down "$kube_yaml" >/dev/null 2>&1; fi
  for x in "${pods[@]}"; do timeout 60 podman pod rm -f "$x" >/dev/null 2>&1; done
  wait 2>/dev/null
  rm -rf "$tmp"
}
# rm_ctr NAME: removes a container, stopping it first if it runs.
rm_ctr() {
  if [ "$ENGINE" = podman ]; then
    timeout 60 podman rm -f -t 2 "$1" >/dev/null 2>&1 || true
  else
    timeout 60 docker rm -f "$1" >/dev/null 2>&1 || true
  fi
}
trap cleanup EXIT
trap 'exit 143' TERM INT
chmod 755 "$tmp"

size=$(image_size "$IMAGE")
echo "image: $IMAGE, $size bytes ($((size / 1024 / 1024)) MiB)"

# run_ctr NAME ARGS...: a detached container with this host's ulimits; the
# engine's own messages go to $tmp/engine.log.
run_ctr() {
  local name=$1
  shift
  ctrs+=("$name")
  if ! eng run -d --name "$name" "${RUN_FLAGS[@]}" "$@" >/dev/null 2>>"$tmp/engine.log"; then
    not_ok "$ENGINE run $name: $(grep -v systemd "$tmp/engine.log" | tail -n 3)"
  fi
}
# As deploy/compose.yaml runs a replica.
hardened=(--read-only --tmpfs /tmp --cap-drop ALL --security-opt no-new-privileges
  -e BEAMGRID_THREADS=2 -e BEAMGRID_COMPUTE_THREADS=2 -e BEAMGRID_CACHE_MB=256
  -e BEAMGRID_MAX_MEMORY_MB=1024 -e "BEAMGRID_DRAIN_S=$DRAIN_S")

# wait_ok URL SECONDS: until URL answers 200.
wait_ok() {
  local end=$((SECONDS + $2))
  while [ "$SECONDS" -lt "$end" ]; do
    [ "$(curl -s -m 2 -o /dev/null -w '%{http_code}' "$1" || true)" = 200 ] && return 0
    sleep 0.1
  done
  return 1
}
# req NAME CURL_ARGS...: body to $tmp/NAME.b, headers to $tmp/NAME.h; prints the status.
req() {
  local n=$1
  shift
  curl -sS -m 30 -o "$tmp/$n.b" -D "$tmp/$n.h" -w '%{http_code}' "$@" 2>>"$tmp/curl.log" || echo 000
}
# hdr NAME HEADER: a header of the response saved by req.
hdr() { tr -d '\r' <"$tmp/$1.h" | awk -v h="$2:" 'tolower($1) == h { $1 = ""; sub(/^ /, ""); v = $0 } END { print v }'; }
json=(-H 'Content-Type: application/json')
# ctr_uid NAME: the uid of the container's main process, seen from the host.
ctr_uid() {
  local pid
  pid=$("$ENGINE" inspect --format '{{.State.Pid}}' "$1")
  awk '/^Uid:/ { print $2 }' "/proc/$pid/status"
}
ctr_exit() { "$ENGINE" inspect --format '{{.State.ExitCode}}' "$1"; }
ctr_running() { [ "$("$ENGINE" inspect --format '{{.State.Running}}' "$1" 2>/dev/null)" = true ]; }
rootfs_read_only() {
  [ "$("$ENGINE" inspect --format '{{.HostConfig.ReadonlyRootfs}}' "$1")" = true ] &&
    ! "$ENGINE" exec "$1" sh -c ': > /probe' 2>/dev/null &&
    "$ENGINE" exec "$1" sh -c ': > /tmp/probe'
}
# healthcheck_cmd NAME: the container's HEALTHCHECK command (shell form).
healthcheck_cmd() {
  "$ENGINE" inspect --format '{{json .Config.Healthcheck.Test}}' "$1" |
    "$py" -c 'import json, sys; t = json.load(sys.stdin); print(t[1] if t and t[0] == "CMD-SHELL" else "")'
}
# healthcheck NAME: the container's HEALTHCHECK, run now by the engine
# (podman), or as the engine would (docker exec of the command).
healthcheck() {
  if [ "$ENGINE" = podman ]; then
    podman healthcheck run "$1" >/dev/null 2>>"$tmp/engine.log"
  else
    local cmd
    cmd=$(healthcheck_cmd "$1")
    [ -n "$cmd" ] && docker exec "$1" sh -c "$cmd"
  fi
}
# healthcheck_fails_elsewhere NAME: the same command pointed at a port
# where nothing listens fails (the probe can fail).
healthcheck_fails_elsewhere() {
  local cmd
  cmd=$(healthcheck_cmd "$1")
  [ -n "$cmd" ] && ! timeout 10 "$ENGINE" exec -e BEAMGRID_PORT=9 "$1" sh -c "$cmd" >/dev/null 2>&1
}
show_logs() {
  local c
  for c in "$@"; do
    echo "--- $ENGINE logs $c (last 10 lines)"
    timeout 20 "$ENGINE" logs "$c" 2>&1 | tail -n 10
  done
  if [ -s "$tmp/engine.log" ]; then
    echo "--- engine messages (without podman's complaints about systemd timers)"
    grep -v systemd "$tmp/engine.log" | tail -n 10 || true
  fi
}

# The README's requests (section "Using it"): NAME|QUERY|ACCEPT|BODY.
readme_requests=(
  'json||application/json|{"divergence_mrad":0.5,"divsteps":25,"dispersion_percent":0.1,"dispsteps":9}'
  'npy||application/x-npy|{"divergence_mrad":0.5,"divsteps":25,"dispersion_percent":0.1,"dispsteps":9}'
  'npy32|?format=npy&dtype=float32||{"divergence_mrad":0.5,"divsteps":25,"dispersion_percent":0.1,"dispsteps":9}'
  'bin|?format=bin||{"hdivrange_mrad":0.28,"hdivstep_mrad":0.02,"vdivrange_mrad":0.28,"vdivstep_mrad":0.02}'
  'txt|?format=txt||{"divergence_mrad":0.5,"divsteps":25}'
  'default|||{}'
)
# same_as_host PREFIX BASE_URL: every README request against BASE_URL gives
# what build/beamgrid on the host gives (status, ETag, Content-Location,
# bytes), then the GET of a Content-Location and its 304.
same_as_host() {
  local pre=$1 base=$2 r n q a b st hst accept=()
  for r in "${readme_requests[@]}"; do
    IFS='|' read -r n q a b <<<"$r"
    accept=()
    [ -z "$a" ] || accept=(-H "Accept: $a")
    st=$(req "$pre-$n" "${json[@]}" "${accept[@]}" --data-raw "$b" "$base/v1/sources$q")
    hst=$(req "host-$n" "${json[@]}" "${accept[@]}" --data-raw "$b" "$host/v1/sources$q")
    check "$pre: POST /v1/sources$q ($n): 200 and the host's ETag, Content-Location and $(wc -c <"$tmp/$pre-$n.b") bytes, byte for byte" \
      cond "[ $st = 200 ] && [ $hst = 200 ] && [ -n \"\$(hdr $pre-$n etag)\" ] &&
            [ \"\$(hdr $pre-$n etag)\" = \"\$(hdr host-$n etag)\" ] &&
            [ \"\$(hdr $pre-$n content-location)\" = \"\$(hdr host-$n content-location)\" ] &&
            cmp -s '$tmp/$pre-$n.b' '$tmp/host-$n.b'"
  done
  check "$pre: {} has the id Ag (Content-Location $(hdr "$pre-default" content-location))" \
    [ "$(hdr "$pre-default" content-location)" = /v1/sources/Ag ]
  check "$pre: the .npy body is NumPy's format" cond "head -c 6 '$tmp/$pre-npy.b' | grep -q NUMPY"
  local loc
  loc=$(hdr "$pre-txt" content-location)
  st=$(req "$pre-get" "$base$loc?format=npy")
  hst=$(req host-get "$host$loc?format=npy")
  check "$pre: GET $loc?format=npy: 200, the host's bytes, Cache-Control immutable" \
    cond "[ $st = 200 ] && [ $hst = 200 ] && cmp -s '$tmp/$pre-get.b' '$tmp/host-get.b' &&
          has_word immutable \"\$(hdr $pre-get cache-control)\""
  st=$(req "$pre-inm" -H "If-None-Match: $(hdr "$pre-get" etag)" "$base$loc?format=npy")
  check "$pre: If-None-Match: 304 (got $st)" [ "$st" = 304 ]
}

echo "== build/beamgrid on the host (the reference answers)"
start_beamgrid "$tmp/host.log" --log-level warn
host_pid=$BG_PID
host=http://127.0.0.1:$BG_PORT
ok "build/beamgrid on $host"

echo "== one container ($ENGINE run, as compose runs a replica)"
f0=$FAILED
check "the image's user is 10001:10001 ($(eng image inspect --format '{{.Config.User}}' "$IMAGE"))" \
  [ "$(eng image inspect --format '{{.Config.User}}' "$IMAGE")" = 10001:10001 ]
check "the image has a HEALTHCHECK" \
  cond '[ "$(eng image inspect --format "{{json .Config.Healthcheck}}" "$IMAGE")" != null ]'
one=$tag-one
p1=$(free_port)
u1=http://127.0.0.1:$p1
run_ctr "$one" -p "127.0.0.1:$p1:8080" "${hardened[@]}" "$IMAGE"
check "the container serves /healthz on $u1 within 30 s" wait_ok "$u1/healthz" 30
same_as_host container "$u1"
check "its process runs as uid 10001, seen from the host (uid $(ctr_uid "$one"))" \
  [ "$(ctr_uid "$one")" = 10001 ]
check "id -u inside is 10001" [ "$(eng exec "$one" id -u)" = 10001 ]
check "its root filesystem refuses writes; /tmp (tmpfs) takes them" rootfs_read_only "$one"
check "the HEALTHCHECK passes ($ENGINE)" healthcheck "$one"
check "the HEALTHCHECK fails against a port where nothing listens" healthcheck_fails_elsewhere "$one"
if [ "$ENGINE" = podman ]; then
  check "podman reports it healthy" \
    [ "$(podman inspect --format '{{.State.Health.Status}}' "$one")" = healthy ]
fi

[ "$FAILED" = "$f0" ] || show_logs "$one"

echo "== SIGTERM under load: in-flight requests complete, exit 0 within the drain"
f0=$FAILED
big='{"divergence_mrad":1,"divsteps":101,"dispersion_percent":0.2,"dispsteps":21}'
st=$(req big "${json[@]}" --data-raw "$big" "$u1/v1/sources")
bigloc=$(hdr big content-location)
check "a large grid for slow downloads (got $st, $bigloc)" cond '[ "$st" = 200 ] && [ -n "$bigloc" ]'
# Three downloads of ~7 MB read at ~3 MB/s: seconds in flight, well inside
# the drain.
for i in 1 2 3; do
  "$py" "$repo/tests/deploy/slow_get.py" 127.0.0.1 "$p1" "$bigloc?format=npy" 65536 0.02 >"$tmp/slow$i.out" &
  pids+=("$!")
done
slow_pids=("${pids[@]}")
# client N: new grids by POST until $tmp/stop exists (at most 400); one
# "CURL_EXIT STATUS" line per request in $tmp/client_N.
client() {
  local n=$1 url=$2 i st rc lam
  for ((i = 0; i < 400; i++)); do
    [ ! -e "$tmp/stop" ] || break
    lam=$(awk -v n="$n" -v i="$i" 'BEGIN { printf "%.6f", 1.2 + n * 0.01 + i * 0.0001 }')
    rc=0
    st=$(curl -sS -m 20 -o /dev/null -w '%{http_code}' "${json[@]}" \
      --data-raw "{\"divergence_mrad\":0.6,\"divsteps\":31,\"dispsteps\":5,\"dispersion_percent\":0.2,\"lambda_A\":$lam}" \
      "$url" 2>/dev/null) || rc=$?
    echo "$rc ${st:-000}" >>"$tmp/client_$n"
  done
}
: >"$tmp/client_1"
: >"$tmp/client_2"
client 1 "$u1/v1/sources" &
pids+=("$!")
client 2 "$u1/v1/sources" &
pids+=("$!")
# metric NAME: its value on the container, or -1.
metric() { curl -s -m 2 "$u1/metrics" | awk -v m="$1" '$1 == m { v = $2 } END { print (v == "" ? -1 : v) }'; }
end=$((SECONDS + 15))
while [ "$(metric beamgrid_inflight_requests)" -lt 3 ] || [ "$(wc -l <"$tmp/client_1")" -lt 3 ]; do
  [ "$SECONDS" -lt "$end" ] || break
  sleep 0.05
done
inflight=$(metric beamgrid_inflight_requests)
check "under load when signalled: $inflight requests in flight, clients running" [ "$inflight" -ge 3 ]
t0=$(date +%s%N)
eng kill --signal TERM "$one" >/dev/null
end=$((SECONDS + DRAIN_S + 5))
while ctr_running "$one" && [ "$SECONDS" -lt "$end" ]; do sleep 0.05; done
took_ms=$((($(date +%s%N) - t0) / 1000000))
: >"$tmp/stop"
check "the container exited within the drain (${took_ms} ms; drain ${DRAIN_S} s)" \
  cond '! ctr_running "$one" && [ "$took_ms" -le $((DRAIN_S * 1000 + 1000)) ]'
check "exit status 0 ($(ctr_exit "$one"))" [ "$(ctr_exit "$one")" = 0 ]
for i in 1 2 3; do
  wait "${slow_pids[$((i - 1))]}" || true
  read -r sst slen sgot ssecs <"$tmp/slow$i.out" || true
  check "download $i, in flight at SIGTERM, completed: ${sst:-none}, ${sgot:-0} of ${slen:-?} bytes in ${ssecs:-?} s" \
    cond '[ "${sst:-}" = 200 ] && [ "${sgot:-0}" = "${slen:-x}" ] && [ "${sgot:-0}" -gt 4000000 ]'
done
wait "${pids[-1]}" "${pids[-2]}" || true
posted=$(cat "$tmp/client_1" "$tmp/client_2" | awk '$2 == 200' | wc -l)
# 200; after the signal: 503 (draining) or a refused connection (curl 7).
# Never a cut connection (curl 18, 52, 56) or another status.
cut=$(cat "$tmp/client_1" "$tmp/client_2" | awk '!($1 == 0 && ($2 == 200 || $2 == 503)) && $1 != 7' | wc -l)
check "the posting clients: $posted answered 200, none cut or failed ($cut)" \
  cond '[ "$posted" -gt 0 ] && [ "$cut" = 0 ]'
[ "$cut" = 0 ] || sort "$tmp/client_1" "$tmp/client_2" | uniq -c
eng logs "$one" >"$tmp/one.log" 2>&1 || true
check "its log says it drained and exited cleanly" \
  cond 'grep -q "\"event\":\"draining\"" "$tmp/one.log" && grep -q "clean exit" "$tmp/one.log"'
[ "$FAILED" = "$f0" ] || show_logs "$one"

echo "== two replicas behind deploy/nginx/beamgrid.conf, on one network"
f0=$FAILED
# Built every run (the engine's layer cache makes a repeat take a second),
# so a changed Containerfile is never tested stale.
nb=(build -q)
[ "$ENGINE" != podman ] || nb+=(--format docker --pull=never --network=host "${RUN_FLAGS[@]}")
check "nginx image $NGINX_IMAGE built (Debian's nginx-light)" \
  cond 'ENG_TIMEOUT=600 eng "${nb[@]}" -t "$NGINX_IMAGE" -f "$repo/tests/image/nginx.Containerfile" \
          "$repo/tests/image" >/dev/null 2>>"$tmp/engine.log"'
lbp=$(free_port)
r1p=$(free_port)
r2p=$(free_port)
lb=http://127.0.0.1:$lbp
publish=(-p "127.0.0.1:$lbp:8080" -p "127.0.0.1:$r1p:8081" -p "127.0.0.1:$r2p:8082")
if [ "$ENGINE" = podman ]; then
  pods+=("$tag-pod")
  check "podman pod create $tag-pod (ports 8080, 8081, 8082 on 127.0.0.1)" \
    cond 'podman pod create --name "$tag-pod" "${publish[@]}" >/dev/null 2>>"$tmp/engine.log"'
  net=(--pod "$tag-pod")
else
  # A container that only holds the network namespace, like a pod's infra.
  run_ctr "$tag-net" "${publish[@]}" --entrypoint sleep "$IMAGE" infinity
  net=(--network "container:$tag-net")
fi
UPSTREAM_1=127.0.0.1:8081 UPSTREAM_2=127.0.0.1:8082 LISTEN=8080 CACHE_DIR=/var/cache/nginx/beamgrid \
  envsubst '${UPSTREAM_1} ${UPSTREAM_2} ${LISTEN} ${CACHE_DIR}' \
  <"$repo/deploy/nginx/beamgrid.conf" >"$tmp/beamgrid.conf"
chmod 644 "$tmp/beamgrid.conf"
run_ctr "$tag-r1" "${net[@]}" "${hardened[@]}" -e BEAMGRID_PORT=8081 "$IMAGE"
run_ctr "$tag-r2" "${net[@]}" "${hardened[@]}" -e BEAMGRID_PORT=8082 "$IMAGE"
run_ctr "$tag-nginx" "${net[@]}" -v "$tmp/beamgrid.conf:/etc/nginx/conf.d/beamgrid.conf:ro" "$NGINX_IMAGE"
check "replica 1 ready within 30 s" wait_ok "http://127.0.0.1:$r1p/readyz" 30
check "replica 2 ready within 30 s" wait_ok "http://127.0.0.1:$r2p/readyz" 30
check "nginx up within 30 s" wait_ok "$lb/nginx-healthz" 30
body='{"divergence_mrad":0.5,"divsteps":25,"dispersion_percent":0.1,"dispsteps":9}'
st=$(req lbpost "${json[@]}" --data-raw "$body" "$lb/v1/sources")
id=$(hdr lbpost content-location)
check "POST through nginx: 200 and a Content-Location ($id)" cond '[ "$st" = 200 ] && [ -n "$id" ]'
for r in 1 2; do
  port=r${r}p
  st=$(req "rget$r" "http://127.0.0.1:${!port}$id?format=npy")
  check "replica $r answers GET $id: 200" [ "$st" = 200 ]
done
check "both replicas give the same bytes and ETag, and the host's" \
  cond 'cmp -s "$tmp/rget1.b" "$tmp/rget2.b" && [ "$(hdr rget1 etag)" = "$(hdr rget2 etag)" ] &&
        [ "$(req hget "$host$id?format=npy")" = 200 ] && cmp -s "$tmp/rget1.b" "$tmp/hget.b"'
# GETs of the id through nginx, each a different cache key (query), so each
# reaches a replica; round robin spreads them over both.
bad=0
for i in 1 2 3 4 5 6; do
  st=$(req "lbget$i" "$lb$id?format=npy&n=$i")
  [ "$st" = 200 ] && cmp -s "$tmp/lbget$i.b" "$tmp/rget1.b" || bad=$((bad + 1))
done
check "6 GETs of the id through nginx: all 200 with the same bytes ($bad not)" [ "$bad" = 0 ]
served() {
  eng logs "$tag-nginx" >"$tmp/nginx.log" 2>/dev/null || true
  grep "GET $id" "$tmp/nginx.log" | grep -c "upstream=127.0.0.1:$1" || true
}
check "GET by id answered through nginx by replica 1 ($(served 8081)) and replica 2 ($(served 8082))" \
  cond '[ "$(served 8081)" -gt 0 ] && [ "$(served 8082)" -gt 0 ]'

# Two clients through nginx (POST of a new grid, then GET of its id),
# while replica 1 is stopped.
lbclient() {
  local n=$1 i lam st l
  for ((i = 0; i < 60; i++)); do
    lam=$(awk -v n="$n" -v i="$i" 'BEGIN { printf "%.6f", 1.1 + n * 0.01 + i * 0.0001 }')
    st=$(curl -sS -m 20 -o /dev/null -D "$tmp/lbc$n.h" -w '%{http_code}' "${json[@]}" \
      --data-raw "{\"divergence_mrad\":0.4,\"divsteps\":11,\"dispsteps\":3,\"dispersion_percent\":0.2,\"lambda_A\":$lam}" \
      "$lb/v1/sources" 2>/dev/null || echo 000)
    echo "POST $st" >>"$tmp/lbclient_$n"
    l=$(tr -d '\r' <"$tmp/lbc$n.h" | awk 'tolower($1) == "content-location:" { print $2 }')
    if [ -n "$l" ]; then
      st=$(curl -sS -m 20 -o /dev/null -w '%{http_code}' "$lb$l?format=npy" 2>/dev/null || echo 000)
      echo "GET $st" >>"$tmp/lbclient_$n"
    fi
  done
}
: >"$tmp/lbclient_1"
: >"$tmp/lbclient_2"
lbclient 1 &
c1=$!
lbclient 2 &
c2=$!
pids+=("$c1" "$c2")
end=$((SECONDS + 20))
while [ "$(wc -l <"$tmp/lbclient_1")" -lt 20 ] && [ "$SECONDS" -lt "$end" ]; do sleep 0.05; done
t0=$SECONDS
eng stop -t $((DRAIN_S + 5)) "$tag-r1" >/dev/null 2>>"$tmp/engine.log" || true
check "replica 1 stopped under load ($ENGINE stop) and exited 0 (got $(ctr_exit "$tag-r1"), in $((SECONDS - t0)) s)" \
  cond '! ctr_running "$tag-r1" && [ "$(ctr_exit "$tag-r1")" = 0 ]'
clients_ok=1
for c in "$c1" "$c2"; do
  for ((i = 0; i < 900; i++)); do kill -0 "$c" 2>/dev/null || break; sleep 0.1; done
  wait "$c" || clients_ok=0
done
check "both clients finished within the time bound" [ "$clients_ok" = 1 ]
total=$(cat "$tmp/lbclient_1" "$tmp/lbclient_2" | wc -l)
bad=$(cat "$tmp/lbclient_1" "$tmp/lbclient_2" | awk '$2 != 200' | wc -l)
check "$total requests through nginx during and after the stop, none lost ($bad not 200)" \
  cond '[ "$total" -ge 200 ] && [ "$bad" = 0 ]'
[ "$bad" = 0 ] || sort "$tmp/lbclient_1" "$tmp/lbclient_2" | uniq -c
st=$(req after "$lb$id?format=txt&after=1")
check "after the stop nginx answers from replica 2: 200 (got $st)" [ "$st" = 200 ]
[ "$FAILED" = "$f0" ] || show_logs "$tag-r1" "$tag-r2" "$tag-nginx"
for c in "$tag-r1" "$tag-r2" "$tag-nginx"; do rm_ctr "$c"; done
if [ "$ENGINE" = podman ]; then podman pod rm -f "$tag-pod" >/dev/null 2>&1 || true; fi

echo "== podman kube play: deploy/k8s ConfigMap + Deployment"
f0=$FAILED
kube_ok=1
if [ "$ENGINE" != podman ]; then
  if podman_works && docker save "$IMAGE" | timeout 300 podman load -q >/dev/null; then
    ok "image copied from docker to podman for kube play"
  else
    not_ok "podman kube play needs podman (not usable here; make image installs it)"
    kube_ok=0
  fi
fi
if [ "$kube_ok" = 1 ]; then
  kp=$(free_port)
  ku=http://127.0.0.1:$kp
  kube_yaml=$tmp/kube.yaml
  "$py" "$repo/tests/image/kube_manifest.py" "$repo/deploy/k8s" "$kp" "$IMAGE" "$tag-kube" >"$kube_yaml"
  pod=$tag-kube-pod-0
  kc=$pod-beamgrid
  pods+=("$pod")
  check "podman kube play started the pod" \
    cond 'timeout 120 podman kube play "$kube_yaml" >>"$tmp/engine.log" 2>&1 && ctr_running "$kc"'
  check "ready through the manifest's probes (startup, readiness, liveness)" \
    "$py" "$repo/tests/image/kube_probe.py" "$kube_yaml"
  check "the ConfigMap's settings are in its environment (BEAMGRID_CACHE_MB=256, BEAMGRID_THREADS=2)" \
    cond 'env=$(podman exec "$kc" env) && grep -qx BEAMGRID_CACHE_MB=256 <<<"$env" && grep -qx BEAMGRID_THREADS=2 <<<"$env"'
  same_as_host kube "$ku"
  check "it runs as uid 10001 (runAsUser), seen from the host ($(ctr_uid "$kc"))" [ "$(ctr_uid "$kc")" = 10001 ]
  check "its root filesystem is read-only (readOnlyRootFilesystem); /tmp (emptyDir) is writable" \
    rootfs_read_only "$kc"
  timeout 60 podman pod stop -t 30 "$pod" >/dev/null 2>>"$tmp/engine.log" || true
  check "the pod stops and the server exits 0 (got $(ctr_exit "$kc"))" [ "$(ctr_exit "$kc")" = 0 ]
  [ "$FAILED" = "$f0" ] || show_logs "$kc"
fi

echo "==="
echo "image: $IMAGE, $size bytes ($((size / 1024 / 1024)) MiB)"
summary image-test
