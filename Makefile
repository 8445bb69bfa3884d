# Oneiric: `make demo` renders the demo set; `make test` runs lint, types and tests.
# Both set themselves up from a fresh clone: a .venv with the Python packages, and
# the Debian packages the real tools need (Mesa EGL for headless GL, Xvfb so the
# windowed path is tested on a virtual display, liblo-tools for an independent OSC
# sender) where they are missing.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)
APT_PACKAGES := libegl1 libegl-mesa0 libgl1-mesa-dri libgl1 xvfb liblo-tools
SET ?= presets/sets/demo.toml
OUT ?= out/demo.mp4

.PHONY: demo live test lint system bench clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@rm -f $(VENV)/.installed-* && touch $@

system:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages: $$missing"; \
		SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

demo: $(STAMP) system
	$(BIN)/python performance.py render $(SET) -o $(OUT)

live: $(STAMP) system
	$(BIN)/python performance.py live $(SET) --overlay --repl

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: $(STAMP) system lint
	$(BIN)/python -m pytest

bench: $(STAMP) system
	$(BIN)/python bench/bench_render.py
	$(BIN)/python bench/bench_live.py

clean:
	rm -rf out .pytest_cache .mypy_cache .ruff_cache
