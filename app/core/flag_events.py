"""Which flag-level rupture events (`rupture.*`) a re-evaluation calls for: the difference in an
episode's flags before and after a write, as plain data."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Literal, NamedTuple

RuptureEventType = Literal[
    "rupture.raised", "rupture.repaired", "rupture.unrepaired", "rupture.withdrawn"
]
RUPTURE_EVENT_TYPES: tuple[RuptureEventType, ...] = (
    "rupture.raised",
    "rupture.repaired",
    "rupture.unrepaired",
    "rupture.withdrawn",
)

FlagIdentity = tuple[str, str, str, str, str]


class FlagChange(NamedTuple):
    """An alert: its type and the flag it is about (as it is now; as it was, if withdrawn)."""

    type: RuptureEventType
    flag: Mapping[str, Any]


def flag_identity(flag: Mapping[str, Any]) -> FlagIdentity:
    """A flag is the same flag across evaluations when it is raised by the same rule, on the
    same scale, by the same administration of the same instrument and rater."""
    return (
        str(flag["administration_id"]),
        str(flag["instrument"]),
        str(flag["rater"]),
        str(flag["rule"]),
        str(flag["scale"]),
    )


def flag_changes(
    before: Iterable[Mapping[str, Any]], after: Iterable[Mapping[str, Any]]
) -> list[FlagChange]:
    """The alerts that going from the flags `before` to the flags `after` calls for.

    - `rupture.raised`: a flag that was not there before (whatever its repair state now: a
      late-arriving series can raise a flag that is already repaired; the flag says so).
    - `rupture.repaired` / `rupture.unrepaired`: a flag that was there and whose repair state
      has become `repaired` / `unrepaired`.
    - `rupture.withdrawn`: a flag that is gone (a correction or a withdrawal of one of its
      administrations removed it), so that a receiver can clear the alert it showed.

    Any other change (a repair undone back to `pending` by a correction, a new value or
    threshold) calls for no alert. Alerts come in the order of `after` (then the withdrawn
    ones, in the order of `before`).
    """
    earlier = {flag_identity(flag): flag for flag in before}
    changes: list[FlagChange] = []
    present: set[FlagIdentity] = set()
    for flag in after:
        identity = flag_identity(flag)
        present.add(identity)
        previous = earlier.get(identity)
        if previous is None:
            changes.append(FlagChange("rupture.raised", flag))
            continue
        state = flag.get("state")
        if state != previous.get("state"):
            if state == "repaired":
                changes.append(FlagChange("rupture.repaired", flag))
            elif state == "unrepaired":
                changes.append(FlagChange("rupture.unrepaired", flag))
    changes.extend(
        FlagChange("rupture.withdrawn", flag)
        for identity, flag in earlier.items()
        if identity not in present
    )
    return changes
