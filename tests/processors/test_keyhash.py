"""Kafka's key partitioner, compiled: the same partitions as aiokafka's (the Java client's)."""

from __future__ import annotations

import random

from aiokafka.partitioner import murmur2 as reference

from processors.keyhash import murmur2, partition_for


def test_murmur2_matches_the_java_clients_on_random_keys():
    rng = random.Random(7)
    keys = [b"", b"a", b"ab", b"abc", b"abcd", "phone:ünïcode".encode()]
    keys += [rng.randbytes(rng.randrange(0, 80)) for _ in range(2_000)]
    for key in keys:
        assert murmur2(key) == reference(key), key


def test_partition_for_is_the_default_partitioners_choice():
    rng = random.Random(11)
    for _ in range(500):
        key = rng.randbytes(rng.randrange(1, 40))
        n = rng.randrange(1, 64)
        assert partition_for(key, n) == (reference(key) & 0x7FFFFFFF) % n
