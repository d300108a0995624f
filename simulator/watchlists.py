"""The watchlist entries the simulated world's scenarios use, and a rule set that knows them.

The watchlist detectors (ad sites, unlicensed recruiters, dark-web wallets, identifiers seen
in ads) read their lists from the rule set (or the intel feed), empty by default. The
simulated world invents its own ad sites, recruiters and wallets; :func:`rules_overlay`
writes them into a rule set so a backtest can see what an institution with that intelligence
would see.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from simulator.parties import AD_SITES, online_merchant
from simulator.world import World


@dataclass(frozen=True, slots=True)
class Watchlists:
    """Values as the events carry them: merchant ids in clear, the rest keyed hashes under the
    run's key."""

    ad_site_merchant_ids: tuple[str, ...]
    recruiters: tuple[str, ...]
    dark_web_wallets: tuple[str, ...]
    intel_identifiers: tuple[str, ...]

    @classmethod
    def of(cls, w: World) -> Watchlists:
        """What the world's scenarios used (call after they are built)."""
        return cls(
            ad_site_merchant_ids=tuple(online_merchant(*s).merchant_id for s in AD_SITES),
            recruiters=tuple(sorted(str(r.account_id) for r in w.recruiters)),
            dark_web_wallets=tuple(w.dark_wallets),
            intel_identifiers=tuple(sorted(set(w.intel))),
        )

    def as_dict(self) -> dict[str, list[str]]:
        return {k: list(v) for k, v in asdict(self).items()}


# Rule-set indicator parameter that receives each watchlist.
_WATCHLIST_PARAMS = {
    "ad_site_merchant_ids": ("AD_SITE_PAYMENTS", "merchant_ids"),
    "recruiters": ("UNLICENSED_RECRUITER", "recruiters"),
    "dark_web_wallets": ("CRYPTO_SMALL_MULTIPLES", "dark_web_wallets"),
    "intel_identifiers": ("INTEL_IDENTIFIER_MATCH", "identifiers"),
}


def rules_overlay(doc: dict[str, Any], watchlists: Watchlists, label: str = "sim") -> dict:
    """A copy of rule-set ``doc`` whose watchlists also hold the simulated world's entries.

    The version gets ``+<label>`` so alerts raised under it are told apart from production
    ones. Indicators missing from ``doc`` are left out, not added.
    """
    out = json.loads(json.dumps(doc))
    out["version"] = f"{out['version']}+{label}"
    lists = watchlists.as_dict()
    for name, (code, param) in _WATCHLIST_PARAMS.items():
        spec = out.get("indicators", {}).get(code)
        if spec is None:
            continue
        params = spec.setdefault("params", {})
        params[param] = list(dict.fromkeys([*params.get(param, []), *lists[name]]))
    return out
