# Thin wrapper around CMake/CTest. The two commands of the README:
#   make run    install what is missing, build the daemon, run on 127.0.0.1:3128 (etc/portcullis.toml)
#   make test   install what is missing, build, run the whole suite (plain, then ASan+UBSan)
BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= $(shell nproc)
CONFIG     ?= etc/portcullis.toml
# Started as root (a fresh machine), `make run` drops to this user after binding:
# the daemon refuses to serve as root.
RUN_USER   ?= $(if $(filter 0,$(shell id -u)),nobody)
# ccache when the machine has it (a developer's rebuilds); the build never needs it.
CCACHE     := $(shell command -v ccache 2>/dev/null)
LAUNCHER   := $(if $(CCACHE),-DCMAKE_CXX_COMPILER_LAUNCHER=$(CCACHE) -DCMAKE_C_COMPILER_LAUNCHER=$(CCACHE))

.PHONY: all deps test-deps build run test check check-asan fuzz clean

all: build

deps:
	@packaging/build-deps.sh

test-deps:
	@packaging/build-deps.sh --test

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(LAUNCHER)
	cmake --build $(BUILD) -j $(JOBS)

# Only the daemon: the test suite is built by `make check` / `make test`.
run: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(LAUNCHER)
	cmake --build $(BUILD) -j $(JOBS) --target portcullis
	$(BUILD)/portcullis run -c $(CONFIG)$(if $(RUN_USER), --user $(RUN_USER))

# The plain suite: quick feedback while developing.
check: test-deps build
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)

# The same suite under AddressSanitizer + UndefinedBehaviorSanitizer, warnings as errors.
check-asan: test-deps
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DPORTCULLIS_SANITIZE=ON -DPORTCULLIS_WERROR=ON $(LAUNCHER)
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	ctest --test-dir $(ASAN_BUILD) --output-on-failure -j $(JOBS)

# What CI runs: everything, ending with a short libFuzzer run of every target.
test: check check-asan
	$(MAKE) fuzz FUZZ_SECONDS=$(CI_FUZZ_SECONDS)

# libFuzzer builds (clang, ASan+UBSan); each target runs for FUZZ_SECONDS.
FUZZ_SECONDS    ?= 60
CI_FUZZ_SECONDS ?= 20
FUZZ_TARGETS := $(patsubst tests/fuzz/%_fuzz.cpp,fuzz_%,$(wildcard tests/fuzz/*_fuzz.cpp))
fuzz: test-deps
	CC=clang CXX=clang++ cmake -S . -B build-fuzz -DPORTCULLIS_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo $(LAUNCHER)
	cmake --build build-fuzz -j $(JOBS) --target $(FUZZ_TARGETS)
	tests/fuzz/run-all.sh build-fuzz $(FUZZ_SECONDS)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) build-fuzz
