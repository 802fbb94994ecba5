"""Wire schemas of the FHIR R4 resources Bordin reads and writes."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
)

# FHIR R4 resources. Their elements are FHIR's (camelCase, as the FHIR specification names
# them), validated against the FHIR models in the test suite; the schemas list the elements
# that Bordin reads or always writes.
FHIR_RESPONSE_EXAMPLE: dict[str, JsonValue] = {
    "resourceType": "QuestionnaireResponse",
    "questionnaire": "https://bordin.dev/fhir/Questionnaire/wai-sr|1.1.0",
    "status": "completed",
    "subject": {"identifier": {"system": "urn:example:ehr", "value": "patient-0042"}},
    "encounter": {"identifier": {"system": "urn:example:ehr", "value": "visit-7"}},
    "authored": "2026-11-22T10:30:00+01:00",
    "extension": [
        {"url": "https://bordin.dev/fhir/StructureDefinition/session-number", "valuePositiveInt": 5}
    ],
    "item": [
        {
            "linkId": "1",
            "answer": [
                {
                    "valueCoding": {
                        "system": "https://bordin.dev/fhir/CodeSystem/wai-sr-answers",
                        "code": "4",
                    }
                }
            ],
        }
    ],
}


class FhirResource(BaseModel):
    """Any FHIR R4 resource; its elements are those of its `resourceType`."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={"example": {"resourceType": "Observation", "status": "final"}},
    )

    resourceType: str  # noqa: N815 - FHIR's own name


class FhirQuestionnaireResponse(FhirResource):
    """A FHIR R4 QuestionnaireResponse to one of Bordin's Questionnaires."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"example": FHIR_RESPONSE_EXAMPLE})

    resourceType: Literal["QuestionnaireResponse"]  # noqa: N815
    questionnaire: str = Field(description="Canonical url, optionally `|version`.")
    status: Literal["completed", "amended", "in-progress", "entered-in-error", "stopped"]
    item: list[dict[str, Any]] = Field(default=[], description="linkId = the item id.")
    authored: str | None = None
    subject: dict[str, Any] | None = None
    encounter: dict[str, Any] | None = None
    source: dict[str, Any] | None = None
    extension: list[dict[str, Any]] = []


class FhirQuestionnaire(FhirResource):
    """A FHIR R4 Questionnaire: one instrument version."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "example": {
                "resourceType": "Questionnaire",
                "url": "https://bordin.dev/fhir/Questionnaire/wai-sr",
                "version": "1.1.0",
                "status": "active",
                "item": [{"linkId": "1", "text": "Clearer how I might change", "type": "choice"}],
            }
        },
    )

    resourceType: Literal["Questionnaire"]  # noqa: N815
    url: str
    version: str
    status: str
    item: list[dict[str, Any]]


class FhirCodeSystem(FhirResource):
    """Bordin's FHIR CodeSystem: scale scores, score components and rupture rules."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "example": {
                "resourceType": "CodeSystem",
                "url": "https://bordin.dev/fhir/CodeSystem/bordin",
                "version": "1.1.0",
                "status": "active",
                "content": "complete",
                "concept": [{"code": "wai-sr.bond", "display": "WAI-SR: Bond score"}],
            }
        },
    )

    resourceType: Literal["CodeSystem"]  # noqa: N815
    url: str
    version: str
    status: str
    content: str
    concept: list[dict[str, Any]]


class FhirBundleEntry(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "example": {
                "fullUrl": "urn:uuid:3f1c2b1e-8d4a-5b7e-9c1a-0e2f4d6b8a10",
                "resource": {"resourceType": "Observation", "status": "final"},
            }
        },
    )

    fullUrl: str | None = None  # noqa: N815
    resource: FhirResource


class FhirBundle(FhirResource):
    """A FHIR R4 collection Bundle: a QuestionnaireResponse, its Observations and Flags."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "example": {
                "resourceType": "Bundle",
                "type": "collection",
                "entry": [
                    {
                        "fullUrl": "urn:uuid:3f1c2b1e-8d4a-5b7e-9c1a-0e2f4d6b8a10",
                        "resource": {"resourceType": "Observation", "status": "final"},
                    }
                ],
            }
        },
    )

    resourceType: Literal["Bundle"]  # noqa: N815
    type: str
    entry: list[FhirBundleEntry] = []
