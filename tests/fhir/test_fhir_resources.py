"""FHIR R4 resources built from the instruments and from scores, validated with `fhir.resources`.

`fhir.resources` has no plain R4 package any more; its R4B models (4.3.0) are R4 (4.0.1) for
every resource used here: Questionnaire, QuestionnaireResponse, Observation, Flag,
CodeSystem, OperationOutcome and Bundle did not change between the two.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.codesystem import CodeSystem
from fhir.resources.R4B.flag import Flag
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir.resources.R4B.questionnaire import Questionnaire
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse
from hypothesis import given
from hypothesis import strategies as st

from app.fhir.exchange import score_questionnaire_response
from app.fhir.observations import Context, flag_resource
from app.fhir.outcome import QuestionnaireResponseMismatchError, fhir_path
from app.fhir.questionnaire import answer_code, answer_code_system, is_choice, questionnaire
from app.fhir.terms import (
    ITEM_CONTROL_SYSTEM,
    ITEM_WEIGHT,
    ORDINAL_VALUE,
    SESSION_EXTENSION,
    SNOMED,
    answer_system,
    code_system,
    questionnaire_url,
)
from app.instruments.registry import InstrumentRegistry, LoadedInstrument
from app.languages.catalogues import Catalogues
from tests.core.test_known_answers import _load_cases, _same

NOW = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)


def response_resource(loaded: LoadedInstrument, responses: dict[str, Any]) -> dict[str, Any]:
    """A QuestionnaireResponse carrying `responses` (item id -> answer) the way an EHR would."""
    definition = loaded.definition
    items = {item.id: item for item in definition.items}
    entries = []
    for item_id, value in responses.items():
        entry: dict[str, Any] = {"linkId": item_id}
        if value is not None:
            choice = item_id in items and is_choice(definition.scale_of(items[item_id]))
            if not isinstance(value, int | float) or isinstance(value, bool):
                entry["answer"] = [{"valueString": str(value)}]
            elif choice:
                code = answer_code(value)
                entry["answer"] = [
                    {"valueCoding": {"system": answer_system(loaded.id), "code": code}}
                ]
            else:
                entry["answer"] = [{"valueDecimal": value}]
        entries.append(entry)
    return {
        "resourceType": "QuestionnaireResponse",
        "questionnaire": f"{questionnaire_url(loaded.id)}|{loaded.version}",
        "status": "completed",
        "subject": {"identifier": {"system": "urn:example:ehr", "value": "patient-0042"}},
        "authored": "2026-11-20T10:30:00+01:00",
        "extension": [{"url": SESSION_EXTENSION, "valuePositiveInt": 3}],
        "item": entries,
    }


def observations_by_code(bundle: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        entry["resource"]["code"]["coding"][0]["code"]: entry["resource"]
        for entry in bundle["entry"]
        if entry["resource"]["resourceType"] == "Observation"
    }


def test_every_instrument_is_a_valid_questionnaire(
    registry: InstrumentRegistry, languages: Catalogues
) -> None:
    for loaded in registry:
        resource = questionnaire(loaded.definition, loaded.definition_hash, languages.words("en"))
        parsed = Questionnaire.model_validate(resource)
        assert parsed.url == questionnaire_url(loaded.id)
        assert parsed.version == loaded.version
        assert [item.linkId for item in parsed.item or []] == [
            item.id for item in loaded.definition.items
        ]


def test_answer_weights_add_up_to_the_hand_checked_scale_scores(
    registry: InstrumentRegistry,
    languages: Catalogues,
) -> None:
    """Summing the Questionnaire's weights of the chosen answers gives the known answers, so
    the weights carry the reverse keys exactly (ordinalValue and itemWeight agree)."""
    checked = 0
    for param in _load_cases():
        instrument, case = param.values
        loaded = registry.get(instrument, case.get("version"))
        if "errors" in case or loaded.definition.id == "srs":
            continue
        resource = questionnaire(
            loaded.definition, loaded.definition_hash, languages.words("en"), weights=True
        )
        weights: dict[tuple[str, str], float] = {}
        for item in resource["item"]:
            for option in item.get("answerOption", []):
                coding = option["valueCoding"]
                if "extension" not in option:
                    continue  # 'not assessed': never scored
                (ordinal,) = (
                    e["valueDecimal"] for e in coding["extension"] if e["url"] == ORDINAL_VALUE
                )
                (weight,) = (
                    e["valueDecimal"] for e in option["extension"] if e["url"] == ITEM_WEIGHT
                )
                assert ordinal == weight
                weights[(item["linkId"], coding["code"])] = weight
        for scale in loaded.definition.scales:
            expected = case["scales"][scale.id]
            answers = [case["responses"].get(item_id) for item_id in scale.items]
            keyed = [
                weights.get((item_id, answer_code(value)))
                for item_id, value in zip(scale.items, answers, strict=True)
                if value is not None
            ]
            if expected.get("prorated") or expected.get("score") is None or None in keyed:
                continue
            if len(keyed) != len(scale.items) or scale.method != "sum":
                continue
            assert sum(w for w in keyed if w is not None) == pytest.approx(expected["score"]), (
                instrument,
                case["name"],
                scale.id,
            )
            checked += 1
    assert checked > 100


def test_the_srs_items_are_required_sliders_between_0_and_10(
    registry: InstrumentRegistry,
    languages: Catalogues,
) -> None:
    srs = registry.get("srs")
    resource = questionnaire(srs.definition, srs.definition_hash, languages.words("en"))
    first = resource["item"][0]
    assert first["type"] == "decimal"
    assert first["required"] is True  # the SRS allows no missing answer
    extensions = {e["url"].rsplit("/", 1)[1]: e for e in first["extension"]}
    assert extensions["minValue"]["valueDecimal"] == 0
    assert extensions["maxValue"]["valueDecimal"] == 10
    assert extensions["maxDecimalPlaces"]["valueInteger"] == 1
    control = extensions["questionnaire-itemControl"]["valueCodeableConcept"]["coding"][0]
    assert (control["system"], control["code"]) == (ITEM_CONTROL_SYSTEM, "slider")


def test_each_language_is_a_questionnaire_of_its_own_with_the_same_canonical(
    registry: InstrumentRegistry,
    languages: Catalogues,
) -> None:
    srs = registry.get("srs")
    english = questionnaire(srs.definition, srs.definition_hash, languages.words("en"))
    french = questionnaire(srs.definition, srs.definition_hash, languages.words("fr"))
    Questionnaire.model_validate(french)
    assert (english["language"], french["language"]) == ("en", "fr")
    assert (french["url"], french["version"]) == (english["url"], english["version"])
    assert french["id"] == f"{english['id']}-fr"
    assert french["title"].startswith("Échelle")
    assert french["item"][0]["text"] == "Relation : écoute, compréhension, respect"
    assert "_text" not in french["item"][0]  # no translation extension: one language each


def test_likert_items_are_radio_buttons_whose_answers_show_no_weight(
    registry: InstrumentRegistry,
    languages: Catalogues,
) -> None:
    """A reverse-keyed WAI-S answer reads "Always", never "Always - 1": renderers print an
    option's weight beside its text, so the form shows none."""
    wai_s = registry.get("wai-s")
    resource = questionnaire(wai_s.definition, wai_s.definition_hash, languages.words("en"))
    reversed_item = next(item for item in resource["item"] if item["linkId"] == "4")
    control = reversed_item["extension"][0]["valueCodeableConcept"]["coding"][0]
    assert control["code"] == "radio-button"
    always = reversed_item["answerOption"][-1]
    assert always == {
        "valueCoding": {"system": answer_system("wai-s"), "code": "7", "display": "Always"}
    }
    assert "ordinalValue" not in json.dumps(resource)
    assert "itemWeight" not in json.dumps(resource)
    weighted = questionnaire(
        wai_s.definition, wai_s.definition_hash, languages.words("en"), weights=True
    )
    always = next(item for item in weighted["item"] if item["linkId"] == "4")["answerOption"][-1]
    assert always["extension"] == [{"url": ITEM_WEIGHT, "valueDecimal": 1}]


