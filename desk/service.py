"""What the desk does with a signed-in analyst's CaseClient; the JSON API and the pages both
call these, so a page shows exactly what the API returns.

Every function takes the session's client (connected as the institution's ACL user) and
nothing else that reaches Redis. Dispositions go through CaseClient.dispose, the code path of
`chainbreaker cases dispose`: Kafka first (acks=all), then the case is acknowledged.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from desk import queue
from institutions.client import UNASSIGNED, Case, CaseClient, CaseError, PendingCase, entry_key
from processors import sar
from processors.feedback import USEFUL

# How many of the newest cases the queue reads (plus every pending one, however old).
QUEUE_WINDOW = 500
PENDING_MAX = 1000


@dataclass(frozen=True)
class Snapshot:
    rows: list[queue.Row]
    window: int
    truncated: bool  # the stream holds more cases than the window read


def snapshot(client: CaseClient, window: int = QUEUE_WINDOW) -> Snapshot:
    """The newest ``window`` cases and every pending one, each with its state."""
    last = client.last_delivered()
    recent = client.recent(window + 1)
    truncated = len(recent) > window
    cases = recent[:window]
    pending = client.pending(PENDING_MAX)
    seen = {c.entry_id for c in cases}
    older = [p.entry_id for p in pending if p.entry_id not in seen]
    cases += list(client.cases(older).values())
    by_id = {p.entry_id: p for p in pending}
    closed = [c.alert_id for c in cases if queue.state_of(c.entry_id, last, by_id) == "closed"]
    rows = queue.classify(cases, last, pending, client.outcomes(closed))
    return Snapshot(rows, window, truncated)


@dataclass(frozen=True)
class CaseView:
    case: Case
    state: str
    holder: PendingCase | None
    outcome: dict[str, Any] | None

    def mine(self, client: CaseClient) -> bool:
        return self.holder is not None and self.holder.consumer == client.consumer

    def to_json(self) -> dict[str, Any]:
        return {
            "entry_id": self.case.entry_id,
            "alert": self.case.alert,
            "state": self.state,
            "holder": self.holder.to_json() if self.holder else None,
            "unassigned": bool(self.holder and self.holder.consumer == UNASSIGNED),
            "outcome": self.outcome,
        }


def view(client: CaseClient, ref: str) -> CaseView:
    """One case of this institution by entry id or alert id (CaseNotFound otherwise)."""
    case = client.get(ref)
    holder = client.holder(case.entry_id)
    if holder is not None:
        state = "pending"
    elif entry_key(case.entry_id) > entry_key(client.last_delivered()):
        state = "new"
    else:
        state = "closed"
    return CaseView(case, state, holder, client.outcome(case.alert_id))


def take_next(client: CaseClient) -> Case | None:
    """The oldest new case, onto this analyst (what `cases read --count 1` does)."""
    cases = client.read(count=1)
    return cases[0] if cases else None


def claim(client: CaseClient, ref: str) -> Case:
    """Put a case on this analyst's desk: a new one (claim_new), a released or a colleague's
    pending one (XCLAIM, as `cases claim`)."""
    current = view(client, ref)
    entry_id = current.case.entry_id
    if current.state == "closed":
        raise CaseError(f"case {entry_id} is closed; there is nothing to claim")
    if current.mine(client):
        return current.case
    taken = client.claim_new(entry_id) if current.state == "new" else client.claim(entry_id)
    if taken is None:
        raise CaseError(f"case {entry_id} was taken by someone else meanwhile; reload")
    return taken


def release(client: CaseClient, ref: str) -> Case:
    case = client.get(ref)
    released = client.release(case.entry_id)
    if released is None:
        raise CaseError(f"case {case.entry_id} is not on your desk, so you cannot release it")
    return released


def reclaim(client: CaseClient) -> list[Case]:
    """Cases pending longer than CB_CASE_CLAIM_IDLE_S, onto this analyst (`cases reclaim`)."""
    return client.reclaim()


def dispose(client: CaseClient, ref: str, outcome: str, note: str | None) -> dict[str, Any]:
    """Record the outcome exactly as `cases dispose` does, signed with the analyst's reference.
    Only the analyst who has the case on their desk may decide it."""
    current = view(client, ref)
    if current.outcome is not None:
        raise CaseError(
            f"alert {current.case.alert_id} was already disposed as "
            f"{current.outcome.get('outcome')} by {current.outcome.get('analyst_id')}"
        )
    if not current.mine(client):
        who = current.holder.consumer if current.holder else None
        where = f"it is on {who}'s desk" if who else f"it is {current.state}"
        raise CaseError(f"claim case {current.case.entry_id} first ({where})")
    return client.dispose(current.case.entry_id, outcome, client.consumer, note)


def sar_draft(client: CaseClient, ref: str) -> sar.SarDraft:
    return sar.draft(client.get(ref).alert)


@dataclass(frozen=True)
class Tally:
    useful: int
    total: int
    outcomes: dict[str, int]

    @property
    def precision(self) -> float | None:
        return self.useful / self.total if self.total else None

    def to_json(self) -> dict[str, Any]:
        return {
            "useful": self.useful,
            "total": self.total,
            "precision": self.precision,
            "outcomes": self.outcomes,
        }


@dataclass(frozen=True)
class Feedback:
    typologies: dict[str, Tally]
    indicators: dict[str, Tally]
    decided: int
    missing: int  # outcomes whose case is no longer on the stream

    def to_json(self) -> dict[str, Any]:
        return {
            "decided": self.decided,
            "missing_cases": self.missing,
            "typologies": {k: v.to_json() for k, v in self.typologies.items()},
            "indicators": {k: v.to_json() for k, v in self.indicators.items()},
        }


def _tallies(counts: dict[str, Counter[str]]) -> dict[str, Tally]:
    out = {}
    for key in sorted(counts):
        by_outcome = counts[key]
        useful = sum(n for outcome, n in by_outcome.items() if outcome in USEFUL)
        out[key] = Tally(useful, sum(by_outcome.values()), dict(sorted(by_outcome.items())))
    return out


def feedback(client: CaseClient) -> Feedback:
    """Precision per typology and per indicator over this institution's own decisions:
    useful (SAR filed or valuable) over all, the definition the worker's metrics use
    (processors/feedback.py). The latest decision per alert counts (a forced re-decision
    replaces the earlier one here; the worker counted both)."""
    outcomes = client.all_outcomes()
    cases = client.cases(sorted({o["entry_id"] for o in outcomes.values() if "entry_id" in o}))
    typologies: dict[str, Counter[str]] = {}
    indicators: dict[str, Counter[str]] = {}
    missing = 0
    for outcome in outcomes.values():
        case = cases.get(outcome.get("entry_id", ""))
        if case is None:
            missing += 1
            continue
        decided = outcome["outcome"]
        typologies.setdefault(case.alert["typology"], Counter())[decided] += 1
        for code in dict.fromkeys(hit["code"] for hit in case.alert["indicators"]):
            indicators.setdefault(code, Counter())[decided] += 1
    return Feedback(_tallies(typologies), _tallies(indicators), len(outcomes) - missing, missing)
