#!/usr/bin/env bash
# make run takes its settings as a user would give them (make run-test, part
# of make test):
#   - BEAMGRID_* variables pass through (BEAMGRID_PORT, BEAMGRID_THREADS),
#     since make run adds no --port/--bind of its own;
#   - PORT=... in the environment, and make run PORT=..., become --port and
#     win over BEAMGRID_PORT;
#   - BIND likewise becomes --bind, and make run still installs missing
#     runtime packages (deps-run: no test tool) and builds first.
# Each real run serves on a free loopback port: its startup JSON line must
# show that port and the thread count, /healthz must answer there, and the
# server must listen on nothing else (not 8080). Each run is stopped by
# signalling its whole process group (make and the server), and must leave
# no process behind.
# Closes with "make-run: N passed, N failed"; exits 1 on any failure.
# Usage: tests/ops/make_run.sh   (BUILD: the build folder, default build)
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source-path=SCRIPTDIR source=../deploy/lib.sh
. "$repo/tests/deploy/lib.sh"
cd "$repo"

# Run make as a user would: nothing inherited from a calling make (its
# command-line variables travel in MAKEFLAGS) or from this environment.
unset MAKEFLAGS MFLAGS MAKELEVEL MAKEOVERRIDES PORT BIND
while IFS= read -r v; do unset "$v"; done < <(compgen -e | grep '^BEAMGRID_' || true)

tmp=$(mktemp -d)
RUN_PGID=""
cleanup() {
  if [ -n "$RUN_PGID" ]; then kill -KILL -- "-$RUN_PGID" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

# The command line make run would execute (make -n), its last line.
dry_run() { make --no-print-directory -n run "$@" 2>/dev/null | tail -n1; }
# want_line TEXT EXPECTED: TEXT is EXPECTED (shown on failure).
want_line() {
  [ "$1" = "$2" ] && return 0
  echo "    got:      $1" >&2
  echo "    expected: $2" >&2
  return 1
}

bin="./${BUILD:-build}/beamgrid"
check "dry run: no PORT, BIND: no flags" want_line "$(dry_run)" "$bin"
check "dry run: BEAMGRID_PORT alone adds no flag" \
  want_line "$(BEAMGRID_PORT=18081 dry_run)" "$bin"
check "dry run: PORT in the environment" \
  want_line "$(PORT=18081 dry_run)" "$bin --port 18081"
check "dry run: PORT on the command line" \
  want_line "$(dry_run PORT=18081)" "$bin --port 18081"
check "dry run: BIND and PORT" \
  want_line "$(BIND=::1 dry_run PORT=18081)" "$bin --bind ::1 --port 18081"
check "dry run: an empty PORT adds no flag" \
  want_line "$(PORT='' dry_run)" "$bin"
# deps_then_build: make run's recipe checks packages (deps), then builds.
deps_then_build() {
  local text
  text=$(make --no-print-directory -n run 2>/dev/null)
  [[ $text == *"dpkg -s"* && $text == *"make"*" all"* ]]
}
check "dry run: make run checks packages (deps) and builds first" deps_then_build
# runtime_only: make run checks the runtime packages alone (RUN_PKGS), no
# test tool; make test checks both lists.
runtime_only() {
  local run test
  run=$(make --no-print-directory -n run 2>/dev/null)
  test=$(make --no-print-directory -n deps 2>/dev/null)
  [[ $run == *libmicrohttpd-dev* && $run != *valgrind* && $run != *wrk* &&
     $run != *libcriterion-dev* && $test == *libmicrohttpd-dev* &&
     $test == *valgrind* && $test == *npm* ]]
}
check "dry run: make run installs runtime packages only, make deps the test tools too" runtime_only

# Whatever is missing gets installed now, once; the runs below must then
# find nothing to install (deps only installs missing packages).
make --no-print-directory deps

# stop_group PGID SECONDS: SIGTERM to the group, SIGKILL after SECONDS;
# returns 1 if anything of the group was still alive by then.
stop_group() {
  local pgid=$1 end=$((SECONDS + $2))
  kill -TERM -- "-$pgid" 2>/dev/null || return 0
  while kill -0 -- "-$pgid" 2>/dev/null && [ "$SECONDS" -lt "$end" ]; do sleep 0.05; done
  if kill -0 -- "-$pgid" 2>/dev/null; then
    kill -KILL -- "-$pgid" 2>/dev/null || true
    return 1
  fi
}

# healthy PORT SECONDS: /healthz answers 200 on 127.0.0.1:PORT by then.
healthy() {
  local end=$((SECONDS + $2))
  while [ "$SECONDS" -lt "$end" ]; do
    curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:$1/healthz" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

# listening PID: the TCP ports PID listens on, one a line, sorted.
listening() {
  ss -H -ltnp 2>/dev/null | grep "pid=$1," | awk '{print $4}' | sed 's/.*://' | sort -un
}

# run_case NAME PORT THREADS ENV... -- MAKEARGS...: starts
# `env ENV... make run MAKEARGS...` in a process group of its own, and
# checks it serves on PORT alone with THREADS HTTP threads.
run_case() {
  local name=$1 port=$2 threads=$3 out line pid envs=() rc=0
  shift 3
  while [ "$#" -gt 0 ] && [ "$1" != -- ]; do envs+=("$1"); shift; done
  shift
  out=$tmp/$name.out
  # setsid: make and the server in a new process group (this script is
  # not interactive, so the background job is not a group leader and
  # setsid execs in place: the group id is the job's pid).
  if ! start_server 300 "$out" - env "${envs[@]}" setsid make --no-print-directory run "$@"; then
    not_ok "$name: no startup line in time; output:"
    sed 's/^/    /' "$out"
    RUN_PGID=$SERVER_PID
    stop_group "$RUN_PGID" 5 || true
    RUN_PGID=""
    return
  fi
  RUN_PGID=$(ps -o pgid= -p "$SERVER_PID" | tr -d ' ')
  check "$name: make run leads its own process group" cond "[ '$RUN_PGID' = '$SERVER_PID' ]"
  line=$(grep '"event":"listening"' "$out" | head -n1)
  pid=$(grep -o '"pid":[0-9]*' <<<"$line" | grep -o '[0-9]*$')
  check "$name: startup line shows port $port" has_word "\"port\":$port" "$line"
  check "$name: startup line shows http_threads $threads" \
    has_word "\"http_threads\":$threads" "$line"
  check "$name: /healthz answers on $port" healthy "$port" 10
  check "$name: the server listens on $port and nothing else (not 8080)" \
    want_line "$(listening "$pid" | tr '\n' ' ')" "$port "
  check "$name: nothing installed (deps met)" not_grep '^installing:' "$out"
  stop_group "$RUN_PGID" 15 || rc=1
  check "$name: stopped, no process of make run left" cond "[ $rc = 0 ] && ! kill -0 $pid 2>/dev/null"
  check "$name: $port is free again" cond "! curl -fsS -o /dev/null --max-time 2 http://127.0.0.1:$port/healthz 2>/dev/null"
  RUN_PGID=""
}

p1=$(free_port)
run_case beamgrid-env "$p1" 3 BEAMGRID_PORT="$p1" BEAMGRID_THREADS=3 --

p2=$(free_port) p3=$(free_port)
run_case port-env "$p2" 2 PORT="$p2" BEAMGRID_PORT="$p3" BEAMGRID_THREADS=2 --

p4=$(free_port) p5=$(free_port)
run_case port-arg "$p4" 1 BEAMGRID_PORT="$p5" BEAMGRID_THREADS=1 -- PORT="$p4"

summary make-run
