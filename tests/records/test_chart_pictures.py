"""The trajectory chart as a picture: rendered to PNG by librsvg (`rsvg-convert`, from Debian;
`make test` installs it when missing), at the size it declares, with its legend and axis
titles in the caller's language. The pictures are written to `test-artifacts/charts/` for
people to look at."""

from __future__ import annotations

import shutil
import struct
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from xml.etree import ElementTree

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.platform.settings import PROJECT_ROOT
from tests.webhooks_support import Organisation

ARTIFACTS = PROJECT_ROOT / "test-artifacts" / "charts"
SVG = "{http://www.w3.org/2000/svg}"
LEGEND_AND_AXES = {
    "en": [
        "Session (date)",
        "% of maximum",
        "Total (0\N{EN DASH}40)",
        "High-priority alert",
        "Alert zone",
    ],
    "fr": [
        "Séance (date)",
        "% du maximum",
        "Total (0\N{EN DASH}40)",
        "Alerte de priorité",
        "Zone d'alerte",
    ],
}


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


@pytest.fixture
def staff(app: FastAPI, organisation: Organisation) -> Iterator[TestClient]:
    # As a context manager: the app's lifespan disposes of its database connections.
    with TestClient(app, headers=organisation.headers) as client:
        yield client


@pytest.mark.parametrize("language", ["en", "fr"])
def test_the_chart_renders_to_a_picture_with_its_legend_and_axis_titles(
    staff: TestClient, language: str
) -> None:
    rsvg = shutil.which("rsvg-convert")
    assert rsvg is not None, "make test installs librsvg2-bin (rsvg-convert)"
    body = {"patient_ref": f"ehr-{uuid.uuid4()}", "clinician_ref": "c", "setting": "nursing"}
    episode = staff.post("/v1/episodes", json=body).json()["id"]
    totals = [38.0, 37.6, 38.4, 29.0, 31.2, 36.8, 37.6, 38.4]
    for session, total in enumerate(totals, start=1):
        answers = {str(item): round(total / 4, 1) for item in range(1, 5)}
        recorded = staff.post(
            f"/v1/episodes/{episode}/administrations",
            json={
                "instrument": "srs", "rater": "client", "session": session,
                "administered_at": f"2026-03-{session + 1:02d}T10:00:00+01:00",
                "responses": answers,
            },
        )  # fmt: skip
        assert recorded.status_code == 201
    svg = staff.get(
        f"/v1/episodes/{episode}/trajectory.svg",
        params={"instrument": "srs"},
        headers={"Accept-Language": language},
    ).text
    root = ElementTree.fromstring(svg)
    words = " ".join(node.text or "" for node in root.iter(f"{SVG}text"))
    for expected in LEGEND_AND_AXES[language]:
        assert expected in words, expected
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    source, picture = ARTIFACTS / f"srs-{language}.svg", ARTIFACTS / f"srs-{language}.png"
    source.write_text(svg, encoding="utf-8")
    subprocess.run([rsvg, str(source), "-o", str(picture)], check=True, timeout=60)
    assert png_size(picture) == (int(root.get("width", 0)), int(root.get("height", 0)))
    assert picture.stat().st_size > 20_000  # lines, markers and text, not a blank page
