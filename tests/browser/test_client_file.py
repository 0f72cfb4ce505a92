"""The client file in the browser (issue 8).

Acceptance (5): a worker ends a call; from the ended call screen and from the appointment in
the agenda they write a shared report with effectenster scores and a professional note; the
file's timeline shows both (with their visibility and the scores) and the call itself as a
contact, once. A colleague outside the care team cannot open the file (a plain refusal, no
client data on the page); after the noodknop with a written reason they can read it, the
page says the access is flagged, and the care team sees the flagged access in the API.

Besides: the timeline's filter, the file at 768 px without sideways scrolling, an edit that
meets a colleague's save (both versions side by side, the merge saved, the history), and
every page of the file passing axe-core, the catalog check and 44-pixel targets in Dutch
and English.

The service runs with the demo data (conftest's ``server``; the call on loopback needs no
TURN); appointments are booked through the API a minute from now with the access token of
the worker's own sign-in in the browser.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from playwright.sync_api import Locator, Page, expect

from tests.browser.conftest import (
    Browser,
    Server,
    api,
    api_token,
    catalog,
    page_problems,
    set_language,
)
from tests.browser.test_agenda import TOUCH_JS
from tests.browser.test_call import book, client_id, join_page, open_waiting_room, worker_page

NL = catalog("nl")
EN = catalog("en")
HENDRIK = "Hendrik Oude Lenferink"  # care team: anouk only
SEM = "Sem Kamphuis"  # care team: anouk only
GERRIT = "Gerrit Nijhuis"  # care team: anouk and daan
FATMA = "Fatma Yılmaz"  # care team: anouk and daan  # noqa: RUF001
REPORT = "Gesprek over de administratie. Petra helpt met de post; het gaat beter."
NOTE = "Zorgen over de zoon: let op bij huisbezoek, niet met de cliënt delen."


def wait_until(what: str, check: Any, timeout_s: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.5)
    raise AssertionError(f"{what}: still {last!r} after {timeout_s} s")


def timeline(server: Server, token: str, client: str) -> dict[str, Any]:
    answer = api(server, "GET", f"/api/v1/clients/{client}/timeline?limit=200", token=token)
    assert answer.status == 200, answer.json
    found: dict[str, Any] = answer.json
    return found


def open_file(page: Page, server: Server, client: str) -> None:
    page.goto(server.url(f"/#/clients/{client}"))
    expect(page.locator("#client-file")).not_to_have_attribute("aria-busy", "true")


def items(page: Page, kind: str, appointment: str | None = None) -> Locator:
    selector = f"#timeline li[data-kind={kind}]"
    if appointment:
        selector += f"[data-appointment='{appointment}']"
    return page.locator(selector)


def write(page: Page, text: str, *, professional: bool = False, scores: dict[str, int]) -> None:
    """Fills the report form shown and saves it; ends on the file with the notice."""
    expect(page.locator("#note-text")).to_be_visible()
    page.locator("#note-text").fill(text)
    if professional:
        page.get_by_label(NL["write.professional"]).check()
    if scores:
        # The effectenster opens and fills in by keyboard.
        page.locator("#note-star summary").focus()
        page.keyboard.press("Enter")
        expect(page.locator("#note-star")).to_have_attribute("open", "")
        for domain, score in scores.items():
            page.locator(f"#note-star-{domain}").focus()
            page.keyboard.type(str(score))  # a select jumps to the option typed
            expect(page.locator(f"#note-star-{domain}")).to_have_value(str(score))
    page.locator("#note-save").click()
    expect(page.locator("#timeline")).to_be_visible()


# Acceptance 5 ------------------------------------------------------------------------------


def test_after_a_call_the_worker_writes_a_shared_report_and_a_professional_note_from_it(
    server: Server, browser: Browser
) -> None:
    worker, token = worker_page(browser, server, "anouk")
    hendrik = client_id(server, token, HENDRIK)
    booked = book(server, token, HENDRIK, timedelta(minutes=1))

    # The call: the client waits, is let in, and the worker ends it for everyone.
    open_waiting_room(worker, server, booked.id)
    client = join_page(browser, server, booked.links["client"])
    expect(worker.locator("#waiting-list li")).to_have_count(1)
    worker.locator("#waiting-list button").click()
    expect(client.locator("#in-call")).to_be_visible()
    worker.locator("#end-call").click()
    worker.locator("#end-yes").click()
    expect(worker.locator("#room-ended")).to_have_text(NL["room.ended.title"])

    # "Verslag schrijven" on the ended call screen: the report form for this appointment.
    link = worker.locator(f"#call-report-{hendrik}")
    expect(link).to_have_text(NL["file.writeReport"])
    link.click()
    expect(worker.locator("h1")).to_have_text(NL["write.reportTitle"])
    expect(worker.locator("h1")).to_be_focused()
    expect(worker.locator("#write-about")).to_contain_text(HENDRIK)
    expect(worker.locator("#write-appointment")).to_contain_text(NL["kind.checkin"])
    expect(worker.get_by_label(NL["write.shared"])).to_be_checked()  # a report is shared
    # Nothing typed: the field is marked and the error announced.
    worker.locator("#note-save").click()
    expect(worker.locator("#main > [role=alert]")).to_have_text(NL["error.required"])
    expect(worker.locator("#note-text")).to_have_attribute("aria-invalid", "true")
    write(worker, REPORT, scores={"money": 6, "social_network": 8, "motivation": 7})
    expect(worker.locator("#main > .notice")).to_have_text(NL["write.savedReport"])
    expect(worker.locator("h1")).to_have_text(HENDRIK)

    # From the appointment in the agenda: a professional note about the same appointment.
    worker.goto(server.url(f"/#/agenda/appointment/{booked.id}"))
    worker.locator(f"#write-report-{hendrik}").click()
    expect(worker.locator("#write-appointment")).to_be_visible()
    write(worker, NOTE, professional=True, scores={})

    # The timeline: both notes with their visibility, the scores; the call once.
    notes = items(worker, "note", booked.id)
    expect(notes).to_have_count(2)
    report = notes.filter(has_text=REPORT)
    note = notes.filter(has_text=NOTE)
    expect(report.locator(".visibility")).to_have_text(NL["note.shared"])
    expect(report.locator(".item-kind")).to_have_text(NL["note.report"])
    expect(report.locator("dl.scores dt")).to_have_text(
        [NL["star.motivation"], NL["star.money"], NL["star.social_network"]]
    )
    expect(report.locator("dl.scores dd")).to_have_text(["7", "6", "8"])
    expect(report).to_contain_text("Anouk Jansen")
    expect(note.locator(".visibility")).to_have_text(NL["note.professional"])
    expect(note.locator("dl.scores")).to_have_count(0)
    # Newest first: the note, then the report.
    expect(items(worker, "note").first).to_contain_text(NOTE)

    filed = wait_until(
        "the call in the timeline",
        lambda: [
            item
            for item in timeline(server, token, hendrik)["items"]
            if item["kind"] == "contact" and item["contact"]["appointment_id"] == booked.id
        ],
    )
    assert len(filed) == 1, filed
    assert filed[0]["contact"]["kind"] == "call"
    worker.reload()
    expect(worker.locator("#client-file")).not_to_have_attribute("aria-busy", "true")
    calls = items(worker, "contact", booked.id)
    expect(calls).to_have_count(1)
    expect(calls).to_contain_text(NL["contact.call"])
    expect(calls).to_contain_text(NL["contact.tookPart"])
    expect(calls).to_contain_text(HENDRIK)
    api_notes = [
        item["note"] for item in timeline(server, token, hendrik)["items"] if item["kind"] == "note"
    ]
    assert sorted(n["visibility"] for n in api_notes) == ["professional", "shared"]
    shared = next(n for n in api_notes if n["visibility"] == "shared")
    assert shared["effectenster"] == {"money": 6, "social_network": 8, "motivation": 7}
    assert all(n["appointment_id"] == booked.id for n in api_notes)

    # The filter: contacts only, then everything again.
    worker.locator("#filter-note").uncheck()
    worker.locator("#filter-appointment").uncheck()
    worker.locator("#filter-consent").uncheck()
    worker.locator("#filter-apply").click()
    expect(items(worker, "note")).to_have_count(0)
    expect(calls).to_have_count(1)
    worker.locator("#filter-note").check()
    worker.locator("#filter-apply").click()
    expect(items(worker, "note", booked.id)).to_have_count(2)

    # At 768 px (a tablet upright) everything reads inline, without sideways scrolling.
    worker.set_viewport_size({"width": 768, "height": 1024})
    expect(report.locator(".note-text")).to_be_visible()
    expect(worker.locator("#care-team")).to_be_visible()
    assert worker.evaluate("document.documentElement.scrollWidth") <= 768


def test_a_colleague_outside_the_care_team_is_refused_until_the_noodknop_and_it_is_flagged(
    server: Server, browser: Browser
) -> None:
    token = api_token(server, "anouk")  # the care team
    hendrik = client_id(server, token, HENDRIK)
    colleague, colleague_token = worker_page(browser, server, "daan")
    me = api(server, "GET", "/api/v1/me", token=colleague_token).json

    open_file(colleague, server, hendrik)
    expect(colleague.locator("#file-refused")).to_contain_text(NL["file.refused"])
    expect(colleague.locator("h1")).to_have_text(NL["file.title"])
    page_text = colleague.locator("main").inner_text()
    for private in (HENDRIK, "Langestraat", "074 376 1290", "Petra de Vries"):
        assert private not in page_text
    expect(colleague.locator("#timeline")).to_have_count(0)

    # A reason is required (at least 10 characters).
    colleague.locator("#emergency-open").click()
    expect(colleague.locator("#main > [role=alert]")).to_have_text(NL["emergency.needReason"])
    expect(colleague.locator("#emergency-reason")).to_have_attribute("aria-invalid", "true")
    expect(colleague.locator("#emergency-reason")).to_be_focused()
    colleague.locator("#emergency-reason").fill("spoed")
    colleague.locator("#emergency-open").click()
    expect(colleague.locator("#emergency-reason-error")).to_have_text(NL["emergency.tooShort"])

    reason = "Crisisdienst: buurman belt, cliënt is gevallen en verward."
    colleague.get_by_label(NL["emergency.reason"]).fill(reason)
    colleague.locator("#emergency-open").click()
    expect(colleague.locator("h1")).to_have_text(HENDRIK)
    banner = colleague.locator("#emergency-banner")
    expect(banner).to_contain_text(NL["access.emergency.title"])
    expect(banner).to_contain_text(NL["access.emergency.reported"])
    expect(banner).to_contain_text(NL["access.until"])
    expect(banner).to_contain_text(reason)
    expect(colleague.locator("#main > .notice")).to_have_text(NL["emergency.opened"])
    expect(colleague.locator("#client-facts")).to_contain_text("Langestraat 8")
    expect(colleague.locator("#timeline-status")).not_to_have_text(NL["agenda.loading"])
    # Emergency access reads; it does not write.
    expect(colleague.locator("#write-report")).to_have_count(0)
    expect(colleague.locator("#add-note")).to_have_count(0)
    expect(colleague.locator("#timeline a[id^=edit-]")).to_have_count(0)

    # The care team sees the access, flagged.
    found = api(server, "GET", f"/api/v1/clients/{hendrik}/emergency-accesses", token=token)
    assert found.status == 200, found.json
    mine = [r for r in found.json["items"] if r["subject"] == me["subject"]]
    assert len(mine) == 1, found.json
    assert mine[0]["flagged"] is True
    assert mine[0]["active"] is True
    assert mine[0]["reason"] == reason
    client = api(server, "GET", f"/api/v1/clients/{hendrik}", token=colleague_token).json
    assert client["access"] == {**client["access"], "basis": "emergency", "flagged": True}

    # Later (a reload): still the banner with the reason, and the write form stays closed.
    colleague.reload()
    expect(colleague.locator("#emergency-banner")).to_contain_text(reason)
    colleague.goto(server.url(f"/#/clients/{hendrik}/write"))
    expect(colleague.locator("#main > [role=alert]")).to_have_text(NL["write.forbidden"])
    expect(colleague.locator("#note-form")).to_be_hidden()


# Editing at the same time -------------------------------------------------------------------


def test_a_second_save_of_the_same_note_shows_both_versions_and_saves_the_merge(
    server: Server, browser: Browser
) -> None:
    worker, token = worker_page(browser, server, "anouk")
    colleague_token = api_token(server, "daan")
    gerrit = client_id(server, token, GERRIT)
    created = api(
        server,
        "POST",
        f"/api/v1/clients/{gerrit}/notes",
        {
            "visibility": "shared",
            "text": "Eerste regel.\nTweede regel.",
            "effectenster": {"housing": 5},
        },
        token=token,
    )
    assert created.status == 201, created.json
    note = created.json

    worker.goto(server.url(f"/#/clients/{gerrit}/notes/{note['id']}/edit"))
    expect(worker.locator("#note-text")).to_have_value("Eerste regel.\nTweede regel.")
    expect(worker.locator("#note-star-housing")).to_have_value("5")
    # Meanwhile the colleague saves a change.
    changed = api(
        server,
        "PATCH",
        f"/api/v1/clients/{gerrit}/notes/{note['id']}",
        {"version": note["version"], "text": "Eerste regel.\nTweede regel, aangevuld door Daan."},
        token=colleague_token,
    )
    assert changed.status == 200, changed.json
    worker.locator("#note-text").fill("Eerste regel, aangevuld door Anouk.\nTweede regel.")
    worker.locator("#note-save").click()

    expect(worker.locator("#conflict-title")).to_have_text(NL["conflict.title"])
    expect(worker.locator("#conflict-title")).to_be_focused()
    expect(worker.locator("#main > [role=alert]")).to_have_text(NL["conflict.alert"])
    expect(worker.locator("#conflict-yours")).to_contain_text("aangevuld door Anouk")
    expect(worker.locator("#conflict-theirs")).to_contain_text("aangevuld door Daan")
    expect(worker.locator("#conflict-theirs")).to_contain_text("Daan Bosman")
    merged = worker.locator("#merge-text").input_value()
    assert "aangevuld door Anouk" in merged
    assert "aangevuld door Daan" in merged
    worker.locator("#merge-save").click()
    expect(worker.locator("#main > .notice")).to_have_text(NL["edit.saved"])

    saved = api(server, "GET", f"/api/v1/clients/{gerrit}/notes/{note['id']}", token=token).json
    assert "aangevuld door Anouk" in saved["text"]
    assert "aangevuld door Daan" in saved["text"]
    assert saved["version"] == 3
    item = items(worker, "note").filter(has_text="aangevuld door Anouk")
    expect(item).to_have_count(1)
    item.locator(f"#history-{note['id']}").click()
    expect(worker.locator("#history li")).to_have_count(3)
    expect(worker.locator("#history")).to_contain_text("Daan Bosman")


# Accessibility and catalogs ---------------------------------------------------------------


def test_client_file_pages_pass_axe_and_the_catalog_check_in_dutch_and_english(
    server: Server, browser: Browser
) -> None:
    worker, token = worker_page(browser, server, "anouk", bypass_csp=True, has_touch=True)
    colleague, _ = worker_page(browser, server, "daan", bypass_csp=True, has_touch=True)
    sem = client_id(server, token, SEM)
    fatma = client_id(server, token, FATMA)
    for body in (
        {
            "visibility": "shared",
            "text": "Verslag voor de controle.",
            "effectenster": {"housing": 6},
        },
        {"visibility": "professional", "text": "Alleen voor het team."},
    ):
        answer = api(server, "POST", f"/api/v1/clients/{fatma}/notes", body, token=token)
        assert answer.status == 201, answer.json
    note = answer.json
    edited = api(
        server,
        "PATCH",
        f"/api/v1/clients/{fatma}/notes/{note['id']}",
        {"version": note["version"], "text": "Alleen voor het zorgteam."},
        token=token,
    )
    assert edited.status == 200, edited.json
    found: dict[str, object] = {}
    seen: list[str] = []

    def check(page: Page, name: str, ready: str, prepare: Any = None) -> None:
        for language in ("nl", "en"):
            set_language(page, language)
            if prepare:
                prepare(page)
            expect(page.locator(ready).first).to_be_visible()
            expect(page.locator("main [aria-busy=true]")).to_have_count(0)
            page_problems(page, f"{name}/{language}", found, TOUCH_JS)
            seen.append(f"{name}/{language}")
        set_language(page, "nl")

    worker.goto(server.url("/#/clients"))
    expect(worker.locator("#clients-list a")).not_to_have_count(0)
    check(worker, "search", "#clients-list a")
    worker.locator("#clients-list a", has_text=FATMA).click()
    expect(items(worker, "note")).to_have_count(2)
    expect(worker.locator("#network-list")).to_be_visible()
    check(worker, "file", "#timeline")
    worker.locator("#write-report").click()
    worker.locator("#note-star summary").click()
    check(worker, "report form with the effectenster", "#note-star-housing")
    check(
        worker,
        "report form with an error",
        "#note-text-error",
        lambda page: page.locator("#note-save").click(),
    )
    worker.goto(server.url(f"/#/clients/{fatma}/notes/{note['id']}/edit"))
    check(worker, "edit form", "#note-text")
    worker.goto(server.url(f"/#/clients/{fatma}/notes/{note['id']}/history"))
    check(worker, "history", "#history li")

    colleague.goto(server.url(f"/#/clients/{sem}"))
    check(colleague, "refused, with the noodknop", "#emergency-form")
    colleague.locator("#emergency-reason").fill("Crisisdienst, de moeder belt in paniek.")
    colleague.locator("#emergency-open").click()
    check(colleague, "emergency access", "#emergency-banner")
    assert not found, found
    assert len(seen) == 16, seen
    assert EN["file.refused"] != NL["file.refused"]
