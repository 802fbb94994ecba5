"""Every screen of both surfaces, in English and French: axe-core finds no WCAG 2.1 A or AA
violation, nothing scrolls sideways at 320 pixels, and every request a page makes goes to the
app's own origin (the spec's acceptance test 6). Each screen is also photographed at phone
and desktop sizes, for a person to look at."""

from __future__ import annotations

import uuid

from axe_playwright_python.sync_playwright import Axe  # type: ignore[import-untyped]
from playwright.sync_api import Page, ViewportSize, expect

from tests.browser.conftest import DESKTOP, PHONE, WCAG_21_AA, ContextMaker, Site, screenshot
from tests.browser.test_console import fallen_episode

NARROW: ViewportSize = {"width": 320, "height": 640}


def check_screen(page: Page, axe: Axe, name: str) -> list[str]:
    """Photograph the screen at both sizes; return what is wrong with it (axe's WCAG 2.1 A/AA
    violations, sideways scrolling at 320 pixels)."""
    problems = []
    for size, viewport in (("phone", PHONE), ("desktop", DESKTOP)):
        page.set_viewport_size(viewport)
        screenshot(page, f"{name}-{size}")
    results = axe.run(page, options={"runOnly": {"type": "tag", "values": WCAG_21_AA}})
    for violation in results.response["violations"]:
        targets = [node["target"] for node in violation["nodes"]][:3]
        problems.append(f"{name}: {violation['id']} ({violation['help']}) at {targets}")
    page.set_viewport_size(NARROW)
    width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    if width[0] > width[1]:
        problems.append(f"{name}: {width[0]} pixels wide at 320")
    page.set_viewport_size(DESKTOP)
    return problems


def test_every_screen_passes_axe_in_both_languages_and_reflows_at_320_pixels(
    site: Site, new_context: ContextMaker, axe: Axe
) -> None:
    clinician = f"dr-{uuid.uuid4().hex[:6]}"
    episode_id = fallen_episode(site, clinician, "Eve")
    forms_episode = site.episode(clinician, "Fred")
    crisis = {
        "en": "In an emergency call 112. Suicide prevention line: 3114, day and night.",
        "fr": "En cas d'urgence, appelez le 112. Prévention du suicide : 3114, jour et nuit.",
    }
    assert site.api.put("/v1/form-settings", json={"crisis_text": crisis}).status_code == 200
    problems: list[str] = []
    site.requests.clear()
    for lang in ("en", "fr"):
        page = new_context(locale=lang).new_page()

        def check(name: str, page: Page = page, lang: str = lang) -> None:
            problems.extend(check_screen(page, axe, f"{name}-{lang}"))

        session = 1 if lang == "en" else 2
        srs_link = site.form_link(forms_episode, ["srs"], session=session)
        wai_link = site.form_link(forms_episode, ["wai-sr"], session=session)
        page.goto(srs_link)
        check("form-srs")
        page.goto(wai_link)
        page.locator("form.questionnaire button[type=submit]").click()
        expect(page.locator("#error-summary")).to_be_focused()
        check("form-error")
        page.goto(srs_link)
        for item in range(1, 5):
            page.locator(f"#item-{item}").focus()
            page.keyboard.press("End")
        page.locator("form.questionnaire button[type=submit]").click()
        expect(page.locator(".crisis")).to_be_visible()
        check("form-thanks")
        page.goto(f"{site.url}/f/kiosk?lang={lang}")
        check("form-kiosk")
        page.goto(srs_link)
        check("form-gone")
        page.goto(f"{site.url}/console/sign-in")
        check("console-sign-in")
        page.get_by_label("E-mail" if lang == "en" else "Adresse e-mail").fill("no@one.example")
        page.locator("#password").fill("not the password")
        page.locator("form button[type=submit]").click()
        expect(page.locator("#error-summary")).to_be_focused()
        check("console-sign-in-failed")
        page.route("**/console-link.js", lambda route: route.abort())
        page.goto(site.console_link(clinician))
        check("console-link")
        page.unroute("**/console-link.js")
        page.locator("#link-form button").click()
        expect(page.locator("table.worklist")).to_be_visible()
        check("console-worklist")
        page.goto(f"{site.url}/console/episodes/{episode_id}")
        page.locator("details summary").first.click()
        check("console-episode")
        page.locator(".actions form").last.locator("button").click()
        expect(page.locator("#error-summary")).to_be_focused()
        check("console-close-refused")
        page.goto(f"{site.url}/console/episodes/{uuid.uuid4()}")
        check("console-not-found")
        page.goto(site.console_link(f"lead-{clinician}", "lead"))
        page.get_by_role("link", name="Accounts" if lang == "en" else "Comptes").click()
        page.locator("form button[type=submit]").last.click()  # nothing filled in: refused
        expect(page.locator("#error-summary")).to_be_focused()
        check("console-accounts")
    assert problems == []
    elsewhere = [url for url in site.requests if not url.startswith((site.url, "data:"))]
    assert elsewhere == []
    assert len(site.requests) > 30
