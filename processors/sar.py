"""SAR narrative draft from one alert: the five Ws and how, in FinCEN's order.

FinCEN's SAR narrative guidance asks for who, what, when, where, why and how, and its human
trafficking advisory (FIN-2020-A008) asks filers to put the advisory's key term in the narrative
and tick the trafficking box (38(h); 38(g) for smuggling, FIN-2023-HUMANSMUGGLING). The alert
already carries all the facts the detectors used, so the draft is assembled from it alone: the
analyst edits and completes it, the tool never files anything.

No personal identifiers are invented or looked up: the alert carries account and customer ids,
never names, so the draft names nobody and says where the analyst must add facts from the
institution's own records. Plain Python, no I/O: the CLI and any other caller render it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

TYPOLOGY_WORDS = {
    "SEX_TRAFFICKING": "sex trafficking",
    "LABOUR_TRAFFICKING": "labour trafficking",
    "HUMAN_SMUGGLING": "human smuggling",
}

# How each typology's money usually moves, for the "how" paragraph (FinCEN FIN-2020-A008,
# FIN-2023-HUMANSMUGGLING; FATF/OSCE typologies). Context only; the facts are the indicators.
TYPOLOGY_PATTERN = {
    "SEX_TRAFFICKING": (
        "The activity is consistent with proceeds of commercial sexual exploitation: many "
        "small payments from different payers, online advertising, lodging and travel in "
        "several cities, and cash moved on quickly."
    ),
    "LABOUR_TRAFFICKING": (
        "The activity is consistent with labour exploitation: workers' wages captured by a "
        "controlling account, payroll out of proportion to revenue, recruitment fees and "
        "cash-based business activity."
    ),
    "HUMAN_SMUGGLING": (
        "The activity is consistent with human smuggling: cash placed and wired on, often "
        "across borders, structured below reporting thresholds and funnelled through accounts "
        "in several regions."
    ),
}

# Indicators whose measurement is about places; their explanations are the alert's "where".
GEOGRAPHIC_INDICATORS = frozenset(
    {"HOTEL_MULTI_CITY", "FUNNEL_ACCOUNT", "FREQUENT_TRAVEL", "CASH_IN_WIRE_OUT"}
)
_PLACE_WORDS = ("city", "cities", "region", "country", "countries", "border", "abroad")


@dataclass(frozen=True)
class SarDraft:
    """The draft as Markdown (for the analyst's editor) and as a dict (for case systems)."""

    markdown: str
    data: dict[str, Any]


def iso_utc(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _num(value: float) -> str:
    return f"{value:g}" if float(value).is_integer() else f"{value:.3g}"


def _window(seconds: int) -> str:
    hours = seconds / 3600
    return f"{hours / 24:g} days" if hours >= 24 else f"{hours:g} hours"


def evidence_rows(alert: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per indicator: what the SAR's evidence table and `cases show` list."""
    return [
        {
            "indicator": hit["code"],
            "source": hit["source"],
            "measured": hit["measured"],
            "threshold": hit["threshold"],
            "weight": hit["weight"],
            "window": _window(int(hit["window_seconds"])),
            "event_ids": list(hit["event_ids"]),
            "explanation": hit["explanation"],
        }
        for hit in alert["indicators"]
    ]


def _where(alert: dict[str, Any]) -> tuple[str, list[str]]:
    places = [
        f"{hit['code']}: {hit['explanation']}"
        for hit in alert["indicators"]
        if hit["code"] in GEOGRAPHIC_INDICATORS
        or any(word in hit["explanation"].lower() for word in _PLACE_WORDS)
    ]
    if places:
        text = (
            "The evidence spans several places: "
            + " ".join(f"{p}" for p in places)
            + " The alert records how many places, not which: take the cities, regions and "
            "countries from the evidence events in the institution's records."
        )
    else:
        text = (
            "Location is not in the alert. Take the branches, merchant locations and "
            "counterparty countries from the evidence events in the institution's records."
        )
    return text, places


def draft(alert: dict[str, Any]) -> SarDraft:
    """The narrative draft for one alert record (a dict per schemas/alert.avsc)."""
    typology = alert["typology"]
    words = TYPOLOGY_WORDS.get(typology, typology.lower().replace("_", " "))
    rows = evidence_rows(alert)
    sources = sorted({row["source"] for row in rows})
    first, last = iso_utc(alert["first_event_time"]), iso_utc(alert["last_event_time"])
    detected = iso_utc(alert["detected_at"])
    where_text, places = _where(alert)
    n_events = len(alert["evidence_event_ids"])

    who = (
        f"Account {alert['account_id']} (customer {alert['customer_id']}) at institution "
        f"{alert['institution_id']}. The alert carries no names: add the subject's identifying "
        "information from the institution's KYC records in the SAR's subject section."
    )
    what = (
        f"Transaction activity matching {len(rows)} {words} red-flag indicator(s), scored "
        f"{_num(alert['score'])} ({alert['severity']}) under rule set "
        f"{alert['rule_set_version']}, over {n_events} transaction(s):"
    )
    what_items = [
        f"{row['indicator']}: measured {_num(row['measured'])} against threshold "
        f"{_num(row['threshold'])} over {row['window']}. {row['explanation']}"
        for row in rows
    ]
    when = (
        f"The evidence runs from {first} to {last} (event time, UTC); the alert was raised at "
        f"{detected}."
    )
    why = (
        f"The activity matches red flags published in {', '.join(sources)}: "
        + "; ".join(f"{row['indicator']} ({row['source']})" for row in rows)
        + "."
    )
    how = TYPOLOGY_PATTERN.get(typology, f"The activity is consistent with {words}.") + (
        " Here: " + " ".join(row["explanation"] for row in rows)
    )
    key_term = alert["sar_key_term"]
    data = {
        "alert_id": alert["alert_id"],
        "institution_id": alert["institution_id"],
        "account_id": alert["account_id"],
        "customer_id": alert["customer_id"],
        "typology": typology,
        "severity": alert["severity"],
        "score": alert["score"],
        "rule_set_version": alert["rule_set_version"],
        "sar_key_term": key_term,
        "sar_field": alert["sar_field"],
        "who": who,
        "what": what,
        "what_items": what_items,
        "when": {
            "first_event_time": first,
            "last_event_time": last,
            "detected_at": detected,
            "text": when,
        },
        "where": {"text": where_text, "evidence": places},
        "why": why,
        "how": how,
        "evidence": rows,
        "evidence_event_ids": list(alert["evidence_event_ids"]),
        "narrative_opening": (
            f"This report concerns suspected {words} ({key_term}) involving account "
            f"{alert['account_id']}."
        ),
    }
    return SarDraft(render_markdown(data), data)


def render_markdown(data: dict[str, Any]) -> str:
    lines = [
        f"# SAR narrative draft: alert {data['alert_id']}",
        "",
        "*Draft for the analyst to review and complete. Not filed.*",
        "",
        f"- **Key term for the narrative:** {data['sar_key_term']}",
        f"- **SAR field to tick:** {data['sar_field']}",
        f"- **Typology:** {data['typology']} — severity {data['severity']}, score "
        f"{_num(data['score'])}, rule set {data['rule_set_version']}",
        "",
        "## Narrative",
        "",
        data["narrative_opening"],
        "",
        f"**Who.** {data['who']}",
        "",
        f"**What.** {data['what']}",
        "",
        *(f"- {item}" for item in data["what_items"]),
        "",
        f"**When.** {data['when']['text']}",
        "",
        f"**Where.** {data['where']['text']}",
        "",
        f"**Why.** {data['why']}",
        "",
        f"**How.** {data['how']}",
        "",
        "## Evidence",
        "",
        "| Indicator | Source | Measured | Threshold | Weight | Event ids |",
        "|---|---|---|---|---|---|",
    ]
    for row in data["evidence"]:
        lines.append(
            f"| {row['indicator']} | {row['source']} | {_num(row['measured'])} | "
            f"{_num(row['threshold'])} | {_num(row['weight'])} | {', '.join(row['event_ids'])} |"
        )
    lines.append("")
    return "\n".join(lines)


__all__ = ["SarDraft", "draft", "evidence_rows", "iso_utc", "render_markdown"]
