#!/usr/bin/env bash
# Exercises the Dockerfile without a Docker engine (make image-check):
#   1. lints it with two real linters (npm, pinned in tests/deploy/tools):
#      dockerfilelint and dockerfile-utils;
#   2. checks its fixed points: FROM images, non-root USER, EXPOSE 8080,
#      HEALTHCHECK on /healthz, ENV BEAMGRID_BIND=0.0.0.0, STOPSIGNAL SIGTERM,
#      exec-form ENTRYPOINT;
#   3. copies the build context (working tree, minus git-ignored and
#      .dockerignore'd files) into an empty directory and runs the builder
#      stage's RUN commands there (its apt-get packages must be installed
#      here: make deps does that) and checks that the runtime stage's COPY
#      --from=builder source exists;
#   4. checks that the runtime stage's packages exist in Debian and that
#      every shared library the built binary needs comes from one of them, a
#      dependency of them, or the base image (priority required);
#   5. runs the built binary the way the runtime stage would (clean
#      environment from ENV, as the USER's uid, bound to loopback on a free
#      port), probes it with the HEALTHCHECK command, stops it with the
#      STOPSIGNAL and expects exit 0.
# Usage: tests/deploy/dockerfile_check.sh [REPO_ROOT]
set -euo pipefail

repo=$(cd "${1:-$(dirname "$0")/../..}" && pwd)
here=$repo/tests/deploy
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"
py=/usr/bin/python3
df=$repo/Dockerfile
dfq() { "$py" "$here/dockerfile.py" "$@"; }

