# wangge — the quick start is `make demo` and `make test` (see README.md).
# Everything the project needs is installed by these targets: Debian packages
# (tools/install-debian-deps.sh), the virtualenv (.venv, from requirements.lock)
# and the embedded PostgreSQL cluster (var/pg, started by the `wangge` command).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 5000

.PHONY: all deps venv db demo serve test lint format bench lock clean

all: test

deps:
	@tools/install-debian-deps.sh

$(VENV)/.installed: requirements.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.lock
	$(BIN)/python -m pip install -q --no-deps -e . --config-settings editable_mode=compat
	@touch $@

venv: deps $(VENV)/.installed

# Start (or create) the embedded cluster unless DATABASE_URL points elsewhere,
# restart it if its server packages were upgraded, and migrate.
db: venv
	@test -n "$$DATABASE_URL" || $(BIN)/wangge db refresh
	@test -n "$$DATABASE_URL" || $(BIN)/wangge db start >/dev/null
	$(BIN)/wangge db upgrade

demo: db
	$(BIN)/wangge demo load --if-missing
	@$(MAKE) --no-print-directory serve

serve: db
	@$(BIN)/wangge demo logins --url http://$(HOST):$(PORT)/
	exec $(BIN)/granian --interface wsgi --host $(HOST) --port $(PORT) --workers 2 \
		--blocking-threads 4 --no-ws --access-log --factory webgis.app:create_app

test: venv lint
	$(BIN)/pytest

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Each benchmark prints one JSON object with its figures beside the anchors.
bench: venv
	@tools/install-debian-deps.sh bench
	$(BIN)/python -m pip install -q -r requirements-bench.lock
	$(BIN)/python benchmarks/gridding.py
	$(BIN)/python benchmarks/hotspots.py
	$(BIN)/python benchmarks/patrol.py
	$(BIN)/python benchmarks/tiles.py
	$(BIN)/python benchmarks/intake.py

# Re-pin every dependency from pyproject.toml's ranges into the lock files.
lock:
	rm -rf var/lockenv && $(PYTHON) -m venv var/lockenv
	var/lockenv/bin/pip install -q --upgrade pip
	var/lockenv/bin/pip install -q -e '.[dev]'
	var/lockenv/bin/pip freeze --exclude-editable | LC_ALL=C sort > requirements.lock
	var/lockenv/bin/pip install -q -e '.[bench]'
	var/lockenv/bin/pip freeze --exclude-editable | LC_ALL=C sort \
		| LC_ALL=C comm -13 requirements.lock - > requirements-bench.lock
	rm -rf var/lockenv

clean:
	-$(BIN)/wangge db stop
	rm -rf $(VENV) var/pg
