"""The clinician console in Chromium: the spec's acceptance tests 4 and 5 (the worklist in
priority order, acknowledging and closing; the episode's chart and its data table)."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

from playwright.sync_api import Page, expect
from sqlalchemy import Engine, update

from app.platform.tables import AlertRecord
from tests.browser.conftest import ContextMaker, Site, screenshot

HIGH = {"1": 9.5, "2": 9.5, "3": 9.5, "4": 9.5}
LOW = {"1": 6.0, "2": 6.0, "3": 6.0, "4": 6.0}
DASH = " \N{EN DASH} "


def fallen_episode(site: Site, clinician: str, label: str) -> str:
    """An episode whose SRS fell at session 4 (below the cut-off, a drop): one alert."""
    episode_id = site.episode(clinician, label)
    for session, answers in ((1, HIGH), (2, HIGH), (3, HIGH), (4, LOW)):
        site.record(episode_id, session, answers)
    return episode_id


def alert_of(site: Site, episode_id: str) -> str:
    items = site.api.get(f"/v1/episodes/{episode_id}/alerts").json()["items"]
    assert len(items) == 1
    return str(items[0]["id"])


def sign_in(site: Site, page: Page, clinician: str, role: str = "clinician") -> None:
    page.goto(site.console_link(clinician, role))
    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile("Worklist|Liste"))


def test_seeded_alerts_are_worked_through_from_the_worklist(
    site: Site, new_context: ContextMaker, engine: Engine
) -> None:
    clinician = f"dr-{uuid.uuid4().hex[:6]}"
    episodes = {label: fallen_episode(site, clinician, label) for label in ("Ana", "Ben", "Cy")}
    alerts = {label: alert_of(site, episode_id) for label, episode_id in episodes.items()}
    now = datetime.now(UTC)
    seeded = {"Ana": ("high", 2, 3), "Ben": ("moderate", 1, 1), "Cy": ("moderate", 1, 5)}
    with engine.begin() as connection:
        for label, (priority, rank, days) in seeded.items():
            connection.execute(
                update(AlertRecord)
                .where(AlertRecord.id == uuid.UUID(alerts[label]))
                .values(priority=priority, priority_rank=rank, opened_at=now - timedelta(days=days))
            )
    page = new_context().new_page()
    sign_in(site, page, clinician)
    expect(page).to_have_title(re.compile(r"^Worklist \(3 open alerts\)"))
    rows = page.locator("table.worklist tbody tr")
    expect(rows).to_have_count(3)
    assert [rows.nth(i).locator("th").inner_text() for i in range(3)] == ["Ana", "Ben", "Cy"]
    assert [rows.nth(i).locator(".priority").inner_text().strip() for i in range(3)] == [
        "High", "Moderate", "Moderate",
    ]  # fmt: skip
    screenshot(page, "worklist-desktop-en")
    # every row's link and button is reached with Tab, in the table's order
    reached = []
    for _ in range(40):
        page.keyboard.press("Tab")
        reached.append(page.evaluate("document.activeElement.textContent.trim()"))
    wanted = [text for name in ("Ana", "Ben", "Cy") for text in (name, f"Acknowledge{DASH}{name}")]
    assert [text for text in dict.fromkeys(reached) if text in wanted] == wanted

    button = page.get_by_role("button", name=f"Acknowledge{DASH}Ana")
    button.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_have_text("Alert acknowledged.")
    page.reload()
    expect(rows.nth(0)).to_contain_text(f"Seen by {clinician}")
    acknowledgement = site.api.get(f"/v1/alerts/{alerts['Ana']}").json()["acknowledgement"]
    assert acknowledgement["by"] == clinician
    assert (
        now - timedelta(minutes=1)
        < datetime.fromisoformat(acknowledgement["at"])
        < now + timedelta(minutes=1)
    )

    page.get_by_role("link", name="Ana").click()
    close = page.locator(f"#alert-{alerts['Ana']}").get_by_role("button", name="Close the alert")
    close.click()
    expect(page.locator("#error-summary")).to_be_focused()
    expect(page.locator("#error-summary")).to_contain_text("Choose a reason for closing the alert.")
    assert site.api.get(f"/v1/alerts/{alerts['Ana']}").json()["status"] == "open"
    screenshot(page, "episode-close-refused-desktop-en")
    page.get_by_label("Reason for closing").select_option("discussed")
    page.get_by_role("button", name="Close the alert").click()
    expect(page.get_by_role("status")).to_have_text("Alert closed.")
    assert site.api.get(f"/v1/alerts/{alerts['Ana']}").json()["resolution"]["reason"] == "discussed"
    page.get_by_role("link", name="Back to the worklist").click()
    expect(page).to_have_title(re.compile(r"^Worklist \(2 open alerts\)"))
    expect(page.get_by_role("link", name="Ana")).to_have_count(0)


def test_the_episode_chart_is_named_marks_the_cut_off_and_the_alert_and_has_a_table_twin(
    site: Site, new_context: ContextMaker
) -> None:
    clinician = f"dr-{uuid.uuid4().hex[:6]}"
    episode_id = fallen_episode(site, clinician, "Dora")
    page = new_context().new_page()
    sign_in(site, page, clinician)
    page.get_by_role("link", name="Dora").click()
    expect(page.get_by_role("heading", level=2).first).to_have_text("What to try")
    chart = page.get_by_role("img", name="Session Rating Scale (SRS v3) · client")
    expect(chart).to_be_visible()
    expect(chart.locator('[data-role="alert-zone"]')).to_have_count(1)
    expect(chart.locator('[data-role="alert-zone"] title')).to_have_text("36 or less")
    marker = chart.locator('[data-role="alert"]')
    expect(marker).to_have_count(1)
    expect(marker).to_contain_text("High")
    page.get_by_text("Show the same data as a table").click()
    table = page.locator("table.chart-data")
    expect(table).to_be_visible()
    screenshot(page, "episode-desktop-en")
    headers = table.locator("thead th").all_inner_texts()
    total = headers.index("Total") if "Total" in headers else 2
    shown = [
        (int(row.locator("th").inner_text()), row.locator("th, td").nth(total).inner_text())
        for row in table.locator("tbody tr").all()
    ]
    points = site.api.get(
        f"/v1/episodes/{episode_id}/trajectory", params={"instrument": "srs"}
    ).json()["points"]
    assert shown == [(p["session"], f"{p['scales']['total']['score']:g}") for p in points]
    marked = [
        row.locator("td").last.inner_text().strip() for row in table.locator("tbody tr").all()
    ]
    assert marked == ["", "", "", "High"]