def test_items_are_required_where_their_scales_allow_no_missing_answer(
    registry: InstrumentRegistry,
    languages: Catalogues,
) -> None:
    for loaded in registry.latest():
        resource = questionnaire(loaded.definition, loaded.definition_hash, languages.words("en"))
        for item in resource["item"]:
            rules = [
                scale.missing.max_missing
                for scale in loaded.definition.scales
                if item["linkId"] in scale.items
            ]
            assert item.get("required", False) == (0 in rules), (loaded.id, item["linkId"])
    wai_sr = registry.get("wai-sr")
    assert (
        "required"
        not in questionnaire(wai_sr.definition, wai_sr.definition_hash, languages.words("en"))[
            "item"
        ][0]
    )


def test_the_answer_code_systems_define_every_coded_answer(
    registry: InstrumentRegistry,
    languages: Catalogues,
) -> None:
    for loaded in registry.latest():
        resource = questionnaire(loaded.definition, loaded.definition_hash, languages.words("fr"))
        system = answer_code_system(loaded.definition, languages.words("fr"))
        CodeSystem.model_validate(system)
        assert system["url"] == answer_system(loaded.id)
        concepts = {concept["code"]: concept["display"] for concept in system["concept"]}
        assert len(concepts) == system["count"]
        for item in resource["item"]:
            for option in item.get("answerOption", []):
                coding = option["valueCoding"]
                assert coding["system"] == system["url"]
                assert coding["code"] in concepts
                assert concepts[coding["code"]] in (coding["display"], coding["code"])
    assert answer_code_system(registry.get("wai-s").definition, languages.words("fr"))["concept"][
        -1
    ] == {
        "code": "7",
        "display": "Toujours",
    }


