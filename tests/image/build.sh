#!/usr/bin/env bash
# make image: builds the Dockerfile into $IMAGE (default beamgrid:latest)
# with docker or podman (tests/image/engine.sh), then prints the build time
# and the image size.
#
# The Dockerfile's bases, docker.io/library/debian:bookworm (builder) and
# :bookworm-slim (runtime), are used as the engine has them. When it has
# not, they are pulled; when no registry answers, they are made here with
# debootstrap (Debian's packages are enough):
#   bookworm       debootstrap --variant=minbase bookworm, apt lists and
#                  caches emptied and kept empty (apt.conf.d/docker-clean,
#                  as in Debian's official images), bookworm-updates and
#                  security in sources;
#   bookworm-slim  the same tree without documentation, man pages, info and
#                  translations (copyright files kept), and a dpkg path-exclude
#                  so that packages installed later add none either, as
#                  Debian's own slim images do.
# Both root filesystems are kept as tarballs in $BEAMGRID_IMAGE_CACHE
# (default /var/cache/beamgrid-image), so a machine whose engine store was
# wiped imports them again instead of running debootstrap. Delete that
# folder, or `podman rmi docker.io/library/debian:bookworm{,-slim}`, to
# refresh the base.
#
# Usage: tests/image/build.sh [REPO_ROOT]
# Environment: IMAGE, BEAMGRID_ENGINE (docker|podman), BEAMGRID_IMAGE_CACHE,
# BEAMGRID_PULL=0 (do not try a registry: debootstrap at once).
set -euo pipefail

repo=$(cd "${1:-$(dirname "$0")/../..}" && pwd)
# shellcheck source-path=SCRIPTDIR source=engine.sh
. "$repo/tests/image/engine.sh"
IMAGE=${IMAGE:-beamgrid:latest}
cache=${BEAMGRID_IMAGE_CACHE:-/var/cache/beamgrid-image}
mirror=${BEAMGRID_DEBIAN_MIRROR:-http://deb.debian.org/debian}
base=docker.io/library/debian
work=""
trap '[ -z "$work" ] || rm -rf "$work"' EXIT

pick_engine

# make_rootfs DIR: a minimal bookworm root filesystem, without apt's lists.
make_rootfs() {
  local dir=$1
  command -v debootstrap >/dev/null || { echo "debootstrap is not installed" >&2; return 1; }
  echo "debootstrap --variant=minbase bookworm (about a minute) ..."
  timeout 900 debootstrap --variant=minbase bookworm "$dir" "$mirror" >"$dir.log" 2>&1 || {
    tail -n 20 "$dir.log" >&2
    return 1
  }
  cat >"$dir/etc/apt/sources.list" <<EOF
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb http://deb.debian.org/debian-security bookworm-security main
EOF
  # As in Debian's official images: apt keeps no package caches or .debs
  # in the layers that install packages.
  cat >"$dir/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
  echo 'Acquire::Languages "none";' >"$dir/etc/apt/apt.conf.d/docker-no-languages"
  rm -rf "$dir"/var/lib/apt/lists/* "$dir"/var/cache/apt/* "$dir"/var/log/* "$dir"/tmp/*
}

# slim_rootfs DIR: drops documentation and translations, and keeps later
# packages from installing them.
slim_rootfs() {
  local dir=$1
  cat >"$dir/etc/dpkg/dpkg.cfg.d/slim" <<'EOF'
# As in Debian's slim images: no documentation or translations.
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/lintian/*
EOF
  find "$dir/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
  find "$dir/usr/share/doc" -mindepth 1 -type d -empty -delete
  rm -rf "$dir"/usr/share/man/* "$dir"/usr/share/info/* "$dir"/usr/share/lintian/*
  find "$dir/usr/share/locale" -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} +
}

# make_tarballs: both root filesystems into $cache, from one debootstrap.
make_tarballs() {
  mkdir -p "$cache"
  work=$(mktemp -d /tmp/beamgrid-rootfs.XXXXXX)
  make_rootfs "$work/root"
  tar --numeric-owner -C "$work/root" -cf "$cache/bookworm.tar.tmp" .
  slim_rootfs "$work/root"
  tar --numeric-owner -C "$work/root" -cf "$cache/bookworm-slim.tar.tmp" .
  mv "$cache/bookworm.tar.tmp" "$cache/bookworm.tar"
  mv "$cache/bookworm-slim.tar.tmp" "$cache/bookworm-slim.tar"
  rm -rf "$work"
  work=""
}

ensure_base() {
  if image_exists "$base:bookworm" && image_exists "$base:bookworm-slim"; then
    echo "base: $base:bookworm and :bookworm-slim already in the $ENGINE store"
    return 0
  fi
  if [ "${BEAMGRID_PULL:-1}" != 0 ] &&
    timeout 60 "$ENGINE" pull -q "$base:bookworm" >/dev/null 2>&1 &&
    timeout 60 "$ENGINE" pull -q "$base:bookworm-slim" >/dev/null 2>&1; then
    echo "base: pulled $base:bookworm and :bookworm-slim from the registry"
    return 0
  fi
  if [ -s "$cache/bookworm.tar" ] && [ -s "$cache/bookworm-slim.tar" ]; then
    echo "base: no registry; importing the cached root filesystems from $cache"
  else
    echo "base: no registry and no cached root filesystem; making one in $cache"
    make_tarballs
  fi
  local t
  for t in bookworm bookworm-slim; do
    eng import --change 'CMD ["bash"]' "$cache/$t.tar" "$base:$t" >/dev/null
  done
  echo "base: imported $base:bookworm ($(image_size "$base:bookworm") bytes)" \
    "and :bookworm-slim ($(image_size "$base:bookworm-slim") bytes)"
}

start=$SECONDS
ensure_base
base_s=$((SECONDS - start))

build=(build -t "$IMAGE" -f "$repo/Dockerfile")
if [ "$ENGINE" = podman ]; then
  # The bases are local; RUN steps reach Debian through the host's network.
  # --format docker: the OCI format has no HEALTHCHECK.
  build+=(--format docker --pull=never --network=host "${RUN_FLAGS[@]}")
fi
echo "$ENGINE ${build[*]} $repo"
ENG_TIMEOUT=1500 eng "${build[@]}" "$repo"
total_s=$((SECONDS - start))
# Each change of the sources leaves the previous build's untagged stages
# behind; drop those older than a day (recent ones are the layer cache).
eng image prune -f --filter until=24h >/dev/null 2>&1 || true
size=$(image_size "$IMAGE")
echo "image: $IMAGE, $size bytes ($((size / 1024 / 1024)) MiB)"
echo "time: base ${base_s} s, build $((total_s - base_s)) s, total ${total_s} s"
