"""One simulated run: who is who, the accounts, the injected scenarios, and the days' traffic.

Why it exists: labelled real cases cannot be shared, yet the detectors must be tuned and shown
against traffic whose truth is known. Everything derives from the seed (one ``random.Random``
per purpose and per day of traffic, never the global generator), so a backtest is repeatable
and a failing scenario can be replayed. Traffic is produced one day at a time, so memory stays
bounded by one day of events however long the run; scenario events (a few per cent of the
traffic) are built up front and held until their day.

Plain Python on purpose: the offline backtest imports this, so Kafka and Faust are only
imported by the CLI when ``--publish`` asks for them.
"""

from __future__ import annotations

import random
from bisect import bisect_left
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from itertools import islice
from operator import itemgetter

from simulator.clock import DAY_MS, EPOCH_ORDINAL, HOUR_MS
from simulator.geography import ALL_CITIES, utc_offset
from simulator.kinds import BACKGROUND, NONE, TYPOLOGIES, GroupKind, Kind, Member
from simulator.lookalikes import LOOKALIKE_GROUPS, LOOKALIKES, NEGATIVE_KINDS
from simulator.population import ROLE_DAY, open_account
from simulator.scenarios import GROUPS, SCENARIO_VARIANTS, SCENARIOS
from simulator.scenarios.rings import RING_LOOKALIKES, RINGS
from simulator.watchlists import Watchlists
from simulator.world import Account, Day, World

Overlay = dict[int, list[tuple[int, dict]]]  # day index -> the scenario events of that day


@dataclass(frozen=True, slots=True)
class ScenarioTruth:
    account_id: str
    institution_id: str
    scenario_id: str
    typology: str  # one of TYPOLOGIES, or "NONE" for a hard negative that must not alert
    kind: str
    start_ms: int
    end_ms: int
    role: str = ""  # the account's part: collector, sender, controller, victim, worker, ...


# The part the account of a classic scenario plays (ring builders set their members' roles).
DEFAULT_ROLES = {
    "sex_ring": "victim",
    "sex_ring_online": "controller",
    "sex_ring_travel": "controller",
    "labour_wage_capture": "controller",
    "labour_recruiter": "controller",
    "labour_front_business": "employer",
    "smuggling_cash_wire": "funnel",
    "smuggling_structuring": "funnel",
    "smuggling_transport": "controller",
    "labour_shared_identifier": "worker",
    "smuggling_shared_identifier": "sender",
    "smuggling_common_beneficiary": "sender",
}


@dataclass(frozen=True, slots=True)
class Simulation:
    events: Iterator[dict]
    truth: list[ScenarioTruth]
    watchlists: Watchlists


