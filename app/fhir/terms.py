"""Bordin's FHIR canonical URLs, the extensions it uses, and its CodeSystem of scores and rules.

Canonical URLs are identifiers, the same for every deployment of Bordin, so that a
Questionnaire or a code means the same thing whichever server served it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from app.instruments.definition import InstrumentDefinition

Json = dict[str, Any]

FHIR_VERSION = "4.0.1"
CANONICAL = "https://bordin.dev/fhir"
CODE_SYSTEM = f"{CANONICAL}/CodeSystem/bordin"
CODE_SYSTEM_VERSION = "1.0.0"
SESSION_EXTENSION = f"{CANONICAL}/StructureDefinition/session-number"
RATER_EXTENSION = f"{CANONICAL}/StructureDefinition/rater"
DEFINITION_HASH_TAG = f"{CANONICAL}/definition-hash"
GUIDANCE_EXTENSION = f"{CANONICAL}/StructureDefinition/repair-guidance"

ORDINAL_VALUE = "http://hl7.org/fhir/StructureDefinition/ordinalValue"
ITEM_WEIGHT = "http://hl7.org/fhir/StructureDefinition/itemWeight"
MIN_VALUE = "http://hl7.org/fhir/StructureDefinition/minValue"
MAX_VALUE = "http://hl7.org/fhir/StructureDefinition/maxValue"
MAX_DECIMAL_PLACES = "http://hl7.org/fhir/StructureDefinition/maxDecimalPlaces"
ITEM_CONTROL = "http://hl7.org/fhir/StructureDefinition/questionnaire-itemControl"
ITEM_CONTROL_SYSTEM = "http://hl7.org/fhir/questionnaire-item-control"

UCUM = "http://unitsofmeasure.org"
SNOMED = "http://snomed.info/sct"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
DATA_ABSENT_REASON = "http://terminology.hl7.org/CodeSystem/data-absent-reason"
FLAG_CATEGORY = "http://terminology.hl7.org/CodeSystem/flag-category"

# Codes of other systems that mean the same as one of our scales (instrument, scale).
EQUIVALENT_CODES: dict[tuple[str, str], list[Json]] = {
    # SNOMED CT observable for the Session Rating Scale score, as the issue tracker names it;
    # no display is given because we could not check the term's wording here.
    ("srs", "total"): [{"system": SNOMED, "code": "720482000"}],
}

# The rupture rules of shared/spec/ruptures.md, as Flag and interpretation codes.
RULES = {
    "below_cutoff": "Score in the alert zone of its cut-off",
    "drop_from_previous": "Drop from the previous session",
    "reliable_drop": "Reliable drop (Jacobson & Truax)",
    "v_drop": "V-shaped drop below the client's own mean",
    "sudden_loss": "Sudden loss (Tang & DeRubeis, mirrored)",
    "reported_rupture": "Rupture reported by the respondent",
    "rater_discrepancy": "Client and therapist ratings differ",
}
COMPONENTS = {
    "item-mean": "Item mean of the scale",
    "pomp": "Percent of maximum possible (POMP)",
}


def questionnaire_url(instrument_id: str) -> str:
    return f"{CANONICAL}/Questionnaire/{instrument_id}"


def answer_system(instrument_id: str) -> str:
    """The system of an instrument's answer codes: the code is the answer's printed value."""
    return f"{CANONICAL}/CodeSystem/{instrument_id}-answers"


def scale_code(instrument_id: str, scale_id: str) -> str:
    return f"{instrument_id}.{scale_id}"


def rule_code(rule: str) -> str:
    return f"rupture.{rule}"


def coding(code: str, display: str) -> Json:
    return {"system": CODE_SYSTEM, "version": CODE_SYSTEM_VERSION, "code": code, "display": display}


def scale_display(definition: InstrumentDefinition, scale_id: str) -> str:
    scale = next(scale for scale in definition.scales if scale.id == scale_id)
    return f"{definition.title}: {scale.label} score"


def code_system(definitions: Iterable[InstrumentDefinition]) -> Json:
    """The CodeSystem of every scale of every loaded instrument, the score components and the
    rupture rules. Its content is complete: a code not listed here is not ours."""
    concepts: list[Json] = []
    seen: set[str] = set()
    for definition in definitions:
        for scale in definition.scales:
            if scale_code(definition.id, scale.id) in seen:
                continue  # another version of the instrument has the same scale
            seen.add(scale_code(definition.id, scale.id))
            concepts.append(
                {
                    "code": scale_code(definition.id, scale.id),
                    "display": scale_display(definition, scale.id),
                    "definition": (
                        f"The {scale.method} of the {scale.label.lower()} items of"
                        f" {definition.title}, after reverse keying"
                    ),
                }
            )
    concepts += [{"code": code, "display": text} for code, text in COMPONENTS.items()]
    concepts += [{"code": rule_code(rule), "display": text} for rule, text in RULES.items()]
    return {
        "resourceType": "CodeSystem",
        "id": "bordin",
        "url": CODE_SYSTEM,
        "version": CODE_SYSTEM_VERSION,
        "name": "Bordin",
        "title": "Bordin alliance scores and rupture rules",
        "status": "active",
        "publisher": "Bordin",
        "description": (
            "Scale scores of the alliance instruments Bordin scores (one code per instrument"
            " and scale, e.g. wai-sr.bond), their components, and the rupture rules."
        ),
        "caseSensitive": True,
        "content": "complete",
        "count": len(concepts),
        "concept": concepts,
    }
