"""The ``beeldbel`` command: refusals, configuration errors, version, and a real ``serve``."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import closing
from pathlib import Path

import pytest

from beeldbel import __version__
from beeldbel.demo import DEMO_TEAMS
from beeldbel.settings import is_loopback_host

EXIT_USAGE = 2


def beeldbel_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """The test's environment without any BEELDBEL_* setting, plus ours."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BEELDBEL_")}
    return env | {"BEELDBEL_DATA_DIR": str(data_dir), "BEELDBEL_LOG_FORMAT": "console"} | extra


def run_beeldbel(*args: str, data_dir: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "beeldbel", *args],
        cwd=data_dir.parent,
        env=beeldbel_env(data_dir, **env),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def assert_usage_error(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == EXIT_USAGE, result.stderr
    assert result.stderr.startswith("beeldbel: ")
    assert "Traceback" not in result.stderr


def team_names(database: Path) -> list[str]:
    with closing(sqlite3.connect(database)) as conn:
        return [name for (name,) in conn.execute("SELECT name FROM teams ORDER BY name")]


# --demo stays on this machine ----------------------------------------------------------


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.1", "::"])
def test_demo_refuses_to_listen_on_a_non_loopback_host(tmp_path: Path, host: str) -> None:
    data_dir = tmp_path / "data"
    result = run_beeldbel("serve", "--demo", "--host", host, data_dir=data_dir)
    assert_usage_error(result)
    assert repr(host) in result.stderr
    assert "127.0.0.1" in result.stderr
    # Nothing started: no log line, no database, no keys.
    assert result.stdout == ""
    assert not data_dir.exists()


def test_demo_refuses_a_non_loopback_host_from_the_environment(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    result = run_beeldbel("serve", "--demo", data_dir=data_dir, BEELDBEL_HOST="0.0.0.0")
    assert_usage_error(result)
    assert "'0.0.0.0'" in result.stderr
    assert not data_dir.exists()


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "127.0.0.2", "::1", "[::1]"])
def test_loopback_hosts_are_recognised(host: str) -> None:
    assert is_loopback_host(host)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.1", "10.0.0.1", "example.org", ""])
def test_other_hosts_are_not_loopback(host: str) -> None:
    assert not is_loopback_host(host)


# Configuration errors -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "variable", "value"),
    [
        ("serve", "BEELDBEL_PORT", "notanumber"),
        ("serve", "BEELDBEL_PORT", "70000"),
        ("migrate", "BEELDBEL_LOG_LEVEL", "loud"),
        ("migrate", "BEELDBEL_DATABASE_URL", "mysql://root@localhost/beeldbel"),
    ],
)
def test_invalid_environment_setting_exits_2_naming_it(
    tmp_path: Path, command: str, variable: str, value: str
) -> None:
    data_dir = tmp_path / "data"
    result = run_beeldbel(command, data_dir=data_dir, **{variable: value})
    assert_usage_error(result)
    assert "invalid configuration" in result.stderr
    assert variable in result.stderr
    assert not data_dir.exists()


def test_config_file_with_an_unknown_key_exits_2_naming_the_key(tmp_path: Path) -> None:
    config = tmp_path / "beeldbel.toml"
    config.write_text('port = 8081\ncolour = "blue"\n')
    result = run_beeldbel("--config", str(config), "migrate", data_dir=tmp_path / "data")
    assert_usage_error(result)
    assert "colour" in result.stderr.lower()
    assert "BEELDBEL_PORT" not in result.stderr  # only the bad key is blamed


def test_config_file_with_a_bad_value_exits_2_naming_the_setting(tmp_path: Path) -> None:
    config = tmp_path / "beeldbel.toml"
    config.write_text('port = "eighty"\n')
    result = run_beeldbel("--config", str(config), "serve", data_dir=tmp_path / "data")
    assert_usage_error(result)
    assert "BEELDBEL_PORT" in result.stderr


