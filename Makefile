# Two commands do all the set-up on a fresh machine:
#   make report   create .venv if missing, install, build the Belgian sample report
#   make test     the same set-up, then the test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
SAMPLE ?= sample_reports/belgian_infant_leukaemia

.PHONY: all install report samples test fixtures benchmark clean

all: report

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Reinstall when the packaging changes; the install is editable, so code changes need none.
# constraints.txt pins the tested versions: reports print the versions that made them, and
# the committed sample PDFs are checked byte for byte. Refresh it with
#   .venv/bin/pip freeze --exclude-editable > constraints.txt   (then make samples).
$(STAMP): pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip setuptools wheel
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

report: $(STAMP)
	$(BIN)/cohortpress build $(SAMPLE)/report.toml --output $(SAMPLE)/report
	@echo "report: $(SAMPLE)/report/report.pdf"

samples: $(STAMP)
	$(BIN)/cohortpress build sample_reports/belgian_infant_leukaemia/report.toml --output sample_reports/belgian_infant_leukaemia/report --quiet
	$(BIN)/cohortpress build sample_reports/mll10_infant_kmt2a/report.toml --output sample_reports/mll10_infant_kmt2a/report --quiet

test: $(STAMP)
	$(BIN)/python -m pytest

# Regenerate the R reference fixtures (needs r-base-core, r-cran-survival, r-cran-cmprsk,
# r-cran-jsonlite from Debian); the outputs are committed, so tests never need R.
fixtures:
	for script in tests/fixtures/r/*.R; do Rscript "$$script" || exit 1; done

benchmark: $(STAMP)
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
