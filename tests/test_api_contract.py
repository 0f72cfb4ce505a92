"""Acceptance: the routes and the OpenAPI operations match exactly, and every operation
answers bad input with a 4xx in the one error shape.

The walk is driven by the OpenAPI document itself, so an operation added later is
walked without anyone writing a test for it.
"""

from __future__ import annotations

import copy
import io
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from openapi_schema_validator import OAS31Validator
from openapi_spec_validator import validate as validate_spec

from beeldbel.identity.model import Role
from beeldbel.settings import Settings, load_settings
from tests.conftest import auth, token_for

METHODS_WITH_BODY = {"post", "put", "patch"}


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    """The walk sends hundreds of requests from one address and one principal; the rate
    limits have their own tests (test_ratelimit.py) and must not cut the walk short."""
    return load_settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        log_format="console",
        rate_limit_per_address=1_000_000,
        rate_limit_per_principal=1_000_000,
    )


async def openapi(client: TestClient) -> dict[str, Any]:
    response = await client.get("/api/openapi.json")
    assert response.status == 200
    return await response.json()


def operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, op) for path, item in doc["paths"].items() for method, op in item.items()
    ]


def resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def example(doc: dict[str, Any], schema: dict[str, Any]) -> Any:
    """A value the schema accepts (enough of JSON Schema for our request models)."""
    schema = resolve(doc, schema)
    if "anyOf" in schema:
        return example(doc, next(s for s in schema["anyOf"] if s.get("type") != "null"))
    kind = schema.get("type")
    if kind == "object":
        return {
            name: example(doc, prop)
            for name, prop in schema.get("properties", {}).items()
            if name in schema.get("required", [])
        }
    if kind == "array":
        return [example(doc, schema["items"])] * max(1, schema.get("minItems", 1))
    if kind == "integer":
        return schema.get("minimum", 1)
    if kind == "number":
        return schema.get("minimum", 1.5)
    if kind == "boolean":
        return True
    if kind == "string":
        if schema.get("format") == "uuid":
            return str(uuid.uuid4())
        if schema.get("format") == "date-time":
            return "2026-11-30T09:00:00Z"
        return "x" * max(1, schema.get("minLength", 1))
    raise AssertionError(f"example() does not know {schema}")


def wrong_type(doc: dict[str, Any], schema: dict[str, Any]) -> Any:
    schema = resolve(doc, schema)
    kinds = {schema.get("type")} | {s.get("type") for s in schema.get("anyOf", [])}
    if "string" in kinds:
        return 12345
    if kinds & {"integer", "number"}:
        return "12"  # strict: a numeric string is not a number
    if "array" in kinds:
        return "not a list"
    if "boolean" in kinds:
        return "yes"
    return [1, 2]


def assert_error_shape(body: Any) -> None:
    assert set(body) == {"error"}, body
    error = body["error"]
    assert set(error) == {"code", "message", "details"}, error
    assert isinstance(error["code"], str)
    assert error["code"]
    assert isinstance(error["message"], str)
    assert error["message"]
    assert isinstance(error["details"], dict)
    assert "Traceback" not in json.dumps(body)


async def test_openapi_document_is_valid_3_1(client: TestClient) -> None:
    doc = await openapi(client)
    assert doc["openapi"] == "3.1.0"
    validate_spec(doc)


async def test_routes_and_openapi_operations_match_exactly(client: TestClient) -> None:
    doc = await openapi(client)
    assert client.app is not None
    routed = {
        (route.method.lower(), route.resource.canonical)
        for route in client.app.router.routes()
        if route.resource is not None
    }
    documented = {(method, path) for method, path, _ in operations(doc)}
    assert routed == documented
    assert len(documented) >= 8


async def test_every_operation_declares_the_data_it_touches(client: TestClient) -> None:
    doc = await openapi(client)
    for method, path, op in operations(doc):
        assert op["x-data-class"] in {"none", "operational", "organisation", "client"}, (
            method,
            path,
        )


class Walker:
    """Sends one kind of bad request to one operation and checks the answer."""

    def __init__(self, client: TestClient, doc: dict[str, Any], token: str) -> None:
        self.client = client
        self.doc = doc
        self.headers = auth(token)
        self.seen = 0

    def url(self, path: str, op: dict[str, Any]) -> str:
        for parameter in op.get("parameters", []):
            if parameter["in"] == "path":
                path = path.replace("{" + parameter["name"] + "}", str(uuid.uuid4()))
        return path

    async def expect(
        self, method: str, path: str, op: dict[str, Any], status: int, **kwargs: Any
    ) -> None:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        response = await self.client.request(
            method.upper(), self.url(path, op), headers=headers, **kwargs
        )
        body = await response.json()
        what = f"{method.upper()} {path} {kwargs}"
        assert response.status == status, (what, response.status, body)
        assert_error_shape(body)
        assert str(status) in op["responses"], f"{what}: {status} is not documented"
        self.seen += 1


