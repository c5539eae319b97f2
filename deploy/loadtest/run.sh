#!/usr/bin/env bash
# Load test for beamgrid with curl alone (curl --parallel over one config
# file per batch). Bounded by a request count and a time limit.
#
#   deploy/loadtest/run.sh [options] SCENARIO
#
# Scenarios:
#   hits    the same grid again and again: POST of one body and GET of its
#           id in several representations (cache hits after the first)
#   new     a new grid every request (lambda_A varies): cache misses, compute
#   mixed   60 % hits, 20 % new grids, and 20 % bad requests: malformed JSON
#           and an unknown field (400), out-of-range values (422)
#
# Options:
#   -u URL          base URL (default http://127.0.0.1:8080)
#   -n N            number of requests (default 500)
#   -c N            concurrent requests (default 8)
#   -t SECONDS      time limit for the whole run (default 60)
#   --allow-remote  allow a target that is not on the loopback interface
#   -h              this help
#
# Prints requests/s, latency p50/p95/p99, and counts by status. Exits 1 on any
# 5xx or failed connection (status 000), or when the status counts differ
# from what the scenario sent (e.g. a bad request that did not get 400/422);
# 2 on a usage error.
set -euo pipefail

usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; }
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$(dirname "$0")/common.sh"

url=http://127.0.0.1:8080
total=500
conc=8
limit_s=60
allow_remote=0
scenario=""
parse_args "n=total c=conc t=limit_s" "$@"
check_scenario "$scenario"
check_positive "counts and times must be positive integers" "$total" "$conc" "$limit_s"
url=${url%/}

# The target must be this machine unless --allow-remote says otherwise.
check_loopback "$url" "$allow_remote"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# A salt so that each run's "new" grids are new to the server's cache too.
salt=$(( ($$ * 7919 + $(date +%s)) % 100000 ))
hit_body='{"divergence_mrad":0.5,"divsteps":9,"dispersion_percent":0.1,"dispsteps":3}'

# The id of the "hits" grid, from one POST before the clock starts.
id=""
if [ "$scenario" != new ]; then
  get_hit_id "$url" "$hit_body"
fi

# gen FROM TO: the curl config blocks for requests FROM..TO-1 on stdout, and
# the status each should get appended to expect.txt (one awk per batch).
# Bodies contain no backslashes; double quotes are escaped for curl.
gen() {
  awk -v from="$1" -v to="$2" -v scen="$scenario" -v url="$url" -v id="$id" \
      -v salt="$salt" -v hit="$hit_body" -v expect="$work/expect.txt" '
    function post(body) {
      gsub(/"/, "\\\"", body)
      printf "url = \"%s/v1/sources\"\nheader = \"Content-Type: application/json\"\n", url
      printf "data-raw = \"%s\"\n", body
    }
    function get(path) { printf "url = \"%s%s\"\n", url, path }
    BEGIN {
      for (i = from; i < to; i++) {
        if (i > from) print "next"
        kind = scen == "new" ? "new" : "hit"
        if (scen == "mixed") {
          m = i % 20
          if (m >= 12 && m <= 15) kind = "new"
          else if (m == 16 || m == 17) kind = "malformed"
          else if (m == 18) kind = "unknown"
          else if (m == 19) kind = "range"
        }
        if (kind == "hit") {
          m = i % 4
          if (m == 0) post(hit)
          else if (m == 1) get("/v1/sources/" id)
          else if (m == 2) get("/v1/sources/" id "?format=npy")
          else get("/v1/sources/" id "?format=txt")
          code = 200
        } else if (kind == "new") {
          # a lambda_A (Angstrom) that no other request of this run uses
          v = 500000 + (salt * 1000 + i) % 1000000
          post(sprintf("{\"divergence_mrad\":0.3,\"divsteps\":7,\"dispersion_percent\":0.2,\"dispsteps\":3,\"lambda_A\":%d.%06d}", int(v / 1000000), v % 1000000))
          code = 200
        } else if (kind == "malformed") {
          post("{\"divergence_mrad\": 0.5, \"divsteps\": "); code = 400
        } else if (kind == "unknown") {
          post("{\"divergence_mrad\":0.5,\"no_such_field\":1}"); code = 400
        } else {
          if (i % 40 == 19) post("{\"divsteps\":-3}")
          else post("{\"lambda_A\":1.0,\"energy_eV\":9000}")
          code = 422
        }
        print "output = \"/dev/null\"\nmax-time = 30"
        print "write-out = \"%{http_code} %{time_total} %header{x-cache}\\n\""
        print code >> expect
      }
    }'
}

batch=$(( conc * 25 ))
results=$work/results.txt
: > "$results"
busy=0  # seconds spent in curl (request generation is not timed)
deadline=$(( $(date +%s) + limit_s ))
sent=0
timed_out=0
while [ "$sent" -lt "$total" ]; do
  now=$(date +%s)
  if [ "$now" -ge "$deadline" ]; then timed_out=1; break; fi
  n=$(( total - sent < batch ? total - sent : batch ))
  cfg=$work/batch.cfg
  gen "$sent" $(( sent + n )) > "$cfg"
  # A hard stop for the batch too, should the server hang.
  t0=$(date +%s.%N)
  timeout -k 2 $(( deadline - now + 1 )) \
    curl -s --no-progress-meter --parallel --parallel-immediate --parallel-max "$conc" \
      -K "$cfg" >> "$results" || true
  busy=$(awk -v b="$busy" -v t0="$t0" -v t1="$(date +%s.%N)" 'BEGIN { printf "%.6f", b + t1 - t0 }')
  sent=$(( sent + n ))
done

done_n=$(wc -l < "$results")
echo "scenario=$scenario target=$url requests=$done_n/$total concurrency=$conc"
awk -v wall="$busy" 'END {
    if (NR > 0 && wall > 0) printf "time %.2f s in curl, %.1f requests/s\n", wall, NR / wall
  }' "$results"
cut -d' ' -f2 "$results" | sort -g | awk '
  { v[NR] = $1 * 1000 }
  END {
    if (NR == 0) exit
    split("50 95 99", ps, " ")
    line = "latency ms:"
    for (k = 1; k <= 3; k++) {
      r = int((ps[k] / 100) * NR + 0.999999); if (r < 1) r = 1; if (r > NR) r = NR
      line = line sprintf(" p%s %.2f", ps[k], v[r])
    }
    printf "%s max %.2f\n", line, v[NR]
  }'
got=$(cut -d' ' -f1 "$results" | sort | uniq -c | awk '{printf "%s:%s ", $2, $1}')
want=$(sort "$work/expect.txt" | uniq -c | awk '{printf "%s:%s ", $2, $1}')
echo "status counts: ${got:-none}"
awk '$3 != "" {c[$3]++} END {printf "X-Cache:"; for (k in c) printf " %s %d", k, c[k]; print ""}' "$results"

rc=0
bad=$(cut -d' ' -f1 "$results" | awk '$1 == "000" || $1 >= 500' | wc -l)
if [ "$bad" -gt 0 ]; then
  echo "FAIL: $bad responses were 5xx or failed connections" >&2
  rc=1
fi
if [ "$timed_out" = 1 ] || [ "$done_n" -lt "$total" ]; then
  echo "stopped at the time limit (${limit_s} s) after $done_n of $total requests"
elif [ "$got" != "$want" ]; then
  echo "FAIL: expected status counts $want" >&2
  rc=1
fi
exit "$rc"
