"""The desk's JSON API against the real Redis and Kafka: sign-in, isolation between
institutions, claim/release/dispose round trips, the disposition on the topic, CSRF, expiry,
the failed sign-in lockout, and no raw identifier in any answer or log line."""

from __future__ import annotations

import logging
import re
import uuid

import pytest

from config.names import disposition_topic
from schemas.codec import codec_for
from streams.topics import ensure_topics
from tests.desk.support import (
    PLANTED,
    DeskServer,
    alert_for,
    api_sign_in,
    enqueue,
    grant,
    raw_identifiers,
)
from tests.support import consumer as kafka_consumer
from tests.support import isolated_env, operator_redis, settings_for, wait_for

pytestmark = pytest.mark.integration
A, B = "bank-us-01", "msb-us-02"


@pytest.fixture
def env(tmp_path, stack) -> dict[str, str]:
    return isolated_env(
        tmp_path,
        CB_STACK_DIR=str(tmp_path / "stack"),
        CB_CASE_CLAIM_IDLE_S="1",
        CB_DESK_SIGNIN_FAILURES="3",
    )


@pytest.fixture
def settings(env):
    s = settings_for(env)
    ensure_topics(s)
    return s


@pytest.fixture
def admin(settings):
    client = operator_redis(settings)
    yield client
    client.close()


@pytest.fixture
def passwords(admin, settings):
    from institutions import acl

    out = {inst: grant(admin, settings, inst) for inst in (A, B)}
    yield out
    for inst in out:
        acl.revoke(admin, settings, inst)


@pytest.fixture
def desk(settings, passwords):
    with DeskServer(settings) as server:
        yield server


class Scanned:
    """Every answer this test got, for the raw-identifier scan at the end."""

    def __init__(self) -> None:
        self.texts: list[str] = []
        self.secrets: tuple[str, ...] = ()

    def __call__(self, response):
        self.texts.append(
            response.text if "pdf" not in response.headers.get("content-type", "") else ""
        )
        return response

    def assert_clean(self) -> None:
        for text in self.texts:
            assert raw_identifiers(text, self.secrets) == [], text[:500]


def consume_dispositions(
    settings, expect: int, institution: str = A, timeout: float = 90
) -> list[dict]:
    """The records on the institution's own dispositions topic, read as the operator."""
    topic = disposition_topic(settings.topic_dispositions, institution)
    consumer = kafka_consumer(settings, f"test-{uuid.uuid4().hex}")
    consumer.subscribe([topic])
    got: list = []
    codec = codec_for("disposition", settings.schema_registry_url)
    try:

        def poll():
            msg = consumer.poll(0.5)
            if msg is not None and msg.error() is None:
                got.append((msg.key(), codec.decode(msg.value())))
            return len(got) >= expect

        wait_for(poll, timeout, f"{expect} disposition(s) on {topic}")
    finally:
        consumer.close()
    return got


