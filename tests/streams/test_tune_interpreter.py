"""The worker's interpreter settings: the GIL switch interval and the garbage collector's
youngest threshold come from the worker's settings, and the older generations keep their
ratios (so cyclic garbage is still collected)."""

from __future__ import annotations

import gc
import sys

import pytest

from config import settings as settings_mod
from streams.worker import GIL_SWITCH_INTERVAL_S, tune_interpreter


@pytest.fixture
def restored():
    thresholds, interval = gc.get_threshold(), sys.getswitchinterval()
    yield
    gc.set_threshold(*thresholds)
    sys.setswitchinterval(interval)


def test_the_worker_collects_young_objects_at_its_threshold(restored):
    gc.set_threshold(700, 11, 12)
    tune_interpreter(settings_mod.load({"CB_GC_GEN0_THRESHOLD": "12345", "CB_UVLOOP": "false"}))
    assert gc.get_threshold() == (12345, 11, 12)
    assert sys.getswitchinterval() == pytest.approx(GIL_SWITCH_INTERVAL_S)


def test_by_default_young_objects_are_collected_less_often_than_by_cpython(restored):
    tune_interpreter(settings_mod.load({"CB_UVLOOP": "false"}))
    assert gc.get_threshold()[0] == settings_mod.load({}).gc_gen0_threshold > 700
