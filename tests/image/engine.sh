#!/usr/bin/env bash
# The container engine for make image and make image-test (sourced, not run).
#
# pick_engine sets ENGINE to "docker" when a docker client reaches a working
# daemon, else "podman" when podman is installed (the Makefile installs
# podman, runc and debootstrap from Debian when docker does not work), and
# returns 1 with a message when neither is usable. BEAMGRID_ENGINE=docker or
# =podman forces one. For podman it exports CONTAINERS_CONF (containers.conf
# beside this file: runtime runc, explicit ulimits), which `podman kube play`
# needs as much as `podman run`.
#
# eng ARGS... runs the engine; RUN_FLAGS holds the flags every `run` needs
# here (explicit ulimits: the inherited ones cannot always be set).

IMAGE_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ENGINE=""
# shellcheck disable=SC2034  # read by the scripts that source this file
RUN_FLAGS=(--ulimit nofile=4096:4096 --ulimit nproc=4096:4096)

docker_works() {
  command -v docker >/dev/null 2>&1 && timeout 20 docker info >/dev/null 2>&1
}

podman_works() {
  command -v podman >/dev/null 2>&1 || return 1
  export CONTAINERS_CONF=$IMAGE_DIR/containers.conf
  timeout 60 podman info >/dev/null 2>&1
}

pick_engine() {
  case "${BEAMGRID_ENGINE:-}" in
    docker) docker_works && ENGINE=docker ;;
    podman) podman_works && ENGINE=podman ;;
    "") if docker_works; then ENGINE=docker; elif podman_works; then ENGINE=podman; fi ;;
    *) echo "BEAMGRID_ENGINE must be docker or podman, not '$BEAMGRID_ENGINE'" >&2 ;;
  esac
  if [ -z "$ENGINE" ] && [ -n "${BEAMGRID_ENGINE:-}" ]; then
    echo "no container engine: BEAMGRID_ENGINE=$BEAMGRID_ENGINE does not work here" >&2
    return 1
  elif [ -z "$ENGINE" ]; then
    echo "no container engine: neither a working docker (daemon reachable) nor podman" \
      "(make image installs podman, runc and debootstrap with apt-get; that failed or" \
      "was not possible here)" >&2
    return 1
  fi
  echo "container engine: $ENGINE ($("$ENGINE" --version 2>/dev/null | head -n1))"
}

eng() { timeout "${ENG_TIMEOUT:-300}" "$ENGINE" "$@"; }

# image_exists REF
image_exists() { "$ENGINE" image inspect "$1" >/dev/null 2>&1; }

# image_size REF: the image's size in bytes.
image_size() { "$ENGINE" image inspect --format '{{.Size}}' "$1"; }
