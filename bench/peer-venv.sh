#!/usr/bin/env bash
# The benchmark's peer engine in a venv of its own: quixstreams pins a confluent-kafka older
# than the project's, so it never goes into .venv. Idempotent; `make bench` calls it.
set -euo pipefail
venv=${1:-.venv-peer}
python=${PYTHON:-python3}
# The stamp names what is installed: a new requirement makes a new stamp, so it reinstalls.
stamp="$venv/.installed-quixstreams-3.28.1-cramjam"
[ -f "$stamp" ] && exit 0
"$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --upgrade pip
"$venv/bin/python" -m pip install --quiet "quixstreams==3.28.1" "msgspec==0.23.0" "fastavro==1.13.1" \
    "cramjam==2.14.0"  # processors/state.py compresses account states
touch "$stamp"
echo "bench: $venv ready (quixstreams 3.28.1, cramjam 2.14.0)"
