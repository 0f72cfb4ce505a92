"""The web shell as files and routes: served with the security headers, no inline script or
style, and message catalogs that agree with each other and with the code (acceptance 3)."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient

ROOT = Path(__file__).resolve().parent.parent
WEB = ROOT / "web"
CATALOGS = {lang: json.loads((WEB / "i18n" / f"{lang}.json").read_text()) for lang in ("nl", "en")}

T_CALL = re.compile(r"\bt\(\s*'([^']+)'\s*\)")
ANY_T_CALL = re.compile(r"\bt\(")
HTML_KEY = re.compile(r"""data-i18n(?:-label)?=["']([^"']+)["']""")


def web_sources() -> dict[Path, str]:
    return {
        path: path.read_text() for path in sorted(WEB.rglob("*")) if path.suffix in {".js", ".html"}
    }


def used_keys() -> set[str]:
    keys: set[str] = set()
    for path, text in web_sources().items():
        pattern = T_CALL if path.suffix == ".js" else HTML_KEY
        keys.update(pattern.findall(text))
    return keys


def test_both_catalogs_have_the_same_keys_and_no_empty_value() -> None:
    nl, en = CATALOGS["nl"], CATALOGS["en"]
    assert set(nl) - set(en) == set(), "missing in en.json"
    assert set(en) - set(nl) == set(), "missing in nl.json"
    for language, catalog in CATALOGS.items():
        empty = [key for key, value in catalog.items() if not str(value).strip()]
        assert not empty, (language, empty)


def test_every_key_the_code_uses_is_in_both_catalogs_and_every_key_is_used() -> None:
    used = used_keys()
    assert len(used) > 50
    for language, catalog in CATALOGS.items():
        assert used - set(catalog) == set(), f"keys missing in {language}.json"
    assert set(CATALOGS["nl"]) - used == set(), "catalog keys no code uses"


def test_every_t_call_names_its_key_literally() -> None:
    """t(someVariable) would hide a key from the check above."""
    for path, text in web_sources().items():
        if path.suffix != ".js" or path.name == "i18n.js":  # i18n.js defines t()
            continue
        calls = len(ANY_T_CALL.findall(text))
        assert calls == len(T_CALL.findall(text)), path


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []
        self.stack: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = {name for name, _ in attrs}
        if "style" in names or tag == "style":
            self.problems.append(f"inline style on <{tag}>")
        if any(name.startswith("on") for name in names):
            self.problems.append(f"inline handler on <{tag}>")
        if tag == "script" and "src" not in names:
            self.problems.append("inline script")
        self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if self.stack and self.stack[-1] == tag:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        # Text in the page itself is only allowed in <title> (replaced at start-up).
        if data.strip() and self.stack and self.stack[-1] != "title":
            self.problems.append(f"text outside the catalogs: {data.strip()!r}")


@pytest.mark.parametrize("page", ["index.html", "join.html"])
def test_pages_have_no_inline_script_or_style_and_no_text_of_their_own(page: str) -> None:
    parser = _Page()
    parser.feed((WEB / page).read_text())
    assert parser.problems == []
    assert '<html lang="nl">' in (WEB / page).read_text()


async def test_the_join_page_is_served_without_sign_in_and_with_the_security_headers(
    client: TestClient,
) -> None:
    page = await client.get("/join")
    assert page.status == 200
    assert page.content_type == "text/html"
    assert page.headers["Cache-Control"] == "no-cache"
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert '<script type="module" src="/static/join.js">' in await page.text()
    # The code is in the fragment and never reaches the server; a query is refused.
    assert (await client.get("/join?code=abc")).status == 422


async def test_the_shell_and_its_files_are_served_with_the_security_headers(
    client: TestClient,
) -> None:
    page = await client.get("/")
    assert page.status == 200
    assert page.content_type == "text/html"
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert page.headers["X-Frame-Options"] == "DENY"
    assert '<script type="module" src="/static/app.js">' in await page.text()
    for path, kind in (
        ("/static/app.js", "javascript"),
        ("/static/app.css", "text/css"),
        ("/static/i18n/nl.json", "application/json"),
    ):
        response = await client.get(path)
        assert response.status == 200, path
        assert kind in response.content_type, (path, response.content_type)
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert "Content-Security-Policy" in response.headers


async def test_static_files_stay_inside_web(client: TestClient) -> None:
    for path in (
        "/static/",
        "/static/i18n/",
        "/static/../pyproject.toml",
        "/static/%2e%2e/README.md",
        "/static/i18n/%2e%2e/%2e%2e/pyproject.toml",
        "/static/.hidden.js",
        "/static/README.md",  # web/README.md exists, but is not something the browser needs
        "/static/nope.js",
    ):
        response = await client.get(path)
        assert response.status == 404, path
        assert "Content-Security-Policy" in response.headers
        if path.startswith("/static/") and path != "/static/":
            body = await response.json()
            assert body["error"]["code"] == "not_found", path


def test_resolve_static_never_leaves_the_web_directory(tmp_path: Path) -> None:
    from beeldbel.api.web import resolve_static
    from beeldbel.errors import NotFound

    (tmp_path / "web").mkdir()
    (tmp_path / "web" / "app.js").write_text("//")
    (tmp_path / "secret.js").write_text("//")
    assert resolve_static("app.js", tmp_path / "web") == (tmp_path / "web" / "app.js").resolve()
    (tmp_path / "web" / "link.js").symlink_to(tmp_path / "secret.js")
    for path in ("../secret.js", "link.js", "a//b.js", "./app.js", "app.js/"):
        with pytest.raises(NotFound):
            resolve_static(path, tmp_path / "web")
