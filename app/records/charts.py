"""The trajectory chart, for a clinician who has ten seconds: one instrument, one rater.

Drawn as text by our own code (no plotting library, no script, every label escaped).

The main panel shows the instrument's main scale on its own scale (left axis) and as a percent
of its maximum (right axis), the cut-off's alert zone of that scale only, and one marker per
alert (not per flag) labelled with its priority and the dimensions involved. A second panel
shows the subscales as percents of their maximum, so that scales of different lengths share
one axis. Every word comes from the language catalogues (`chart.*`, `months.*`, `format.*`
of languages/<tag>/ui.yaml); every label is escaped; no script.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from app.instruments.definition import AlertZone, InstrumentDefinition
from app.instruments.texts import InstrumentTexts
from app.languages.catalogues import Words

WIDTH = 760
LEFT, RIGHT = 64, 200
MAIN_TOP, MAIN_HEIGHT = 84, 190
SUB_GAP, SUB_HEIGHT = 56, 110
AXIS_GAP = 34
COLOURS = ["#1b6ca8", "#d1495b", "#2a9d55", "#8a5a00", "#6c4f77", "#00798c"]
MAIN_COLOUR = "#222222"
PRIORITY_COLOURS = {"high": "#b00020", "moderate": "#d97706", "low": "#8c8c8c"}
BAND_COLOUR = "#fbe3e3"
BAND_EDGE = "#c0392b"


@dataclass(frozen=True)
class ChartScale:
    id: str
    label: str
    low: float
    high: float


@dataclass(frozen=True)
class ChartCutoff:
    value: float
    below: bool  # the alert zone lies at or below the value
    label: str


@dataclass(frozen=True)
class ChartPoint:
    session: int
    day: date
    scores: dict[str, float | None]


@dataclass(frozen=True)
class ChartAlert:
    opened_session: int
    priority: str
    dimensions: Sequence[str]
    status: str
    back_session: int | None = None


@dataclass(frozen=True)
class TrajectoryChart:
    title: str
    rater: str
    main: ChartScale
    cutoff: ChartCutoff | None
    subscales: Sequence[ChartScale]
    points: Sequence[ChartPoint]
    alerts: Sequence[ChartAlert] = field(default_factory=list)


def render(chart: TrajectoryChart, words: Words) -> str:
    language = words.language
    chart_words = words.texts("ui")
    sessions = [point.session for point in chart.points]
    first, last = (min(sessions), max(sessions)) if sessions else (1, 2)
    span = max(last - first, 1)
    plot = WIDTH - LEFT - RIGHT
    sub_top = MAIN_TOP + MAIN_HEIGHT + SUB_GAP
    height = (sub_top + SUB_HEIGHT if chart.subscales else MAIN_TOP + MAIN_HEIGHT) + 60

    def x(session: int) -> float:
        return round(LEFT + 12 + (session - first) / span * (plot - 24), 1)

    def y_main(score: float) -> float:
        share = (score - chart.main.low) / (chart.main.high - chart.main.low)
        return round(MAIN_TOP + (1 - share) * MAIN_HEIGHT, 1)

    def y_sub(pomp: float) -> float:
        return round(sub_top + (1 - pomp / 100) * SUB_HEIGHT, 1)

    rater = chart_words.get(f"chart.{chart.rater}", chart.rater)
    title = f"{chart.title} · {rater}"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}"'
        f' viewBox="0 0 {WIDTH} {height}" role="img" aria-label={quoteattr(title)}'
        f' font-family="DejaVu Sans, Arial, sans-serif" font-size="12" lang="{language}">',
        f"<title>{escape(title)}</title>",
        f'<rect x="0" y="0" width="{WIDTH}" height="{height}" fill="white"/>',
        f'<text x="{LEFT}" y="26" font-size="15" font-weight="bold" data-role="title">'
        f"{escape(title)}</text>",
    ]
    # -- main panel: the alert zone first, under everything
    if chart.cutoff is not None:
        edge = y_main(chart.cutoff.value)
        top, bottom = (edge, MAIN_TOP + MAIN_HEIGHT) if chart.cutoff.below else (MAIN_TOP, edge)
        parts.append(
            f'<rect x="{LEFT}" y="{top}" width="{plot}" height="{round(bottom - top, 1)}"'
            f' fill="{BAND_COLOUR}" data-role="alert-zone">'
            f"<title>{escape(chart.cutoff.label)}</title></rect>"
            f'<line x1="{LEFT}" y1="{edge}" x2="{LEFT + plot}" y2="{edge}" stroke="{BAND_EDGE}"'
            ' stroke-dasharray="6 3"/>'
            f'<text x="{LEFT + plot - 4}" y="{edge + (14 if chart.cutoff.below else -5)}"'
            f' text-anchor="end" fill="{BAND_EDGE}" font-size="11">'
            f"{escape(words('chart.alert_zone'))}{escape(words('format.colon'))}"
            f"{escape(chart.cutoff.label)}</text>"
        )
    parts += _frame(LEFT, MAIN_TOP, plot, MAIN_HEIGHT)
    for tick in _ticks(chart.main.low, chart.main.high):
        at = y_main(tick)
        pomp = (tick - chart.main.low) / (chart.main.high - chart.main.low) * 100
        parts.append(
            f'<line x1="{LEFT}" y1="{at}" x2="{LEFT + plot}" y2="{at}" stroke="#e4e4e4"/>'
            f'<text x="{LEFT - 6}" y="{at + 4}" text-anchor="end">{_num(tick)}</text>'
            f'<text x="{LEFT + plot + 6}" y="{at + 4}">{_num(round(pomp))}</text>'
        )
    score_axis = words(
        "chart.score_axis",
        scale=chart.main.label,
        low=_num(chart.main.low),
        high=_num(chart.main.high),
    )
    middle = MAIN_TOP + MAIN_HEIGHT / 2
    parts.append(
        f'<text x="16" y="{middle}" text-anchor="middle" transform="rotate(-90 16 {middle})"'
        f' data-role="axis-title">{escape(score_axis)}</text>'
        f'<text x="{LEFT + plot + 40}" y="{middle}" text-anchor="middle"'
        f' transform="rotate(90 {LEFT + plot + 40} {middle})" data-role="axis-title">'
        f"{escape(words('chart.pomp_axis'))}</text>"
    )
    main_points = [
        (point, score)
        for point in chart.points
        if (score := point.scores.get(chart.main.id)) is not None
    ]
    if len(main_points) > 1:
        path = " ".join(f"{x(p.session)},{y_main(s)}" for p, s in main_points)
        parts.append(
            f'<polyline points="{path}" fill="none" stroke="{MAIN_COLOUR}" stroke-width="2"/>'
        )
    for point, score in main_points:
        parts.append(
            f'<circle cx="{x(point.session)}" cy="{y_main(score)}" r="3.5" fill="{MAIN_COLOUR}"'
            f' data-session="{point.session}" data-score="{_num(score)}">'
            f"<title>{escape(words('chart.session'))} {point.session}:"
            f" {_num(score, words)}</title></circle>"
            f'<text x="{x(point.session)}" y="{y_main(score) - 8}" text-anchor="middle"'
            f' font-size="10" fill="#444">{_num(score, words)}</text>'
        )
    if not main_points:
        parts.append(
            f'<text x="{LEFT + plot / 2}" y="{middle}" text-anchor="middle" fill="#666">'
            f"{escape(words('chart.no_data'))}</text>"
        )
    # -- alerts: one marker each, above the panel at the session that opened it
    for alert in chart.alerts:
        colour = PRIORITY_COLOURS.get(alert.priority, PRIORITY_COLOURS["low"])
        at = x(alert.opened_session)
        dimensions = ", ".join(chart_words.get(f"chart.{d}", d) for d in alert.dimensions)
        label = words(f"chart.{alert.priority}") + (f" · {dimensions}" if dimensions else "")
        parts.append(
            f'<g data-role="alert" data-priority="{escape(alert.priority)}"'
            f' data-session="{alert.opened_session}">'
            f'<line x1="{at}" y1="{MAIN_TOP}" x2="{at}" y2="{MAIN_TOP + MAIN_HEIGHT}"'
            f' stroke="{colour}" stroke-width="1.5" stroke-dasharray="3 3"/>'
            f'<path d="M{at},{MAIN_TOP - 6} l-6,-10 h12 z" fill="{colour}"/>'
            f'<text x="{at + 9}" y="{MAIN_TOP - 8}" fill="{colour}" font-weight="bold">'
            f"{escape(label)}</text></g>"
        )
        if alert.back_session is not None:
            back = x(alert.back_session)
            parts.append(
                f'<text x="{back}" y="{MAIN_TOP + MAIN_HEIGHT - 6}" text-anchor="middle"'
                f' fill="#2a7d46" data-role="back">✓ {escape(words("chart.repaired"))}</text>'
            )
    # -- sessions and dates under the main panel (and the subscales')
    axis_y = (sub_top + SUB_HEIGHT) if chart.subscales else (MAIN_TOP + MAIN_HEIGHT)
    for point in chart.points:
        parts.append(
            f'<text x="{x(point.session)}" y="{axis_y + 16}" text-anchor="middle">'
            f"{point.session}</text>"
            f'<text x="{x(point.session)}" y="{axis_y + 29}" text-anchor="middle"'
            f' font-size="10" fill="#555">{escape(_day(point.day, words))}</text>'
        )
    parts.append(
        f'<text x="{LEFT + plot / 2}" y="{axis_y + 48}" text-anchor="middle"'
        f' data-role="axis-title">{escape(words("chart.session_axis"))}</text>'
    )
    # -- subscales in percent of their maximum
    if chart.subscales:
        parts += _frame(LEFT, sub_top, plot, SUB_HEIGHT)
        for pomp in (0, 50, 100):
            parts.append(
                f'<line x1="{LEFT}" y1="{y_sub(pomp)}" x2="{LEFT + plot}" y2="{y_sub(pomp)}"'
                f' stroke="#e4e4e4"/><text x="{LEFT - 6}" y="{y_sub(pomp) + 4}"'
                f' text-anchor="end">{pomp}</text>'
            )
        parts.append(
            f'<text x="{LEFT}" y="{sub_top - 8}" data-role="axis-title">'
            f"{escape(words('chart.subscales'))}</text>"
        )
        for index, scale in enumerate(chart.subscales):
            colour = COLOURS[index % len(COLOURS)]
            line = [
                (point.session, (score - scale.low) / (scale.high - scale.low) * 100)
                for point in chart.points
                if (score := point.scores.get(scale.id)) is not None
            ]
            if len(line) > 1:
                path = " ".join(f"{x(s)},{y_sub(p)}" for s, p in line)
                parts.append(f'<polyline points="{path}" fill="none" stroke="{colour}"/>')
            for session, pomp in line:
                parts.append(
                    f'<circle cx="{x(session)}" cy="{y_sub(pomp)}" r="2.5" fill="{colour}"/>'
                )
    # -- legend
    legend_x = LEFT + plot + 64
    entries: list[tuple[str, str]] = [("line:" + MAIN_COLOUR, chart.main.label)]
    entries += [
        ("line:" + COLOURS[i % len(COLOURS)], scale.label)
        for i, scale in enumerate(chart.subscales)
    ]
    if chart.cutoff is not None:
        entries.append(
            (
                "band:" + BAND_COLOUR,
                f"{words('chart.alert_zone')}{words('format.colon')}{chart.cutoff.label}",
            )
        )
    entries += [
        ("alert:" + PRIORITY_COLOURS[p], words(f"chart.legend_{p}"))
        for p in ("high", "moderate", "low")
    ]
    parts.append('<g data-role="legend" font-size="11">')
    row = MAIN_TOP
    for symbol, text in entries:
        kind, colour = symbol.split(":")
        if kind == "line":
            parts.append(
                f'<line x1="{legend_x}" y1="{row}" x2="{legend_x + 16}" y2="{row}"'
                f' stroke="{colour}" stroke-width="2"/>'
            )
        elif kind == "band":
            parts.append(
                f'<rect x="{legend_x}" y="{row - 6}" width="16" height="12" fill="{colour}"/>'
            )
        else:
            parts.append(f'<path d="M{legend_x + 8},{row + 5} l-6,-10 h12 z" fill="{colour}"/>')
        for offset, piece in enumerate(_wrap(text, 18)):
            parts.append(
                f'<text x="{legend_x + 22}" y="{row + 4 + offset * 13}">{escape(piece)}</text>'
            )
        row += 16 + 13 * (len(_wrap(text, 18)) - 1) + 4
    parts.append("</g></svg>")
    return "\n".join(parts)


def _frame(left: float, top: float, width: float, height: float) -> list[str]:
    return [
        f'<rect x="{left}" y="{top}" width="{width}" height="{height}" fill="none" stroke="#999"/>'
    ]


def _ticks(low: float, high: float) -> list[float]:
    span = high - low
    step = next(s for s in (1, 2, 4, 5, 10, 20, 25, 50) if span / s <= 6)
    start = low if low % step == 0 else low + (step - low % step)
    ticks = []
    value = start
    while value <= high + 1e-9:
        ticks.append(value)
        value += step
    return ticks


def _num(number: float, words: Words | None = None) -> str:
    """A number as the language writes it (axis ticks, without `words`, as printed)."""
    text = f"{number:g}"
    return text if words is None else text.replace(".", words("format.decimal_separator"))


def _day(day: date, words: Words) -> str:
    return f"{day.day} {words(f'months.{day.month}')}"


def _wrap(text: str, width: int) -> list[str]:
    lines: list[str] = []
    current = ""
    for word in text.split():
        if current and len(current) + 1 + len(word) > width:
            lines.append(current)
            current = word
        else:
            current = f"{current} {word}".strip()
    if current:
        lines.append(current)
    return lines or [""]


# -- From a trajectory to the chart -------------------------------------------------------------


def trajectory_svg(
    trajectory: dict[str, Any],
    definition: InstrumentDefinition,
    alerts: Sequence[dict[str, Any]],
    words: Words,
) -> str:
    """The chart of a series (`trajectory`: as `GET …/trajectory` answers it), with the alerts
    of the episode that concern it (`alerts`: as the API shows them)."""
    texts = InstrumentTexts.of(words, definition)
    main = _main_scale(definition)
    scales = {scale.id: _chart_scale(definition, scale.id, texts.scale(scale.id)) for scale in
              definition.scales}  # fmt: skip
    cutoff = next((c for c in definition.cutoffs if c.scale == main.id), None)
    series_alerts = [
        ChartAlert(
            opened_session=alert["opened_session"],
            priority=alert["priority"],
            dimensions=alert["dimensions"],
            status=alert["status"],
            back_session=(alert.get("resolution") or {}).get("session")
            if alert["status"] == "repaired"
            else None,
        )
        for alert in alerts
        if _concerns(alert, trajectory["instrument"], trajectory["rater"])
    ]
    chart = TrajectoryChart(
        title=texts.title,
        rater=trajectory["rater"],
        main=scales[main.id],
        cutoff=(
            ChartCutoff(
                cutoff.value,
                cutoff.alert_zone in (AlertZone.at_or_below, AlertZone.below),
                words(f"chart.zones.{cutoff.alert_zone.value}", value=_num(cutoff.value, words)),
            )
            if cutoff is not None
            else None
        ),
        subscales=[scales[s.id] for s in definition.scales if s.id != main.id],
        points=[
            ChartPoint(
                session=point["session"],
                day=_day_of(point["administered_at"]),
                scores={scale: values["score"] for scale, values in point["scales"].items()},
            )
            for point in trajectory["points"]
        ],
        alerts=series_alerts,
    )
    return render(chart, words)


def _main_scale(definition: InstrumentDefinition) -> Any:
    """The overall alliance scale (the total), else the scale with a cut-off, else the first."""
    for scale in definition.scales:
        if scale.dimension is not None and scale.dimension.value == "alliance":
            return scale
    with_cutoff = {cutoff.scale for cutoff in definition.cutoffs}
    return next((s for s in definition.scales if s.id in with_cutoff), definition.scales[0])


def _chart_scale(definition: InstrumentDefinition, scale_id: str, label: str) -> ChartScale:
    scale = next(s for s in definition.scales if s.id == scale_id)
    items = {item.id: item for item in definition.items}
    response = definition.scale_of(items[scale.items[0]])
    count = 1 if scale.method == "mean" else len(scale.items)
    return ChartScale(scale.id, label, response.min * count, response.max * count)


def _concerns(alert: dict[str, Any], instrument: str, rater: str) -> bool:
    return any(
        flag["instrument"] == instrument and flag["rater"] == rater for flag in alert["evidence"]
    ) or any(
        part["instrument"] == instrument and part["rater"] == rater
        for change in alert["changes"]
        for part in change["components"]
    )


def _day_of(moment: Any) -> date:
    if isinstance(moment, datetime):
        return moment.date()
    return datetime.fromisoformat(str(moment)).date()
