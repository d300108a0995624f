"""Adapter for IBM AMLSim sample output (transactions.csv + nodes.csv) to our payment records.

AMLSim (github.com/IBM/AMLSim) simulates money laundering between accounts of one bank: each
row of ``transactions.csv`` is a transfer ``sourceNodeId,targetNodeId,value,time`` with
``time`` a simulation step (one day by default); ``nodes.csv`` labels each account
``nodeid,isFraud,init_balance,fraudStep``. There are no channels, merchants or places, so only
account-to-account indicators can fire on it.

Mapping, and what it assumes:

* every transfer becomes two records with the same event time: a DEBIT on the sending account
  and a CREDIT on the receiving one, each with the other as counterparty, channel P2P,
  institution ``amlsim``, amount = value in USD;
* event time = ``base_ms`` + step x ``step_ms`` + a deterministic offset inside the step (a
  hash of the row), so the transfers of one step are spread over it rather than stacked on one
  instant; records are returned sorted by event time;
* labels: ``isFraud=1`` -> HUMAN_SMUGGLING, ``fraudStep`` -> scenario start (unknown when -1);
  ``isFraud=0`` -> NONE. AMLSim's fan-in is *laundering*, not trafficking: it is scored as
  smuggling only because "many senders to one beneficiary" is the shape our account-to-account
  indicators look for. The report says so.
"""

from __future__ import annotations

import csv
import io
import tarfile
import zlib
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from processors.evaluation import NONE, Truth

DAY_MS = 86_400_000
INSTITUTION = "amlsim"
BASE_MS = int(datetime(2024, 1, 1, tzinfo=UTC).timestamp() * 1000)
FRAUD_TYPOLOGY = "HUMAN_SMUGGLING"
CHANNEL = "P2P"
MAPPING_NOTE = (
    "AMLSim's labelled patterns are money-laundering fan-ins, not trafficking. They are scored "
    f"as {FRAUD_TYPOLOGY} only because 'many senders to one beneficiary' is the shape the "
    "account-to-account indicators look for; isFraud=0 accounts are scored as negatives (NONE). "
    f"Each transfer is a DEBIT on the sender and a CREDIT on the receiver, channel {CHANNEL}, "
    "value taken as USD, one step = {step_hours:g} h."
)


def account_id(node: str) -> str:
    return f"amlsim-{node}"


@dataclass(slots=True)
class AmlsimData:
    records: list[dict[str, Any]]  # payment records, sorted by event time
    truth: list[Truth]
    rejected: list[tuple[int, str, str]] = field(default_factory=list)  # (line, reason, detail)
    transfers: list[tuple[int, str, str, float]] = field(default_factory=list)  # step,src,dst,v
    fraud_nodes: set[str] = field(default_factory=set)
    step_ms: int = DAY_MS


@contextmanager
def open_tables(path: Path) -> Iterator[tuple[IO[str], IO[str]]]:
    """(transactions.csv, nodes.csv) as text, from a directory or a .tgz without extracting."""
    path = Path(path)
    if path.is_dir():
        with (
            open(path / "transactions.csv", encoding="utf-8", newline="") as tx,
            open(path / "nodes.csv", encoding="utf-8", newline="") as nodes,
        ):
            yield tx, nodes
        return
    with tarfile.open(path, "r:*") as tar:
        members = {Path(m.name).name: m for m in tar.getmembers() if m.isfile()}
        missing = [n for n in ("transactions.csv", "nodes.csv") if n not in members]
        if missing:
            raise FileNotFoundError(f"{path}: no {' or '.join(missing)} in the archive")
        tx_raw = tar.extractfile(members["transactions.csv"])
        nodes_raw = tar.extractfile(members["nodes.csv"])
        assert tx_raw is not None and nodes_raw is not None
        yield (
            io.TextIOWrapper(tx_raw, encoding="utf-8", newline=""),
            io.TextIOWrapper(nodes_raw, encoding="utf-8", newline=""),
        )


def _counterparty(node: str) -> dict[str, Any]:
    return {
        "account_id": account_id(node),
        "institution_id": INSTITUTION,
        "country": None,
        "name_hash": None,
        "ultimate_party_hash": None,
    }


def _record(eid: str, t: int, node: str, direction: str, amount: int, other: str) -> dict:
    return {
        "event_id": eid,
        "event_time": t,
        "utc_offset_minutes": 0,
        "institution_id": INSTITUTION,
        "account_id": account_id(node),
        "customer_id": f"amlsim-cust-{node}",
        "account_type": "PERSONAL",
        "direction": direction,
        "channel": CHANNEL,
        "amount_minor": amount,
        "currency": "USD",
        "merchant": None,
        "counterparty": _counterparty(other),
        "location": None,
        "purpose": None,
        "payroll": False,
    }


