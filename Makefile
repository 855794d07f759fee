# tessera - convenience entry points around CMake.
#   make demo   install missing packages, build, simulate demo data, analyze it
#   make test   build and run every test (ctest)
#   make asan   the tests again under AddressSanitizer + UndefinedBehaviorSanitizer
#   make bench  benchmarks against pandas / scipy / scikit-learn (not part of test)
#   make pg-extension  the PostgreSQL extension (CREATE EXTENSION tessera)
#   make install  the binary, public headers, libtessera and tessera.pc (PREFIX=/usr/local)
BUILD ?= build
ASAN_BUILD ?= build-asan
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?=
DEMO_DIR ?= $(BUILD)/demo

.PHONY: all deps build demo test asan bench clean install pg-extension

all: build

deps:
	@sh scripts/install-deps.sh

$(BUILD)/Makefile: CMakeLists.txt
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS) >/dev/null

build: deps $(BUILD)/Makefile
	@cmake --build $(BUILD) -j $(JOBS)

demo: build
	@sh scripts/demo.sh $(BUILD)/tessera $(DEMO_DIR)

test: build
	cd $(BUILD) && ctest --output-on-failure --no-tests=error -j $(JOBS)

asan: deps
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DTSR_SANITIZE=ON $(CMAKE_FLAGS) >/dev/null
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure --no-tests=error -j $(JOBS)

bench: build
	@sh scripts/install-deps.sh --all
	@sh bench/run.sh $(BUILD)/tessera

# The PostgreSQL extension (pgext/, docs/pg-extension.md): built with PGXS
# from build/libtessera.a and installed into the local PostgreSQL.
pg-extension: build
	$(MAKE) -C pgext TSR_BUILD=$(abspath $(BUILD)) install
	$(MAKE) -C pgext TSR_BUILD=$(abspath $(BUILD)) clean >/dev/null

install: build
	cmake --install $(BUILD) $(if $(PREFIX),--prefix $(PREFIX))

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
