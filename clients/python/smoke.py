"""A client's day against a live server, through the client generated from /openapi.json.

Run by `make test-clients` (clients/run.sh) with the generated `bordin_client` installed:
    python smoke.py BASE_URL      (the API key in BORDIN_KEY)
It lists instruments, scores, opens an episode, records a series that raises a rupture flag,
reads the trajectory, the flags and the chart, and reads typed 422 problems. Any surprise
raises, so the script exits non-zero.
"""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime
from typing import Any, TypeVar
from uuid import UUID

from bordin_client import AuthenticatedClient, Client
from bordin_client.api.episodes import (
    create_episode,
    get_trajectory,
    get_trajectory_chart,
    list_episode_ruptures,
    record_administration,
)
from bordin_client.api.instruments import get_instrument, list_instruments
from bordin_client.api.scoring import score_responses
from bordin_client.models import (
    AdministrationCreate,
    AdministrationRecorded,
    EpisodeCreate,
    EpisodeRuptureFlag,
    EpisodeRuptures,
    EpisodeView,
    InstrumentDetail,
    InstrumentList,
    Problem,
    RepairPoint,
    Responses,
    ScoreRequest,
    ScoreResult,
    Trajectory,
)
from bordin_client.types import Response, Unset

Parsed = TypeVar("Parsed")

# WAI-SR (Hatcher & Gillaspy 2006): goal 4, 6, 8, 11; task 1, 2, 10, 12; bond 3, 5, 7, 9;
# 1..5, no reverse items (instruments/wai-sr/1.1.0.yaml). Item 12 is left unanswered.
WAI_SR = {"1": 4, "2": 5, "3": 4, "4": 3, "5": 5, "6": 4,
          "7": 4, "8": 3, "9": 5, "10": 4, "11": 3, "12": None}  # fmt: skip
# By hand: goal 3+4+3+3 = 13, POMP (13-4)/(20-4) = 56.25; bond 4+5+4+5 = 18, POMP 87.5;
# task misses item 12 (1 of 4 allowed): mean of 4, 5, 4 times 4 = 17.333333, prorated.
EXPECTED = {
    "goal": (13.0, 56.25, False),
    "bond": (18.0, 87.5, False),
    "task": (17.333333, None, True),
}


