"""Helpers for tests of identity: staff accounts, TOTP codes and signing in through the API."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

import pyotp
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from beeldbel.api import appkeys
from beeldbel.api.auth import ACCOUNTS, AUTH
from beeldbel.db.repositories.staff import SqlStaffRepository
from beeldbel.db.tables.audit import AuditEntryRow
from beeldbel.identity.model import Role

PASSWORD = "lange-dijk-7-wind"
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


@dataclass(frozen=True, slots=True)
class Staff:
    id: UUID
    subject: str
    username: str
    password: str
    secret: str | None


def app_of(client: TestClient) -> Any:
    assert client.app is not None
    return client.app


def code(client: TestClient, secret: str = SECRET, offset_steps: int = 0) -> str:
    """The TOTP code at the app's clock (``offset_steps`` of 30 s away)."""
    now = app_of(client)[appkeys.CLOCK].now()
    return pyotp.TOTP(secret).at(now, counter_offset=offset_steps)


async def make_staff(
    client: TestClient,
    username: str = "anouk",
    *roles: Role,
    password: str = PASSWORD,
    secret: str | None = SECRET,
    teams: frozenset[UUID] = frozenset(),
) -> Staff:
    """A staff user, with an enabled TOTP factor unless ``secret`` is None."""
    app = app_of(client)
    created = await app[ACCOUNTS].create(
        "test", username, username.title(), frozenset(roles or {Role.WORKER}), teams, password
    )
    user = created.user
    if secret is not None:
        sealed = app[AUTH].factors.seal(user.id, secret)
        async with app[appkeys.DATABASE].transaction() as session:
            await SqlStaffRepository(session).set_factor(user.id, sealed, app[appkeys.CLOCK].now())
    return Staff(user.id, user.subject, user.username, password, secret)


async def post(client: TestClient, path: str, body: dict[str, Any], **headers: str) -> Any:
    """POST JSON, echoing the bb_csrf cookie as X-CSRF-Token like the web page does."""
    csrf = next((c.value for c in client.session.cookie_jar if c.key == "bb_csrf"), None)
    if csrf is not None:
        headers.setdefault("X-CSRF-Token", csrf)
    return await client.post(path, json=body, headers=headers)


async def challenge(client: TestClient, staff: Staff) -> str:
    response = await post(
        client, "/api/v1/auth/sign-in", {"username": staff.username, "password": staff.password}
    )
    assert response.status == 200, await response.text()
    body = await response.json()
    return str(body["challenge"])


async def sign_in(
    client: TestClient, staff: Staff, *, delivery: str = "body", offset_steps: int = 0
) -> dict[str, Any]:
    """Sign in with password and TOTP code; returns the session JSON."""
    assert staff.secret is not None
    response = await post(
        client,
        "/api/v1/auth/second-factor",
        {
            "challenge": await challenge(client, staff),
            "code": code(client, staff.secret, offset_steps),
            "refresh_delivery": delivery,
        },
    )
    assert response.status == 200, await response.text()
    result: dict[str, Any] = await response.json()
    return result


def bearer(session: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {session['access_token']}"}


async def audit_rows(client: TestClient, *events: str) -> list[AuditEntryRow]:
    async with app_of(client)[appkeys.DATABASE].transaction(read_only=True) as session:
        query = select(AuditEntryRow).order_by(AuditEntryRow.id)
        if events:
            query = query.where(AuditEntryRow.event.in_(events))
        return list((await session.scalars(query)).all())
