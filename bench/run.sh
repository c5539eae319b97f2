#!/usr/bin/env bash
# run.sh - `make bench`: one report of the core, the encoders and the
# service, all measured in this run on this machine, printed and written to
# bench/results.md (the service section draws bench/results.png), closed by
# bench/earlier.md (figures measured once, outside make bench, kept apart).
# DURATION and REPEATS (environment) set the service's turns: seconds a
# turn (3) and turns a server (7); DURATION=1 REPEATS=1 checks the whole
# run quickly. PIN=0 turns off pinning (see bench/http_bench.sh).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-build}
OUT=${OUT:-$ROOT/bench/results.md}
cd "$ROOT"

cpu=$(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)
{
    echo "# beamgrid benchmarks"
    echo
    echo "$(date -u '+%Y-%m-%d %H:%M UTC'); $(nproc) CPUs (${cpu:-unknown}); Linux $(uname -r);"
    echo "$(${CC:-gcc} --version | head -1); $(nginx -v 2>&1 | sed 's/^nginx version: //'); $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2)."
    echo "Every figure is a rate or a ratio measured in this one run; the machine is shared (load"
    echo "averages are noted), so the ranges show the noise. Nothing here is asserted by make test."
    echo
    echo "## Core: the grid against a naive loop, 1 vs all threads, memset bandwidth"
    echo
    echo "Load average: $(cut -d' ' -f1-3 /proc/loadavg)."
    echo
    echo '```'
    "./$BUILD/bench/bench_core"
    echo '```'
    echo
    echo "## Encoders: M (51x51x21) in each representation, MB/s of output"
    echo
    echo "Load average: $(cut -d' ' -f1-3 /proc/loadavg)."
    echo
    echo '```'
    "./$BUILD/bench/bench_encode"
    echo '```'
    echo
    echo "## Machinery: stalls, threads, memory"
    echo
    echo "The real server under load (bench/bench_stall.c): probe latency beside large cold"
    echo "grids, the peak thread count against --compute-threads, memory per cached source."
    echo "Load average: $(cut -d' ' -f1-3 /proc/loadavg)."
    echo
    echo '```'
    "./$BUILD/bench/bench_stall" "./$BUILD/beamgrid"
    echo '```'
    echo
} | tee "$OUT.tmp"
mv "$OUT.tmp" "$OUT"
echo "== the service beside nginx (a few minutes)"
rc=0
BEAMGRID_BIN="$ROOT/$BUILD/beamgrid" OUT="$OUT" PLOT="$ROOT/bench/results.png" \
    bench/http_bench.sh || rc=$?
{ echo; cat bench/earlier.md; } >>"$OUT"
echo "== written: bench/results.md, bench/results.png"
if [ "$rc" != 0 ]; then echo "== the service bench failed or had errors (status $rc)" >&2; fi
exit "$rc"
