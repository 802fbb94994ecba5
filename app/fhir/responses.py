"""Reading a FHIR R4 QuestionnaireResponse against the Questionnaire of one of our instruments.

Every mismatch is collected, each located at the element it concerns (the item by its
`linkId`), so that one refusal names everything that is wrong.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from app.core.results import ScoreResult
from app.fhir.outcome import QuestionnaireResponseMismatchError
from app.fhir.questionnaire import answer_code, choice_values, is_choice, plain_number
from app.fhir.terms import (
    RATER_EXTENSION,
    SESSION_EXTENSION,
    Json,
    answer_system,
    questionnaire_url,
)
from app.instruments.registry import InstrumentRegistry, LoadedInstrument
from app.platform.errors import InvalidResponsesError, ItemError, UnknownInstrumentError

# Who filled the form in, by the resource type of `QuestionnaireResponse.source`.
RATER_BY_SOURCE = {
    "Patient": "client",
    "Practitioner": "therapist",
    "PractitionerRole": "therapist",
    "RelatedPerson": "observer",
}
COMPLETE = ("completed", "amended")


@dataclass(frozen=True)
class ReadResponse:
    """What a QuestionnaireResponse says, in Bordin's terms."""

    loaded: LoadedInstrument
    version: str | None  # as the canonical names it; None for the latest
    responses: dict[str, object]
    result: ScoreResult
    subject: Json | None
    encounter: Json | None
    authored: str | None
    session: int | None
    rater: str | None
    session_error: ItemError | None


def read_response(resource: Any, registry: InstrumentRegistry) -> ReadResponse:
    """The instrument and answers of `resource`, or a refusal naming every mismatch.

    Choice items take a `valueCoding` whose code is one of the Questionnaire's options (its
    system, if given, must be the instrument's answer system); decimal items take a
    `valueDecimal`. An item without an answer is not answered. Range and step are checked
    by the scorer, like any other answer; its result is kept.
    """
    if not isinstance(resource, dict) or resource.get("resourceType") != "QuestionnaireResponse":
        raise QuestionnaireResponseMismatchError(
            [
                located_error(
                    ["resourceType"],
                    "not_a_questionnaire_response",
                    "expected a QuestionnaireResponse",
                )
            ]
        )
    errors: list[ItemError] = []
    loaded = _questionnaire(resource.get("questionnaire"), registry, errors)
    status = resource.get("status")
    if status not in COMPLETE:
        errors.append(
            located_error(
                ["status"],
                "not_completed",
                f"status is {_shown(status)}; only completed or amended responses are scored",
            )
        )
    errors += _shape_errors(resource)
    responses = _answers(resource.get("item", []), loaded, errors) if loaded else {}
    if loaded is None:
        raise QuestionnaireResponseMismatchError(errors)
    try:
        result = loaded.scorer.score(responses)
    except InvalidResponsesError as error:  # range and step, located by linkId like the rest
        errors += [{**entry, "loc": ["item", *entry["loc"][1:]]} for entry in error.errors]
    if errors:
        raise QuestionnaireResponseMismatchError(errors)
    session, session_error = _session(resource)
    return ReadResponse(
        loaded=loaded,
        version=str(resource["questionnaire"]).partition("|")[2] or None,
        responses=responses,
        result=result,
        subject=_element(resource, "subject"),
        encounter=_element(resource, "encounter"),
        authored=resource.get("authored") if isinstance(resource.get("authored"), str) else None,
        session=session,
        rater=_rater(resource),
        session_error=session_error,
    )


# The elements read besides the items, as the QuestionnaireResponse schema declares them.
_REFERENCES = ("subject", "encounter", "source")
# A FHIR dateTime: a year, year-month or date, or a date-time with seconds and an offset.
_FHIR_DATE = re.compile(r"\d{4}(-\d{2}(-\d{2})?)?")
_FHIR_DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})")


def _shape_errors(resource: Json) -> list[ItemError]:
    """Refusals of the elements Bordin reads that are not of their declared type: a
    reference that is not an object, extensions that are not a list of objects, an
    `authored` that is not a FHIR dateTime (one with a time must convert to UTC)."""
    errors = [
        located_error([name], "not_an_object", f"{name} must be an object")
        for name in _REFERENCES
        if resource.get(name) is not None and not isinstance(resource[name], dict)
    ]
    extensions = resource.get("extension", [])
    if not isinstance(extensions, list) or not all(isinstance(e, dict) for e in extensions):
        errors.append(
            located_error(["extension"], "not_a_list", "extension must be a list of objects")
        )
    authored = resource.get("authored")
    if authored is not None and not _is_fhir_date_time(authored):
        errors.append(
            located_error(
                ["authored"],
                "invalid_authored",
                "a FHIR dateTime: a date, or a date-time with a time zone offset, in years"
                " 1 to 9999 in UTC",
            )
        )
    return errors


def _is_fhir_date_time(value: object) -> bool:
    if not isinstance(value, str):
        return False
    try:
        if _FHIR_DATE.fullmatch(value):  # a year or a month stands for its first day
            date.fromisoformat(value + "-01" * (2 - value.count("-")))
        elif _FHIR_DATE_TIME.fullmatch(value):
            datetime.fromisoformat(value).astimezone(UTC)
        else:
            return False
    except (ValueError, OverflowError):
        return False
    return True


