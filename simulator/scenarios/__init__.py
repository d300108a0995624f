"""The trafficking scenarios injected into the simulated population, one module per typology.

sex.py, labour.py and smuggling.py each hold their typology's single-account scenarios,
groups.py the multi-account ones. A scenario is a function that returns the events it adds to
its account's ordinary life (``(event_time, record)`` pairs, records built through
:class:`~simulator.world.World`) and a :class:`~simulator.kinds.Kind` entry in its module's
SCENARIOS (or GROUPS) saying how its account is opened.

Each builder is written so that the default rule set must alert (at least two indicators of
the typology, summed weight >= 1.0, inside one 7-day window); the seed varies counts, amounts,
cities and timing. Scenarios are assigned per typology in turn, classic first, so appending a
scenario to a module leaves every existing seed's earlier assignments as they were.
"""

from __future__ import annotations

from simulator.kinds import TYPOLOGIES, GroupKind, Kind
from simulator.scenarios import groups, labour, sex, smuggling

SCENARIOS: dict[str, Kind] = {
    k.kind: k for k in (*sex.SCENARIOS, *labour.SCENARIOS, *smuggling.SCENARIOS)
}
GROUPS: dict[str, GroupKind] = {g.kind: g for g in groups.GROUPS}

# The variants of each typology, classic first.
SCENARIO_VARIANTS: dict[str, tuple[str, ...]] = {
    t: tuple(k.kind for k in SCENARIOS.values() if k.typology == t) for t in TYPOLOGIES
}
# Multi-account scenarios: kind -> typology.
GROUP_KINDS: dict[str, str] = {g.kind: g.typology for g in GROUPS.values()}
SUSTAIN_MIN_DAYS = sex.SUSTAIN_MIN_DAYS

__all__ = [
    "GROUPS",
    "GROUP_KINDS",
    "SCENARIOS",
    "SCENARIO_VARIANTS",
    "SUSTAIN_MIN_DAYS",
    "TYPOLOGIES",
]
