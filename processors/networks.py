"""Network cases: linked accounts whose red flags only add up together.

Rings split their footprints across members: one victim pays the ad sites, the controller
pays motels in several cities, and each stays under the alert threshold alone (in the
2026-12-01 independent evaluation, the sex-trafficking rings missed were of that kind).
FIN-2014-A008 asks for review at the level of the relationship, not account by account.

**What a network is.** One link group of processors/links.py: the accounts sharing one phone,
e-mail, address or device, or the senders (and, when it is one of ours, the receiving owner)
of one beneficiary or of forwarded wages. It is bounded twice over:

* size: between ``networks.min_customers`` (2) and ``networks.max_customers`` (20) distinct
  customers in the group now. A utility, a payroll bureau, a landlord with a block of flats
  or an employer's address have far more customers in a week, and the money groups leave out
  payroll, ACH and amounts of US$3,000 or more besides; the cap also keeps the chance of
  unrelated weak flags meeting by accident small.
* time: a member counts while the group's own window keeps it (7 days for the money groups,
  30 days for identifiers), and its red flags only while they would count on the account
  itself (their own window, never more than the score window of 14 days).
* evidence: a case rests on at least one contributing indicator *specific* to its typology
  (weighing on it alone) other than the collection that links its members
  (``LINK_ONLY_CODES``: a trainer paid by two regular clients most days is not a ring
  because one of them travels). Customers sharing an identifier and footprints that fit several
  typologies (hotels in several cities, structuring) do not say which crime, if any: three
  relatives sharing a home phone, one of whom travels for work, are not a labour case.
* payees: a payee group holds the accounts paying one account *again and again* by
  transfer within the score window (earnings handed to a controller, wages to a boss, fees
  to a recruiter by instalment), and that account when it is ours. Paying a friend, a shop or
  a landlord once links nobody to their other payers (processors/links.py).
* pairs: two customers sharing a phone and an address are a household first. FIN-2014-A008's
  red flag is contact details shared by *many* customers (SHARED_IDENTIFIER needs 3), so a
  network of two only makes a case when one of its contributing indicators is specific to
  the typology and weighs at least ``networks.pair_min_weight`` (0.6: ad-site payments or
  many small payers for sex trafficking, recruiters or captured wages for labour, cash in and
  wired out for smuggling), not on two partners' weak flags: on the harder simulated
  population of 2026-12, 11 of 12 households of a night worker (night cash, 0.5) and a
  travelling salesperson (hotels in three cities, 0.5) made a sex-trafficking case without
  it, and none with it.

**When a case opens.** Members report their active hits to every group they belong to (a
summary riding on their links, and a REPORT link when their hits or open alerts change). The
network is scored like one customer (processors/attribution.py on the union of the members'
hits): every indicator counts once however many members carry it, explained evidence does
not count, ambiguous evidence follows the specific; the two sides of one money finding (a
sender's COMMON_BENEFICIARY and the owner's COLLECTOR_FAN_IN, a worker's WAGE_FORWARDING and
the controller's WAGES_COLLECTED) are one finding and count once. A case for a typology opens
when that score reaches the typology's threshold, at least two customers contribute their own
evidence to it, and at least one of them does not reach the threshold alone and has no open
alert for the typology (the others are covered by their own cases). A sender whose only red
flag is COMMON_BENEFICIARY is context: it is counted in the score but never makes a member a
subject, so relatives paying a smuggler are not put in a case for it.

**One case per network and subject.** The case is raised on its subject's own account state
(Engine.apply_signal), under the account's cooldown, so an account never carries a network
case and its own alert for one pattern. The network's id is a digest of its contributing
members, and the case's id adds the institution, the subject and the newest evidence. A
network linked by several identifiers (a phone and an address) is one network: once its case
is open (its subjects' reports say so), no other group of it makes another; before that, each
group picks the same subject from the same hits and makes the same case id, which the case
queue keeps once. While the cooldown lasts a group makes no second case for the same
subject; a member that becomes a subject of a grown network later (the controller whose own
account the group only finds after the workers, say) gets its own case.

**Who reads it (tenancy).** Groups may span institutions, and no institution may read
another's customers. A case is therefore written once per institution holding contributing
members that do not alert alone, addressed to that institution only. Its subject (the
alert's ``account_id``) is the group's owner if it is one of them (the collector, the
controller), else its member contributing most; ``network.members`` lists that institution's
members only, with their hits and event ids; members at other institutions appear as counts
(``other_members``, ``other_institutions``) and their indicators as codes, weights and numbers
with no account, customer or event id. Every case of one network shares ``network_id`` (a
digest of the group's key), so the institutions can find each other's case through the
channels the law gives them (314(b) in the US) without this system telling them.
"""

