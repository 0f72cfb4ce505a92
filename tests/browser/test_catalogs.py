"""Acceptance (3), in the browser: every visible text of every page comes from the catalog
of the page's language; data (names, dates, codes) is marked data-i18n-data."""

from __future__ import annotations

from playwright.sync_api import Page

from tests.browser.conftest import Browser, Server, texts_outside_catalog, tour


def test_every_visible_text_is_a_catalog_value_of_the_pages_language(
    server: Server, browser: Browser
) -> None:
    stray: dict[str, list[str]] = {}

    def check(page: Page, name: str) -> None:
        texts = texts_outside_catalog(page)
        if texts:
            stray[f"{name}/{page.evaluate('document.documentElement.lang')}"] = texts

    seen = tour(browser.page(), server, "ingrid", check, new_user="catalogus")
    assert len(seen) >= 18
    assert not stray, stray


def test_the_check_catches_a_string_that_is_not_in_the_catalog(
    server: Server, browser: Browser
) -> None:
    page = browser.page()
    page.goto(server.url("/"))
    page.locator("body[data-ready='true']").wait_for(state="attached")
    assert texts_outside_catalog(page) == []
    page.evaluate("document.querySelector('main').append(document.createTextNode('Hallo daar'))")
    assert texts_outside_catalog(page) == ["Hallo daar"]
