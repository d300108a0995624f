"""`chainbreaker backtest` on small files: simulated traffic end to end, and the AMLSim adapter."""

from __future__ import annotations

import json
import tarfile
import time
from dataclasses import asdict
from pathlib import Path

import pytest

from backtest import amlsim, scoring
from backtest import cli as backtest_cli
from processors import rules as rules_mod
from processors.engine import Engine
from processors.evaluation import Truth
from processors.replay import run
from simulator.simulation import generate

SEED, ACCOUNTS, DAYS, SCENARIOS = 4, 300, 10, 6
DAY_MS = 86_400_000
HASH_KEY = "chainbreaker-local-dev-key"


def simulated(start_ms: int | None = None) -> tuple[list[dict], list]:
    """The small population both this test and the parity test run: 2 scenarios per typology."""
    if start_ms is None:  # whole days, ending at least a day before now: all in the past
        start_ms = (int(time.time() * 1000) // DAY_MS - DAYS - 1) * DAY_MS
    events, truth = generate(SEED, ACCOUNTS, DAYS, start_ms, HASH_KEY, SCENARIOS)
    return list(events), truth


def write_jsonl(path: Path, records: list[dict], truth: list, bad: list[str] = ()) -> None:
    lines = [json.dumps(r, separators=(",", ":")) for r in records]
    for n, line in enumerate(bad):  # spread the bad lines through the file
        lines.insert(min(len(lines), 1 + n * 97), line)
    path.write_text("\n".join(lines) + "\n")
    path.with_suffix(".truth.json").write_text(json.dumps([asdict(t) for t in truth]))


def test_simulated_file_all_scenarios_detected_reports_written_bad_lines_counted(tmp_path, capsys):
    records, truth = simulated()
    good = records[0]
    bad = [
        "{not json",
        json.dumps([1, 2, 3]),  # JSON, but not an object
        json.dumps({**good, "event_id": "bad-1", "amount_minor": -5}),
        json.dumps({**good, "event_id": "bad-2", "currency": "ZZZ"}),
        json.dumps({**good, "event_id": "bad-3", "event_time": good["event_time"] + 400 * DAY_MS}),
        "",  # a blank line is skipped, not counted
    ]
    src = tmp_path / "events.jsonl"
    write_jsonl(src, records, truth, bad)
    out = tmp_path / "report"

    assert backtest_cli.main([str(src), "--report-dir", str(out)]) == 0

    printed = capsys.readouterr().out
    assert f"{len(records) + 5:,} records" in printed
    assert "5 rejected" in printed
    report = (out / "report.md").read_text()
    assert (out / "report.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for reason, n in [("undecodable", 2), ("invalid_amount", 1), ("unknown_currency", 1)]:
        assert f"| {reason} | {n} |" in report
    assert "| future_event_time | 1 |" in report
    per_typology = report.split("## Per typology", 1)[1]
    for typology in ("SEX_TRAFFICKING", "LABOUR_TRAFFICKING", "HUMAN_SMUGGLING"):
        row = next(line for line in per_typology.splitlines() if line.startswith(f"| {typology} |"))
        cells = [c.strip() for c in row.strip("|").split("|")]
        labelled, true_pos, precision, recall = cells[1], cells[4], cells[5], cells[6]
        assert labelled == "2" and true_pos == "2", row
        assert (precision, recall) == ("100.0%", "100.0%"), row
        assert cells[7].startswith("0 "), row  # no hard negative alerted
    for code in (d.code for d in rules_mod.load().detectors):  # whatever the rule set enables
        assert f"| {code} |" in report
    # Scenario level (issue 12): two scenarios of each typology, each found.
    scenarios = report.split("## Scenarios", 1)[1].split("##", 1)[0]
    for typology in ("SEX_TRAFFICKING", "LABOUR_TRAFFICKING", "HUMAN_SMUGGLING"):
        row = next(line for line in scenarios.splitlines() if line.startswith(f"| {typology} |"))
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert cells[1:4] == ["2", "2", "100.0%"], row
    assert "| HUMAN_SMUGGLING | funnel |" in report  # recall per role
    assert "wrong-typology alerts (an alert on a positive of another typology): 0" in report


def test_run_matches_scoring_and_keeps_each_alert_once():
    records, truth = simulated(start_ms=1_740_787_200_000)
    rules = rules_mod.load()
    now = int(time.time() * 1000)
    first = run(records, Engine(rules), now)
    # Records sent again (a publisher re-sending its last hour) change nothing: offline there
    # are no offsets, and each account's recent ids recognise them (processors/state.py).
    last = max(r["event_time"] for r in records)
    tail = [r for r in records if r["event_time"] > last - 3_600_000]
    again = run(records + tail, Engine(rules), now)
    assert tail and again.duplicates == len(tail)
    assert set(again.alerts) == set(first.alerts)
    evaluation = scoring.score(first, [Truth(**_truth(t)) for t in truth], rules)
    assert evaluation.recall_any == 1.0
    assert evaluation.hard_negatives_alerted == 0
    assert all(t.time_to_detect_ms.median is not None for t in evaluation.typologies)


def _truth(t) -> dict:
    return {k: getattr(t, k) for k in ("account_id", "typology", "start_ms", "end_ms", "kind")}


# --- AMLSim ---------------------------------------------------------------------------------


# Node 100 receives 12 small transfers from 6 labelled senders (1..6) in steps 3..6: a fan-in
# that MANY_SMALL_PAYERS sees. Node 200 gets 12 large ones from 6 others: not small. One row
# is malformed.
def amlsim_files(where: Path) -> Path:
    where.mkdir(parents=True, exist_ok=True)
    rows = ["sourceNodeId,targetNodeId,value,time"]
    for i in range(12):
        rows.append(f"{1 + i % 6},100,{20 + i}.50,{3 + i // 4}")
    for i in range(12):
        rows.append(f"{11 + i % 6},200,{250 + i}.00,{3 + i // 4}")
    rows.append("7,8,not-a-number,4")
    rows.append("100,9,40.00,1")
    (where / "transactions.csv").write_text("\n".join(rows) + "\n")
    nodes = ["nodeid,isFraud,init_balance,fraudStep", "100,1,500.00,3"]
    nodes += [f"{n},1,100.00,-1" for n in range(1, 7)]
    nodes += [f"{n},0,100.00,-1" for n in (7, 8, 9, 200, *range(11, 17))]
    (where / "nodes.csv").write_text("\n".join(nodes) + "\n")
    return where


def test_amlsim_adapter_maps_transfers_to_debit_credit_pairs_and_labels(tmp_path):
    data = amlsim.load(amlsim_files(tmp_path / "aml"))
    assert [r[1] for r in data.rejected] == ["undecodable"]
    assert len(data.records) == 2 * 25
    times = [r["event_time"] for r in data.records]
    assert times == sorted(times)
    first = [r for r in data.records if r["event_id"].startswith("amlsim-2-")]  # row on line 2
    debit, credit = sorted(first, key=lambda r: r["direction"], reverse=True)
    assert (debit["direction"], debit["account_id"]) == ("DEBIT", "amlsim-1")
    assert (credit["direction"], credit["account_id"]) == ("CREDIT", "amlsim-100")
    assert credit["counterparty"]["account_id"] == "amlsim-1"
    assert debit["counterparty"]["account_id"] == "amlsim-100"
    assert credit["amount_minor"] == 2050 and credit["currency"] == "USD"
    assert credit["institution_id"] == "amlsim" and credit["channel"] == "P2P"
    step3 = amlsim.BASE_MS + 3 * DAY_MS
    assert step3 <= credit["event_time"] < step3 + DAY_MS  # inside its step
    assert debit["event_time"] == credit["event_time"]
    truth = {t.account_id: t for t in data.truth}
    assert truth["amlsim-100"].typology == "HUMAN_SMUGGLING"
    assert truth["amlsim-100"].start_ms == step3
    assert truth["amlsim-1"].start_ms is None  # fraudStep -1: start unknown
    assert truth["amlsim-200"].typology == "NONE"
    # Deterministic: the same input gives the same records.
    assert amlsim.load(tmp_path / "aml").records == data.records


@pytest.mark.parametrize("packed", [False, True])
def test_backtest_on_amlsim_scores_the_fan_in_indicator(tmp_path, capsys, packed):
    src = amlsim_files(tmp_path / "sample")
    if packed:
        archive = tmp_path / "sample.tgz"
        with tarfile.open(archive, "w:gz") as tar:
            tar.add(src, arcname="sample")
        src = archive
    out = tmp_path / "report"
    assert backtest_cli.main([str(src), "--report-dir", str(out)]) == 0
    assert "1 rejected" in capsys.readouterr().out
    report = (out / "report.md").read_text()
    row = next(line for line in report.splitlines() if line.startswith("| MANY_SMALL_PAYERS |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    # Hit on node 100 only: 1 account, a labelled positive -> precision 100%, recall 1/7.
    assert (cells[2], cells[3], cells[5], cells[6]) == ("1", "1", "100.0%", "14.3%")
    assert "money-laundering fan-ins, not trafficking" in report
    assert "labelled accounts reaching the payment count in some window: 1" in report
    assert (out / "report.png").exists()
