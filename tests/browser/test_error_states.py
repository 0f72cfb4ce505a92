"""Acceptance (4): a wrong code, an expired session and a server error each show a plain
Dutch message that says what to do next, announced (role=alert), never a stack trace."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import Page, Route, expect

from tests.browser.conftest import (
    SECRETS,
    Browser,
    Server,
    catalog,
    enter_code,
    expect_home,
    open_app,
    sign_in,
    sign_in_with_totp,
    totp,
    wrong_code,
)

NL = catalog("nl")
LEAKS = ("Traceback", "Exception", "Error:", "internal", "boom", "unauthenticated", "{")


def assert_plain(page: Page) -> None:
    text = page.locator("body").inner_text()
    for leak in LEAKS:
        assert leak not in text, (leak, text)


def alert(page: Page) -> str:
    box = page.locator("main [role=alert]")
    expect(box).to_be_visible()
    return box.inner_text().strip()


def test_a_wrong_code_says_so_in_dutch_and_the_right_one_still_works(
    server: Server, browser: Browser
) -> None:
    page = open_app(browser.page(), server)
    sign_in(page, server, "daan", "niet-het-wachtwoord")
    expect(page.locator("main [role=alert]")).to_have_text(NL["error.signInFailed"])
    assert_plain(page)

    sign_in(page, server, "daan")
    expect(page.locator("#code")).to_be_visible()
    enter_code(page, wrong_code(SECRETS["daan"]))
    expect(page.locator("main [role=alert]")).to_have_text(NL["error.codeWrong"])
    expect(page.locator("#code")).to_be_focused()
    expect(page.locator("#code")).to_have_attribute("aria-invalid", "true")
    assert page.evaluate("document.documentElement.lang") == "nl"
    assert_plain(page)
    # What to do next works: the code the app shows now.
    enter_code(page, totp(SECRETS["daan"], server))
    expect_home(page)


@pytest.mark.parametrize("how", ["removed", "altered"])
def test_an_expired_session_sends_the_user_to_sign_in_with_a_dutch_message(
    server: Server, browser: Browser, how: str
) -> None:
    page = sign_in_with_totp(browser.page(), server, "anouk" if how == "removed" else "femke")
    context = page.context
    cookies = context.cookies()
    refresh = next(c for c in cookies if c["name"] == "bb_refresh")
    if how == "removed":
        context.clear_cookies(name="bb_refresh")
    else:
        context.add_cookies([{**refresh, "value": refresh["value"][::-1]}])  # type: ignore[list-item]
    page.reload()
    expect(page.locator("body[data-ready='true']")).to_be_attached()
    assert alert(page) == NL["error.sessionExpired"]
    expect(page.locator("#sign-in-form")).to_be_visible()
    assert_plain(page)


@pytest.mark.parametrize("path", ["/api/v1/auth/sign-in", "/api/v1/auth/second-factor"])
def test_a_server_error_shows_a_dutch_message_and_no_stack_trace(
    server: Server, browser: Browser, path: str
) -> None:
    def fail(route: Route) -> None:
        route.fulfill(
            status=500,
            content_type="application/json",
            body=json.dumps(
                {
                    "error": {
                        "code": "internal",
                        "message": 'Traceback (most recent call last): File "x.py" boom',
                        "details": {},
                    }
                }
            ),
        )

    page = open_app(browser.page(), server)
    page.route(f"**{path}", fail)
    sign_in(page, server, "joost")
    if path.endswith("second-factor"):
        expect(page.locator("#code")).to_be_visible()
        enter_code(page, totp(SECRETS["joost"], server))
    assert alert(page) == NL["error.server"]
    assert_plain(page)


def test_a_lost_connection_says_to_check_the_connection(server: Server, browser: Browser) -> None:
    page = open_app(browser.page(), server)
    page.route("**/api/v1/auth/sign-in", lambda route: route.abort("internetdisconnected"))
    sign_in(page, server, "ingrid")
    assert alert(page) == NL["error.network"]
    assert_plain(page)


def test_empty_fields_are_marked_and_announced(server: Server, browser: Browser) -> None:
    page = open_app(browser.page(), server)
    page.locator("#sign-in-form button[type=submit]").click()
    assert alert(page) == NL["error.required"]
    expect(page.locator("#username")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#username")).to_be_focused()
