"""Operations: liveness, readiness, metrics, request ids, structured logs and the 500 answer."""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog
from aiohttp import web
from aiohttp.test_utils import TestClient
from prometheus_client.parser import text_string_to_metric_families

from beeldbel import __version__
from beeldbel.api import appkeys
from beeldbel.api.routing import Call, DataClass, Operation, register
from beeldbel.api.schemas import PageQuery
from beeldbel.app import create_app
from beeldbel.identity.model import Role
from beeldbel.ops.logging import configure_logging
from beeldbel.settings import LogFormat, Settings, load_settings
from tests.conftest import (
    auth,
    create_pg_database,
    drop_pg_database,
    pg_database_url,
    run_async,
    token_for,
)

WELL_FORMED_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")
GENERIC_500 = "Something went wrong on our side. It has been logged; please try again."


def settings_for(tmp_path: Path, database_url: str, **overrides: Any) -> Settings:
    return load_settings(
        data_dir=tmp_path / "data", database_url=database_url, log_format="console", **overrides
    )


async def create_team(client: TestClient, headers: dict[str, str], name: str) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/teams", json={"name": name, "municipalities": ["Losser"]}, headers=headers
    )
    assert response.status == 201, await response.text()
    result: dict[str, Any] = await response.json()
    return result


# --- liveness and readiness ----------------------------------------------------------------


async def test_healthz_says_ok(client: TestClient) -> None:
    response = await client.get("/healthz")
    assert response.status == 200
    assert await response.json() == {"status": "ok"}


async def test_readyz_is_ready_on_a_migrated_database(backend: str, client: TestClient) -> None:
    response = await client.get("/readyz")
    assert response.status == 200
    assert await response.json() == {
        "status": "ready",
        "checks": {"database": "ok", "migrations": "ok"},
    }


async def test_readyz_reports_pending_migrations_on_an_empty_sqlite_file(
    aiohttp_client: Any, tmp_path: Path
) -> None:
    empty = tmp_path / "empty.sqlite3"
    empty.touch()
    client = await aiohttp_client(
        create_app(settings_for(tmp_path, f"sqlite+aiosqlite:///{empty}"))
    )
    response = await client.get("/readyz")
    assert response.status == 503
    assert await response.json() == {
        "status": "not_ready",
        "checks": {"database": "ok", "migrations": "pending"},
    }


@pytest.fixture
def empty_pg_database() -> Iterator[str]:
    name = run_async(create_pg_database())
    try:
        yield pg_database_url(name)
    finally:
        run_async(drop_pg_database(name))


@pytest.mark.postgres
async def test_readyz_reports_pending_migrations_on_an_empty_postgres_database(
    aiohttp_client: Any, tmp_path: Path, empty_pg_database: str
) -> None:
    client = await aiohttp_client(create_app(settings_for(tmp_path, empty_pg_database)))
    response = await client.get("/readyz")
    assert response.status == 503
    assert await response.json() == {
        "status": "not_ready",
        "checks": {"database": "ok", "migrations": "pending"},
    }


@pytest.mark.postgres
async def test_readyz_is_a_503_not_a_500_when_the_database_does_not_exist(
    aiohttp_client: Any, tmp_path: Path
) -> None:
    missing = pg_database_url(f"does_not_exist_{uuid.uuid4().hex[:12]}")
    client = await aiohttp_client(create_app(settings_for(tmp_path, missing)))
    for _ in range(2):  # and it stays an answer, not a crash, on the next probe
        response = await client.get("/readyz")
        assert response.status == 503
        assert await response.json() == {
            "status": "not_ready",
            "checks": {"database": "unreachable", "migrations": "unknown"},
        }
    assert (await client.get("/healthz")).status == 200


# --- metrics -------------------------------------------------------------------------------


def samples(text: str, name: str) -> list[tuple[dict[str, str], float]]:
    return [
        (sample.labels, sample.value)
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    ]


def request_count(text: str, method: str, route: str, status: int) -> float:
    wanted = {"method": method, "route": route, "status": str(status)}
    found = [
        value for labels, value in samples(text, "beeldbel_http_requests_total") if labels == wanted
    ]
    assert len(found) <= 1
    return found[0] if found else 0.0


