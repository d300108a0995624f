"""Case router: alerts -> one Redis Stream per reporting institution, once per alert id.

The worker delivers alerts at least once (a crash replays events, and replays re-emit the
same alert id). The router makes the queue exactly-once by claiming the alert id and
appending the case in one Lua script: Redis runs it atomically, so a crash between the two
steps cannot happen and a second delivery finds the id already claimed.
"""

from __future__ import annotations

import json
from typing import Any

import redis.asyncio as aioredis

from streams.settings import Settings

_ENQUEUE = """
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then
  return redis.call('XADD', KEYS[2], '*', unpack(ARGV, 2))
end
return false
"""


def institutions_key(settings: Settings) -> str:
    return f"{settings.app_id}:institutions"


def dedup_key(settings: Settings, institution_id: str, alert_id: str) -> str:
    return f"{settings.app_id}:case-ids:{institution_id}:{alert_id}"


def entry_fields(alert: dict[str, Any], trigger_produced_ms: int | None) -> list[str]:
    """Flat summary fields an analyst's queue view can show, plus the full alert as JSON."""
    return [
        "alert_id", alert["alert_id"],
        "institution_id", alert["institution_id"],
        "account_id", alert["account_id"],
        "typology", alert["typology"],
        "severity", alert["severity"],
        "score", f"{alert['score']:.3f}",
        "rule_set_version", alert["rule_set_version"],
        "detected_at", str(alert["detected_at"]),
        "trigger_produced_at", str(trigger_produced_ms or ""),
        "alert", json.dumps(alert, separators=(",", ":")),
    ]  # fmt: skip


class CaseRouter:
    def __init__(self, client: aioredis.Redis, settings: Settings) -> None:
        self._redis = client
        self._settings = settings
        self._script = client.register_script(_ENQUEUE)
        self._known_institutions: set[str] = set()

    async def route(self, alert: dict[str, Any], trigger_produced_ms: int | None) -> int | None:
        """Enqueue ``alert``; return the enqueue time (ms, Redis clock) or None if a duplicate."""
        institution = alert["institution_id"]
        stream = self._settings.case_stream(institution)
        entry_id = await self._script(
            keys=[dedup_key(self._settings, institution, alert["alert_id"]), stream],
            args=[self._settings.case_dedup_ttl_s, *entry_fields(alert, trigger_produced_ms)],
        )
        if institution not in self._known_institutions:
            await self._redis.sadd(institutions_key(self._settings), institution)
            self._known_institutions.add(institution)
        if not entry_id:
            return None
        entry = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
        return int(entry.split("-", 1)[0])


def connect(settings: Settings) -> aioredis.Redis:
    return aioredis.Redis.from_url(settings.redis_url, socket_connect_timeout=5)
