# beamgrid - build, test, run and benchmark.
#
#   make            build build/beamgrid and the libraries
#   make run        install missing runtime packages (RUN_PKGS), build, serve
#                   (127.0.0.1:8080 unless configured: see PORT and BIND)
#   make test       install missing runtime and test packages (TEST_PKGS,
#                   BROWSER_PKGS), unit + integration tests, the Python
#                   client's tests (client-test), the page in headless
#                   Chromium (browser-test), then the same tests against an
#                   ASan+UBSan build, valgrind, make run's settings
#                   (run-test) and the deploy checks
#   make bench      benchmarks (ratios against baselines measured in the run)
#   make fuzz       libFuzzer over parsing, validation and encoding
#                   (FUZZ_SECONDS; exits non-zero on a finding)
#   make valgrind   the server under valgrind over a request set
#   make soak       wrk well past capacity (SOAK_SECONDS, SOAK_CONNECTIONS)
#   make format     clang-format the tree; make format-check checks it
#
# Variables: OPTIMIZATION (-O2), SANITIZER (address,undefined or empty),
# BUILD (output folder), CC, V=1 for full command lines.
#
# make run: PORT and BIND, set on the command line (make run PORT=18081) or
# in the environment (PORT=18081 make run), become --port and --bind; unset,
# they are not passed, so the server's own defaults (127.0.0.1:8080) and
# every BEAMGRID_* variable apply (BEAMGRID_PORT=18081 make run). A flag wins
# over its variable, so PORT wins over BEAMGRID_PORT and BIND over
# BEAMGRID_BIND. Note that PORT is a generic name: an exported PORT meant
# for something else is used here too.

CC ?= gcc
OPTIMIZATION ?= -O2
SANITIZER ?=
BUILD ?= build
# PORT and BIND: no defaults here (see make run above).
RUN_FLAGS = $(if $(strip $(BIND)), --bind $(BIND))$(if $(strip $(PORT)), --port $(PORT))

WARN = -Wall -Wextra -Werror -Wshadow -Wpointer-arith -Wstrict-prototypes \
       -Wmissing-prototypes -Wformat=2 -Wvla
# -ffp-contract=off: no FMAs in the trim test (docs/semantics.md §2.4).
STD = -std=c11 -D_GNU_SOURCE -ffp-contract=off -fno-fast-math
# Packages, in two lists: RUN_PKGS is what `make run` needs to build and
# serve (toolchain, libraries, headers); TEST_PKGS the tools `make test`
# adds (Criterion, curl, valgrind, nginx, wrk, linters, numpy...). Node.js
# and npm (the pinned OpenAPI and deploy linters, `npm ci`) are installed
# from Debian only when no `npm` is on PATH, so a Node from elsewhere
# (nodesource, nvm) is kept.
RUN_PKGS = gcc make libc6-dev pkg-config perl libmicrohttpd-dev \
           libjansson-dev libuv1-dev zlib1g-dev
TEST_PKGS = libcriterion-dev libcurl4-openssl-dev python3-jsonschema \
            clang-format nginx-light curl wrk shellcheck gettext-base \
            python3-yaml python3-numpy valgrind openssl iproute2 procps
NODE_PKGS = nodejs npm
SAN_FLAGS = $(if $(SANITIZER),-fsanitize=$(SANITIZER) -fno-omit-frame-pointer -fno-sanitize-recover=all,)

CFLAGS_ALL = $(STD) $(OPTIMIZATION) -g $(WARN) -fopenmp -MMD -MP $(SAN_FLAGS) \
             -I. $(CFLAGS)
LDFLAGS_ALL = -fopenmp $(SAN_FLAGS) $(LDFLAGS)
LIBS_SERVER = -lmicrohttpd -ljansson -luv -lz -lm -lpthread
LIBS_TEST = -lcriterion -lcurl

