# The project's interface. `make run` and `make test` are the README's two commands.
#
# Every target runs inside the project's virtual environment, $(VENV), made with $(PYTHON)
# at the first `make`: a distribution's own python3 (Debian 12, Ubuntu 24.04) refuses
# `pip install` outside one (PEP 668, "externally-managed-environment"). Where that python
# has no ensurepip (Debian without python3-venv), `make` installs python3.X-venv when run as
# root, and otherwise says which package to install.
PYTHON ?= python3
VENV ?= .venv
PORT ?= 8080
# `make run DATA_DIR=...`: another data dir than .creator-chat
DATA_DIR ?=
# `make synth ENV=prod`: one environment; by default all three
ENV ?=
SYNTH_ENVS := $(or $(ENV),dev staging prod)
SYNTH_OUT ?= cdk.out
DEPS_LAYER_DIR ?= build/deps-layer
APT_GET ?= apt-get

BIN := $(VENV)/bin
PY := $(BIN)/python
# in the venv: a new venv (or a deleted one) means a new install
STAMP := $(VENV)/.creator-chat-setup.stamp
# recipes and what they start (tests spawn creator-chat, python) find the venv's programs first
export PATH := $(abspath $(BIN)):$(PATH)
export VIRTUAL_ENV := $(abspath $(VENV))

.PHONY: setup venv run test lint fmt synth bench cost eval pr clean fuzz load
FUZZ_EXAMPLES ?= 2000
LOAD_CONCURRENCY ?= 50,200,1000
LOAD_REQUESTS ?= 2000
LOAD_SECONDS ?= 15

# The venv alone (no packages): pyvenv.cfg is a real file (bin/python is a symlink, whose
# date would be the interpreter's).
$(VENV)/pyvenv.cfg:
	@command -v $(PYTHON) >/dev/null 2>&1 || { \
	  echo "error: $(PYTHON) not found: install Python 3.11 or newer (Debian/Ubuntu: apt-get install python3)"; exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { \
	  echo "error: creator-chat needs Python 3.11 or newer; $(PYTHON) is $$($(PYTHON) -V 2>&1). Pass PYTHON=python3.11 (or newer)"; exit 1; }
	@echo "creating the virtual environment $(VENV) with $$($(PYTHON) -c 'import sys; print(sys.executable)')"
	@$(PYTHON) -c 'import ensurepip' >/dev/null 2>&1 || { \
	  pkg=$$($(PYTHON) -c 'import sys; print("python3.%d-venv" % sys.version_info[1])'); \
	  if [ "$$(id -u)" = 0 ] && command -v $(APT_GET) >/dev/null 2>&1; then \
	    echo "installing Debian's $$pkg (the venv module needs ensurepip)"; \
	    ($(APT_GET) update -qq && DEBIAN_FRONTEND=noninteractive $(APT_GET) install -y -qq $$pkg) >/dev/null || exit 1; \
	  else \
	    echo "error: $(PYTHON) cannot create a virtual environment (no ensurepip): run 'sudo apt-get install $$pkg', then make again"; \
	    exit 1; \
	  fi; \
	}
	@$(PYTHON) -m venv $(VENV) || { rm -rf $(VENV); exit 1; }

venv: $(VENV)/pyvenv.cfg

$(STAMP): pyproject.toml $(VENV)/pyvenv.cfg
	@missing=""; \
	command -v redis-server >/dev/null 2>&1 || missing="$$missing redis-server"; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing (cache and browser tests)"; \
	  ($(APT_GET) update -qq && DEBIAN_FRONTEND=noninteractive $(APT_GET) install -y -qq $$missing) >/dev/null; \
	fi
	$(PY) -m pip install -q --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

setup: $(STAMP)

run: $(STAMP)
	$(BIN)/creator-chat serve --port $(PORT)$(if $(DATA_DIR), --data-dir $(DATA_DIR))

test: $(STAMP)
	$(PY) -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy layers/core/python/creator_chat functions

fmt: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# The dependency layer is (re)built only when missing or built from other requirements than
# pyproject.toml lists (pip downloads arm64 wheels); then every environment is synthesised
# offline into $(SYNTH_OUT)/<env>.
synth: $(STAMP)
	$(PY) layers/build_deps.py --if-stale --out $(DEPS_LAYER_DIR)
	JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20 JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION=1 \
	  $(PY) app.py --env $(SYNTH_ENVS) --outdir $(SYNTH_OUT) --deps-layer-dir $(DEPS_LAYER_DIR)

# idle cost per month and the cost of 1,000 chats per environment, from the templates
# synthesised offline (no dependency layer needed) and the list prices in bench/cost.py
cost: $(STAMP)
	JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20 JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION=1 \
	  $(PY) bench/cost.py --env $(or $(ENV),dev prod)

bench: $(STAMP)
	@for b in bench/cold_start.py bench/chat_path.py bench/authorizer.py bench/ingest_throughput.py \
	          bench/embedder_throughput.py bench/vector_search.py bench/embedded_store.py \
	          bench/generator_quality.py bench/conversation_quality.py bench/export.py \
	          bench/streaming.py bench/artifacts.py; do \
	  echo "== $$b"; $(PY) $$b || exit 1; done

eval: $(STAMP)
	@test -d /usr/share/doc/python3.11/html/faq || { \
	  $(APT_GET) update -qq && DEBIAN_FRONTEND=noninteractive $(APT_GET) install -y -qq python3.11-doc >/dev/null; }
	$(PY) -m pip install -q --disable-pip-version-check -e '.[eval]'
	$(PY) bench/eval_retrieval.py

fuzz: $(STAMP)
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(PY) -m pytest tests/fuzz -q

load: $(STAMP)
	$(PY) bench/load_types.py --concurrency $(LOAD_CONCURRENCY) --seconds $(LOAD_SECONDS)
	$(PY) bench/load.py --concurrency $(LOAD_CONCURRENCY) --requests $(LOAD_REQUESTS)

pr: lint test

# keeps the venv (rm -rf .venv to start over: the next make builds it again)
clean:
	rm -rf .make cdk.out .pytest_cache .mypy_cache .ruff_cache
