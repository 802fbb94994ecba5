"""An alert as FHIR R4 resources: a `DetectedIssue` (what was found, how severe, the evidence,
what clinicians did about it, what to try) and a `Flag` for an EHR's banner.

Built from the alert as the API shows it (`app.alerts.alerts.alert_view`): pure, no database.
The evidence points at the Observations Bordin gives each scored administration (the same
ids `score_bundle` gives them) when the instruments are known, and names the flags otherwise.
"""

from __future__ import annotations

import uuid
from typing import Any

from app.fhir.observations import guidance_extension, narrative, observation_id
from app.fhir.terms import FLAG_CATEGORY, coding, rule_code
from app.instruments.registry import InstrumentRegistry
from app.languages.catalogues import Words
from app.platform.errors import UnknownInstrumentError

Json = dict[str, Any]
ALERT_CODE = "alliance-rupture"
ALERT_DISPLAY = "Alliance rupture alert"
# FHIR DetectedIssue.severity from the alert's priority.
SEVERITIES = {"high": "high", "moderate": "moderate", "low": "low"}


def alert_resources(
    alert: Json, issued: str, words: Words, registry: InstrumentRegistry | None = None
) -> tuple[Json, Json]:
    """(Flag, DetectedIssue) of an alert, their texts in the language of `words` (the
    alert's guidance as it was rendered)."""
    return alert_flag(alert, words), detected_issue(alert, issued, words, registry)


def summary(alert: Json, words: Words) -> str:
    ui = words.texts("ui")
    dimensions = ", ".join(
        ui.get(f"chart.{dimension}", dimension) for dimension in alert.get("dimensions") or []
    )
    return words(
        "fhir.alert.summary",
        priority=words(f"alerts.priorities.{alert['priority']}"),
        dimensions=words("fhir.alert.dimensions", dimensions=dimensions) if dimensions else "",
        session=alert["opened_session"],
        status=ui.get(f"alerts.statuses.{alert['status']}", alert["status"]),
    )


def alert_flag(alert: Json, words: Words) -> Json:
    """A Flag for a banner: active while the alert is open or unrepaired."""
    status = alert["status"]
    said = summary(alert, words)
    flag: Json = {
        "resourceType": "Flag",
        "id": str(uuid.uuid5(uuid.UUID(str(alert["id"])), "Flag")),
        "text": {"status": "generated", "div": narrative(said, alert["guidance"])},
        "status": {"open": "active", "unrepaired": "active", "withdrawn": "entered-in-error"}.get(
            status, "inactive"
        ),
        "category": [
            {"coding": [{"system": FLAG_CATEGORY, "code": "clinical", "display": "Clinical"}]}
        ],
        "code": {"coding": [coding(ALERT_CODE, ALERT_DISPLAY)], "text": said},
        "subject": {"identifier": {"value": alert["patient_ref"]}},
        "period": {"start": alert["opened_at"]},
    }
    end = _ended_at(alert)
    if end is not None:
        flag["period"]["end"] = end
    if alert["guidance"]:
        flag["extension"] = [guidance_extension(entry) for entry in alert["guidance"]]
    return flag


def detected_issue(
    alert: Json, issued: str, words: Words, registry: InstrumentRegistry | None
) -> Json:
    """The alert as a DetectedIssue: severity from its priority, its evidence, the clinicians'
    acknowledgement and closure as mitigations, its guidance as `detail`."""
    status = alert["status"]
    said = summary(alert, words)
    issue: Json = {
        "resourceType": "DetectedIssue",
        "id": str(alert["id"]),
        "status": {"withdrawn": "entered-in-error"}.get(status, "final"),
        "code": {"coding": [coding(ALERT_CODE, ALERT_DISPLAY)], "text": said},
        "severity": SEVERITIES[alert["priority"]],
        "patient": {"identifier": {"value": alert["patient_ref"]}},
        "identifiedDateTime": alert["opened_at"],
        "evidence": [_evidence(flag, words, registry) for flag in alert["evidence"]]
        + [_change_evidence(change, words) for change in alert["changes"]],
        "detail": " ".join(entry["text"] for entry in alert["guidance"]) or said,
        "meta": {"lastUpdated": alert.get("updated_at") or issued},
    }
    mitigations = []
    acknowledgement = alert.get("acknowledgement")
    if acknowledgement:
        mitigations.append(
            {
                "action": {"text": words("fhir.alert.acknowledged")},
                "date": acknowledgement["at"],
                "author": {"display": acknowledgement["by"]},
            }
        )
    resolution = alert.get("resolution")
    if resolution and resolution["status"] == "closed":
        mitigations.append(
            {
                "action": {"text": words("fhir.alert.closed", reason=resolution.get("reason"))},
                "date": resolution["at"],
                **({"author": {"display": resolution["by"]}} if resolution.get("by") else {}),
            }
        )
    if mitigations:
        issue["mitigation"] = mitigations
    return issue


def _evidence(flag: Json, words: Words, registry: InstrumentRegistry | None) -> Json:
    text = words(
        "fhir.alert.evidence",
        rule=words.texts("ui").get(f"rules.{flag['rule']}", flag["rule"]),
        instrument=flag["instrument"],
        scale=flag["scale"],
        session=flag["session"],
    )
    evidence: Json = {"code": [{"coding": [coding(rule_code(flag["rule"]), text)], "text": text}]}
    reference = _observation(flag["instrument"], flag["scale"], flag["administration_id"], registry)
    if reference is not None:
        evidence["detail"] = [{"reference": reference, "display": text}]
    return evidence


def _change_evidence(change: Json, words: Words) -> Json:
    parts = ", ".join(
        f"{part['instrument']} {part['scale']} {part['value']:g} vs {part['baseline']:g}"
        for part in change["components"]
    )
    text = words("fhir.alert.change", session=change["session"], parts=parts)
    return {"code": [{"coding": [coding(rule_code("alliance_change"), text)], "text": text}]}


def _observation(
    instrument: str, scale: str, administration_id: str, registry: InstrumentRegistry | None
) -> str | None:
    if registry is None:
        return None
    try:
        definition = registry.get(instrument).definition
    except UnknownInstrumentError:
        return None
    identifier = observation_id(definition, uuid.UUID(administration_id), scale)
    return None if identifier is None else f"Observation/{identifier}"


def _ended_at(alert: Json) -> str | None:
    resolution = alert.get("resolution")
    if resolution and resolution["status"] in ("repaired", "closed"):
        at = resolution.get("at")
        return str(at) if at else None
    return None
