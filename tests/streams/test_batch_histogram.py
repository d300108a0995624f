"""The batch-fed histogram exposes exactly what prometheus_client's Histogram exposes."""

from __future__ import annotations

import math
import random

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.registry import REGISTRY

from streams.metrics import LATENCY_BUCKETS, BatchHistogram


def samples(text: str, name: str) -> dict[str, float]:
    out = {}
    for line in text.splitlines():
        if line.startswith(name) and "_created" not in line:
            series, value = line.rsplit(" ", 1)
            out[series.replace(name, "")] = float(value)
    return out


def test_batch_histogram_matches_prometheus_histogram():
    rng = random.Random(3)
    values = [rng.choice([0.0, 0.001, 0.0025, 1.0, 20.0]) for _ in range(50)]  # on the bounds
    values += [rng.expovariate(40) for _ in range(5_000)]
    registry = CollectorRegistry()
    reference = Histogram("t_ref_seconds", "doc", buckets=LATENCY_BUCKETS, registry=registry)
    batched = BatchHistogram("t_batch_seconds", "doc", LATENCY_BUCKETS)
    try:
        for v in values:
            reference.observe(v)
        for i in range(0, len(values), 333):
            batched.observe_batch(values[i : i + 333])
        got = samples(generate_latest(REGISTRY).decode(), "t_batch_seconds")
        want = samples(generate_latest(registry).decode(), "t_ref_seconds")
        assert got.keys() == want.keys() and len(got) == len(LATENCY_BUCKETS) + 3
        for series, value in want.items():
            assert math.isclose(got[series], value, rel_tol=1e-12), series
    finally:
        REGISTRY.unregister(batched)


def test_garbage_collections_are_timed():
    """Every collection the worker's interpreter runs is counted with its pause."""
    import gc

    from streams import metrics

    metrics.watch_gc()
    metrics.flush_gc()
    before = metrics.GC_PAUSE._counts[:]
    garbage = [[i] for i in range(200_000)]  # enough objects that a full collection takes time
    for generation in (0, 1, 2):
        gc.collect(generation)
    metrics.flush_gc()
    del garbage
    added = [a - b for a, b in zip(metrics.GC_PAUSE._counts, before, strict=True)]
    assert sum(added) >= 3 and metrics.GC_PAUSE._sum > 0