async def test_metrics_count_requests_by_route_template_and_status(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    team = await create_team(client, admin_headers, "Wijkteam Enschede")
    assert (await client.get(f"/api/v1/teams/{team['id']}", headers=admin_headers)).status == 200
    missing_id = str(uuid.uuid4())
    assert (await client.get(f"/api/v1/teams/{missing_id}", headers=admin_headers)).status == 404
    assert (await client.get("/no/such/page/4711")).status == 404

    response = await client.get("/metrics")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    text = await response.text()
    assert request_count(text, "POST", "/api/v1/teams", 201) == 1
    assert request_count(text, "GET", "/api/v1/teams/{team_id}", 200) == 1
    assert request_count(text, "GET", "/api/v1/teams/{team_id}", 404) == 1
    assert request_count(text, "GET", "unmatched", 404) == 1
    # Concrete ids and paths never become label values.
    for concrete in (team["id"], missing_id, "4711"):
        assert concrete not in text
    durations = samples(text, "beeldbel_http_request_duration_seconds_count")
    assert ({"method": "GET", "route": "/api/v1/teams/{team_id}"}, 2.0) in durations


async def test_metrics_name_the_running_version(client: TestClient) -> None:
    text = await (await client.get("/metrics")).text()
    assert samples(text, "beeldbel_build_info") == [({"version": __version__}, 1.0)]


async def test_each_app_has_its_own_metrics(
    aiohttp_client: Any, settings: Settings, client: TestClient
) -> None:
    other = await aiohttp_client(create_app(settings))
    for _ in range(3):
        await client.get("/healthz")
    text = await (await other.get("/metrics")).text()
    assert request_count(text, "GET", "/healthz", 200) == 0


@pytest.fixture
async def guarded_client(aiohttp_client: Any, tmp_path: Path, database_url: str) -> TestClient:
    settings = settings_for(tmp_path, database_url, metrics_token="s3cret-metrics-token")
    client: TestClient = await aiohttp_client(create_app(settings))
    return client


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-token"},
        {"Authorization": "Bearer "},
        {"Authorization": "Bearer s3cret-metrics-token-but-longer"},
        {"Authorization": "s3cret-metrics-token"},
        {"Authorization": "Basic s3cret-metrics-token"},
    ],
    ids=["none", "wrong", "empty", "longer", "no-scheme", "other-scheme"],
)
async def test_metrics_with_a_token_configured_refuse_anyone_without_it(
    guarded_client: TestClient, headers: dict[str, str]
) -> None:
    response = await guarded_client.get("/metrics", headers=headers)
    assert response.status == 401
    body = await response.json()
    assert body["error"]["code"] == "unauthenticated"
    assert "beeldbel_" not in await response.text()


async def test_metrics_with_a_token_configured_answer_the_bearer_of_it(
    guarded_client: TestClient,
) -> None:
    response = await guarded_client.get(
        "/metrics", headers={"Authorization": "Bearer s3cret-metrics-token"}
    )
    assert response.status == 200
    assert samples(await response.text(), "beeldbel_build_info")


# --- request ids ---------------------------------------------------------------------------


async def boom(call: Call) -> web.StreamResponse:
    raise RuntimeError("secret internal detail: password=hunter2")


BOOM = Operation(
    "GET",
    "/test-only/boom",
    boom,
    "testBoom",
    "Always fails",
    "test",
    DataClass.NONE,
    query=PageQuery,  # takes ?cursor=, so a secret there reaches the handler (and the log test)
    public=True,
)


@pytest.fixture
async def boom_client(aiohttp_client: Any, settings: Settings) -> TestClient:
    app = create_app(settings)
    register(app, [BOOM])
    client: TestClient = await aiohttp_client(app)
    return client


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/healthz", 200),
        ("GET", "/api/v1/teams", 401),
        ("GET", "/no/such/page", 404),
        ("DELETE", "/healthz", 405),
        ("POST", "/api/v1/teams", 401),
        ("GET", "/test-only/boom", 500),
    ],
)
async def test_every_response_carries_a_fresh_request_id(
    boom_client: TestClient, method: str, path: str, status: int
) -> None:
    first = await boom_client.request(method, path)
    second = await boom_client.request(method, path)
    assert first.status == second.status == status
    assert WELL_FORMED_ID.fullmatch(first.headers["X-Request-ID"])
    assert WELL_FORMED_ID.fullmatch(second.headers["X-Request-ID"])
    assert first.headers["X-Request-ID"] != second.headers["X-Request-ID"]


@pytest.mark.parametrize(
    "incoming", ["abcdefgh", "A" * 64, "req-2026.11_30-x", "0f9c1d2e-aaaa-4bbb-8ccc-123456789abc"]
)
async def test_a_well_formed_incoming_request_id_is_echoed(
    client: TestClient, incoming: str
) -> None:
    response = await client.get("/healthz", headers={"X-Request-ID": incoming})
    assert response.headers["X-Request-ID"] == incoming


@pytest.mark.parametrize(
    "incoming",
    ["has spaces in it", "x" * 200, "A" * 65, "short", "semi;colon;id", "ünïcødé-id", ""],
    ids=["spaces", "200_chars", "65_chars", "too_short", "punctuation", "non_ascii", "empty"],
)
async def test_a_malformed_incoming_request_id_is_replaced(
    client: TestClient, incoming: str
) -> None:
    response = await client.get("/healthz", headers={"X-Request-ID": incoming})
    assert response.status == 200
    replaced = response.headers["X-Request-ID"]
    assert replaced != incoming
    assert WELL_FORMED_ID.fullmatch(replaced)