def test_config_file_that_is_not_toml_exits_2(tmp_path: Path) -> None:
    config = tmp_path / "beeldbel.toml"
    config.write_text("port = = 8081\n")
    result = run_beeldbel("--config", str(config), "migrate", data_dir=tmp_path / "data")
    assert_usage_error(result)
    assert "invalid configuration" in result.stderr


def test_missing_config_file_exits_2_naming_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.toml"
    result = run_beeldbel("--config", str(missing), "serve", data_dir=tmp_path / "data")
    assert_usage_error(result)
    assert str(missing) in result.stderr
    assert "not found" in result.stderr


def test_missing_config_file_named_by_the_environment_exits_2(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.toml"
    result = run_beeldbel("migrate", data_dir=tmp_path / "data", BEELDBEL_CONFIG=str(missing))
    assert_usage_error(result)
    assert str(missing) in result.stderr


# version and demo ---------------------------------------------------------------------


def test_version_prints_the_package_version(tmp_path: Path) -> None:
    result = run_beeldbel("version", data_dir=tmp_path / "data")
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"beeldbel {__version__}\n"


def test_demo_twice_seeds_the_teams_once(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    for _ in range(2):
        result = run_beeldbel("demo", data_dir=data_dir)
        assert result.returncode == 0, result.stderr
    assert team_names(data_dir / "beeldbel.sqlite3") == sorted(name for name, _ in DEMO_TEAMS)


# serve, end to end --------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def get_json(url: str) -> tuple[int, dict[str, object]]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.loads(error.read())


def wait_until_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> dict[str, object]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, f"serve exited early:\n{log.read_text()}"
        try:
            status, body = get_json(url)
        except (urllib.error.URLError, ConnectionError):
            status, body = 0, {}
        if status == 200:
            return body
        time.sleep(0.1)
    pytest.fail(f"/readyz did not answer 200 within 30 s:\n{log.read_text()}")


@pytest.mark.slow
def test_serve_demo_on_a_fresh_data_dir_becomes_ready_and_stops_cleanly_on_sigterm(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "fresh"
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "beeldbel", "serve", "--demo", "--port", str(port)],
            cwd=tmp_path,
            env=beeldbel_env(data_dir),
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        ready = wait_until_ready(f"http://127.0.0.1:{port}/readyz", process, log)
        assert ready == {"status": "ready", "checks": {"database": "ok", "migrations": "ok"}}
        assert get_json(f"http://127.0.0.1:{port}/healthz") == (200, {"status": "ok"})
        assert (data_dir / "beeldbel.sqlite3").is_file()
        assert list((data_dir / "keys").glob("signing-*.pem"))
        assert len(team_names(data_dir / "beeldbel.sqlite3")) == len(DEMO_TEAMS)

        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0, log.read_text()
        assert "Traceback" not in log.read_text()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def test_serve_refuses_a_network_address_while_demo_accounts_keep_the_demo_password(
    tmp_path: Path,
) -> None:
    import asyncio

    from beeldbel.db.engine import Database
    from beeldbel.identity.demo import demo_accounts_with_demo_password

    data = tmp_path / "data"
    seeded = run_beeldbel("demo", data_dir=data)
    assert seeded.returncode == 0, seeded.stderr
    refused = run_beeldbel("serve", "--host", "0.0.0.0", data_dir=data)
    assert refused.returncode == 2
    assert "demo accounts with the public demo password" in refused.stderr
    assert "anouk" in refused.stderr

    async def exposed() -> list[str]:
        db = Database(f"sqlite+aiosqlite:///{data / 'beeldbel.sqlite3'}")
        try:
            return await demo_accounts_with_demo_password(db)
        finally:
            await db.dispose()

    assert asyncio.run(exposed()) == ["anouk", "daan", "femke", "joost", "ingrid"]
    for name in ("anouk", "daan", "femke", "joost", "ingrid"):
        disabled = run_beeldbel("user", "disable", name, data_dir=data)
        assert disabled.returncode == 0, disabled.stderr
    assert asyncio.run(exposed()) == []
