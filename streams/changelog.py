"""A batch's table writes, as Faust would make them, with one produce batch per partition.

``table[key] = value`` costs Faust a FutureMessage, a pass through its serializers, a hop
through its producer buffer, a partitioner call and an aiokafka send with a future of its
own, for every record; py-spy put that path at a fifth of the worker's CPU on fresh
accounts, where a batch of 2,000 payments writes nearly 2,000 states (docs/benchmarks.md).
The worker writes each key once per batch anyway (streams/worker.py ``BatchView``), so here
those writes go, per partition, to the table's RocksDB partition store and to its changelog
as aiokafka record batches (``create_batch`` / ``send_batch``: one future per batch).

The records are the ones Faust would produce: the table's raw key and value bytes, no
headers, on the changelog partition of the source event. Recovery, standby replicas,
rebalancing and the changelog offsets the table persists (``StateTable``) stay Faust's; a
restarted or standby worker cannot tell these records from Faust's own.

A changelog batch that the broker refuses for good crashes the worker, before the consumer
can commit the input those states came from (Faust's own path only logs it).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from typing import Any

from faust.stores import rocksdb as faust_rocksdb
from faust.types import TP

log = logging.getLogger("chainbreaker.changelog")


class BatchWriter:
    """Writes (partition, key, value) triples into one Faust table, a batch at a time.

    ``on_written(tp, offset)`` hears the changelog offset of each partition's last record once
    the broker has it (the table persists the newest, streams/worker.py ``StateTable``).
    The worker's tables are on RocksDB (streams/state_store.py) and outside Kafka
    transactions, which is what this writes as; anything else is refused at the first write.
    """

    def __init__(self, table: Any, on_written: Callable[[TP, int], None]) -> None:
        self._table = table  # its app is set after the table is built: read at each write
        self._on_written = on_written

    async def write(self, by_partition: dict[int, list[tuple[bytes, bytes]]]) -> None:
        if not by_partition:
            return
        store, app = self._table.data, self._table.app
        if not isinstance(store, faust_rocksdb.Store) or app.in_transaction:
            raise RuntimeError(
                f"table {self._table.name}: batched writes need a RocksDB store and no "
                "Kafka transaction (streams/changelog.py)"
            )
        topic = self._table.changelog_topic.get_topic_name()
        producer = app.producer._producer  # the aiokafka producer Faust started
        for partition, items in by_partition.items():
            self._store(store, partition, items)
            await self._send(producer, topic, partition, items)

    @staticmethod
    def _store(store: Any, partition: int, items: Iterable[tuple[bytes, bytes]]) -> None:
        """What Faust's RocksDB store does for each ``table[key] = value`` (Store._set)."""
        db = store._db_for_partition(partition)
        index = store._key_index
        for key, value in items:
            index[key] = partition
            db.put(key, value)

    async def _send(
        self, producer: Any, topic: str, partition: int, items: list[tuple[bytes, bytes]]
    ) -> None:
        batch = producer.create_batch()
        for key, value in items:
            if batch.append(key=key, value=value, timestamp=None) is None:
                await self._submit(producer, batch, topic, partition)
                batch = producer.create_batch()
                # The first record of an empty batch always fits, whatever its size.
                batch.append(key=key, value=value, timestamp=None)
        await self._submit(producer, batch, topic, partition)

    async def _submit(self, producer: Any, batch: Any, topic: str, partition: int) -> None:
        batch.close()  # nothing else is appended to it: its records are exactly ours
        count = batch.record_count()
        sent = await producer.send_batch(batch, topic, partition=partition)
        tp = TP(topic, partition)
        sent.add_done_callback(lambda fut: self._sent(fut, tp, count))

    def _sent(self, fut: asyncio.Future, tp: TP, count: int) -> None:
        if fut.cancelled():
            return
        exc = fut.exception()
        if exc is not None:
            log.error("changelog batch to %s lost (%r): stopping the worker", tp, exc)
            asyncio.ensure_future(self._table.app.crash(exc))
            return
        # The batch's future carries its base offset; its last record is count - 1 later.
        self._on_written(tp, fut.result().offset + count - 1)
