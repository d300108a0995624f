#!/usr/bin/env bash
# Create the project venv and install the pinned dependencies (editable, with dev tools).
# Called by `make setup`; safe to re-run.
set -euo pipefail
venv=${1:-.venv}
python=${PYTHON:-python3}

if ! command -v "$python" >/dev/null; then
  echo "setup: $python not found; install Python 3.11 or newer (apt-get install python3 python3-venv)" >&2
  exit 1
fi
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "setup: Python 3.11 or newer is required, $python is $("$python" --version 2>&1)" >&2
  exit 1
fi
# Debian and Ubuntu ship venv (ensurepip) as a separate package: install it like the stack's
# other packages (stack/packages.py), as root or with passwordless sudo, when it is missing.
install_venv_package() {
  local pkg
  pkg="python$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')-venv"
  command -v apt-get >/dev/null || return 1
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || return 1
    sudo=(sudo -n)
  fi
  echo "setup: $python cannot create a venv; installing $pkg with apt-get" >&2
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$pkg" \
    || { "${sudo[@]}" apt-get update && "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
         apt-get install -y --no-install-recommends "$pkg"; }
}
if [ ! -x "$venv/bin/python" ]; then
  if ! "$python" -m venv "$venv"; then
    rm -rf "$venv"
    if ! install_venv_package || ! "$python" -m venv "$venv"; then
      echo "setup: could not create a venv; install your Python's venv module" \
        "(Debian/Ubuntu: apt-get install python3-venv) and run make again" >&2
      exit 1
    fi
  fi
fi
"$venv/bin/python" -m pip install --quiet --upgrade pip
"$venv/bin/python" -m pip install --quiet -e '.[dev,native]'
echo "setup: $venv ready ($("$venv/bin/python" --version))"