def main() -> int:
    base_url, key = sys.argv[1], os.environ["BORDIN_KEY"]
    public = Client(base_url=base_url, raise_on_unexpected_status=True)
    client = AuthenticatedClient(base_url=base_url, token=key, raise_on_unexpected_status=True)

    catalogue = expect(list_instruments.sync_detailed(client=public), 200, InstrumentList)
    ids = [summary.id for summary in catalogue.items]
    check("wai-sr" in ids and "srs" in ids, f"instruments {ids}")
    wai_sr = expect(get_instrument.sync_detailed("wai-sr", client=public), 200, InstrumentDetail)
    check([scale.id for scale in wai_sr.scales][:3] == ["goal", "task", "bond"], "wai-sr scales")

    scored = expect(
        score_responses.sync_detailed(client=client, body=score_request("wai-sr", WAI_SR)),
        200,
        ScoreResult,
    )
    for scale_id, (score, pomp, prorated) in EXPECTED.items():
        scale = scored.scales[scale_id]
        check(scale.score == score and scale.prorated is prorated, f"{scale_id}: {scale}")
        check(pomp is None or scale.pomp == pomp, f"{scale_id} pomp {scale.pomp}")

    invalid = expect(
        score_responses.sync_detailed(
            client=client, body=score_request("wai-sr", {**WAI_SR, "1": 6, "13": 3})
        ),
        422,
        Problem,
    )
    named = problem_items(invalid)
    check(named == {"1": "out_of_range", "13": "unknown_item"}, f"422 problem names {named}")
    check(invalid.code == "invalid_responses" and invalid.status == 422, str(invalid))
    check(isinstance(invalid.request_id, str), "the problem carries its request id")

    episode = expect(
        create_episode.sync_detailed(
            client=client,
            body=EpisodeCreate(
                patient_ref="ehr-8841", clinician_ref="staff-17", setting="psychotherapy"
            ),
        ),
        201,
        EpisodeView,
    )
    check(episode.setting == "psychotherapy", "episode setting")

    # SRS (Duncan, Miller et al. 2003), four 0-10 lines: 38.0, then 36.8 (a drop of 1.2 from
    # the session before: drop_from_previous), then 38.0 again (the flag is repaired).
    srs_38 = {"1": 9.5, "2": 9.5, "3": 9.5, "4": 9.5}
    raised: list[EpisodeRuptureFlag] = []
    for session, first in ((1, 9.5), (2, 8.3), (3, 9.5)):
        recorded = record(client, episode.id, "srs", session, {**srs_38, "1": first})
        check(recorded.result.scales["total"].score is not None, "srs total scored")
        raised += recorded.ruptures
    check(
        [(flag.rule, flag.session) for flag in raised] == [("drop_from_previous", 2)],
        f"flags raised on recording: {raised}",
    )
    wai = record(client, episode.id, "wai-sr", 1, WAI_SR)
    check(wai.result.scales["goal"].pomp == 56.25, "a recorded WAI-SR is scored as /v1/scores")

    trajectory = expect(
        get_trajectory.sync_detailed(episode.id, client=client, instrument="srs", rater="client"),
        200,
        Trajectory,
    )
    totals = [point.scales["total"].score for point in trajectory.points]
    check(totals == [38.0, 36.8, 38.0], f"trajectory totals {totals}")
    (drop,) = [flag for flag in trajectory.ruptures if flag.rule == "drop_from_previous"]
    check(drop.session == 2 and drop.value == 36.8 and drop.state == "repaired", str(drop))
    repaired_at = drop.repaired_at
    check(isinstance(repaired_at, RepairPoint), "a repaired flag says where")
    assert isinstance(repaired_at, RepairPoint)
    check(repaired_at.session == 3, f"repaired at {repaired_at}")

    flags = expect(
        list_episode_ruptures.sync_detailed(episode.id, client=client), 200, EpisodeRuptures
    )
    check(
        [(f.instrument, f.rule, f.scale, f.session) for f in flags.items]
        == [("srs", "drop_from_previous", "total", 2)],
        f"episode flags {flags.items}",
    )
    check(all(not isinstance(f.guidance, Unset) and f.guidance for f in flags.items), "guidance")
    steps = [step for f in flags.items if not isinstance(f.guidance, Unset) for step in f.guidance]
    # Each step says what backs it: the strongest kind first, each source in full.
    check(all(step.support == step.references[0].kind for step in steps), "guidance support")
    check(
        all(step.sources == [r.citation for r in step.references] for step in steps),
        "guidance sources are the references' citations",
    )

    chart = get_trajectory_chart.sync_detailed(episode.id, client=client, instrument="srs")
    check(chart.status_code == 200 and b"<svg" in chart.content, "trajectory.svg")

    bad_record = record_administration.sync_detailed(
        episode.id,
        client=client,
        body=administration("wai-sr", 2, {**WAI_SR, "5": 0}),
    )
    problem = expect(bad_record, 422, Problem)
    check(problem_items(problem) == {"5": "out_of_range"}, f"record 422 {problem}")

    missing = expect(
        get_trajectory.sync_detailed(episode.id, client=client, instrument="no-such-thing"),
        404,
        Problem,
    )
    check(missing.code == "unknown_instrument", str(missing))
    print(f"python client: {len(ids)} instruments, {len(flags.items)} flag(s), all checks passed")
    return 0


def score_request(instrument: str, answers: dict[str, Any]) -> ScoreRequest:
    return ScoreRequest(instrument=instrument, responses=Responses.from_dict(answers))


def administration(instrument: str, session: int, answers: dict[str, Any]) -> AdministrationCreate:
    return AdministrationCreate(
        instrument=instrument,
        rater="client",
        session=session,
        administered_at=datetime(2026, 3, session, 10, tzinfo=UTC),
        responses=Responses.from_dict(answers),
    )


def record(
    client: AuthenticatedClient,
    episode_id: UUID,
    instrument: str,
    session: int,
    answers: dict[str, Any],
) -> AdministrationRecorded:
    response = record_administration.sync_detailed(
        episode_id,
        client=client,
        body=administration(instrument, session, answers),
        idempotency_key=f"{instrument}-{episode_id}-{session}",
    )
    return expect(response, 201, AdministrationRecorded)


def problem_items(problem: Problem) -> dict[str, str]:
    """The problem's offending items: last element of each `loc`, with its code."""
    errors = problem.errors
    check(isinstance(errors, list), f"no errors in {problem}")
    assert isinstance(errors, list)
    return {str(error.loc[-1]): error.code for error in errors}


def expect(response: Response[Any], status: int, kind: type[Parsed]) -> Parsed:
    """The parsed body, which must be of `kind` and come with `status`."""
    parsed = response.parsed
    check(
        response.status_code == status and isinstance(parsed, kind),
        f"expected {status} {kind.__name__}, got {response.status_code}: {response.content!r}",
    )
    assert isinstance(parsed, kind)
    return parsed


def check(condition: bool, what: str) -> None:
    if not condition:
        raise AssertionError(what)


if __name__ == "__main__":
    raise SystemExit(main())
