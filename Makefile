# Two commands a new contributor needs: `make demo` and `make test`. Both create their own
# virtualenv on first use (only Python 3.11+ is required).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The development dependency groups of pyproject.toml to install (PEP 735, pip >= 25.1), beside
# the package itself with its `openapi` extra. EXTRAS is the older name, still accepted
# (an "openapi" in the list is ignored: it is always installed).
default_groups := test,lint,bench
GROUPS ?= $(or $(EXTRAS),$(default_groups))
PYTEST_ARGS ?=
# pytest, for every suite target. PYTHONDONTWRITEBYTECODE is cleared so that pytest can keep its
# rewritten test modules in __pycache__: where the environment sets it, every run (every xdist
# worker) would parse and rewrite the ~200 test modules again, about 5 s each.
PYTEST = PYTHONDONTWRITEBYTECODE= $(BIN)/python -m pytest
# `make test`'s processes (pytest-xdist; 0 runs the suite in this process).
TEST_WORKERS ?= 2
# `make test`'s coverage options; the DRF 3.16 and Django 6.x legs only need pass/fail.
COVERAGE ?= --cov --cov-report=term
# The pytest selection of the PostgreSQL and MariaDB legs, here only (.ci/run uses these
# targets). The whole suite for now; once the tests whose behaviour differs per database vendor
# carry the `database` marker, narrow it with
# DB_LEG_MARKERS = database and not browser
DB_LEG_MARKERS ?= not browser
# The languages of counterbalance_errors/locale (`make messages` refreshes them all).
LANGUAGES ?= de fr es pt_BR it nl ja zh_Hans

comma := ,
group_list := $(filter-out openapi,$(subst $(comma), ,$(GROUPS)))

.PHONY: demo test test-system test-postgres test-mariadb test-browser test-django6 test-drf316 lint check bench bench-servers bench-storm bench-smoke bench-system schemathesis package messages clean

# One stamp per installed group: a target asking for groups that an earlier (larger) install
# already brought runs no pip at all, so CI installs every group once and the legs reuse it.
group_stamps := $(addprefix $(VENV)/.group-,$(group_list))

$(group_stamps) &: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade "pip>=25.1"
	$(BIN)/python -m pip install -q -e ".[openapi]" $(addprefix --group ,$(group_list)) $(PIP_EXTRA)
	touch $(group_stamps)

venv: $(group_stamps)

demo: venv
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py runserver 127.0.0.1:8000

# The suite on SQLite, with branch coverage of the package, on TEST_WORKERS processes.
test: venv
	$(PYTEST) -m "not browser" -n $(TEST_WORKERS) $(COVERAGE) $(PYTEST_ARGS)

# Real processes (docs/logged-errors.md, "Scale-out and outages"): three gunicorn nodes on one
# PostgreSQL and Redis (db 8), a PostgreSQL cluster of their own frozen and stopped, SIGTERM
# under load. Needs PostgreSQL's binaries, 127.0.0.1:5432 and Redis; about 2 minutes.
test-system:
	$(MAKE) venv GROUPS=test,lint,bench,postgres
	$(PYTEST) tests/system -m system -p no:randomly -q $(PYTEST_ARGS)

# Logged-error throughput per gunicorn worker, a 500 errors/s storm, a frozen database
# (benchmarks/system.py; BENCH_ARGS="--help").
bench-system:
	$(MAKE) venv GROUPS=test,lint,bench,postgres
	$(BIN)/python -m benchmarks.system $(BENCH_ARGS)

test-postgres:
	$(MAKE) venv GROUPS=test,lint,bench,postgres
	CB_DATABASE=postgres $(PYTEST) -m "$(DB_LEG_MARKERS)" -p no:randomly -q $(PYTEST_ARGS)

test-mariadb:
	$(MAKE) venv GROUPS=test,lint,bench,mysql
	CB_DATABASE=mariadb $(PYTEST) -m "$(DB_LEG_MARKERS)" -p no:randomly -q $(PYTEST_ARGS)

test-browser: venv
	$(BIN)/python -m pip install -q playwright
	$(PYTEST) -m browser -q $(PYTEST_ARGS)

# The newest Django 6.x on the newest Python available (Django 6 needs Python >= 3.12); pass or
# fail, without coverage, in a virtualenv without the lint tools.
test-django6:
	$(MAKE) test VENV=.venv-django6 GROUPS=test,bench PIP_EXTRA="'django>=6,<7'" COVERAGE= PYTEST_ARGS="-q $(PYTEST_ARGS)"

# The oldest supported DRF (3.16: list-shaped ListSerializer errors, streamed JSON bodies).
test-drf316:
	$(MAKE) test VENV=.venv-drf316 GROUPS=test,bench PIP_EXTRA="'djangorestframework>=3.16,<3.17'" COVERAGE= PYTEST_ARGS="-q -p no:randomly $(PYTEST_ARGS)"

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

check: venv
	$(BIN)/python manage.py check --fail-level WARNING
	DJANGO_SETTINGS_MODULE=tests.settings $(BIN)/django-admin check --fail-level WARNING --pythonpath .
	DJANGO_SETTINGS_MODULE=tests.settings $(BIN)/django-admin makemigrations --check --dry-run --pythonpath .

# The performance comparisons of docs/performance.md, on pyperf (about 20 minutes;
# BENCH_ARGS="--only 404 --rounds 15", BENCH_ARGS="--help").
BENCH_VENV = $(MAKE) venv GROUPS=test,lint,bench,postgres

bench:
	$(BENCH_VENV)
	$(BIN)/python -m benchmarks $(BENCH_ARGS)

# Requests per second under gunicorn, with wrk when it is installed (a few minutes).
bench-servers:
	$(BENCH_VENV)
	$(BIN)/python -m benchmarks.servers $(BENCH_ARGS)

# What 10 000 logged 500s store, on PostgreSQL (BENCH_ARGS="--db sqlite --errors 500").
bench-storm:
	$(BENCH_VENV)
	$(BIN)/python -m benchmarks.storage $(BENCH_ARGS)

# Every benchmark row with a handful of requests: proves the harness still runs, no timings.
bench-smoke:
	$(BENCH_VENV)
	$(BIN)/python -m benchmarks --smoke
	$(BIN)/python -m benchmarks.servers --smoke
	$(BIN)/python -m benchmarks.storage --errors 20
	$(BIN)/python -m benchmarks.writer --db sqlite --batches 5

# schemathesis against the example project's /api/schema/ under every profile (about 2 minutes;
# PROFILES="cloudapi" EXAMPLES=50 to narrow or widen). schemathesis gets a venv of its own.
schemathesis: venv
	BIN=$(BIN) .ci/schemathesis

# Build the sdist and the wheel, check their metadata, install the wheel (not editable) into a
# fresh virtualenv and run the example project's system checks against it.
package:
	$(MAKE) venv GROUPS=test,lint,package
	BIN=$(BIN) .ci/package

# Refresh the .po files of every language from the sources, then compile them (needs gettext).
# Translate the new empty msgstr entries, run it again, and commit the .po and .mo files.
messages: venv
	cd counterbalance_errors && $(abspath $(BIN))/django-admin makemessages --no-obsolete --no-location \
		$(addprefix -l ,$(LANGUAGES))
	cd counterbalance_errors && $(abspath $(BIN))/django-admin compilemessages

clean:
	rm -rf .venv .venv-* .mypy_cache .ruff_cache .coverage htmlcov build dist