def _questionnaire(
    canonical: Any, registry: InstrumentRegistry, errors: list[ItemError]
) -> LoadedInstrument | None:
    if not isinstance(canonical, str):
        errors.append(
            located_error(
                ["questionnaire"],
                "missing_questionnaire",
                "name the Questionnaire by its canonical url",
            )
        )
        return None
    url, _, version = canonical.partition("|")
    prefix = questionnaire_url("")
    if not url.startswith(prefix):
        errors.append(
            located_error(
                ["questionnaire"],
                "unknown_questionnaire",
                f"{_shown(url)} is not a Bordin Questionnaire ({prefix}<instrument>)",
            )
        )
        return None
    try:
        return registry.get(url.removeprefix(prefix), version or None)
    except UnknownInstrumentError as error:
        errors.append(located_error(["questionnaire"], "unknown_questionnaire", error.detail))
        return None


# What each item accepts, by definition hash: the codes of a choice item (code -> the value
# as JSON would send it, 4 not 4.0, so both routes store the same answers), or
# None for a decimal item. Built once per definition: a response is read on the hot path.
_ANSWER_CODES: dict[str, dict[str, dict[str, float | int] | None]] = {}


def _answer_codes(loaded: LoadedInstrument) -> dict[str, dict[str, float | int] | None]:
    table = _ANSWER_CODES.get(loaded.definition_hash)
    if table is None:
        definition = loaded.definition
        table = {}
        for item in definition.items:
            scale = definition.scale_of(item)
            table[item.id] = (
                {
                    answer_code(v): plain_number(v)
                    for v in [*choice_values(scale), *scale.not_assessed]
                }
                if is_choice(scale)
                else None
            )
        _ANSWER_CODES[loaded.definition_hash] = table
    return table


def _answers(items: Any, loaded: LoadedInstrument, errors: list[ItemError]) -> dict[str, object]:
    definition = loaded.definition
    known = _answer_codes(loaded)
    system = answer_system(definition.id)
    if not isinstance(items, list):
        errors.append(located_error(["item"], "not_a_list", "item must be a list"))
        return {}
    responses: dict[str, object] = {}
    for index, entry in enumerate(items):
        link_id = entry.get("linkId") if isinstance(entry, dict) else None
        if not isinstance(link_id, str):
            errors.append(
                located_error(["item", index], "missing_link_id", "every item needs its linkId")
            )
            continue
        where: list[str | int] = ["item", link_id]
        if link_id not in known:
            errors.append(
                located_error(
                    where, "unknown_item", f"{definition.id} has no item {_shown(link_id)}"
                )
            )
            continue
        if link_id in responses:
            errors.append(located_error(where, "duplicate_item", "the item is answered twice"))
            continue
        if entry.get("item"):
            errors.append(
                located_error(where, "unexpected_group", "the Questionnaire's items are not groups")
            )
            continue
        answers = entry.get("answer", [])
        if not isinstance(answers, list) or len(answers) > 1:
            errors.append(
                located_error([*where, "answer"], "one_answer", "give at most one answer")
            )
            continue
        if not answers:
            responses[link_id] = None
            continue
        codes = known[link_id]
        answer = answers[0] if isinstance(answers[0], dict) else {}
        if codes is not None:
            coding = answer.get("valueCoding")
            if not isinstance(coding, dict) or set(answer) - {"valueCoding", "extension", "id"}:
                errors.append(
                    located_error(
                        [*where, "answer", 0], "wrong_answer_type", "expected a valueCoding"
                    )
                )
            elif coding.get("system", system) != system:
                errors.append(
                    located_error(
                        [*where, "answer", 0, "valueCoding", "system"],
                        "unknown_answer_system",
                        f"expected {system}",
                    )
                )
            elif coding.get("code") not in codes:
                errors.append(
                    located_error(
                        [*where, "answer", 0, "valueCoding", "code"],
                        "unknown_answer_code",
                        f"{_shown(coding.get('code'))} is not one of {', '.join(codes)}",
                    )
                )
            else:
                responses[link_id] = codes[coding["code"]]
        else:
            value = answer.get("valueDecimal")
            if (
                not isinstance(value, int | float)
                or isinstance(value, bool)
                or set(answer) - {"valueDecimal", "extension", "id"}
            ):
                errors.append(
                    located_error(
                        [*where, "answer", 0], "wrong_answer_type", "expected a valueDecimal"
                    )
                )
            else:
                responses[link_id] = value
    return responses


def _session(resource: Json) -> tuple[int | None, ItemError | None]:
    for extension in _extensions(resource, SESSION_EXTENSION):
        value = extension.get("valuePositiveInt", extension.get("valueInteger"))
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 100_000:
            return value, None
        return None, located_error(
            ["extension", "session-number"],
            "invalid_session",
            "the session number is a whole number from 0",
        )
    return None, located_error(
        ["extension", "session-number"],
        "missing_session",
        f"give the session number: ?session=N on the recording route, or the extension"
        f" {SESSION_EXTENSION}",
    )


def _rater(resource: Json) -> str | None:
    """The rater: our extension if present, else the type of `source`, else unknown."""
    for extension in _extensions(resource, RATER_EXTENSION):
        value = extension.get("valueCode")
        return value if isinstance(value, str) else None
    source = _element(resource, "source")
    reference = source.get("reference") if source else None
    if isinstance(reference, str):
        return RATER_BY_SOURCE.get(reference.split("/")[0])
    return None


def _extensions(resource: Json, url: str) -> list[Json]:
    extensions = resource.get("extension", [])
    if not isinstance(extensions, list):
        return []
    return [entry for entry in extensions if isinstance(entry, dict) and entry.get("url") == url]


def _element(resource: Json, name: str) -> Json | None:
    value = resource.get(name)
    return value if isinstance(value, dict) else None


def _shown(value: object) -> str:
    """A value the client sent, quoted and cut short for an error message."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def located_error(loc: list[str | int], code: str, message: str) -> ItemError:
    return {"loc": loc, "code": code, "message": message}