CORE_SRC = $(wildcard core/*.c)
API_SRC = $(wildcard api/*.c)
SERVER_SRC = $(filter-out server/main.c,$(wildcard server/*.c))
CORE_OBJ = $(CORE_SRC:%.c=$(BUILD)/%.o)
API_OBJ = $(API_SRC:%.c=$(BUILD)/%.o)
SERVER_OBJ = $(SERVER_SRC:%.c=$(BUILD)/%.o) $(BUILD)/gen/openapi_data.o \
             $(BUILD)/gen/page_data.o

UNIT_SRC = $(wildcard tests/core/test_*.c tests/api/test_*.c tests/server/test_*.c)
UNIT_BIN = $(UNIT_SRC:%.c=$(BUILD)/%)
INTEG_SRC = $(wildcard tests/integration/test_*.c)
INTEG_BIN = $(INTEG_SRC:%.c=$(BUILD)/%)
TEST_SUPPORT = $(wildcard tests/support/*.c)
TEST_SUPPORT_OBJ = $(TEST_SUPPORT:%.c=$(BUILD)/%.o)

Q = $(if $(V),,@)

.PHONY: all run run-test test unit integration sanitize deps deps-run \
        test-deps browser-test bench fuzz \
        format valgrind soak client-test \
        format-check clean openapi-lint openapi-check
.DEFAULT_GOAL := all

all: $(BUILD)/beamgrid

# The PyTorch port's generator (core/torch_gen.h) vectorizes its square
# roots; errno is never read, and the values are the same.
$(BUILD)/core/torch.o: CFLAGS_ALL += -fno-math-errno

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS_ALL) -c $< -o $@
	$(if $(V),,@echo "  CC  $<")

# openapi.yaml embedded in the server (served at /openapi.yaml).
$(BUILD)/gen/openapi_data.c: openapi.yaml
	@mkdir -p $(dir $@)
	$(Q){ echo '#include "server/openapi.h"'; \
	  echo 'const unsigned char bgs_openapi_yaml[] = {'; \
	  od -An -v -tx1 $< | sed 's/\([0-9a-f][0-9a-f]\)/0x\1,/g'; \
	  echo '0};'; \
	  echo "const size_t bgs_openapi_yaml_len = $$(wc -c < $<);"; } > $@

$(BUILD)/gen/openapi_data.o: $(BUILD)/gen/openapi_data.c
	$(Q)$(CC) $(CFLAGS_ALL) -c $< -o $@

# server/page.html embedded in the server (served at /), with its
# Content-Security-Policy (the hashes of its inline script and style, by
# server/page_csp.pl, with perl's Digest::SHA: RUN_PKGS has perl).
$(BUILD)/gen/page_data.c: server/page.html server/page_csp.pl
	@mkdir -p $(dir $@)
	$(Q)csp=$$(perl server/page_csp.pl $<) && \
	{ echo '#include "server/page.h"'; \
	  echo 'const unsigned char bgs_page_html[] = {'; \
	  od -An -v -tx1 $< | sed 's/\([0-9a-f][0-9a-f]\)/0x\1,/g'; \
	  echo '0};'; \
	  echo "const size_t bgs_page_html_len = $$(wc -c < $<);"; \
	  echo "const char bgs_page_csp[] = \"$$csp\";"; } > $@

$(BUILD)/gen/page_data.o: $(BUILD)/gen/page_data.c
	$(Q)$(CC) $(CFLAGS_ALL) -c $< -o $@

$(BUILD)/libbgcore.a: $(CORE_OBJ)
	$(Q)ar rcs $@ $^

$(BUILD)/libbgapi.a: $(API_OBJ)
	$(Q)ar rcs $@ $^

$(BUILD)/libbgserver.a: $(SERVER_OBJ)
	$(Q)ar rcs $@ $^

$(BUILD)/beamgrid: $(BUILD)/server/main.o $(BUILD)/libbgserver.a $(BUILD)/libbgapi.a $(BUILD)/libbgcore.a
	$(Q)$(CC) $(LDFLAGS_ALL) $^ $(LIBS_SERVER) -o $@
	@echo "  LD  $@"

# Test and bench programs are compiled like every object (so -MMD tracks
# the headers they include) and then linked; static pattern rules, so only
# the listed programs match.
$(UNIT_BIN) $(INTEG_BIN): $(BUILD)/tests/%: $(BUILD)/tests/%.o $(TEST_SUPPORT_OBJ) $(BUILD)/libbgserver.a $(BUILD)/libbgapi.a $(BUILD)/libbgcore.a
	$(Q)$(CC) $^ $(LDFLAGS_ALL) $(LIBS_SERVER) $(LIBS_TEST) -o $@
	@echo "  LD  $@"

# Keep the objects of test and bench programs between runs.
.SECONDARY:

# Install the Debian packages the build and tests need, only if missing.
# $(call install-missing,PACKAGES)
define install-missing
	@missing=""; for p in $(1); do \
	  dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi
endef
FUZZ_PKGS = clang libclang-rt-14-dev libomp-dev
# What only the tests need: xmllint (the SVG is well-formed) and a real
# browser for the page (tests/browser/page_test.py).
BROWSER_PKGS = libxml2-utils chromium chromium-driver python3-selenium

# deps-run: what make run needs; deps: that and the test tools.
deps-run:
	$(call install-missing,$(RUN_PKGS))

test-deps:
	$(call install-missing,$(BROWSER_PKGS))

deps: deps-run
	$(call install-missing,$(TEST_PKGS))
	@command -v npm >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  echo "installing: $(NODE_PKGS)"; $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $(NODE_PKGS) >/dev/null; }

run: deps-run
	$(MAKE) all
	./$(BUILD)/beamgrid$(RUN_FLAGS)

unit: $(UNIT_BIN)
	@set -e; for t in $(UNIT_BIN); do echo "== $$t"; $$t --jobs 2; done

integration: $(BUILD)/beamgrid $(BUILD)/beamgrid-collide $(INTEG_BIN)
	@set -e; for t in $(INTEG_BIN); do echo "== $$t"; \
	  BEAMGRID_BIN=$(BUILD)/beamgrid \
	  BEAMGRID_COLLIDE_BIN=$(BUILD)/beamgrid-collide $$t --jobs 1; done

# The server with a 1-bit cache hash, so parameter sets collide
# (tests/integration/test_collide.c): its cache.o comes first, and the
# archive's is then not linked.
$(BUILD)/server/cache_collide.o: server/cache.c
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS_ALL) -DBG_CACHE_HASH_BITS=1 -c $< -o $@

$(BUILD)/beamgrid-collide: $(BUILD)/server/main.o $(BUILD)/server/cache_collide.o $(BUILD)/libbgserver.a $(BUILD)/libbgapi.a $(BUILD)/libbgcore.a
	$(Q)$(CC) $(LDFLAGS_ALL) $^ $(LIBS_SERVER) -o $@
	@echo "  LD  $@"

# The Python client (clients/python/beamgrid_client.py) against the real
# server, with Debian's python3 and numpy (tests/client/test_client.py).
client-test: $(BUILD)/beamgrid
	BEAMGRID_BIN=$(BUILD)/beamgrid /usr/bin/python3 tests/client/test_client.py

# The same unit and integration tests against an ASan+UBSan build.
sanitize:
	$(MAKE) BUILD=build-san SANITIZER=address,undefined OPTIMIZATION=-O1 unit integration

test: deps test-deps
	$(MAKE) format-check
	$(MAKE) fmt-tables-check
	$(MAKE) openapi-check
	$(MAKE) unit integration
	$(MAKE) client-test
	$(MAKE) browser-test
	$(MAKE) sanitize
	$(MAKE) valgrind
	$(MAKE) run-test
	$(MAKE) deploy-test

# The page at / in headless Chromium against the real server: fill, submit,
# the count, the picture, the links, the curl command, errors by their field,
# a clean console; screenshots in $(BUILD)/page*.png.
browser-test: $(BUILD)/beamgrid
	BEAMGRID_BIN=$(BUILD)/beamgrid /usr/bin/python3 tests/browser/page_test.py

# make run with BEAMGRID_* variables, PORT (environment and command line)
# and BIND, on free loopback ports (tests/ops/make_run.sh).
run-test: deps
	BUILD=$(BUILD) tests/ops/make_run.sh

# The server under valgrind over good, bad, large and streamed requests;
# it must exit 0 with no memory error and no definite leak.
valgrind: $(BUILD)/beamgrid
	BEAMGRID_BIN=$(BUILD)/beamgrid tests/valgrind/run.sh

# Overload and soak (loopback): no 5xx but sheds, bounded memory, healthy
# at once afterwards, clean exit. .ci/run runs a short one.
SOAK_SECONDS ?= 20
SOAK_CONNECTIONS ?= 64
soak: $(BUILD)/beamgrid
	BEAMGRID_BIN=$(BUILD)/beamgrid tests/soak/soak.sh -d $(SOAK_SECONDS) \
	  -c $(SOAK_CONNECTIONS)

# One report, bench/results.md (+ results.png): core, encoders, then the
# service under wrk beside nginx serving the same bytes (bench/run.sh).
# BENCH_DURATION seconds a turn, BENCH_REPEATS turns a server (3, 7);
# make bench BENCH_DURATION=1 BENCH_REPEATS=1 checks the run quickly.
BENCH_PKGS = wrk nginx-light gnuplot-nox curl python3 util-linux
BENCH_DURATION ?= 3
BENCH_REPEATS ?= 7
bench: deps
	$(call install-missing,$(BENCH_PKGS))
	$(MAKE) $(BUILD)/beamgrid $(BUILD)/bench/bench_core $(BUILD)/bench/bench_encode \
	  $(BUILD)/bench/bench_stall
	BUILD=$(BUILD) DURATION=$(BENCH_DURATION) REPEATS=$(BENCH_REPEATS) bench/run.sh

$(BUILD)/bench/bench_core: $(BUILD)/bench/bench_core.o $(BUILD)/libbgcore.a
	$(Q)$(CC) $^ $(LDFLAGS_ALL) -lm -o $@

$(BUILD)/bench/bench_encode: $(BUILD)/bench/bench_encode.o $(BUILD)/libbgapi.a $(BUILD)/libbgcore.a
	$(Q)$(CC) $^ $(LDFLAGS_ALL) -ljansson -lz -lm -o $@

# The server's machinery under load (stalls, threads, memory): a client of
# the real build/beamgrid, which it starts itself.
$(BUILD)/bench/bench_stall: $(BUILD)/bench/bench_stall.o $(BUILD)/tests/support/server.o
	$(Q)$(CC) $^ $(LDFLAGS_ALL) -lcurl -ljansson -lpthread -lm -o $@

# Lint openapi.yaml with Redocly's CLI, pinned in tests/openapi (npm), then
# check that every documented route answers on the real server as documented.
openapi-lint:
	@cd tests/openapi && { [ -x node_modules/.bin/redocly ] || npm ci --no-audit --no-fund --loglevel=error; } \
	  && ./node_modules/.bin/redocly lint --config redocly.yaml ../../openapi.yaml

openapi-check: openapi-lint $(BUILD)/beamgrid
	BEAMGRID_BIN=$(BUILD)/beamgrid /usr/bin/python3 tests/openapi/routes_check.py

# libFuzzer over parsing, validation, resolution and encoding (clang).
# FUZZ_SECONDS bounds the run; findings land in build-fuzz/findings/.
FUZZ_SECONDS ?= 60
FUZZ_CFLAGS = -std=c11 -D_GNU_SOURCE -ffp-contract=off -g -O1 -I. -fopenmp \
              -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
fuzz: deps
	$(call install-missing,$(FUZZ_PKGS))
	@mkdir -p build-fuzz/findings build-fuzz/corpus
	clang $(FUZZ_CFLAGS) tests/fuzz/fuzz_request.c $(CORE_SRC) $(API_SRC) \
	  -ljansson -lz -lm -o build-fuzz/fuzz_request
	./build-fuzz/fuzz_request -max_total_time=$(FUZZ_SECONDS) -max_len=4096 \
	  -timeout=10 -rss_limit_mb=2048 -artifact_prefix=build-fuzz/findings/ \
	  build-fuzz/corpus tests/fuzz/corpus

# Deploy artefacts (Dockerfile, deploy/): see the README, section Operations.
# deploy-test: shellcheck, k8s schema + field checks, nginx in front of two
# replicas (failover, cache, load-script smoke), and image-check
# (DEPLOY_IMAGE_CHECK=0 skips that one). image-check: the Dockerfile's build
# and run steps without a Docker engine.
# image: builds the Dockerfile with docker when its daemon answers, else
# with podman (installing IMAGE_PKGS), the Debian base made by debootstrap
# when no registry serves it (tests/image/build.sh). image-test: that image
# in real containers: requests against build/beamgrid's answers, uid and
# read-only root, HEALTHCHECK, SIGTERM under load, two replicas behind
# nginx, podman kube play of deploy/k8s (tests/image/test.sh). Both fail,
# saying so, when no engine can be had. BEAMGRID_ENGINE=docker|podman forces one.
.PHONY: deploy-test image image-check image-test image-engine image-podman
IMAGE ?= beamgrid:latest
IMAGE_PKGS = podman runc debootstrap
deploy-test: deps
	$(MAKE) all
	BEAMGRID_BIN=$(BUILD)/beamgrid tests/deploy/run.sh

image-check: deps
	tests/deploy/dockerfile_check.sh

image: image-engine
	IMAGE=$(IMAGE) tests/image/build.sh

image-test: deps image all
	IMAGE=$(IMAGE) BEAMGRID_BIN=$(BUILD)/beamgrid timeout 1200 tests/image/test.sh

# podman and friends, unless docker works (or BEAMGRID_ENGINE=podman); a
# failed install is left to build.sh to report as "no container engine".
image-engine:
	@if [ "$$BEAMGRID_ENGINE" != podman ] && timeout 20 docker info >/dev/null 2>&1; then \
	  echo "image: docker works"; \
	else $(MAKE) --no-print-directory image-podman || echo "image: could not install $(IMAGE_PKGS)"; fi

image-podman:
	$(call install-missing,$(IMAGE_PKGS))

# core/fmt_tables.h is generated (tools/gen_fmt_tables.py, exact integer
# arithmetic): regenerate it, format it as `make format` would, and compare
# with the committed file byte for byte.
.PHONY: fmt-tables-check
fmt-tables-check:
	/usr/bin/python3 tools/gen_fmt_tables.py | \
	  clang-format --assume-filename=core/fmt_tables.h | cmp - core/fmt_tables.h
	@echo "core/fmt_tables.h: regenerated, identical"

FORMAT_SRC = core/*.[ch] api/*.[ch] server/*.[ch] tests/*/*.[ch] bench/*.c

format:
	clang-format -i $(FORMAT_SRC)

format-check:
	clang-format --dry-run --Werror $(FORMAT_SRC)

clean:
	rm -rf build build-san build-fuzz

-include $(shell find $(BUILD) build-san -name '*.d' 2>/dev/null)
