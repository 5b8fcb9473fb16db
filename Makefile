# The two commands a newcomer needs: `make run` and `make test` (both set up on first use).
PYTHON ?= python3
VENV := .venv/bin

.PHONY: setup run cluster test lint lock bench load faults fuzz

setup:
	@$(PYTHON) tools/bootstrap.py

# `make run ADMIN=name` first creates that admin account (asking for its password) if it does
# not exist yet; no account, and no default password, exists otherwise.
run: setup
	$(if $(ADMIN),$(VENV)/hotline users add --name "$(ADMIN)" --role admin --if-absent &&) $(VENV)/hotline serve

# Two app replicas and two Rasa servers behind nginx on one machine (docs/operations.md,
# "Cluster"), on the PostgreSQL and Redis of HOTLINE_DATABASE_URL / HOTLINE_REDIS_URL (default:
# the local ones, database "hotline"); nginx on HOTLINE_PORT (8000). Ctrl-C stops all.
cluster: setup
	$(VENV)/hotline cluster

test: setup
	$(VENV)/ruff check .
	$(VENV)/ruff format --check .
	$(VENV)/mypy
	$(VENV)/pytest

lint: setup
	$(VENV)/ruff check --fix .
	$(VENV)/ruff format .
	$(VENV)/mypy

bench: setup
	$(VENV)/python -m bench.chat_latency

# Chat load (issue 19, BENCHMARKS.md "Chat load"): concurrent chat sessions, a turn every 5 s
# each, on an isolated stack; the most sessions whose p95 turn stays within 1 s. Point it at
# a running stack or the cluster with `make load LOAD_ARGS="--url http://... --pid app=PID"`.
LOAD_ARGS ?= --ramp 10,20,30,40,60,80,120,160,200 --seconds 60
load: setup
	$(VENV)/python -m bench.chat_load $(LOAD_ARGS)

# Faults (issue 19, docs/operations.md "Faults"): the short versions are part of `make test`;
# this runs them and the long ones (1,000 REST orders, 300 chat conversations with the real
# Rasa, a replica killed in each); numbers in BENCHMARKS.md.
faults: setup
	$(VENV)/pytest tests/faults -q
	$(VENV)/python -m bench.faults_kill --orders 1000 --chats 300

# Hostile input: HOTLINE_FUZZ_CASES generated requests (default 10,000) over the OpenAPI,
# signed in and not; fails on any server error (docs/operations.md, "Hostile input").
FUZZ_CASES ?= 10000
fuzz: setup
	HOTLINE_FUZZ_CASES=$(FUZZ_CASES) $(VENV)/pytest tests/hostile/test_fuzz_openapi.py -q -s

# Re-pin the whole dependency tree after changing pyproject.toml or requirements/rasa.txt.
lock:
	$(PYTHON) tools/lock.py
