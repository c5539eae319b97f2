#!/usr/bin/env bash
# Higher load than run.sh can make: wrk (Debian's wrk) with beamgrid.lua.
#
#   deploy/loadtest/wrk.sh [options] SCENARIO      (hits | new | mixed)
#
# Options:
#   -u URL          base URL (default http://127.0.0.1:8080)
#   -d SECONDS      duration (default 10, at most 600)
#   -c N            open connections (default 32)
#   -t N            wrk threads (default 2)
#   --allow-remote  allow a target that is not on the loopback interface
#   -h              this help
#
# Prints wrk's summary plus requests/s, p50/p95/p99, status counts. Exits 1
# on any 5xx or socket error, 2 on a usage error.
set -euo pipefail

usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; }

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$here/common.sh"
url=http://127.0.0.1:8080
dur=10
conns=32
threads=2
allow_remote=0
scenario=""
parse_args "d=dur c=conns t=threads" "$@"
check_scenario "$scenario"
check_positive "durations and counts must be positive integers" "$dur" "$conns" "$threads"
[ "$dur" -le 600 ] || { echo "duration is capped at 600 s" >&2; exit 2; }
url=${url%/}

check_loopback "$url" "$allow_remote"
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 2; }

id=""
if [ "$scenario" != new ]; then
  get_hit_id "$url" '{"divergence_mrad":0.5,"divsteps":9,"dispersion_percent":0.1,"dispsteps":3}'
fi
salt=$(( ($$ * 7919 + $(date +%s)) % 100000 ))

out=$(mktemp)
trap 'rm -f "$out"' EXIT
timeout -k 5 $(( dur + 30 )) \
  wrk -t "$threads" -c "$conns" -d "${dur}s" --timeout 30s --latency \
    -s "$here/beamgrid.lua" "$url" -- "$scenario" "$id" "$salt" | tee "$out"
e5=$(sed -n 's/^errors_5xx=\([0-9]*\).*/\1/p' "$out")
es=$(sed -n 's/.*errors_socket=\([0-9]*\).*/\1/p' "$out")
if [ -z "$e5" ]; then echo "FAIL: no summary from wrk" >&2; exit 1; fi
if [ "$e5" -gt 0 ] || [ "$es" -gt 0 ]; then
  echo "FAIL: $e5 responses were 5xx, $es socket errors" >&2
  exit 1
fi
