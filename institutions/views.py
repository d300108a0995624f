"""Terminal rendering of cases for `chainbreaker cases` (rich tables); JSON goes elsewhere.

Kept apart from the client so the client stays importable without rich's import cost and
so the layout can change without touching queue logic.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from institutions.client import Case, PendingCase
from processors.sar import evidence_rows, iso_utc


def _num(value: float) -> str:
    return f"{value:.4g}"


def case_list(console: Console, cases: list[Case], title: str) -> None:
    if not cases:
        console.print(f"{title}: none")
        return
    table = Table(title=title)
    for column in ("entry id", "alert id", "account", "typology", "severity", "score", "raised"):
        table.add_column(column)
    for case in cases:
        a = case.alert
        table.add_row(
            case.entry_id,
            a["alert_id"],
            a["account_id"],
            a["typology"],
            a["severity"],
            f"{a['score']:.2f}",
            iso_utc(a["detected_at"]),
        )
    console.print(table)


def pending_list(console: Console, rows: list[PendingCase]) -> None:
    if not rows:
        console.print("pending: none")
        return
    table = Table(title="Pending (delivered, not acknowledged)")
    for column in ("entry id", "consumer", "idle", "deliveries"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            row.entry_id, row.consumer, f"{row.idle_ms / 1000:.0f} s", str(row.deliveries)
        )
    console.print(table)


def case_detail(
    console: Console, case: Case, outcome: dict[str, Any] | None, holder: PendingCase | None
) -> None:
    """The alert with its evidence, readable: summary, indicator table, explanations."""
    a = case.alert
    summary = Table(show_header=False, title=f"Case {case.entry_id}")
    summary.add_column("field", style="bold")
    summary.add_column("value")
    for label, value in (
        ("alert id", a["alert_id"]),
        ("institution", a["institution_id"]),
        ("account", a["account_id"]),
        ("customer", a["customer_id"]),
        ("typology", a["typology"]),
        ("severity / score", f"{a['severity']} / {a['score']:.3f}"),
        ("rule set", a["rule_set_version"]),
        ("evidence from", iso_utc(a["first_event_time"])),
        ("evidence to", iso_utc(a["last_event_time"])),
        ("raised at", iso_utc(a["detected_at"])),
        ("SAR key term", a["sar_key_term"]),
        ("SAR field", a["sar_field"]),
        (
            "outcome",
            f"{outcome['outcome']} by {outcome['analyst_id']} at {iso_utc(outcome['decided_at'])}"
            if outcome
            else "open",
        ),
        (
            "pending on",
            f"{holder.consumer} (idle {holder.idle_ms / 1000:.0f} s, "
            f"{holder.deliveries} deliveries)"
            if holder
            else "nobody",
        ),
    ):
        summary.add_row(label, str(value))
    console.print(summary)

    evidence = Table(title="Evidence")
    for column in ("indicator", "source", "measured", "threshold", "weight", "window", "events"):
        evidence.add_column(column, justify="right" if column in ("measured", "threshold",
                            "weight", "events") else "left")  # fmt: skip
    rows = evidence_rows(a)
    for row in rows:
        evidence.add_row(
            row["indicator"],
            row["source"],
            _num(row["measured"]),
            _num(row["threshold"]),
            _num(row["weight"]),
            row["window"],
            str(len(row["event_ids"])),
        )
    console.print(evidence)
    for row in rows:
        console.print(f"[bold]{row['indicator']}[/bold]: {row['explanation']}", highlight=False)
        console.print(f"  events: {', '.join(row['event_ids'])}", highlight=False)