def test_a_gated_item_is_enabled_only_by_its_gate(
    registry: InstrumentRegistry, languages: Catalogues
) -> None:
    loaded = registry.get("post-session-rupture-client")
    resource = questionnaire(loaded.definition, loaded.definition_hash, languages.words("en"))
    gated = [item for item in resource["item"] if "enableWhen" in item]
    assert gated, "the post-session questions 2-3 depend on question 1"
    for item in gated:
        (condition,) = item["enableWhen"]
        source = next(i for i in loaded.definition.items if i.id == item["linkId"]).applies_when
        assert source is not None
        assert condition["question"] == source.item
        assert condition["answerCoding"]["code"] == answer_code(source.equals)


def test_the_code_system_lists_every_scale_once_and_is_valid(
    registry: InstrumentRegistry,
) -> None:
    resource = code_system(loaded.definition for loaded in registry.latest())
    CodeSystem.model_validate(resource)
    codes = [concept["code"] for concept in resource["concept"]]
    assert len(codes) == len(set(codes)) == resource["count"]
    for loaded in registry.latest():
        for scale in loaded.definition.scales:
            assert f"{loaded.id}.{scale.id}" in codes
    assert "rupture.v_drop" in codes


@pytest.mark.parametrize(
    ("instrument", "case"), [p.values for p in _load_cases()], ids=[p.id for p in _load_cases()]
)
def test_a_questionnaire_response_scores_the_hand_checked_answer(
    registry: InstrumentRegistry, instrument: str, case: dict[str, Any]
) -> None:
    """Every known-answer case, sent as a QuestionnaireResponse: the Observations carry the
    hand-checked scores, means and POMPs; the error cases are refused naming the same items."""
    loaded = registry.get(instrument, case.get("version"))
    resource = response_resource(loaded, case["responses"])
    QuestionnaireResponse.model_validate(resource)
    if "errors" in case:
        with pytest.raises(QuestionnaireResponseMismatchError) as raised:
            score_questionnaire_response(registry, resource, NOW)
        named = {tuple(error["loc"][:2]) for error in raised.value.errors}
        assert named == {("item", error["loc"][-1]) for error in case["errors"]}
        OperationOutcome.model_validate(
            {"resourceType": "OperationOutcome", "issue": raised.value.members["issue"]}
        )
        return
    bundle = score_questionnaire_response(registry, resource, NOW)
    Bundle.model_validate(bundle)
    observations = observations_by_code(bundle)
    for scale_id, expected in case["scales"].items():
        observation = observations[f"{instrument}.{scale_id}"]
        Observation.model_validate(observation)
        assert observation["status"] == "final"
        assert observation["category"][0]["coding"][0]["code"] == "survey"
        assert observation["derivedFrom"] == [{"reference": bundle["entry"][0]["fullUrl"]}]
        assert loaded.version in observation["method"]["text"]
        if expected.get("score") is None:
            assert "valueQuantity" not in observation
            assert observation["dataAbsentReason"]["coding"][0]["code"] in (
                "unknown",
                "not-applicable",
            )
            continue
        quantity = observation["valueQuantity"]
        assert quantity["code"] == "{score}"
        assert quantity["system"] == "http://unitsofmeasure.org"
        assert _same(expected["score"], quantity["value"])
        mean, pomp = (component["valueQuantity"]["value"] for component in observation["component"])
        assert _same(expected["mean"], mean)
        assert _same(expected["pomp"], pomp)
    flagged = {
        (coding["code"], observation["code"]["coding"][0]["code"])
        for observation in observations.values()
        for interpretation in observation.get("interpretation", [])
        for coding in interpretation["coding"]
        if coding["code"].startswith("rupture.")
    }
    assert flagged == {
        (f"rupture.{flag['rule']}", f"{instrument}.{flag['scale']}")
        for flag in case.get("flags", [])
    }


