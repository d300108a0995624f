"""The compiled build of processors/ (mypyc, scripts/build_native.py) against the source.

The build is only worth having if it computes exactly what the source does. The backtest
over a seeded population (with watchlists, and with malformed lines) runs once compiled and
once interpreted, each in its own process, and every alert, hit and rejection must agree.
The loader's choice (processors/__init__.py) is checked on copies of the package, so a
stale build can never run in place of edited source.
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
from dataclasses import MISSING, fields
from pathlib import Path

import pytest

import processors
from processors.links import Link, Signal
from processors.model import IndicatorHit, PaymentEvent
from tests.support import ROOT

START = "2026-01-01T00:00:00Z"
NOW_MS = 1_900_000_000_000

RUN = """
import json, sys
from pathlib import Path
import processors
from processors import rules
from processors.engine import Engine
from backtest.reading import read_avro, read_jsonl
from processors.replay import run

path, rule_file = Path(sys.argv[1]), sys.argv[2] or None
read = read_avro if path.suffix == ".avro" else read_jsonl
res = run(read(path), Engine(rules.load(rule_file)), int(sys.argv[3]))
alerts = {k: {f: v for f, v in a.items() if f != "detected_at"} for k, a in res.alerts.items()}
print(json.dumps({
    "runs_as": processors.RUNS_AS, "alerts": alerts, "rejected": res.rejected,
    "hits": sorted([*k, *v] for k, v in res.hits.items()),
    "counts": [res.events, res.processed, res.duplicates, res.accounts],
}, sort_keys=True))
"""


def backtest_in_subprocess(path: Path, rule_file: Path | None, mode: str) -> dict:
    env = {**os.environ, "CB_NATIVE": mode}
    out = subprocess.run(
        [sys.executable, "-c", RUN, str(path), str(rule_file or ""), str(NOW_MS)],
        cwd=ROOT, env=env, capture_output=True, text=True, check=True, timeout=300,
    )  # fmt: skip
    return json.loads(out.stdout)


@pytest.fixture(scope="module")
def population(tmp_path_factory) -> Path:
    """A month of 2,500 accounts with every kind of scenario, plus malformed lines."""
    path = tmp_path_factory.mktemp("native") / "events.jsonl"
    subprocess.run(
        [sys.executable, "-m", "cli", "simulate", "--seed", "11", "--accounts", "2500",
         "--days", "30", "--scenarios", "24", "--start", START, "--out", str(path)],
        cwd=ROOT, check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    good = json.loads(path.open().readline())
    bad = [
        {**good, "event_id": "bad-device", "device_hash": 5},
        {**good, "event_id": "bad-city", "location": {"city": ["x"], "country": "US"}},
        {**good, "event_id": "bad-merchant", "merchant": "not an object"},
        {**good, "event_id": "bad-passengers", "passenger_name_hashes": ["a", 1]},
        {**good, "event_id": "bad-mcc", "merchant": {**(good["merchant"] or {}), "mcc": 7011}},
    ]
    with path.open("a") as f:
        f.writelines(json.dumps(b) + "\n" for b in bad)
    return path


@pytest.fixture(scope="module")
def population_avro(population) -> Path:
    """The same events as an Avro container (the malformed lines cannot be written as Avro)."""
    from simulator.output import write_avro

    path = population.with_suffix(".avro")
    with population.open() as f:
        write_avro((json.loads(line) for line in f if '"bad-' not in line), path)
    return path


@pytest.mark.skipif(not processors.NATIVE, reason=f"no compiled build: {processors.RUNS_AS}")
@pytest.mark.parametrize("with_watchlists", [False, True], ids=["default-rules", "watchlists"])
def test_compiled_and_interpreted_backtests_agree_on_every_alert_hit_and_rejection(
    population, with_watchlists
):
    rule_file = population.with_suffix(".rules.json") if with_watchlists else None
    compiled = backtest_in_subprocess(population, rule_file, "require")
    interpreted = backtest_in_subprocess(population, rule_file, "off")

    assert compiled.pop("runs_as") == "compiled (mypyc)"
    assert interpreted.pop("runs_as") == "interpreted (CB_NATIVE=off)"
    assert len(compiled["alerts"]) >= 10, "too few alerts for the comparison to mean much"
    assert compiled["rejected"].get("invalid_field", 0) >= 5  # the malformed lines above
    assert compiled == interpreted


@pytest.mark.skipif(not processors.NATIVE, reason=f"no compiled build: {processors.RUNS_AS}")
def test_avro_input_gives_the_same_results_through_either_decoder(population, population_avro):
    """Compiled, the backtest decodes Avro blocks itself (processors.payment_avro);
    interpreted, fastavro does. Same alerts, hits and counts, and the same as from JSON."""
    rule_file = population.with_suffix(".rules.json")
    compiled = backtest_in_subprocess(population_avro, rule_file, "require")
    interpreted = backtest_in_subprocess(population_avro, rule_file, "off")
    from_json = backtest_in_subprocess(population, rule_file, "require")
    assert compiled.pop("runs_as") != interpreted.pop("runs_as")
    assert compiled == interpreted
    assert compiled["rejected"] == {} and len(compiled["alerts"]) >= 10
    assert compiled["alerts"] == from_json["alerts"] and compiled["hits"] == from_json["hits"]


def test_bad_text_fields_are_rejected_naming_the_field(population):
    """Both builds reject a number where a string goes, with the same clear reason (the
    compiled event would otherwise fail with a bare TypeError)."""
    from processors.validation import InvalidEvent, to_event

    good = json.loads(population.open().readline())
    cases = {
        "device_hash": ({"device_hash": 5}, "device_hash must be a string, got int"),
        "location.city": (
            {"location": {"city": ["x"]}},
            "location.city must be a string, got list",
        ),
        "merchant": ({"merchant": "m"}, "merchant must be an object, got str"),
        "passengers": (
            {"passenger_name_hashes": ["a", 1]},
            "passenger_name_hashes must be a list of strings",
        ),
    }
    for name, (change, detail) in cases.items():
        with pytest.raises(InvalidEvent) as exc:
            to_event({**good, **change}, NOW_MS)
        assert (exc.value.reason, exc.value.detail) == ("invalid_field", detail), name


def copy_package(tmp_path: Path) -> Path:
    """processors/ and a copy of its build (if any) in a scratch tree, to edit freely."""
    shutil.copytree(ROOT / "processors", tmp_path / "processors",
                    ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
    if processors.NATIVE_DIR.is_dir():
        shutil.copytree(processors.NATIVE_DIR, tmp_path / ".build" / "native" / "processors")
    return tmp_path


def runs_as(tree: Path, mode: str = "auto") -> subprocess.CompletedProcess:
    code = "import processors, processors.engine as e; print(processors.RUNS_AS); print(e.__file__)"
    env = {**os.environ, "CB_NATIVE": mode, "PYTHONPATH": str(tree)}
    return subprocess.run(
        [sys.executable, "-c", code], cwd=tree, env=env, capture_output=True, text=True
    )


@pytest.mark.skipif(not processors.NATIVE, reason=f"no compiled build: {processors.RUNS_AS}")
def test_an_edited_source_runs_interpreted_until_rebuilt_and_require_refuses(tmp_path):
    tree = copy_package(tmp_path)
    fresh = runs_as(tree)
    assert fresh.stdout.splitlines()[0] == "compiled (mypyc)", fresh.stderr
    assert fresh.stdout.splitlines()[1].endswith(".so")

    engine = tree / "processors" / "engine.py"
    engine.write_text(engine.read_text() + "\n# an edit\n")
    stale = runs_as(tree)
    assert stale.stdout.splitlines()[0].startswith("interpreted (native build is stale")
    assert Path(stale.stdout.splitlines()[1]).resolve() == engine.resolve()
    refused = runs_as(tree, "require")
    assert refused.returncode != 0 and "CB_NATIVE=require: native build is stale" in refused.stderr


def test_no_build_runs_interpreted_and_a_bad_mode_names_the_setting(tmp_path):
    tree = tmp_path
    shutil.copytree(ROOT / "processors", tree / "processors",
                    ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
    plain = runs_as(tree)
    assert plain.stdout.splitlines()[0] == "interpreted (no native build; make setup builds one)"
    off = runs_as(tree, "off")
    assert off.stdout.splitlines()[0] == "interpreted (CB_NATIVE=off)"
    bad = runs_as(tree, "fast")
    assert bad.returncode != 0
    assert "CB_NATIVE: must be one of auto, off, require, got 'fast'" in bad.stderr


def source_annotations(cls: type) -> dict[str, str]:
    path = ROOT / (cls.__module__.replace(".", "/") + ".py")
    node = next(
        n for n in ast.walk(ast.parse(path.read_text()))
        if isinstance(n, ast.ClassDef) and n.name == cls.__name__
    )  # fmt: skip
    return {
        a.target.id: ast.unparse(a.annotation)
        for a in node.body
        if isinstance(a, ast.AnnAssign) and isinstance(a.target, ast.Name)
    }


def sample(text: str, i: int):
    """A value of the field's type (compiled classes check them), distinct per position."""
    for kind, value in (
        ("list", [f"v{i}"]),
        ("dict", {f"k{i}": i}),
        ("float", i + 0.5),
        ("bool", True),
        ("int", 1000 + i),
    ):
        if kind in text:
            return value
    return f"v{i}"


