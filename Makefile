# The course's two commands: `make lab` (open the course) and `make test` (run every test).
# Both create .venv on first use and install the course into it, pinned by constraints.txt.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Strict nbval: every cell's output is compared, after nbval_sanitize.cfg.
NBVAL  := $(BIN)/pytest -p no:cacheprovider --nbval --nbval-current-env \
          --nbval-sanitize-with nbval_sanitize.cfg --nbval-cell-timeout=60
NOTEBOOK_DIRS := notebooks solutions exercises
# Parallel runs (pytest-xdist): one kernel or test module per process, a notebook's cells and a
# module's tests stay together. In embedded mode every kernel has its own broker and worker.
# In redis mode notebooks share one Redis, so `make nbval` runs them one by one, unless each
# xdist worker is a learner with a worker of its own: `bash .ci/with-redis --learners 4 make
# nbval NBVAL_JOBS=4` (what .ci/run does).
NBVAL_JOBS ?= 0
XDIST   = $(if $(filter-out 0,$(1)),-n $(1) --dist loadfile)
# `make test` runs the unit tests and strict nbval on every notebook in ONE pytest-xdist run of
# TEST_JOBS processes, so that the notebooks fill the gaps the long test modules leave. Most
# tests spend more time waiting (on a kernel, a worker, a subprocess) than computing, so even
# on 2 cores 6 processes keep both cores busy: benchmarks/README.md, "make test".
TEST_JOBS ?= 6
NOTEBOOKS := $(wildcard $(addsuffix /*.ipynb,$(NOTEBOOK_DIRS)))

.PHONY: help install lab test busy-test lint unit exercises-check nbval e2e notebooks exercises doctor bench constraints clean

help:
	@echo "make lab      set up .venv and open the course in JupyterLab (embedded mode)"
	@echo "make test     set up .venv and run lint, unit tests and strict nbval on every notebook"
	@echo "make nbval    strict nbval in the mode COURSE_BROKER selects (CI uses it for redis mode)"
	@echo "make busy-test  the checks' and the grader's tests with every core kept busy (.ci/busy)"
	@echo "make e2e      the browser test: make lab, every chapter run twice in Debian's chromium"
	@echo "make notebooks  re-execute the chapters and solutions in place (authors)"
	@echo "make exercises  rebuild exercises/ from solutions/ (authors)"
	@echo "make doctor   check the set-up;  make bench  run benchmarks/roundtrip.py"

$(STAMP): pyproject.toml constraints.txt jupyter/overrides.json
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[lab,test]"
	mkdir -p $(VENV)/share/jupyter/lab/settings
	cp jupyter/overrides.json $(VENV)/share/jupyter/lab/settings/overrides.json
	touch $(STAMP)

install: $(STAMP)

# The server's root is the course (chapters, exercises, solutions, docs); the first page is
# chapter 00. --allow-root only where the learner is root (root containers, classroom VMs).
LAB_ARGS := --ServerApp.root_dir=$(CURDIR) --LabApp.default_url=/lab/tree/notebooks/00_setup.ipynb \
            $(if $(filter 0,$(shell id -u)),--allow-root)

lab: install
	env -u COURSE_BROKER $(BIN)/jupyter lab $(LAB_ARGS) $(LAB_EXTRA)

test: install
	$(MAKE) --no-print-directory lint exercises-check
	env -u COURSE_BROKER $(NBVAL) $(call XDIST,$(TEST_JOBS)) tests --ignore=tests/e2e $(NOTEBOOKS)

# The exercise checks' and the grader's tests on a busy machine: .ci/busy keeps BUSY_FACTOR
# (default 2) spinning processes per core for the whole run, as a classroom server or a slower
# laptop would. Right answers must pass there too, and no test may hang on a limit it is not
# about. .ci/run runs it once.
BUSY_JOBS ?= 3
busy-test: install
	env -u COURSE_BROKER bash .ci/busy $(BIN)/pytest -p no:cacheprovider $(call XDIST,$(BUSY_JOBS)) \
	    $(wildcard tests/test_checks_*.py) $(wildcard tests/test_grading*.py)

lint: install
	$(BIN)/ruff check conftest.py course_tasks tests benchmarks

unit: install
	env -u COURSE_BROKER $(BIN)/pytest -p no:cacheprovider $(call XDIST,$(TEST_JOBS)) tests --ignore=tests/e2e

# The browser test (tests/e2e): `make lab` driven in Debian's chromium (apt-get install chromium)
# by Playwright's Python package, and every solutions notebook run twice in one kernel. Skipped,
# with the reason printed, where chromium is not installed. Screenshots: .course/e2e-screenshots/
E2E_STAMP := $(VENV)/.installed-e2e
$(E2E_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[e2e]"
	touch $(E2E_STAMP)

# Test by test over E2E_JOBS processes (--dist load): each process that gets a browser test
# starts its own `make lab` and chromium (module fixtures), beside the solutions' re-runs.
E2E_JOBS ?= 3
e2e: $(E2E_STAMP)
	env -u COURSE_BROKER $(BIN)/pytest -p no:cacheprovider -rs -v -n $(E2E_JOBS) --dist load tests/e2e

exercises-check: install
	$(BIN)/python -m course_tasks build-exercises --check

nbval: install
	$(NBVAL) $(call XDIST,$(NBVAL_JOBS)) $(NOTEBOOKS)

notebooks: install
	cd notebooks && env -u COURSE_BROKER ../$(BIN)/jupyter nbconvert --to notebook --execute --inplace *.ipynb
	@if ls solutions/*.ipynb >/dev/null 2>&1; then cd solutions && env -u COURSE_BROKER ../$(BIN)/jupyter nbconvert --to notebook --execute --inplace *.ipynb; fi

exercises: install
	$(BIN)/python -m course_tasks build-exercises

doctor: install
	$(BIN)/python -m course_tasks doctor

bench: install
	$(BIN)/python benchmarks/roundtrip.py --redis-url auto

constraints: install
	$(BIN)/python -m pip freeze --exclude-editable | { echo "# Exact versions the course is tested with (make install uses them as pip constraints)."; echo "# Regenerate with: make constraints"; cat; } > constraints.txt

clean:
	rm -rf $(VENV) .course .pytest_cache
