"""One typology per piece of evidence: which active hits score for which typology.

An account (or a network of linked accounts, processors/networks.py) often carries red flags
of several typologies at once. Scoring every hit for every typology it weighs on made one
pattern raise two alerts: labour victims sharing a bunkhouse address and forwarding their
wages to one controller also crossed the smuggling threshold (in the independent evaluation
of 2026-12-01, 28 of 30 smuggling alerts of one seed were labour workers already alerted for
labour). The sources ask for the typologies to be told apart (UNU 25 Keys, key 10a), not for
the same evidence to be filed twice. The rule, applied every time an account is scored:

1. **Explained evidence does not count.** An indicator may declare that it *explains* others
   (``Detector.explains``): wages forwarded right after payday (WAGES_COLLECTED, at the
   receiving account) are what a collector's many incoming transfers are, so a
   COLLECTOR_FAN_IN hit resting on the same credits (overlapping evidence events or periods)
   is dropped. The link side does the same for the senders: a transfer that qualifies as a
   forwarded wage makes a WAGE_FORWARDING link and not a COMMON_BENEFICIARY one
   (processors/links.py), so it never counts as a smuggling fee.
2. **Specific evidence first.** A hit of an indicator that weighs on one typology only is
   *specific* evidence and scores for that typology.
3. **Ambiguous evidence follows the specific.** A hit of an indicator that weighs on several
   typologies (a shared address, hotels in several cities, structuring) scores for exactly
   one of them: the one with the most specific evidence on the account. With no specific
   evidence for any of them, the one the account's ambiguous evidence as a whole weighs most
   on (so the ambiguous hits of an account stay together on one typology). On a tie, the one
   the hits lean to most, each hit's weights taken relative to its own largest (a shared
   phone, 0.7 labour / 0.6 smuggling, leans to labour by 1 to 0.86; structuring, 0.4
   smuggling / 0.3 labour, to smuggling by 1 to 0.75: together they lean to smuggling); then
   the typology listed first in the rule set. So a shared bunkhouse
   address next to forwarded wages is labour evidence, not smuggling evidence, and a shared
   address next to structuring is one labour alert, not a labour and a smuggling alert.

4. **A shared identifier needs more than everyday footprints.** An alert whose evidence
   includes a shared identifier (SHARED_IDENTIFIER) fires only beside an indicator specific
   to its typology or a suspicious money movement in itself (structuring, a funnel account:
   ``MONEY_MOVEMENT``), never on everyday footprints alone (``names_a_crime``). Three adults
   sharing one address, one of whom travels for work (hotels in three cities, 0.3 labour),
   scored 0.7 + 0.3 = 1.0 labour and alerted: a household, which the same reasoning already
   keeps out of network cases (processors/networks.py). Measured on the harder simulated
   population (seed 7): no scenario lost, two wrong-typology smuggling alerts on labour
   controllers (a shared phone and bus tickets) gone. Without the money-movement exception
   it also lost a smuggling ring whose senders share a phone and each structure wires under
   US$3,000 (FIN-2014-A008's escorted customers and row 20's structuring: smuggling 57/61 ->
   56/61). Other ambiguous footprints keep alerting together: hotels in several cities,
   tickets and ride-share bursts are the travelling sex-trafficking controller of
   FINTRAC-2016-OA003, and requiring a specific indicator of every alert lost 3 of the 34
   classic sex-trafficking scenarios and 2 of the 54 of the harder population.

Consequences: a hit never scores twice; an account crosses the threshold of a second
typology only on that typology's own specific evidence (plus ambiguous evidence that fits it
best), so one pattern raises one alert. Removing evidence from a typology can never raise an
alert, so the engine re-scores only the typologies new hits are attributed to.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from processors.model import IndicatorHit, Typology
from processors.rules import RuleSet

#: codes whose hits do not name a crime with only everyday footprints beside them (rule 4)
NEEDS_SPECIFIC: Final = frozenset({"SHARED_IDENTIFIER"})
#: ambiguous codes that are suspicious money movement in themselves, not footprints of
#: everyday life: keeping amounts under a reporting threshold (31 U.S.C. 5324 makes
#: structuring an offence; FIN-2014-A008, FIN-2023-Alert001) and the funnel account
#: (FIN-2020-A008, FATF 2018). With a shared identifier they name a crime (rule 4).
MONEY_MOVEMENT: Final = frozenset({"STRUCTURING", "FUNNEL_ACCOUNT"})


def names_a_crime(contributing: list[tuple[IndicatorHit, float]], rules: RuleSet) -> bool:
    """Rule 4: whether an alert resting on ``contributing`` (its typology's hits) may fire:
    always without a shared identifier; with one, only beside an indicator specific to the
    typology or a suspicious money movement (``MONEY_MOVEMENT``)."""
    if not any(h.code in NEEDS_SPECIFIC for h, _ in contributing):
        return True
    return any(len(rules.weights[h.code]) == 1 or h.code in MONEY_MOVEMENT for h, _ in contributing)


def overlaps(a: IndicatorHit, b: IndicatorHit) -> bool:
    """Whether two hits rest on the same events: a common evidence id, or (for hits from
    cross-account signals, which name only the account's newest event) overlapping periods."""
    if not set(a.event_ids).isdisjoint(b.event_ids):
        return True
    a0 = a.first_event_time or a.detected_event_time
    b0 = b.first_event_time or b.detected_event_time
    a1 = a.last_event_time or a.detected_event_time
    b1 = b.last_event_time or b.detected_event_time
    return a0 <= b1 and b0 <= a1


def unexplained(
    hits: list[IndicatorHit], explains: dict[str, frozenset[str]]
) -> list[IndicatorHit]:
    """Rule 1: ``hits`` without those another of them explains."""
    if len(hits) < 2:
        return hits
    dropped: set[int] = set()
    for i, a in enumerate(hits):
        covers = explains.get(a.code)
        if not covers:
            continue
        for j, b in enumerate(hits):
            if j != i and b.code in covers and overlaps(a, b):
                dropped.add(j)
    if not dropped:
        return hits
    return [h for j, h in enumerate(hits) if j not in dropped]


def attribute(
    hits: Iterable[IndicatorHit], rules: RuleSet, explains: dict[str, frozenset[str]]
) -> dict[Typology, list[tuple[IndicatorHit, float]]]:
    """Rules 1-3: typology -> the hits that score for it, each with its weight there.

    ``hits`` are the active, unmuted hits (one per indicator code); codes the rule set does
    not weigh are ignored."""
    weights = rules.weights
    kept = unexplained([h for h in hits if h.code in weights], explains)
    out: dict[Typology, list[tuple[IndicatorHit, float]]] = {}
    specific: dict[Typology, float] = {}
    shared: list[IndicatorHit] = []
    for hit in kept:
        w = weights[hit.code]
        if len(w) == 1:
            for typology, weight in w.items():
                out.setdefault(typology, []).append((hit, weight))
                specific[typology] = round(specific.get(typology, 0.0) + weight, 6)
        elif w:
            shared.append(hit)
    if not shared:
        return out
    # What the ambiguous evidence as a whole supports, per typology: with no specific
    # evidence, every ambiguous hit goes to the typology the whole of it weighs most on.
    overall: dict[Typology, float] = {}
    leaning: dict[Typology, float] = {}
    for hit in shared:
        w = weights[hit.code]
        top = max(w.values())
        for typology, weight in w.items():
            overall[typology] = round(overall.get(typology, 0.0) + weight, 6)
            leaning[typology] = round(leaning.get(typology, 0.0) + weight / top, 6)
    order = {t: -i for i, t in enumerate(rules.typologies)}
    for hit in shared:
        w = weights[hit.code]
        best = max(
            w,
            key=lambda t: (specific.get(t, 0.0), overall[t], leaning[t], order.get(t, -99)),
        )
        out.setdefault(best, []).append((hit, w[best]))
    return out
