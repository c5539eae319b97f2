# beamgrid container image.
#
#   docker build -t beamgrid .            (or: make image)
#   docker run --rm -p 127.0.0.1:8080:8080 beamgrid
#
# Two stages: the builder compiles build/beamgrid with the project's own
# Makefile on debian:bookworm; the runtime stage is debian:bookworm-slim with
# only the shared libraries the binary links against, a non-root user and a
# healthcheck. `make image` builds it with docker or podman (making the
# Debian bases with debootstrap where no registry serves them), and `make
# image-test` runs it in real containers (README, Operations). Every BEAMGRID_* variable configures the server (see
# README, Operations); BEAMGRID_BIND is 0.0.0.0 so the published port works.
#
# `make image-check` exercises this file without a Docker engine
# (tests/deploy/dockerfile_check.sh): it lints it, runs the builder's build
# command on a copy of the build context, checks that every library the
# binary needs comes from a runtime package, then runs the binary the way the
# runtime stage does and probes it with the HEALTHCHECK command.

FROM debian:bookworm AS builder

RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      build-essential libmicrohttpd-dev libjansson-dev libuv1-dev zlib1g-dev \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /src
COPY . .
RUN make -j"$(nproc)" all


FROM debian:bookworm-slim AS runtime

# Runtime libraries only: the shared libraries build/beamgrid links (libc6
# and libgcc-s1 come with the base image). One package a line, so that a
# new one is a one-line change; `make image-check` fails on a package the
# binary does not need and on a library no package provides. No curl: the
# HEALTHCHECK speaks HTTP with bash alone (curl would add libcurl, OpenSSL
# and Kerberos, about 13 MB, for one probe).
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libgomp1 \
      libjansson4 \
      libmicrohttpd12 \
      libuv1 \
      zlib1g \
 && rm -rf /var/lib/apt/lists/*

RUN groupadd --system --gid 10001 beamgrid \
 && useradd --system --uid 10001 --gid beamgrid --no-create-home \
      --home-dir /nonexistent --shell /usr/sbin/nologin beamgrid

COPY --from=builder /src/build/beamgrid /usr/local/bin/beamgrid

ENV BEAMGRID_BIND=0.0.0.0 \
    BEAMGRID_PORT=8080 \
    BEAMGRID_DRAIN_S=10

# Numeric so that Kubernetes' runAsNonRoot can verify it.
USER 10001:10001
EXPOSE 8080

# No --start-period: the server listens within milliseconds, and dockerfilelint
# 1.8.0 misreads hyphenated HEALTHCHECK options. The probe: GET /healthz over
# bash's /dev/tcp, healthy on a 200 status line.
HEALTHCHECK --interval=10s --timeout=3s --retries=3 \
  CMD bash -c 'exec 3<>"/dev/tcp/127.0.0.1/${BEAMGRID_PORT}" && printf "GET /healthz HTTP/1.0\r\n\r\n" >&3 && read -r -t 2 _ code _ <&3 && [ "$code" = 200 ]' || exit 1

# SIGTERM: /readyz turns 503, in-flight requests drain for up to
# BEAMGRID_DRAIN_S seconds, then the process exits 0. Give `docker stop` a
# longer timeout than the drain (docker stop -t 15).
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/beamgrid"]
