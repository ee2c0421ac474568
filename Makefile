# t5serve - the two quick-start commands and the usual targets.
#
#   make          build build/t5serve (installs missing Debian packages first)
#   make serve    build, then serve the shipped speller on http://127.0.0.1:8000
#   make test     build, then run every test (C tests, sanitizer build, Python
#                 integration tests with the real tritonclient)
#
# CUDA: the backend is built when nvcc is on PATH; `make T5_CUDA=OFF` skips it.

BUILD ?= build
JOBS ?= $(shell nproc)
T5_CUDA ?= AUTO
CMAKE_FLAGS ?=
PYTHON ?= python3

DEB_PKGS := build-essential cmake pkg-config libmicrohttpd-dev libcjson-dev libopenblas-dev
PY_TEST_PKGS := pytest numpy requests tritonclient[http]

.PHONY: all deps pydeps build build-tsan serve test test-c test-asan test-py clean format

all: build

deps:
	@missing=""; for p in $(DEB_PKGS); do \
	  dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

pydeps:
	@$(PYTHON) -c "import pytest, numpy, requests, tritonclient.http" 2>/dev/null || \
	  $(PYTHON) -m pip install -q $(PY_TEST_PKGS)

$(BUILD)/CMakeCache.txt: | deps
	cmake -S . -B $(BUILD) -DT5_CUDA=$(T5_CUDA) $(CMAKE_FLAGS)

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

serve: build
	$(BUILD)/t5serve serve --model-repository models --http-port 8000 --metrics-port 8002

test-c: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# The C tests again under AddressSanitizer + UndefinedBehaviorSanitizer
# (CPU only: the sanitizers do not see inside CUDA kernels).
test-asan: deps
	cmake -S . -B $(BUILD)-asan -DT5_CUDA=OFF -DT5_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug $(CMAKE_FLAGS)
	cmake --build $(BUILD)-asan -j $(JOBS)
	cd $(BUILD)-asan && ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure -j $(JOBS) -LE slow

# The server binary under ThreadSanitizer, for the concurrency battery in tests/py.
build-tsan: deps
	cmake -S . -B $(BUILD)-tsan -DT5_CUDA=OFF -DT5_TSAN=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS)
	cmake --build $(BUILD)-tsan -j $(JOBS) --target t5serve

test-py: build pydeps
	T5SERVE=$(CURDIR)/$(BUILD)/t5serve T5SERVE_ASAN=$(CURDIR)/$(BUILD)-asan/t5serve \
	  T5SERVE_TSAN=$(CURDIR)/$(BUILD)-tsan/t5serve $(PYTHON) -m pytest -q tests/py

test: test-c test-asan build-tsan test-py

format:
	clang-format -i $$(git ls-files '*.c' '*.h' '*.cu' '*.cuh')

clean:
	rm -rf $(BUILD) $(BUILD)-asan $(BUILD)-tsan
