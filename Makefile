# Set-up, demo, tests and the training pipeline. `make help` lists the targets.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
BIN     = $(VENV)/bin
NSMC   ?= ../shared/data/nsmc-raw
DOMAINS ?= ../shared/data/domains
DATA   ?= $(NSMC)/train.tsv.gz
CONFIG ?= configs/default.toml
RUN    ?= runs/$(basename $(notdir $(CONFIG)))
TEST_SIZE ?= 20000
PYTEST_ARGS ?=

.PHONY: help install demo test test-all check docs pipeline default-model domain-teachers-model small-model multi-domain-model extra-labels-model train-only-model bench-accuracy bench-throughput clean

help:
	@echo "make demo            set up .venv, score data/sample with the packaged model, print a summary"
	@echo "make test            set up .venv and run the default test suite (slow tests excluded)"
	@echo "make test-all        all tests, slow ones included"
	@echo "make check           ruff (lint, format), mypy and the import layers (lint-imports)"
	@echo "make docs            regenerate the generated parts of docs/ (config tables, model card)"
	@echo "make pipeline        prepare -> tokenize -> word2vec -> train -> evaluate (DATA=, CONFIG=, RUN=, TEST_SIZE=)"
	@echo "make default-model   rebuild the packaged default model from NSMC=$(NSMC) and DOMAINS=$(DOMAINS) (domain teachers)"
	@echo "make domain-teachers-model  the same without the export (runs/domain-teachers)"
	@echo "make multi-domain-model  the multi-domain model it starts from (runs/multi-domain)"
	@echo "make small-model     a BiLSTM(64) student of the packaged model (runs/multi-domain-small)"
	@echo "make extra-labels-model  the movie-review model it starts from (runs/extra-labels)"
	@echo "make train-only-model    the recipe with train.tsv.gz's labels only (runs/default)"

# Reinstalled (non-editable) whenever the package's files change.
$(VENV)/.installed: pyproject.toml $(shell find sentiment -type f -not -path '*/__pycache__/*' 2>/dev/null)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet ".[test,ray]"
	touch $@

install: $(VENV)/.installed

# Installed (non-editable) package + its packaged default model, on the hand-written sample.
demo: install
	@mkdir -p reports/demo
	$(BIN)/sentiment score data/sample/comments.csv -o reports/demo/comments.scored.csv --overwrite
	$(BIN)/sentiment evaluate --data data/sample/comments.csv --report-dir reports/demo

test: install
	$(BIN)/python -m pytest -m "not slow" $(PYTEST_ARGS)

test-all: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Lint, formatting, types and import layers (configured in pyproject.toml; docs/architecture.md).
check: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

# docs/configuration.md's key tables and docs/model-card.md from the code (tests/test_docs.py checks them).
docs:
	$(PYTHON) scripts/docs.py

pipeline: install
	$(BIN)/sentiment pipeline --data $(DATA) --config $(CONFIG) --run-dir $(RUN) --test-size $(TEST_SIZE)

# The movie-review model: configs/extra-labels.toml (the default recipe of configs/default.toml with balanced class
# weights) on train.tsv.gz plus extra.tsv.gz's labels for the train split (the test split stays train.tsv.gz's);
# neutral.tsv.gz's texts unlabeled. It was the packaged model until the multi-domain one.
EXTRA_LABELS_PIPELINE = pipeline --data $(NSMC)/train.tsv.gz --add-train $(NSMC)/extra.tsv.gz \
	--extra-texts $(NSMC)/neutral.tsv.gz --config configs/extra-labels.toml --run-dir runs/extra-labels --test-size 20000
# Labels from train.tsv.gz only; the texts of extra.tsv.gz and neutral.tsv.gz are used unlabeled.
TRAIN_ONLY_PIPELINE = pipeline --data $(NSMC)/train.tsv.gz --extra-texts $(NSMC)/extra.tsv.gz \
	--extra-texts $(NSMC)/neutral.tsv.gz --config configs/default.toml --run-dir runs/default --test-size 20000

train-only-model: install
	$(BIN)/sentiment $(TRAIN_ONLY_PIPELINE)

# The multi-domain model (configs/multi-domain.toml, docs/domains.md): the movie-review model above continues
# training on movie, shopping and Steam reviews, each domain with its own test split.
DOMAIN_DATA = --data movie=$(NSMC)/train.tsv.gz --data shopping=$(DOMAINS)/shopping.tsv.gz \
	--data steam=$(DOMAINS)/steam.tsv.gz --test-size movie=20000 --test-size 0.2 --add-train movie=$(NSMC)/extra.tsv.gz \
	--extra-texts movie=$(NSMC)/neutral.tsv.gz --extra-texts shopping=$(DOMAINS)/shopping_unlabeled.txt.gz
MULTI_DOMAIN_PIPELINE = pipeline $(DOMAIN_DATA) --config configs/multi-domain.toml --run-dir runs/multi-domain
# The packaged bundle (configs/domain-teachers.toml): the multi-domain model learns again from one fine-tuned copy
# of itself per domain (distill.domain_teachers), on the same splits.
DEFAULT_PIPELINE = pipeline $(DOMAIN_DATA) --config configs/domain-teachers.toml --run-dir runs/domain-teachers

extra-labels-model: install
	$(BIN)/sentiment $(EXTRA_LABELS_PIPELINE)

multi-domain-model: extra-labels-model
	$(BIN)/sentiment $(MULTI_DOMAIN_PIPELINE)

domain-teachers-model: multi-domain-model
	$(BIN)/sentiment $(DEFAULT_PIPELINE)

default-model: domain-teachers-model
	$(BIN)/sentiment export --run-dir runs/domain-teachers --out sentiment/default_model --overwrite \
		--rebuild-command "make default-model NSMC=path/to/nsmc-raw DOMAINS=path/to/domains   # = sentiment $(subst $(DOMAINS),DOMAINS,$(subst $(NSMC),NSMC,$(EXTRA_LABELS_PIPELINE))); sentiment $(subst $(DOMAINS),DOMAINS,$(subst $(NSMC),NSMC,$(MULTI_DOMAIN_PIPELINE))); sentiment $(subst $(DOMAINS),DOMAINS,$(subst $(NSMC),NSMC,$(DEFAULT_PIPELINE))); sentiment export --run-dir runs/domain-teachers --out sentiment/default_model --overwrite"

# A BiLSTM(64) student of the packaged model (configs/multi-domain-small.toml): faster scoring, same splits.
small-model: domain-teachers-model
	$(BIN)/sentiment pipeline $(DOMAIN_DATA) --config configs/multi-domain-small.toml --run-dir runs/multi-domain-small

clean:
	rm -rf $(VENV) build *.egg-info reports .pytest_cache