def load(path: Path, base_ms: int = BASE_MS, step_ms: int = DAY_MS) -> AmlsimData:
    """Read an AMLSim output (directory or archive) into records and truth."""
    with open_tables(path) as (tx_file, nodes_file):
        data = AmlsimData(records=[], truth=[], step_ms=step_ms)
        timed: list[tuple[int, int, dict, dict]] = []
        reader = csv.reader(tx_file)
        header = [h.strip() for h in next(reader, [])]
        want = ["sourceNodeId", "targetNodeId", "value", "time"]
        if header[:4] != want:
            raise ValueError(f"{path}: transactions.csv header {header} is not {want}")
        for row in reader:
            line = reader.line_num
            if not row:
                continue
            try:
                src, dst, value, step = row[0].strip(), row[1].strip(), float(row[2]), int(row[3])
            except (IndexError, ValueError):
                data.rejected.append((line, "undecodable", f"transactions.csv row {row!r}"))
                continue
            amount = round(value * 100)
            t = base_ms + step * step_ms + zlib.crc32(f"{line}|{src}|{dst}".encode()) % step_ms
            data.transfers.append((step, src, dst, value))
            timed.append((t, line, _record(f"amlsim-{line}-d", t, src, "DEBIT", amount, dst),
                          _record(f"amlsim-{line}-c", t, dst, "CREDIT", amount, src)))  # fmt: skip
        timed.sort(key=lambda row: (row[0], row[1]))
        for _, _, debit, credit in timed:
            data.records.append(debit)
            data.records.append(credit)

        reader = csv.DictReader(nodes_file)
        for row in reader:
            try:
                node, fraud, step = row["nodeid"].strip(), row["isFraud"].strip(), row["fraudStep"]
                start = int(step)
            except (KeyError, AttributeError, ValueError):
                data.rejected.append((reader.line_num, "undecodable", f"nodes.csv row {row!r}"))
                continue
            if fraud == "1":
                data.fraud_nodes.add(node)
                data.truth.append(
                    Truth(
                        account_id=account_id(node),
                        typology=FRAUD_TYPOLOGY,
                        start_ms=base_ms + start * step_ms if start >= 0 else None,
                        kind="amlsim_fan_in",
                    )
                )
            else:
                data.truth.append(Truth(account_id(node), NONE, kind="amlsim_negative"))
    return data


@dataclass(frozen=True, slots=True)
class FanInProfile:
    """Why a 'many small payments from many payers' indicator does or does not fire here."""

    window_steps: float
    max_amount: float
    min_payments: int
    min_payers: int
    fraud_accounts: int
    fraud_receivers: int  # fraud accounts credited by at least one other fraud account
    fraud_senders_only: int  # fraud accounts that only send to fraud accounts
    fraud_transfers: int
    fraud_transfers_small: int
    max_fraud_in_degree: int  # most distinct fraud senders into one account, whole run
    max_small_payers_run: int  # most distinct payers of small credits into a fraud account, run
    run_steps: int  # first to last step with a transfer
    # Best window per account (most small credits; then distinct payers among them):
    fraud_reaching_payments: int
    fraud_reaching_payers: int
    fraud_reaching_both: int
    negatives_reaching_both: int
    fraud_best_payments: Counter  # best small-credit count in a window -> fraud accounts
    fraud_best_payers: Counter


def fan_in_profile(
    data: AmlsimData,
    window_hours: float,
    max_amount: float,
    min_payments: int,
    min_payers: int,
) -> FanInProfile:
    """Measure, from the raw transfers, each account's best window of small incoming credits."""
    window_steps = window_hours * 3_600_000 / data.step_ms
    fraud = data.fraud_nodes
    incoming: dict[str, list[tuple[int, str]]] = defaultdict(list)
    fraud_in: dict[str, set[str]] = defaultdict(set)
    senders: set[str] = set()
    n_fraud_tx = n_fraud_small = 0
    for step, src, dst, value in data.transfers:
        if value < max_amount:
            incoming[dst].append((step, src))
        if src in fraud and dst in fraud:
            n_fraud_tx += 1
            n_fraud_small += value < max_amount
            fraud_in[dst].add(src)
            senders.add(src)
    best_n: dict[str, int] = {}
    best_p: dict[str, int] = {}
    both: set[str] = set()
    for node, rows in incoming.items():
        rows.sort()
        lo = 0
        payers: Counter[str] = Counter()
        bn = bp = 0
        for step, src in rows:
            payers[src] += 1
            while rows[lo][0] < step - window_steps:  # [step-w, step]: an upper bound
                old = rows[lo][1]
                payers[old] -= 1
                if not payers[old]:
                    del payers[old]
                lo += 1
            count = sum(payers.values())
            bn = max(bn, count)
            bp = max(bp, len(payers))
            if count >= min_payments and len(payers) >= min_payers:
                both.add(node)
        best_n[node], best_p[node] = bn, bp
    receivers = {n for n in fraud_in if n in fraud}
    steps = [row[0] for row in data.transfers]
    return FanInProfile(
        window_steps=window_steps,
        max_amount=max_amount,
        min_payments=min_payments,
        min_payers=min_payers,
        fraud_accounts=len(fraud),
        fraud_receivers=len(receivers),
        fraud_senders_only=len((senders & fraud) - receivers),
        fraud_transfers=n_fraud_tx,
        fraud_transfers_small=n_fraud_small,
        max_fraud_in_degree=max((len(v) for v in fraud_in.values()), default=0),
        max_small_payers_run=max(
            (len({src for _, src in incoming[n]}) for n in fraud if n in incoming), default=0
        ),
        run_steps=max(steps) - min(steps) + 1 if steps else 0,
        fraud_reaching_payments=sum(best_n.get(n, 0) >= min_payments for n in fraud),
        fraud_reaching_payers=sum(best_p.get(n, 0) >= min_payers for n in fraud),
        fraud_reaching_both=len(both & fraud),
        negatives_reaching_both=len(both - fraud),
        fraud_best_payments=Counter(best_n.get(n, 0) for n in fraud),
        fraud_best_payers=Counter(best_p.get(n, 0) for n in fraud),
    )
