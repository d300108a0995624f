"""The offline driver of the engine: records in, account states in a dict, alerts and hits out.

``chainbreaker backtest`` (backtest/) runs it over a file. It lives here, beside the
code it drives, because it is the backtest's per-event loop and so is compiled with that code
(scripts/build_native.py). Nothing here reads files or knows about Kafka: the worker wires
the same engine to its topics and tables instead.
"""

from __future__ import annotations

import gc
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from processors.engine import Engine, StepResult
from processors.links import IdentifierGroup, Link, Linker, LinkIndex, Signal
from processors.networks import Networks
from processors.state import AccountState
from processors.validation import InvalidEvent, to_event

PROGRESS_EVERY = 8192  # events between progress-bar updates (a per-event update costs ~1 us)
MAX_EXAMPLES = 5  # rejected records kept per reason, for the report


class Rejected:
    """A record that could not be read (before validation): reason and detail."""

    def __init__(self, reason: str, detail: str) -> None:
        self.reason = reason
        self.detail = detail


@dataclass(slots=True)
class RunResult:
    events: int = 0  # records read, good or bad
    processed: int = 0  # valid, new events applied to the state
    duplicates: int = 0
    rejected: Counter = field(default_factory=Counter)  # reason -> count
    examples: dict[str, list[str]] = field(default_factory=dict)  # reason -> details
    alerts: dict[str, dict] = field(default_factory=dict)  # alert id -> record (first seen)
    hits: dict[tuple[str, str], list[int]] = field(default_factory=dict)  # (acct, code)->[t, n]
    accounts: int = 0
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0

    def reject(self, reason: str, detail: str) -> None:
        self.rejected[reason] += 1
        shown = self.examples.setdefault(reason, [])
        if len(shown) < MAX_EXAMPLES:
            shown.append(detail[:300])


def run(
    records: Iterable[Any],
    engine: Engine,
    now_ms: int,
    max_future_skew_ms: int = 300_000,
    progress: Any = None,
) -> RunResult:
    """Apply every record to its account's state; collect alerts, hits and rejections.

    This is the hot loop: no per-event objects beyond what validation and the engine make,
    progress updated in blocks.

    Cross-account indicators (processors/links.py) run inline: the links an event yields go
    straight to their identifier groups (a dict here, a re-keyed topic and table in the
    worker) and any signal straight to its account's state. The worker applies a signal a
    little later, after payments that were in flight meanwhile, so an alert can be triggered
    by a different event (and carry a different id) than here; which accounts alert for
    which typology is the same.
    """
    result = RunResult()
    states: dict[str, AccountState] = {}
    alerts = result.alerts
    hits = result.hits
    usd_per_unit = engine.rules.usd_per_unit
    events = processed = duplicates = 0
    # Calls below go straight to the functions and methods: compiled (the usual case), a
    # direct call is cheaper than one through a local alias.
    linker = Linker.from_rules(engine.rules)
    links_on = linker.enabled
    hop = _Hop(engine, LinkIndex(linker), Networks(engine.rules, engine.explains), states,
               now_ms, hits, alerts)  # fmt: skip
    # The states are millions of small lists and dicts that live to the end; the cyclic
    # collector would rescan them over and over (the loop makes no reference cycles).
    gc_enabled = gc.isenabled()
    gc.disable()
    started = time.perf_counter()
    try:
        for rec in records:
            events += 1
            if progress is not None and not events % PROGRESS_EVERY:
                progress.update(PROGRESS_EVERY)
            if isinstance(rec, Rejected):
                result.reject(rec.reason, rec.detail)
                continue
            try:
                ev = to_event(rec, now_ms, max_future_skew_ms, usd_per_unit)
            except InvalidEvent as exc:
                result.reject(exc.reason, exc.detail)
                continue
            except Exception as exc:  # a record of the wrong shape (e.g. a list where a dict goes)
                result.reject("invalid_field", f"{type(exc).__name__}: {exc}")
                continue
            acct = ev.account_id
            state = states.get(acct)
            if state is None:
                state = states[acct] = AccountState()
            try:
                res = engine.step(state, ev, now_ms)
            except Exception as exc:  # as the worker: a detector bug dead-letters the event
                result.reject("processing_error", f"{type(exc).__name__}: {exc}")
                continue
            if res.duplicate:
                duplicates += 1
            else:
                processed += 1
            if links_on:
                links = linker.due(state.slots, ev, res.duplicate)
                if links or res.hits:
                    who = (ev.institution_id, acct, ev.customer_id)
                    links = hop.networks.outgoing(
                        state, links, bool(res.hits), ev.event_id, ev.event_time, who
                    )
                    if links:
                        hop.send(links)
            if res.hits or res.alerts:  # alerts alone: a duplicate re-emitting its alert
                _record(res, acct, ev.event_time, hits, alerts)
    finally:
        if gc_enabled:
            gc.enable()
    result.seconds = time.perf_counter() - started
    if progress is not None:
        progress.update(events % PROGRESS_EVERY)
    result.events, result.processed, result.duplicates = events, processed, duplicates
    result.accounts = len(states)
    return result


