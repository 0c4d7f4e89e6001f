# GitStore — one entry point for setup, running, tests and benchmarks.
#   make serve   set up, then run everything on embedded backends (data in ./data)
#   make test    set up, then run the whole check: generated code, lint, types, tests
#   make bench   set up, then run every benchmark in bench/ (one JSON line each)
#   make lock    upgrade requirements.txt on purpose; kept only if `make test` passes on it
#   make hooks   build the example WASI conversion hooks (examples/hooks/*.c -> build/hooks/)
#   make toolchain  install what `make hooks` needs (Debian packages; run by `make test`)
#
# Installs are locked: requirements.txt pins the whole tree (exact versions with hashes) and
# setup installs only that, so an upstream release cannot change what a fresh clone gets.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: setup serve test check lint typecheck proto proto-check lock-check bench lock clean toolchain hooks

setup: $(STAMP)

$(STAMP): pyproject.toml requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV) || { echo "error: '$(PYTHON) -m venv' failed; on Debian/Ubuntu install python3-venv (apt-get install python3-venv)"; exit 1; }
	$(PY) -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps -r requirements.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	$(PY) -m pip check
	@touch $(STAMP)

serve: setup
	$(VENV)/bin/gitstore serve --data-dir ./data

proto: setup
	PYTHON=$(PY) scripts/gen_proto.sh

proto-check: setup
	@tmp=$$(mktemp -d) && PYTHON=$(PY) scripts/gen_proto.sh $$tmp >/dev/null && \
	  stale=0; for d in git/v1 hook/v1; do \
	    diff -r -x __init__.py -x __pycache__ $$tmp/gitstore/$$d src/gitstore/$$d >/dev/null || { stale=1; echo "error: src/gitstore/$$d is stale; run 'make proto'"; diff -r -x __init__.py -x __pycache__ $$tmp/gitstore/$$d src/gitstore/$$d | head -20; }; \
	  done; rm -rf $$tmp; \
	  if [ $$stale = 0 ]; then echo "generated gRPC code is up to date"; else exit 1; fi

lint: setup
	$(VENV)/bin/ruff check src tests bench scripts
	$(VENV)/bin/ruff format --check src tests bench scripts
	$(VENV)/bin/lint-imports

typecheck: setup
	$(VENV)/bin/mypy

lock-check: setup
	$(PY) scripts/check_lock.py

check: lock-check proto-check lint typecheck

test: check hooks
	$(VENV)/bin/pytest -q

# Example conversion hooks: C compiled to WASI preview 1 commands (docs/conversion.md).
HOOK_CC     ?= clang
HOOK_CFLAGS ?= --target=wasm32-wasi -O2 -Wall -Wextra -Werror
HOOKS_DIR   := build/hooks
HOOKS       := $(patsubst examples/hooks/%.c,$(HOOKS_DIR)/%.wasm,$(wildcard examples/hooks/*.c))

toolchain:
	@HOOK_CC=$(HOOK_CC) scripts/toolchain.sh

hooks: toolchain $(HOOKS)

$(HOOKS_DIR)/%.wasm: examples/hooks/%.c $(wildcard examples/hooks/*.h) | toolchain
	@mkdir -p $(HOOKS_DIR)
	$(HOOK_CC) $(HOOK_CFLAGS) -o $@.tmp $< && mv $@.tmp $@

bench: setup hooks
	$(PY) bench/run.py

lock: setup
	PYTHON=$(PY) scripts/lock.sh

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache $(HOOKS_DIR)
