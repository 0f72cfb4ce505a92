"""Acceptance (2): axe-core finds no serious or critical violation on any page of the shell,
in Dutch and in English, at desktop size and on a tablet (1280x800)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from beeldbel.identity.demo import DEMO_PASSWORD
from tests.browser.conftest import (
    DESKTOP,
    SECRETS,
    TABLET,
    Browser,
    Server,
    axe_violations,
    expect_home,
    open_app,
    totp,
    tour,
)


@pytest.mark.parametrize(
    ("size", "viewport", "demo_user"),
    [("desktop", DESKTOP, "femke"), ("tablet", TABLET, "joost")],
)
def test_axe_finds_no_serious_or_critical_violation(
    server: Server, browser: Browser, size: str, viewport: dict[str, int], demo_user: str
) -> None:
    found: dict[str, list[object]] = {}

    def check(page: Page, name: str) -> None:
        violations = axe_violations(page)
        if violations:
            found[f"{name}/{page.evaluate('document.documentElement.lang')}"] = violations

    page = browser.page(viewport=viewport, bypass_csp=True, has_touch=size == "tablet")
    seen = tour(page, server, demo_user, check, new_user=f"axe{size}")
    assert {"sign-in/nl", "sign-in/en", "enrolment/nl", "enrolment/en"} <= set(seen)
    assert {"home/nl", "home/en", "account/nl", "account/en"} <= set(seen)
    assert not found, found


def test_touch_targets_are_at_least_44_pixels_on_a_tablet(server: Server, browser: Browser) -> None:
    small: list[str] = []

    def measure(page: Page, name: str) -> None:
        small.extend(
            f"{name}: {label}"
            for label in page.evaluate(
                """() => [...document.querySelectorAll('button, a, input')]
                  .filter((el) => el.offsetParent !== null && !el.classList.contains('skip'))
                  .filter((el) => {
                    const box = el.getBoundingClientRect();
                    return box.height < 44 || box.width < 44;
                  })
                  .map((el) => el.outerHTML.slice(0, 80))"""
            )
        )

    page = browser.page(viewport=TABLET, has_touch=True)
    tour(page, server, "daan", measure, new_user="touch")
    assert not small, small


def test_sign_in_works_by_keyboard_alone_in_a_sensible_focus_order_with_visible_focus(
    server: Server, browser: Browser
) -> None:
    page = open_app(browser.page(), server)
    order = []
    for _ in range(5):
        page.keyboard.press("Tab")
        order.append(page.evaluate("document.activeElement.id || document.activeElement.type"))
        outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
        assert outline not in {"none", ""}, order
    assert order == ["skip-link", "lang-switch", "username", "password", "submit"]

    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Shift+Tab")
    page.keyboard.type("anouk")
    page.keyboard.press("Tab")
    page.keyboard.type(DEMO_PASSWORD)
    page.keyboard.press("Enter")
    expect(page.locator("#code")).to_be_visible()
    # The new page's heading takes the focus, so a screen reader reads where the user is.
    expect(page.locator("h1")).to_be_focused()
    page.locator("#code").focus()
    page.keyboard.type(totp(SECRETS["anouk"], server))
    page.keyboard.press("Enter")
    expect_home(page)

    # After a reload (the sign-in resumes), the skip link comes first; it jumps to the
    # content and leaves the route alone.
    page.reload()
    expect_home(page)
    page.keyboard.press("Tab")
    expect(page.locator("#skip-link")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#main")).to_be_focused()
    assert page.url.endswith("#/home")
