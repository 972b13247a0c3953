# Thin wrapper over meson/ninja. `make demo` and `make test` install what they
# need first (scripts/install-deps is a no-op when everything is present).
BUILD      ?= build
ASAN_BUILD ?= build-asan
PREFIX     ?= /usr/local

.PHONY: all build deps test unit demo install bench bench-runtime bench-engine bench-pull bench-network bench-build bench-apiserver bench-compose fuzz clean

all: build

build: $(BUILD)/build.ninja
	ninja -C $(BUILD)

$(BUILD)/build.ninja:
	meson setup $(BUILD) --prefix $(PREFIX)

# The sanitizer build uses clang: besides a second compiler's warnings, it
# refuses a goto that jumps over a cleanup variable, which gcc accepts.
$(ASAN_BUILD)/build.ninja:
	CC=clang meson setup $(ASAN_BUILD) -Db_sanitize=address,undefined -Db_lundef=false

deps:
	scripts/install-deps

# Unit tests (plain and under ASan/UBSan), then the bats integration suites;
# ends with one line "N passed, M failed".
test: deps build $(ASAN_BUILD)/build.ninja
	ninja -C $(ASAN_BUILD) wharf-registry $$(cd $(ASAN_BUILD) && ninja -t targets all | sed -n 's/^\([a-z_/]*\/test_[a-z_]*\): .*/\1/p')
	BUILD=$(BUILD) ASAN_BUILD=$(ASAN_BUILD) tests/run-all

unit: build
	meson test -C $(BUILD) --suite unit --print-errorlogs

demo: deps build
	BUILD=$(BUILD) examples/demo.sh

# `make bench` runs every benchmark; each has its own target too. The engine,
# network and build ones install their peers first (Debian's docker.io: dockerd
# 20.10 and containerd, started only by the benchmark, on a private socket).
bench: bench-runtime bench-engine bench-pull bench-network bench-build bench-apiserver bench-compose

bench-runtime: deps build
	BUILD=$(BUILD) bench/runtime/run.sh

bench-engine: deps build
	scripts/install-deps bench-engine
	BUILD=$(BUILD) bench/engine/run.sh

# Pulls of a generated ~200 MB image from a local docker-registry: wharf,
# skopeo (to an OCI directory) and podman, alternating.
bench-pull: deps build
	BUILD=$(BUILD) bench/pull/run.sh
bench-network: deps build
	scripts/install-deps bench-engine
	BUILD=$(BUILD) bench/network/run.sh

bench-build: deps build
	scripts/install-deps bench-engine
	BUILD=$(BUILD) bench/build/run.sh

# The API server (wharf server) with 10,000 and 100,000 pods on SQLite and
# on etcd, then the store alone (kvbench).
bench-apiserver: deps build
	BUILD=$(BUILD) bench/apiserver/run.sh

# wharf compose up -d / down of 10 services against Debian's docker-compose
# on dockerd (and docker-compose on wharfd), alternating.
bench-compose: deps build
	scripts/install-deps bench-engine
	BUILD=$(BUILD) bench/compose/run.sh

# Each fuzz target for FUZZ_SECONDS (default 60) from its seed corpus.
FUZZ_BUILD   ?= build-fuzz
FUZZ_SECONDS ?= 60
fuzz: deps
	[ -f $(FUZZ_BUILD)/build.ninja ] || CC=clang meson setup $(FUZZ_BUILD) -Dfuzz=true \
	    -Db_sanitize=address,undefined -Db_lundef=false
	set -e; for t in spec format registry dockerapi dockerfile rootcopy; do \
	    ninja -C $(FUZZ_BUILD) tests/fuzz/fuzz_$$t; \
	    mkdir -p $(FUZZ_BUILD)/corpus-$$t; \
	    $(FUZZ_BUILD)/tests/fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) \
	        $(FUZZ_BUILD)/corpus-$$t tests/fuzz/corpus/$$t; \
	done

install: build
	meson install -C $(BUILD)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
