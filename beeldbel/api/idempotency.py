"""``Idempotency-Key`` for POST and PATCH: a retry gets the first answer, not a second resource.

Rural links lose answers: the client retries with the same key and must not create
a second appointment. Keys are remembered per principal in the database, so every
API process sees them.

- The first request with a key claims it (an INSERT that only one request can win),
  runs, and stores its answer (any status below 500).
- The same key with the same method, path and body replays the stored answer, with
  ``Idempotent-Replayed: true``.
- The same key with a different request is refused with 422.
- While the first request still runs, a second gets 409 with ``Retry-After``.
- A 5xx or a crash releases the key, so the retry runs again. A claim left behind by
  a process that died is taken over once ``CLAIM_SECONDS`` have passed.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from aiohttp import web
from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from beeldbel.api import appkeys
from beeldbel.api.errors import EdgeError, response_for_error
from beeldbel.db.engine import Database
from beeldbel.db.tables import IdempotencyKeyRow
from beeldbel.errors import BeeldbelError

__all__ = ["prune_expired", "run_idempotent"]

CLAIM_SECONDS = 60
KEY_PATTERN = re.compile(r"^[\x21-\x7e]{1,255}$")


def _fingerprint(request: web.Request, body: bytes) -> str:
    digest = hashlib.sha256()
    digest.update(f"{request.method} {request.rel_url.path}\n".encode())
    digest.update(body)
    return digest.hexdigest()


async def _claim(
    db: Database, owner: str, key: str, fingerprint: str, now: datetime, keep: timedelta
) -> IdempotencyKeyRow | None:
    """Claim the key; None if we now own it, else the row that someone else holds."""
    values = {
        "principal": owner,
        "key": key,
        "fingerprint": fingerprint,
        "locked_until": now + timedelta(seconds=CLAIM_SECONDS),
        "created_at": now,
        "expires_at": now + keep,
    }
    insert = pg_insert if db.dialect == "postgresql" else sqlite_insert
    async with db.transaction() as session:
        # An expired row is gone before we try, so an old key can be used afresh.
        await session.execute(
            delete(IdempotencyKeyRow).where(
                IdempotencyKeyRow.principal == owner,
                IdempotencyKeyRow.key == key,
                IdempotencyKeyRow.expires_at <= now,
            )
        )
        result = await session.execute(
            insert(IdempotencyKeyRow).values(**values).on_conflict_do_nothing()
        )
        if result.rowcount == 1:  # type: ignore[attr-defined]
            return None
        row = await session.scalar(
            select(IdempotencyKeyRow).where(
                IdempotencyKeyRow.principal == owner, IdempotencyKeyRow.key == key
            )
        )
        assert row is not None
        stale_claim = (
            row.status is None
            and row.fingerprint == fingerprint
            and row.locked_until is not None
            and row.locked_until <= now
        )
        if stale_claim:
            # The process that claimed it died; take over (only one taker wins).
            taken = await session.execute(
                update(IdempotencyKeyRow)
                .where(
                    IdempotencyKeyRow.principal == owner,
                    IdempotencyKeyRow.key == key,
                    IdempotencyKeyRow.locked_until == row.locked_until,
                )
                .values(locked_until=now + timedelta(seconds=CLAIM_SECONDS))
            )
            if taken.rowcount == 1:  # type: ignore[attr-defined]
                return None
        return row


async def _store(
    db: Database, owner: str, key: str, response: web.Response, clients: list[list[str]] | None
) -> None:
    async with db.transaction() as session:
        await session.execute(
            update(IdempotencyKeyRow)
            .where(
                IdempotencyKeyRow.principal == owner,
                IdempotencyKeyRow.key == key,
            )
            .values(
                status=response.status,
                content_type=response.content_type,
                body=bytes(response.body) if isinstance(response.body, (bytes, bytearray)) else b"",
                location=response.headers.get("Location"),
                clients=clients,
                locked_until=None,
            )
        )


async def _release(db: Database, owner: str, key: str) -> None:
    async with db.transaction() as session:
        await session.execute(
            delete(IdempotencyKeyRow).where(
                IdempotencyKeyRow.principal == owner, IdempotencyKeyRow.key == key
            )
        )


def _replay(row: IdempotencyKeyRow) -> web.Response:
    assert row.status is not None
    headers = {"Idempotent-Replayed": "true"}
    if row.location:
        headers["Location"] = row.location
    return web.Response(
        status=row.status,
        body=row.body or b"",
        content_type=row.content_type or "application/json",
        headers=headers,
    )


async def run_idempotent(
    request: web.Request,
    owner: str,
    key: str,
    body: bytes,
    run: Callable[[], Awaitable[web.StreamResponse]],
    *,
    touched: Callable[[], list[list[str]]] | None = None,
    before_replay: Callable[[list[list[str]]], Awaitable[None]] | None = None,
) -> web.StreamResponse:
    """Run ``run`` once per key; replay its answer to retries.

    ``touched`` names the clients whose data the first answer carried (client id and
    category); they are stored with it, and ``before_replay`` gets them before every
    replay, to authorize and audit the disclosure again (NEN 7513: a replay shows client
    data again, and access may have ended since).
    """
    if not KEY_PATTERN.fullmatch(key):
        raise EdgeError(
            400, "bad_idempotency_key", "Idempotency-Key must be 1 to 255 visible ASCII characters"
        )
    app = request.app
    db = app[appkeys.DATABASE]
    now = app[appkeys.CLOCK].now()
    keep = timedelta(hours=app[appkeys.SETTINGS].idempotency_hours)
    fingerprint = _fingerprint(request, body)
    held = await _claim(db, owner, key, fingerprint, now, keep)
    if held is not None:
        if held.fingerprint != fingerprint:
            raise EdgeError(
                422,
                "idempotency_key_reused",
                "this Idempotency-Key was used for a different request",
            )
        if held.status is None:
            raise EdgeError(
                409,
                "idempotency_in_progress",
                "a request with this Idempotency-Key is still being handled",
                headers={"Retry-After": "1"},
            )
        if before_replay is not None:
            await before_replay(held.clients or [])
        return _replay(held)
    try:
        try:
            response = await run()
        except BeeldbelError as error:
            response = response_for_error(error)
    except BaseException:
        await _release(db, owner, key)
        raise
    if response.status >= 500 or not isinstance(response, web.Response):
        await _release(db, owner, key)
    else:
        await _store(db, owner, key, response, touched() if touched is not None else None)
    return response


async def prune_expired(db: Database, now: datetime) -> int:
    """Forget keys past their time; returns how many."""
    async with db.transaction() as session:
        result = await session.execute(
            delete(IdempotencyKeyRow).where(IdempotencyKeyRow.expires_at <= now)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]
