"""Browser harness: the real service in a subprocess, Debian's Chromium through Playwright.

* ``server`` (per module): ``python -m beeldbel serve --demo --port N`` on a free port with
  a fresh data directory (SQLite), waited for until ``/readyz`` answers 200.
* ``browser`` (per module): opens independent browser contexts. Each is its own Chromium
  (``launch_persistent_context`` on a new profile directory), so cookies and storage
  never leak between them. ``browser.page()`` gives a page on a new context;
  ``viewport=TABLET`` emulates a tablet, ``bypass_csp=True`` lets axe-core be injected.
* ``signed_in_page(user)`` signs a demo user in with password and TOTP and returns the
  page on the home screen.
* ``totp(secret)`` gives a code that the server has not seen yet (it refuses a code twice).
* ``api(server, method, path, body, token=...)`` calls the API directly (JSON in, JSON out);
  ``api_token(server, user)`` signs a demo user in through the API (password and TOTP).
* ``running_coturn(home, *auth)`` runs coturn (apt's ``turnserver``) on 127.0.0.1 on free
  ports, with the given authentication arguments (long-term users or ``--use-auth-secret``).

Playwright never downloads a browser here: ``/usr/bin/chromium`` comes from apt.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyotp
import pytest
from playwright.sync_api import BrowserContext, Page, Playwright, expect, sync_playwright

from beeldbel.identity.demo import DEMO_PASSWORD, DEMO_STAFF

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "web"
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM = "/usr/bin/chromium"
TURNSERVER = shutil.which("turnserver") or "/usr/bin/turnserver"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
]
DESKTOP = {"width": 1440, "height": 900}
TABLET = {"width": 1280, "height": 800}
TIMEOUT_MS = 15_000

SECRETS = {user.username: user.totp_secret for user in DEMO_STAFF}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def catalog(language: str) -> dict[str, str]:
    data: dict[str, str] = json.loads((WEB / "i18n" / f"{language}.json").read_text())
    return data


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            item.add_marker(pytest.mark.browser)
            item.add_marker(pytest.mark.slow)


# The service ---------------------------------------------------------------------------------


@dataclass
class Server:
    base_url: str
    data_dir: Path
    env: dict[str, str]
    process: subprocess.Popen[bytes]
    log: Path

    def url(self, path: str = "/") -> str:
        return self.base_url + path

    def beeldbel(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        """Run ``python -m beeldbel ARGS`` against this server's data directory."""
        return subprocess.run(
            [sys.executable, "-m", "beeldbel", *args],
            input=stdin,
            env=self.env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )

    def create_user(self, username: str, password: str, *roles: str) -> None:
        role_args = [arg for role in roles or ("worker",) for arg in ("--role", role)]
        self.beeldbel(
            "user",
            "create",
            username,
            "--name",
            username.capitalize(),
            *role_args,
            "--password-stdin",
            stdin=password + "\n",
        )


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except (OSError, urllib.error.URLError):
        return False


def start_server(data_dir: Path, port: int | None = None, **settings: str) -> Server:
    port = free_port() if port is None else port
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("BEELDBEL_")},
        "BEELDBEL_DATA_DIR": str(data_dir),
        "BEELDBEL_LOG_FORMAT": "console",
        "BEELDBEL_LOG_LEVEL": "warning",
        "BEELDBEL_RATE_LIMIT_PER_ADDRESS": "100000",
        "BEELDBEL_RATE_LIMIT_PER_PRINCIPAL": "100000",
        **{f"BEELDBEL_{k.upper()}": v for k, v in settings.items()},
    }
    log = data_dir.parent / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "beeldbel", "serve", "--demo", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Server(f"http://127.0.0.1:{port}", data_dir, env, process, log)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"beeldbel serve exited: {log.read_text()[-3000:]}")
        if _ready(server.url("/readyz")):
            return server
        time.sleep(0.2)
    stop_server(server)
    raise RuntimeError(f"beeldbel serve did not get ready: {log.read_text()[-3000:]}")


