"""The batch's two lanes (looked-up fragments, full scoring) and two parsers agree exactly."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.http.body import parse_json
from app.http.problems import domain_problem
from app.instruments.registry import InstrumentRegistry, load_registry
from app.platform.errors import InvalidRequestError, InvalidResponsesError, MalformedJsonError
from app.scoring.batch import BatchEncoder, parse_batch
from app.scoring.schemas import BatchScoreRequest
from tests.conftest import INSTRUMENTS

REGISTRY: InstrumentRegistry = load_registry(INSTRUMENTS)
IDS = sorted({loaded.id for loaded in REGISTRY})


def _expected(instrument: str, rows: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """What the batch must say, row by row, computed the plain way."""
    scorer = REGISTRY.get(instrument).scorer
    results: list[dict[str, Any]] = []
    for index, (ref, responses) in enumerate(rows):
        try:
            results.append({"ref": ref, "result": scorer.score(responses)})
        except InvalidResponsesError as error:
            problem = domain_problem(error, "/v1/scores/batch")
            for item_error in problem["errors"]:
                item_error["loc"] = ["rows", index, *item_error["loc"]]
            results.append({"ref": ref, "error": problem})
    return orjson.loads(orjson.dumps({"results": results}))  # type: ignore[no-any-return]


# Answers the schema allows (numbers or null), whether the scale takes them or not.
answer = st.one_of(
    st.integers(min_value=-1, max_value=8),
    st.integers(min_value=0, max_value=7).map(float),
    st.sampled_from([None, 2.5, 0.1, float("nan"), 2**64, -(10**300)]),
)


@st.composite
def batches(draw: st.DrawFn) -> tuple[str, list[tuple[str, dict[str, Any]]]]:
    instrument = draw(st.sampled_from(IDS))
    item_ids = [item.id for item in REGISTRY.get(instrument).definition.items]
    rows = []
    for number in range(draw(st.integers(min_value=0, max_value=6))):
        definition = REGISTRY.get(instrument).definition
        complete: dict[str, Any] = {
            item.id: draw(
                st.integers(
                    min_value=int(definition.scale_of(item).min),
                    max_value=int(definition.scale_of(item).max),
                )
            )
            for item in definition.items
        }
        if draw(st.booleans()):
            spoiled_item = draw(st.sampled_from([*item_ids, "999"]))
            complete[spoiled_item] = draw(answer)
        ref = draw(st.sampled_from([f"row-{number}", 'quote"d', "back\\slash", "é", "\t"]))
        rows.append((ref, complete))
    return instrument, rows


@given(batches())
def test_the_encoded_batch_is_exactly_the_plainly_scored_batch(
    batch: tuple[str, list[tuple[str, dict[str, Any]]]],
) -> None:
    instrument, rows = batch
    encoder = BatchEncoder(REGISTRY.get(instrument).scorer, "/v1/scores/batch")
    assert orjson.loads(encoder.encode(rows)) == _expected(instrument, rows)


@given(batches(), st.sampled_from([True, "3", {}, [1]]), st.data())
def test_an_answer_that_is_neither_a_number_nor_null_refuses_the_whole_batch_naming_it(
    batch: tuple[str, list[tuple[str, dict[str, Any]]]], wrong: object, data: st.DataObject
) -> None:
    instrument, rows = batch
    if not rows:
        rows = [("only", {})]
    index = data.draw(st.integers(0, len(rows) - 1))
    item = data.draw(st.sampled_from(["1", "999"]))
    rows[index][1][item] = wrong
    encoder = BatchEncoder(REGISTRY.get(instrument).scorer, "/v1/scores/batch")
    with pytest.raises(InvalidRequestError) as refused:
        encoder.encode(rows)
    assert {"loc": ["rows", index, "responses", item], "code": "not_a_number",
            "message": "an answer is a number or null"} in refused.value.errors  # fmt: skip


def test_the_lookup_lane_serves_the_wai_forms_and_not_the_flagging_instruments() -> None:
    assert REGISTRY.get("wai-sr").scorer.complete_scales is not None
    assert REGISTRY.get("wai-client").scorer.complete_scales is not None
    assert REGISTRY.get("srs").scorer.complete_scales is None  # decimal answers
    assert REGISTRY.get("rupture-markers").scorer.complete_scales is None  # raises flags


documents = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-3, 300), st.text(max_size=3)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=8,
)


@st.composite
def batch_documents(draw: st.DrawFn) -> Any:
    """Mostly well-formed batches, with one part sometimes replaced by anything."""
    rows: list[Any] = [
        {"ref": draw(st.text(max_size=3)), "responses": {"1": draw(st.integers(1, 5))}}
        for _ in range(draw(st.integers(0, 3)))
    ]
    document: dict[str, Any] = {"instrument": "wai-sr", "rows": rows}
    if draw(st.booleans()):
        document["version"] = draw(st.sampled_from([None, "1.1.0"]))
    spoil = draw(
        st.sampled_from(["none", "instrument", "version", "rows", "row", "ref", "extra", "long"])
    )
    if spoil == "long" and rows:
        rows[0]["ref"] = "x" * draw(st.sampled_from([200, 201]))
    elif spoil == "row" and rows:
        rows[0] = draw(documents)
    elif spoil == "ref" and rows:
        rows[0]["ref"] = draw(documents)
    elif spoil == "extra":
        document[draw(st.text(max_size=3))] = draw(documents)
    elif spoil in document or spoil == "version":
        document[spoil] = draw(documents)
    return document


@given(batch_documents())
def test_the_quick_parser_accepts_only_what_the_model_accepts_and_reads_it_alike(
    document: Any,
) -> None:
    body = orjson.dumps(document)
    try:
        model = parse_json(BatchScoreRequest, body, "application/json")
        expected: Any = (
            model.instrument,
            model.version,
            [(row["ref"], row["responses"]) for row in model.rows],
        )
    except Exception as error:  # the model refuses: parse_batch must refuse the same way
        with pytest.raises(type(error)):
            parse_batch(body, "application/json")
        return
    assert parse_batch(body, "application/json") == expected


def test_a_batch_that_is_not_json_is_refused_as_malformed() -> None:
    with pytest.raises(MalformedJsonError):
        parse_batch(b'{"rows": [', "application/json")
