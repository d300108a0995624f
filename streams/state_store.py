"""Faust's RocksDB store under one memory budget per worker process.

Faust opens a RocksDB database per table partition (and per standby partition) and gives each
its own block cache and write buffers, so a worker's memory bound grows with the partitions it
holds: with 64 MB caches and 16 MB write buffers, two tables over eight partitions may take
well over a gigabyte before anything is evicted, and the soak showed resident memory climbing
for half an hour as they filled. Here every store of the process shares one LRU block cache
of ``CB_ROCKSDB_BLOCK_CACHE_MB``; memtables, index and filter blocks are charged to that same
cache (RocksDB's write buffer manager and ``cache_index_and_filter_blocks``), so the
budget is one number for the whole worker, whatever the partition count.

Faust picks a store class by the URL scheme of its ``store`` setting; :func:`install`
registers this one as ``chainbreaker-rocksdb://`` with the worker's options. (faust-streaming
0.11 accepts an app-level ``rocksdb_options`` setting but never hands it to its stores: they
opened with RocksDB defaults of a 2 GiB cache and 64 MB write buffers each, whatever the
worker asked for.) Everything else (paths, recovery, rebalancing, standbys) is Faust's.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import rocksdict
from faust import stores
from faust.stores import rocksdb as faust_rocksdb

SCHEME = "chainbreaker-rocksdb"
# Memtables may take up to this share of the budget before RocksDB flushes the largest.
MEMTABLE_SHARE = 0.5


@dataclass(frozen=True)
class Budget:
    """The process-wide cache and write buffer manager every store of a worker uses."""

    cache: rocksdict.Cache
    write_buffers: rocksdict.WriteBufferManager
    capacity: int

    @classmethod
    def of(cls, capacity: int) -> Budget:
        cache = rocksdict.Cache(capacity)
        manager = rocksdict.WriteBufferManager.new_write_buffer_manager_with_cache(
            int(capacity * MEMTABLE_SHARE), False, cache
        )
        return cls(cache=cache, write_buffers=manager, capacity=capacity)

    def usage(self) -> dict[str, int]:
        """Bytes in the shared cache (blocks and the memtables charged to it) and in memtables."""
        return {
            "cache": int(self.cache.get_usage()),
            "pinned": int(self.cache.get_pinned_usage()),
            "memtables": int(self.write_buffers.get_usage()),
        }


_budgets: dict[int, Budget] = {}
_lock = threading.Lock()
# What install() was given: the options of every store that does not bring its own.
_defaults: dict[str, Any] = {}


def budget(capacity: int) -> Budget:
    """One budget per capacity in a process (a worker has one; tests may build several apps)."""
    with _lock:
        found = _budgets.get(capacity)
        if found is None:
            found = _budgets[capacity] = Budget.of(capacity)
        return found


def budgets() -> list[Budget]:
    with _lock:
        return list(_budgets.values())


class BudgetedOptions(faust_rocksdb.RocksDBOptions):
    """Faust's options, with the shared cache and write buffer manager in place of a cache
    per database."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.budget = budget(self.block_cache_size)

    def as_options(self) -> Any:
        options = super().as_options()
        table = rocksdict.BlockBasedOptions()
        table.set_bloom_filter(self.bloom_filter_size, True)
        table.set_block_cache(self.budget.cache)
        table.set_cache_index_and_filter_blocks(True)
        table.set_pin_l0_filter_and_index_blocks_in_cache(True)
        table.set_index_type(rocksdict.BlockBasedIndexType.binary_search())
        options.set_block_based_table_factory(table)
        options.set_write_buffer_manager(self.budget.write_buffers)
        return options


class Store(faust_rocksdb.Store):
    """Faust's RocksDB store (rocksdict driver) with :class:`BudgetedOptions`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.use_rocksdict:  # pragma: no cover - rocksdict is what we install
            raise RuntimeError("chainbreaker's state store needs the rocksdict driver")
        # The options Faust built its own from (``read_only`` and ``driver`` popped), over
        # the worker's.
        given = {**_defaults, **self.options}
        self.rocksdb_options = BudgetedOptions(**given, use_rocksdict=True)


def install(block_cache_size: int, write_buffer_size: int) -> str:
    """Register the store with Faust for this process, its memory budget (the shared cache's
    capacity, in bytes) and each store's write buffer size; return the ``store`` URL."""
    _defaults.update(block_cache_size=block_cache_size, write_buffer_size=write_buffer_size)
    stores.STORES.aliases[SCHEME] = f"{__name__}:Store"
    return f"{SCHEME}://"