def stop_server(server: Server) -> None:
    if server.process.poll() is None:
        os.killpg(server.process.pid, signal.SIGTERM)
        try:
            server.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.process.pid, signal.SIGKILL)
            server.process.wait(timeout=10)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The service with demo data on a free port, with its own SQLite data directory."""
    running = start_server(tmp_path_factory.mktemp("beeldbel") / "data")
    try:
        yield running
    finally:
        stop_server(running)


# TOTP codes the server has not seen yet -----------------------------------------------------

_last_step: dict[tuple[str, str], int] = {}


def totp(secret: str, server: Server | None = None) -> str:
    """The current code for ``secret``; waits for the next one if ``server`` saw this one.

    The server refuses a code it accepted before (per user, per database), so two
    sign-ins of one user against one server within 30 seconds need two time steps.
    """
    generator = pyotp.TOTP(secret)
    key = (server.base_url if server else "", secret)
    while True:
        now = time.time()
        step = int(now) // generator.interval
        if now % generator.interval > generator.interval - 2:
            time.sleep(generator.interval - now % generator.interval + 0.1)  # about to turn
            continue
        if _last_step.get(key, -1) < step:
            break
        time.sleep(0.25)
    _last_step[key] = step
    return generator.at(step * generator.interval)


def wrong_code(secret: str) -> str:
    """A code that is not valid now, nor one step before or after."""
    generator = pyotp.TOTP(secret)
    now = time.time()
    valid = {generator.at(now + delta) for delta in (-60, -30, 0, 30, 60)}
    return next(
        code for code in (f"{n:06d}" for n in range(123456, 999999, 7)) if code not in valid
    )


# The API, without a browser ------------------------------------------------------------------


@dataclass
class Answer:
    status: int
    json: Any
    headers: dict[str, str]


def api(
    server: Server, method: str, path: str, body: Any = None, *, token: str | None = None
) -> Answer:
    """One request to the running service; errors are answers too (no exception)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(server.url(path), data=data, method=method)
    request.add_header("Accept", "application/json")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            raw = response.read()
            status, headers = response.status, dict(response.headers)
    except urllib.error.HTTPError as error:
        raw, status, headers = error.read(), error.code, dict(error.headers)
    content = headers.get("Content-Type", "")
    parsed = json.loads(raw) if raw and "json" in content else raw.decode()
    return Answer(status, parsed, headers)


def api_token(server: Server, username: str) -> str:
    """An access token for a demo user, signed in with password and TOTP through the API."""
    started = api(
        server, "POST", "/api/v1/auth/sign-in", {"username": username, "password": DEMO_PASSWORD}
    )
    assert started.status == 200, started.json
    session = api(
        server,
        "POST",
        "/api/v1/auth/second-factor",
        {
            "challenge": started.json["challenge"],
            "code": totp(SECRETS[username], server),
            "refresh_delivery": "body",
        },
    )
    assert session.status == 200, session.json
    return str(session.json["access_token"])


# The browser --------------------------------------------------------------------------------


@dataclass
class Browser:
    """Opens independent contexts of Debian's Chromium; closes them all at the end."""

    playwright: Playwright
    root: Path
    contexts: list[BrowserContext] = field(default_factory=list)

    def new_context(self, **options: Any) -> BrowserContext:
        profile = Path(tempfile.mkdtemp(prefix="profile-", dir=self.root))
        options.setdefault("viewport", DESKTOP)
        options.setdefault("locale", "nl-NL")
        options.setdefault("timezone_id", "Europe/Amsterdam")
        context = self.playwright.chromium.launch_persistent_context(
            profile,
            executable_path=CHROMIUM,
            headless=True,
            ignore_default_args=["--headless"],
            args=CHROMIUM_ARGS,
            **options,
        )
        context.set_default_timeout(TIMEOUT_MS)
        self.contexts.append(context)
        return context

    def page(self, **options: Any) -> Page:
        context = self.new_context(**options)
        return context.pages[0] if context.pages else context.new_page()

    def close(self) -> None:
        for context in self.contexts:
            with contextlib.suppress(Exception):  # already gone: nothing to close
                context.close()
        self.contexts.clear()


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (scripts/test does)")
    with sync_playwright() as running:
        yield running


@pytest.fixture
def browser(playwright: Playwright, tmp_path: Path) -> Iterator[Browser]:
    opened = Browser(playwright, tmp_path)
    try:
        yield opened
    finally:
        opened.close()


# Pages --------------------------------------------------------------------------------------


def open_app(page: Page, server: Server, hash_route: str = "") -> Page:
    page.goto(server.url("/" + hash_route))
    expect(page.locator("body[data-ready='true']")).to_be_attached()
    return page


def sign_in(page: Page, server: Server, username: str, password: str = DEMO_PASSWORD) -> None:
    """Username and password on the sign-in page (the page must show it)."""
    page.get_by_label(catalog(language_of(page))["signIn.username"]).fill(username)
    page.get_by_label(catalog(language_of(page))["signIn.password"], exact=True).fill(password)
    page.locator("#sign-in-form button[type=submit]").click()


def enter_code(page: Page, code: str) -> None:
    page.locator("#code").fill(code)
    page.locator("#code-form button[type=submit]").click()


def language_of(page: Page) -> str:
    return str(page.evaluate("document.documentElement.lang"))


def expect_home(page: Page) -> None:
    expect(page.locator("h1")).to_contain_text(catalog(language_of(page))["home.welcome"])


