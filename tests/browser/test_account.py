"""The account page: who you are, changing the password, and where a lost phone goes."""

from __future__ import annotations

from playwright.sync_api import Page, Route, expect

from tests.browser.conftest import (
    NEW_PASSWORD,
    TABLET,
    Browser,
    Server,
    catalog,
    enrol_new_user,
    enter_code,
    expect_home,
    open_app,
    sign_in,
    totp,
)

NL = catalog("nl")


def change_password(page: Page, current: str, new: str, repeat: str | None = None) -> None:
    page.locator("#current-password").fill(current)
    page.locator("#new-password").fill(new)
    page.locator("#repeat-password").fill(new if repeat is None else repeat)
    page.locator("#password-form button[type=submit]").click()


def test_a_user_changes_the_password_and_signs_in_with_it(server: Server, browser: Browser) -> None:
    page = open_app(browser.page(viewport=TABLET, has_touch=True), server)
    secret = enrol_new_user(page, server, "wachtwoord")
    page.get_by_role("navigation").get_by_role("link", name=NL["nav.account"]).click()
    expect(page.locator("h1")).to_have_text(NL["account.title"])
    expect(page.locator("main")).to_contain_text(NL["account.factor.reset"])
    expect(
        page.get_by_role("navigation").get_by_role("link", name=NL["nav.account"])
    ).to_have_attribute("aria-current", "page")

    change_password(page, NEW_PASSWORD, "nog een veel langere zin", "iets anders dan dat")
    expect(page.locator("main [role=alert]")).to_have_text(NL["account.password.mismatch"])
    expect(page.locator("#repeat-password")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#repeat-password-error")).to_have_text(NL["field.mismatch"])

    change_password(page, "niet mijn wachtwoord", "nog een veel langere zin")
    expect(page.locator("main [role=alert]")).to_have_text(NL["account.password.wrong"])
    expect(page.locator("#current-password")).to_be_focused()

    change_password(page, NEW_PASSWORD, "nog een veel langere zin")
    expect(page.locator("main [role=status]")).to_have_text(NL["account.password.changed"])
    expect(page.locator("#repeat-password")).to_have_attribute("aria-invalid", "false")

    page.locator("#sign-out").click()
    expect(page.locator("#sign-in-form")).to_be_visible()
    sign_in(page, server, "wachtwoord", "nog een veel langere zin")
    enter_code(page, totp(secret, server))
    expect_home(page)


def test_the_session_expiring_while_signed_in_leads_to_sign_in_with_a_message(
    server: Server, browser: Browser
) -> None:
    """The access token runs out (the API says 401) and the sign-in is gone too."""
    page = open_app(browser.page(), server)
    enrol_new_user(page, server, "verlopen")
    page.goto(server.url("/#/account"))
    expect(page.locator("#password-form")).to_be_visible()
    page.context.clear_cookies(name="bb_refresh")

    def expired(route: Route) -> None:
        route.fulfill(
            status=401,
            content_type="application/json",
            body='{"error": {"code": "unauthenticated", "message": "expired", "details": {}}}',
        )

    page.route("**/api/v1/auth/password", expired)
    change_password(page, NEW_PASSWORD, "nog een veel langere zin")
    expect(page.locator("main [role=alert]")).to_have_text(NL["error.sessionExpired"])
    expect(page.locator("#sign-in-form")).to_be_visible()
    expect(page.locator("#sign-out")).to_be_hidden()
