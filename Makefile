# Two commands do all the set-up on a fresh machine:
#   make report   create .venv if missing, install, build the Belgian sample report into
#                 build/ (git-ignored: the work tree stays clean)
#   make test     the same set-up, then the test suite
# The committed sample outputs (sample_reports/*/report/) change only through make samples.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
SAMPLE ?= sample_reports/belgian_infant_leukaemia
REPORT ?= build/$(notdir $(SAMPLE))

.PHONY: all install report samples test check-fresh fixtures benchmark clean docs pages

all: report

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Reinstall when the packaging changes; the install is editable, so code changes need none.
# constraints.txt pins the tested versions: reports print the versions that made them, and
# the same versions on the same machine give the same bytes. Refresh it with
#   .venv/bin/pip freeze --exclude-editable > constraints.txt   (then make samples).
$(STAMP): pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip setuptools wheel
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

report: $(STAMP)
	$(BIN)/cohortpress build $(SAMPLE)/report.toml --output $(REPORT)
	@echo "report: $(REPORT)/report.pdf"

# The committed sample outputs; the tests compare them with a rebuild by meaning (numbers
# within a relative 1e-9, the PDF by its text), so regenerate them when the statistics or
# the layout change, not because another machine gives other last digits.
samples: $(STAMP)
	$(BIN)/cohortpress build sample_reports/belgian_infant_leukaemia/report.toml --output sample_reports/belgian_infant_leukaemia/report --quiet
	$(BIN)/cohortpress build sample_reports/mll10_infant_kmt2a/report.toml --output sample_reports/mll10_infant_kmt2a/report --quiet

# Every page of the sample reports and of the public-data examples as PNG at 100 dpi, for
# looking at them (needs pdftoppm, from Debian's poppler-utils): build/pages/<report>/page-N.png
PAGES_REPORTS := sample_reports/belgian_infant_leukaemia sample_reports/mll10_infant_kmt2a examples/pbc
pages: $(STAMP)
	@for dir in $(PAGES_REPORTS); do \
	  name=$$(basename $$dir); out=build/pages/$$name; \
	  rm -rf $$out && mkdir -p $$out || exit 1; \
	  $(BIN)/cohortpress build $$dir/report.toml --output $$out/report --quiet || exit 1; \
	  pdftoppm -png -r 100 $$out/report/report.pdf $$out/page || exit 1; \
	  echo "$$name: $$(ls $$out/page-*.png | wc -l) pages in $$out/"; \
	done

test: $(STAMP)
	$(BIN)/python -m pytest

# What a newcomer does, on HEAD: clone into a temporary folder, make report, make test,
# then git status --porcelain must print nothing. Run it before submitting (about 6 min).
check-fresh:
	bash tools/check_fresh.sh

# Regenerate the R reference fixtures (needs r-base-core, r-cran-survival, r-cran-cmprsk, r-cran-proc,
# r-cran-coin, r-cran-jsonlite from Debian); the outputs are committed, so tests never need R.
fixtures:
	for script in tests/fixtures/r/*.R; do Rscript "$$script" || exit 1; done

# The key tables of docs/config.md, from the descriptions in the schema and the analyses'
# options (tests/test_config_docs.py fails when they disagree).
docs: $(STAMP)
	$(BIN)/python tools/gen_config_docs.py

benchmark: $(STAMP)
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
