"""The cross-account hop late and out of order, as the worker runs it, against the inline
backtest (processors.replay).

In the worker a link goes through the identity-links topic to its group and a signal through
the account-signals topic to its account, so both arrive after payments that were in flight
meanwhile, and links from different accounts reach a group in another order than event time.
After a restart that lag is thousands of payments. Here the same engine runs the same payments
with every link and signal held back by a random number of payments (up to ``LAG``) and
released in that shuffled order. What must hold is what the fault tests check on the real
worker (tests/reliability/harness.compare): every alert without a signal in it is the same,
by id; a signal-driven (account, typology) is one the backtest alerts too, or a network case
that went to another member of a network the backtest alerts.
"""

from __future__ import annotations

import heapq
import random
import time

import pytest

from processors import rules as rules_mod
from processors.engine import Engine
from processors.links import IdentifierGroup, Linker, LinkIndex
from processors.networks import Networks
from processors.replay import run
from processors.state import AccountState
from processors.validation import to_event
from tests.reliability.harness import compare, traffic

LAG = 1000  # payments a link or a signal may be held back (a restart's worth at 300/s)


def delayed_alerts(records: list[dict], engine: Engine, now_ms: int, seed: int) -> dict:
    """The alerts of ``records`` with the cross-account hop held back and shuffled."""
    rng = random.Random(seed)
    linker = Linker.from_rules(engine.rules)
    index = LinkIndex(linker)
    networks = Networks(engine.rules, engine.explains)
    states: dict[str, AccountState] = {}
    groups: dict[str, IdentifierGroup] = {}
    alerts: dict[str, dict] = {}
    queue: list = []  # (due after payment n, sequence, "link" | "signal", item)
    n = seq = 0

    def hold(kind: str, items) -> None:
        nonlocal seq
        for item in items:
            seq += 1
            heapq.heappush(queue, (n + rng.randint(0, LAG), seq, kind, item))

    def release(everything: bool = False) -> None:
        while queue and (everything or queue[0][0] <= n):
            _due, _seq, kind, item = heapq.heappop(queue)
            if kind == "link":
                group = groups.setdefault(item.key, IdentifierGroup())
                signals = index.add(group, item)
                signals += networks.cases(group, item.key, index.replayed, now_ms)
                hold("signal", signals)
                continue
            state = states.setdefault(item.account_id, AccountState())
            res = engine.apply_signal(state, item, now_ms)
            for alert in res.alerts:
                alerts.setdefault(alert["alert_id"], alert)
            if res.hits or (item.case and res.alerts and not res.duplicate):
                who = (item.institution_id, item.account_id, item.customer_id)
                hold("link", networks.outgoing(state, [], True, item.signal_id,
                                               item.event_time, who))  # fmt: skip

    for rec in records:
        n += 1
        release()
        ev = to_event(rec, now_ms, 300_000, engine.rules.usd_per_unit)
        state = states.setdefault(ev.account_id, AccountState())
        res = engine.step(state, ev, now_ms)
        for alert in res.alerts:
            alerts.setdefault(alert["alert_id"], alert)
        links = linker.due(state.slots, ev, res.duplicate)
        if links or res.hits:
            who = (ev.institution_id, ev.account_id, ev.customer_id)
            hold("link", networks.outgoing(state, links, bool(res.hits), ev.event_id,
                                           ev.event_time, who))  # fmt: skip
    release(everything=True)
    return alerts


@pytest.mark.parametrize("seed", [48581, 5])
def test_a_late_and_shuffled_hop_raises_no_alert_the_backtest_does_not(seed: int) -> None:
    records = traffic(seed, accounts=500, days=30, scenarios=200, groups=4)
    now_ms = int(time.time() * 1000)
    rules = rules_mod.load()
    inline = run(records, Engine(rules), now_ms)
    late = delayed_alerts(records, Engine(rules), now_ms, seed)
    result = compare(list(late.values()), dict(inline.alerts))
    assert result.expected >= 250 and result.by_id >= 200  # the traffic alerts
    assert result.duplicates == 0
    assert result.holds, f"seed {seed}: {result.summary()}\n" + "\n".join(result.details[:20])