def test_the_total_lists_the_subscales_it_contains(registry: InstrumentRegistry) -> None:
    loaded = registry.get("wai-sr")
    bundle = score_questionnaire_response(
        registry, response_resource(loaded, {str(i): 4 for i in range(1, 13)}), NOW
    )
    urls = {
        entry["resource"]["code"]["coding"][0]["code"]: entry["fullUrl"]
        for entry in bundle["entry"]
        if entry["resource"]["resourceType"] == "Observation"
    }
    total = observations_by_code(bundle)["wai-sr.total"]
    assert sorted(member["reference"] for member in total["hasMember"]) == sorted(
        urls[f"wai-sr.{scale}"] for scale in ("goal", "task", "bond")
    )
    assert total["valueQuantity"]["value"] == 48


def test_the_srs_total_also_carries_its_snomed_code(registry: InstrumentRegistry) -> None:
    loaded = registry.get("srs")
    bundle = score_questionnaire_response(
        registry, response_resource(loaded, {"1": 8.5, "2": 9, "3": 7.2, "4": 9.9}), NOW
    )
    total = observations_by_code(bundle)["srs.total"]
    assert {"system": SNOMED, "code": "720482000"} in total["code"]["coding"]
    assert total["valueQuantity"]["value"] == pytest.approx(34.6)
    (interpretation,) = total["interpretation"]  # 34.6 is under the SRS cut-off of 36
    assert interpretation["coding"][0]["code"] == "L"
    assert observations_by_code(bundle)["srs.relationship"].get("interpretation") is None


def test_the_reference_range_is_the_clinical_cut_off_not_the_whole_scale(
    registry: InstrumentRegistry,
) -> None:
    loaded = registry.get("srs")
    bundle = score_questionnaire_response(
        registry, response_resource(loaded, {"1": 7.5, "2": 7.5, "3": 7.5, "4": 7.5}), NOW
    )
    total = observations_by_code(bundle)["srs.total"]
    # An SRS of 30 is in the alert zone (36 or less): the range must not contain it.
    (reference,) = total["referenceRange"]
    assert reference["low"]["value"] == pytest.approx(36.1)  # totals move by 0.1
    assert "high" not in reference
    assert reference["text"].startswith("Above 36")
    assert total["valueQuantity"]["value"] < reference["low"]["value"]
    Observation.model_validate(total)
    # Scales without a cut-off (the SRS items, every WAI scale) carry no range at all.
    assert "referenceRange" not in observations_by_code(bundle)["srs.relationship"]
    wai = score_questionnaire_response(
        registry, response_resource(registry.get("wai-sr"), {str(i): 2 for i in range(1, 13)}), NOW
    )
    assert all("referenceRange" not in o for o in observations_by_code(wai).values())


