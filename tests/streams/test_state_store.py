"""The worker's RocksDB stores share one memory budget (streams/state_store.py).

Real RocksDB (rocksdict), no broker: the options Faust opens each partition's database with.
"""

from __future__ import annotations

import os
import time

import rocksdict

from streams import state_store

MB = 2**20


def open_db(path, options: state_store.BudgetedOptions) -> rocksdict.Rdict:
    return options.open(path)


def settled(dbs: list[rocksdict.Rdict], timeout_s: float = 30.0) -> None:
    """Until no store has a full memtable waiting for its flush, or a flush running
    (RocksDB's own counters)."""
    deadline = time.monotonic() + timeout_s
    props = ("rocksdb.num-immutable-mem-table", "rocksdb.num-running-flushes")
    while any(int(db.property_int_value(p) or 0) for db in dbs for p in props):
        assert time.monotonic() < deadline, "RocksDB flushes did not finish"
        time.sleep(0.05)


def test_every_store_of_a_process_shares_one_cache_and_write_buffer_manager(tmp_path) -> None:
    first = state_store.BudgetedOptions(block_cache_size=8 * MB, use_rocksdict=True)
    second = state_store.BudgetedOptions(block_cache_size=8 * MB, use_rocksdict=True)
    other = state_store.BudgetedOptions(block_cache_size=16 * MB, use_rocksdict=True)
    assert first.budget is second.budget
    assert other.budget is not first.budget
    assert other.budget.capacity == 16 * MB
    assert first.budget in state_store.budgets() and other.budget in state_store.budgets()


def test_memtables_and_blocks_of_several_stores_stay_within_the_budget(tmp_path) -> None:
    capacity = 8 * MB
    options = state_store.BudgetedOptions(
        block_cache_size=capacity, write_buffer_size=4 * MB, use_rocksdict=True
    )
    budget = options.budget
    dbs = [open_db(tmp_path / f"p{n}", options) for n in range(4)]
    try:
        value = os.urandom(2048)
        # 4 stores x 6,000 keys x 2 KB = 48 MB written: six times the budget.
        for n in range(6000):
            for db in dbs:
                db[n.to_bytes(4, "big")] = value
        usage = budget.usage()
        assert usage["memtables"] > 0  # the write buffers are counted...
        assert usage["cache"] >= usage["memtables"]  # ...and charged to the shared cache
        # The write buffer manager acts on writes: a write to a store while the memtables
        # of all stores are over their share has that store flush (a worker writes all the
        # time; here one more small write to each store, once the flushes the big writes
        # started are done).
        settled(dbs)
        for db in dbs:
            db[b"one-more"] = b"x"
        settled(dbs)
        # Once those flushes are done, the memtables of all four stores are under their
        # share of the budget (4 MB), where each store alone would hold up to a whole 4 MB
        # write buffer. RocksDB reserves in 1 MB chunks: allow one more.
        assert budget.usage()["memtables"] <= capacity * state_store.MEMTABLE_SHARE + MB
        for db in dbs:  # reads fill the same cache, up to its capacity
            for n in range(0, 6000, 7):
                assert db[n.to_bytes(4, "big")] == value
        assert 0 < budget.usage()["cache"] <= capacity + MB
    finally:
        for db in dbs:
            db.close()


def test_faust_opens_every_table_with_the_installed_store_and_options(tmp_path) -> None:
    import faust

    url = state_store.install(block_cache_size=8 * MB, write_buffer_size=4 * MB)
    assert url == "chainbreaker-rocksdb://"
    app = faust.App("test-state-store", store=url, datadir=str(tmp_path))
    table = app.Table("accounts", partitions=2)
    store = table.data  # Faust builds the table's store from the app's ``store`` URL
    assert type(store) is state_store.Store
    # The table brings no options of its own: the installed ones apply, under one budget.
    assert store.rocksdb_options.block_cache_size == 8 * MB
    assert store.rocksdb_options.write_buffer_size == 4 * MB
    assert store.rocksdb_options.budget is state_store.budget(8 * MB)
