# spae: the two commands a user needs are `make book` and `make test`; both set up everything first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PRESET ?= default

# Determinism: torch CPU results depend on the thread count, so pin it for tests, goldens and books.
export OMP_NUM_THREADS ?= 2
export MKL_NUM_THREADS ?= 2
export PYTHONHASHSEED := 0
export SPAE_ROOT := $(CURDIR)
# Speed, not results: by default glibc hands freed blocks over 128 KiB back to the OS, so each
# training step's new batch-sized tensors arrive as fresh pages (~350 page faults per step at
# d = 5,000). Keeping freed memory for reuse makes a step ~3% faster here (paired runs) and
# leaves every number unchanged. glibc reads these at process start; other libcs ignore them.
export MALLOC_MMAP_THRESHOLD_ ?= 33554432
export MALLOC_TRIM_THRESHOLD_ ?= 1073741824

SECTIONS := $(basename $(notdir $(sort $(wildcard notebooks/[0-9]*.md))))
SECTIONS_DIR := book/sections
NBVAL_DIR := tests/_nbval
GOLDEN_DIR := tests/golden

.PHONY: setup test test-slow book golden publish reproduce kernel-check bench calibrate clean pdf test-browser

setup: $(STAMP)

# Re-installs only when the project's pins change; a second `make setup` is a no-op.
$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "spae needs Python 3.11+, found " + sys.version.split()[0]'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[data,book,test]'
	touch $(STAMP)

# Unit tests (the tolerance lane among them: tests/test_portability.py retrains runs and compares
# them with the golden records within calibrated tolerances), then the exact lane: nbval over the
# current notebook sources run with the ci preset on the committed golden records
# (tests/golden/results/, JSON only), with training off, against the golden executed notebooks.
# Everything the notebooks write goes under $(NBVAL_DIR).
test: setup
	rm -rf $(NBVAL_DIR) && mkdir -p $(NBVAL_DIR)/results
	$(BIN)/python -m spae_core.published seed $(GOLDEN_DIR)/results $(NBVAL_DIR)/results
	@set -e; for name in $(SECTIONS); do \
	  test -f $(GOLDEN_DIR)/$$name.ipynb || { echo "no golden for $$name: run 'make golden' and review the diff"; exit 1; }; \
	  cp $(GOLDEN_DIR)/$$name.ipynb $(NBVAL_DIR)/$$name.ipynb; \
	  $(BIN)/jupytext --quiet --update --to ipynb -o $(NBVAL_DIR)/$$name.ipynb notebooks/$$name.md; \
	  $(BIN)/papermill --prepare-only --log-level WARNING -p preset ci $(NBVAL_DIR)/$$name.ipynb $(NBVAL_DIR)/$$name.ipynb; \
	done
	TQDM_DISABLE=1 $(BIN)/python -m pytest -m "not slow" tests --ignore=$(GOLDEN_DIR) --ignore=$(NBVAL_DIR)
	SPAE_RESULTS_DIR=$(CURDIR)/$(NBVAL_DIR)/results SPAE_EXECUTED_DIR=$(CURDIR)/$(NBVAL_DIR) SPAE_TRAINING=off TQDM_DISABLE=1 \
	  $(BIN)/python -m pytest $(NBVAL_DIR) --nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg

test-slow: setup
	$(BIN)/python -m pytest -m slow tests --ignore=$(GOLDEN_DIR)

# The golden baselines of both lanes, regenerated on purpose (review the diff). By default the
# notebooks are re-rendered from the committed golden records (tests/golden/results/, training
# off), so only the executed notebooks can change; with RETRAIN=1 (after a change to training or
# to the metrics) the ci runs are retrained on a fresh store and its JSON replaces the records.
golden: setup
	rm -rf $(NBVAL_DIR)/golden-results && mkdir -p $(GOLDEN_DIR) $(NBVAL_DIR)/golden-results
	@if [ -z "$(RETRAIN)" ] && [ -d $(GOLDEN_DIR)/results ]; then \
	  $(BIN)/python -m spae_core.published seed $(GOLDEN_DIR)/results $(NBVAL_DIR)/golden-results; \
	else echo "retraining the ci runs for the golden records"; fi
	@set -e; for name in $(SECTIONS); do \
	  echo "== golden $$name"; \
	  $(BIN)/jupytext --quiet --to ipynb --set-kernel python3 -o $(NBVAL_DIR)/$$name.source.ipynb notebooks/$$name.md; \
	  SPAE_RESULTS_DIR=$(CURDIR)/$(NBVAL_DIR)/golden-results SPAE_EXECUTED_DIR=$(CURDIR)/$(GOLDEN_DIR) TQDM_DISABLE=1 \
	    SPAE_TRAINING=$(if $(RETRAIN),on,$(if $(wildcard $(GOLDEN_DIR)/results),off,on)) \
	    $(BIN)/papermill --log-level WARNING --cwd notebooks -k python3 -p preset ci \
	    $(NBVAL_DIR)/$$name.source.ipynb $(GOLDEN_DIR)/$$name.ipynb; \
	  rm $(NBVAL_DIR)/$$name.source.ipynb; \
	done
	@if [ -n "$(RETRAIN)" ] || [ ! -d $(GOLDEN_DIR)/results ]; then \
	  $(BIN)/python -m spae_core.published export $(NBVAL_DIR)/golden-results $(GOLDEN_DIR)/results; fi

