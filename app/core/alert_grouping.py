"""Alerts: one clinical signal per rupture, derived from an episode's evidence.

Flags (one rule, one scale, one session) and the policy's change findings are the evidence;
an alert groups the evidence of one rupture (shared/spec/alerts.md). A pure function of the
episode's evidence, its scores and the clinician's closures: it never depends on the order in
which administrations arrived.

Grouping, session by session:
- a flag that continues an earlier one (`continuing`, app/core/ruptures.py) joins the alert
  that holds the flag it continues, as does a drop of the same family (any drop rule) on the
  same series and scale while an earlier drop there is not yet back;
- any other evidence of a session joins the alert that already concerns that session;
- else it opens a new alert, identified by the session that opened it.
An alert a clinician closed takes no evidence of sessions after its closure.

Priority comes from the strongest evidence (the table is in the README): high for a direct
report (the client's "yes", a clinician's direct sign) or a high change finding; moderate for
a rupture marker, a moderate change finding or a client/therapist gap; low for any other
published rule on its own. Only moderate and high alerts notify.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypedDict

from app.core.alert_policy import ChangeFinding, ScoredSession, SeriesKey

Priority = Literal["high", "moderate", "low"]
Status = Literal["open", "repaired", "unrepaired", "withdrawn", "closed"]
PRIORITY_RANK: dict[str, int] = {"low": 0, "moderate": 1, "high": 2}
NOTIFYING = ("moderate", "high")
DROP_FAMILY = ("drop_from_previous", "reliable_drop", "v_drop", "sudden_loss")
# Sessions within which a condition (below the cut-off, a gap, a report, a change) should come
# back before its alert is unrepaired; drops use their own rule's repair window.
CONDITION_WINDOW = 3
EPSILON = 1e-9

Json = dict[str, Any]


class Alert(TypedDict):
    opened_session: int
    last_session: int
    status: Status
    late: bool
    priority: Priority
    dimensions: list[str]
    kinds: list[str]
    evidence: list[Json]
    changes: list[ChangeFinding]
    guidance: list[str]
    back_session: int | None
    closed_after_session: int | None


@dataclass
class _Building:
    opened_session: int
    flags: list[Json] = field(default_factory=list)
    changes: list[ChangeFinding] = field(default_factory=list)
    sessions: set[int] = field(default_factory=set)
    closed_after: int | None = None

    def accepts(self, session: int) -> bool:
        return self.closed_after is None or session <= self.closed_after


def flag_key(flag: Mapping[str, Any]) -> str:
    return "/".join(
        str(flag[k]) for k in ("instrument", "rater", "rule", "scale", "administration_id")
    )


def derive_alerts(
    flags: Sequence[Json],
    changes: Sequence[ChangeFinding],
    scores: Mapping[SeriesKey, Sequence[ScoredSession]],
    *,
    dimensions: Mapping[tuple[str, str], str | None],
    closures: Mapping[int, int] | None = None,
    ended: bool = False,
) -> list[Alert]:
    """The episode's alerts, in the order they opened.

    `scores` gives every series' scores by scale (to see whether evidence came back);
    `dimensions` the Bordin dimension of each (instrument, scale); `closures` maps an alert's
    opening session to the last session it took evidence from when a clinician closed it.
    """
    closures = closures or {}
    series = _Series(scores)
    ordered: list[tuple[int, int, str, Json | ChangeFinding]] = []
    for flag in flags:
        # Continuing flags first within their session: they say which alert it belongs to.
        ordered.append((flag["session"], 0 if flag.get("continuing") else 1, flag_key(flag), flag))
    for change in changes:
        ordered.append((change["session"], 2, f"change/{change['session']}", change))
    ordered.sort(key=lambda entry: entry[:3])
    alerts: list[_Building] = []
    holder: dict[str, _Building] = {}  # run of flags -> the alert that took its latest flag
    for session, _, _, item in ordered:
        target = _target(item, session, alerts, holder, series)
        if target is None:
            target = _Building(session, closed_after=closures.get(session))
            alerts.append(target)
        target.sessions.add(session)
        if item.get("rule") == "alliance_change":
            target.changes.append(item)  # type: ignore[arg-type]
        else:
            target.flags.append(item)  # type: ignore[arg-type]
            chain = _chain(item)
            if chain is not None:
                holder[chain] = target
    return [_finish(alert, series, dimensions, ended) for alert in alerts]


def _target(
    item: Mapping[str, Any],
    session: int,
    alerts: list[_Building],
    holder: Mapping[str, _Building],
    series: _Series,
) -> _Building | None:
    chain = _chain(item)
    if chain is not None:
        # The alert that took the latest flag of the same run (the opener's, unless a
        # clinician closed that one since).
        alert = holder.get(chain)
        if alert is not None and alert.accepts(session):
            return alert
    if item.get("rule") in DROP_FAMILY:
        # A drop on a series and scale where an earlier drop is not back yet: the same rupture.
        for alert in reversed(alerts):
            if alert.accepts(session) and any(
                _same_series_drop(flag, item) and (series.back_at(flag) or session + 1) > session
                for flag in alert.flags
            ):
                return alert
    for alert in reversed(alerts):
        if session in alert.sessions and alert.accepts(session):
            return alert
    return None


def _chain(item: Mapping[str, Any]) -> str | None:
    """The run of flags a flag belongs to: the same rule and scale from one opener."""
    if item.get("rule") == "alliance_change":
        return None
    opener = item["continues"]["administration_id"] if item.get("continues") else None
    return "run/" + "/".join(
        str(x)
        for x in (item["instrument"], item["rater"], item["rule"], item["scale"],
                  opener or item["administration_id"])
    )  # fmt: skip


def _same_series_drop(flag: Mapping[str, Any], item: Mapping[str, Any]) -> bool:
    return (
        flag["rule"] in DROP_FAMILY
        and (flag["instrument"], flag["rater"], flag["scale"])
        == (item["instrument"], item["rater"], item["scale"])
        and flag["session"] < item["session"]
    )


class _Series:
    """Every series' scores in session order, for the sessions after a piece of evidence;
    the first session each flag is back at is worked out once."""

    def __init__(self, scores: Mapping[SeriesKey, Sequence[ScoredSession]]) -> None:
        self.points = {
            key: sorted(points, key=lambda p: (p.session, p.administration_id))
            for key, points in scores.items()
        }
        self.sessions = {key: [p.session for p in points] for key, points in self.points.items()}
        self.last = max((s[-1] for s in self.sessions.values() if s), default=0)
        self._backs: dict[int, int | None] = {}

    def later(self, key: SeriesKey, session: int) -> Sequence[ScoredSession]:
        points = self.points.get(key, [])
        return points[bisect_right(self.sessions.get(key, []), session) :]

    def back_at(self, flag: Mapping[str, Any]) -> int | None:
        """`_back_at` of a flag held by an alert being built (kept while it is built)."""
        known = self._backs.get(id(flag), -1)
        if known == -1:
            known = self._backs[id(flag)] = _back_at(flag, self)
        return known


def _back_at(evidence: Mapping[str, Any], series: _Series) -> int | None:
    """The first later session at which this piece of evidence is back, or None."""
    session = evidence["session"]
    if evidence.get("rule") == "alliance_change":
        backs = []
        for part in evidence["components"]:
            later = series.later((part["instrument"], part["rater"], part["scale"]), session)
            # Back within the client's usual variation of the baseline.
            floor = part["baseline"] - part["within_sd"]
            back = next((p.session for p in later if p.score >= floor - EPSILON), None)
            if back is None:
                return None
            backs.append(back)
        return max(backs)
    later = series.later((evidence["instrument"], evidence["rater"], evidence["scale"]), session)
    rule = evidence["rule"]
    if rule in DROP_FAMILY:
        # Back once the rule that found the drop would no longer find it: the score is within
        # the rule's threshold of its reference (a flag's own repair, in /ruptures, asks for
        # the reference itself).
        reference = evidence.get("reference")
        if reference is None:
            return None
        threshold = evidence["threshold"]
        return next((p.session for p in later if reference - p.score < threshold - EPSILON), None)
    if rule == "below_cutoff":
        threshold = evidence["threshold"]
        zone = evidence.get("alert_zone", "at_or_below")
        return next((p.session for p in later if not _in_zone(p.score, threshold, zone)), None)
    # Reports and client/therapist gaps: back at the next session of the series that does not
    # raise them again (the series' later sessions are those with a score on this scale).
    flagged = evidence.get("_flagged_sessions", set())
    return next((p.session for p in later if p.session not in flagged), None)


def _in_zone(score: float, threshold: float, zone: str) -> bool:
    if zone == "at_or_below":
        return score <= threshold + EPSILON
    if zone == "below":
        return score < threshold - EPSILON
    if zone == "at_or_above":
        return score >= threshold - EPSILON
    return score > threshold + EPSILON


def _finish(
    alert: _Building,
    series: _Series,
    dimensions: Mapping[tuple[str, str], str | None],
    ended: bool,
) -> Alert:
    items: list[Mapping[str, Any]] = [*alert.flags, *alert.changes]
    # Sessions at which the same report or gap was raised again (for "back" of events).
    raised: dict[tuple[str, str, str, str], set[int]] = {}
    for flag in alert.flags:
        raised.setdefault(
            (flag["instrument"], flag["rater"], flag["rule"], flag["scale"]), set()
        ).add(flag["session"])
    backs: list[int | None] = []
    late = False
    overdue = False
    last_scored = series.last
    for item in items:
        if item.get("rule") in ("reported_rupture", "rater_discrepancy"):
            key = (item["instrument"], item["rater"], item["rule"], item["scale"])
            item = {**item, "_flagged_sessions": raised.get(key, set())}
        back = _back_at(item, series)
        backs.append(back)
        # A drop's own rule says when its window passed (its state); other evidence has
        # CONDITION_WINDOW sessions to come back.
        if item.get("rule") in DROP_FAMILY:
            window_passed = item.get("state") == "unrepaired"
            late = late or (back is not None and window_passed)
        else:
            limit = item["session"] + CONDITION_WINDOW
            window_passed = last_scored > limit
            late = late or (back is not None and back > limit)
        if back is None and (ended or window_passed):
            overdue = True
    back_session = None if None in backs else max(b for b in backs if b is not None)
    status: Status
    if alert.closed_after is not None:
        status = "closed"
    elif back_session is not None:
        status = "repaired"
    elif overdue:
        status = "unrepaired"
    else:
        status = "open"
    return {
        "opened_session": alert.opened_session,
        "last_session": max(alert.sessions),
        "status": status,
        "late": status == "repaired" and late,
        "priority": _priority(alert),
        "dimensions": sorted(
            {
                dimension
                for flag in alert.flags
                if (dimension := dimensions.get((flag["instrument"], flag["scale"])))
                in ("goal", "task", "bond")
            }
        ),
        "kinds": sorted({kind for flag in alert.flags for kind in flag.get("kinds") or ()}),
        "evidence": sorted(alert.flags, key=lambda f: (f["session"], flag_key(f))),
        "changes": sorted(alert.changes, key=lambda c: c["session"]),
        "guidance": _ranked_guidance([*alert.flags, *alert.changes]),
        "back_session": back_session if status == "repaired" else None,
        "closed_after_session": alert.closed_after,
    }


def evidence_priority(item: Mapping[str, Any]) -> Priority:
    """The priority one piece of evidence gives its alert on its own."""
    rule = item.get("rule")
    if rule == "alliance_change":
        return "high" if item["level"] == "high" else "moderate"
    if rule == "reported_rupture":
        return "moderate" if item.get("severity") == "marker" else "high"
    if rule == "rater_discrepancy":
        return "moderate"
    return "low"


def _priority(alert: _Building) -> Priority:
    levels = [evidence_priority(item) for item in [*alert.flags, *alert.changes]]
    return max(levels, key=lambda level: PRIORITY_RANK[level])


def _ranked_guidance(items: Sequence[Mapping[str, Any]]) -> list[str]:
    """One list for the alert: entries chosen by its strongest evidence first, then by more
    of its evidence, then in the order they first appear (the catalogue's, within a flag)."""
    strength: dict[str, int] = {}
    counts: dict[str, int] = {}
    first: dict[str, int] = {}
    for item in items:
        rank = PRIORITY_RANK[evidence_priority(item)]
        for entry in item.get("guidance") or ():
            strength[entry] = max(strength.get(entry, 0), rank)
            counts[entry] = counts.get(entry, 0) + 1
            first.setdefault(entry, len(first))
    return sorted(counts, key=lambda entry: (-strength[entry], -counts[entry], first[entry]))


AlertEvent = Literal[
    "alert.opened", "alert.updated", "alert.repaired", "alert.unrepaired", "alert.withdrawn"
]


def alert_events(
    before: Mapping[int, Mapping[str, Any]], after: Mapping[int, Mapping[str, Any]]
) -> dict[int, AlertEvent]:
    """At most one event per alert (keyed by its opening session) for going from the alerts
    `before` a write to those `after` it. Only alerts that notify (moderate or high) send
    events: a low alert that rises to moderate sends `alert.opened`."""
    events: dict[int, AlertEvent] = {}
    for key, gone in before.items():
        if key not in after and gone["priority"] in NOTIFYING:
            events[key] = "alert.withdrawn"
    for key, alert in after.items():
        if alert["priority"] not in NOTIFYING:
            continue
        previous = before.get(key)
        if previous is None or previous["priority"] not in NOTIFYING:
            events[key] = "alert.opened"
        elif alert["status"] != previous["status"] and alert["status"] in (
            "repaired",
            "unrepaired",
        ):
            events[key] = f"alert.{alert['status']}"  # type: ignore[assignment]
        elif (
            _evidence_keys(alert) - _evidence_keys(previous)
            or PRIORITY_RANK[alert["priority"]] > PRIORITY_RANK[previous["priority"]]
        ):
            events[key] = "alert.updated"
    return events


def _evidence_keys(alert: Mapping[str, Any]) -> set[str]:
    return {flag_key(flag) for flag in alert["evidence"]} | {
        f"change/{change['session']}" for change in alert["changes"]
    }
