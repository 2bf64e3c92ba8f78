# ProVoice: `make demo` and `make test` do all the set-up they need on a fresh machine.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
TORCH_VERSION ?= 2.13.0
export PREFECT_SERVER_ANALYTICS_ENABLED ?= false
export PYTHONUNBUFFERED := 1
# The suite runs on every core (pytest-xdist; `PYTEST_WORKERS=0` runs it in this process). A test file goes
# to one worker whole, so its module-scoped fixtures are made once; files go out in collection order, which
# starts with the slowest (deployments/, flows/), so no long test is left for the end.
PYTEST_WORKERS ?= auto
PYTEST_ARGS := -q -p no:cacheprovider -n $(PYTEST_WORKERS) --dist loadfile --no-loadscope-reorder --durations=10

.PHONY: install system-deps demo cluster test test-fast test-cluster lint lint-imports bench clean

install: system-deps $(VENV)/.installed

# Debian packages: ffmpeg and espeak-ng for audio, chromium for the Playground's browser tests, postgresql for
# the tests that run on both databases (a throwaway server each run; no system service is started).
system-deps:
	@missing=""; for t in ffmpeg ffprobe espeak-ng chromium; do command -v $$t >/dev/null || missing="$$missing $$t"; done; \
	ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || missing="$$missing postgresql"; \
	if [ -n "$$missing" ]; then \
	  echo "installing system packages:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq ffmpeg espeak-ng chromium postgresql >/dev/null; \
	fi

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PY) -c "import torch" 2>/dev/null || $(PIP) install -q torch==$(TORCH_VERSION)
	$(PIP) install -q -e ".[train,dev,postgres]"
	touch $@

demo: install
	$(PY) -m interfaces.demo

# The served topology on this machine (what infra/ runs): PostgreSQL, S3 (moto), Prefect server, API on
# :8000 (CLUSTER_ARGS="--api-port N" to change), a `cpu` and a `gpu` worker. Ctrl-C stops everything.
cluster: install
	$(PY) -m deployments.local_cluster $(CLUSTER_ARGS)

test: install lint-imports lint
	$(PY) -m pytest $(PYTEST_ARGS)

lint-imports: install
	$(VENV)/bin/lint-imports

# ruff's lint rules and formatting over everything, mypy over the core (rules in pyproject.toml).
lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

test-fast: install lint-imports lint
	$(PY) -m pytest $(PYTEST_ARGS) -m "not integration and not cluster"

# The one-machine cluster (PostgreSQL, S3, a Prefect server, the API, two workers) under faults, alone
# (`make test` runs it too): about 3 minutes.
test-cluster: install
	$(PY) -m pytest -q -p no:cacheprovider -s -m cluster tests/deployments/test_cluster.py

bench: install
	$(PY) bench/prepare_throughput.py --minutes 10 --update-docs
	$(PY) bench/prepare_throughput.py --long-minutes 60 --update-docs
	$(PY) bench/train_throughput.py --update-docs
	$(PY) bench/prepare_scaling.py --update-docs
	$(PY) bench/compat_latency.py --update-docs

clean:
	rm -rf $(VENV) .pytest_cache .bench