@pytest.mark.parametrize("cls", [PaymentEvent, IndicatorHit, Link, Signal])
def test_written_out_constructors_follow_the_dataclass_fields(cls):
    """These classes spell out __init__ (compiled, the generated one stays interpreted): each
    parameter must land in the field of its position, and the defaults must be the fields'."""
    names = [f.name for f in fields(cls)]
    declared = source_annotations(cls)  # compiled, fields() reports unions as plain `type`
    values = [sample(declared[n], i) for i, n in enumerate(names)]  # a swapped pair shows
    made = cls(*values)
    assert [getattr(made, n) for n in names] == values
    required = [f for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING]
    bare = cls(*values[: len(required)])
    for f in fields(cls)[len(required) :]:
        want = f.default if f.default is not MISSING else f.default_factory()
        assert getattr(bare, f.name) == want, f.name


@pytest.mark.skipif(not processors.NATIVE, reason=f"no compiled build: {processors.RUNS_AS}")
def test_a_build_that_cannot_load_here_runs_interpreted(tmp_path):
    """A current digest over a library this machine cannot load (another architecture, a
    truncated file) must not take the package down."""
    tree = copy_package(tmp_path)
    (lib,) = (tree / ".build" / "native" / "processors").glob(f"{processors.NATIVE_LIBRARY}.*")
    lib.write_bytes(b"not a shared library")
    got = runs_as(tree)
    assert got.returncode == 0, got.stderr
    assert got.stdout.splitlines()[0].startswith("interpreted (native build does not load here")
    assert got.stdout.splitlines()[1].endswith("engine.py")