@pytest.mark.parametrize(
    ("change", "loc", "code"),
    [
        (
            {"questionnaire": "https://example.org/Questionnaire/wai-sr"},
            ["questionnaire"],
            "unknown_questionnaire",
        ),
        (
            {"questionnaire": f"{questionnaire_url('wai-sr')}|9.9.9"},
            ["questionnaire"],
            "unknown_questionnaire",
        ),
        ({"status": "in-progress"}, ["status"], "not_completed"),
        (
            {"item": [{"linkId": "13", "answer": [{"valueCoding": {"code": "4"}}]}]},
            ["item", "13"],
            "unknown_item",
        ),
        (
            {"item": [{"linkId": "1", "answer": [{"valueInteger": 4}]}]},
            ["item", "1", "answer", 0],
            "wrong_answer_type",
        ),
        (
            {"item": [{"linkId": "1", "answer": [{"valueCoding": {"code": "6"}}]}]},
            ["item", "1", "answer", 0, "valueCoding", "code"],
            "unknown_answer_code",
        ),
        (
            {
                "item": [
                    {
                        "linkId": "1",
                        "answer": [{"valueCoding": {"system": "urn:other", "code": "4"}}],
                    }
                ]
            },
            ["item", "1", "answer", 0, "valueCoding", "system"],
            "unknown_answer_system",
        ),
        (
            {
                "item": [
                    {
                        "linkId": "2",
                        "answer": [{"valueCoding": {"code": "4"}}, {"valueCoding": {"code": "5"}}],
                    }
                ]
            },
            ["item", "2", "answer"],
            "one_answer",
        ),
    ],
)
def test_a_response_that_does_not_match_its_questionnaire_is_refused_naming_the_element(
    registry: InstrumentRegistry, change: dict[str, Any], loc: list[Any], code: str
) -> None:
    resource = {**response_resource(registry.get("wai-sr"), {"1": 4}), **change}
    with pytest.raises(QuestionnaireResponseMismatchError) as raised:
        score_questionnaire_response(registry, resource, NOW)
    assert [(e["loc"], e["code"]) for e in raised.value.errors] == [(loc, code)]
    (issue,) = raised.value.members["issue"]
    assert issue["expression"] == [fhir_path(loc)]
    OperationOutcome.model_validate({"resourceType": "OperationOutcome", "issue": [issue]})


def test_fhir_paths_name_items_by_link_id() -> None:
    assert fhir_path(["item", "7", "answer", 0, "valueCoding", "code"]) == (
        "QuestionnaireResponse.item.where(linkId='7').answer[0].value.ofType(Coding).code"
    )
    assert fhir_path(["item", 2]) == "QuestionnaireResponse.item[2]"
    assert fhir_path(["item", "it's"]) == "QuestionnaireResponse.item.where(linkId='it\\'s')"


