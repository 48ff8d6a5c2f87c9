# The README's two commands: `make demo` (the main job, end to end) and `make test`.
VENV ?= .venv
MIW := $(VENV)/bin/mi-warehouse

.PHONY: setup demo test unit stop
setup:
	@bash scripts/bootstrap.sh

demo: setup
	$(MIW) demo

test: setup
	$(VENV)/bin/python -m pytest -q

unit: setup
	$(VENV)/bin/python -m pytest -q tests/unit

stop:
	$(MIW) server stop
