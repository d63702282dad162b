# Tierplay: two set-up commands. `make run` plays sample_audio/, `make test` runs every check.
# Both create .venv and install what is missing; re-running them when nothing changed is quick.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
JACK_RATE := 44100
JACK_PERIOD := 1024

COMPILED := setup.py engine/dsp/_truepeak.c

.PHONY: run test system-audio system-build system-test-audio clean

run: system-audio $(VENV)/.run-installed
	$(BIN)/tierplay sample_audio/

test: system-audio system-test-audio $(VENV)/.test-installed
	@rc=0; jack_pid=""; \
	if command -v jack_lsp >/dev/null 2>&1 && jack_lsp >/dev/null 2>&1; then \
		echo "make test: using the JACK server that is already running"; \
	elif command -v jackd >/dev/null 2>&1; then \
		jackd --no-realtime -d dummy -r $(JACK_RATE) -p $(JACK_PERIOD) </dev/null >.jackd.log 2>&1 & jack_pid=$$!; \
		for i in $$(seq 1 100); do jack_lsp >/dev/null 2>&1 && break; sleep 0.1; done; \
		jack_lsp >/dev/null 2>&1 || { echo "make test: jackd did not start, see .jackd.log"; cat .jackd.log; }; \
	fi; \
	if jack_lsp >/dev/null 2>&1; then export TIERPLAY_JACK=1; fi; \
	$(BIN)/ruff check . || rc=1; \
	$(BIN)/ruff format --check . || rc=1; \
	$(BIN)/mypy || rc=1; \
	$(BIN)/python -m pytest || rc=1; \
	if [ -n "$$jack_pid" ]; then kill $$jack_pid 2>/dev/null; wait $$jack_pid 2>/dev/null; fi; \
	exit $$rc

# The virtualenv: reinstalled only when pyproject.toml or the compiled part changes.
$(VENV)/.created:
	@$(PYTHON) -m venv $(VENV) 2>/dev/null || { \
		$(call apt_install,python3-venv) && rm -rf $(VENV) && $(PYTHON) -m venv $(VENV); }
	$(BIN)/python -m pip install --quiet --upgrade pip
	@touch $@

$(VENV)/.run-installed: pyproject.toml $(COMPILED) $(VENV)/.created | system-build
	$(BIN)/python -m pip install --quiet -e .
	@touch $@

$(VENV)/.test-installed: pyproject.toml $(COMPILED) $(VENV)/.created | system-build
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $@ $(VENV)/.run-installed

# System libraries: installed with apt when we are root or have password-less sudo,
# otherwise we print the one command the user must run and carry on (the null sink still works).
apt_install = pkgs="$(1)"; \
	if [ "$$(id -u)" = 0 ]; then sudo=""; \
	elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo="sudo"; \
	else echo "Tierplay needs: $$pkgs. Please run:  sudo apt-get install -y $$pkgs"; exit 0; fi; \
	if ! command -v apt-get >/dev/null 2>&1; then echo "Please install $$pkgs with your package manager"; exit 0; fi; \
	echo "Installing $$pkgs ..."; \
	$$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends $$pkgs >/dev/null

system-audio:
	@ldconfig -p 2>/dev/null | grep -q 'libportaudio.so.2' || { $(call apt_install,libportaudio2); }

# A C compiler and Python's headers, for the limiter's compiled search.
system-build:
	@command -v cc >/dev/null 2>&1 || { $(call apt_install,gcc libc6-dev); }
	@$(PYTHON) -c "import os, sysconfig; raise SystemExit(not os.path.isfile(os.path.join(sysconfig.get_paths()['include'], 'Python.h')))" \
		|| { $(call apt_install,python3-dev); }

system-test-audio:
	@command -v jackd >/dev/null 2>&1 || { $(call apt_install,jackd2); }
	@command -v dbus-daemon >/dev/null 2>&1 || { $(call apt_install,dbus); }
	@command -v playerctl >/dev/null 2>&1 || { $(call apt_install,playerctl); }

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .jackd.log build engine/dsp/*.so
