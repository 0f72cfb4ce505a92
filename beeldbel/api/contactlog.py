"""/api/v1/clients/{client_id}/contacts: the contact log of a client, newest first.

Every call, visit and case-meeting item is filed here from its event; nobody types them. It is
the care file: the care team (and a colleague covering or on emergency access) reads it; a
coordinator does not. Each read is audited with the grant's basis.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from aiohttp import web
from pydantic import Field

from beeldbel.api import appkeys
from beeldbel.api.clients import ACCESS
from beeldbel.api.routing import Call, CleanupContext, DataClass, Operation, Reply
from beeldbel.api.schemas import Request, Response
from beeldbel.contactlog.model import ContactEntry
from beeldbel.contactlog.service import ContactLogService
from beeldbel.identity.model import Role

__all__ = ["CONTACT_LOG", "CONTEXTS", "OPERATIONS"]

CONTACT_LOG = web.AppKey("contact_log", ContactLogService)


async def _contact_log(app: web.Application) -> AsyncIterator[None]:
    app[CONTACT_LOG] = ContactLogService(app[appkeys.CLOCK], app[ACCESS])
    yield


CONTEXTS: tuple[CleanupContext, ...] = (_contact_log,)


class ClientPath(Request):
    client_id: UUID


class ContactsQuery(Request):
    limit: Annotated[int, Field(ge=1, le=200)] = 50


class PersonOut(Response):
    role: Literal["worker", "client", "guest"]
    took_part: bool
    joined_at: datetime | None
    left_at: datetime | None
    opened_link: bool = Field(description="A client or guest opened their invitation link.")
    subject: str | None
    name: str | None = Field(default=None, description="A worker's display name.")


class DirectionOut(Response):
    role: str = Field(description="Whose sending: worker, client or guest.")
    modes: list[Literal["hd", "sd", "low", "stills", "audio"]] = Field(
        description="The modes it went through, in order."
    )
    lowest: Literal["hd", "sd", "low", "stills", "audio"]


class QualityOut(Response):
    directions: list[DirectionOut]
    phone_recommended: bool = Field(description="Even audio failed: phoning was advised.")
    phoned: bool = Field(description="The worker took the advice and phoned the client.")


class ContactOut(Response):
    id: UUID
    kind: Literal["call", "not_joined", "visit", "nobody_home", "case_meeting"]
    appointment_id: UUID | None
    occurred_at: datetime
    duration_s: int
    people: list[PersonOut]
    media_path: Literal["direct", "relay"] | None
    reconnects: int
    ended_because: str | None
    topic: str | None
    quality: QualityOut | None = Field(
        default=None, description="The fallback ladder: the modes each direction went through."
    )

    @classmethod
    def of(cls, e: ContactEntry, names: Mapping[str, str] | None = None) -> ContactOut:
        return cls.model_validate(
            {
                "id": e.id,
                "kind": e.kind.value,
                "appointment_id": e.appointment_id,
                "occurred_at": e.occurred_at,
                "duration_s": int(e.duration.total_seconds()),
                "people": [
                    {
                        "role": p.role,
                        "took_part": p.took_part,
                        "joined_at": p.joined_at,
                        "left_at": p.left_at,
                        "opened_link": p.opened_link,
                        "subject": p.subject,
                        "name": (names or {}).get(p.subject) if p.subject else None,
                    }
                    for p in e.people
                ],
                "media_path": e.media_path,
                "reconnects": e.reconnects,
                "ended_because": e.ended_because,
                "topic": e.topic,
                "quality": e.quality.as_json() if e.quality else None,
            }
        )


class ContactsOut(Response):
    items: list[ContactOut]


async def list_contacts(call: Call) -> Reply:
    found = await call.app[CONTACT_LOG].of_client(
        call.who(), call.path_as(ClientPath).client_id, call.query_as(ContactsQuery).limit
    )
    entries, names = found.value
    return Reply(ContactsOut(items=[ContactOut.of(e, names) for e in entries]))


OPERATIONS = (
    Operation(
        "GET",
        "/api/v1/clients/{client_id}/contacts",
        list_contacts,
        "listContacts",
        "The client's contact log, newest first",
        "clients",
        DataClass.CLIENT,
        response=ContactsOut,
        path_params=ClientPath,
        query=ContactsQuery,
        roles=frozenset({Role.WORKER, Role.COORDINATOR}),
        description="Calls, calls not joined (with whether the link was opened), visits and "
        "case-meeting items, filed from their events, once each.",
    ),
)
