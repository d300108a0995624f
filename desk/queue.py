"""The queue as the desk shows it: each case's state (new, pending, mine, closed), filters, sort.

A consumer group knows three things about an entry: whether it has been handed out yet
(after the group's last-delivered id it is *new*), whether it is still *pending* on someone
(delivered, not acknowledged) and otherwise that it is *closed* (acknowledged, with the
outcome the institution recorded, if any). *Mine* is pending on the signed-in analyst. The
functions here are pure, over what CaseClient read, so they are unit-tested without Redis.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from institutions.client import UNASSIGNED, Case, PendingCase, entry_key

VIEWS = ("new", "pending", "mine", "closed")
SORTS = {
    "score": "highest score first",
    "score-asc": "lowest score first",
    "newest": "newest first",
    "oldest": "oldest first",
}
TYPOLOGIES = ("SEX_TRAFFICKING", "LABOUR_TRAFFICKING", "HUMAN_SMUGGLING")
SEVERITIES = ("LOW", "MEDIUM", "HIGH", "CRITICAL")


class FilterError(ValueError):
    """A query parameter the queue cannot use; the message names it."""


@dataclass(frozen=True)
class Row:
    """One case in the queue with its state."""

    case: Case
    state: str  # new | pending | closed ("mine" is pending on the signed-in analyst)
    holder: PendingCase | None = None
    outcome: dict[str, Any] | None = None

    @property
    def mine_of(self) -> str | None:
        return self.holder.consumer if self.holder else None

    def in_view(self, view: str, me: str) -> bool:
        if view == "mine":
            return self.state == "pending" and self.mine_of == me
        return self.state == view

    def to_json(self) -> dict[str, Any]:
        a = self.case.alert
        return {
            "entry_id": self.case.entry_id,
            "alert_id": a["alert_id"],
            "account_id": a["account_id"],
            "typology": a["typology"],
            "severity": a["severity"],
            "score": a["score"],
            "indicators": [hit["code"] for hit in a["indicators"]],
            "detected_at": a["detected_at"],
            "network": bool(a.get("network")),
            "state": self.state,
            "holder": self.holder.to_json() if self.holder else None,
            "unassigned": self.mine_of == UNASSIGNED,
            "outcome": self.outcome,
        }


def state_of(entry_id: str, last_delivered: str, pending: dict[str, PendingCase]) -> str:
    if entry_id in pending:
        return "pending"
    if entry_key(entry_id) > entry_key(last_delivered):
        return "new"
    return "closed"


def classify(
    cases: list[Case],
    last_delivered: str,
    pending: list[PendingCase],
    outcomes: dict[str, dict[str, Any]],
) -> list[Row]:
    by_id = {p.entry_id: p for p in pending}
    rows = []
    for case in cases:
        state = state_of(case.entry_id, last_delivered, by_id)
        rows.append(
            Row(
                case,
                state,
                by_id.get(case.entry_id),
                outcomes.get(case.alert_id) if state == "closed" else None,
            )
        )
    return rows


def _day(name: str, value: str | None) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise FilterError(f"{name} must be a date (YYYY-MM-DD)") from None


@dataclass(frozen=True)
class Filters:
    """What the analyst narrowed the queue to; every field optional."""

    view: str = "new"
    typology: str | None = None
    severity: str | None = None
    indicator: str | None = None
    raised_from: date | None = None  # UTC day the alert was raised, inclusive
    raised_to: date | None = None
    sort: str = "score"

    @classmethod
    def parse(cls, params: dict[str, str], indicators: Iterable[str]) -> Filters:
        """From query parameters; an unknown value is refused by name, never ignored."""

        def pick(name: str, allowed, default: str | None = None) -> str | None:
            value = (params.get(name) or "").strip() or default
            if value is not None and value not in allowed:
                raise FilterError(f"{name} must be one of {', '.join(sorted(allowed))}")
            return value

        raised_from = _day("from", params.get("from"))
        raised_to = _day("to", params.get("to"))
        if raised_from and raised_to and raised_to < raised_from:
            raise FilterError("to must not be before from")
        return cls(
            view=pick("view", VIEWS, "new") or "new",
            typology=pick("typology", TYPOLOGIES),
            severity=pick("severity", SEVERITIES),
            indicator=pick("indicator", frozenset(indicators)),
            raised_from=raised_from,
            raised_to=raised_to,
            sort=pick("sort", SORTS, "score") or "score",
        )

    def matches(self, row: Row) -> bool:
        a = row.case.alert
        if self.typology and a["typology"] != self.typology:
            return False
        if self.severity and a["severity"] != self.severity:
            return False
        if self.indicator and self.indicator not in {hit["code"] for hit in a["indicators"]}:
            return False
        raised = datetime.fromtimestamp(a["detected_at"] / 1000, tz=UTC).date()
        if self.raised_from and raised < self.raised_from:
            return False
        return not (self.raised_to and raised > self.raised_to)

    def query(self, **changes: str) -> dict[str, str]:
        """These filters as query parameters (for links that change one of them)."""
        out = {
            "view": self.view,
            "typology": self.typology or "",
            "severity": self.severity or "",
            "indicator": self.indicator or "",
            "from": self.raised_from.isoformat() if self.raised_from else "",
            "to": self.raised_to.isoformat() if self.raised_to else "",
            "sort": self.sort,
        }
        out.update(changes)
        return {k: v for k, v in out.items() if v}


def sort_rows(rows: list[Row], sort: str) -> list[Row]:
    if sort == "score":
        return sorted(rows, key=lambda r: (-r.case.alert["score"], entry_key(r.case.entry_id)))
    if sort == "score-asc":
        return sorted(rows, key=lambda r: (r.case.alert["score"], entry_key(r.case.entry_id)))
    newest = sort == "newest"
    return sorted(rows, key=lambda r: entry_key(r.case.entry_id), reverse=newest)


def select(rows: list[Row], filters: Filters, me: str) -> list[Row]:
    """The rows of the view, filtered and sorted."""
    chosen = [r for r in rows if r.in_view(filters.view, me) and filters.matches(r)]
    return sort_rows(chosen, filters.sort)


def counts(rows: list[Row], me: str) -> dict[str, int]:
    return {view: sum(1 for r in rows if r.in_view(view, me)) for view in VIEWS}


def indicator_codes(rows: list[Row]) -> list[str]:
    return sorted({hit["code"] for r in rows for hit in r.case.alert["indicators"]})
