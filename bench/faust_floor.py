"""Faust's floor: a bare agent with the worker's own app settings that does nothing per event.

It subscribes to the payments topic with the same Faust app configuration as the worker
(streams.worker.make_app: transport, commit interval, the worker's batching,
streams.batching.take_settled, with CB_BATCH_MAX, CB_BATCH_SETTLE_MS and CB_BATCH_WITHIN_MS,
logging held at INFO) and only counts. What it costs per
event is what Faust's consumer, conductor, event and stream machinery cost before any work:
the ceiling a worker on Faust can approach. Run as a process by bench/throughput.py:

    python -m bench.faust_floor      (settings from the CB_* environment, like the worker)
"""

from __future__ import annotations

import logging

import faust

from config.settings import load
from streams.batching import consumer_backlog, take_settled
from streams.worker import make_app, tune_interpreter


def main() -> None:
    settings = load()
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    tune_interpreter(settings)  # as the worker's process is
    app = make_app(settings)
    payments = app.topic(settings.topic_payments, partitions=settings.partitions)
    settle, within = settings.batch_settle_ms / 1000, settings.batch_within_ms / 1000

    @app.agent(payments, concurrency=1)
    async def count(stream: faust.StreamT) -> None:
        seen = 0
        batches = take_settled(
            stream,
            settings.batch_max,
            settle,
            within,
            backlog=consumer_backlog(app, settings.topic_payments),
            within_backlog=settings.batch_backlog_within_ms / 1000,
        )
        async for events in batches:
            seen += len(events)

    @app.task
    async def quiet_client_logs() -> None:  # as the worker does
        for name in ("aiokafka", "faust", "mode"):
            logging.getLogger(name).setLevel(max(logging.INFO, logging.getLogger().level))

    faust.Worker(app, loglevel="warning", quiet=True).execute_from_commandline()


if __name__ == "__main__":
    main()
