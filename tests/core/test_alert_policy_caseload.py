"""The alert policy's operating characteristics on the simulated caseload of bench/caseload.py
(its model and sources are documented there): the targets of shared/spec/alerts.md hold for
the default profile. A smaller caseload than `make bench` prints, with the same seed."""

from __future__ import annotations

from dataclasses import replace

from bench.caseload import Model, measure


def test_the_default_profile_catches_9_ruptures_in_10_and_cries_wolf_under_1_session_in_10() -> (
    None
):
    before, after = measure(replace(Model(), episodes=300), "balanced", writes_sample=0)
    assert after.detection >= 0.9, after
    assert after.false_alarms <= 0.1, after
    # The published rules alone flag most sessions of episodes without a rupture.
    assert before.false_alarms > 0.5, before
