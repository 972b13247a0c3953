# Thin wrapper over meson/ninja. `make demo` and `make test` install what they
# need first (scripts/install-deps is a no-op when everything is present).
BUILD      ?= build
ASAN_BUILD ?= build-asan
PREFIX     ?= /usr/local

.PHONY: all build deps test unit demo install bench clean

all: build

build: $(BUILD)/build.ninja
	ninja -C $(BUILD)

$(BUILD)/build.ninja:
	meson setup $(BUILD) --prefix $(PREFIX)

$(ASAN_BUILD)/build.ninja:
	meson setup $(ASAN_BUILD) -Db_sanitize=address,undefined -Db_lundef=false

deps:
	scripts/install-deps

# Unit tests (plain and under ASan/UBSan), then the bats integration suites;
# ends with one line "N passed, M failed".
test: deps build $(ASAN_BUILD)/build.ninja
	ninja -C $(ASAN_BUILD) $$(cd $(ASAN_BUILD) && ninja -t targets all | sed -n 's/^\(tests\/unit\/test_[a-z_]*\): .*/\1/p')
	BUILD=$(BUILD) ASAN_BUILD=$(ASAN_BUILD) tests/run-all

unit: build
	meson test -C $(BUILD) --suite unit --print-errorlogs

demo: deps build
	BUILD=$(BUILD) examples/demo.sh

bench: deps build
	BUILD=$(BUILD) bench/runtime/run.sh

install: build
	meson install -C $(BUILD)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
