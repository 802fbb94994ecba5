"""Which alerts a re-evaluation calls for: raised, repaired, unrepaired, withdrawn."""

from __future__ import annotations

from typing import Any

from app.core.flag_events import flag_changes, flag_identity


def _flag(administration: str = "a4", state: str | None = "pending", **extra: Any) -> Any:
    return {
        "administration_id": administration, "instrument": "wai-sr", "rater": "client",
        "rule": "v_drop", "scale": "bond", "session": 4, "state": state, **extra,
    }  # fmt: skip


def test_a_flag_that_was_not_there_before_is_raised() -> None:
    assert [(c.type, c.flag) for c in flag_changes([], [_flag()])] == [("rupture.raised", _flag())]


def test_a_flag_raised_already_repaired_is_only_raised() -> None:
    changes = flag_changes([], [_flag(state="repaired")])
    assert [change.type for change in changes] == ["rupture.raised"]


def test_a_flag_whose_state_becomes_repaired_or_unrepaired_says_so() -> None:
    repaired = flag_changes([_flag()], [_flag(state="repaired")])
    assert [(c.type, c.flag["state"]) for c in repaired] == [("rupture.repaired", "repaired")]
    unrepaired = flag_changes([_flag()], [_flag(state="unrepaired")])
    assert [c.type for c in unrepaired] == ["rupture.unrepaired"]
    assert [
        c.type for c in flag_changes([_flag(state="repaired")], [_flag("a4", "unrepaired")])
    ] == ["rupture.unrepaired"]


def test_an_unchanged_flag_or_another_change_calls_for_no_alert() -> None:
    assert flag_changes([_flag()], [_flag()]) == []
    assert flag_changes([_flag(state="repaired")], [_flag(state="repaired", value=9.0)]) == []
    assert flag_changes([_flag(state="repaired")], [_flag(state="pending")]) == []
    assert flag_changes([_flag(state=None)], [_flag(state=None)]) == []


def test_a_flag_that_is_gone_is_withdrawn_with_its_last_state() -> None:
    changes = flag_changes([_flag(state="pending", value=9.0)], [])
    assert [(c.type, c.flag["value"]) for c in changes] == [("rupture.withdrawn", 9.0)]


def test_a_flag_is_identified_by_administration_instrument_rater_rule_and_scale() -> None:
    assert flag_identity(_flag()) == ("a4", "wai-sr", "client", "v_drop", "bond")
    moved = flag_changes([_flag("a4")], [_flag("a5")])
    assert [(c.type, c.flag["administration_id"]) for c in moved] == [
        ("rupture.raised", "a5"),
        ("rupture.withdrawn", "a4"),
    ]
    other_scale = flag_changes([_flag()], [_flag(), _flag(scale="total")])
    assert [(c.type, c.flag["scale"]) for c in other_scale] == [("rupture.raised", "total")]
