"""The versioned rule set: which indicators run, their parameters, weights and thresholds.

Loaded and validated once at start. Every error names the key path that is wrong, because
the people editing this file are analysts tuning thresholds, not the engineers who wrote it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from processors.currency import DEFAULT_USD_PER_UNIT, ISO_4217
from processors.indicators import CATALOG, Detector
from processors.model import Severity, Typology


class RuleError(ValueError):
    """The rule set is invalid; the message names the offending key path."""


@dataclass(frozen=True)
class TypologyRule:
    threshold: float
    sar_key_term: str
    sar_field: str


@dataclass(frozen=True)
class NetworkRule:
    """When linked accounts make one case (processors/networks.py): a link group of between
    ``min_customers`` and ``max_customers`` distinct customers."""

    enabled: bool = True
    min_customers: int = 2
    max_customers: int = 20
    #: a network of two customers (a household's size) also needs one contributing indicator
    #: specific to the typology weighing at least this much (processors/networks.py)
    pair_min_weight: float = 0.6


@dataclass(frozen=True)
class RuleSet:
    version: str
    score_window_ms: int
    cooldown_ms: int
    severity_bands: tuple[tuple[float, Severity], ...]  # highest first
    typologies: dict[Typology, TypologyRule]
    detectors: tuple[Detector, ...]
    weights: dict[str, dict[Typology, float]]
    #: USD per unit of each currency: the built-in reference rates, overridden and extended
    #: by the rule set's ``fx_usd_per_unit``. An event in a currency without a rate cannot
    #: trip USD thresholds (amount_usd -1), so an institution trading in it must add one.
    usd_per_unit: dict[str, float]
    networks: NetworkRule = NetworkRule()

    def severity(self, score: float) -> Severity:
        for floor, level in self.severity_bands:
            if score >= floor:
                return level
        return Severity.LOW


def _expect(cond: bool, path: str, msg: str) -> None:
    if not cond:
        raise RuleError(f"rules: {path}: {msg}")


def _number(value: Any, path: str, positive: bool = True) -> float:
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    _expect(ok, path, f"must be a number, got {value!r}")
    if positive:
        _expect(value > 0, path, f"must be positive, got {value!r}")
    return float(value)


def _keys(obj: Any, path: str, allowed: set[str], required: set[str]) -> None:
    _expect(isinstance(obj, dict), path, "must be an object")
    unknown = sorted(set(obj) - allowed)
    _expect(not unknown, path, f"unknown key(s) {', '.join(unknown)}; allowed: {sorted(allowed)}")
    missing = sorted(required - set(obj))
    _expect(not missing, path, f"missing key(s) {', '.join(missing)}")


def parse(doc: Any) -> RuleSet:
    top = {"version", "description", "score_window_hours", "cooldown_hours"}
    top |= {"severity_bands", "typologies", "indicators", "fx_usd_per_unit", "networks"}
    _keys(doc, "<root>", top, top - {"description", "fx_usd_per_unit", "networks"})
    version = doc["version"]
    _expect(isinstance(version, str) and version != "", "version", "must be a non-empty string")

    bands = doc["severity_bands"]
    _keys(bands, "severity_bands", {"MEDIUM", "HIGH", "CRITICAL"}, {"MEDIUM", "HIGH", "CRITICAL"})
    floors = [(_number(bands[k], f"severity_bands.{k}"), Severity(k)) for k in bands]
    floors.sort(key=lambda fl: fl[0], reverse=True)

    typologies: dict[Typology, TypologyRule] = {}
    names = {t.value for t in Typology}
    _keys(doc["typologies"], "typologies", names, names)
    for name, spec in doc["typologies"].items():
        path = f"typologies.{name}"
        _keys(
            spec,
            path,
            {"threshold", "sar_key_term", "sar_field"},
            {"threshold", "sar_key_term", "sar_field"},
        )
        typologies[Typology(name)] = TypologyRule(
            _number(spec["threshold"], f"{path}.threshold"),
            str(spec["sar_key_term"]),
            str(spec["sar_field"]),
        )

    detectors: list[Detector] = []
    weights: dict[str, dict[Typology, float]] = {}
    _keys(doc["indicators"], "indicators", set(CATALOG), set())
    for code, spec in doc["indicators"].items():
        path = f"indicators.{code}"
        _keys(spec, path, {"enabled", "weights", "params"}, {"enabled", "weights"})
        _expect(isinstance(spec["enabled"], bool), f"{path}.enabled", "must be true or false")
        cls = CATALOG[code]
        allowed_typ = {t.value for t in cls.typologies}
        _keys(spec["weights"], f"{path}.weights", allowed_typ, set())
        params = spec.get("params", {})
        _keys(params, f"{path}.params", set(cls.defaults), set())
        for key, value in params.items():
            if isinstance(cls.defaults[key], list):
                ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
                _expect(ok, f"{path}.params.{key}", "must be a list of strings")
            else:  # hours of the day may be 0 (midnight); every other parameter is positive
                _number(value, f"{path}.params.{key}", positive=not key.endswith("_hour"))
        try:  # a detector checks what the types above cannot (an MCC list, say)
            detector = cls(**params)
        except ValueError as exc:
            raise RuleError(f"rules: {path}.params.{exc}") from None
        if not spec["enabled"]:
            continue
        detectors.append(detector)
        weights[code] = {
            Typology(t): _number(w, f"{path}.weights.{t}") for t, w in spec["weights"].items()
        }

    usd_per_unit = dict(DEFAULT_USD_PER_UNIT)
    fx = doc.get("fx_usd_per_unit", {})
    _expect(isinstance(fx, dict), "fx_usd_per_unit", "must be an object of currency: USD rate")
    for code, rate in fx.items():
        _expect(code in ISO_4217, f"fx_usd_per_unit.{code}", "not an ISO 4217 currency code")
        usd_per_unit[code] = _number(rate, f"fx_usd_per_unit.{code}")

    return RuleSet(
        networks=_networks(doc.get("networks", {})),
        version=version,
        score_window_ms=int(_number(doc["score_window_hours"], "score_window_hours") * 3_600_000),
        cooldown_ms=int(_number(doc["cooldown_hours"], "cooldown_hours") * 3_600_000),
        severity_bands=tuple(floors),
        typologies=typologies,
        detectors=tuple(detectors),
        weights=weights,
        usd_per_unit=usd_per_unit,
    )


def _networks(spec: Any) -> NetworkRule:
    allowed = {"enabled", "min_customers", "max_customers", "pair_min_weight"}
    _keys(spec, "networks", allowed, set())
    enabled = spec.get("enabled", True)
    _expect(isinstance(enabled, bool), "networks.enabled", "must be true or false")
    low = spec.get("min_customers", NetworkRule.min_customers)
    high = spec.get("max_customers", NetworkRule.max_customers)
    for key, value in (("min_customers", low), ("max_customers", high)):
        _number(value, f"networks.{key}")
        _expect(
            float(value).is_integer(), f"networks.{key}", f"must be a whole number, got {value!r}"
        )
    _expect(low >= 2, "networks.min_customers", f"must be at least 2, got {low!r}")
    _expect(high >= low, "networks.max_customers", "must not be below min_customers")
    pair = _number(
        spec.get("pair_min_weight", NetworkRule.pair_min_weight), "networks.pair_min_weight"
    )
    return NetworkRule(enabled, int(low), int(high), pair)


def default_document() -> dict[str, Any]:
    return json.loads(resources.files("processors").joinpath("default_rules.json").read_text())


def load(path: Path | None = None) -> RuleSet:
    if path is None:
        return parse(default_document())
    try:
        doc = json.loads(Path(path).read_text())
    except json.JSONDecodeError as exc:
        raise RuleError(f"rules: {path}: not valid JSON ({exc})") from None
    return parse(doc)
