"""Acceptance (1): sign in with password and TOTP, Dutch home, English, sign out; enrolment."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable

import pyotp
from playwright.sync_api import Page, expect

from tests.browser.conftest import (
    SECRETS,
    TABLET,
    Browser,
    Server,
    catalog,
    enter_code,
    expect_home,
    language_of,
    open_app,
    sign_in,
    totp,
)

NL = catalog("nl")
EN = catalog("en")


def test_worker_signs_in_with_password_and_totp_switches_to_english_and_signs_out(
    server: Server, browser: Browser
) -> None:
    page = open_app(browser.page(), server)
    assert language_of(page) == "nl"
    expect(page.locator("h1")).to_have_text(NL["signIn.title"])
    sign_in(page, server, "anouk")
    expect(page.locator("h1")).to_have_text(NL["code.title"])
    enter_code(page, totp(SECRETS["anouk"], server))
    expect_home(page)
    expect(page.locator("h1")).to_contain_text("Anouk Jansen")
    nav = page.get_by_role("navigation")
    for key in ("nav.agenda", "nav.clients", "nav.calls", "nav.tablets", "nav.account"):
        expect(nav.get_by_role("link", name=NL[key], exact=True)).to_be_visible()
    # The date is Amsterdam's, in Dutch.
    expect(page.locator("main time")).to_have_text(
        re.compile(
            r"^(maandag|dinsdag|woensdag|donderdag|vrijdag|zaterdag|zondag) \d{1,2} \w+ \d{4}$"
        )
    )

    page.get_by_role("button", name=NL["lang.switch"]).click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("h1")).to_contain_text(EN["home.welcome"])
    expect(page.get_by_role("button", name=EN["signOut.button"])).to_be_visible()

    # The choice is remembered; the session resumes after a reload (refresh cookie).
    page.reload()
    expect(page.locator("body[data-ready='true']")).to_be_attached()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("h1")).to_contain_text(EN["home.welcome"])

    page.get_by_role("navigation").get_by_role("link", name=EN["nav.agenda"], exact=True).click()
    expect(page.locator("h1")).to_have_text(EN["nav.agenda"])
    expect(page.locator("#new-appointment")).to_have_text(EN["agenda.new"])
    expect(page.locator("#period")).to_contain_text(EN["agenda.week"])

    page.get_by_role("button", name=EN["signOut.button"]).click()
    expect(page.locator("h1")).to_have_text(EN["signIn.title"])
    expect(page.get_by_role("status").first).to_have_text(EN["signOut.done"])
    cookies = {c["name"] for c in page.context.cookies()}
    assert "bb_refresh" not in cookies
    # Signed out for good: a reload shows the sign-in page.
    page.reload()
    expect(page.locator("body[data-ready='true']")).to_be_attached()
    expect(page.locator("h1")).to_have_text(EN["signIn.title"])


def test_a_new_user_enrols_the_second_factor_end_to_end(server: Server, browser: Browser) -> None:
    username = f"nieuw{secrets.token_hex(3)}"
    password = "een lange zin als wachtwoord"
    server.create_user(username, password)
    page = open_app(browser.page(), server)
    sign_in(page, server, username, password)
    expect(page.locator("h1")).to_have_text(NL["enrol.title"])
    qr = page.locator("img#totp-qr")
    expect(qr).to_be_visible()
    assert (qr.get_attribute("src") or "").startswith("data:image/svg+xml;base64,")
    assert qr.get_attribute("alt") == NL["enrol.qrAlt"]
    assert page.evaluate("document.getElementById('totp-qr').naturalWidth") > 0
    secret = page.locator("#totp-secret").inner_text().strip()
    assert re.fullmatch(r"[A-Z2-7]{16,}", secret)

    page.locator("#code").fill(pyotp.TOTP(secret).now())
    page.locator("#enrol-form button[type=submit]").click()
    expect(page.locator("h1")).to_have_text(NL["recovery.title"])
    codes = page.locator("#recovery-codes li")
    expect(codes).to_have_count(10)
    assert all(text.strip() for text in codes.all_inner_texts())
    page.locator("#recovery-done").click()
    expect_home(page)
    expect(page.locator("h1")).to_contain_text(username.capitalize())


def test_independent_contexts_hold_independent_sign_ins(
    signed_in_page: Callable[..., Page], server: Server
) -> None:
    daan = signed_in_page("daan")
    femke = signed_in_page("femke", viewport=TABLET, has_touch=True)
    expect(daan.locator("h1")).to_contain_text("Daan Bosman")
    expect(femke.locator("h1")).to_contain_text("Femke Kuipers")
    assert femke.viewport_size == TABLET
    daan.get_by_role("button", name=NL["signOut.button"]).click()
    expect(daan.locator("#sign-in-form")).to_be_visible()
    femke.reload()
    expect(femke.locator("body[data-ready='true']")).to_be_attached()
    expect(femke.locator("h1")).to_contain_text("Femke Kuipers")
    # Only admins see the admin section.
    expect(femke.get_by_role("navigation").get_by_role("link", name=NL["nav.admin"])).to_have_count(
        0
    )
