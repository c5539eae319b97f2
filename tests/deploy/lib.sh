#!/usr/bin/env bash
# Helpers shared by the deploy tests, the soak and the valgrind run (sourced,
# not run).
# shellcheck disable=SC2034  # counters are read by the sourcing script

PASSED=${PASSED:-0}
FAILED=${FAILED:-0}

ok() { PASSED=$((PASSED + 1)); echo "ok   $*"; }
not_ok() { FAILED=$((FAILED + 1)); echo "FAIL $*"; }
# check DESCRIPTION COMMAND... : ok if the command succeeds
check() {
  local what=$1; shift
  if "$@"; then ok "$what"; else not_ok "$what"; fi
}
summary() {  # summary NAME: the closing line, and the exit status
  echo "$1: $PASSED passed, $FAILED failed"
  [ "$FAILED" -eq 0 ]
}

# A TCP port that is free on 127.0.0.1 right now.
free_port() {
  /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_port HOST PORT SECONDS: until something accepts connections there.
wait_port() {
  local host=$1 port=$2 end=$((SECONDS + $3))
  while [ "$SECONDS" -lt "$end" ]; do
    if (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  return 1
}

# shellcheck source-path=SCRIPTDIR source=../support/server.sh
. "$(dirname "${BASH_SOURCE[0]}")/../support/server.sh"

# start_beamgrid LOGFILE [ARGS...]: starts $BEAMGRID_BIN on 127.0.0.1 with a
# free port (--port 0) and sets BG_PID and BG_PORT from its JSON startup
# line (stdout or stderr: both go to LOGFILE). Returns 1, having killed the
# process, if no port appeared within 10 s.
start_beamgrid() {
  local log=$1; shift
  if start_server 10 "$log" - "$BEAMGRID_BIN" --bind 127.0.0.1 --port 0 "$@"; then
    BG_PID=$SERVER_PID BG_PORT=$SERVER_PORT
    return 0
  fi
  BG_PID=$SERVER_PID BG_PORT=""
  kill -KILL "$BG_PID" 2>/dev/null || true
  wait "$BG_PID" 2>/dev/null || true
  echo "beamgrid did not report a port; its log:" >&2
  cat "$log" >&2
  return 1
}

# stop_pid PID SECONDS: SIGTERM, wait up to SECONDS, then SIGKILL. Sets
# STOP_RC to the exit status (or 137 when it had to be killed).
stop_pid() {
  local pid=$1 end=$((SECONDS + $2))
  STOP_RC=0
  kill -TERM "$pid" 2>/dev/null || return 0
  while kill -0 "$pid" 2>/dev/null && [ "$SECONDS" -lt "$end" ]; do sleep 0.05; done
  if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
  wait "$pid" 2>/dev/null || STOP_RC=$?
}

# not_grep PATTERN FILE: the file does not contain the pattern.
not_grep() { ! grep -q -- "$1" "$2"; }
# cond 'SHELL CONDITION': evaluates a condition (for check with && inside).
cond() { eval "$1"; }
# has_word WORD TEXT: TEXT contains WORD as a whole word.
has_word() { grep -qw -- "$1" <<<"$2"; }
# in_list X ITEMS...: X is one of the items.
in_list() { local x=$1 y; shift; for y in "$@"; do [ "$y" = "$x" ] && return 0; done; return 1; }
# expect_rc RC COMMAND...: the command exits with status RC.
expect_rc() { local want=$1 rc=0; shift; "$@" >/dev/null 2>&1 || rc=$?; [ "$rc" = "$want" ]; }
