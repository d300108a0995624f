"""Shared fixtures.

The local stack (Kafka + Redis) is started once per session by the `stack` fixture and left
running afterwards, so the next test run does not pay for a JVM start again. `up` is a no-op
when it already runs.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest

from config import settings
from stack import services as stack_module


@pytest.fixture(scope="session")
def stack() -> Iterator[stack_module.StackReport]:
    """The shared local stack, up and answering (or the external services, checked).

    At the end, the principals tests provisioned for their own app ids are revoked and their
    topics deleted, so they do not pile up in the shared broker (thousands of partitions make
    a broker restart after a crash take minutes) and Redis's aclfile."""
    yield stack_module.up(settings.load())
    from access.grant import revoke_app
    from tests.support import PROVISIONED, delete_app_topics

    for app in PROVISIONED:
        with contextlib.suppress(Exception):  # best effort: a test may have revoked it
            revoke_app(app)
    with contextlib.suppress(Exception):
        delete_app_topics(settings.load(), [app.app_id for app in PROVISIONED])
