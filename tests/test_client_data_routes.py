"""Acceptance: every route is declared, and a route touching client data without going
through a grant of the access policy does not answer."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient

from beeldbel.access.ledger import record_grant
from beeldbel.access.model import Action, Basis, Category, Grant
from beeldbel.api.routing import OPERATION, Call, DataClass, Operation, Reply, register
from beeldbel.api.schemas import Response
from beeldbel.app import OPERATIONS, create_app
from beeldbel.identity.model import Role
from beeldbel.settings import Settings
from tests.conftest import auth, token_for


class Secret(Response):
    diagnosis: str


async def leaky(call: Call) -> Reply:
    return Reply(Secret(diagnosis="would leak without an audit entry"))


async def granted(call: Call) -> Reply:
    record_grant(
        Grant(
            call.who().subject,
            uuid.uuid4(),
            Category.CARE_FILE,
            frozenset({Action.READ}),
            Basis.CARE_TEAM,
            datetime.now(UTC),
        )
    )
    return Reply(Secret(diagnosis="read through a grant"))


def client_op(path: str, handler: Any) -> Operation:
    return Operation(
        "GET",
        path,
        handler,
        path.strip("/").replace("/", "_"),
        "test",
        "test",
        DataClass.CLIENT,
        response=Secret,
        roles=frozenset({Role.WORKER}),
    )


async def test_a_client_data_route_that_skips_the_grant_does_not_answer(
    aiohttp_client: Any, settings: Settings
) -> None:
    app = create_app(settings)
    register(app, [client_op("/test-only/leaky", leaky), client_op("/test-only/granted", granted)])
    client: TestClient = await aiohttp_client(app)
    headers = auth(token_for(client, Role.WORKER))
    leaked = await client.get("/test-only/leaky", headers=headers)
    assert leaked.status == 500
    body = await leaked.text()
    assert "would leak" not in body
    ok = await client.get("/test-only/granted", headers=headers)
    assert ok.status == 200
    assert (await ok.json())["diagnosis"] == "read through a grant"


def test_every_route_of_the_app_is_a_declared_operation_with_a_data_class() -> None:
    app = create_app_for_listing()
    declared = {(op.method, op.template): op for op in app[OPERATION]}
    routes = {(r.method, r.resource.canonical) for r in app.router.routes() if r.resource}
    assert routes == set(declared)
    for op in declared.values():
        assert isinstance(op.data, DataClass)
    assert {op.operation_id for op in OPERATIONS} == {op.operation_id for op in declared.values()}


def create_app_for_listing() -> web.Application:
    import tempfile

    from beeldbel.settings import load_settings

    with tempfile.TemporaryDirectory() as tmp:
        return create_app(load_settings(data_dir=tmp))