def test_a_rupture_flag_is_a_fhir_flag_with_its_guidance_as_text(
    registry: InstrumentRegistry,
    languages: Catalogues,
) -> None:
    flag = {
        "instrument": "wai-sr", "rater": "client", "rule": "v_drop", "scale": "bond",
        "session": 6, "administration_id": str(uuid.uuid4()), "state": "repaired",
        "guidance": [
            {"id": "bond-rupture", "text": "Name the <tension> & ask.", "support": "meta-analysis",
             "support_label": "backed by a meta-analysis",
             "sources": ["Eubanks, Muran & Safran (2018)", "Safran & Muran (2000)"],
             "references": [
                 {"id": "eubanks-2018", "citation": "Eubanks, Muran & Safran (2018)",
                  "kind": "meta-analysis"},
                 {"id": "safran-muran-2000", "citation": "Safran & Muran (2000)",
                  "kind": "consensus-or-manual", "doi": "10.1000/xyz",
                  "url": "https://example.org/book"},
             ]}
        ],
    }  # fmt: skip
    context = Context(
        seed=uuid.uuid4(),
        subject={"identifier": {"value": "patient-0042"}},
        encounter=None,
        effective="2026-11-20T10:30:00+01:00",
        issued=NOW.isoformat(),
    )
    resource = flag_resource(
        registry.get("wai-sr").definition, flag, context, languages.words("en")
    )
    Flag.model_validate(resource)
    assert resource["status"] == "inactive"  # repaired
    assert resource["code"]["coding"][0]["code"] == "rupture.v_drop"
    assert (
        "Name the &lt;tension&gt; &amp; ask. (backed by a meta-analysis)" in resource["text"]["div"]
    )
    (guidance,) = resource["extension"]
    assert {"url": "text", "valueString": "Name the <tension> & ask."} in guidance["extension"]
    assert {"url": "support", "valueCode": "meta-analysis"} in guidance["extension"]
    assert {"url": "source", "valueString": "Safran & Muran (2000)"} in guidance["extension"]
    references = [e["extension"] for e in guidance["extension"] if e["url"] == "reference"]
    assert references == [
        [
            {"url": "id", "valueCode": "eubanks-2018"},
            {"url": "citation", "valueString": "Eubanks, Muran & Safran (2018)"},
            {"url": "kind", "valueCode": "meta-analysis"},
        ],
        [
            {"url": "id", "valueCode": "safran-muran-2000"},
            {"url": "citation", "valueString": "Safran & Muran (2000)"},
            {"url": "kind", "valueCode": "consensus-or-manual"},
            {"url": "doi", "valueString": "10.1000/xyz"},
            {"url": "url", "valueUri": "https://example.org/book"},
        ],
    ]


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=12,
)
ANSWERS = st.lists(
    st.dictionaries(
        st.sampled_from(["valueCoding", "valueDecimal", "valueInteger", "valueString", "id"]),
        JSON_VALUES | st.fixed_dictionaries({"code": st.sampled_from(["1", "4", "5", "9", ""])}),
        max_size=2,
    )
    | JSON_VALUES,
    max_size=2,
)
ITEMS = st.lists(
    st.fixed_dictionaries(
        {"linkId": st.sampled_from(["1", "2", "12", "13", ""]) | JSON_VALUES},
        optional={"answer": ANSWERS | JSON_VALUES, "item": JSON_VALUES},
    )
    | JSON_VALUES,
    max_size=4,
)


@given(
    questionnaire=st.sampled_from(
        [f"{questionnaire_url('wai-sr')}|1.1.0", questionnaire_url("srs"), "x"]
    )
    | JSON_VALUES,
    status=st.sampled_from(["completed", "in-progress"]) | JSON_VALUES,
    items=ITEMS | JSON_VALUES,
    extension=JSON_VALUES,
)
def test_any_json_is_scored_or_refused_with_located_errors_never_a_crash(
    registry: InstrumentRegistry, questionnaire: Any, status: Any, items: Any, extension: Any
) -> None:
    resource = {
        "resourceType": "QuestionnaireResponse",
        "questionnaire": questionnaire,
        "status": status,
        "item": items,
        "extension": extension,
        "subject": extension,
        "authored": status,
    }
    refused: QuestionnaireResponseMismatchError | None = None
    try:
        bundle = score_questionnaire_response(registry, resource, NOW)
    except QuestionnaireResponseMismatchError as error:  # anything else fails the test
        refused = error
    if refused is None:
        assert bundle["entry"][0]["resource"] is resource
        return
    assert refused.errors
    assert all(error["loc"] and error["code"] for error in refused.errors)
    OperationOutcome.model_validate(
        {"resourceType": "OperationOutcome", "issue": refused.members["issue"]}
    )
