"""The oracle comparison the fault tests rest on (harness.compare), on hand-made alerts: what
it lets through and what it does not. Pure: no broker, no Redis."""

from __future__ import annotations

from tests.reliability.harness import compare

LT = "LABOUR_TRAFFICKING"


def alert(alert_id: str, account: str, codes=("WAGE_CAPTURE",), members=None) -> dict:
    out = {
        "alert_id": alert_id,
        "account_id": account,
        "typology": LT,
        "indicators": [{"code": c} for c in codes],
        "evidence_event_ids": ["e1"],
        "last_event_time": 1,
    }
    if members is not None:
        out["network"] = {"members": [{"account_id": m} for m in members]}
    return out


def test_equal_queues_hold() -> None:
    expected = {"a1": alert("a1", "acc-1"), "n1": alert("n1", "acc-2", members=["acc-2", "acc-3"])}
    result = compare(list(expected.values()), expected)
    assert result.holds and result.by_id == 1 and result.network_moved == 0


def test_a_network_case_moved_to_another_member_of_an_alerted_network_holds() -> None:
    # The backtest gave the network's case to acc-2; the worker, hearing of acc-2's case
    # first from another group, gave this one to acc-4, a member of the same network.
    expected = {"n1": alert("n1", "acc-2", ("SHARED_IDENTIFIER",), ["acc-2", "acc-3"])}
    queued = [
        alert("n1", "acc-2", ("SHARED_IDENTIFIER",), ["acc-2", "acc-3"]),
        alert("n2", "acc-4", ("PREPAID_BURST",), ["acc-4", "acc-2", "acc-3"]),
    ]
    result = compare(queued, expected)
    assert result.holds, result.summary()
    assert result.network_moved == 1


def test_a_network_case_on_a_network_the_backtest_never_alerted_fails() -> None:
    expected = {"a1": alert("a1", "acc-1")}
    queued = [alert("a1", "acc-1"), alert("n2", "acc-4", ("PREPAID_BURST",), ["acc-4", "acc-5"])]
    result = compare(queued, expected)
    assert not result.holds
    assert list(result.signal_unexpected) == [("acc-4", LT)]


def test_a_signal_alert_outside_any_network_is_not_excused() -> None:
    expected = {"a1": alert("a1", "acc-1")}
    queued = [alert("a1", "acc-1"), alert("s2", "acc-1-peer", ("SHARED_IDENTIFIER",))]
    result = compare(queued, expected)
    assert not result.holds and result.network_moved == 0


def test_duplicates_and_lost_alerts_fail() -> None:
    expected = {"a1": alert("a1", "acc-1"), "a2": alert("a2", "acc-2")}
    twice = compare([expected["a1"], expected["a1"], expected["a2"]], expected)
    lost = compare([expected["a1"]], expected)
    assert not twice.holds and twice.duplicates == 1
    assert not lost.holds and lost.missing_ids == ["a2"]