# --- structured logs -----------------------------------------------------------------------


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    saved_levels = {name: logging.getLogger(name).level for name in ("aiohttp.access", "alembic")}
    try:
        yield
    finally:
        structlog.reset_defaults()
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
        for name, level in saved_levels.items():
            logging.getLogger(name).setLevel(level)


@pytest.fixture
async def json_logged_client(
    aiohttp_client: Any, tmp_path: Path, database_url: str, restore_logging: None
) -> TestClient:
    settings = load_settings(
        data_dir=tmp_path / "data", database_url=database_url, log_format="json"
    )
    app = create_app(settings)
    register(app, [BOOM])
    client: TestClient = await aiohttp_client(app)
    return client


def start_json_logging(client: TestClient, capsys: pytest.CaptureFixture[str]) -> None:
    """Configure logging as the server does; from the test body, so stdout is capsys's."""
    assert client.app is not None
    settings = client.app[appkeys.SETTINGS]
    assert settings.log_format is LogFormat.JSON
    configure_logging(settings)
    capsys.readouterr()  # only what the requests below log counts


def json_lines(output: str) -> list[dict[str, Any]]:
    lines = [line for line in output.splitlines() if line.strip()]
    return [json.loads(line) for line in lines]  # every line must be JSON


async def test_a_request_logs_exactly_one_json_line_with_its_request_id(
    json_logged_client: TestClient, capsys: pytest.CaptureFixture[str]
) -> None:
    start_json_logging(json_logged_client, capsys)
    token = token_for(json_logged_client, Role.WORKER)
    response = await json_logged_client.get(
        "/api/v1/teams", params={"cursor": "secretvalue"}, headers=auth(token)
    )
    assert response.status == 422
    captured = capsys.readouterr()
    lines = json_lines(captured.out)
    assert len(lines) == 1, captured.out
    line = lines[0]
    assert line["event"] == "request"
    assert line["level"] == "info"
    assert line["method"] == "GET"
    assert line["route"] == "/api/v1/teams"
    assert line["path"] == "/api/v1/teams"
    assert line["status"] == 422
    assert isinstance(line["duration_ms"], int | float)
    assert line["duration_ms"] >= 0
    assert line["request_id"] == response.headers["X-Request-ID"]
    everything = captured.out + captured.err
    assert "secretvalue" not in everything
    assert "cursor" not in everything
    assert token not in everything
    assert token.split(".")[2] not in everything  # not even the signature


async def test_the_log_line_carries_the_callers_request_id(
    json_logged_client: TestClient, capsys: pytest.CaptureFixture[str]
) -> None:
    start_json_logging(json_logged_client, capsys)
    response = await json_logged_client.get("/healthz", headers={"X-Request-ID": "trace-12345678"})
    assert response.headers["X-Request-ID"] == "trace-12345678"
    lines = json_lines(capsys.readouterr().out)
    assert [(line["event"], line["request_id"], line["status"]) for line in lines] == [
        ("request", "trace-12345678", 200)
    ]


async def test_an_unhandled_error_is_logged_with_the_request_id_and_the_request_line_says_500(
    json_logged_client: TestClient, capsys: pytest.CaptureFixture[str]
) -> None:
    start_json_logging(json_logged_client, capsys)
    response = await json_logged_client.get("/test-only/boom", params={"cursor": "secretvalue"})
    assert response.status == 500
    request_id = response.headers["X-Request-ID"]
    lines = json_lines(capsys.readouterr().out)
    assert [line["event"] for line in lines] == ["unhandled_error", "request"]
    error, request = lines
    assert error["level"] == "error"
    assert error["request_id"] == request_id
    assert "secret internal detail" in error["exception"]  # the trace stays in the logs
    assert request["request_id"] == request_id
    assert request["status"] == 500
    assert request["route"] == "/test-only/boom"
    assert all("secretvalue" not in json.dumps(line) for line in lines)


# --- unexpected errors ---------------------------------------------------------------------


async def test_an_unexpected_exception_becomes_a_generic_500_without_a_traceback(
    boom_client: TestClient,
) -> None:
    response = await boom_client.get("/test-only/boom")
    assert response.status == 500
    assert response.headers["Content-Type"].startswith("application/json")
    text = await response.text()
    assert json.loads(text) == {
        "error": {"code": "internal", "message": GENERIC_500, "details": {}}
    }
    for leak in ("Traceback", "RuntimeError", "secret internal detail", "hunter2", ".py"):
        assert leak not in text
    metrics = await (await boom_client.get("/metrics")).text()
    assert request_count(metrics, "GET", "/test-only/boom", 500) == 1
