"""Notes, reports and the timeline of a client's file.

- ``/api/v1/clients/{client_id}/notes``: write a report (from an appointment or a contact) or
  a note, shared with the client or for professionals only, with the effectenster inside it.
- ``.../notes/{note_id}``: read one, change it on the version you read (409
  ``edit_conflict`` with both versions and a proposed merge if a colleague saved first).
- ``.../notes/{note_id}/history``: every version, who made it and when.
- ``/api/v1/clients/{client_id}/timeline``: contacts, notes, planned or cancelled
  appointments and consent changes, newest first, by kind and period, with the run of
  unanswered attempts ("3 pogingen, niet bereikt").

All of it is the care file: the care team, a colleague covering (handover) and, for reading,
a colleague on emergency access. Each request is granted by the access policy and audited.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from aiohttp import web
from pydantic import Field

from beeldbel.access.model import Grant
from beeldbel.api import appkeys
from beeldbel.api.clients import ACCESS, AccessOut, ConsentRecordOut
from beeldbel.api.contactlog import ContactOut
from beeldbel.api.routing import Call, CleanupContext, DataClass, Operation, Reply
from beeldbel.api.schemas import Request, Response
from beeldbel.clientfile.model import ConsentRecord
from beeldbel.contactlog.model import ContactEntry
from beeldbel.db.repositories.notes import AppointmentSummary
from beeldbel.identity.model import Role
from beeldbel.notes.model import (
    MAX_TEXT,
    Domain,
    Edit,
    Note,
    NoteContent,
    NoteVersion,
    Scores,
    Visibility,
    scores_of,
)
from beeldbel.notes.service import NamedConflict, NoteService
from beeldbel.pagination import Cursor
from beeldbel.timeline.model import Filter, parse_kinds
from beeldbel.timeline.service import TimelineService

__all__ = ["CONTEXTS", "NOTES", "OPERATIONS", "TIMELINE"]

NOTES = web.AppKey("notes", NoteService)
TIMELINE = web.AppKey("timeline", TimelineService)


async def _services(app: web.Application) -> AsyncIterator[None]:
    app[NOTES] = NoteService(app[appkeys.CLOCK], app[ACCESS])
    app[TIMELINE] = TimelineService(app[appkeys.CLOCK], app[ACCESS])
    yield


CONTEXTS: tuple[CleanupContext, ...] = (_services,)

CARE = frozenset({Role.WORKER, Role.COORDINATOR})
ONE = "/api/v1/clients/{client_id}"

Text = Annotated[str, Field(min_length=1, max_length=MAX_TEXT)]
Score = Annotated[int, Field(ge=1, le=10)]
DomainName = Literal[
    "motivation",
    "self_care",
    "money",
    "social_network",
    "substance_use",
    "physical_health",
    "mental_health",
    "daily_activities",
    "housing",
    "offending",
]
assert set(DomainName.__args__) == {d.value for d in Domain}  # type: ignore[attr-defined]
Effectenster = Annotated[
    dict[DomainName, Score],
    Field(
        min_length=1,
        description="Effectenster (outcome star) scores, 1 to 10, per life domain filled in.",
    ),
]


# --- requests ---------------------------------------------------------------------------------


class ClientPath(Request):
    client_id: UUID


class NotePath(Request):
    client_id: UUID
    note_id: UUID


class NoteIn(Request):
    visibility: Visibility = Field(
        description="shared: the client may read it (later, in the portal); "
        "professional: the care team only."
    )
    text: Text
    appointment_id: UUID | None = Field(default=None, description="The report of this appointment.")
    contact_id: UUID | None = Field(default=None, description="The report of this contact.")
    effectenster: Effectenster | None = None


class NotePatch(Request):
    version: Annotated[int, Field(ge=1, description="The version you edited.")]
    text: Text | None = None
    visibility: Visibility | None = None
    effectenster: Effectenster | None = Field(
        default=None, description="New scores; send null to remove the star from the note."
    )


class TimelineQuery(Request):
    kinds: Annotated[
        str | None,
        Field(
            max_length=100,
            description="Comma-separated: contact, note, appointment, consent (default all).",
        ),
    ] = None
    since: datetime | None = Field(default=None, description="From this moment (inclusive).")
    until: datetime | None = Field(default=None, description="Up to this moment (exclusive).")
    limit: Annotated[int, Field(ge=1, le=200)] = 50
    cursor: Annotated[str | None, Field(max_length=500)] = None


# --- answers ----------------------------------------------------------------------------------


def _scores_out(scores: Scores | None) -> dict[str, int] | None:
    return None if scores is None else {d.value: s for d, s in scores}


class NoteOut(Response):
    id: UUID
    client_id: UUID
    visibility: Visibility
    text: str
    effectenster: dict[str, int] | None
    appointment_id: UUID | None
    contact_id: UUID | None
    version: int
    created_by: str
    created_by_name: str | None
    created_at: datetime
    updated_by: str
    updated_by_name: str | None
    updated_at: datetime
    access: AccessOut

    @classmethod
    def of(cls, note: Note, grant: Grant, names: dict[str, str]) -> NoteOut:
        return cls(
            id=note.id,
            client_id=note.client_id,
            visibility=note.content.visibility,
            text=note.content.text,
            effectenster=_scores_out(note.content.scores),
            appointment_id=note.appointment_id,
            contact_id=note.contact_id,
            version=note.version,
            created_by=note.created_by,
            created_by_name=names.get(note.created_by),
            created_at=note.created_at,
            updated_by=note.updated_by,
            updated_by_name=names.get(note.updated_by),
            updated_at=note.updated_at,
            access=AccessOut.of(grant),
        )


class VersionOut(Response):
    version: int
    text: str
    visibility: Visibility
    effectenster: dict[str, int] | None
    changed_by: str
    changed_by_name: str | None
    changed_at: datetime

    @classmethod
    def of(cls, v: NoteVersion, names: dict[str, str]) -> VersionOut:
        return cls(
            version=v.version,
            text=v.content.text,
            visibility=v.content.visibility,
            effectenster=_scores_out(v.content.scores),
            changed_by=v.changed_by,
            changed_by_name=names.get(v.changed_by),
            changed_at=v.changed_at,
        )


class HistoryOut(Response):
    items: list[VersionOut]


class TimelineContactOut(ContactOut):
    attempt: int | None = Field(description="Its number in the current run of unanswered attempts.")
    attempts: int | None = Field(description="How many unanswered attempts the run has.")


class TimelineAppointmentOut(Response):
    id: UUID
    kind: Literal["checkin", "visit", "case_meeting"]
    status: Literal["planned", "lobby_open", "in_progress", "cancelled"]
    starts_at: datetime
    ends_at: datetime
    title: str | None


class ItemOut(Response):
    kind: Literal["contact", "note", "appointment", "consent"]
    at: datetime
    id: UUID
    contact: TimelineContactOut | None = None
    note: NoteOut | None = None
    appointment: TimelineAppointmentOut | None = None
    consent: ConsentRecordOut | None = None


class UnreachedOut(Response):
    attempts: int
    since: datetime
    last_at: datetime


class TimelineOut(Response):
    items: list[ItemOut]
    next_cursor: str | None
    unreached: UnreachedOut | None = Field(
        description="The run of calls not joined and visits that found nobody home since the "
        "client was last reached; null if there is none."
    )
    access: AccessOut


def _content_out(content: NoteContent) -> dict[str, Any]:
    return {
        "text": content.text,
        "visibility": content.visibility.value,
        "effectenster": _scores_out(content.scores),
    }


# --- handlers ---------------------------------------------------------------------------------


def _scores_in(values: dict[DomainName, int] | None) -> Scores | None:
    return scores_of({str(k): v for k, v in values.items()} if values is not None else None)


async def create_note(call: Call) -> Reply:
    body = call.body_as(NoteIn)
    note, found = await call.app[NOTES].create(
        call.who(),
        call.path_as(ClientPath).client_id,
        text=body.text,
        visibility=body.visibility,
        scores=_scores_in(body.effectenster),
        appointment_id=body.appointment_id,
        contact_id=body.contact_id,
    )
    return Reply(NoteOut.of(note, found.grant, found.names), status=201)


async def get_note(call: Call) -> Reply:
    path = call.path_as(NotePath)
    note, found = await call.app[NOTES].get(call.who(), path.client_id, path.note_id)
    return Reply(NoteOut.of(note, found.grant, found.names))


async def patch_note(call: Call) -> Reply:
    path, body = call.path_as(NotePath), call.body_as(NotePatch)
    clear = "effectenster" in body.model_fields_set and body.effectenster is None
    edit = Edit(
        base_version=body.version,
        text=body.text,
        visibility=body.visibility,
        scores=None if clear else _scores_in(body.effectenster),
        clear_scores=clear,
    )
    try:
        note, found = await call.app[NOTES].change(call.who(), path.client_id, path.note_id, edit)
    except NamedConflict as conflict:
        conflict.details = {
            "current": NoteOut.of(conflict.current, conflict.grant, conflict.names).model_dump(
                mode="json"
            ),
            "yours": _content_out(conflict.yours),
            "base": {"version": conflict.base.version, **_content_out(conflict.base.content)},
            "merged": {
                **_content_out(conflict.merged.content),
                "clean": conflict.merged.clean,
                "clashes": [
                    {"theirs": theirs, "yours": yours} for theirs, yours in conflict.merged.clashes
                ],
            },
        }
        raise
    return Reply(NoteOut.of(note, found.grant, found.names))


async def note_history(call: Call) -> Reply:
    path = call.path_as(NotePath)
    versions, found = await call.app[NOTES].history(call.who(), path.client_id, path.note_id)
    return Reply(HistoryOut(items=[VersionOut.of(v, found.names) for v in versions]))


def _item(kind: str, at: datetime, id_: UUID, value: object, timeline: Any) -> ItemOut:
    if isinstance(value, ContactEntry):
        attempt, of = timeline.attempts.get(value.id, (None, None))
        contact = TimelineContactOut.model_validate(
            {
                **ContactOut.of(value, timeline.names).model_dump(),
                "attempt": attempt,
                "attempts": of,
            }
        )
        return ItemOut(kind="contact", at=at, id=id_, contact=contact)
    if isinstance(value, Note):
        return ItemOut(
            kind="note", at=at, id=id_, note=NoteOut.of(value, timeline.grant, timeline.names)
        )
    if isinstance(value, AppointmentSummary):
        appointment = TimelineAppointmentOut.model_validate(
            {
                "id": value.id,
                "kind": value.kind,
                "status": value.status,
                "starts_at": value.starts_at,
                "ends_at": value.ends_at,
                "title": value.title,
            }
        )
        return ItemOut(kind="appointment", at=at, id=id_, appointment=appointment)
    assert isinstance(value, ConsentRecord)
    return ItemOut(
        kind="consent", at=at, id=id_, consent=ConsentRecordOut.of(value, timeline.names)
    )


async def get_timeline(call: Call) -> Reply:
    query = call.query_as(TimelineQuery)
    f = Filter(
        kinds=parse_kinds(query.kinds),
        since=query.since,
        until=query.until,
        before=Cursor.decode(query.cursor) if query.cursor else None,
        limit=query.limit,
    )
    timeline = await call.app[TIMELINE].of_client(call.who(), call.path_as(ClientPath).client_id, f)
    run = timeline.unreached
    return Reply(
        TimelineOut(
            items=[_item(i.kind, i.at, i.id, i.value, timeline) for i in timeline.items],
            next_cursor=timeline.next_cursor.encode() if timeline.next_cursor else None,
            unreached=UnreachedOut(attempts=run.attempts, since=run.since, last_at=run.last_at)
            if run
            else None,
            access=AccessOut.of(timeline.grant),
        )
    )


OPERATIONS = (
    Operation(
        "POST",
        f"{ONE}/notes",
        create_note,
        "createNote",
        "Write a report or note in the client's file",
        "clients",
        DataClass.CLIENT,
        response=NoteOut,
        status=201,
        body=NoteIn,
        path_params=ClientPath,
        roles=CARE,
        errors=(404, 409),
        description="From an appointment (appointment_id) or a contact (contact_id), or on its "
        "own. Shared notes may later be read by the client; professional notes never.",
    ),
    Operation(
        "GET",
        f"{ONE}/notes/{{note_id}}",
        get_note,
        "getNote",
        "One note",
        "clients",
        DataClass.CLIENT,
        response=NoteOut,
        path_params=NotePath,
        roles=CARE,
        errors=(404,),
    ),
    Operation(
        "PATCH",
        f"{ONE}/notes/{{note_id}}",
        patch_note,
        "changeNote",
        "Change a note on the version you read",
        "clients",
        DataClass.CLIENT,
        response=NoteOut,
        body=NotePatch,
        path_params=NotePath,
        roles=CARE,
        errors=(404, 409),
        description="409 edit_conflict if a colleague saved after your version: details hold "
        "their version (current), yours, the base and a proposed merge that keeps both.",
    ),
    Operation(
        "GET",
        f"{ONE}/notes/{{note_id}}/history",
        note_history,
        "getNoteHistory",
        "Every version of a note, oldest first",
        "clients",
        DataClass.CLIENT,
        response=HistoryOut,
        path_params=NotePath,
        roles=CARE,
        errors=(404,),
    ),
    Operation(
        "GET",
        f"{ONE}/timeline",
        get_timeline,
        "getTimeline",
        "The client's file as one timeline, newest first",
        "clients",
        DataClass.CLIENT,
        response=TimelineOut,
        path_params=ClientPath,
        query=TimelineQuery,
        roles=CARE,
        description="Contacts, notes, planned or cancelled appointments and consent changes; "
        "filter by kinds and period; unreached tells the run of unanswered attempts.",
    ),
)
