"""Shared fixtures.

The local stack (Kafka + Redis) is started once per session by the `stack` fixture and left
running afterwards, so the next test run does not pay for a JVM start again. `up` is a no-op
when it already runs.
"""

from __future__ import annotations

import pytest

from config import settings
from stack import services as stack_module


@pytest.fixture(scope="session")
def stack() -> stack_module.StackReport:
    """The shared local stack, up and answering (or the external services, checked)."""
    return stack_module.up(settings.load())
