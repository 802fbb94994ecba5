"""What the console's pages show, built from the records' and alerts' own use cases: the
worklist (one row per open alert, its priority in words, a one-line reason, its age, the last
session's date) and the episode view (guidance first, one chart per series with the same data
as a table, each alert's evidence). No HTTP here; the routes render these as pages."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from app.access.console_sessions import Clinician
from app.alerts import alerts
from app.instruments.definition import InstrumentDefinition
from app.instruments.texts import InstrumentTexts
from app.languages.catalogues import UI, Words
from app.platform import store_console
from app.platform.errors import AlertNotFoundError, EpisodeNotFoundError
from app.records import administrations, evaluation
from app.records.charts import trajectory_svg
from app.records.context import Records

Json = dict[str, Any]
PRIORITIES = ("high", "moderate", "low")
# The order in which a reason names what happened: what the clinician recognises first.
REASON_ORDER = (
    "below_cutoff", "drop_from_previous", "reported_rupture", "alliance_change", "reliable_drop",
    "rater_discrepancy", "sudden_loss", "v_drop",
)  # fmt: skip
CLOSURE_REASONS = ("discussed", "false_alarm", "episode_ended", "other")
GUIDANCE_SHOWN = 3


def number(value: float | None, words: Words) -> str:
    """A score to one decimal, written as the language writes numbers."""
    if value is None:
        return ""
    rounded = round(float(value), 1)
    text = str(int(rounded)) if rounded.is_integer() else f"{rounded:g}"
    return text.replace(".", words("format.decimal_separator"))


def day(value: Any, words: Words) -> str:
    """A date in full, as the language writes it (`format.date`)."""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    when: date = moment.date()
    return words("format.date", year=f"{when.year:04d}", month=f"{when.month:02d}",
                 day=f"{when.day:02d}")  # fmt: skip


def age(opened_at: Any, now: datetime, words: Words) -> str:
    moment = opened_at if isinstance(opened_at, datetime) else datetime.fromisoformat(opened_at)
    minutes = max(int((now - moment).total_seconds() // 60), 0)
    if minutes < 60:
        return words("console.ages.minutes", n=minutes)
    if minutes < 24 * 60:
        return words("console.ages.hours", n=minutes // 60)
    days = minutes // (24 * 60)
    return words("console.ages.day") if days == 1 else words("console.ages.days", n=days)


def short_name(records: Records, instrument: str) -> str:
    definition = records.registry.get(instrument).definition
    return definition.aliases[0] if definition.aliases else instrument.upper()


def scale_label(definition: InstrumentDefinition, scale_id: str, catalogue: Words) -> str:
    return InstrumentTexts.of(catalogue, definition).scale(scale_id)


def reason(records: Records, alert: Json, words: Words) -> str:
    """One line saying why: e.g. "SRS 31, 36 or less; 5 below last session"."""
    found: list[tuple[int, str]] = []
    for change in alert.get("changes", []):
        for part in change.get("components", []):
            drop = (part.get("baseline") or 0) - (part.get("value") or 0)
            text = words(
                "console.reasons.alliance_change",
                instrument=short_name(records, part["instrument"]),
                value=number(part.get("value"), words), drop=number(drop, words),
                baseline=number(part.get("baseline"), words),
            )  # fmt: skip
            found.append((REASON_ORDER.index("alliance_change"), text))
    for flag in alert.get("evidence", []):
        found.append(_flag_reason(records, flag, words))
    lines: list[str] = []
    for _, text in sorted(found, key=lambda pair: pair[0]):
        if text not in lines:
            lines.append(text)
    return words("console.reason_separator").join(lines[:2])


def _flag_reason(records: Records, flag: Json, words: Words) -> tuple[int, str]:
    rule = flag["rule"]
    definition = records.registry.get(flag["instrument"]).definition
    value, reference = flag.get("value"), flag.get("reference")
    drop = (reference or 0) - (value or 0) if reference is not None else None
    fields = {
        "instrument": short_name(records, flag["instrument"]),
        "scale": scale_label(definition, flag["scale"], words),
        "value": number(value, words),
        "reference": number(reference, words),
        "drop": number(drop, words),
        "rule": rule,
    }
    texts = words.texts(UI)
    if rule == "below_cutoff":
        zone = texts.get(f"console.zones.{flag.get('alert_zone') or 'at_or_below'}", "{threshold}")
        fields["zone"] = zone.format(threshold=number(flag.get("threshold"), words))
    rank = REASON_ORDER.index(rule) if rule in REASON_ORDER else len(REASON_ORDER)
    template = texts.get(f"console.reasons.{rule}", texts["console.reasons.other"])
    return rank, template.format(**fields)


def worklist(
    records: Records,
    clinician: Clinician,
    *,
    mine: bool,
    priorities: Sequence[str] | None,
    words: Words,
    now: datetime,
) -> list[Json]:
    """The rows of the worklist: a clinician sees their own clients' alerts; a lead sees the
    organisation's, or their own with `mine`."""
    own = clinician.clinician_ref if (mine or not clinician.is_lead) else None
    page, _ = alerts.list_alerts(
        records, statuses=None, priorities=priorities, acknowledged=None, clinician_ref=own,
        setting=None, episode_id=None, since=None, limit=200, cursor=None,
    )  # fmt: skip
    with records.database.session() as session:
        latest = store_console.latest_sessions(
            session, records.organization_id, [episode.id for _, episode in page]
        )
    rows = []
    for row, episode in page:
        view = alerts.alert_view(row, episode)
        last = latest.get(episode.id)
        rows.append(
            {
                "id": view["id"],
                "episode_id": view["episode_id"],
                "client": episode.label or episode.patient_ref,
                "priority": view["priority"],
                "status": view["status"],
                "reason": reason(records, view, words),
                "age": age(view["opened_at"], now, words),
                "last_session": (
                    words("console.session.dated", n=last[0], date=day(last[1], words))
                    if last is not None
                    else ""
                ),
                "acknowledgement": view["acknowledgement"],
            }
        )
    return rows


