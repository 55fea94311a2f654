# distill-guard: the two commands a newcomer needs are `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOME_DIR ?= detector-home
DEMO_DIR ?= data/demo
DEMO_ACCOUNTS ?= 3000
DEMO_DAYS ?= 3
DEMO_SEED ?= 7

.PHONY: venv lock run test test-quick lint model eval eval-fixed bench sanitize clean

# constraints.txt: the exact versions of every package (`make lock`); pyproject.toml's lower
# bounds are for those who install the package as a library.
$(STAMP): pyproject.toml constraints.txt detector/ingest/_scan.c
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# CPU wheel on local disk; a bare `torch` would pull a multi-GB CUDA build.
	$(BIN)/pip install -q -c constraints.txt torch==2.13.0
	$(BIN)/pip install -q -c constraints.txt -e '.[dev,spark]'
	# Distil the static CPU embedding model once, offline, from the packaged MiniLM
	# (cached in ~/.cache/distill-guard/models; about 2 minutes on an idle 2-core machine).
	$(BIN)/detector embeddings prepare
	touch $(STAMP)

venv: $(STAMP)

## make lock: rewrite constraints.txt from what .venv has installed (after upgrading a package
## there on purpose; then rebuild the default model with `make model`).
lock:
	$(BIN)/python tools/lock_constraints.py --out constraints.txt

## make run: set up, generate demo traffic, ingest, score, report.
run: $(STAMP)
	@start=$$(date +%s); \
	$(BIN)/detector simulate --out $(DEMO_DIR) --accounts $(DEMO_ACCOUNTS) --days $(DEMO_DAYS) --seed $(DEMO_SEED) && \
	$(BIN)/detector --home $(HOME_DIR) ingest $(DEMO_DIR) --json && \
	$(BIN)/detector --home $(HOME_DIR) run --all && \
	$(BIN)/detector --home $(HOME_DIR) report --out $(HOME_DIR)/reports/latest.html && \
	$(BIN)/detector --home $(HOME_DIR) summary --truth $(DEMO_DIR)/truth.json && \
	echo "pipeline wall time: $$(( $$(date +%s) - start )) s" && \
	echo "Report: $$(realpath $(HOME_DIR)/reports/latest.html)" && \
	echo "Analyst pages: DETECTOR_DEV_MODE=1 $(BIN)/detector --home $(HOME_DIR) serve --port 8000" && \
	echo "then open http://127.0.0.1:8000/queue with dev key: $$(DETECTOR_DEV_MODE=1 $(BIN)/detector --home $(HOME_DIR) keys dev)"

## make test: same set-up, then the whole suite (slow end-to-end tests included), split over
## PYTEST_WORKERS processes (pytest-xdist; tests/conftest.py: whole modules or areas per worker);
## PYTEST_WORKERS=0 runs it in this one process.
PYTEST_WORKERS ?= 2
test: $(STAMP)
	$(BIN)/ruff check detector tests bench tools
	$(BIN)/lint-imports
	$(BIN)/detector rules test
	$(BIN)/pytest -q -n $(PYTEST_WORKERS)

## make test-quick: everything but the tests marked slow.
test-quick: $(STAMP)
	$(BIN)/pytest -q -n $(PYTEST_WORKERS) -m "not slow"

lint: $(STAMP)
	$(BIN)/ruff check detector tests bench tools
	$(BIN)/lint-imports

## make model: retrain the default model shipped in detector/model/default/ (training scenarios only).
model: $(STAMP)
	$(BIN)/python tools/build_default_model.py

## make eval: detection per volume level (0.5x, 1x, 3x, 10x) and per archetype on the evaluation
## scenarios, development seeds (bench/eval_volume.py -> bench/results/eval_volume.json).
## EVAL_ARGS="--seeds final" for the once-only final measurement; --quick to iterate.
EVAL_ARGS ?=
eval: $(STAMP)
	$(BIN)/python bench/eval_volume.py $(EVAL_ARGS)

## make eval-fixed: the fixed evaluation and shift scenarios at 1x (bench/eval.py).
eval-fixed: $(STAMP)
	$(BIN)/python bench/eval.py

## make bench: whole pipeline on ~1M generated requests.
bench: $(STAMP)
	$(BIN)/python bench/pipeline.py

## make sanitize: the ingest tests with the compiled scanner built under AddressSanitizer and
## UBSan (gcc), then the normal build again. SANITIZE_TESTS picks the tests (CI runs the ones
## that drive the scanner directly: its contract, hostile and fast-path tests).
SANITIZE_TESTS ?= tests/ingest
sanitize: $(STAMP)
	so=$$($(BIN)/python -c "import detector.ingest._scan as m; print(m.__file__)") && \
	inc=$$($(BIN)/python -c "import sysconfig; print(sysconfig.get_paths()['include'])") && \
	gcc -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -shared -fPIC -I$$inc \
	    detector/ingest/_scan.c -o $$so && \
	LD_PRELOAD="$$(gcc -print-file-name=libasan.so) $$(gcc -print-file-name=libubsan.so)" \
	    ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	    $(BIN)/pytest -q -p no:cacheprovider $(SANITIZE_TESTS); rc=$$?; \
	$(BIN)/pip install -q --no-deps --no-build-isolation -e . >/dev/null 2>&1; exit $$rc

clean:
	rm -rf $(HOME_DIR) $(DEMO_DIR) bench/work