def test_an_institution_sees_nothing_of_another(desk, admin, settings, passwords) -> None:
    mine = alert_for(A, "acct-a1")
    theirs = alert_for(B, "acct-b1")
    [mine_entry] = enqueue(admin, settings, mine)
    [their_entry] = enqueue(admin, settings, theirs)
    seen = Scanned()
    with desk.client() as a:
        csrf = api_sign_in(a, A, passwords[A], "an-1")
        seen.secrets = (csrf,)
        listed = seen(a.get("/api/cases", params={"view": "new"})).json()
        assert [c["alert_id"] for c in listed["cases"]] == [mine["alert_id"]]
        for view in ("pending", "mine", "closed"):
            got = seen(a.get("/api/cases", params={"view": view})).json()
            assert theirs["alert_id"] not in str(got)
        # Guessing B's ids gets nothing: not by alert id, not by entry id, not for any action.
        for ref in (theirs["alert_id"], their_entry if their_entry != mine_entry else "1-0"):
            assert seen(a.get(f"/api/cases/{ref}")).status_code == 404
            assert seen(a.get(f"/api/cases/{ref}/sar")).status_code == 404
            assert seen(a.get(f"/cases/{ref}/sar.md")).status_code == 404
            assert seen(a.get(f"/cases/{ref}")).status_code == 404
            for action in ("claim", "release"):
                r = seen(a.post(f"/api/cases/{ref}/{action}", headers={"x-csrf-token": csrf}))
                assert r.status_code == 404, r.text
            r = seen(
                a.post(
                    f"/api/cases/{ref}/dispose",
                    headers={"x-csrf-token": csrf},
                    json={"outcome": "false-positive"},
                )
            )
            assert r.status_code == 404
        assert seen(a.get("/api/feedback")).json()["decided"] == 0
    # B's case is untouched: still new, nobody holds it, no outcome.
    with desk.client() as b:
        api_sign_in(b, B, passwords[B], "bn-1")
        got = b.get(f"/api/cases/{theirs['alert_id']}").json()
        assert got["state"] == "new" and got["holder"] is None and got["outcome"] is None
        assert b.get(f"/api/cases/{mine['alert_id']}").status_code == 404
    # A's password does not open B's queue, and B's user is what Redis checks.
    with desk.client() as c:
        r = c.post(
            "/api/session", json={"institution": B, "password": passwords[A], "analyst": "an-1"}
        )
        assert r.status_code == 401
    seen.assert_clean()


