"""Dispositions, producer side: an analyst's outcome as a schemas/disposition.avsc record.

The worker consumes these (keyed by account_id, so each lands on the partition holding the
account's state) to count per-indicator precision and to suppress the indicators of a false
positive on that account. A record that is not delivered must not close the case, so sending
waits for the broker's acknowledgement (acks=all, idempotent) and raises otherwise.

The note is free text that ends up in Kafka: it is checked for the identifiers we can spot
(e-mail addresses, phone-number-like digit runs) and refused if it holds one. Names and street
addresses cannot be recognised reliably; the schema's doc and the CLI help say not to write them.
"""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

from confluent_kafka import KafkaException, Producer

from config import clients
from config.names import PARTITIONER, disposition_topic
from config.settings import Settings
from schemas.codec import codec_for

OUTCOMES = {
    "confirmed": "CONFIRMED_SAR_FILED",
    "valuable": "VALUABLE",
    "false-positive": "FALSE_POSITIVE",
}
NOTE_MAX_CHARS = 2000
DELIVERY_TIMEOUT_S = 30.0

_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
# A run of digits with the separators phone numbers are written with: +1 (555) 010-9999,
# 555.010.9999, 0044 20 7946 0000. Seven or more digits in such a run counts as phone-like.
_DIGIT_RUN = re.compile(r"(?<![\w])\+?\(?\d[\d\s().-]*\d(?![\w])")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2})?)?")
# A filing or case reference right after its label: "SAR filed, ref 2026-118", "BSA ID
# 31000123456789", "STR #4455667", "case no. 2026/00412". Analysts must be able to record
# what they filed; a number written after such a label is taken for a reference, not a phone.
_REFERENCE = re.compile(
    r"(?i)\b(?:ref(?:erence)?|sar|str|bsa(?:\s*id)?|dcn|case|ticket|filing)"
    r"\s*(?:no\.?|number|id)?\s*[:#]?\s*[\d][\d/-]*\d"
)
PHONE_MIN_DIGITS = 7


class DispositionError(ValueError):
    """The disposition cannot be built or was not delivered; the message says why."""


def note_problem(note: str) -> str | None:
    """Why the note may not be stored (it looks like it holds a personal identifier), or None.

    ISO dates (2026-11-25) and labelled references (``ref 2026-118``, ``BSA ID
    31000123456789``) are allowed: they are digit runs, but case notes need them. A best
    effort against accidents, not a barrier: a number after a reference label passes.
    """
    if len(note) > NOTE_MAX_CHARS:
        return f"the note is longer than {NOTE_MAX_CHARS} characters"
    if _EMAIL.search(note):
        return "the note contains an e-mail address"
    for match in _DIGIT_RUN.finditer(_REFERENCE.sub(" ", _ISO_DATE.sub(" ", note))):
        if sum(ch.isdigit() for ch in match.group()) >= PHONE_MIN_DIGITS:
            return "the note contains a phone-number-like digit run"
    return None


def build_disposition(
    alert: dict[str, Any],
    outcome: str,
    analyst_id: str,
    note: str | None = None,
    *,
    decided_at_ms: int | None = None,
) -> dict[str, Any]:
    """The disposition record for ``alert``; ``outcome`` is confirmed|valuable|false-positive
    (or the schema symbol itself)."""
    symbol = OUTCOMES.get(outcome, outcome)
    if symbol not in OUTCOMES.values():
        raise DispositionError(f"outcome must be one of {', '.join(OUTCOMES)}, got {outcome!r}")
    analyst_id = (analyst_id or "").strip()
    if not analyst_id:
        raise DispositionError("an analyst id is required (your institution's reference)")
    if "@" in analyst_id or sum(ch.isdigit() for ch in analyst_id) >= 10:
        raise DispositionError(
            "the analyst id must be a pseudonymous reference, not an e-mail or phone number"
        )
    if note is not None:
        note = note.strip() or None
    if note is not None and (problem := note_problem(note)):
        raise DispositionError(
            f"{problem}; notes must not hold names, phone numbers, e-mail or street "
            "addresses (they go to Kafka). Refer to the customer by account or customer id."
        )
    return {
        "disposition_id": uuid.uuid4().hex,
        "alert_id": alert["alert_id"],
        "institution_id": alert["institution_id"],
        "account_id": alert["account_id"],
        "typology": alert["typology"],
        "indicator_codes": list(dict.fromkeys(hit["code"] for hit in alert["indicators"])),
        "outcome": symbol,
        "note": note,
        "analyst_id": analyst_id,
        "decided_at": int(time.time() * 1000) if decided_at_ms is None else decided_at_ms,
        "rule_set_version": alert["rule_set_version"],
    }


class DispositionProducer:
    """Encodes with the disposition codec and waits for each record's delivery.

    One institution's producer: it writes that institution's own dispositions topic
    (`<CB_TOPIC_DISPOSITIONS>.<institution>`) as that institution's Kafka principal, the only
    one its ACL lets write there; the worker checks each record's institution_id against the
    topic it came from (config/names.py)."""

    def __init__(
        self, settings: Settings, institution: str, timeout_s: float = DELIVERY_TIMEOUT_S
    ) -> None:
        self.settings = settings
        self.institution = institution
        self.topic = disposition_topic(settings.topic_dispositions, institution)
        self.timeout_s = timeout_s
        self.codec = codec_for("disposition", settings.schema_registry_url)
        self._producer = Producer(
            clients.kafka_config(
                settings,
                clients.institution_role(institution),
                {
                    "partitioner": PARTITIONER,  # same partition as the account's payments
                    "acks": "all",
                    "enable.idempotence": True,
                    "message.timeout.ms": int(timeout_s * 1000),
                    "log_level": 3,
                },
            )
        )

    def send(self, record: dict[str, Any]) -> tuple[int, int]:
        """Produce and flush; (partition, offset) once the broker has it, else raise."""
        if record.get("institution_id") != self.institution:
            raise DispositionError(
                f"this producer sends {self.institution}'s dispositions, not "
                f"{record.get('institution_id')!r}'s"
            )
        result: dict[str, Any] = {}

        def delivered(err, msg) -> None:
            result["err"], result["msg"] = err, msg

        topic = self.topic
        try:
            self._producer.produce(
                topic,
                key=record["account_id"].encode(),
                value=self.codec.encode(record),
                on_delivery=delivered,
            )
        except (KafkaException, BufferError) as exc:
            raise DispositionError(f"could not queue the disposition for {topic}: {exc}") from None
        remaining = self._producer.flush(self.timeout_s + 5)
        err = result.get("err") if "msg" in result and not remaining else "no delivery report"
        if err is not None:
            reason = err.str() if hasattr(err, "str") else str(err)
            raise DispositionError(
                f"the disposition was not delivered to {topic} at {self.settings.kafka_bootstrap} "
                f"({reason}); the case stays open, retry when Kafka is back"
            )
        return result["msg"].partition(), result["msg"].offset()

    def close(self) -> None:
        self._producer.flush(5)
