"""How far back a change to a series reaches: the first session whose flags can differ once an
administration is recorded, corrected or withdrawn at `changed`, or the episode ends.

Every rule of `app.core.ruptures` reads a bounded neighbourhood of a session, except the
V-drop's reference (the mean of all earlier sessions), which only later sessions read:
- a drop (from the previous score, reliable, V-drop) at t reads the sessions before t: a
  change at s alters flags at s and after;
- a repair window is settled by the sessions within `repair_window` after t, and a pending
  repair turns unrepaired once the series goes past t + window (or ends): a change at s, or
  a change of the series' last session L, alters flags from min(s, L) - window;
- a sudden loss at t reads the two points after it (pending until they exist): a change at s
  (or of the end) alters the sudden losses of the two points before it;
- conditions (below the cut-off, a client/therapist gap) and reports read their own session,
  and continue the flag of the previous session: later sessions only.
So the flags before `first_affected` stay as they are, whatever the change; those from it on
are evaluated again. A property test holds this against full evaluations
(tests/core/test_windows.py)."""

from __future__ import annotations

from collections.abc import Sequence

from app.instruments.definition import InstrumentDefinition, SuddenLossRule

# Points after a sudden loss that its third criterion reads (Tang & DeRubeis: three, itself
# included).
_SUDDEN_LOSS_FOLLOWING = 2


def repair_reach(definition: InstrumentDefinition) -> int:
    """The longest repair window of the definition's rules (0 when none has one)."""
    windows = [getattr(rule, "repair_window", None) or 0 for rule in definition.ruptures]
    return max(windows, default=0)


def first_affected(
    definition: InstrumentDefinition,
    before: Sequence[int],
    after: Sequence[int],
    changed: int,
) -> int:
    """The first session of a series whose flags a change at session `changed` can alter.
    `before` and `after` are the series' sessions (sorted) before and after the change; for
    the end of an episode, `changed` is one past its last session."""
    anchors = [changed]
    if before:
        anchors.append(before[-1])  # a pending repair waits for a session past its window
    if after:
        anchors.append(after[-1])
    first = min(anchors) - repair_reach(definition)
    if any(isinstance(rule, SuddenLossRule) for rule in definition.ruptures):
        sessions = sorted(set(before) | set(after))
        for anchor in anchors:
            earlier = [session for session in sessions if session < anchor]
            if earlier:
                first = min(first, earlier[-_SUDDEN_LOSS_FOLLOWING:][0])
    return first