def test_claim_release_dispose_round_trip(desk, admin, settings, passwords) -> None:
    first, second, third = (
        alert_for(A, f"acct-{i}", score=s) for i, s in ((1, 1.1), (2, 2.2), (3, 0.7))
    )
    entries = enqueue(admin, settings, first, second, third)
    seen = Scanned()
    with desk.client() as ana, desk.client() as bob:
        csrf = api_sign_in(ana, A, passwords[A], "an-1")
        bob_csrf = api_sign_in(bob, A, passwords[A], "an-2")
        seen.secrets = (csrf, bob_csrf)
        new = seen(ana.get("/api/cases", params={"view": "new"})).json()
        assert [c["score"] for c in new["cases"]] == [2.2, 1.1, 0.7]  # sorted by score
        assert new["counts"] == {"new": 3, "pending": 0, "mine": 0, "closed": 0}

        # Claim a particular new case (the middle one): older ones go to "unassigned".
        r = seen(ana.post(f"/api/cases/{second['alert_id']}/claim", headers={"x-csrf-token": csrf}))
        assert r.status_code == 200 and r.json()["case"]["entry_id"] == entries[1]
        got = ana.get("/api/cases", params={"view": "pending"}).json()["cases"]
        holders = {c["alert_id"]: c["holder"]["consumer"] for c in got}
        assert holders == {second["alert_id"]: "an-1", first["alert_id"]: "unassigned"}
        assert [c["alert_id"] for c in ana.get("/api/cases?view=mine").json()["cases"]] == [
            second["alert_id"]
        ]
        # Bob takes the next new case: the third (oldest left), then there is none.
        nxt = seen(bob.post("/api/cases/next", headers={"x-csrf-token": bob_csrf})).json()
        assert nxt["case"]["alert"]["alert_id"] == third["alert_id"]
        assert bob.post("/api/cases/next", headers={"x-csrf-token": bob_csrf}).json() == {
            "case": None
        }
        # Bob cannot decide ana's case; ana releases it, bob claims it from the pool.
        r = bob.post(
            f"/api/cases/{entries[1]}/dispose",
            headers={"x-csrf-token": bob_csrf},
            json={"outcome": "valuable"},
        )
        assert r.status_code == 409 and "an-1's desk" in r.json()["error"]
        assert (
            ana.post(f"/api/cases/{entries[1]}/release", headers={"x-csrf-token": csrf}).status_code
            == 200
        )
        assert ana.get(f"/api/cases/{entries[1]}").json()["unassigned"] is True
        assert (
            bob.post(
                f"/api/cases/{entries[1]}/claim", headers={"x-csrf-token": bob_csrf}
            ).status_code
            == 200
        )

        # A note holding a phone number is refused; nothing is sent, the case stays open.
        r = seen(
            bob.post(
                f"/api/cases/{entries[1]}/dispose",
                headers={"x-csrf-token": bob_csrf},
                json={"outcome": "confirmed", "note": f"call {PLANTED[1]}"},
            )
        )
        assert r.status_code == 422 and "phone-number-like" in r.json()["error"]
        assert PLANTED[1] not in r.text
        assert bob.get(f"/api/cases/{entries[1]}").json()["state"] == "pending"

        r = seen(
            bob.post(
                f"/api/cases/{entries[1]}/dispose",
                headers={"x-csrf-token": bob_csrf},
                json={"outcome": "confirmed", "note": "SAR filed, ref 2026-118"},
            )
        )
        assert r.status_code == 200, r.text
        record = r.json()["disposition"]
        assert r.json()["topic"] == disposition_topic(settings.topic_dispositions, A)
        assert (record["outcome"], record["analyst_id"]) == ("CONFIRMED_SAR_FILED", "an-2")

        # The disposition is on the topic exactly as `cases dispose` writes it.
        [(key, on_topic)] = consume_dispositions(settings, 1)
        assert key == b"acct-2" and on_topic == record
        assert on_topic["indicator_codes"] == [h["code"] for h in second["indicators"]]

        closed = seen(ana.get(f"/api/cases/{second['alert_id']}")).json()
        assert closed["state"] == "closed" and closed["outcome"]["outcome"] == "CONFIRMED_SAR_FILED"
        again = bob.post(
            f"/api/cases/{entries[1]}/dispose",
            headers={"x-csrf-token": bob_csrf},
            json={"outcome": "false-positive"},
        )
        assert again.status_code == 409 and "already disposed" in again.json()["error"]
        assert (
            ana.post(f"/api/cases/{entries[1]}/claim", headers={"x-csrf-token": csrf}).status_code
            == 409
        )

        # Reclaim: bob's third case, once idle over CB_CASE_CLAIM_IDLE_S (1 s), comes to ana
        # (with the first one, parked on "unassigned" even longer).
        reclaimed: set[str] = set()

        def reclaim_third() -> bool:
            r = ana.post("/api/cases/reclaim", headers={"x-csrf-token": csrf})
            reclaimed.update(c["alert"]["alert_id"] for c in r.json()["cases"])
            return third["alert_id"] in reclaimed

        wait_for(reclaim_third, 30, "bob's case to pass the claim idle time")
        assert reclaimed <= {first["alert_id"], third["alert_id"]}
        mine = ana.get("/api/cases", params={"view": "mine"}).json()["cases"]
        assert third["alert_id"] in {c["alert_id"] for c in mine}

        sar = seen(ana.get(f"/api/cases/{entries[0]}/sar")).json()
        assert sar["sar"]["sar_key_term"] == "HUMAN TRAFFICKING FIN-2020-A008"
        assert sar["markdown"].startswith(f"# SAR narrative draft: alert {first['alert_id']}")
        pdf = ana.get(f"/api/cases/{entries[0]}/sar.pdf")
        assert pdf.headers["content-type"] == "application/pdf" and pdf.content[:5] == b"%PDF-"
        assert "attachment" in pdf.headers["content-disposition"]

        fb = seen(ana.get("/api/feedback")).json()
        assert fb["decided"] == 1
        assert fb["typologies"]["SEX_TRAFFICKING"] == {
            "useful": 1,
            "total": 1,
            "precision": 1.0,
            "outcomes": {"CONFIRMED_SAR_FILED": 1},
        }
        assert set(fb["indicators"]) == {h["code"] for h in second["indicators"]}
    seen.assert_clean()


