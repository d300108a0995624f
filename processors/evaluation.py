"""Score alerts against ground truth: per typology and per indicator, at account level.

Pure Python, no I/O: the backtest (``backtest/``) feeds it what the engine raised and
what the data set says is true, and renders the result. Keeping the arithmetic here makes it
testable with a handful of hand-built records.

Definitions (all at account level, an account being its ``account_id``):

* A *positive* for typology T is an account whose truth says T. A *hard negative* is an
  account whose truth says ``NONE``: a look-alike that must not alert. Accounts absent from the
  truth are *background*, presumed innocent.
* precision(T) = accounts alerted for T whose truth is T / accounts alerted for T. An alert on
  a positive of another typology counts against precision(T) (``wrong_typology``).
* recall(T) = positives of T alerted for T / positives of T.
* false-alert rate on hard negatives (T) = hard negatives alerted for T / hard negatives.
* time to detect = the account's first alert for T in event time (the alert's
  ``last_event_time``: the newest evidence it needed) minus the scenario start. It can be
  negative when evidence from before the labelled start already sufficed. Accounts whose start
  is unknown are left out of it.
* An indicator's precision is the share of the accounts it hit (or of the alerts it contributed
  to) that are positives of any typology; its recall is the share of all positives it hit.
* Scenario level (issue 12): a scenario (its ``scenario_id``; an account without one is a
  scenario of its own) is *found* when any of its accounts alerts for the scenario's
  typology. scenario recall(T) = scenarios of T found / scenarios of T.
* Per role: recall of the labelled accounts of each (typology, role), e.g. the collectors of
  smuggling rings, the senders who paid them, the workers of a labour ring.
* A wrong-typology alert is an alert whose account is a positive of another typology; they
  are counted as alerts (``wrong_typology_alerts``) as well as accounts.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

NONE = "NONE"


@dataclass(frozen=True, slots=True)
class Truth:
    """What is known about one account: its typology (or NONE) and when its scenario ran."""

    account_id: str
    typology: str  # a typology value, or NONE for a hard negative
    start_ms: int | None = None  # None: unknown (no time to detect for this account)
    end_ms: int | None = None
    kind: str = ""  # scenario or look-alike kind, for the report
    scenario_id: str = ""  # the scenario the account belongs to ("": its own)
    role: str = ""  # its part in the scenario: collector, sender, controller, victim, ...


@dataclass(frozen=True, slots=True)
class AlertRecord:
    account_id: str
    typology: str
    detected_ms: int  # event time: the alert's last_event_time
    indicators: tuple[str, ...] = ()
    alert_id: str = ""


@dataclass(frozen=True, slots=True)
class HitRecord:
    """``count`` indicator hits of ``code`` on an account, the first at ``first_ms``."""

    account_id: str
    code: str
    first_ms: int
    count: int = 1


@dataclass(frozen=True, slots=True)
class Distribution:
    n: int
    median: float | None
    p90: float | None


@dataclass(frozen=True, slots=True)
class TypologyResult:
    typology: str
    alerts: int
    accounts_alerted: int
    true_positives: int
    wrong_typology: int  # alerted accounts that are positives of another typology
    hard_negatives_alerted: int
    background_alerted: int  # alerted accounts absent from the truth
    positives: int
    precision: float | None
    recall: float | None
    hard_negative_rate: float | None
    time_to_detect_ms: Distribution
    missed: tuple[str, ...]  # positives of this typology with no alert for it


@dataclass(frozen=True, slots=True)
class IndicatorResult:
    code: str
    hits: int
    accounts_hit: int
    positives_hit: int
    hard_negatives_hit: int
    alerts: int  # alerts it contributed to
    accounts_alerted: int
    alerted_positives: int  # of accounts_alerted, how many have a matching typology truth
    precision: float | None  # positives_hit / accounts_hit
    recall: float | None  # positives_hit / all positives
    alert_precision: float | None  # alerted_positives / accounts_alerted


@dataclass(frozen=True, slots=True)
class ScenarioResult:
    typology: str
    scenarios: int
    found: int
    recall: float | None
    missed: tuple[str, ...]  # scenario ids of this typology with no alert of it on any account


@dataclass(frozen=True, slots=True)
class RoleResult:
    typology: str
    role: str
    accounts: int
    alerted: int  # alerted for their own typology
    alerted_other: int  # alerted for another typology only
    recall: float | None


@dataclass(frozen=True, slots=True)
class KindResult:
    """Look-alikes (typology NONE) per kind: how many of their accounts alerted."""

    kind: str
    accounts: int
    alerted: int
    rate: float | None


@dataclass(frozen=True, slots=True)
class Evaluation:
    typologies: tuple[TypologyResult, ...]
    indicators: tuple[IndicatorResult, ...]
    positives: int
    hard_negatives: int
    hard_negatives_alerted: int  # by any typology
    hard_negative_rate: float | None
    population: int | None  # accounts seen, when known
    background_alerted: int
    background_rate: float | None  # background accounts alerted / background accounts
    detected_any: int  # positives alerted under any typology
    recall_any: float | None
    alerts: int = 0
    scenarios: tuple[ScenarioResult, ...] = ()
    roles: tuple[RoleResult, ...] = ()
    lookalikes: tuple[KindResult, ...] = ()
    wrong_typology_alerts: int = 0  # alerts on positives of another typology


def ratio(num: int, den: int) -> float | None:
    return num / den if den else None


def distribution(values: Sequence[float]) -> Distribution:
    """Median and nearest-rank 90th percentile."""
    if not values:
        return Distribution(0, None, None)
    ordered = sorted(values)
    p90 = ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)]
    return Distribution(len(ordered), float(statistics.median(ordered)), float(p90))


def evaluate(
    truth: Iterable[Truth],
    alerts: Iterable[AlertRecord],
    hits: Iterable[HitRecord] = (),
    *,
    typologies: Sequence[str] = (),
    indicators: Sequence[str] = (),
    population: int | None = None,
) -> Evaluation:
    """Score ``alerts`` (and indicator ``hits``) against ``truth``.

    ``typologies`` and ``indicators`` name rows to report even when nothing fired or nothing
    is labelled for them (the rule set's typologies and enabled indicators); rows for anything
    else seen in the input are added. ``population`` is the number of distinct accounts in the
    data, for the background false-alert rate.
    """
    truth_by_account: dict[str, Truth] = {}
    for t in truth:
        truth_by_account[t.account_id] = t  # the last label wins if an account repeats
    positives: dict[str, set[str]] = defaultdict(set)
    hard_negatives: set[str] = set()
    for acct, t in truth_by_account.items():
        if t.typology == NONE:
            hard_negatives.add(acct)
        else:
            positives[t.typology].add(acct)
    all_positive = {a for accts in positives.values() for a in accts}

    alert_list = list(alerts)
    by_typology: dict[str, list[AlertRecord]] = defaultdict(list)
    for a in alert_list:
        by_typology[a.typology].append(a)

    names = list(dict.fromkeys([*typologies, *sorted(positives), *sorted(by_typology)]))
    typ_results = []
    for typ in names:
        recs = by_typology.get(typ, [])
        first: dict[str, int] = {}
        for a in recs:
            if a.account_id not in first or a.detected_ms < first[a.account_id]:
                first[a.account_id] = a.detected_ms
        alerted = set(first)
        mine = positives.get(typ, set())
        tp = alerted & mine
        ttd = []
        for acct in tp:
            start = truth_by_account[acct].start_ms
            if start is not None:
                ttd.append(first[acct] - start)
        typ_results.append(
            TypologyResult(
                typology=typ,
                alerts=len(recs),
                accounts_alerted=len(alerted),
                true_positives=len(tp),
                wrong_typology=len((alerted & all_positive) - mine),
                hard_negatives_alerted=len(alerted & hard_negatives),
                background_alerted=len(alerted - truth_by_account.keys()),
                positives=len(mine),
                precision=ratio(len(tp), len(alerted)),
                recall=ratio(len(tp), len(mine)),
                hard_negative_rate=ratio(len(alerted & hard_negatives), len(hard_negatives)),
                time_to_detect_ms=distribution(ttd),
                missed=tuple(sorted(mine - alerted)),
            )
        )

    # Per indicator: what it hit, and which alerts it contributed to.
    hit_count: dict[str, int] = defaultdict(int)
    hit_accounts: dict[str, set[str]] = defaultdict(set)
    for h in hits:
        hit_count[h.code] += h.count
        hit_accounts[h.code].add(h.account_id)
    alert_count: dict[str, int] = defaultdict(int)
    alerted_accounts: dict[str, set[str]] = defaultdict(set)
    alerted_right: dict[str, set[str]] = defaultdict(set)
    for a in alert_list:
        owner = truth_by_account.get(a.account_id)
        for code in dict.fromkeys(a.indicators):
            alert_count[code] += 1
            alerted_accounts[code].add(a.account_id)
            if owner is not None and owner.typology == a.typology:
                alerted_right[code].add(a.account_id)
    codes = list(dict.fromkeys([*indicators, *sorted(hit_accounts), *sorted(alert_count)]))
    ind_results = []
    for code in codes:
        accts = hit_accounts.get(code, set())
        pos = accts & all_positive
        ind_results.append(
            IndicatorResult(
                code=code,
                hits=hit_count.get(code, 0),
                accounts_hit=len(accts),
                positives_hit=len(pos),
                hard_negatives_hit=len(accts & hard_negatives),
                alerts=alert_count.get(code, 0),
                accounts_alerted=len(alerted_accounts.get(code, ())),
                alerted_positives=len(alerted_right.get(code, ())),
                precision=ratio(len(pos), len(accts)),
                recall=ratio(len(pos), len(all_positive)),
                alert_precision=ratio(
                    len(alerted_right.get(code, ())), len(alerted_accounts.get(code, ()))
                ),
            )
        )

    any_alerted = {a.account_id for a in alert_list}
    background_alerted = len(any_alerted - truth_by_account.keys())
    background = None if population is None else population - len(truth_by_account)
    alerted_for: dict[str, set[str]] = defaultdict(set)
    for a in alert_list:
        alerted_for[a.account_id].add(a.typology)
    wrong_alerts = sum(
        1
        for a in alert_list
        if a.account_id in all_positive and truth_by_account[a.account_id].typology != a.typology
    )
    return Evaluation(
        scenarios=_scenarios(truth_by_account, alerted_for, names),
        roles=_roles(truth_by_account, alerted_for),
        lookalikes=_lookalikes(truth_by_account, any_alerted),
        wrong_typology_alerts=wrong_alerts,
        typologies=tuple(typ_results),
        indicators=tuple(ind_results),
        positives=len(all_positive),
        hard_negatives=len(hard_negatives),
        hard_negatives_alerted=len(any_alerted & hard_negatives),
        hard_negative_rate=ratio(len(any_alerted & hard_negatives), len(hard_negatives)),
        population=population,
        background_alerted=background_alerted,
        background_rate=None if background is None else ratio(background_alerted, background),
        detected_any=len(any_alerted & all_positive),
        recall_any=ratio(len(any_alerted & all_positive), len(all_positive)),
        alerts=len(alert_list),
    )


def _scenarios(
    truth: dict[str, Truth], alerted_for: dict[str, set[str]], typologies: Sequence[str]
) -> tuple[ScenarioResult, ...]:
    members: dict[tuple[str, str], list[str]] = defaultdict(list)
    for acct, t in truth.items():
        if t.typology != NONE:
            members[t.typology, t.scenario_id or f"account:{acct}"].append(acct)
    out = []
    for typ in typologies:
        ids = sorted(sid for t, sid in members if t == typ)
        found = [
            sid for sid in ids if any(typ in alerted_for.get(a, ()) for a in members[typ, sid])
        ]
        out.append(
            ScenarioResult(
                typology=typ,
                scenarios=len(ids),
                found=len(found),
                recall=ratio(len(found), len(ids)),
                missed=tuple(sorted(set(ids) - set(found))),
            )
        )
    return tuple(out)


def _roles(truth: dict[str, Truth], alerted_for: dict[str, set[str]]) -> tuple[RoleResult, ...]:
    groups: dict[tuple[str, str], list[str]] = defaultdict(list)
    for acct, t in truth.items():
        if t.typology != NONE:
            groups[t.typology, t.role or "-"].append(acct)
    out = []
    for (typ, role), accts in sorted(groups.items()):
        right = sum(1 for a in accts if typ in alerted_for.get(a, ()))
        other = sum(1 for a in accts if alerted_for.get(a) and typ not in alerted_for[a])
        out.append(RoleResult(typ, role, len(accts), right, other, ratio(right, len(accts))))
    return tuple(out)


def _lookalikes(truth: dict[str, Truth], alerted: set[str]) -> tuple[KindResult, ...]:
    kinds: dict[str, list[str]] = defaultdict(list)
    for acct, t in truth.items():
        if t.typology == NONE:
            kinds[t.kind or "-"].append(acct)
    return tuple(
        KindResult(kind, len(accts), n, ratio(n, len(accts)))
        for kind, accts in sorted(kinds.items())
        for n in [sum(1 for a in accts if a in alerted)]
    )
