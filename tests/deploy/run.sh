#!/usr/bin/env bash
# The deploy test (make deploy-test):
#   lint every script in deploy/, tests/deploy/, tests/ops/ and tests/image/ with the
#   linter shellcheck;
#   the Kubernetes manifests against the Kubernetes JSON schemas
#   (kubernetes-models, npm) and the field checks of k8s_check.py, which
#   also cover deploy/compose.yaml and the nginx template;
#   nginx_test.sh: the nginx config in front of two replicas, failover,
#   cache, and a smoke run of the load scripts;
#   dockerfile_check.sh (make image-check), unless DEPLOY_IMAGE_CHECK=0.
# Closes with "deploy-test: N passed, N failed"; exits 1 on any failure.
# Usage: tests/deploy/run.sh   (BEAMGRID_BIN: the server, default build/beamgrid)
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
here=$repo/tests/deploy
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"
cd "$repo"
export BEAMGRID_BIN=${BEAMGRID_BIN:-$repo/build/beamgrid}
log=$(mktemp)
trap 'rm -f "$log"' EXIT

# part NAME COMMAND...: runs a sub-test, shows its output, and adds its
# closing "NAME: N passed, N failed" line to the totals (a part that dies
# without one counts as one failure).
part() {
  local name=$1 rc=0 p f
  shift
  echo "=== $name"
  "$@" 2>&1 | tee "$log" || rc=$?
  read -r p f < <(sed -n 's/^[A-Za-z0-9_-]*: \([0-9]*\) passed, \([0-9]*\) failed$/\1 \2/p' "$log" | tail -n1) || true
  if [ -z "${p:-}" ]; then
    not_ok "$name ended without a summary (exit $rc)"
    return
  fi
  PASSED=$((PASSED + p))
  FAILED=$((FAILED + f))
  if [ "$rc" != 0 ] && [ "$f" = 0 ]; then not_ok "$name exited $rc"; fi
}

shellcheck_all() {
  local n=0 bad=0 s
  while IFS= read -r s; do
    n=$((n + 1))
    if shellcheck -x -P SCRIPTDIR "$s"; then echo "ok   shellcheck $s"; else bad=$((bad + 1)); echo "FAIL shellcheck $s"; fi
  done < <(find deploy tests/deploy tests/ops tests/image -name node_modules -prune -o -name '*.sh' -print | sort)
  echo "shellcheck: $((n - bad)) passed, $bad failed"
}

k8s_schema() {
  if [ ! -d tests/deploy/tools/node_modules/kubernetes-models ]; then
    (cd tests/deploy/tools && timeout 300 npm ci --no-audit --no-fund --loglevel=error) || true
  fi
  local rc=0
  node tests/deploy/k8s_schema.mjs deploy/k8s/*.yaml || rc=$?
  if [ "$rc" = 0 ]; then echo "k8s-schema: 1 passed, 0 failed"; else echo "k8s-schema: 0 passed, 1 failed"; fi
}

part shellcheck shellcheck_all
part k8s-schema k8s_schema
part k8s-fields /usr/bin/python3 tests/deploy/k8s_check.py "$repo" "$BEAMGRID_BIN"
part nginx-test timeout 600 tests/deploy/nginx_test.sh "$repo"
if [ "${DEPLOY_IMAGE_CHECK:-1}" != 0 ]; then
  part image-check timeout 1200 tests/deploy/dockerfile_check.sh "$repo"
fi
echo "==="
summary deploy-test
