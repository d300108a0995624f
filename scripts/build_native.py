"""Compile the per-event modules of processors/ to C with mypyc, into .build/native/.

Why: the offline backtest is interpreter overhead spread thinly over validation, the engine,
the link index and twenty detectors (docs/backtest.md); compiling the same typed source
removes most of it without a second implementation to keep in step. The worker runs the
same compiled modules.

It builds for the ``processors`` package this interpreter imports (the checkout under the
editable install, or site-packages), into ``.build/native/`` beside that package.

The build is a cache, never a second source of truth: processors/__init__.py puts it on the
package path only while it was built from exactly the sources on disk (a digest of every
``processors/**/*.py`` and the interpreter), so an edit falls back to the interpreted source
until the next build, and CB_NATIVE=off ignores it. Called by ``make setup``; without a C
compiler or headers it says so and the project runs interpreted.

    python scripts/build_native.py [--force]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ["CB_NATIVE"] = "off"  # the digest below must come from the source, not a build

# The package this interpreter imports: the checkout under an editable install (make setup),
# site-packages after `pip install .` (the Docker image). The build goes next to it.
import processors  # noqa: E402

PACKAGE = Path(processors.__file__).resolve().parent

#: Modules compiled: those on the per-event path. The rest (rule loading, intelligence-feed
#: parsing, dispositions, SAR drafts, evaluation) runs once per run, per alert or per
#: feed entry, gains nothing measurable and stays interpreted. Package __init__ files stay
#: interpreted too (processors/__init__.py is what decides whether the build is used).
COMPILED = (
    "processors/currency.py",
    "processors/model.py",
    "processors/state.py",
    "processors/validation.py",
    "processors/payment_avro.py",
    "processors/keyhash.py",
    "processors/links.py",
    "processors/attribution.py",
    "processors/networks.py",
    "processors/engine.py",
    "processors/replay.py",
    "processors/indicators/*.py",
)
# mypyc names a group's shared library <group>__mypyc; processors/__init__.py loads it first.
GROUP = "processors." + processors.NATIVE_LIBRARY.removesuffix("__mypyc")


def modules(src: Path) -> list[str]:
    found: list[str] = []
    for pattern in COMPILED:
        found += sorted(
            str(p.relative_to(src)) for p in src.glob(pattern) if p.name != "__init__.py"
        )
    return found


def build(force: bool = False) -> int:
    digest = processors.source_digest()
    if not force and processors.native_build_id() == digest:
        print(f"native build: up to date ({processors.NATIVE_DIR})")
        return 0
    try:
        from mypyc.build import mypycify
        from setuptools import Distribution
    except ImportError as exc:
        print(f"native build: skipped, {exc} (pip install mypy); running interpreted")
        return 0
    started = time.perf_counter()
    out = processors.NATIVE_DIR.parent  # .build/native; the package lands in out/processors
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="native-", dir=out.parent) as tmp:
        # Build from a snapshot, so the digest stamped is that of what was compiled even if a
        # file changes meanwhile; mypycify names modules by path relative to the cwd.
        src = Path(tmp) / "src"
        shutil.copytree(
            PACKAGE, src / "processors", ignore=shutil.ignore_patterns("__pycache__", "*.so")
        )
        snapshot = processors.source_digest(src / "processors")
        cwd = os.getcwd()
        os.chdir(src)
        try:
            exts = mypycify(modules(src), opt_level="3", group_name=GROUP, verbose=False)
            dist = Distribution({"name": "chainbreaker-native", "ext_modules": exts})
            dist.script_args = [
                "--quiet", "build_ext", "--build-lib", str(Path(tmp) / "lib"),
                "--build-temp", str(Path(tmp) / "obj"), "--parallel", str(os.cpu_count() or 1),
            ]  # fmt: skip
            dist.parse_command_line()
            dist.run_commands()
        except (Exception, SystemExit) as exc:  # no compiler or headers: stay interpreted
            print(f"native build: failed ({exc}); running interpreted", file=sys.stderr)
            return 1
        finally:
            os.chdir(cwd)
        built = Path(tmp) / "lib" / "processors"
        (built / processors.BUILD_ID_FILE).write_text(snapshot + "\n")
        staged = Path(tmp) / "native"
        staged.mkdir()
        shutil.move(str(built), staged / "processors")
        if out.exists():
            shutil.rmtree(out)
        staged.rename(out)
    n = len(list(processors.NATIVE_DIR.rglob("*.so")))
    print(f"native build: {n} extension modules in {time.perf_counter() - started:.0f} s")
    if snapshot != digest:
        print("native build: sources changed during the build; run it again", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--force", action="store_true", help="rebuild even if up to date")
    return build(p.parse_args(argv).force)


if __name__ == "__main__":
    sys.exit(main())
