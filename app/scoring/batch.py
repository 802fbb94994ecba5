"""Encodes the results of a batch as JSON bytes, row by row.

Most rows of a real batch are complete whole-number answers to an instrument whose single
administration raises no flag (every WAI form, the HAq-II). Their scale results can be looked
up by sum, so those rows skip building and freeing result dicts: the encoder joins JSON
fragments encoded once per instrument. Every other row is scored and encoded in full. Both
lanes give the same JSON (tests/scoring/test_batch_encoding.py).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from app.core.scoring import Scorer
from app.http.body import is_json, parse_json
from app.http.problems import domain_problem
from app.platform.errors import InvalidRequestError, InvalidResponsesError, ItemError
from app.scoring.schemas import BatchScoreRequest

BatchRows = list[tuple[str, Mapping[str, object]]]
_BATCH_KEYS = frozenset({"instrument", "version", "rows"})
_ROW_KEYS = frozenset({"ref", "responses"})
_MAX_REF = 200  # as BatchRow.ref


def parse_batch(body: bytes, content_type: str | None) -> tuple[str, str | None, BatchRows]:
    """(instrument, version, [(ref, responses)]) of a batch request.

    A well-formed batch is checked in one pass over orjson's objects; anything else is
    parsed by the `BatchScoreRequest` model, which accepts the same and explains errors
    (a NUL in a text, too: the model names it).
    """
    parsed = _well_formed_batch(body) if is_json(content_type) else None
    if parsed is not None:
        return parsed
    payload = parse_json(BatchScoreRequest, body, content_type)
    rows: BatchRows = [(row["ref"], row["responses"]) for row in payload.rows]
    return payload.instrument, payload.version, rows


def _well_formed_batch(body: bytes) -> tuple[str, str | None, BatchRows] | None:
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if type(document) is not dict or not document.keys() <= _BATCH_KEYS:
        return None
    instrument = document.get("instrument")
    version = document.get("version")
    rows = document.get("rows")
    if type(instrument) is not str or type(rows) is not list or "\x00" in instrument:
        return None
    if version is not None and (type(version) is not str or "\x00" in version):
        return None
    checked: BatchRows = []
    for row in rows:
        if type(row) is not dict or row.keys() != _ROW_KEYS:
            return None
        ref = row["ref"]
        responses = row["responses"]
        if type(ref) is not str or len(ref) > _MAX_REF or type(responses) is not dict:
            return None
        if "\x00" in ref:
            return None
        checked.append((ref, responses))
    return instrument, version, checked


# A string that JSON can carry between quotes as it is: no quote, backslash or control char.
_PLAIN = re.compile(r'[^"\\\x00-\x1f\x7f]*')


def _json_string(text: str) -> bytes:
    """`orjson.dumps(text)`, without its 1 KiB buffer per call for the usual plain ref:
    kept alive by the thousand, those buffers cost more than the scoring (bench/)."""
    if _PLAIN.fullmatch(text):
        return b'"' + text.encode() + b'"'
    return orjson.dumps(text)


class BatchEncoder:
    def __init__(self, scorer: Scorer, instance: str) -> None:
        self._scorer = scorer
        self._instance = instance
        # Per scale, sum -> `"scale id":{...}` (with the comma before it after the first).
        self._fragments: list[dict[int, bytes]] = [
            {
                scale.offset + position: (b"," if index else b"")
                + orjson.dumps({scale.id: result})[1:-1]
                for position, result in enumerate(scale.results)
            }
            for index, scale in enumerate(scorer.complete_scales or ())
        ]
        head = orjson.dumps(
            {
                "instrument": scorer.instrument_id,
                "version": scorer.version,
                "definition_hash": scorer.definition_hash,
            }
        )
        self._result_head = b',"result":' + head[:-1] + b',"scales":{'
        self._result_tail = b'},"flags":[],"warnings":[]}}'

    def encode(self, rows: Sequence[tuple[str, Mapping[str, object]]]) -> bytes:
        """`{"results": [...]}`: each row's result, or its problem, in the order given."""
        complete_sums = self._scorer.complete_sums
        fragments = self._fragments
        result_head = self._result_head
        result_tail = self._result_tail
        parts: list[bytes] = [b'{"results":[']
        add = parts.append
        extend = parts.extend
        for index, (ref, responses) in enumerate(rows):
            sums = complete_sums(responses)
            if sums is None:
                add(b"," if index else b"")
                add(orjson.dumps(self._full_row(index, ref, responses)))
                continue
            extend((b',{"ref":' if index else b'{"ref":', _json_string(ref), result_head))
            extend(map(dict.__getitem__, fragments, sums))
            add(result_tail)
        add(b"]}")
        return b"".join(parts)

    def _full_row(self, index: int, ref: str, responses: Mapping[str, object]) -> dict[str, Any]:
        try:
            return {"ref": ref, "result": self._scorer.score(responses)}
        except InvalidResponsesError as error:
            _refuse_answers_of_another_type(index, responses)
            problem = domain_problem(error, self._instance)
            for item_error in problem["errors"]:
                item_error["loc"] = ["rows", index, *item_error["loc"]]
            return {"ref": ref, "error": problem}


def _refuse_answers_of_another_type(index: int, responses: Mapping[str, object]) -> None:
    """A row whose answers the scorer refused stands alone with its problem, as long as the
    request keeps to its schema (numbers or null); an answer of another type (a string, a
    boolean, an object) breaks the schema, and the whole request is refused, naming it.
    Checked only for refused rows, so that valid batches pay nothing for it."""
    errors: list[ItemError] = [
        {
            "loc": ["rows", index, "responses", item_id],
            "code": "not_a_number",
            "message": "an answer is a number or null",
        }
        for item_id, answer in responses.items()
        if answer is not None and answer.__class__ is not int and answer.__class__ is not float
    ]
    if errors:
        raise InvalidRequestError(f"{len(errors)} answer(s) are neither a number nor null", errors)