# Execute every section with the preset (spae_core/presets/$(PRESET).yaml), then render. The store results/$(PRESET)
# is first seeded with the published runs (published/$(PRESET)/, committed), so only runs missing
# from both are trained. A failing notebook stops here with its cell's error, and no book is left
# behind looking complete. STORE (default results/$(PRESET)) and PUBLISHED (empty: seed nothing) let
# `make reproduce` reuse this.
# Code input is hidden on every page (readers can expand it) and papermill's parameter cell removed
# (spae_core.book hide-code); a preset other than default puts a banner on every page. BASE_URL is
# the URL the site is served from (e.g. https://owner.github.io/spae/, set by the Pages workflow
# .github/workflows/book.yml); empty by default.
STORE ?= $(CURDIR)/results/$(PRESET)
PUBLISHED ?= $(CURDIR)/published/$(PRESET)
BASE_URL ?=
BOOK_CONFIG := _build/book_config.yml
book: setup
	rm -rf $(SECTIONS_DIR).partial _build/html && mkdir -p $(SECTIONS_DIR).partial $(STORE)
	@if [ -n "$(PUBLISHED)" ] && [ -d "$(PUBLISHED)" ]; then $(BIN)/python -m spae_core.published seed $(PUBLISHED) $(STORE); \
	  else echo "no published results seeded$(if $(PUBLISHED), ($(PUBLISHED) does not exist)): runs missing from $(STORE) are trained"; fi
	@set -e; for name in $(SECTIONS); do \
	  echo "== executing $$name (preset $(PRESET))"; \
	  $(BIN)/jupytext --quiet --to ipynb --set-kernel python3 -o $(SECTIONS_DIR).partial/$$name.source.ipynb notebooks/$$name.md; \
	  SPAE_RESULTS_DIR=$(STORE) SPAE_EXECUTED_DIR=$(CURDIR)/$(SECTIONS_DIR).partial TQDM_DISABLE=1 SPAE_PROGRESS=terminal \
	    $(BIN)/papermill --log-level WARNING --cwd notebooks -k python3 -p preset $(PRESET) \
	    $(SECTIONS_DIR).partial/$$name.source.ipynb $(SECTIONS_DIR).partial/$$name.ipynb \
	    || { echo "make book: notebook $$name failed (its error is above); no book was built."; exit 1; }; \
	  rm $(SECTIONS_DIR).partial/$$name.source.ipynb; \
	done
	$(BIN)/python -m spae_core.book hide-code $(SECTIONS_DIR).partial
	rm -rf $(SECTIONS_DIR) && mv $(SECTIONS_DIR).partial $(SECTIONS_DIR)
	$(BIN)/python -m spae_core.book config --preset $(PRESET) --base-url "$(BASE_URL)" _config.yml $(BOOK_CONFIG)
	$(BIN)/jupyter-book build . -W --keep-going --config $(BOOK_CONFIG)
	$(BIN)/python -m spae_core.book redirect _build/html/index.html book/sections/00_intro.html
	@echo "book: $(CURDIR)/_build/html/index.html"

# Build the book (training whatever the store and the published runs lack), then replace
# published/$(PRESET)/ by the store's JSON. Review and commit published/$(PRESET)/ afterwards.
publish: book
	$(BIN)/python -m spae_core.published export $(STORE) $(PUBLISHED)

# Retrain the preset's runs from scratch into a store of their own (all of them, or SAMPLE=n drawn
# with a fixed seed, the rest seeded from the published records), build the book from it, and
# compare with the published records on the page "Reproduction against the published records".
# Interrupted, it resumes: runs already retrained are kept.
REPRO_STORE := $(CURDIR)/results/reproduce-$(PRESET)$(if $(SAMPLE),-sample$(SAMPLE))
reproduce: setup
	$(BIN)/python -m spae_core.reproduction prepare $(PUBLISHED) $(REPRO_STORE) $(if $(SAMPLE),--sample $(SAMPLE))
	$(MAKE) book STORE=$(REPRO_STORE) PUBLISHED=
	@echo "reproduction: $(CURDIR)/_build/html/book/sections/14_reproduction.html (store $(REPRO_STORE))"