class _Hop:
    """The cross-account hop, inline: links onto their groups (a dict here, a re-keyed topic
    and table in the worker), signals onto their accounts' states, the REPORT links those
    raise back onto the groups, and the network cases the groups open."""

    def __init__(
        self,
        engine: Engine,
        index: LinkIndex,
        networks: Networks,
        states: dict[str, AccountState],
        now_ms: int,
        hits: dict[tuple[str, str], list[int]],
        alerts: dict[str, dict],
    ) -> None:
        self.engine = engine
        self.index = index
        self.networks = networks
        self.states = states
        self.now_ms = now_ms
        self.hits = hits
        self.alerts = alerts
        self.groups: dict[str, IdentifierGroup] = {}

    def send(self, links: list[Link]) -> None:
        pending = list(links)
        i = 0
        while i < len(pending):  # reports raised by signals queue behind the links before them
            link = pending[i]
            i += 1
            group = self.groups.get(link.key)
            if group is None:
                group = self.groups[link.key] = IdentifierGroup()
            signals = self.index.add(group, link)
            signals += self.networks.cases(group, link.key, self.index.replayed, self.now_ms)
            for signal in signals:
                pending += self._apply_signal(signal)

    def _apply_signal(self, signal: Signal) -> list[Link]:
        """A cross-account signal onto its account's state, recorded as the worker would;
        the REPORT links its new hit raises."""
        state = self.states.get(signal.account_id)
        if state is None:
            state = self.states[signal.account_id] = AccountState()
        res = self.engine.apply_signal(state, signal, self.now_ms)
        _record(res, signal.account_id, signal.event_time, self.hits, self.alerts)
        # A new hit, or a network case now open on the account: the groups it belongs to
        # hear of it (a case covers its network: processors/networks.py).
        changed = bool(res.hits) or (bool(signal.case) and bool(res.alerts) and not res.duplicate)
        if not changed:
            return []
        who = (signal.institution_id, signal.account_id, signal.customer_id)
        return self.networks.outgoing(state, [], True, signal.signal_id, signal.event_time, who)


def _record(
    res: StepResult,
    account_id: str,
    event_time: int,
    hits: dict[tuple[str, str], list[int]],
    alerts: dict[str, dict],
) -> None:
    """A step's hits (first time and count per account and indicator) and its alerts, each
    kept once per alert id as the case queue keeps them."""
    for hit in res.hits:
        seen = hits.get((account_id, hit.code))
        if seen is None:
            hits[account_id, hit.code] = [event_time, 1]
        else:
            seen[1] += 1
    for alert in res.alerts:
        alerts.setdefault(alert["alert_id"], alert)
