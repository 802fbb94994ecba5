"""Scores as FHIR R4 Observations and rupture flags as FHIR Flags, in a collection Bundle.

Each scale is an Observation of its own; the total, where the instrument has one, lists
the subscales it contains in `hasMember`. Subscales are not `component`s because each is
read, trended and flagged on its own (a bond rupture is a flag on the bond Observation's
series), and components cannot carry their own interpretation, method or absent reason.
The item mean and the POMP of a scale are its components: they mean nothing without it.
"""

from __future__ import annotations

import html
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from app.core.results import ScoreResult
from app.fhir.terms import (
    COMPONENTS,
    DATA_ABSENT_REASON,
    EQUIVALENT_CODES,
    FLAG_CATEGORY,
    GUIDANCE_EXTENSION,
    INTERPRETATION,
    OBSERVATION_CATEGORY,
    RULES,
    UCUM,
    Json,
    coding,
    rule_code,
    scale_code,
    scale_display,
)
from app.instruments.definition import AlertZone, InstrumentDefinition
from app.instruments.texts import InstrumentTexts
from app.languages.catalogues import Words

ABSENT_REASONS = {"too_many_missing": "unknown", "not_applicable": "not-applicable"}
# The v3 interpretation of a flag on one administration, by the side of the cut-off.
ZONE_INTERPRETATIONS = {"at_or_below": "L", "below": "L", "at_or_above": "H", "above": "H"}


@dataclass(frozen=True)
class Context:
    """Where the scores come from: the response's subject, encounter and time.

    `seed` makes resource ids stable: the same administration always gives the same ids.
    """

    seed: uuid.UUID
    subject: Json | None
    encounter: Json | None
    effective: str | None
    issued: str


def score_bundle(
    definition: InstrumentDefinition,
    result: ScoreResult,
    context: Context,
    response: Json,
    flags: Sequence[Json] = (),
    words: Words | None = None,
) -> Json:
    """A collection Bundle: the QuestionnaireResponse, one Observation per scale, derived
    from it, and a Flag per rupture flag (with its repair guidance as text), its narrative
    in the language of `words` (required with flags)."""
    bundle_id = uuid.uuid5(context.seed, "Bundle")
    # The response is entry 1 and scale n entry n + 2: ids derived from the bundle's, so the
    # same administration always gets the same ids (one SHA-1 a bundle, not one an entry).
    response_url = f"urn:uuid:{_derived(bundle_id, 1)}"
    scale_ids = {
        scale.id: _derived(bundle_id, index + 2) for index, scale in enumerate(definition.scales)
    }
    entries = [{"fullUrl": response_url, "resource": response}]
    observations = {
        scale.id: _observation(
            definition, result, scale.id, context, response_url, scale_ids[scale.id]
        )
        for scale in definition.scales
    }
    total = next((scale for scale in definition.scales if scale.id == "total"), None)
    if total is not None:
        members = [
            {"reference": f"urn:uuid:{scale_ids[scale.id]}"}
            for scale in definition.scales
            if scale.id != "total" and set(scale.items) <= set(total.items)
        ]
        if members:
            observations["total"]["hasMember"] = members
    entries += [
        {"fullUrl": f"urn:uuid:{scale_ids[scale_id]}", "resource": observation}
        for scale_id, observation in observations.items()
    ]
    for flag in flags:
        assert words is not None  # a Flag has a narrative
        resource = flag_resource(definition, flag, context, words)
        entries.append({"fullUrl": f"urn:uuid:{resource['id']}", "resource": resource})
    return {
        "resourceType": "Bundle",
        "id": str(bundle_id),
        "type": "collection",
        "timestamp": context.issued,
        "entry": entries,
    }


def observation_id(
    definition: InstrumentDefinition, administration_id: uuid.UUID, scale_id: str
) -> uuid.UUID | None:
    """The id `score_bundle` gives the Observation of a scale of a recorded administration
    (its bundle is seeded by the administration's id)."""
    position = next(
        (index for index, scale in enumerate(definition.scales) if scale.id == scale_id), None
    )
    if position is None:
        return None
    return _derived(uuid.uuid5(administration_id, "Bundle"), position + 2)


def _derived(base: uuid.UUID, index: int) -> uuid.UUID:
    """The index-th id of a bundle: the low bits of its node field changed, so the version and
    variant bits stay those of a valid UUID."""
    return uuid.UUID(int=base.int ^ index)


