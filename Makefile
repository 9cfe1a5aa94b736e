# The project's interface. `make run` and `make test` are the README's two commands.
PYTHON ?= python3
PORT ?= 8080
STAMP := .make/setup.stamp

.PHONY: setup run test lint fmt synth bench eval pr clean fuzz load
FUZZ_EXAMPLES ?= 2000
LOAD_CONCURRENCY ?= 50,200,1000
LOAD_REQUESTS ?= 2000
LOAD_SECONDS ?= 15

$(STAMP): pyproject.toml
	@mkdir -p .make
	@missing=""; \
	command -v redis-server >/dev/null 2>&1 || missing="$$missing redis-server"; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing (cache and browser tests)"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing) >/dev/null; \
	fi
	$(PYTHON) -m pip install -q --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

setup: $(STAMP)

run: $(STAMP)
	creator-chat serve --port $(PORT)

test: $(STAMP)
	$(PYTHON) -m pytest -q

lint: $(STAMP)
	ruff check .
	ruff format --check .
	mypy layers/core/python/creator_chat functions

fmt:
	ruff format .
	ruff check --fix .

synth: $(STAMP)
	CDK_OUTDIR=cdk.out $(PYTHON) app.py

bench: $(STAMP)
	@for b in bench/cold_start.py bench/chat_path.py bench/authorizer.py bench/ingest_throughput.py \
	          bench/embedder_throughput.py bench/vector_search.py bench/embedded_store.py \
	          bench/generator_quality.py bench/export.py \
	          bench/artifacts.py; do \
	  echo "== $$b"; $(PYTHON) $$b || exit 1; done

eval: $(STAMP)
	@test -d /usr/share/doc/python3.11/html/faq || { \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3.11-doc >/dev/null; }
	$(PYTHON) -m pip install -q --disable-pip-version-check -e '.[eval]'
	$(PYTHON) bench/eval_retrieval.py

fuzz: $(STAMP)
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(PYTHON) -m pytest tests/fuzz -q

load: $(STAMP)
	$(PYTHON) bench/load_types.py --concurrency $(LOAD_CONCURRENCY) --seconds $(LOAD_SECONDS)
	$(PYTHON) bench/load.py --concurrency $(LOAD_CONCURRENCY) --requests $(LOAD_REQUESTS)

pr: lint test

clean:
	rm -rf .make cdk.out .pytest_cache .mypy_cache .ruff_cache
