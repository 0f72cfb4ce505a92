"""Acceptance 8: security headers on every answer; cross-origin and CSRF-less writes refused.

The header walk is driven by the OpenAPI document, like the contract walk, so an
operation added later is checked without anyone writing a test for it.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
import uuid
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer, make_mocked_request
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from multidict import CIMultiDict

from beeldbel.api.routing import Call, DataClass, Operation, register
from beeldbel.api.security import origin_allowed, own_origin, parse_origin, security_middleware
from beeldbel.app import create_app
from beeldbel.identity.model import Role
from beeldbel.settings import load_settings
from tests.conftest import auth, token_for
from tests.test_api_contract import example, openapi, operations, resolve

INTRANET = "https://intranet.example.nl"
EVIL = "https://evil.example"
UNSAFE = ("POST", "PUT", "PATCH", "DELETE")

EXPECTED_CSP = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'", "data:", "blob:"],
    "media-src": ["'self'", "blob:"],
    "object-src": ["'none'"],
    "base-uri": ["'none'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
}
HSTS = "max-age=31536000; includeSubDomains"


# --- helpers --------------------------------------------------------------------------------


async def make_client(aiohttp_client: Any, tmp_path: Path, database_url: str, **overrides: Any):  # type: ignore[no-untyped-def]
    settings = load_settings(data_dir=tmp_path / "data", database_url=database_url, **overrides)
    return await aiohttp_client(create_app(settings))


# The walk sends two requests per operation; rate limits would only add 429s to it.
UNLIMITED = {"rate_limit_per_address": 100_000, "rate_limit_per_principal": 100_000}


def host_of(client: TestClient) -> str:
    url = client.make_url("/")
    return f"{url.host}:{url.port}"


def origin_of(client: TestClient) -> str:
    url = client.make_url("/")
    return f"{url.scheme}://{url.host}:{url.port}"


def directives(csp: str) -> dict[str, list[str]]:
    parsed: dict[str, list[str]] = {}
    for directive in csp.split(";"):
        name, *sources = directive.split()
        assert name not in parsed, f"{name} given twice"
        parsed[name] = sources
    return parsed


def permissions(policy: str) -> dict[str, str]:
    return dict(item.strip().split("=", 1) for item in policy.split(","))


def assert_security_headers(response: Any, host: str, *, hsts: bool) -> None:
    headers = response.headers
    what = f"{response.method} {response.url.path} -> {response.status}"
    csp_text = headers.get("Content-Security-Policy", "")
    assert "unsafe-" not in csp_text, what
    csp = directives(csp_text)
    connect = csp.pop("connect-src", None)
    assert csp == EXPECTED_CSP, what
    assert connect is not None, what
    assert set(connect) == {"'self'", f"ws://{host}", f"wss://{host}"}, what
    assert headers.get("X-Content-Type-Options") == "nosniff", what
    assert headers.get("Referrer-Policy") == "no-referrer", what
    assert headers.get("X-Frame-Options") == "DENY", what
    policy = permissions(headers.get("Permissions-Policy", "x=y"))
    assert policy.pop("camera") == "(self)", what
    assert policy.pop("microphone") == "(self)", what
    assert policy.pop("display-capture") == "(self)", what  # a worker shares the screen
    assert {"geolocation", "payment", "usb"} <= set(policy), what
    assert set(policy.values()) == {"()"}, what
    assert headers.get("Cross-Origin-Opener-Policy") == "same-origin", what
    assert headers.get("Cross-Origin-Resource-Policy") == "same-origin", what
    if response.url.path.startswith("/api/"):
        assert headers.get("Cache-Control") == "no-store", what
        assert "Origin" in [v.strip() for v in headers.get("Vary", "").split(",")], what
    if hsts:
        assert headers.get("Strict-Transport-Security") == HSTS, what
    else:
        assert "Strict-Transport-Security" not in headers, what


async def error_code(response: Any) -> str:
    body = await response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    code: str = body["error"]["code"]
    return code


async def walk_every_answer(client: TestClient, *, hsts: bool, **extra: str) -> set[int]:
    """Every operation of the OpenAPI document, an unknown route, a 405 and 401/422 errors."""
    doc = await openapi(client)
    token = token_for(client, *Role, subject="staff:security-walker")
    host = host_of(client)
    statuses: set[int] = set()
    walked = 0
    for method, path, op in operations(doc):
        url = path
        for parameter in op.get("parameters", []):
            if parameter["in"] == "path":
                url = url.replace("{" + parameter["name"] + "}", str(uuid.uuid4()))
        kwargs: dict[str, Any] = {}
        if "requestBody" in op:
            schema = op["requestBody"]["content"]["application/json"]["schema"]
            kwargs["json"] = example(doc, resolve(doc, schema))
        for headers in ({**extra, **auth(token)}, extra):  # signed in, and not
            response = await client.request(method.upper(), url, headers=headers, **kwargs)
            assert_security_headers(response, host, hsts=hsts)
            statuses.add(response.status)
        walked += 1
    assert walked == len(operations(doc)) >= 8
    for method, url in (
        ("GET", "/api/v1/does-not-exist"),
        ("GET", "/no/such/page"),
        ("DELETE", "/api/v1/teams"),
        ("PUT", "/healthz"),
        ("GET", "/api/v1/teams?zz_unknown=1"),
    ):
        response = await client.request(method, url, headers={**extra, **auth(token)})
        assert_security_headers(response, host, hsts=hsts)
        statuses.add(response.status)
    return statuses


# --- security headers -----------------------------------------------------------------------


async def test_every_answer_has_the_security_headers_and_no_hsts_over_plain_http(
    aiohttp_client: Any, tmp_path: Path, database_url: str
) -> None:
    client = await make_client(aiohttp_client, tmp_path, database_url, **UNLIMITED)
    statuses = await walk_every_answer(client, hsts=False)
    # Successes and errors of every kind the walk can reach were all checked.
    assert {200, 201, 401, 404, 405, 422} <= statuses


async def test_hsts_is_sent_when_a_trusted_tls_proxy_says_https(
    aiohttp_client: Any, tmp_path: Path, database_url: str
) -> None:
    client = await make_client(
        aiohttp_client, tmp_path, database_url, trusted_proxies=["127.0.0.0/8"], **UNLIMITED
    )
    statuses = await walk_every_answer(client, hsts=True, **{"X-Forwarded-Proto": "https"})
    assert {200, 201, 401, 404, 405, 422} <= statuses


async def test_hsts_is_not_sent_when_an_untrusted_peer_claims_https(
    aiohttp_client: Any, tmp_path: Path, database_url: str
) -> None:
    client = await make_client(
        aiohttp_client, tmp_path, database_url, trusted_proxies=["192.0.2.0/24"], **UNLIMITED
    )
    statuses = await walk_every_answer(client, hsts=False, **{"X-Forwarded-Proto": "https"})
    assert {200, 201, 401, 404, 405, 422} <= statuses


def self_signed(tmp_path: Path) -> ssl.SSLContext:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    return context


async def test_hsts_is_sent_over_direct_tls(
    aiohttp_client: Any, tmp_path: Path, database_url: str
) -> None:
    settings = load_settings(data_dir=tmp_path / "data", database_url=database_url)
    server = TestServer(create_app(settings))
    await server.start_server(ssl=self_signed(tmp_path))
    client: TestClient = await aiohttp_client(server)
    for path in ("/healthz", "/api/openapi.json", "/api/v1/teams", "/no/such/page"):
        response = await client.get(path, ssl=False)
        assert response.url.scheme == "https"
        assert_security_headers(response, host_of(client), hsts=True)


async def test_content_security_policy_names_the_forwarded_host_only_from_a_trusted_proxy(
    aiohttp_client: Any, tmp_path: Path, database_url: str
) -> None:
    forwarded = {"X-Forwarded-Host": "beeldbel.example.nl", "X-Forwarded-Proto": "https"}
    trusting = await make_client(
        aiohttp_client, tmp_path / "a", database_url, trusted_proxies=["127.0.0.1"]
    )
    response = await trusting.get("/healthz", headers=forwarded)
    connect = directives(response.headers["Content-Security-Policy"])["connect-src"]
    assert set(connect) == {"'self'", "ws://beeldbel.example.nl", "wss://beeldbel.example.nl"}
    distrusting = await make_client(aiohttp_client, tmp_path / "b", database_url)
    response = await distrusting.get("/healthz", headers=forwarded)
    connect = directives(response.headers["Content-Security-Policy"])["connect-src"]
    assert "wss://beeldbel.example.nl" not in connect


async def test_a_hostile_host_header_cannot_inject_into_the_content_security_policy(
    client: TestClient,
) -> None:
    response = await client.get("/healthz", headers={"Host": "x; script-src *"})
    csp = directives(response.headers["Content-Security-Policy"])
    assert csp["script-src"] == ["'self'"]
    assert csp["connect-src"] == ["'self'"]


async def redirect(call: Call) -> web.StreamResponse:
    raise web.HTTPFound("/healthz")


async def crash(call: Call) -> web.StreamResponse:
    raise RuntimeError("secret internal detail")


async def probe(call: Call) -> web.StreamResponse:
    request = call.request
    return web.json_response({"allowed": origin_allowed(request), "own": own_origin(request)})


def declared_for_tests(path: str, handler: Any) -> Operation:
    name = path.rsplit("/", 1)[1]
    return Operation(
        "GET", path, handler, f"testOnly_{name}", name, "test", DataClass.NONE,
        public=True, rate_limited=False,
    )  # fmt: skip


@pytest.fixture
async def probe_client(aiohttp_client: Any, tmp_path: Path, database_url: str) -> TestClient:
    """The app plus test-only operations: a redirect, a crash and an origin_allowed probe."""
    settings = load_settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        allowed_origins=[INTRANET],
        trusted_proxies=["127.0.0.1"],
    )
    app = create_app(settings)
    register(
        app,
        [
            declared_for_tests("/test-only/redirect", redirect),
            declared_for_tests("/test-only/crash", crash),
            declared_for_tests("/test-only/origin", probe),
        ],
    )
    client: TestClient = await aiohttp_client(app)
    return client


async def test_redirects_and_crashes_have_the_security_headers_too(
    probe_client: TestClient,
) -> None:
    response = await probe_client.get("/test-only/redirect", allow_redirects=False)
    assert response.status == 302
    assert_security_headers(response, host_of(probe_client), hsts=False)
    response = await probe_client.get("/test-only/crash")
    assert response.status == 500
    assert await error_code(response) == "internal"
    assert_security_headers(response, host_of(probe_client), hsts=False)


async def test_an_error_escaping_the_error_middleware_still_gets_a_headed_500(
    settings: Any,
) -> None:
    async def broken(request: web.Request) -> web.StreamResponse:
        raise RuntimeError("secret internal detail")

    request = make_mocked_request("GET", "/api/v1/teams", app=create_app(settings))
    response = await security_middleware(request, broken)
    assert response.status == 500
    assert isinstance(response, web.Response)
    assert isinstance(response.body, bytes)
    assert b"secret" not in response.body
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Cache-Control"] == "no-store"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


# --- origin allowlist -----------------------------------------------------------------------


TEAM = {"name": "Wijkteam Tubbergen", "municipalities": ["Tubbergen"]}


async def test_a_cross_origin_post_is_refused_and_changes_nothing(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    response = await client.post(
        "/api/v1/teams", json=TEAM, headers={**admin_headers, "Origin": EVIL}
    )
    assert response.status == 403
    assert await error_code(response) == "origin_not_allowed"
    assert "Access-Control-Allow-Origin" not in response.headers
    assert_security_headers(response, host_of(client), hsts=False)
    listing = await (await client.get("/api/v1/teams", headers=admin_headers)).json()
    assert listing["items"] == []


@pytest.mark.parametrize("method", UNSAFE)
@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": EVIL},
        {"Origin": "null"},
        {"Origin": f"{EVIL}, {INTRANET}"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "cross-site", "Origin": EVIL},
        {"Sec-Fetch-Site": "same-site"},
    ],
    ids=["evil", "null", "list", "cross-site", "cross-site-evil", "same-site"],
)
async def test_unsafe_requests_not_from_an_allowed_origin_are_refused(
    client: TestClient, admin_headers: dict[str, str], method: str, headers: dict[str, str]
) -> None:
    response = await client.request(
        method, "/api/v1/teams", json=TEAM, headers={**admin_headers, **headers}
    )
    assert response.status == 403
    assert await error_code(response) == "origin_not_allowed"


async def test_a_second_origin_header_makes_a_request_cross_origin(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    headers = CIMultiDict(admin_headers)
    headers.add("Origin", origin_of(client))
    headers.add("Origin", EVIL)
    response = await client.post("/api/v1/teams", json=TEAM, headers=headers)
    assert response.status == 403
    assert await error_code(response) == "origin_not_allowed"


async def test_a_same_origin_post_and_a_post_without_origin_pass(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    same = {**admin_headers, "Origin": origin_of(client), "Sec-Fetch-Site": "same-origin"}
    response = await client.post("/api/v1/teams", json=TEAM, headers=same)
    assert response.status == 201, await response.text()
    # No Origin at all: not a browser (a script, a tablet's agent); the token decides.
    other = {"name": "Wijkteam Dinkelland", "municipalities": ["Dinkelland"]}
    response = await client.post("/api/v1/teams", json=other, headers=admin_headers)
    assert response.status == 201, await response.text()


async def test_a_cross_origin_get_is_answered_but_not_shared_with_the_other_origin(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    response = await client.get("/api/v1/teams", headers={**admin_headers, "Origin": EVIL})
    assert response.status == 200
    assert "Access-Control-Allow-Origin" not in response.headers


async def test_forwarded_host_and_proto_count_only_from_a_trusted_proxy(
    aiohttp_client: Any, tmp_path: Path, database_url: str
) -> None:
    public = "https://beeldbel.example.nl"
    forwarded = {
        "Origin": public,
        "X-Forwarded-Host": "beeldbel.example.nl",
        "X-Forwarded-Proto": "https",
    }
    trusting = await make_client(
        aiohttp_client, tmp_path / "a", database_url, trusted_proxies=["127.0.0.0/8"]
    )
    token = token_for(trusting, Role.ADMIN)
    response = await trusting.post("/api/v1/teams", json=TEAM, headers={**auth(token), **forwarded})
    assert response.status == 201, await response.text()

    distrusting = await make_client(aiohttp_client, tmp_path / "b", database_url)
    token = token_for(distrusting, Role.ADMIN)
    response = await distrusting.post(
        "/api/v1/teams", json=TEAM, headers={**auth(token), **forwarded}
    )
    assert response.status == 403
    assert await error_code(response) == "origin_not_allowed"


async def test_a_tls_proxy_that_is_not_trusted_gets_a_hint_in_the_refusal(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    # The browser is on https; we see plain http because the proxy is not trusted.
    url = client.make_url("/")
    response = await client.post(
        "/api/v1/teams",
        json=TEAM,
        headers={**admin_headers, "Origin": f"https://{url.host}:{url.port}"},
    )
    assert response.status == 403
    body = await response.json()
    assert body["error"]["code"] == "origin_not_allowed"
    assert "BEELDBEL_TRUSTED_PROXIES" in body["error"]["message"]


@pytest.mark.parametrize(
    ("headers", "allowed"),
    [
        ({}, True),
        ({"Sec-Fetch-Site": "same-origin"}, True),
        ({"Sec-Fetch-Site": "none"}, True),
        ({"Sec-Fetch-Site": "cross-site"}, False),
        ({"Origin": INTRANET}, True),
        ({"Origin": "HTTPS://Intranet.Example.NL:443"}, True),
        ({"Origin": EVIL}, False),
        ({"Origin": "null"}, False),
        ({"Origin": "https://intranet.example.nl.evil.example"}, False),
        ({"Origin": "http://intranet.example.nl"}, False),
        ({"Origin": "https://intranet.example.nl:8443"}, False),
        ({"Origin": "https://beeldbel.example.nl", "X-Forwarded-Host": "beeldbel.example.nl",
          "X-Forwarded-Proto": "https"}, True),
        ({"Origin": "http://beeldbel.example.nl", "X-Forwarded-Host": "beeldbel.example.nl",
          "X-Forwarded-Proto": "https"}, False),
    ],
)  # fmt: skip
async def test_origin_allowed_judges_a_socketio_style_get_handshake(
    probe_client: TestClient, headers: dict[str, str], allowed: bool
) -> None:
    response = await probe_client.get("/test-only/origin", headers=headers)
    assert (await response.json())["allowed"] is allowed


async def test_own_origin_follows_the_request_and_a_trusted_proxy(
    probe_client: TestClient,
) -> None:
    plain = await (await probe_client.get("/test-only/origin")).json()
    assert plain["own"] == origin_of(probe_client)
    forwarded = {"X-Forwarded-Host": "beeldbel.example.nl", "X-Forwarded-Proto": "https"}
    behind = await (await probe_client.get("/test-only/origin", headers=forwarded)).json()
    assert behind["own"] == "https://beeldbel.example.nl"
    # Of a list, the entry the trusted proxy added (the last) counts, not the client's.
    appended = {
        "X-Forwarded-Host": "spoofed.example, beeldbel.example.nl",
        "X-Forwarded-Proto": "http, https",
    }
    behind = await (await probe_client.get("/test-only/origin", headers=appended)).json()
    assert behind["own"] == "https://beeldbel.example.nl"


@pytest.mark.parametrize(
    ("value", "parsed"),
    [
        ("https://Example.nl", ("https", "example.nl", 443)),
        ("https://example.nl:443/", ("https", "example.nl", 443)),
        ("http://127.0.0.1:8080", ("http", "127.0.0.1", 8080)),
        ("http://[::1]:8080", ("http", "::1", 8080)),
        ("null", None),
        ("", None),
        ("https://example.nl/path", None),
        ("https://user@example.nl", None),
        ("ftp://example.nl", None),
        ("https://example.nl:99999", None),
        ("https://example.nl?x=1", None),
    ],
)
def test_origins_are_compared_in_normal_form(value: str, parsed: Any) -> None:
    assert parse_origin(value) == parsed


# --- CORS -----------------------------------------------------------------------------------


@pytest.fixture
async def intranet_client(aiohttp_client: Any, tmp_path: Path, database_url: str) -> TestClient:
    client: TestClient = await make_client(
        aiohttp_client, tmp_path, database_url, allowed_origins=[INTRANET]
    )
    return client


def preflight(origin: str, method: str = "POST") -> dict[str, str]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": "authorization, content-type, idempotency-key",
    }


def header_list(value: str) -> set[str]:
    return {item.strip().lower() for item in value.split(",") if item.strip()}


async def test_an_allowed_origin_gets_a_preflight_answer_with_the_cors_headers(
    intranet_client: TestClient,
) -> None:
    for path in ("/api/v1/teams", f"/api/v1/teams/{uuid.uuid4()}"):
        response = await intranet_client.options(path, headers=preflight(INTRANET, "PATCH"))
        assert response.status == 204, await response.text()
        headers = response.headers
        assert headers["Access-Control-Allow-Origin"] == INTRANET
        assert "origin" in header_list(headers["Vary"])
        assert {"get", "post", "put", "patch", "delete"} <= header_list(
            headers["Access-Control-Allow-Methods"]
        )
        assert {
            "authorization",
            "content-type",
            "idempotency-key",
            "x-csrf-token",
            "x-request-id",
        } <= header_list(headers["Access-Control-Allow-Headers"])
        assert int(headers["Access-Control-Max-Age"]) > 0
        # Other origins call with a bearer token; the refresh cookie stays with our pages.
        assert "Access-Control-Allow-Credentials" not in headers
        assert_security_headers(response, host_of(intranet_client), hsts=False)


async def test_an_allowed_origin_may_post_and_read_the_answer(
    intranet_client: TestClient,
) -> None:
    token = token_for(intranet_client, Role.ADMIN)
    response = await intranet_client.post(
        "/api/v1/teams",
        json=TEAM,
        headers={**auth(token), "Origin": INTRANET, "Sec-Fetch-Site": "cross-site"},
    )
    assert response.status == 201, await response.text()
    assert response.headers["Access-Control-Allow-Origin"] == INTRANET
    assert "x-request-id" in header_list(response.headers["Access-Control-Expose-Headers"])
    assert "Access-Control-Allow-Credentials" not in response.headers


async def test_another_origins_preflight_is_refused(intranet_client: TestClient) -> None:
    for origin in (EVIL, "null"):
        response = await intranet_client.options("/api/v1/teams", headers=preflight(origin))
        assert response.status == 403
        assert await error_code(response) == "origin_not_allowed"
        assert "Access-Control-Allow-Origin" not in response.headers
        assert_security_headers(response, host_of(intranet_client), hsts=False)


async def test_preflights_are_answered_without_routes_for_options(
    intranet_client: TestClient,
) -> None:
    assert intranet_client.app is not None
    methods = {route.method for route in intranet_client.app.router.routes()}
    assert "OPTIONS" not in methods
    # An OPTIONS that is not a preflight is an ordinary request the router does not know.
    response = await intranet_client.options("/api/v1/teams")
    assert response.status == 405


# --- CSRF -----------------------------------------------------------------------------------


def cookies(csrf: str | None = "csrf-4f1c2d3e5a6b7c8d") -> dict[str, str]:
    jar = "bb_refresh=opaque-refresh-token"
    if csrf is not None:
        jar += f"; bb_csrf={csrf}"
    return {"Cookie": jar}


@pytest.mark.parametrize(
    "headers",
    [
        cookies(),
        {**cookies(), "X-CSRF-Token": "csrf-4f1c2d3e5a6b7c8e"},
        {**cookies(), "X-CSRF-Token": ""},
        {**cookies(csrf=None), "X-CSRF-Token": "csrf-4f1c2d3e5a6b7c8d"},
        {**cookies(csrf=""), "X-CSRF-Token": ""},
    ],
    ids=["no-token", "wrong-token", "empty-token", "no-csrf-cookie", "both-empty"],
)
async def test_a_same_origin_post_with_the_refresh_cookie_needs_the_csrf_token(
    client: TestClient, admin_headers: dict[str, str], headers: dict[str, str]
) -> None:
    response = await client.post(
        "/api/v1/teams",
        json=TEAM,
        headers={**admin_headers, "Origin": origin_of(client), **headers},
    )
    assert response.status == 403
    assert await error_code(response) == "csrf_failed"
    assert_security_headers(response, host_of(client), hsts=False)
    listing = await (await client.get("/api/v1/teams", headers=admin_headers)).json()
    assert listing["items"] == []


async def test_a_same_origin_post_with_the_refresh_cookie_and_the_right_token_succeeds(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    response = await client.post(
        "/api/v1/teams",
        json=TEAM,
        headers={
            **admin_headers,
            "Origin": origin_of(client),
            **cookies(),
            "X-CSRF-Token": "csrf-4f1c2d3e5a6b7c8d",
        },
    )
    assert response.status == 201, await response.text()


@pytest.mark.parametrize("method", UNSAFE)
async def test_every_unsafe_method_with_the_refresh_cookie_needs_the_csrf_token(
    client: TestClient, admin_headers: dict[str, str], method: str
) -> None:
    response = await client.request(
        method, f"/api/v1/teams/{uuid.uuid4()}", json={}, headers={**admin_headers, **cookies()}
    )
    assert response.status == 403
    assert await error_code(response) == "csrf_failed"


async def test_reading_with_the_refresh_cookie_needs_no_csrf_token(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    response = await client.get("/api/v1/teams", headers={**admin_headers, **cookies()})
    assert response.status == 200


async def test_a_bearer_only_post_needs_no_csrf_token(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    response = await client.post(
        "/api/v1/teams", json=TEAM, headers={**admin_headers, "Origin": origin_of(client)}
    )
    assert response.status == 201, await response.text()
    assert client.session.cookie_jar.filter_cookies(client.make_url("/")) == {}
