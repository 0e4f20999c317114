# Two commands a new contributor needs: `make demo` and `make test`. Both create their own
# virtualenv on first use (only Python 3.11+ is required).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
EXTRAS ?= test,openapi,lint,bench
PYTEST_ARGS ?=

.PHONY: demo test test-system bench-system test-postgres test-mariadb test-browser test-django6 test-drf316 lint check bench bench-smoke schemathesis clean

$(VENV)/.installed-$(EXTRAS): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[$(EXTRAS)]" $(PIP_EXTRA)
	touch $@

venv: $(VENV)/.installed-$(EXTRAS)

demo: venv
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py runserver 127.0.0.1:8000

# The suite on SQLite, with branch coverage of the package.
test: venv
	$(BIN)/python -m pytest -m "not browser" --cov --cov-report=term $(PYTEST_ARGS)

# Real processes (docs/logged-errors.md, "Scale-out and outages"): three gunicorn nodes on one
# PostgreSQL and Redis (db 8), a PostgreSQL cluster of their own frozen and stopped, SIGTERM
# under load. Needs PostgreSQL's binaries, 127.0.0.1:5432 and Redis; about 2 minutes.
test-system:
	$(MAKE) venv EXTRAS=test,openapi,lint,postgres
	$(BIN)/python -m pytest tests/system -m system -p no:randomly -q $(PYTEST_ARGS)

# Logged-error throughput per gunicorn worker, a 500 errors/s storm, a frozen database
# (benchmarks/system.py; BENCH_ARGS="--help").
bench-system:
	$(MAKE) venv EXTRAS=test,openapi,lint,postgres
	$(BIN)/python -m benchmarks.system $(BENCH_ARGS)

test-postgres:
	$(MAKE) venv EXTRAS=test,openapi,lint,postgres
	CB_DATABASE=postgres $(BIN)/python -m pytest -m "not browser" -p no:randomly -q $(PYTEST_ARGS)

test-mariadb:
	$(MAKE) venv EXTRAS=test,openapi,lint,mysql
	CB_DATABASE=mariadb $(BIN)/python -m pytest -m "not browser" -p no:randomly -q $(PYTEST_ARGS)

test-browser: venv
	$(BIN)/python -m pip install -q playwright
	$(BIN)/python -m pytest -m browser -q $(PYTEST_ARGS)

# The newest Django 6.x on the newest Python available (Django 6 needs Python >= 3.12).
test-django6:
	$(MAKE) test VENV=.venv-django6 PIP_EXTRA="'django>=6,<7'" PYTEST_ARGS="-q --cov-fail-under=0 $(PYTEST_ARGS)"

# The oldest supported DRF (3.16: list-shaped ListSerializer errors, streamed JSON bodies).
test-drf316:
	$(MAKE) test VENV=.venv-drf316 PIP_EXTRA="'djangorestframework>=3.16,<3.17'" PYTEST_ARGS="-q -p no:randomly $(PYTEST_ARGS)"

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

check: venv
	$(BIN)/python manage.py check --fail-level WARNING
	DJANGO_SETTINGS_MODULE=tests.settings $(BIN)/django-admin check --fail-level WARNING --pythonpath .
	DJANGO_SETTINGS_MODULE=tests.settings $(BIN)/django-admin makemigrations --check --dry-run --pythonpath .

# The performance comparisons of docs/performance.md (a few minutes; BENCH_ARGS="--help").
bench:
	$(MAKE) venv EXTRAS=test,openapi,lint,bench,postgres
	$(BIN)/python -m benchmarks $(BENCH_ARGS)

# Every benchmark row with a handful of requests: proves the harness still runs, no timings.
bench-smoke:
	$(MAKE) venv EXTRAS=test,openapi,lint,bench,postgres
	$(BIN)/python -m benchmarks --smoke $(BENCH_ARGS)

# schemathesis against the example project's /api/schema/ under every profile (about 2 minutes;
# PROFILES="cloudapi" EXAMPLES=50 to narrow or widen). schemathesis gets a venv of its own.
schemathesis: venv
	BIN=$(BIN) .ci/schemathesis

clean:
	rm -rf .venv .venv-* .mypy_cache .ruff_cache .coverage htmlcov
