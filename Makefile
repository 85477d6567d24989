# Vafa: two commands on a fresh machine — `make demo` and `make test`. Everything else is a step of them.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
VAFACTL := deploy/local/vafactl
STAMP := $(VENV)/.installed

.PHONY: venv infra-up infra-down infra-status test test-unit lint demo up down report monitoring chaos asyncapi api-key rules bench bench-handlers bench-domain bench-priority bench-clients bench-writes bench-pages clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

infra-up: venv
	$(VAFACTL) up

infra-down:
	$(VAFACTL) down

infra-status:
	$(VAFACTL) status

# Every test: the fast unit tests and those against the real broker and database (marked infra).
test: venv infra-up
	$(VAFACTL) browser
	eval "$$($(VAFACTL) env)" && $(PY) -m pytest -v

test-unit: venv
	$(PY) -m pytest -m "not infra" -q

lint: venv
	$(VENV)/bin/ruff check shared services sim tests deploy chaos bench
	$(VENV)/bin/ruff format --check shared services sim tests deploy chaos bench
	$(VENV)/bin/mypy shared services sim tests chaos bench deploy

demo: venv infra-up
	eval "$$($(VAFACTL) env)" && $(PY) -m deploy.demo

# Vafa for real: Kafka, PostgreSQL and the five services (supervised, logs in .run/logs) until `make down`.
up: venv infra-up
	eval "$$($(VAFACTL) env)" && $(PY) -m deploy.up start

down:
	test ! -x $(PY) || $(PY) -m deploy.up stop
	$(VAFACTL) down

# Faults under a steady POS stream, then an oracle: make chaos ARGS="--purchases 20000 --rate 150 --rounds 3"
chaos: venv infra-up
	eval "$$($(VAFACTL) env)" && $(PY) -m chaos.run $(ARGS)

# A page a marketing manager can open: KPIs and charts from the live analytics store.
report: venv infra-up
	eval "$$($(VAFACTL) env)" && $(PY) -m services.analytics.report --out reports/vafa-report.html $(ARGS)

# Prometheus (Debian's package) scraping the services on loopback; says why Grafana is not started.
monitoring:
	$(VAFACTL) monitoring-up

clean: infra-down
	rm -rf .run

# The AsyncAPI documents faststream generates, committed under docs/asyncapi/.
asyncapi: venv
	$(PY) -m deploy.asyncapi

# Ingest API keys: make api-key ARGS="create chain --chain hyperstar" (also: list, revoke PREFIX).
api-key: venv infra-up
	eval "$$($(VAFACTL) env)" && $(PY) -m services.ingest.cli $(ARGS)

# Earning rules from a file: make rules FILE=deploy/points-rules.example.json OPERATOR=you@chain
rules: venv infra-up
	eval "$$($(VAFACTL) env)" && $(PY) -m services.points.rules apply $(FILE) --operator $(OPERATOR)

# The pipeline against the machine's ceiling; figures in bench/results/<time>.json and .png.
bench: venv infra-up
	eval "$$($(VAFACTL) env)" && $(PY) -m bench.run $(or $(ARGS),--scaling --profile)

# Every console and portal page against the demo's data; figures in bench/results/pages-<time>.json.
bench-pages: venv infra-up
	eval "$$($(VAFACTL) env)" && $(PY) -m bench.pages $(ARGS)

# Each consumer's core over the same purchases in-process, no Kafka: CPU per event at batch sizes.
bench-handlers: venv infra-up
	eval "$$($(VAFACTL) env)" && $(PY) -m bench.handlers $(ARGS)

# The pure code each event runs through (money, a tier replay, each decoder), best of passes: no infra.
bench-domain: venv
	$(PY) -m bench.domain $(ARGS)

# Latency with the services off the points path yielding the CPU (VAFA_CPU_NICENESS) against all equal.
bench-priority: venv infra-up
	eval "$$($(VAFACTL) env)" && $(PY) -m bench.priority $(ARGS)

# aiokafka against confluent-kafka (librdkafka): produce and consume CPU per record, one invocation.
bench-clients: venv infra-up
	eval "$$($(VAFACTL) env)" && $(PY) -m bench.clients $(ARGS)

# The outbox's rows by one INSERT of a JSON document against binary COPY: CPU per row on both sides.
bench-writes: venv infra-up
	eval "$$($(VAFACTL) env)" && $(PY) -m bench.writes $(ARGS)
