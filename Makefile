# The two commands a newcomer needs: `make run` and `make test` (both set up on first use).
PYTHON ?= python3
VENV := .venv/bin

.PHONY: setup run test lint lock bench

setup:
	@$(PYTHON) tools/bootstrap.py

run: setup
	$(VENV)/hotline serve

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

# Re-pin the whole dependency tree after changing pyproject.toml or requirements/rasa.txt.
lock:
	$(PYTHON) tools/lock.py
