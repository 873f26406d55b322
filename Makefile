# Commandes de tous les jours. `make demo` et `make test` installent tout ce qui manque.
SHELL := /bin/bash
ROOT := $(CURDIR)
VENV := $(ROOT)/.venv
PY := $(VENV)/bin/python
UV := $(VENV)/bin/uv
PYTHON ?= $(shell command -v python3.11 || command -v python3)
UV_VERSION := 0.13.9

export MODEL_CACHE_DIR ?= $(ROOT)/.cache/models
export LOG_DIR ?= $(ROOT)/.cache/logs
export HOST ?= 127.0.0.1
export PORT ?= 8000

.PHONY: install system-deps demo-models demo test pytest lint format lock lock-check bench bench-audio

install: system-deps $(VENV)/.installed

$(VENV)/.installed: backend/requirements-cpu.txt backend/overrides-cpu.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check uv==$(UV_VERSION)
	$(UV) pip sync --python $(PY) backend/requirements-cpu.txt
	touch $@

# FFmpeg (décodage audio), espeak-ng et sox (voix de test) : paquets Debian.
system-deps:
	@if ! command -v ffmpeg >/dev/null || ! command -v espeak-ng >/dev/null || ! command -v sox >/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && apt-get install -y -qq ffmpeg espeak-ng sox >/dev/null; \
	  else echo "Installez ffmpeg, espeak-ng et sox (paquets Debian) : droits root requis." >&2; exit 1; fi; \
	fi

demo-models: install
	cd backend && $(PY) -m app.demo_models build

demo: demo-models
	cd backend && MODEL_PROFILE=demo $(PY) -m app

test: install lint lock-check demo-models pytest

pytest:
	cd backend && $(PY) -m pytest -v $(PYTEST_ARGS)

lint:
	cd backend && $(VENV)/bin/ruff check app tests benchmarks scripts && $(VENV)/bin/ruff format --check app tests benchmarks scripts

format:
	cd backend && $(VENV)/bin/ruff check --fix app tests benchmarks scripts && $(VENV)/bin/ruff format app tests benchmarks scripts

# Verrous : jeu CPU (installé ici) et jeu GPU de production (résolu, non installé ici).
LOCK_CPU = $(UV) pip compile -q --custom-compile-command "make lock" --python-version 3.11 --override overrides-cpu.txt requirements-cpu.in
LOCK_GPU = $(UV) pip compile -q --custom-compile-command "make lock" --python-version 3.12 requirements.in

lock: $(VENV)/.installed
	cd backend && $(LOCK_CPU) -o requirements-cpu.txt && $(LOCK_GPU) -o requirements.txt

lock-check: $(VENV)/.installed
	@cd backend && tmp=$$(mktemp -d) && cp requirements-cpu.txt requirements.txt $$tmp/ && \
	  $(LOCK_CPU) -o $$tmp/requirements-cpu.txt && $(LOCK_GPU) -o $$tmp/requirements.txt && \
	  diff -u requirements-cpu.txt $$tmp/requirements-cpu.txt && diff -u requirements.txt $$tmp/requirements.txt && \
	  echo "Verrous à jour (CPU et GPU)." || { echo "Verrous périmés : lancez « make lock »." >&2; exit 1; }

bench: demo-models
	cd backend && MODEL_PROFILE=demo $(PY) -m benchmarks.chat_proxy $(BENCH_ARGS)

bench-audio: demo-models
	cd backend && $(PY) -m benchmarks.audio $(BENCH_ARGS)