def build(
    seed: int,
    accounts: int,
    days: float,
    start_ms: int,
    hash_key: str,
    scenarios: int | None = None,
    groups: int | None = None,
    rings: int | None = None,
) -> Simulation:
    """The events, the truth and the watchlists of one simulated world.

    ``scenarios`` is the number of single-account trafficking scenarios (default one per 500
    accounts, at least one per typology), as many single-account hard negatives are added
    (at least four). ``groups`` is the number of multi-account scenarios (default one per
    eight scenarios in runs of a week or more, so none in small or short runs); as many
    look-alike groups (couples, families pooling remittances) are added. ``rings`` is the
    number of rings per typology (scenarios/rings.py: random subsets of red flags, roles in
    the truth; default one per 2,500 accounts in runs of a week or more), with three times
    as many ring look-alikes (landlords, savings clubs, families, co-workers, households);
    their members are drawn from the background after everything else, so ``rings=0`` gives
    the population of earlier builds. All of these accounts are part of ``accounts``; groups
    and rings are left out when the accounts do not suffice. The event iterator is lazy and
    single-use; the truth and watchlists are complete before it is consumed.
    """
    if accounts < 1:
        raise ValueError("accounts must be at least 1")
    if days <= 0:
        raise ValueError("days must be positive")
    w = World(seed, hash_key, start_ms, start_ms + int(days * DAY_MS), accounts)
    rng = random.Random(f"chainbreaker-sim:{seed}:world")

    n_scen = max(3, accounts // 500) if scenarios is None else max(0, scenarios)
    n_neg = max(4, n_scen) if n_scen else 0
    n_scen = min(n_scen, accounts)
    n_neg = min(n_neg, accounts - n_scen)
    if groups is None:  # groups need a week to show (paydays, instalments)
        groups = n_scen // 8 if w.end - w.start >= 7 * DAY_MS else 0
    group_plans = _group_plans(seed, max(0, groups))
    if n_scen + n_neg + sum(size for _, size in group_plans) > accounts:
        group_plans = []  # too few accounts: single-account scenarios only
    n_group_accts = sum(size for _, size in group_plans)
    special = rng.sample(range(accounts), n_scen + n_neg + n_group_accts)
    plans: dict[int, Kind | GroupKind | Member] = {}
    span_days = (w.end - w.start) / DAY_MS
    for i, idx in enumerate(special[:n_scen]):
        plans[idx] = SCENARIOS[_variant(TYPOLOGIES[i % 3], i // 3, span_days)]
    for i, idx in enumerate(special[n_scen : n_scen + n_neg]):
        plans[idx] = LOOKALIKES[NEGATIVE_KINDS[i % len(NEGATIVE_KINDS)]]
    members: list[list[int]] = []
    pos = n_scen + n_neg
    for group, size in group_plans:
        members.append(special[pos : pos + size])
        for idx in members[-1]:
            plans[idx] = group
        pos += size
    if rings is None:
        rings = accounts // 2500 if w.end - w.start >= 7 * DAY_MS else 0
    ring_plans, ring_members = _ring_plans(seed, max(0, rings), accounts, set(special))
    for (ring, _), idxs in zip(ring_plans, ring_members, strict=True):
        for position, idx in enumerate(idxs):
            plans[idx] = ring.member(position)

    w.accounts = [open_account(w, i, rng, plans.get(i, BACKGROUND)) for i in range(accounts)]
    overlay: Overlay = {}
    truth: list[ScenarioTruth] = []
    n = 0
    for idx in special[: n_scen + n_neg]:
        spec = plans[idx]
        acct = w.accounts[idx]
        srng = random.Random(f"chainbreaker-sim:{seed}:scenario:{idx}")
        lo, hi = _scenario_window(w)
        build_events = spec.build if isinstance(spec, Kind) else None
        events = build_events(w, acct, srng, lo, hi) if build_events is not None else []
        _add(w, overlay, truth, f"scn-{seed}-{n:04d}", spec, [acct], events)
        n += 1
    for (group, _), idxs in zip(group_plans, members, strict=True):
        accts = [w.accounts[i] for i in idxs]
        grng = random.Random(f"chainbreaker-sim:{seed}:group:{idxs[0]}")
        lo, hi = _scenario_window(w)
        events = group.build(w, accts, grng, lo, hi)
        _add(w, overlay, truth, f"scn-{seed}-{n:04d}", group, accts, events)
        n += 1
    for (ring, _), idxs in zip(ring_plans, ring_members, strict=True):
        accts = [w.accounts[i] for i in idxs]
        rrng = random.Random(f"chainbreaker-sim:{seed}:ring:{idxs[0]}")
        lo, hi = _scenario_window(w)
        events = ring.build(w, accts, rrng, lo, hi)
        _add(w, overlay, truth, f"ring-{seed}-{n:04d}", ring, accts, events)
        n += 1
    truth.sort(key=lambda s: (s.scenario_id, s.account_id))
    return Simulation(stream(w, overlay), truth, Watchlists.of(w))


def generate(
    seed: int,
    accounts: int,
    days: float,
    start_ms: int,
    hash_key: str,
    scenarios: int | None = None,
    groups: int | None = None,
    rings: int | None = None,
) -> tuple[Iterator[dict], list[ScenarioTruth]]:
    """Avro-ready payment records in event-time order, and the truth about injected accounts.

    See :func:`build` (which also gives the watchlists the scenarios use).
    """
    sim = build(seed, accounts, days, start_ms, hash_key, scenarios, groups, rings)
    return sim.events, sim.truth


def _group_plans(seed: int, n_groups: int) -> list[tuple[GroupKind, int]]:
    """(kind, size) of each multi-account scenario, then as many look-alike groups."""
    rng = random.Random(f"chainbreaker-sim:{seed}:group-plans")
    plans = []
    for kinds in (tuple(GROUPS.values()), tuple(LOOKALIKE_GROUPS.values())):
        for g in range(n_groups):
            group = kinds[g % len(kinds)]
            plans.append((group, group.size(rng)))
    return plans


def _ring_plans(
    seed: int, n_rings: int, accounts: int, taken: set[int]
) -> tuple[list[tuple[GroupKind, int]], list[list[int]]]:
    """(kind, size) of each ring (n_rings per typology, then three times as many ring
    look-alikes), and the background accounts each takes. None if they do not fit."""
    rng = random.Random(f"chainbreaker-sim:{seed}:ring-plans")
    plans = [(ring, ring.size(rng)) for _ in range(n_rings) for ring in RINGS]
    plans += [(RING_LOOKALIKES[g % len(RING_LOOKALIKES)], 0) for g in range(3 * n_rings)]
    plans = [(kind, size or kind.size(rng)) for kind, size in plans]
    free = [i for i in range(accounts) if i not in taken]
    need = sum(size for _, size in plans)
    if need > len(free) // 2:  # rings must stay a small part of the population
        return [], []
    picked = rng.sample(free, need)
    members, pos = [], 0
    for _, size in plans:
        members.append(picked[pos : pos + size])
        pos += size
    return plans, members


def _variant(typology: str, n: int, span_days: float) -> str:
    """The n-th scenario of a typology: classic first, then the variants in turn."""
    kinds = SCENARIO_VARIANTS[typology]
    kind = kinds[n % len(kinds)]
    if kind != kinds[0] and span_days < SCENARIOS[kind].min_days:
        return kinds[0]
    return kind


def _scenario_window(w: World) -> tuple[int, int]:
    """Where a scenario may put events: inside the run, clear of its edges when possible."""
    margin = min(DAY_MS, (w.end - w.start) // 10)
    return w.start + margin, w.end - margin


def _add(
    w: World,
    overlay: Overlay,
    truth: list[ScenarioTruth],
    scenario_id: str,
    spec: Kind | GroupKind,
    accts: list[Account],
    events: list,
) -> None:
    """File the scenario's events by day and label each of its accounts."""
    times: dict[str, list[int]] = {a.account_id: [] for a in accts}
    for t, rec in events:
        if w.start <= t < w.end:
            overlay.setdefault((t - w.start) // DAY_MS, []).append((t, rec))
            times[rec["account_id"]].append(t)
    for a in accts:
        ts = times[a.account_id]
        truth.append(
            ScenarioTruth(
                account_id=a.account_id,
                institution_id=a.inst.id,
                scenario_id=scenario_id,
                typology=spec.typology,
                kind=spec.kind,
                start_ms=min(ts) if ts else w.start,
                end_ms=max(ts) if ts else w.end,
                role=a.scenario_role or DEFAULT_ROLES.get(spec.kind, ""),
            )
        )


def stream(w: World, overlay: Overlay) -> Iterator[dict]:
    """Day by day: only one day of events (plus what spills past midnight) is in memory."""
    n = 0
    carry: list[tuple[int, dict]] = []
    for d in range(w.ndays):
        start = w.start + d * DAY_MS
        epoch_day = (start + 12 * HOUR_MS) // DAY_MS
        day = Day(
            index=d,
            start=start,
            epoch_day=epoch_day,
            weekday=(epoch_day + 3) % 7,
            dom=date.fromordinal(epoch_day + EPOCH_ORDINAL).day,
            offsets={c: utc_offset(c, start + 12 * HOUR_MS) for c in ALL_CITIES},
        )
        rng = random.Random(f"chainbreaker-sim:{w.seed}:day:{d}")
        out, carry = carry, []
        for acct in w.accounts:
            ROLE_DAY[acct.role](w, acct, day, rng, out)
        out.extend(overlay.pop(d, ()))
        out.sort(key=itemgetter(0))  # stable: ties keep generation order, so output is too
        cut = len(out) if d == w.ndays - 1 else bisect_left(out, start + DAY_MS, key=itemgetter(0))
        carry = out[cut:]  # later days only ever add events at or after their own start
        for t, rec in islice(out, cut):
            if w.start <= t < w.end:
                rec["event_id"] = f"sim-{w.seed}-{n}"
                n += 1
                yield rec


__all__ = ["NONE", "ScenarioTruth", "Simulation", "build", "generate", "stream"]