def test_case_page_without_network_and_escaped(desk, admin, settings, passwords) -> None:
    alert = alert_for(A, "acct-x")
    alert["indicators"][0]["explanation"] = '<script>alert("x")</script> 3 cities'
    [entry] = enqueue(admin, settings, alert)
    with desk.client() as http:
        api_sign_in(http, A, passwords[A], "an-1")
        page = http.get(f"/cases/{entry}")
        assert page.status_code == 200
        assert 'id="network"' not in page.text  # an alert without the field: no section
        assert 'id="timeline"' in page.text and "<svg" in page.text
        assert "<script" not in page.text and "&lt;script&gt;" in page.text
        assert "script-src" not in page.headers["content-security-policy"]  # no script at all
        assert page.headers["cache-control"] == "no-store"
        tokens = tuple(re.findall(r'name="csrf" value="([^"]+)"', page.text))
        assert tokens and raw_identifiers(page.text, tokens) == []


def test_changes_need_the_csrf_token_and_a_session(desk, admin, settings, passwords) -> None:
    [entry] = enqueue(admin, settings, alert_for(A))
    with desk.client() as http:
        assert http.get("/api/cases").status_code == 401
        assert http.post("/api/cases/next").status_code == 401
        csrf = api_sign_in(http, A, passwords[A], "an-1")
        assert http.post("/api/cases/next").status_code == 403  # no token
        assert http.post("/api/cases/next", headers={"x-csrf-token": "forged"}).status_code == 403
        evil = {"x-csrf-token": csrf, "origin": "http://evil.example"}
        assert http.post("/api/cases/next", headers=evil).status_code == 403
        r = http.post(
            f"/api/cases/{entry}/dispose",
            headers={"x-csrf-token": csrf},
            content="outcome=valuable",
        )
        assert r.status_code == 415  # a form post cannot dispose
        # The pages: a form without the session's token is refused.
        r = http.post("/queue/take", data={"csrf": "forged"})
        assert r.status_code == 403
        assert http.get(f"/api/cases/{entry}").json()["state"] == "new"  # nothing happened
        # Sign-out ends the session for good.
        assert (
            http.request("DELETE", "/api/session", headers={"x-csrf-token": csrf}).status_code
            == 200
        )
        assert http.get("/api/cases").status_code == 401
        assert http.get("/queue", follow_redirects=False).headers["location"].startswith("/login")


def test_sessions_expire(admin, settings, passwords) -> None:
    now = [1000.0]
    with DeskServer(settings, clock=lambda: now[0]) as desk, desk.client() as http:
        api_sign_in(http, A, passwords[A], "an-1")
        assert http.get("/api/cases").status_code == 200
        now[0] += settings.desk_session_idle_s - 1
        assert http.get("/api/cases").status_code == 200
        now[0] += settings.desk_session_idle_s
        assert http.get("/api/cases").status_code == 401
        assert len(desk.app.state.desk.sessions) == 0


def test_failed_sign_ins_lock_out_and_never_log_the_password(desk, passwords, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "not-" + passwords[A]
    with desk.client() as http:
        # The form, first failure: someone typing the password into the institution field.
        form = http.get("/login")
        token = form.text.split('name="signin_token" value="')[1].split('"')[0]
        r = http.post(
            "/login",
            data={
                "signin_token": token,
                "institution": passwords[B],
                "password": passwords[B],
                "analyst": PLANTED[0],
            },
        )
        assert r.status_code == 401 and "Sign-in refused" in r.text
        assert passwords[B] not in r.text and PLANTED[0] not in r.text
        for _ in range(2):  # CB_DESK_SIGNIN_FAILURES=3 from this address
            r = http.post(
                "/api/session", json={"institution": A, "password": wrong, "analyst": "an-1"}
            )
            assert r.status_code == 401 and "wrong password" in r.json()["error"]
        r = http.post(
            "/api/session", json={"institution": A, "password": passwords[A], "analyst": "an-1"}
        )
        assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
        assert http.get("/api/cases").status_code == 401  # the right password did not get in
    logged = "\n".join(f"{rec.getMessage()} {rec.args}" for rec in caplog.records)
    assert "sign-in failed" in logged and "locked out" in logged
    for secret in (passwords[A], passwords[B], wrong, PLANTED[0]):
        assert secret not in logged