def _observation(
    definition: InstrumentDefinition,
    result: ScoreResult,
    scale_id: str,
    context: Context,
    response_url: str,
    observation_id: uuid.UUID,
) -> Json:
    scale = result["scales"][scale_id]
    code = coding(scale_code(definition.id, scale_id), scale_display(definition, scale_id))
    observation: Json = {
        "resourceType": "Observation",
        "id": str(observation_id),
        "status": "final",
        "category": [
            {"coding": [{"system": OBSERVATION_CATEGORY, "code": "survey", "display": "Survey"}]}
        ],
        "code": {
            "coding": [code, *EQUIVALENT_CODES.get((definition.id, scale_id), [])],
            "text": code["display"],
        },
        **_references(context),
        "issued": context.issued,
        "method": {
            "text": (
                f"Bordin scoring of {definition.id} {definition.version}"
                f" (definition {result['definition_hash']})"
            )
        },
        "derivedFrom": [{"reference": response_url}],
    }
    # A reported rupture counts the answered markers even when the scale cannot be scored.
    interpretations = [
        _interpretation(flag) for flag in result["flags"] if flag["scale"] == scale_id
    ]
    if interpretations:
        observation["interpretation"] = interpretations
    if scale["score"] is None:
        reason = scale["reason"] or "too_many_missing"
        observation["dataAbsentReason"] = {
            "coding": [{"system": DATA_ABSENT_REASON, "code": ABSENT_REASONS[reason]}],
            "text": f"{reason}: {scale['answered']} of {scale['expected']} items answered",
        }
        return observation
    observation["valueQuantity"] = _score(scale["score"])
    reference_range = _reference_range(definition, scale_id)
    if reference_range is not None:
        observation["referenceRange"] = [reference_range]
    observation["component"] = [
        {
            "code": {"coding": [coding("item-mean", COMPONENTS["item-mean"])]},
            "valueQuantity": _score(scale["mean"]),
        },
        {
            "code": {"coding": [coding("pomp", COMPONENTS["pomp"])]},
            "valueQuantity": {"value": scale["pomp"], "unit": "%", "system": UCUM, "code": "%"},
        },
    ]
    if scale["prorated"]:
        observation["note"] = [
            {"text": f"Prorated from {scale['answered']} of {scale['expected']} items answered."}
        ]
    return observation


# The side of a cut-off that does not alert, in words, by the side that does.
_OUTSIDE_ZONE = {
    AlertZone.at_or_below: "above",
    AlertZone.below: "at or above",
    AlertZone.at_or_above: "below",
    AlertZone.above: "at or below",
}


def _reference_range(definition: InstrumentDefinition, scale_id: str) -> Json | None:
    """The scores outside the scale's alert zone, when it has a clinical cut-off; no range
    otherwise (the scale's whole range would make every score look "within range").

    A bound is given as a number only where the scores' resolution makes it exact: a sum of
    items on one step (an SRS total above 36 is 36.1 or more). The text always says it."""
    cutoff = next((c for c in definition.cutoffs if c.scale == scale_id), None)
    if cutoff is None:
        return None
    text = f"{_OUTSIDE_ZONE[cutoff.alert_zone]} {_num(cutoff.value)} ({cutoff.label})"
    reference: Json = {"text": text[0].upper() + text[1:]}
    step = _sum_step(definition, scale_id)
    if cutoff.alert_zone is AlertZone.below:
        reference["low"] = _score(cutoff.value)
    elif cutoff.alert_zone is AlertZone.above:
        reference["high"] = _score(cutoff.value)
    elif step is not None and cutoff.alert_zone is AlertZone.at_or_below:
        reference["low"] = _score(round(cutoff.value + step, 6))
    elif step is not None:
        reference["high"] = _score(round(cutoff.value - step, 6))
    return reference


def _sum_step(definition: InstrumentDefinition, scale_id: str) -> float | None:
    """The smallest difference between two scores of a sum scale whose items share a step."""
    scale = next(scale for scale in definition.scales if scale.id == scale_id)
    items = {item.id: item for item in definition.items}
    steps = {definition.scale_of(items[item_id]).step for item_id in scale.items}
    return steps.pop() if scale.method == "sum" and len(steps) == 1 else None


def _num(number: float) -> str:
    return f"{number:g}"


