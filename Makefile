# Thin wrapper around scripts/install-deps.sh and CMake (like Neovim's).
# make run      install deps, build, start packmaild with a demo user
# make test     install deps, build, run every test with ctest
# make bench    install deps, build, run the benchmarks under bench/
# SANITIZE=1    build with ASan+UBSan into build-sanitize/

BUILD_TYPE ?= RelWithDebInfo
JOBS ?= $(shell nproc 2>/dev/null || echo 2)

ifeq ($(SANITIZE),1)
BUILD_DIR ?= build-sanitize
CMAKE_EXTRA := -DPACKMAIL_SANITIZE=ON
else
BUILD_DIR ?= build
CMAKE_EXTRA :=
endif

CMAKE_FLAGS := -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CMAKE_EXTRA)

.PHONY: all deps configure build run test bench clean format

all: build

deps:
	@scripts/install-deps.sh

configure: deps
	cmake -S . -B $(BUILD_DIR) $(CMAKE_FLAGS)

build: configure
	cmake --build $(BUILD_DIR) -j$(JOBS)

run: configure
	cmake --build $(BUILD_DIR) -j$(JOBS) --target packmaild packmailctl
	@scripts/run-demo.sh $(BUILD_DIR)

test: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j$(JOBS) --timeout 900

bench: configure
	cmake --build $(BUILD_DIR) -j$(JOBS) --target benches packmaild packmailctl
	@scripts/run-benches.sh $(BUILD_DIR)

format:
	git ls-files '*.cpp' '*.h' | xargs clang-format -i

clean:
	rm -rf build build-sanitize