work=$(mktemp -d /tmp/beamgrid-image-check.XXXXXX)
pid=""
cleanup() {
  if [ -n "$pid" ]; then kill -KILL "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

echo "== lint"
tools=$here/tools
if [ ! -x "$tools/node_modules/.bin/dockerfilelint" ] || [ ! -x "$tools/node_modules/.bin/dockerfile-utils" ]; then
  (cd "$tools" && timeout 300 npm ci --no-audit --no-fund --loglevel=error) || true
fi
if [ -x "$tools/node_modules/.bin/dockerfilelint" ]; then
  check "dockerfilelint: no issues" "$tools/node_modules/.bin/dockerfilelint" "$df"
  check "dockerfile-utils lint: no issues" "$tools/node_modules/.bin/dockerfile-utils" lint "$df"
else
  not_ok "Dockerfile linters could not be installed from npm (tests/deploy/tools)"
fi

echo "== fixed points"
mapfile -t froms < <(dfq from "$df")
check "builder stage FROM debian:bookworm AS builder" [ "${froms[0]:-}" = "debian:bookworm builder" ]
check "final stage FROM debian:bookworm-slim" [ "${froms[-1]%% *}" = "debian:bookworm-slim" ]
user=$(dfq instr "$df" last USER | tail -n1)
uid=${user%%:*}
gid=${user#*:}
nonroot_uid() { [[ "$1" =~ ^[0-9]+$ ]] && [ "$1" != 0 ]; }
check "USER is numeric and not root ($user)" nonroot_uid "$uid"
check "EXPOSE 8080" has_word 8080 "$(dfq instr "$df" last EXPOSE)"
hc=$(dfq healthcheck "$df" last)
check "HEALTHCHECK probes /healthz" has_word /healthz "$hc"
mapfile -t envs < <(dfq env "$df" last)
check "ENV BEAMGRID_BIND=0.0.0.0" in_list BEAMGRID_BIND=0.0.0.0 "${envs[@]}"
check "STOPSIGNAL SIGTERM" [ "$(dfq instr "$df" last STOPSIGNAL)" = SIGTERM ]
mapfile -t entry < <(dfq exec "$df" last ENTRYPOINT)
check "ENTRYPOINT is exec-form (${entry[*]:-none})" [ "${#entry[@]}" -ge 1 ]

echo "== builder stage, in a clean copy of the build context"
wd=$(dfq instr "$df" builder WORKDIR | tail -n1)
src=$work/ctx
mkdir -p "$src"
(cd "$repo" && dfq context "$repo" | tar -cf - -T -) | tar -xf - -C "$src"
clean_context() { [ -f "$1/Makefile" ] && [ ! -e "$1/build" ] && [ ! -e "$1/.git" ] && [ ! -e "$1/deploy" ]; }
check "build context copied ($(find "$src" -type f | wc -l) files; no build/, .git, deploy/)" \
  clean_context "$src"
mapfile -t build_pkgs < <(dfq apt "$df" builder)
missing=()
for p in "${build_pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
check "builder packages installed here (${build_pkgs[*]})" [ "${#missing[@]}" -eq 0 ]
build_ok=1
while IFS= read -r cmd; do
  case "$cmd" in
    *apt-get*) continue ;;  # the package installs: checked above
  esac
  echo "RUN $cmd   (in $wd -> $src)"
  if ! (cd "$src" && timeout 900 sh -c "$cmd") > "$work/build.log" 2>&1; then
    build_ok=0
    tail -n 30 "$work/build.log"
  fi
done < <(dfq instr "$df" builder RUN)
check "builder RUN commands succeed" [ "$build_ok" = 1 ]
bin=""
while IFS= read -r copy; do
  read -r -a words <<<"$copy"
  [[ "${words[0]}" == --from=builder ]] || continue
  from=${words[1]}
  check "COPY --from=builder source $from exists" [ -f "$src/${from#"$wd"/}" ]
  [[ "$from" == */beamgrid ]] && bin=$src/${from#"$wd"/}
done < <(dfq instr "$df" last COPY)
if [ -z "$bin" ] || [ ! -x "$bin" ]; then
  not_ok "the runtime stage copies an executable beamgrid from the builder"
  summary "image-check"
  exit 1
fi

echo "== runtime stage packages and the binary's libraries"
mapfile -t run_pkgs < <(dfq apt "$df" last)
apt-cache show libc6 >/dev/null 2>&1 || apt-get update -qq >/dev/null 2>&1 || true
# (Output captured first: with pipefail, grep -q closing the pipe early
# would fail the pipeline.)
debian_has() { local out; out=$(apt-cache show --no-all-versions "$1" 2>/dev/null) && grep -qx "Package: $1" <<<"$out"; }
for p in "${run_pkgs[@]}"; do
  check "runtime package $p exists in Debian $(cut -d. -f1 /etc/debian_version)" \
    debian_has "$p"
done
# Packages the explicit ones pull in (Depends/PreDepends, recursively).
apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
  --no-replaces --no-enhances "${run_pkgs[@]}" 2>/dev/null \
  | awk '/^[a-z0-9]/ {print $1}' | sed 's/:.*//' | sort -u > "$work/deps.txt"
ldd "$bin" > "$work/ldd.txt"
check "ldd finds every library" not_grep "not found" "$work/ldd.txt"
while read -r lib path; do
  real=$(readlink -f "$path")
  owner=""
  for cand in "$path" "$real" "/usr$path" "${path#/usr}" "/usr$real" "${real#/usr}"; do
    owner=$(dpkg -S "$cand" 2>/dev/null | head -n1 | cut -d: -f1) && [ -n "$owner" ] && break
  done
  if [ -z "$owner" ]; then not_ok "$lib: no Debian package owns $path"; continue; fi
  prio=$(dpkg-query -W -f='${Priority}' "$owner" 2>/dev/null || true)
  if in_list "$owner" "${run_pkgs[@]}"; then
    ok "$lib <- $owner (runtime package)"
  elif grep -qx "$owner" "$work/deps.txt"; then
    ok "$lib <- $owner (a dependency of the runtime packages)"
  elif [ "$prio" = required ]; then
    ok "$lib <- $owner (priority required: in debian:bookworm-slim)"
  else
    not_ok "$lib <- $owner: not installed by the runtime stage"
  fi
done < <(awk '$2 == "=>" && $3 ~ /^\// {print $1, $3}' "$work/ldd.txt")
# Each library package the runtime stage names is needed by the binary.
for p in "${run_pkgs[@]}"; do
  case "$p" in curl|ca-certificates) continue ;; esac
  need=0
  files=$(dpkg -L "$p" 2>/dev/null || true)
  while read -r path; do
    if grep -qxF -e "$path" -e "/usr$path" -e "${path#/usr}" <<<"$files"; then need=1; fi
  done < <(awk '$2 == "=>" && $3 ~ /^\// {print $3}' "$work/ldd.txt")
  check "runtime package $p provides a library the binary links" [ "$need" = 1 ]
done

echo "== run as the runtime stage would"
port=$(free_port)
env_args=(PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin)
for e in "${envs[@]}"; do env_args+=("$e"); done
# Loopback only here; the image itself binds 0.0.0.0.
env_args+=(BEAMGRID_BIND=127.0.0.1 "BEAMGRID_PORT=$port")
runner=()
if [ "$(id -u)" = 0 ]; then
  chmod 755 "$work" "$src" "$(dirname "$bin")"
  runner=(setpriv "--reuid=$uid" "--regid=$gid" --clear-groups)
fi
(cd / && exec env -i "${env_args[@]}" "${runner[@]}" "$bin" "${entry[@]:1}") 2> "$work/run.log" &
pid=$!
check "server listens on 127.0.0.1:$port as uid $uid" wait_port 127.0.0.1 "$port" 10
hc_timeout=$(dfq option "$df" last HEALTHCHECK timeout)
hc_timeout=${hc_timeout%s}
hc_ok=0
for _ in 1 2 3 4 5; do
  if env -i "${env_args[@]}" timeout "${hc_timeout:-3}" sh -c "$hc"; then hc_ok=1; break; fi
  sleep 1
done
check "HEALTHCHECK command succeeds against it" [ "$hc_ok" = 1 ]
drain=$(printf '%s\n' "${envs[@]}" | sed -n 's/^BEAMGRID_DRAIN_S=//p')
stop_pid "$pid" $(( ${drain:-10} + 5 ))
pid=""
check "STOPSIGNAL ends it with exit 0 (got $STOP_RC)" [ "$STOP_RC" = 0 ]
if [ "$STOP_RC" != 0 ]; then tail -n 20 "$work/run.log"; fi

summary "image-check"