# Retrain the preset's main grid (the runs Figure 6 and the claims read) under kernel switches,
# e.g. SWITCHES="ATEN_CPU_CAPABILITY=avx2 MKL_CBWR=COMPATIBLE OPENBLAS_CORETYPE=Haswell", and publish
# its records as a kernel check in published/$(PRESET)/kernel_checks/: the book then marks every
# verdict that differs under it as fragile. Resumable; review and commit the new records.
CHECK_STORE = $(CURDIR)/results/kernel-check-$(PRESET)-$(subst =,-,$(subst $(eval) ,_,$(strip $(SWITCHES))))
kernel-check: setup
	@test -n "$(strip $(SWITCHES))" || { echo 'make kernel-check needs SWITCHES, e.g. SWITCHES="MKL_CBWR=COMPATIBLE" (see the README)'; exit 1; }
	env $(SWITCHES) $(BIN)/python -m spae_core.kernel_checks retrain $(PUBLISHED) $(PRESET) $(CHECK_STORE)
	$(BIN)/python -m spae_core.kernel_checks add $(CHECK_STORE) $(PUBLISHED)

bench: setup
	$(BIN)/python benchmarks/bench_training.py

# The tolerance lane's tolerances, measured under the kernel switches; review the diff of
# tests/portability_tolerances.json. Needs the golden records (make golden).
calibrate: setup
	$(BIN)/python benchmarks/calibrate_tolerances.py

# The whole book as one PDF, $(PDF): the book's notebooks executed as by `make book` (same PRESET,
# STORE, PUBLISHED), then rendered by Sphinx's LaTeX builder with xelatex. The TeX tools come from
# Debian (the README says so); they are checked first so a missing one fails before the long build.
# Both targets below call `make book` with -o $(STAMP): setup has just run, so it is not repeated.
PDF_DEBS := texlive-latex-extra texlive-xetex latexmk texlive-fonts-recommended fonts-freefont-otf
PDF := _build/spae.pdf
pdf: setup
	@for tool in latexmk xelatex; do command -v $$tool >/dev/null || { \
	  echo "make pdf needs $$tool (LaTeX): apt-get install $(PDF_DEBS)"; exit 1; }; done
	$(MAKE) -o $(STAMP) book
	$(BIN)/jupyter-book build . --builder pdflatex -W --keep-going --config $(BOOK_CONFIG)
	cp _build/latex/spae.pdf $(PDF)
	@echo "pdf: $(CURDIR)/$(PDF)"

# Every page of the ci book opened in headless Chromium (tests/browser/): console errors, failed
# requests, broken images, tables or figures wider than the column, search, claims at 400 px. The
# book is built from the committed golden records with training off, so nothing is trained.
# Chromium and its driver are Debian packages: installed here when missing and we are root.
BROWSER_DEBS := chromium chromium-driver
BROWSER_STORE := $(CURDIR)/_build/browser-store
BROWSER_STAMP := $(VENV)/.browser-stamp
$(BROWSER_STAMP): pyproject.toml $(STAMP)
	$(BIN)/python -m pip install --quiet $$($(BIN)/python -c 'import tomllib; print(" ".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["optional-dependencies"]["browser"]))')
	touch $(BROWSER_STAMP)

test-browser: setup $(BROWSER_STAMP)
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && apt-get install -y -qq $(BROWSER_DEBS); \
	  else echo "make test-browser needs Debian's $(BROWSER_DEBS): apt-get install $(BROWSER_DEBS) (as root)"; exit 1; fi; }
	rm -rf $(BROWSER_STORE)
	@start=$$(date +%s); \
	  SPAE_TRAINING=off $(MAKE) -o $(STAMP) book PRESET=ci PUBLISHED=$(CURDIR)/$(GOLDEN_DIR)/results STORE=$(BROWSER_STORE) && \
	  echo "test-browser: ci book built in $$(( $$(date +%s) - start )) s"
	# A `spae compare` report, inside the site as compare/: every page check runs on it too.
	rm -rf _build/browser-compare && TQDM_DISABLE=1 $(BIN)/python tests/browser/compare_report.py _build/browser-compare _build/html/compare
	TQDM_DISABLE=1 $(BIN)/python -m pytest tests/browser -p no:cacheprovider

clean:
	rm -rf _build .pytest_cache $(NBVAL_DIR) $(SECTIONS_DIR) $(SECTIONS_DIR).partial
