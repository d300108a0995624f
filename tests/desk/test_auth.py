"""Sessions, sign-in CSRF and the failed-sign-in throttle (desk/auth.py), with a fake clock."""

from __future__ import annotations

import pytest

from desk.auth import Sessions, SignInError, SignInGuard, SignInThrottle, check_analyst


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class FakeRedis:
    closed = 0

    def close(self) -> None:
        FakeRedis.closed += 1


class FakeClient:
    institution_id = "bank-us-01"
    consumer = "an-1"

    def __init__(self) -> None:
        self.redis = FakeRedis()


def test_sessions_expire_when_idle_and_at_their_age_limit() -> None:
    clock = Clock()
    sessions = Sessions(idle_s=60, max_s=300, clock=clock)
    s = sessions.open(FakeClient())  # type: ignore[arg-type]
    assert s.token != s.csrf and len(s.token) >= 40
    closed = FakeRedis.closed
    for _ in range(5):  # used every 50 s: never idle for 60 s
        clock.now += 50
        assert sessions.get(s.token) is s
    clock.now += 50  # 300 s since sign-in: too old, however busy
    assert sessions.get(s.token) is None
    assert FakeRedis.closed == closed + 1  # its Redis connections are closed

    idle = sessions.open(FakeClient())  # type: ignore[arg-type]
    clock.now += 61
    assert sessions.get(idle.token) is None
    assert sessions.get(None) is None and sessions.get("forged") is None


def test_sign_out_and_sweep() -> None:
    clock = Clock()
    sessions = Sessions(idle_s=60, max_s=300, clock=clock)
    a = sessions.open(FakeClient())  # type: ignore[arg-type]
    b = sessions.open(FakeClient())  # type: ignore[arg-type]
    assert sessions.close(a.token) and not sessions.close(a.token)
    assert sessions.get(a.token) is None and sessions.get(b.token) is b
    clock.now += 120
    assert sessions.sweep() == 1 and len(sessions) == 0


def test_csrf_token_check() -> None:
    sessions = Sessions(60, 300, Clock())
    s = sessions.open(FakeClient())  # type: ignore[arg-type]
    assert s.check_csrf(s.csrf)
    assert not s.check_csrf(None) and not s.check_csrf("") and not s.check_csrf(s.token)


def test_signin_guard_binds_the_form_token_to_the_cookie() -> None:
    guard = SignInGuard()
    nonce, token = guard.issue()
    assert guard.check(nonce, token)
    assert guard.issue(nonce) == (nonce, token)  # the browser's cookie is kept
    other_nonce, other_token = guard.issue()
    assert not guard.check(nonce, other_token) and not guard.check(other_nonce, token)
    assert not guard.check(None, token) and not guard.check(nonce, None)
    assert not SignInGuard().check(nonce, token)  # another process's key


def test_throttle_locks_out_after_the_limit_then_lets_go() -> None:
    clock = Clock()
    throttle = SignInThrottle(limit=3, window_s=100, clock=clock)
    for _ in range(2):
        throttle.failed("addr:a", "inst:bank")
        clock.now += 1
    assert throttle.wait_s("addr:a", "inst:bank") == 0
    throttle.failed("addr:a", "inst:bank")  # third failure at t=1002
    assert throttle.wait_s("addr:a") == pytest.approx(98)
    assert throttle.wait_s("addr:other", "inst:bank") == pytest.approx(98)  # the institution too
    assert throttle.wait_s("addr:other", "inst:other") == 0
    clock.now += 98.5  # the first failure (t=1000) left the window
    assert throttle.wait_s("addr:a") == 0
    throttle.failed("addr:a")
    assert throttle.wait_s("addr:a") > 0
    throttle.succeeded("addr:a")
    assert throttle.wait_s("addr:a") == 0


def test_analyst_reference_is_a_pseudonym() -> None:
    assert check_analyst(" an-17 ") == "an-17"
    for bad in ("", "jane@example.org", "Jane Doe", "unassigned", "5550109999", "x" * 65):
        with pytest.raises(SignInError):
            check_analyst(bad)
