#!/usr/bin/env bash
# Starting a beamgrid server for the script tests (sourced, not run; used by
# tests/deploy/lib.sh, tests/soak/soak.sh and tests/valgrind/run.sh).

# start_server SECONDS OUT ERR COMMAND...: runs COMMAND (a beamgrid started
# with --port 0, possibly behind env or valgrind) in the background, its
# stdout to the file OUT and its stderr to the file ERR ("-": to OUT too),
# and sets SERVER_PID. Waits up to SECONDS for the port in its JSON startup
# line and sets SERVER_PORT. Returns 1, with SERVER_PORT empty and the
# process left to the caller, if no port appeared in time or it exited.
start_server() {
  local secs=$1 out=$2 err=$3 end
  shift 3
  if [ "$err" = - ]; then
    "$@" >"$out" 2>&1 &
  else
    "$@" >"$out" 2>"$err" &
  fi
  SERVER_PID=$!
  SERVER_PORT=""
  end=$((SECONDS + secs))
  while [ "$SECONDS" -lt "$end" ]; do
    SERVER_PORT=$(grep -o '"port": *[0-9]*' "$out" 2>/dev/null | head -n1 | grep -o '[0-9]*$' || true)
    if [ -n "$SERVER_PORT" ] && [ "$SERVER_PORT" != 0 ]; then return 0; fi
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.05
  done
  SERVER_PORT=""
  return 1
}