@pytest.fixture
async def walker(client: TestClient) -> Walker:
    every_role = token_for(client, *Role, subject="staff:walker")
    return Walker(client, await openapi(client), every_role)


async def test_every_operation_refuses_bad_bodies_with_the_error_shape(walker: Walker) -> None:
    doc = walker.doc
    walked = 0
    for method, path, op in operations(doc):
        if method not in METHODS_WITH_BODY or "requestBody" not in op:
            continue
        walked += 1
        schema = resolve(doc, op["requestBody"]["content"]["application/json"]["schema"])
        valid = example(doc, schema)
        await walker.expect(
            method, path, op, 400, data=b'{"name": ', headers={"Content-Type": "application/json"}
        )
        await walker.expect(
            method, path, op, 415, data=json.dumps(valid), headers={"Content-Type": "text/plain"}
        )
        await walker.expect(method, path, op, 422, json=[valid])
        await walker.expect(method, path, op, 422, json={**valid, "zz_unknown": 1})
        for name, prop in schema["properties"].items():
            await walker.expect(method, path, op, 422, json={**valid, name: wrong_type(doc, prop)})
        for name in schema.get("required", []):
            missing = copy.deepcopy(valid)
            del missing[name]
            await walker.expect(method, path, op, 422, json=missing)
        oversized = json.dumps({**valid, "padding": "x" * (1024 * 1024)}).encode()
        as_json = {"Content-Type": "application/json"}
        await walker.expect(method, path, op, 413, data=io.BytesIO(oversized), headers=as_json)

        async def chunks(data: bytes = oversized) -> AsyncIterator[bytes]:
            for start in range(0, len(data), 16 * 1024):
                yield data[start : start + 16 * 1024]

        # Without Content-Length (chunked) the limit holds as well.
        await walker.expect(method, path, op, 413, data=chunks(), headers=as_json)
    assert walked >= 2


async def test_every_operation_refuses_bad_query_parameters(walker: Walker) -> None:
    for method, path, op in operations(walker.doc):
        if method in METHODS_WITH_BODY:
            continue
        await walker.expect(method, path, op, 422, params={"zz_unknown": "1"})
        for parameter in op.get("parameters", []):
            if parameter["in"] != "query":
                continue
            await walker.expect(
                method, path, op, 422, params=[(parameter["name"], "1"), (parameter["name"], "2")]
            )
            kinds = {parameter["schema"].get("type")} | {
                s.get("type") for s in parameter["schema"].get("anyOf", [])
            }
            if kinds & {"integer", "number"}:
                await walker.expect(method, path, op, 422, params={parameter["name"]: "many"})
                await walker.expect(method, path, op, 422, params={parameter["name"]: "-5"})


async def test_every_protected_operation_needs_a_valid_token(walker: Walker) -> None:
    protected = 0
    for method, path, op in operations(walker.doc):
        if not op["security"]:
            continue
        protected += 1
        for headers in (
            {"Authorization": ""},
            {"Authorization": "Bearer nonsense"},
            {"Authorization": "Basic dXNlcjpwYXNz"},
        ):
            await walker.expect(method, path, op, 401, headers=headers)
    assert protected >= 4


async def test_unknown_routes_and_methods_answer_in_the_error_shape(client: TestClient) -> None:
    response = await client.get("/api/v1/does-not-exist")
    assert response.status == 404
    assert_error_shape(await response.json())
    response = await client.delete("/api/v1/teams")
    assert response.status == 405
    assert set(response.headers["Allow"].split(", ")) == {"GET", "POST"}
    assert_error_shape(await response.json())


async def test_successful_answers_match_their_documented_schema(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    doc = await openapi(client)

    def check(instance: Any, path: str, method: str, status: int) -> None:
        content = doc["paths"][path][method]["responses"][str(status)]["content"]
        schema = content["application/json"]["schema"]
        OAS31Validator({**schema, "components": doc["components"]}).validate(instance)

    created = await client.post(
        "/api/v1/teams",
        json={"name": "Wijkteam Wierden", "municipalities": ["Wierden"]},
        headers=admin_headers,
    )
    assert created.status == 201
    team = await created.json()
    check(team, "/api/v1/teams", "post", 201)
    listing = await (await client.get("/api/v1/teams", headers=admin_headers)).json()
    check(listing, "/api/v1/teams", "get", 200)
    one = await (await client.get(f"/api/v1/teams/{team['id']}", headers=admin_headers)).json()
    check(one, "/api/v1/teams/{team_id}", "get", 200)
    try:
        check({"id": "nope"}, "/api/v1/teams/{team_id}", "get", 200)
    except Exception:
        pass
    else:
        raise AssertionError("the schema check accepted an invalid team")
