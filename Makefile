# Every target sets up what it needs on a fresh machine: the venv, the
# compiled speedups, Redis and the Node packages.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.deps-installed
# the benchmarks' load generator for WebSocket clients (libc only)
LOADGEN_C := benchmarks/loadgen_c/loadgen

.PHONY: run test test-hostile build venv test-deps bench bench-quick fuzz wheel clean

run: build examples/node_modules/.package-lock.json
	FLASK_SOCKETIO_FAST_REQUIRE_EXTENSIONS=1 $(PY) examples/chat/app.py

test: build test-deps
	FLASK_SOCKETIO_FAST_REQUIRE_EXTENSIONS=1 $(PY) -m pytest -q -p no:cacheprovider
	# the API and differential suites once more on the pure-Python twins
	env -u FLASK_SOCKETIO_FAST_REQUIRE_EXTENSIONS FLASK_SOCKETIO_FAST_NO_EXTENSIONS=1 $(PY) -m pytest -q -p no:cacheprovider tests/api tests/differential tests/engine/test_fused_dispatch.py tests/engine/test_thread_reader.py

venv: $(STAMP)

$(STAMP): requirements-dev.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -U pip
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-dev.txt
	touch $@

# compile src/_speedups/*.pyx next to their twins and install the package
# in editable mode; REQUIRE makes a failed compile an error here
build: venv
	FLASK_SOCKETIO_FAST_REQUIRE_EXTENSIONS=1 $(PY) setup.py -q build_ext --inplace
	$(PY) -m pip install -q --disable-pip-version-check --no-build-isolation --no-deps -e .

test-deps:
	bash scripts/ensure-test-deps.sh

$(LOADGEN_C): benchmarks/loadgen_c/loadgen.c
	cc -O2 -Wall -o $@ $<

examples/node_modules/.package-lock.json: examples/package.json examples/package-lock.json
	cd examples && npm ci --no-audit --no-fund --loglevel=error

clean:
	rm -rf build dist *.egg-info src/*.egg-info src/_speedups/*.c \
	    src/flask_socketio_fast/_speedups/*.so .pytest_cache .hypothesis $(LOADGEN_C)

# side-by-side comparison with Flask-SocketIO (and Node's socket.io when
# node is present); writes benchmarks/results/ and regenerates
# docs/performance.md.  `make bench-quick` finishes in about 3 minutes.
bench: build $(LOADGEN_C)
	bash benchmarks/setup_node.sh
	BENCH_COMMAND="make bench" $(PY) benchmarks/run.py $(BENCH_ARGS)

bench-quick: build $(LOADGEN_C)
	bash benchmarks/setup_node.sh
	BENCH_COMMAND="make bench-quick" $(PY) benchmarks/run.py --quick $(BENCH_ARGS)

# the long fuzz run of every compiled decoder (about 20 minutes here); a
# short run of the same tests is part of `make test`
fuzz: build
	FLASK_SOCKETIO_FAST_REQUIRE_EXTENSIONS=1 FSF_HYPOTHESIS_EXAMPLES=20000 $(PY) -m pytest -q -p no:cacheprovider --timeout=3600 tests/codec/test_fuzz.py
	FLASK_SOCKETIO_FAST_REQUIRE_EXTENSIONS=1 FSF_HYPOTHESIS_EXAMPLES=3000 $(PY) -m pytest -q -p no:cacheprovider --timeout=3600 tests/codec/test_properties.py

# sdist and compiled wheel for this machine into dist/ (release wheels for
# every platform come from cibuildwheel, see .github/workflows/wheels.yml)
wheel: venv
	FLASK_SOCKETIO_FAST_REQUIRE_EXTENSIONS=1 $(PY) -m build --no-isolation --outdir dist .

# the full hostile-client corpus over real sockets (a 30-stream version runs
# in `make test`)
test-hostile: build
	ENGINE_WS_CORPUS=500 $(PY) -m pytest -q -p no:cacheprovider tests/engine_ws/test_hostile.py
