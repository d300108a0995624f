"""Kafka's default key partitioner (MurmurHash2, as the Java client computes it), compiled.

Why here: the worker re-keys identity links by identifier, and the partition a key maps to
must stay what Kafka's standard partitioner gives (the Java client's default, and what
earlier builds of the worker used through aiokafka), or an upgraded worker would put an
identifier's links on a partition other than its group's. aiokafka computes it in pure
Python, about 15 us a key; compiled with the rest of processors/ (mypyc) it is well under
one, so the worker passes the partition itself. Plain integer arithmetic on 32 bits, no
Kafka import: the test compares it with aiokafka's on random keys.
"""

from __future__ import annotations

from typing import Final

_SEED: Final = 0x9747B28C
_M: Final = 0x5BD1E995
_MASK: Final = 0xFFFFFFFF


def murmur2(data: bytes) -> int:
    """The 32-bit MurmurHash2 of ``data`` as Kafka computes it, as an unsigned number."""
    length = len(data)
    h = (_SEED ^ length) & _MASK
    end = length - length % 4
    i = 0
    while i < end:
        k = data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24)
        k = (k * _M) & _MASK
        k ^= k >> 24
        k = (k * _M) & _MASK
        h = (h * _M) & _MASK
        h ^= k
        i += 4
    rest = length - end
    if rest == 3:
        h ^= data[end + 2] << 16
    if rest >= 2:
        h ^= data[end + 1] << 8
    if rest >= 1:
        h ^= data[end]
        h = (h * _M) & _MASK
    h ^= h >> 13
    h = (h * _M) & _MASK
    h ^= h >> 15
    return h


def partition_for(key: bytes, partitions: int) -> int:
    """The partition Kafka's default partitioner picks for ``key`` among ``partitions``."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions
