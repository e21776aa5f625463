# Every target does its own set-up: a local virtualenv with pinned tools (tools/requirements-dev.txt).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
MPY    := $(VENV)/bin/micropython
STAMP  := $(VENV)/.installed-$(shell cksum < tools/requirements-dev.txt | cut -d' ' -f1)
BOARD  ?= esp32-devkitc
PORT   ?=
CONFIG ?= config.json
FIRMWARE ?=
PYTEST_ARGS ?=
# Test worker processes (pytest-xdist; each test file stays in one worker). 0: no workers.
PYTEST_JOBS ?= 3
# Extra arguments: FLASH_ARGS (--dry-run, --baud, --chip), DEPLOY_ARGS (--extra, --full),
# MPY_ARGS, CONFIG_ARGS (flags of tools/config.py), SIM_ARGS (flags of tools/sim.py or, for
# `make fleet`, of tools/fleet.py).

.PHONY: all setup test sim fleet bench mpy romfs flash deploy config clean browser

all: test

$(STAMP): tools/requirements-dev.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r tools/requirements-dev.txt
	@rm -f $(VENV)/.installed-*
	@touch $@

setup: $(STAMP)

# The portal and status page tests drive Debian's headless chromium (CI: root, no stdin).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium missing and not root: the browser tests will be skipped"; fi; }

test: $(STAMP) browser
	$(PY) -m pytest -n $(PYTEST_JOBS) --dist loadfile host_tests $(PYTEST_ARGS)

sim: $(STAMP)
	$(PY) tools/sim.py $(SIM_ARGS)

fleet: $(STAMP)
	$(PY) tools/fleet.py $(SIM_ARGS)

bench: $(STAMP) browser
	$(PY) tools/bench.py

mpy: $(STAMP)
	$(PY) tools/mpy.py --board $(BOARD) $(MPY_ARGS)

# build/<board>.romfs: the .mpy image packed for a ROMFS partition (mpremote romfs deploy).
romfs: $(STAMP)
	$(PY) tools/romfs.py --board $(BOARD)

flash: $(STAMP)
	$(PY) tools/flash.py --port "$(PORT)" --board $(BOARD) --firmware "$(FIRMWARE)" $(FLASH_ARGS)

deploy: $(STAMP)
	$(PY) tools/deploy.py --port "$(PORT)" --board $(BOARD) --config "$(CONFIG)" $(DEPLOY_ARGS)

config: $(STAMP)
	$(PY) tools/config.py --out "$(CONFIG)" $(CONFIG_ARGS)

clean:
	rm -rf build .pytest_cache