def sign_in_with_totp(page: Page, server: Server, username: str) -> Page:
    open_app(page, server)
    sign_in(page, server, username)
    expect(page.locator("#code")).to_be_visible()
    enter_code(page, totp(SECRETS[username], server))
    expect_home(page)
    return page


@pytest.fixture
def signed_in_page(server: Server, browser: Browser) -> Callable[..., Page]:
    """``signed_in_page("anouk", viewport=TABLET)``: a new context, signed in, on the home page."""

    def open_signed_in(username: str = "anouk", **options: Any) -> Page:
        return sign_in_with_totp(browser.page(**options), server, username)

    return open_signed_in


# axe-core -----------------------------------------------------------------------------------


def axe_violations(page: Page, impacts: tuple[str, ...] = ("serious", "critical")) -> list[Any]:
    """Runs axe-core (injected from node_modules; the context needs ``bypass_csp=True``)."""
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: run npm ci (scripts/test does)")
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => await window.axe.run(document)")
    return [
        {
            "id": violation["id"],
            "impact": violation["impact"],
            "help": violation["help"],
            "nodes": [node["target"] for node in violation["nodes"]],
        }
        for violation in result["violations"]
        if violation["impact"] in impacts
    ]


# Catalog check ------------------------------------------------------------------------------

_TEXTS_JS = """
() => {
  const visible = (element) => {
    if (element.closest('[hidden]')) return false;
    const style = window.getComputedStyle(element);
    return style.display !== 'none' && style.visibility !== 'hidden';
  };
  const texts = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode;
    const text = node.textContent.trim();
    const element = node.parentElement;
    if (!text || !/\\p{L}/u.test(text) || !element) continue;
    if (element.closest('[data-i18n-data]') || !visible(element)) continue;
    texts.push(text);
  }
  const labelled = '[aria-label], [alt], [placeholder], [title]';
  for (const element of document.body.querySelectorAll(labelled)) {
    if (element.closest('[data-i18n-data]')) continue;
    for (const name of ['aria-label', 'alt', 'placeholder', 'title']) {
      const value = element.getAttribute(name);
      if (value && /\\p{L}/u.test(value)) texts.push(value.trim());
    }
  }
  return texts;
}
"""


def texts_outside_catalog(page: Page) -> list[str]:
    """Visible texts (and labels, alt texts) of the page that are no value of its catalog.

    Elements marked ``data-i18n-data`` hold data (names, dates, codes) and are skipped;
    a text made of no letters (punctuation, numbers, separators) is not language. A catalog
    value that follows data (" is zwak: …" after a name) counts without its spaces.
    """
    values = {value.strip() for value in catalog(language_of(page)).values()}
    return [text for text in page.evaluate(_TEXTS_JS) if text not in values]


def page_problems(
    page: Page, name: str, found: dict[str, object], small_targets_js: str | None = None
) -> None:
    """What the page's accessibility checks find, into ``found`` under ``name``: serious or
    critical axe findings, text outside the catalogs, and (given a script that lists them)
    targets too small for a finger."""
    violations = axe_violations(page)
    if violations:
        found[f"axe {name}"] = violations
    stray = texts_outside_catalog(page)
    if stray:
        found[f"catalog {name}"] = stray
    if small_targets_js is not None:
        small = page.evaluate(small_targets_js)
        if small:
            found[f"touch {name}"] = small


def set_language(page: Page, language: str) -> None:
    if language_of(page) != language:
        page.locator("#lang-switch").click()
        expect(page.locator("html")).to_have_attribute("lang", language)


Visit = Callable[[Page, str], None]
NEW_PASSWORD = "een lange zin als wachtwoord"


def enrol_new_user(
    page: Page,
    server: Server,
    username: str,
    *,
    on_qr: Callable[[str], None] | None = None,
    on_codes: Callable[[str], None] | None = None,
) -> str:
    """Creates ``username`` (CLI), signs in on the sign-in page shown, enrols the app.

    Returns the TOTP secret read from the page; ends on the home page.
    """
    server.create_user(username, NEW_PASSWORD)
    sign_in(page, server, username, NEW_PASSWORD)
    expect(page.locator("img#totp-qr")).to_be_visible()
    if on_qr:
        on_qr("enrolment")
    secret = page.locator("#totp-secret").inner_text().strip()
    page.locator("#code").fill(totp(secret, server))
    page.locator("#enrol-form button[type=submit]").click()
    expect(page.locator("#recovery-codes li")).to_have_count(10)
    if on_codes:
        on_codes("recovery-codes")
    page.locator("#recovery-done").click()
    expect_home(page)
    return secret