def _interpretation(flag: Any) -> Json:
    """A flag of this one administration (below a cut-off, a reported rupture)."""
    level = ZONE_INTERPRETATIONS.get(flag.get("alert_zone", ""), "A")
    return {
        "coding": [
            {"system": INTERPRETATION, "code": level},
            coding(rule_code(flag["rule"]), RULES[flag["rule"]]),
        ],
        "text": (
            f"{RULES[flag['rule']]}: {flag['value']:g} against {flag['threshold']:g}"
            f" ({flag['citation']})"
        ),
    }


def flag_resource(
    definition: InstrumentDefinition,
    flag: Json,
    context: Context,
    words: Words,
    ended: str | None = None,
) -> Json:
    """A rupture flag as a FHIR Flag. Its narrative says what was seen and what the
    guidance suggests trying next, in the language of `words` (its `code.text` too; the
    coding's display is the code system's, in English); the guidance is also an
    extension, one entry per catalogue entry, for systems that show it on their own."""
    repaired = flag.get("state") == "repaired"
    texts = InstrumentTexts.of(words, definition)
    ui = words.texts("ui")
    summary = words(
        "fhir.flag.summary",
        title=texts.title,
        scale=texts.scale(flag["scale"]),
        session=flag["session"],
        rule=ui.get(f"rules.{flag['rule']}", flag["rule"]),
        state=ui.get(f"flag_states.{flag.get('state') or 'none'}", str(flag.get("state"))),
    )
    resource: Json = {
        "resourceType": "Flag",
        "id": str(uuid.uuid5(context.seed, f"Flag/{_flag_key(flag)}")),
        "text": {"status": "generated", "div": narrative(summary, flag.get("guidance", []))},
        "status": "inactive" if repaired else "active",
        "category": [
            {"coding": [{"system": FLAG_CATEGORY, "code": "clinical", "display": "Clinical"}]}
        ],
        "code": {
            "coding": [coding(rule_code(flag["rule"]), _rule_text(flag["rule"]))],
            "text": summary,
        },
        "subject": context.subject or {"display": "unknown patient"},
    }
    if context.encounter is not None:
        resource["encounter"] = context.encounter
    if context.effective is not None:
        resource["period"] = {"start": context.effective}
        if ended is not None:
            resource["period"]["end"] = ended  # when the session that repaired it took place
    if flag.get("guidance"):
        resource["extension"] = [guidance_extension(entry) for entry in flag["guidance"]]
    return resource


def _rule_text(rule: str) -> str:
    return RULES.get(rule) or rule


def guidance_extension(entry: Json) -> Json:
    """One catalogue entry: `source` (each citation, as before) is kept for systems that read
    it; `support` and one `reference` per source (id, citation, kind, doi, url) say how strong
    the support for the suggestion is."""
    return {
        "url": GUIDANCE_EXTENSION,
        "extension": [
            {"url": "id", "valueCode": entry["id"]},
            {"url": "text", "valueString": entry["text"]},
            {"url": "support", "valueCode": entry["support"]},
            *({"url": "source", "valueString": source} for source in entry["sources"]),
            *(_reference_extension(reference) for reference in entry["references"]),
        ],
    }


def _reference_extension(reference: Json) -> Json:
    return {
        "url": "reference",
        "extension": [
            {"url": "id", "valueCode": reference["id"]},
            {"url": "citation", "valueString": reference["citation"]},
            {"url": "kind", "valueCode": reference["kind"]},
            *([{"url": "doi", "valueString": reference["doi"]}] if "doi" in reference else []),
            *([{"url": "url", "valueUri": reference["url"]}] if "url" in reference else []),
        ],
    }


def narrative(summary: str, guidance: Sequence[Json]) -> str:
    items = "".join(
        f"<li>{html.escape(entry['text'])} ({html.escape(entry['support_label'])})</li>"
        for entry in guidance
    )
    steps = f"<ul>{items}</ul>" if items else ""
    return f'<div xmlns="http://www.w3.org/1999/xhtml"><p>{html.escape(summary)}</p>{steps}</div>'


def _references(context: Context) -> Json:
    references: Json = {}
    if context.subject is not None:
        references["subject"] = context.subject
    if context.encounter is not None:
        references["encounter"] = context.encounter
    if context.effective is not None:
        references["effectiveDateTime"] = context.effective
    return references


def _score(value: float | None) -> Json:
    return {"value": value, "unit": "{score}", "system": UCUM, "code": "{score}"}


def _flag_key(flag: Json) -> str:
    return f"{flag['instrument']}/{flag['rater']}/{flag['rule']}/{flag['scale']}/{flag['session']}"