from __future__ import annotations

import hashlib
import json
from typing import Final

from processors import feedback
from processors.attribution import attribute, unexplained
from processors.links import REPORT, IdentifierGroup, Link, Signal
from processors.model import IndicatorHit, Typology
from processors.rules import RuleSet
from processors.state import AccountState

#: account-state slot: [[group key, event time last linked], ...], newest last: the groups
#: the account's hits are reported to
NETKEYS_SLOT: Final = "~NETKEYS"
#: account-state slot: [event time of the last report, the codes and alerted typologies it said]
NETREP_SLOT: Final = "~NETREP"
MAX_KEYS: Final = 16
#: an unchanged set of hits is reported again at most this often (so groups see their
#: renewed detection times)
REPORT_REFRESH_MS: Final = 24 * 3_600_000
#: event ids a summary carries per hit (the newest)
SUMMARY_IDS: Final = 5
#: codes that are context in a network: counted in its score, never a reason for a member to
#: be a subject (a sender paying a beneficiary who collects from many)
CONTEXT_CODES: Final = frozenset({"COMMON_BENEFICIARY"})
#: codes that say who collects the money linking a network's members, not what the money
#: is: they count in the network's score, but a case needs another indicator specific to
#: the typology besides them. EARNINGS_COLLECTED (two people paying one account on three
#: days of a week) is also a personal trainer's or a child-minder's statement: with a
#: client who travels for work (hotels in three cities, 0.5) the trainer's payee network
#: added up to 1.0 and made a sex-trafficking case (tests/processors/test_earnings_collected.py)
#: while no ring of the harder simulated population needs it (its six rings found through
#: EARNINGS_COLLECTED carry ad-site payments, many small payers, after-hours venues, crypto in
#: small multiples, or the controller's own hotels on one account). WAGES_COLLECTED is not
#: one: it needs three senders on two paydays and the forwarded-wage shape, and the bunkhouse
#: address it adds up with is the labour red flag of FIN-2014-A008.
LINK_ONLY_CODES: Final = frozenset({"EARNINGS_COLLECTED"})
#: the two sides of one money finding count once in a network
FAMILY: Final = {
    "COMMON_BENEFICIARY": "COLLECTOR_FAN_IN",
    "WAGE_FORWARDING": "WAGES_COLLECTED",
}


def _digest(*parts: str) -> str:
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:32]


def family(code: str) -> str:
    return FAMILY.get(code, code)


#: the code of a signal carrying a network case (never an indicator: it is not scored)
NETWORK_CASE: Final = "NETWORK_CASE"
#: the codes a money finding is recorded under on the account that receives the money
HUB_ROLES: Final = {
    "COLLECTOR_FAN_IN": "collector",
    "WAGES_COLLECTED": "controller",
    "EARNINGS_COLLECTED": "controller",
}


def hub(hits: list[IndicatorHit]) -> int:
    """1 if the account is the receiving side of a money finding, else 0."""
    return 1 if any(h.code in HUB_ROLES for h in hits) else 0


def role(hits: list[IndicatorHit]) -> str:
    for h in hits:
        if h.code in HUB_ROLES:
            return HUB_ROLES[h.code]
    return "member"


def summary(state: AccountState, rules: RuleSet) -> list:
    """The account's active, unmuted hits in compact form ([] when it has none):
    ``[[hit state rows, newest SUMMARY_IDS event ids each], {typology: [alert cooldown
    until, network id if the open alert is a network case else ""]}]``."""
    if not state.hits:
        return []
    t = state.watermark
    muted = feedback.suppressed_codes(state, t) if state.suppressions else frozenset()
    rows = []
    for code, hit in state.hits.items():
        if code in muted or code not in rules.weights:
            continue
        if t - hit.detected_event_time > min(rules.score_window_ms, hit.window_seconds * 1000):
            continue
        row = hit.to_state()
        row[6] = list(hit.event_ids[-SUMMARY_IDS:])
        rows.append(row)
    if not rows:
        return []
    rows.sort(key=lambda r: r[0])
    alerted = {typ: [entry[2], entry[3]] for typ, entry in state.alerts.items() if entry[2] > t}
    return [rows, alerted]


