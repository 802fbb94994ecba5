"""The patient form in Chromium: the spec's acceptance tests 1 to 3 (an SRS on a phone in
French with the keyboard alone; a missing answer; without JavaScript)."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.browser.conftest import (
    KIOSK_SECONDS,
    PHONE,
    ContextMaker,
    Site,
    focused_id,
    screenshot,
)


def tab_to(page: Page, element_id: str, limit: int = 40) -> None:
    """Press Tab until the element has the focus (the keyboard alone, as a patient would)."""
    for _ in range(limit):
        if focused_id(page) == element_id:
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached #{element_id}")


def test_an_srs_is_completed_on_a_phone_in_french_with_the_keyboard_alone(
    site: Site, new_context: ContextMaker
) -> None:
    episode_id = site.episode()
    url = site.form_link(episode_id, ["srs"], session=1)
    page = new_context(viewport=PHONE, locale="fr-FR").new_page()
    page.goto(url)
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Échelle d'évaluation")
    expect(page.locator("#item-1-value")).to_have_text("pas encore donnée")
    screenshot(page, "form-srs-phone-fr")
    # slider 1: the top (10); 2: the top, then 2 points down (8); 3: the bottom, then 3 up (3);
    # 4: the middle, one step up (5.1)
    keys = {"1": ["End"], "2": ["End", "PageDown", "PageDown"], "3": ["Home", *["PageUp"] * 3],
            "4": ["ArrowRight"]}  # fmt: skip
    for item, presses in keys.items():
        tab_to(page, f"item-{item}")
        for key in presses:
            page.keyboard.press(key)
    expect(page.locator("#item-2-value")).to_have_text("8")
    expect(page.locator("#item-4-value")).to_have_text("5,1")
    screenshot(page, "form-srs-answered-phone-fr")
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Envoyer mes réponses")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Merci")
    assert "26" not in page.locator("main").inner_text()  # the SRS total: never shown
    screenshot(page, "form-thanks-phone-fr")
    gone = page.goto(url)
    assert gone is not None
    assert gone.status == 410
    expect(page.get_by_role("heading", level=1)).to_have_text("Ce lien n'est plus valable")
    recorded = site.api.get(f"/v1/episodes/{episode_id}/administrations").json()["items"]
    assert [(a["instrument"], a["session"]) for a in recorded] == [("srs", 1)]
    answers = {"1": 10, "2": 8, "3": 3, "4": 5.1}
    assert recorded[0]["responses"] == answers
    scored = site.api.post("/v1/scores", json={"instrument": "srs", "responses": answers})
    assert recorded[0]["result"]["scales"] == scored.json()["scales"]


def test_a_missing_answer_moves_focus_to_the_error_summary_and_keeps_the_others(
    site: Site, new_context: ContextMaker
) -> None:
    url = site.form_link(site.episode(), ["wai-sr"], session=1)
    page = new_context(viewport=PHONE).new_page()
    page.goto(f"{url}?lang=en")
    for item in range(1, 13):
        if item != 7:
            page.locator(f"#field-{item}").get_by_text("Very often").click()
    page.get_by_role("button", name="Send my answers").click()
    summary = page.locator("#error-summary")
    expect(summary).to_be_focused()
    expect(summary).to_contain_text("Answer: 7. My therapist values me")
    assert page.locator("input[type=radio]:checked").count() == 11
    screenshot(page, "form-error-phone-en")
    summary.get_by_role("link").click()
    expect(page.locator("#item-7-1")).to_be_focused()
    page.keyboard.press("ArrowRight")  # radios answer to the arrow keys: "Sometimes"
    expect(page.locator("#item-7-2")).to_be_checked()
    page.get_by_role("button", name="Send my answers").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Thank you")


def test_without_javascript_the_form_still_submits(site: Site, new_context: ContextMaker) -> None:
    episode_id = site.episode()
    url = site.form_link(episode_id, ["srs", "wai-sr"], session=1, language="en")
    page = new_context(viewport=PHONE, javascript=False).new_page()
    page.goto(url)
    expect(page.get_by_text("Page 1 of 2")).to_be_visible()
    page.locator("#item-1").focus()
    page.keyboard.press("End")
    page.get_by_role("button", name="Next page").click()
    expect(page.get_by_text("Page 2 of 2")).to_be_visible()
    for item in range(1, 13):
        page.locator(f"#field-{item}").get_by_text("Always").click()
    page.get_by_role("button", name="Send my answers").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Thank you")
    recorded = site.api.get(f"/v1/episodes/{episode_id}/administrations").json()["items"]
    by_instrument = {a["instrument"]: a["responses"] for a in recorded}
    assert by_instrument["srs"] == {"1": 10, "2": 5, "3": 5, "4": 5}
    assert by_instrument["wai-sr"] == {str(item): 5 for item in range(1, 13)}


def test_in_kiosk_mode_the_thank_you_page_returns_to_a_neutral_page(
    site: Site, new_context: ContextMaker
) -> None:
    url = site.form_link(site.episode(), ["srs"], session=1, kiosk=True, language="en")
    page = new_context().new_page()
    page.goto(url)
    for item in range(1, 5):
        page.locator(f"#item-{item}").focus()
        page.keyboard.press("Home")
    page.get_by_role("button", name="Send my answers").click()
    expect(page.get_by_text("This screen will clear in a few seconds.")).to_be_visible()
    page.wait_for_url(f"{site.url}/f/kiosk?lang=en", timeout=(KIOSK_SECONDS + 5) * 1000)
    expect(page.get_by_role("heading", level=1)).to_have_text("Thank you")
    expect(page.locator("main")).to_contain_text("Please hand the device back.")
