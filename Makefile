# Oneiric: `make demo` renders the demo set; `make test` runs lint, types and tests.
# Both set themselves up from a fresh clone: a .venv with the Python packages, and
# the Debian packages the real tools need (Mesa EGL for headless GL, Xvfb so the
# windowed path is tested on a virtual display, liblo-tools for an independent OSC
# sender, jackd2 so realtime sound and MIDI run through a real JACK server on its
# dummy driver, libasound2-plugins whose ALSA JACK plugin gives PortAudio a device
# there, chromium so the browser control surface is tested in a real headless browser)
# where they are missing.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)
APT_PACKAGES := libegl1 libegl-mesa0 libgl1-mesa-dri libgl1 xvfb liblo-tools
# installed without their recommends (jackd2's: qjackctl and a desktop's worth of Qt;
# libasound2-plugins': PulseAudio; chromium's: a desktop's fonts and helpers)
APT_BARE := jackd2 libasound2-plugins libportaudio2 chromium
SET ?= presets/sets/demo.toml
OUT ?= out/demo.mp4

SENDERS := tests/senders/node_modules/.installed

.PHONY: demo live test lint system bench soak clean

# osc.js (npm), a third OSC sender beside the rig's own and liblo's, for the input tests
$(SENDERS): tests/senders/package.json tests/senders/package-lock.json
	@command -v npm >/dev/null || { SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get -y -qq install nodejs npm; }
	cd tests/senders && npm ci --no-audit --no-fund --silent
	@touch $@

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@rm -f $(VENV)/.installed-* && touch $@

system:
	@have() { dpkg-query -W -f='$${Status}' "$$1" 2>/dev/null | grep -q 'ok installed'; }; \
	missing=$$(for p in $(APT_PACKAGES); do have $$p || echo $$p; done); \
	bare=$$(for p in $(APT_BARE); do have $$p || echo $$p; done); \
	if [ -n "$$missing$$bare" ]; then \
		echo "installing Debian packages: $$missing $$bare"; \
		SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		APT="$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get -y -qq"; \
		$$APT update \
		&& { [ -z "$$missing" ] || $$APT install $$missing; } \
		&& { [ -z "$$bare" ] || $$APT install --no-install-recommends $$bare; }; \
	fi

demo: $(STAMP) system
	$(BIN)/python performance.py render $(SET) -o $(OUT)

live: $(STAMP) system
	$(BIN)/python performance.py live $(SET) --overlay --repl

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache

test: $(STAMP) system lint $(SENDERS)
	$(BIN)/python -m pytest

bench: $(STAMP) system
	$(BIN)/python bench/bench_render.py
	$(BIN)/python bench/bench_live.py
	$(BIN)/python bench/bench_effects.py
	$(BIN)/python bench/bench_outputs.py
	$(BIN)/python bench/bench_oscquery.py
	$(BIN)/python bench/bench_audio_in.py
	$(BIN)/python bench/bench_pipeline.py

# 10 minutes live under random OSC, MIDI, edits and SIGKILLs (bench/soak.py); report in out/soak
soak: $(STAMP) system
	$(BIN)/python bench/soak.py --minutes 10 --out out/soak

clean:
	rm -rf out .pytest_cache .mypy_cache .ruff_cache
