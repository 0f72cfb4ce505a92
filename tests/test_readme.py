"""The README stays true: its two commands work from a fresh copy, and it lists every setting."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import pytest

from beeldbel.identity.keys import Keyring
from beeldbel.identity.model import Principal, PrincipalKind, Role
from beeldbel.identity.tokens import TokenService
from beeldbel.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def test_readme_lists_every_setting_and_no_stale_one() -> None:
    documented = set(re.findall(r"`(BEELDBEL_[A-Z_]+)`", README))
    settings = {f"BEELDBEL_{name.upper()}" for name in Settings.model_fields}
    assert settings <= documented, settings - documented
    extra = documented - settings - {"BEELDBEL_CONFIG", "BEELDBEL_TEST_POSTGRES_URL"}
    assert not extra, f"README documents settings that do not exist: {extra}"


def test_ci_runs_the_readmes_test_command() -> None:
    assert "scripts/test" in README
    assert "scripts/run" in README
    assert "exec scripts/test" in (ROOT / ".ci" / "run").read_text()


def port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def fetch(url: str, token: str | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@pytest.mark.slow
def test_readme_run_command_serves_demo_data_on_sqlite_from_a_fresh_copy(tmp_path: Path) -> None:
    """`scripts/run` in a copy of the tracked tree (as a fresh clone has it) serves port 8080."""
    copy = tmp_path / "clone"
    tracked = (
        subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=ROOT,
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .split("\0")
    )
    for name in filter(None, tracked):
        if (ROOT / name).is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, copy / name)
    assert not (copy / "var").exists()
    # 8080 is the README's promise; if something else holds it here, use another port.
    port = 8080 if port_is_free(8080) else 18080
    # As on a fresh clone: scripts/run makes its own .venv and installs into it.
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("BEELDBEL_", "VIRTUAL_ENV", "PYTHON"))
    }
    args = [] if port == 8080 else ["--port", str(port)]
    process = subprocess.Popen(
        ["scripts/run", *args],
        cwd=copy,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 240  # includes creating the virtualenv
        status = 0
        while time.monotonic() < deadline and process.poll() is None:
            try:
                status, _ = fetch(f"{base}/readyz")
            except OSError:
                status = 0
            if status == 200:
                break
            time.sleep(0.3)
        assert status == 200, f"not ready; exit={process.poll()}"
        assert (copy / "var" / "beeldbel.sqlite3").is_file()
        tokens = TokenService(
            Keyring.load_or_create(copy / "var" / "keys"),
            issuer="beeldbel",
            audience="beeldbel-api",
            lifetime=Settings().token_lifetime,
        )
        token = tokens.issue(
            Principal("staff:readme", PrincipalKind.STAFF, frozenset({Role.WORKER})),
            datetime.now(UTC),
        )
        status, body = fetch(f"{base}/api/v1/teams", token)
        assert status == 200
        assert b"Wijkteam Hof van Twente" in body
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        output = process.communicate(timeout=30)[0].decode()
    assert process.returncode == 0, output