class Networks:
    """The account side (what to report to groups) and the group side (when a network
    makes a case) of network cases, under one rule set."""

    def __init__(self, rules: RuleSet, explains: dict[str, frozenset[str]]) -> None:
        self.rules = rules
        self.explains = explains
        self.policy = rules.networks
        self.enabled = rules.networks.enabled
        #: how long a link keeps the account reporting to its group
        self.keep_ms = rules.score_window_ms * 5 // 4  # payee groups (processors/links.py)
        for det in rules.detectors:
            if det.code in ("SHARED_IDENTIFIER", "COMMON_BENEFICIARY", "WAGE_FORWARDING"):
                self.keep_ms = max(self.keep_ms, det.window_ms * 5 // 4)
        self.sources = {d.code: d.source for d in rules.detectors}

    # --- account side -------------------------------------------------------------------

    def outgoing(
        self,
        state: AccountState,
        links: list[Link],
        changed: bool,
        trigger_id: str,
        t: int,
        who: tuple[str, str, str],
        partition: int = -1,
    ) -> list[Link]:
        """The links to send for one step of an account: ``links`` (its new links, each now
        carrying the account's hit summary) and a REPORT to each group it belongs to when
        the step ``changed`` its hits or open alerts. ``who`` is (institution, account,
        customer); ``trigger_id`` the payment or signal that made the step (a replayed
        report changes nothing)."""
        if not self.enabled or (not links and not changed):
            return links
        slots: dict = state.slots  # slots of several shapes; only this module reads these
        if links:
            keys = slots.get(NETKEYS_SLOT)
            if keys is None:
                keys = slots[NETKEYS_SLOT] = []
            fresh = {lk.key for lk in links if lk.role != REPORT}
            kept = [k for k in keys if k[0] not in fresh and t - k[1] <= self.keep_ms]
            kept += [[key, t] for key in sorted(fresh)]
            slots[NETKEYS_SLOT] = kept[-MAX_KEYS:]
        info = summary(state, self.rules)
        for lk in links:
            lk.summary = info
        if not changed:
            return links
        said = ",".join(row[0] for row in info[0]) + "|" + ",".join(sorted(info[1])) if info else ""
        last = slots.get(NETREP_SLOT)
        if last is not None and last[1] == said and t - last[0] < REPORT_REFRESH_MS:
            return links
        slots[NETREP_SLOT] = [t, said]
        sent = {lk.key for lk in links}
        out = list(links)
        for key, _seen in slots.get(NETKEYS_SLOT, []):
            if key in sent:
                continue
            kind, ident = key.split(":", 1)
            out.append(Link(kind, ident, who[0], who[1], who[2], trigger_id, t, partition,
                            REPORT, info))  # fmt: skip
        return out

    # --- group side ---------------------------------------------------------------------

    def _hits(self, rows: list, now: int) -> list[IndicatorHit]:
        rules = self.rules
        out = []
        for row in rows:
            hit = IndicatorHit.from_state(row)
            if hit.code not in rules.weights:
                continue
            if now - hit.detected_event_time > min(
                rules.score_window_ms, hit.window_seconds * 1000
            ):
                continue
            hit.weight = max(rules.weights[hit.code].values(), default=0.0)
            out.append(hit)
        return unexplained(out, self.explains)

    def cases(self, group: IdentifierGroup, key: str, replay: bool, now_ms: int) -> list[Signal]:
        """The network cases ``group`` (keyed ``key``) opens now, or re-sends on a replayed
        link (``replay``: LinkIndex.replayed): each a Signal to the case's subject account,
        whose Engine.apply_signal raises it as that account's alert (so the account's own
        cooldown covers both: one alert per account and pattern)."""
        if not self.enabled:
            return []
        now = group.watermark
        for typ in [t for t, c in group.cases.items() if c[0] <= now]:
            del group.cases[typ]
        if replay:
            return [Signal.loads(row.encode()) for c in group.cases.values() for row in c[1]]
        members = group.members
        if len(members) < 2:
            return []
        reporting = [k for k, m in members.items() if m[6]]
        if len(reporting) < 2:
            return []
        customers = {(k.split("|", 1)[0], m[1]) for k, m in members.items()}
        if not self.policy.min_customers <= len(customers) <= self.policy.max_customers:
            return []
        own: dict[str, list[IndicatorHit]] = {}
        for k in reporting:
            hits = self._hits(members[k][6][0], now)
            if hits:
                own[k] = hits
        if len(own) < 2:
            return []
        # The network as one customer: one hit per finding (the heaviest), then attribution.
        best: dict[str, IndicatorHit] = {}
        for hits in own.values():
            for hit in hits:
                fam = family(hit.code)
                held = best.get(fam)
                if held is None or hit.weight > held.weight:
                    best[fam] = hit
        by_typology = attribute(list(best.values()), self.rules, self.explains)
        out: list[Signal] = []
        for typology in sorted(by_typology, key=lambda t: t.value):
            contributing = by_typology[typology]
            score = round(sum(w for _, w in contributing), 6)
            spec = self.rules.typologies[typology]
            if score < spec.threshold:
                continue
            families = {family(h.code) for h, _ in contributing}
            subjects: dict[str, float] = {}  # member key -> its own score for the typology
            for k, hits in own.items():
                if not any(
                    family(h.code) in families and h.code not in CONTEXT_CODES for h in hits
                ):
                    continue
                alone = attribute(hits, self.rules, self.explains).get(typology, [])
                subjects[k] = round(sum(w for _, w in alone), 6)
            if len({(k.split("|", 1)[0], members[k][1]) for k in subjects}) < 2:
                continue
            if all(v >= spec.threshold for v in subjects.values()):
                continue  # every contributor alerts alone: their own cases cover it
            strongest = max(
                (
                    w
                    for h, w in contributing
                    if len(self.rules.weights[h.code]) == 1 and h.code not in LINK_ONLY_CODES
                ),
                default=0.0,
            )
            if strongest == 0.0:
                continue  # shared identifiers, ambiguous footprints and who collects from
                # whom do not name a crime
            if len(customers) == 2 and strongest < self.policy.pair_min_weight:
                continue  # a household's size: weak flags of two partners are not a ring
            network_id = _digest("network", *sorted(subjects))
            if any(
                (members[k][6][1].get(typology.value) or [0, ""])[1] == network_id
                and members[k][6][1][typology.value][0] > now
                for k in subjects
            ):
                continue  # this network's case is open (made from another of its groups)
            signals = self._records(group, key, typology, score, contributing, subjects, own,
                                    now, now_ms)  # fmt: skip
            if signals:
                rows = [sig.dumps().decode() for sig in signals]
                opened = group.cases.get(typology.value)
                group.cases[typology.value] = [
                    now + self.rules.cooldown_ms,
                    (opened[1] if opened else []) + rows,
                ]
                out += signals
        return out

    def _records(
        self,
        group: IdentifierGroup,
        key: str,
        typology: Typology,
        score: float,
        contributing: list[tuple[IndicatorHit, float]],
        subjects: dict[str, float],
        own: dict[str, list[IndicatorHit]],
        now: int,
        now_ms: int,
    ) -> list[Signal]:
        """One case per institution with a subject that does not alert alone, as a signal
        to that subject."""
        rules = self.rules
        spec = rules.typologies[typology]
        members = group.members

        covered: set[str] = set()
        for row in group.cases.get(typology.value, [0, []])[1]:
            sig = json.loads(row)  # a dumped Signal: [format, id, code, institution, account, ...]
            covered.add(f"{sig[3]}|{sig[4]}")

        def open_alert(k: str, typology: Typology) -> bool:
            """The member has an open alert for the typology, or this group made it the
            subject of a case within the cooldown (its report may still be on its way)."""
            alerted = members[k][6][1].get(typology.value)
            return k in covered or (alerted is not None and alerted[0] > now)

        # The network of the case is its subjects: accounts linked by several identifiers
        # (a phone and an address, say) make the same case, with the same id, from each
        # identifier's group, so the case queue keeps one.
        network_id = _digest("network", *sorted(subjects))
        episode = max(h.detected_event_time for h, _ in contributing)
        kind = key.split(":", 1)[0]
        institutions = sorted({k.split("|", 1)[0] for k in subjects})
        weights = {h.code: w for h, w in contributing}
        families = {family(h.code): w for h, w in contributing}
        out = []
        for inst in institutions:
            mine = [k for k in subjects if k.split("|", 1)[0] == inst]
            candidates = [
                k for k in mine if subjects[k] < spec.threshold and not open_alert(k, typology)
            ]
            if not candidates:
                continue
            # The subject: the receiving side of a money finding (the collector, the
            # controller) if it is here, else the member contributing most. Decided from the
            # members' hits only, so every group of the same network picks the same one.
            principal = min(candidates, key=lambda k: (-hub(own[k]), -subjects[k], k))
            local = mine
            indicators = []
            evidence: dict[str, None] = {}
            shown: set[str] = set()
            for k in sorted(local, key=lambda k: (k != principal, k)):
                for hit in own.get(k, []):
                    fam = family(hit.code)
                    if fam not in families or hit.code in shown:
                        continue
                    shown.add(hit.code)
                    rec = hit.to_record()
                    rec["weight"] = weights.get(hit.code, families[fam])
                    rec["explanation"] = f"[{k.split('|', 1)[1]}] {hit.explanation}"
                    indicators.append(rec)
                    evidence.update(dict.fromkeys(hit.event_ids))
            local_fams = {family(h.code) for k in local for h in own.get(k, [])}
            for hit, weight in contributing:
                fam = family(hit.code)
                if fam in local_fams:
                    continue
                carriers = sum(
                    1 for k, hits in own.items()
                    if k.split("|", 1)[0] != inst and any(family(h.code) == fam for h in hits)
                )  # fmt: skip
                indicators.append({
                    "code": hit.code,
                    "source": hit.source,
                    "explanation": f"Seen on {carriers} linked account(s) at other "
                    f"institutions: measured {hit.measured:g} against {hit.threshold:g}.",
                    "window_seconds": hit.window_seconds,
                    "measured": float(hit.measured),
                    "threshold": float(hit.threshold),
                    "weight": float(weight),
                    "event_ids": [],
                    "detected_event_time": hit.detected_event_time,
                })  # fmt: skip
            hits = [h for h, _ in contributing]
            listed = [
                {
                    "account_id": k.split("|", 1)[1],
                    "customer_id": members[k][1],
                    "role": role(own.get(k, [])),
                    "indicator_codes": sorted(h.code for h in own.get(k, [])),
                    "alerts_alone": k in subjects and subjects[k] >= spec.threshold,
                }
                for k in sorted(local, key=lambda k: (k != principal, k))
            ]
            elsewhere = [k for k in subjects if k.split("|", 1)[0] != inst]
            alert_id = _digest(
                network_id, inst, principal, typology.value, rules.version, str(episode)
            )
            record = {
                "alert_id": alert_id,
                "institution_id": inst,
                "account_id": principal.split("|", 1)[1],
                "customer_id": members[principal][1],
                "typology": typology.value,
                "score": score,
                "severity": rules.severity(score).value,
                "indicators": indicators,
                "evidence_event_ids": list(evidence),
                "first_event_time": min(h.first_event_time or h.detected_event_time for h in hits),
                "last_event_time": max(h.last_event_time or h.detected_event_time for h in hits),
                "detected_at": now_ms,
                "sar_key_term": spec.sar_key_term,
                "sar_field": spec.sar_field,
                "rule_set_version": rules.version,
                "network": {
                    "network_id": network_id,
                    "link_kind": kind,
                    "members": listed,
                    "other_members": len(elsewhere),
                    "other_institutions": len({k.split("|", 1)[0] for k in elsewhere}),
                },
            }
            own_ids = [i for h in own[principal] for i in h.event_ids]
            out.append(
                Signal(
                    signal_id=_digest("case", alert_id),
                    code=NETWORK_CASE,
                    institution_id=inst,
                    account_id=principal.split("|", 1)[1],
                    customer_id=members[principal][1],
                    event_time=now,
                    measured=score,
                    threshold=spec.threshold,
                    window_seconds=rules.score_window_ms // 1000,
                    explanation=f"{typology.value} network case: {len(subjects)} linked "
                    f"accounts, combined score {score:g}",
                    event_ids=own_ids[-SUMMARY_IDS:],
                    first_event_time=record["first_event_time"],
                    partition=members[principal][4],
                    case=record,
                )
            )
        return out
