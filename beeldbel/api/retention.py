"""Retention: the closed files past their retention period, and deleting one.

The retention job (``report_retention``, daily) counts them in ``/metrics`` and the log.
``GET /api/v1/retention/due`` lists them for the privacy officer (legal basis, closed date,
until when it was kept; no names or content), and ``DELETE /api/v1/clients/{client_id}``
deletes one whole file, only when it is due, audited.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from uuid import UUID

from aiohttp import web

from beeldbel.api import appkeys
from beeldbel.api.clients import ACCESS
from beeldbel.api.routing import Call, CleanupContext, DataClass, Operation, Reply
from beeldbel.api.schemas import Request, Response
from beeldbel.clientfile.model import LegalBasis
from beeldbel.identity.model import Role
from beeldbel.retention.model import Due, parse_periods
from beeldbel.retention.service import RetentionService

__all__ = ["CONTEXTS", "OPERATIONS", "REPORT_EVERY_SECONDS", "RETENTION"]

RETENTION = web.AppKey("retention", RetentionService)
REPORT_EVERY_SECONDS = 24 * 3600.0


async def _retention(app: web.Application) -> AsyncIterator[None]:
    settings = app[appkeys.SETTINGS]
    service = RetentionService(
        app[appkeys.DATABASE],
        app[appkeys.CLOCK],
        app[ACCESS],
        parse_periods(settings.retention_years),
        app[appkeys.REGISTRY],
    )
    app[RETENTION] = service
    app[appkeys.TASKS].every("report_retention", REPORT_EVERY_SECONDS, service.report)
    yield


CONTEXTS: tuple[CleanupContext, ...] = (_retention,)


class ClientPath(Request):
    client_id: UUID


class DueOut(Response):
    client_id: UUID
    team_id: UUID
    legal_basis: LegalBasis
    closed_at: datetime
    retain_until: datetime

    @classmethod
    def of(cls, d: Due) -> DueOut:
        return cls(
            client_id=d.client_id,
            team_id=d.team_id,
            legal_basis=d.legal_basis,
            closed_at=d.closed_at,
            retain_until=d.retain_until,
        )


class DueListOut(Response):
    items: list[DueOut]
    periods: dict[LegalBasis, int]


async def list_due(call: Call) -> Reply:
    service = call.app[RETENTION]
    found = await service.due(call.who())
    return Reply(
        DueListOut(items=[DueOut.of(d) for d in found.items], periods=dict(service.periods))
    )


async def delete_client(call: Call) -> Reply:
    await call.app[RETENTION].delete(call.who(), call.path_as(ClientPath).client_id)
    return Reply(None, status=204)


PRIVACY = frozenset({Role.PRIVACY_OFFICER})

OPERATIONS = (
    Operation(
        "GET",
        "/api/v1/retention/due",
        list_due,
        "listFilesPastRetention",
        "Closed files whose retention period has passed",
        "retention",
        DataClass.CLIENT,
        response=DueListOut,
        roles=PRIVACY,
        description="For the privacy officer: which files may now be deleted, with their "
        "legal basis and dates (no names, no content). Each listed file is audited.",
    ),
    Operation(
        "DELETE",
        "/api/v1/clients/{client_id}",
        delete_client,
        "deleteClientFile",
        "Delete a closed file whose retention period has passed",
        "retention",
        DataClass.CLIENT,
        status=204,
        path_params=ClientPath,
        roles=PRIVACY,
        errors=(404, 409),
        description="Deletes the whole file (record, network, consent, notes, contacts and "
        "the client's appointments). 409 while the file is open or still kept. Audited.",
    ),
)