def tour(page: Page, server: Server, demo_user: str, visit: Visit, *, new_user: str) -> list[str]:
    """Shows every page of the shell in Dutch and English, calling ``visit(page, name)``.

    Sign-in, enrolment of ``new_user`` (created here) with its recovery codes, home, a
    section, the account page; then the code page and home of ``demo_user``.
    Returns the names visited.
    """
    seen: list[str] = []

    def both(name: str) -> None:
        for language in ("nl", "en"):
            set_language(page, language)
            visit(page, name)
            seen.append(f"{name}/{language}")
        set_language(page, "nl")

    open_app(page, server)
    expect(page.locator("#sign-in-form")).to_be_visible()
    both("sign-in")

    enrol_new_user(page, server, new_user, on_qr=both, on_codes=both)
    both("home")
    page.goto(server.url("/#/account"))
    expect(page.locator("#password-form")).to_be_visible()
    both("account")
    page.goto(server.url("/#/agenda"))
    expect(page.locator(".empty")).to_be_visible()
    both("agenda")

    page.locator("#sign-out").click()
    expect(page.locator("#sign-in-form")).to_be_visible()
    both("signed-out")
    sign_in(page, server, demo_user)
    expect(page.locator("#code")).to_be_visible()
    both("second-factor")
    enter_code(page, totp(SECRETS[demo_user], server))
    expect_home(page)
    both("home-" + demo_user)
    page.goto(server.url("/#/account"))
    expect(page.locator("#password-form")).to_be_visible()
    both("account-" + demo_user)
    return seen


# coturn -------------------------------------------------------------------------------------


@dataclass
class Coturn:
    port: int
    log: Path


def _stun_answers(port: int) -> bool:
    """A STUN Binding request to 127.0.0.1:port gets its success response."""
    transaction = os.urandom(12)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.settimeout(0.5)
        probe.sendto(struct.pack("!HHI", 0x0001, 0, 0x2112A442) + transaction, ("127.0.0.1", port))
        try:
            data = probe.recv(2048)
        except OSError:
            return False
    return data[:2] == b"\x01\x01" and data[8:20] == transaction


def _free_udp_range(size: int) -> int:
    """The first of ``size`` consecutive UDP ports that are free on 127.0.0.1 right now."""
    for _ in range(50):
        first = random.randrange(20_000, 60_000 - size)
        sockets = []
        try:
            for port in range(first, first + size):
                sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                sockets.append(sock)
                sock.bind(("127.0.0.1", port))
            return first
        except OSError:
            continue
        finally:
            for sock in sockets:
                sock.close()
    raise RuntimeError("no free range of UDP ports")


def _tail(path: Path) -> str:
    return path.read_text(errors="replace")[-3000:] if path.exists() else "(no log)"


@contextlib.contextmanager
def running_coturn(home: Path, *auth: str) -> Iterator[Coturn]:
    """coturn on 127.0.0.1 (UDP only, loopback peers allowed), started and stopped here.

    ``auth``: ``"--lt-cred-mech", "--user=u:p", "--realm=r"``, or ``"--use-auth-secret",
    "--static-auth-secret=s", "--realm=r"`` for the per-join credentials Beeldbel issues.
    """
    if not Path(TURNSERVER).exists():
        pytest.fail(f"{TURNSERVER} is missing: apt-get install coturn (scripts/test does)")
    port = _free_udp_range(1)
    relay_ports = _free_udp_range(40)
    log = home / "turnserver.log"
    process = subprocess.Popen(
        [
            TURNSERVER, "-n", "--listening-ip=127.0.0.1", "--relay-ip=127.0.0.1",
            f"--listening-port={port}", f"--min-port={relay_ports}",
            f"--max-port={relay_ports + 39}", *auth, "--no-tls", "--no-dtls", "--no-cli",
            "--no-tcp", "--no-tcp-relay", "--no-rfc5780", "--allow-loopback-peers",
            f"--userdb={home / 'turndb'}", f"--pidfile={home / 'turnserver.pid'}",
            f"--log-file={log}", "--simple-log",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while not _stun_answers(port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"coturn did not start: {_tail(log)}")
        yield Coturn(port, log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


TURN_SECRET = "beeldbel-test-turn-secret"


@contextlib.contextmanager
def coturn_with_secret(home: Path) -> Iterator[Coturn]:
    """coturn as Beeldbel uses it: per-join credentials (use-auth-secret) from TURN_SECRET."""
    with running_coturn(
        home, "--use-auth-secret", f"--static-auth-secret={TURN_SECRET}", "--realm=beeldbel.test"
    ) as started:
        yield started


def start_server_with_turn(
    base: Path, coturn: Coturn, port: int | None = None, **settings: str
) -> Server:
    """The service handing out credentials for ``coturn`` (plus any other settings)."""
    secret = base / "turn-secret"
    secret.write_text(TURN_SECRET + "\n")
    return start_server(
        base / "data",
        port,
        turn_urls=json.dumps([f"turn:127.0.0.1:{coturn.port}?transport=udp"]),
        turn_secret_file=str(secret),
        **settings,
    )
