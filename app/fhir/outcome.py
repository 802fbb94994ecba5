"""Mismatches of a QuestionnaireResponse: their problem, and their issues as a FHIR
OperationOutcome's."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from app.platform.errors import DomainError, ItemError

# Our error codes by the OperationOutcome issue type they are (FHIR `issue-type`).
ISSUE_TYPES = {
    "unknown_questionnaire": "not-found",
    "unknown_item": "not-found",
    "wrong_answer_type": "structure",
    "unexpected_group": "structure",
    "not_a_list": "structure",
    "one_answer": "structure",
    "not_a_questionnaire_response": "structure",
    "missing_questionnaire": "required",
    "missing_link_id": "required",
    "missing_session": "required",
    "missing_authored": "required",
    "missing_subject": "required",
}
# Choice elements in FHIRPath: `valueCoding` is `value.ofType(Coding)`.
CHOICE_TYPES = {"valueCoding": "value.ofType(Coding)", "valueDecimal": "value.ofType(decimal)"}


def operation_outcome_issues(errors: Sequence[Any]) -> list[dict[str, Any]]:
    """`{"resourceType": "OperationOutcome", "issue": <this>}` is a valid OperationOutcome."""
    return [
        {
            "severity": "error",
            "code": ISSUE_TYPES.get(
                error["code"], "value" if "answer" in error["loc"] else "invalid"
            ),
            "details": {"text": error["code"]},
            "diagnostics": error["message"],
            "expression": [fhir_path(error["loc"])],
        }
        for error in errors
    ]


def fhir_path(loc: Sequence[str | int]) -> str:
    """The FHIRPath of an error location, the item named by its linkId:
    `["item", "7", "answer", 0]` is `QuestionnaireResponse.item.where(linkId='7').answer[0]`."""
    path = "QuestionnaireResponse"
    parts = list(loc)
    while parts:
        part = parts.pop(0)
        if part in ("item", "extension") and parts:
            key = parts.pop(0)
            if isinstance(key, int):
                path += f".{part}[{key}]"
            elif part == "item":
                path += f".item.where(linkId='{_quoted(key)}')"
            else:
                path += f".extension.where(url.endsWith('/{_quoted(key)}'))"
        elif isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{CHOICE_TYPES.get(part, part)}"
    return path


def _quoted(text: str) -> str:
    return text.replace("\\", "\\\\").replace("'", "\\'")


class QuestionnaireResponseMismatchError(DomainError):
    """The FHIR QuestionnaireResponse does not match its Questionnaire: an unknown canonical
    url or version, an unknown `linkId`, an answer of the wrong type, an answer code or value
    the item does not offer, or a response that is not completed. `errors` locates each
    mismatch (`["item", linkId, ...]`), and `issue` repeats them as the issues of a FHIR
    OperationOutcome, with FHIRPath expressions. Nothing was scored or stored."""

    status = 422
    code = "questionnaire_response_mismatch"
    title = "QuestionnaireResponse does not match its Questionnaire"

    def __init__(self, errors: list[ItemError]) -> None:
        where = ", ".join("/".join(str(part) for part in error["loc"]) for error in errors)
        super().__init__(f"{len(errors)} mismatch(es): {where}", errors)
        self.members = {"issue": operation_outcome_issues(errors)}
