"""Detection logic: plain Python, no Faust or Kafka imports.

The streaming worker (streams/) and offline backtests run exactly this code, so a change in
a threshold or an indicator is tested once and behaves the same everywhere.

The per-event modules may also run compiled (mypyc, ``scripts/build_native.py``, part of
``make setup``): the same source, built to C into ``.build/native/``. That build goes on this
package's search path ahead of the source only while it matches the source on disk byte for
byte, so an edited module never runs stale compiled code: it runs interpreted until the next
``make setup``. CB_NATIVE chooses: ``auto`` (default; the build if it is current), ``off``
(always the source) or ``require`` (fail at import without a current build, for benchmarks
and deployments that count on it).
"""

from __future__ import annotations

import hashlib
import importlib
import os
import sys
from pathlib import Path

_SOURCE = Path(__file__).resolve().parent
NATIVE_DIR = _SOURCE.parent / ".build" / "native" / "processors"
BUILD_ID_FILE = "BUILD_ID"
NATIVE_LIBRARY = "native__mypyc"  # scripts/build_native.py's GROUP, as mypyc names its library
_MODES = ("auto", "off", "require")


def source_digest(root: Path = _SOURCE) -> str:
    """What a build is valid for: every module's source, and the interpreter it targets."""
    h = hashlib.sha256(sys.implementation.cache_tag.encode())
    for path in sorted(root.rglob("*.py")):
        h.update(path.relative_to(root).as_posix().encode() + b"\0")
        h.update(path.read_bytes() + b"\0")
    return h.hexdigest()


def native_build_id() -> str | None:
    try:
        return (NATIVE_DIR / BUILD_ID_FILE).read_text().strip()
    except OSError:
        return None


def _choose() -> tuple[bool, str]:
    mode = os.environ.get("CB_NATIVE", "").strip() or "auto"
    if mode not in _MODES:
        raise ValueError(f"CB_NATIVE: must be one of {', '.join(_MODES)}, got {mode!r}")
    if mode == "off":
        return False, "interpreted (CB_NATIVE=off)"
    built = native_build_id()
    if built is None:
        why = "no native build; make setup builds one"
    elif built != source_digest():
        why = "native build is stale, the sources changed since; make setup rebuilds it"
    else:
        __path__.insert(0, str(NATIVE_DIR))  # ahead of the source: its modules win
        try:  # the shared library of the build: one that cannot load here must not be used
            importlib.import_module(f"{__name__}.{NATIVE_LIBRARY}")
        except ImportError as exc:
            __path__.remove(str(NATIVE_DIR))
            why = f"native build does not load here ({exc})"
        else:
            return True, "compiled (mypyc)"
    if mode == "require":
        raise ImportError(f"CB_NATIVE=require: {why}")
    return False, f"interpreted ({why})"


#: Whether the per-event modules run compiled, and a phrase for reports saying so.
NATIVE, RUNS_AS = _choose()