def episode_page(
    records: Records,
    clinician: Clinician,
    episode_id: uuid.UUID,
    *,
    words: Words,
) -> Json:
    """The episode view: guidance of its most urgent active alert first, then each series'
    chart and table, then every alert with its evidence. A clinician's page is their own
    client's episode only (another's answers as a missing one)."""
    rows, episode = alerts.episode_alerts(records, episode_id)
    if not clinician.is_lead and episode.clinician_ref != clinician.clinician_ref:
        raise EpisodeNotFoundError(f"no episode {episode_id}")
    shown = [
        alerts.rendered(alerts.alert_view(row, episode), records.guidance, words.language)
        for row in rows
    ]
    active = [alert for alert in shown if alert["status"] in ("open", "unrepaired")]
    active.sort(key=lambda alert: PRIORITIES.index(alert["priority"]))
    guidance = active[0]["guidance"][:GUIDANCE_SHOWN] if active else []
    recorded = administrations.list_administrations(records, episode_id, limit=200, cursor=None)
    series = list(dict.fromkeys((a["instrument"], a["rater"]) for a in recorded["items"]))
    plain_alerts = [alerts.alert_view(row, episode) for row in rows]
    charts = [
        _chart(records, episode_id, instrument, rater, plain_alerts, words)
        for instrument, rater in series
    ]
    sessions = [a["session"] for a in recorded["items"]]
    client_forms = [i for i, rater in series if rater == "client"] or ["srs"]
    for alert in shown:
        alert["reason"] = reason(records, alert, words)
        alert["evidence_lines"] = [
            _flag_reason(records, flag, words)[1] for flag in alert["evidence"]
        ]
        alert["dimension_names"] = ", ".join(
            words.texts(UI).get(f"console.dimensions.{name}", name) for name in alert["dimensions"]
        )
    return {
        "episode_id": str(episode.id),
        "client": episode.label or episode.patient_ref,
        "guidance": guidance,
        "alerts": list(reversed(shown)),
        "charts": charts,
        "next_session": (max(sessions) + 1) if sessions else 1,
        "form_instruments": list(dict.fromkeys(client_forms)),
    }


def visible_alert(records: Records, clinician: Clinician, alert_id: uuid.UUID) -> uuid.UUID:
    """The episode of an alert the clinician may act on (404 as for a missing one otherwise)."""
    _, episode = alerts.get_alert(records, alert_id)
    if not clinician.is_lead and episode.clinician_ref != clinician.clinician_ref:
        raise AlertNotFoundError(f"no alert {alert_id}")
    return episode.id


def visible_episode(records: Records, clinician: Clinician, episode_id: uuid.UUID) -> None:
    _, episode = alerts.episode_alerts(records, episode_id)
    if not clinician.is_lead and episode.clinician_ref != clinician.clinician_ref:
        raise EpisodeNotFoundError(f"no episode {episode_id}")


def _chart(
    records: Records,
    episode_id: uuid.UUID,
    instrument: str,
    rater: str,
    episode_alerts: Sequence[Json],
    words: Words,
) -> Json:
    trajectory = evaluation.trajectory(records, episode_id, instrument=instrument, rater=rater)
    definition = records.registry.get(instrument).definition
    svg = trajectory_svg(trajectory, definition, episode_alerts, words)
    scales = [scale.id for scale in definition.scales]
    main = _main_scale(definition)
    ordered = [main, *[scale for scale in scales if scale != main]]
    opened = {
        alert["opened_session"]: alert["priority"]
        for alert in episode_alerts
        if any(f["instrument"] == instrument and f["rater"] == rater for f in alert["evidence"])
        or any(
            part["instrument"] == instrument and part["rater"] == rater
            for change in alert["changes"]
            for part in change["components"]
        )
    }
    rows = [
        {
            "session": point["session"],
            "date": day(point["administered_at"], words),
            "scores": [number(point["scales"].get(s, {}).get("score"), words) for s in ordered],
            "alert": opened.get(point["session"]),
        }
        for point in trajectory["points"]
    ]
    return {
        "id": f"{instrument}-{rater}",
        "title": f"{short_name(records, instrument)} · {rater}",
        "svg": svg,
        "columns": [scale_label(definition, scale, words) for scale in ordered],
        "rows": rows,
    }


def _main_scale(definition: InstrumentDefinition) -> str:
    for scale in definition.scales:
        if scale.dimension is not None and scale.dimension.value == "alliance":
            return scale.id
    with_cutoff = {cutoff.scale for cutoff in definition.cutoffs}
    return next((s.id for s in definition.scales if s.id in with_cutoff), definition.scales[0].id)
