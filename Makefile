# The two commands: `make run` (the portal with demo data, embedded defaults) and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test install bench clean-var

run: $(STAMP)
	$(PY) scripts/run.py

test: $(STAMP)
	$(PY) scripts/run_tests.py $(ARGS)

install: $(STAMP)

$(STAMP): pyproject.toml
	@interpreter=$$(scripts/find_python.sh) || exit 1; \
	if [ ! -x $(PY) ] || ! $(PY) -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then \
		echo "Creating $(VENV) with $$interpreter"; rm -rf $(VENV); $$interpreter -m venv $(VENV) || exit 1; \
	fi
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet ".[test]"
	@touch $(STAMP)

bench: $(STAMP)
	@for script in bench/bench_*.py; do echo "== $$script"; $(PY) $$script || exit 1; done

clean-var:
	rm -rf var
