"""The alert policy: when a session's change is worth a clinician's attention.

The published rupture rules (app/core/ruptures.py) stay as evidence, but on a simulated
caseload they flag about 6 sessions in 10 of episodes without a rupture (bench/caseload.py):
mostly because they weigh a change against the spread *between* clients, or against a fixed
number of points, not against how much *this* kind of score moves from one session to the
next within one client. The policy does the latter, and lets independent evidence add up:

- Each series (one instrument, one rater) whose alliance scale has a known within-client
  spread gives, at each session, z = (baseline - score) / (s_w x sqrt(1 + 1/n)): the drop
  from the mean of the client's last (up to 8) sessions, in units of the standard error of
  that difference (the session's own noise and the baseline's).
- The z of all the series scored at one session are combined (Stouffer's sum, allowing a
  correlation rho between series of the same session): Z = sum z / sqrt(k + k(k-1) rho).
- Z at or above the profile's moderate threshold is a `change` finding of moderate priority;
  at or above its high threshold, of high priority. A direct report (the client's "yes", a
  clinician's direct sign) alerts on its own, as high; a rupture marker, as moderate
  (app/core/alert_grouping.py).

The within-client spread s_w of a scale is the organisation's own, pooled over its episodes
from successive sessions (s_w^2 = mean squared successive difference / 2, von Neumann 1941),
once it rests on enough pairs; before that, the one a declared norm implies, SD x sqrt(1 - r)
with a test-retest r (the SRS: 4.19 x sqrt(1 - .64) = 2.5 points); else the series gives no
change evidence (its published rules still flag, as evidence).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, NotRequired, TypedDict

Level = Literal["moderate", "high"]
SeriesKey = tuple[str, str, str]  # instrument, rater, scale


@dataclass(frozen=True, slots=True)
class Profile:
    """Thresholds of the combined change Z. Each profile's detection and false-alarm rates on
    the simulated caseload are printed by `make bench` and stated in the README."""

    name: str
    moderate: float
    high: float


PROFILES: dict[str, Profile] = {
    "sensitive": Profile("sensitive", moderate=1.0, high=2.3),
    "balanced": Profile("balanced", moderate=1.2, high=2.5),
    "specific": Profile("specific", moderate=1.6, high=3.0),
}
DEFAULT_PROFILE = "balanced"
# Sessions of the baseline: recent enough to follow a slow trend, long enough to be stable.
BASELINE_SESSIONS = 8
# A baseline needs at least this many earlier sessions.
MIN_BASELINE = 2
# Assumed correlation between the session-to-session deviations of two series scored at the
# same session (a session that went worse than usual shows on both, partly). Larger values
# make combined evidence count for less.
SERIES_CORRELATION = 0.3
# Pairs of successive sessions an organisation needs before its own within-client spread is
# used instead of the declared norm's.
MIN_PAIRS = 30
EPSILON = 1e-9


@dataclass(frozen=True, slots=True)
class WithinSpread:
    """How much a scale's score moves from one session to the next within one client."""

    sd: float
    source: str


class ChangeComponent(TypedDict):
    instrument: str
    rater: str
    scale: str
    administration_id: str
    value: float
    baseline: float
    baseline_sessions: int
    within_sd: float
    within_sd_source: str
    z: float


class ChangeFinding(TypedDict):
    """The policy's finding at one session: the combined change and its parts."""

    rule: Literal["alliance_change"]
    session: int
    z: float
    threshold: float
    level: Level
    profile: str
    components: list[ChangeComponent]
    # Repair guidance ids, chosen by the caller (the service) for this finding.
    guidance: NotRequired[list[str]]


@dataclass(frozen=True, slots=True)
class ScoredSession:
    session: int
    administration_id: str
    score: float


def within_spread(
    *,
    organisation_pairs: int,
    organisation_msd: float | None,
    norm_sd: float | None,
    norm_test_retest: float | None,
    norm_source: str | None,
) -> WithinSpread | None:
    """The within-client SD of a scale: the organisation's, from the mean squared difference
    of successive sessions (`organisation_msd`, over `organisation_pairs` pairs) once there
    are MIN_PAIRS of them; else SD x sqrt(1 - r) from a declared norm with a test-retest r;
    else None."""
    if organisation_msd is not None and organisation_pairs >= MIN_PAIRS and organisation_msd > 0:
        return WithinSpread(
            math.sqrt(organisation_msd / 2),
            f"organisation ({organisation_pairs} pairs of successive sessions)",
        )
    if norm_sd is not None and norm_test_retest is not None:
        return WithinSpread(
            norm_sd * math.sqrt(1 - norm_test_retest),
            f"norm: SD {norm_sd:g} x sqrt(1 - test-retest {norm_test_retest:g}) ({norm_source})",
        )
    return None


def change_findings(
    series: Mapping[SeriesKey, Sequence[ScoredSession]],
    spreads: Mapping[SeriesKey, WithinSpread],
    profile: Profile,
) -> list[ChangeFinding]:
    """The sessions whose combined change reaches the profile's moderate threshold, in
    session order. `series` gives each series' scores (any order: they are sorted here)."""
    by_session: dict[int, list[ChangeComponent]] = {}
    for key, points in sorted(series.items()):
        spread = spreads.get(key)
        if spread is None or spread.sd <= 0:
            continue
        ordered = sorted(points, key=lambda p: (p.session, p.administration_id))
        for index, point in enumerate(ordered):
            history = ordered[max(0, index - BASELINE_SESSIONS) : index]
            if len(history) < MIN_BASELINE:
                continue
            baseline = math.fsum(p.score for p in history) / len(history)
            error = spread.sd * math.sqrt(1 + 1 / len(history))
            instrument, rater, scale = key
            by_session.setdefault(point.session, []).append(
                {
                    "instrument": instrument,
                    "rater": rater,
                    "scale": scale,
                    "administration_id": point.administration_id,
                    "value": point.score,
                    "baseline": round(baseline, 6),
                    "baseline_sessions": len(history),
                    "within_sd": round(spread.sd, 6),
                    "within_sd_source": spread.source,
                    "z": round((baseline - point.score) / error, 6),
                }
            )
    findings: list[ChangeFinding] = []
    for session in sorted(by_session):
        components = by_session[session]
        k = len(components)
        combined = math.fsum(c["z"] for c in components) / math.sqrt(
            k + k * (k - 1) * SERIES_CORRELATION
        )
        if combined < profile.moderate - EPSILON:
            continue
        level: Level = "high" if combined >= profile.high - EPSILON else "moderate"
        findings.append(
            {
                "rule": "alliance_change",
                "session": session,
                "z": round(combined, 6),
                "threshold": profile.high if level == "high" else profile.moderate,
                "level": level,
                "profile": profile.name,
                "components": components,
            }
        )
    return findings
