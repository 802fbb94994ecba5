"""Episodes and administrations as the API shows them: plain JSON values of their rows."""

from __future__ import annotations

from app.platform.plain import plain_json
from app.platform.tables import Administration, AdministrationRevision, Episode
from app.records.context import Json


def episode_view(episode: Episode) -> Json:
    return plain_json(
        {
            "id": episode.id,
            "patient_ref": episode.patient_ref,
            "clinician_ref": episode.clinician_ref,
            "setting": episode.setting,
            "started_on": episode.started_on,
            "label": episode.label,
            "created_at": episode.created_at,
            "ended_on": episode.ended_on,
            "end_reason": episode.end_reason,
        }
    )


def administration_view(
    administration: Administration, history: list[AdministrationRevision]
) -> Json:
    current = history[-1]
    return {
        "id": administration.id,
        "episode_id": administration.episode_id,
        "instrument": administration.instrument_id,
        "version": current.instrument_version,
        "definition_hash": current.definition_hash,
        "rater": administration.rater,
        "session": administration.session,
        "encounter_ref": administration.encounter_ref,
        "administered_at": current.administered_at,
        "status": current.status,
        "revision": current.revision,
        "responses": current.responses,
        "result": current.result,
        "history": [
            {
                "revision": earlier.revision,
                "status": earlier.status,
                "reason": earlier.reason,
                "version": earlier.instrument_version,
                "administered_at": earlier.administered_at,
                "created_at": earlier.created_at,
            }
            for earlier in history[:-1]
        ],
        "created_at": administration.created_at,
    }
