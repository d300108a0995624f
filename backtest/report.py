"""The backtest's report: per typology and per indicator scores as Markdown and a chart, the
AMLSim mapping section, and the summary printed on the terminal."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import processors
from processors import rules as rules_mod
from processors.evaluation import Distribution, Evaluation
from processors.replay import RunResult

HOUR_MS = 3_600_000


def pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def hours(value: float | None) -> str:
    return "n/a" if value is None else f"{value / HOUR_MS:.1f} h"


def ttd(d: Distribution) -> tuple[str, str]:
    return hours(d.median), hours(d.p90)


def render_markdown(
    source: str,
    fmt: str,
    rules: rules_mod.RuleSet,
    res: RunResult,
    ev: Evaluation,
    truth_note: str,
    extra: list[str] = (),  # type: ignore[assignment]
    chart: str | None = "report.png",
    truth_of: dict[str, str] | None = None,
) -> str:
    """The report. ``truth_of`` (account -> typology) lets it count wrong-typology alerts
    per typology of the account they fell on."""
    out = [
        "# chainbreaker backtest",
        "",
        f"- input: `{source}` ({fmt})",
        f"- rule set: {rules.version}; indicators enabled: "
        + ", ".join(d.code for d in rules.detectors),
        f"- truth: {truth_note}",
        f"- records read: {res.events:,}; applied: {res.processed:,}; duplicates: "
        f"{res.duplicates:,}; rejected: {sum(res.rejected.values()):,}",
        f"- accounts: {res.accounts:,}; alerts: {len(res.alerts):,} (distinct alert ids)",
        f"- detection loop: {res.seconds:.1f} s, {res.rate:,.0f} events/s (read + decode + "
        "validate + engine + cross-account links, one core; not scoring or this report); "
        f"processors {processors.RUNS_AS}",
        "",
    ]
    if res.rejected:
        out += ["## Rejected records", "", "| reason | count | examples |", "|---|---:|---|"]
        for reason, n in res.rejected.most_common():
            shown = "; ".join(res.examples.get(reason, [])[:2]).replace("|", "\\|")
            out.append(f"| {reason} | {n:,} | {shown} |")
        out.append("")
    networks = sum(1 for a in res.alerts.values() if a.get("network"))
    out += [
        "## Scenarios",
        "",
        "A scenario is found when any of its accounts alerts for its typology (network cases "
        "count for the account they are addressed to). Account precision: alerted accounts "
        "whose truth is the alert's typology. False-alert rates: look-alike accounts "
        "(hard negatives, labelled NONE) and unlabelled background accounts alerted for "
        "anything.",
        "",
        "| typology | scenarios | found | scenario recall | account precision | wrong-typology "
        "alerts on its positives |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    by_typ = {t.typology: t for t in ev.typologies}
    wrong_on: dict[str, int] = {}
    for a in res.alerts.values():
        owner = truth_of.get(a["account_id"]) if truth_of else None
        if owner is not None and owner not in ("NONE", a["typology"]):
            wrong_on[owner] = wrong_on.get(owner, 0) + 1
    for sc in ev.scenarios:
        t = by_typ.get(sc.typology)
        prec = pct(t.precision) if t is not None else "n/a"
        out.append(
            f"| {sc.typology} | {sc.scenarios:,} | {sc.found:,} | {pct(sc.recall)} | {prec} "
            f"| {wrong_on.get(sc.typology, 0):,} |"
        )
    out += [
        "",
        f"- hard negatives alerted: {ev.hard_negatives_alerted:,} of {ev.hard_negatives:,} "
        f"({pct(ev.hard_negative_rate)})",
        f"- background (unlabelled) accounts alerted: {ev.background_alerted:,} "
        f"({pct(ev.background_rate)})",
        f"- wrong-typology alerts (an alert on a positive of another typology): "
        f"{ev.wrong_typology_alerts:,}",
        f"- network cases: {networks:,} of {len(res.alerts):,} alerts",
        "",
        "### Recall per role",
        "",
        "| typology | role | accounts | alerted for it | alerted for another typology only "
        "| recall |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for r in ev.roles:
        out.append(
            f"| {r.typology} | {r.role} | {r.accounts:,} | {r.alerted:,} | {r.alerted_other:,} "
            f"| {pct(r.recall)} |"
        )
    if ev.lookalikes:
        out += [
            "",
            "### Look-alikes per kind",
            "",
            "| kind | accounts | alerted | rate |",
            "|---|---:|---:|---:|",
        ]
        for k in ev.lookalikes:
            out.append(f"| {k.kind} | {k.accounts:,} | {k.alerted:,} | {pct(k.rate)} |")
    missed_sc = [(sc.typology, sid) for sc in ev.scenarios for sid in sc.missed]
    if missed_sc:
        shown = ", ".join(f"{typ}: `{sid}`" for typ, sid in missed_sc[:30])
        more = f" and {len(missed_sc) - 30:,} more" if len(missed_sc) > 30 else ""
        out += ["", f"Scenarios missed ({len(missed_sc):,}): {shown}{more}."]
    out += [
        "",
        "## Per typology",
        "",
        "Account level. Precision: alerted accounts whose truth is this typology. Recall: "
        "labelled accounts of this typology alerted for it. Hard negatives: look-alike accounts "
        "labelled NONE. Time to detect: first alert's last evidence event time minus the "
        "scenario start (event time).",
        "",
        "| typology | labelled | alerts | accounts alerted | true pos. | precision | recall "
        "| hard neg. alerted | other typology | unlabelled alerted | TTD median | TTD p90 |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for t in ev.typologies:
        med, p90 = ttd(t.time_to_detect_ms)
        out.append(
            f"| {t.typology} | {t.positives:,} | {t.alerts:,} | {t.accounts_alerted:,} "
            f"| {t.true_positives:,} | {pct(t.precision)} | {pct(t.recall)} "
            f"| {t.hard_negatives_alerted:,} ({pct(t.hard_negative_rate)}) | {t.wrong_typology:,} "
            f"| {t.background_alerted:,} | {med} | {p90} |"
        )
    out += [
        "",
        f"- labelled positives detected under any typology: {ev.detected_any:,} of "
        f"{ev.positives:,} ({pct(ev.recall_any)})",
        f"- hard negatives alerted (any typology): {ev.hard_negatives_alerted:,} of "
        f"{ev.hard_negatives:,} ({pct(ev.hard_negative_rate)})",
        f"- unlabelled accounts alerted: {ev.background_alerted:,} "
        f"({pct(ev.background_rate)} of unlabelled accounts)",
        "",
        "## Per indicator",
        "",
        "Accounts hit: accounts where the indicator fired at least once. Precision: share of "
        "them labelled with any typology; recall: share of all labelled positives it hit. Alert "
        "precision: share of the accounts alerted with its contribution whose truth matches the "
        "alert's typology.",
        "",
        "| indicator | hits | accounts hit | positives hit | hard neg. hit | precision | recall "
        "| alerts contributed | alert precision |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for i in ev.indicators:
        out.append(
            f"| {i.code} | {i.hits:,} | {i.accounts_hit:,} | {i.positives_hit:,} "
            f"| {i.hard_negatives_hit:,} | {pct(i.precision)} | {pct(i.recall)} "
            f"| {i.alerts:,} | {pct(i.alert_precision)} |"
        )
    missed = [(t.typology, a) for t in ev.typologies for a in t.missed]
    if missed:
        out += ["", f"## Missed ({len(missed):,})", ""]
        out += [f"- {typ}: `{acct}`" for typ, acct in missed[:25]]
        if len(missed) > 25:
            out.append(f"- ... and {len(missed) - 25:,} more")
    out += ["", *extra]
    if chart:
        out += ["", f"![per typology and per indicator]({chart})", ""]
    return "\n".join(out).rstrip() + "\n"


def render_chart(ev: Evaluation, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(13, 4.8))
    typs = [t.typology.replace("_", "\n") for t in ev.typologies]
    series = {
        "precision": [t.precision or 0.0 for t in ev.typologies],
        "recall": [t.recall or 0.0 for t in ev.typologies],
        "hard-negative alert rate": [t.hard_negative_rate or 0.0 for t in ev.typologies],
    }
    width = 0.27
    for k, (label, values) in enumerate(series.items()):
        xs = [x + (k - 1) * width for x in range(len(typs))]
        ax1.bar(xs, values, width, label=label)
    ax1.set_xticks(range(len(typs)), typs, fontsize=8)
    ax1.set_ylim(0, 1.2)
    ax1.set_yticks([0, 0.2, 0.4, 0.6, 0.8, 1.0])
    ax1.set_title("per typology (accounts)")
    ax1.legend(fontsize=8, loc="upper center", ncol=3, frameon=False)

    codes = [i.code for i in ev.indicators]
    pos = [i.positives_hit for i in ev.indicators]
    neg = [i.hard_negatives_hit for i in ev.indicators]
    other = [i.accounts_hit - i.positives_hit - i.hard_negatives_hit for i in ev.indicators]
    ys = range(len(codes))
    ax2.barh(ys, pos, label="labelled positives")
    ax2.barh(ys, neg, left=pos, label="hard negatives")
    ax2.barh(ys, other, left=[p + n for p, n in zip(pos, neg, strict=True)], label="unlabelled")
    ax2.set_yticks(list(ys), codes, fontsize=8)
    ax2.invert_yaxis()
    ax2.set_title("accounts hit per indicator")
    ax2.legend(fontsize=8, loc="lower right")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def amlsim_section(data: Any, rules: rules_mod.RuleSet, step_hours: float) -> list[str]:
    from backtest import amlsim

    lines = ["## AMLSim mapping", "", amlsim.MAPPING_NOTE.format(step_hours=step_hours), ""]
    msp = next((d for d in rules.detectors if d.code == "MANY_SMALL_PAYERS"), None)
    params = msp.params if msp is not None else _msp_defaults()
    p = amlsim.fan_in_profile(
        data,
        params["window_hours"],
        params["max_amount_usd"],
        params["min_payments"],
        params["min_payers"],
    )
    top_n = sorted(p.fraud_best_payments.items(), reverse=True)[:5]
    top_p = sorted(p.fraud_best_payers.items(), reverse=True)[:5]
    lines += [
        "### Why fan-in accounts are or are not found",
        "",
        "Measured on the raw transfers (not by the engine), per account, in the best "
        f"window of {params['window_hours']:g} h = {p.window_steps:g} steps, counting credits "
        f"under ${params['max_amount_usd']:g} (MANY_SMALL_PAYERS"
        f"{'' if msp is not None else ', disabled in this rule set; catalog defaults'}: "
        f">= {params['min_payments']:g} credits from >= {params['min_payers']:g} payers):",
        "",
        f"- labelled accounts: {p.fraud_accounts:,}; receiving from another labelled account: "
        f"{p.fraud_receivers:,}; only sending: {p.fraud_senders_only:,} (a fan-in indicator "
        "looks at the receiver, so senders can never be found by it)",
        f"- transfers between labelled accounts: {p.fraud_transfers:,}, of which under "
        f"${params['max_amount_usd']:g}: {p.fraud_transfers_small:,} (the amount test is not "
        "what stops it)",
        f"- most distinct labelled senders into one account over the whole run: "
        f"{p.max_fraud_in_degree}",
        f"- labelled accounts reaching the payment count in some window: "
        f"{p.fraud_reaching_payments:,}; the payer count: {p.fraud_reaching_payers:,}; both: "
        f"{p.fraud_reaching_both:,}; unlabelled accounts reaching both: "
        f"{p.negatives_reaching_both:,}",
        "- best window, small credits -> labelled accounts (top 5): "
        + ", ".join(f"{k}: {v}" for k, v in top_n),
        "- best window, distinct small payers -> labelled accounts (top 5): "
        + ", ".join(f"{k}: {v}" for k, v in top_p),
        f"- most distinct payers of credits under ${params['max_amount_usd']:g} into one "
        f"labelled account over the whole run ({p.run_steps} steps): {p.max_small_payers_run}",
        "",
        "Reading: AMLSim spreads each fan-in over the whole run, so in any one window a "
        "beneficiary sees a few small credits from one or two members, far below thresholds "
        "set for a victim's account collecting from many buyers every night. Where a "
        "labelled account never reaches the payer count even over the whole run, no window "
        "or time scale would make the indicator fire (try --amlsim-step-hours). Any alert also "
        "needs a second indicator (no single weight reaches 1.0), and the others cannot fire "
        "on data without cash, merchant, location or payroll fields.",
    ]
    return lines


def _msp_defaults() -> dict[str, Any]:
    from processors.indicators import CATALOG

    return dict(CATALOG["MANY_SMALL_PAYERS"].defaults)


def summary(res: RunResult, ev: Evaluation, out_dir: Path) -> str:
    lines = [
        f"backtest: {res.events:,} records ({res.processed:,} applied, {res.duplicates:,} "
        f"duplicates, {sum(res.rejected.values()):,} rejected) over {res.accounts:,} accounts "
        f"in {res.seconds:.1f}s = {res.rate:,.0f} events/s, processors {processors.RUNS_AS}",
    ]
    if res.rejected:
        lines.append(
            "  rejected: " + ", ".join(f"{r}={n:,}" for r, n in res.rejected.most_common())
        )
    scen = {sc.typology: sc for sc in ev.scenarios}
    for t in ev.typologies:
        med, p90 = ttd(t.time_to_detect_ms)
        sc = scen.get(t.typology)
        found = f"scenarios {sc.found}/{sc.scenarios} {pct(sc.recall):>6}  " if sc else ""
        lines.append(
            f"  {t.typology:<19} alerts {t.alerts:>5,}  {found}precision {pct(t.precision):>6}  "
            f"recall {pct(t.recall):>6} ({t.true_positives}/{t.positives})  "
            f"hard-neg {pct(t.hard_negative_rate):>6}  TTD p50 {med} p90 {p90}"
        )
    lines.append(
        f"  hard negatives alerted {ev.hard_negatives_alerted}/{ev.hard_negatives} "
        f"({pct(ev.hard_negative_rate)}), unlabelled accounts alerted {ev.background_alerted:,} "
        f"({pct(ev.background_rate)}), wrong-typology alerts {ev.wrong_typology_alerts:,}"
    )
    lines.append(f"  report: {out_dir / 'report.md'}, {out_dir / 'report.png'}")
    return "\n".join(lines)
