"""The join page behind a personal link (/join#<code>), in the browser (issue 5).

Acceptance (3), the page's part: before the waiting room opens the page counts down and
then lets the participant through by itself; a cancelled appointment's link says so in
plain Dutch; opening the page with GET changes nothing (the code stays exchangeable). The
join token stays in the page's memory. axe-core and the catalog check pass, in Dutch and
English, at tablet size.

The service runs on the real clock. Daan's appointments here are booked through the API
(with ``override_hours``: the tests run at any hour) at offsets that never overlap.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.sync_api import Page, Response, expect

from tests.browser.conftest import (
    TABLET,
    Browser,
    Server,
    api,
    api_token,
    catalog,
    page_problems,
    set_language,
)

NL = catalog("nl")
EN = catalog("en")
LOBBY = timedelta(minutes=15)  # the waiting room opens this long before the start


@pytest.fixture(scope="module")
def daan(server: Server) -> str:
    return api_token(server, "daan")


def book(
    server: Server,
    token: str,
    starts_in: timedelta,
    *,
    kind: str = "checkin",
    client: str = "Hanna Wolterink",
) -> tuple[dict[str, Any], str]:
    """An appointment of daan's with ``client``; returns it and the client's link path."""
    me = api(server, "GET", "/api/v1/me", token=token).json
    found = api(server, "GET", f"/api/v1/clients?q={client.split()[0]}", token=token).json
    client_id = next(c["id"] for c in found["items"] if c["name"] == client)
    starts = datetime.now(UTC) + starts_in
    if starts_in >= timedelta(days=1):
        # Days ahead, at 04:00: the demo agenda fills office hours, and a time of day that
        # depends on when the test runs would sometimes overlap it.
        starts = starts.replace(hour=4, minute=0, second=0, microsecond=0)
    created = api(
        server,
        "POST",
        "/api/v1/appointments",
        {
            "kind": kind,
            "team_id": me["teams"][0]["id"],
            "starts_at": starts.isoformat(),
            "ends_at": (starts + timedelta(minutes=5)).isoformat(),
            "client_id": client_id,
            "override_hours": True,
        },
        token=token,
    )
    assert created.status == 201, created.json
    appointment = created.json["appointment"]
    links = api(server, "GET", f"/api/v1/appointments/{appointment['id']}/links", token=token)
    path = next(link["path"] for link in links.json["items"] if link["role"] == "client")
    assert re.fullmatch(r"/join#[A-Za-z0-9_-]{28}", path), path
    return appointment, path


def code_of(path: str) -> str:
    return path.split("#", 1)[1]


def cancel(server: Server, token: str, appointment: dict[str, Any]) -> None:
    done = api(
        server,
        "POST",
        f"/api/v1/appointments/{appointment['id']}/cancel",
        {"version": appointment["version"]},
        token=token,
    )
    assert done.status == 200, done.json


def font_px(page: Page, selector: str) -> float:
    size = page.locator(selector).evaluate("(el) => parseFloat(getComputedStyle(el).fontSize)")
    return float(size)


def test_before_the_lobby_opens_the_page_counts_down_then_lets_the_client_in(
    server: Server, browser: Browser, daan: str
) -> None:
    _, path = book(server, daan, LOBBY + timedelta(seconds=12))
    page = browser.page(viewport=TABLET, has_touch=True)
    answers: list[dict[str, Any]] = []

    def seen(response: Response) -> None:
        if response.url.endswith("/api/v1/join") and response.request.method == "POST":
            answers.append(response.json())

    page.on("response", seen)
    page.goto(server.url(path))
    expect(page.locator("h1")).to_have_text(NL["join.early.title"])
    countdown = page.locator("#countdown")
    expect(countdown).to_have_text(re.compile(r"^0:(0\d|1[0-2])$"))
    assert countdown.get_attribute("role") == "timer"
    expect(page.locator("main")).to_contain_text(NL["join.opensIn"])
    expect(page.locator("#with")).to_have_text("Daan Bosman")
    first = countdown.inner_text()
    expect(countdown).not_to_have_text(first)  # it counts down
    assert font_px(page, "#countdown") >= 48

    # Through without anyone clicking anything: the page asks again at zero.
    expect(page.locator("h1")).to_have_text(NL["join.open.title"], timeout=30_000)
    expect(page.locator("h1")).to_be_focused()
    expect(page.locator("main")).to_contain_text(NL["join.open.wait"])
    expect(page.locator("#announcer")).to_contain_text(NL["join.open.title"])
    states = [a["state"] for a in answers]
    assert states[0] == "early"
    assert states[-1] == "open"
    assert set(states[:-1]) == {"early"}
    token = answers[-1]["token"]
    assert token
    # The join token lives in the page's memory only.
    assert page.url == server.url(path)
    assert token not in page.content()
    storage = page.evaluate(
        "JSON.stringify([{...localStorage}, {...sessionStorage}, document.cookie])"
    )
    assert token not in storage
    assert storage == '[{},{},""]'


@pytest.mark.parametrize(
    ("case", "title", "text"),
    [
        ("cancelled", "join.cancelled.title", "join.cancelled"),
        ("visit", "join.visit.title", "join.visit"),
        ("ended", "join.ended.title", "join.ended"),
        ("unknown", "join.unknown.title", "join.unknown"),
    ],
)
def test_a_link_that_no_longer_works_says_why_in_plain_dutch(
    server: Server, browser: Browser, daan: str, case: str, title: str, text: str
) -> None:
    if case == "cancelled":
        appointment, path = book(server, daan, timedelta(days=2))
        cancel(server, daan, appointment)
    elif case == "visit":
        _, path = book(server, daan, timedelta(days=3), kind="visit")
    elif case == "ended":
        _, path = book(server, daan, -timedelta(hours=3))
    else:
        path = "/join#" + "A" * 28
    refused = api(server, "POST", "/api/v1/join", {"code": code_of(path)})
    assert refused.status == (404 if case == "unknown" else 409)

    page = browser.page(viewport=TABLET, has_touch=True)
    page.goto(server.url(path))
    expect(page.locator("h1")).to_have_text(NL[title])
    expect(page.locator("#refusal")).to_have_text(NL[text])
    # The page says what the service says, word for word.
    assert NL[text] == refused.json["error"]["message"]
    assert font_px(page, "#refusal") >= 24
    assert page.evaluate("document.documentElement.lang") == "nl"


def test_a_link_without_its_code_says_it_does_not_work(server: Server, browser: Browser) -> None:
    page = browser.page()
    page.goto(server.url("/join"))
    expect(page.locator("h1")).to_have_text(NL["join.unknown.title"])
    expect(page.locator("#refusal")).to_have_text(NL["join.unknown"])


def test_opening_the_page_with_get_changes_nothing(
    server: Server, browser: Browser, daan: str
) -> None:
    appointment, path = book(server, daan, timedelta(days=4))
    fetched = api(server, "GET", "/join")
    assert fetched.status == 200
    assert fetched.headers["Content-Type"].startswith("text/html")
    assert "/static/join.js" in fetched.json
    assert code_of(path) not in fetched.json
    # A mail scanner or a link preview that loads the page without running its script.
    scanner = browser.page(java_script_enabled=False)
    scanner.goto(server.url(path))
    expect(scanner.locator("main")).to_be_attached()

    # The code still works, and again: it is exchanged only by POST.
    for _ in range(2):
        answer = api(server, "POST", "/api/v1/join", {"code": code_of(path)})
        assert answer.status == 200, answer.json
        assert answer.json["state"] == "early"
        assert answer.json["appointment_id"] == appointment["id"]
        assert answer.json["token"] is None

    # With its script, the page says when the waiting room opens (days from now).
    page = browser.page(viewport=TABLET)
    page.goto(server.url(path))
    expect(page.locator("h1")).to_have_text(NL["join.early.title"])
    expect(page.locator("#opens-at")).to_contain_text(NL["join.opensAt"])
    expect(page.locator("#countdown")).to_have_count(0)


def test_the_join_page_passes_axe_and_the_catalog_check_in_dutch_and_english(
    server: Server, browser: Browser, daan: str
) -> None:
    _, far_path = book(server, daan, timedelta(days=5))
    _, soon_path = book(server, daan, LOBBY + timedelta(minutes=25))
    _, open_path = book(server, daan, timedelta(minutes=1))
    gone, gone_path = book(server, daan, timedelta(days=6))
    cancel(server, daan, gone)
    found: dict[str, object] = {}
    pages = [
        (far_path, "#opens-at", "early, days ahead"),
        (soon_path, "#countdown", "early, counting down"),
        (open_path, "#inside", "open"),
        (gone_path, "#refusal", "cancelled"),
    ]
    for path, ready, name in pages:
        page = browser.page(viewport=TABLET, has_touch=True, bypass_csp=True)
        page.goto(server.url(path))
        expect(page.locator(ready)).to_be_visible()
        for language in ("nl", "en"):
            set_language(page, language)
            expect(page.locator(ready)).to_be_visible()
            page_problems(page, f"{name}/{language}", found)
        if name == "open":
            expect(page.locator("h1")).to_have_text(EN["join.open.title"])
        page.context.close()
    assert not found, found
