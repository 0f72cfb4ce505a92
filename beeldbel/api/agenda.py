"""/api/v1/agenda, /appointments, /calls, /availability and /join: the agenda over HTTP.

Appointment routes declare ``DataClass.CLIENT``: the agenda service asks the access policy
for a grant on every client an appointment is about and writes the audit entries with it.
The join routes are for people holding an invitation link, not staff: ``POST /api/v1/join``
exchanges the link's code for a short-lived join token; ``GET /api/v1/join/appointments/
{id}`` takes that token and shows its holder their own appointment only.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, time, timedelta
from typing import Annotated, Literal
from uuid import UUID

from aiohttp import web
from pydantic import AwareDatetime, Field, model_validator

from beeldbel.api import appkeys
from beeldbel.api.clients import ACCESS
from beeldbel.api.contactlog import QualityOut
from beeldbel.api.routing import Call, CleanupContext, DataClass, Operation, Reply
from beeldbel.api.schemas import Request, Response
from beeldbel.contactlog.model import Quality
from beeldbel.errors import InvalidInput, Unauthenticated
from beeldbel.identity.model import Role
from beeldbel.identity.serverkey import ServerKey
from beeldbel.scheduling.links import JoinCodes
from beeldbel.scheduling.model import (
    AvailabilityException,
    Kind,
    Participant,
    ParticipantRole,
    Status,
    WorkingHours,
)
from beeldbel.scheduling.service import (
    AgendaService,
    Draft,
    GuestDraft,
    ItemDraft,
    JoinAnswer,
    Scope,
    Shown,
)

__all__ = ["AGENDA", "CONTEXTS", "OPERATIONS"]

AGENDA = web.AppKey("agenda", AgendaService)
HORIZON_EVERY_SECONDS = 6 * 3600.0


async def _agenda(app: web.Application) -> AsyncIterator[None]:
    settings = app[appkeys.SETTINGS]
    service = AgendaService(
        app[appkeys.DATABASE],
        app[appkeys.CLOCK],
        app[ACCESS],
        JoinCodes(ServerKey.load_or_create(settings.keys_dir).derive("join-code")),
        app[appkeys.TOKENS],
        timedelta(days=settings.agenda_horizon_days),
    )
    app[AGENDA] = service
    app[appkeys.TASKS].every("extend_agenda_horizon", HORIZON_EVERY_SECONDS, service.extend_horizon)
    yield


CONTEXTS: tuple[CleanupContext, ...] = (_agenda,)

# --- request models --------------------------------------------------------------------------

Subject = Annotated[str, Field(min_length=1, max_length=200)]
Title = Annotated[str, Field(max_length=200)]
Version = Annotated[int, Field(ge=1, description="The version the change is based on.")]
ScopeName = Literal["this", "following"]


class GuestIn(Request):
    member_id: UUID | None = Field(None, description="A member of the client's network.")
    name: Annotated[str, Field(min_length=1, max_length=200)] | None = Field(
        None, description="Someone outside the network (an external professional)."
    )
    item: Annotated[int, Field(ge=0, le=50)] | None = Field(
        None, description="Joins only for this agenda item (its position)."
    )

    @model_validator(mode="after")
    def _one(self) -> GuestIn:
        if (self.member_id is None) == (self.name is None):
            raise ValueError("a guest is a network member (member_id) or has a name")
        return self

    def draft(self) -> GuestDraft:
        return GuestDraft(self.member_id, self.name, self.item)


class ItemIn(Request):
    client_id: UUID
    topic: Annotated[str, Field(min_length=1, max_length=300)]
    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime | None = None


class RecurrenceIn(Request):
    rrule: Annotated[str, Field(min_length=6, max_length=300, examples=["FREQ=WEEKLY"])] = Field(
        description="An RFC 5545 RRULE value (DAILY, WEEKLY or MONTHLY); the time of day "
        "comes from starts_at and holds in Europe/Amsterdam across daylight-saving changes."
    )
    kinds: Annotated[list[Kind], Field(min_length=1, max_length=8)] | None = Field(
        None,
        description="Kinds in turn per occurrence: [checkin, visit] is a call one week "
        "and a visit the next. Default: the appointment's kind.",
    )


class AppointmentCreate(Request):
    kind: Kind
    team_id: UUID
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    title: Title | None = None
    client_id: UUID | None = Field(None, description="The client of a check-in or visit.")
    workers: Annotated[list[Subject], Field(max_length=20)] | None = Field(
        None, description="Staff subjects; default: you."
    )
    guests: list[GuestIn] = Field(default_factory=list, max_length=5)
    items: list[ItemIn] = Field(default_factory=list, max_length=20)
    clients_take_part: bool = Field(
        True, description="In a case meeting: the clients of its items join too."
    )
    recurrence: RecurrenceIn | None = None
    override_hours: bool = Field(
        False, description="Book even where a worker's working hours say no."
    )


class AppointmentPatch(Request):
    version: Version
    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime | None = None
    kind: Kind | None = None
    title: Title | None = None
    scope: ScopeName = "this"
    override_hours: bool = False


class CancelBody(Request):
    version: Version
    reason: Annotated[str, Field(max_length=500)] | None = None
    scope: ScopeName = "this"


class OutcomeBody(Request):
    version: Version
    status: Literal["completed", "no_show"]


class GuestBody(GuestIn):
    version: Version


class VersionQuery(Request):
    version: Version


class AppointmentPath(Request):
    appointment_id: UUID


class ParticipantPath(Request):
    appointment_id: UUID
    participant_id: UUID


class AgendaQuery(Request):
    start: AwareDatetime = Field(alias="from")
    to: AwareDatetime
    subject: Subject | None = None


class AdHocCall(Request):
    client_id: UUID
    minutes: Annotated[int, Field(ge=5, le=240)] = 30


class HoursIn(Request):
    weekday: Annotated[int, Field(ge=0, le=6, description="0 Monday … 6 Sunday")]
    starts: time
    ends: time


class HoursBody(Request):
    hours: Annotated[list[HoursIn], Field(max_length=28)]


class ExceptionIn(Request):
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    available: bool = Field(description="False: away; true: extra hours.")
    note: Annotated[str, Field(max_length=200)] | None = None


class ExceptionPath(Request):
    exception_id: UUID


class AvailabilityQuery(Request):
    subject: Subject | None = None


class ContactTimesBody(Request):
    windows: Annotated[list[HoursIn], Field(max_length=28)]


class ClientPath(Request):
    client_id: UUID


class JoinBody(Request):
    code: Annotated[str, Field(min_length=1, max_length=64)]


# --- response models -------------------------------------------------------------------------


class ClientRef(Response):
    id: UUID
    name: str


class ParticipantOut(Response):
    id: UUID
    role: ParticipantRole
    subject: str | None
    client_id: UUID | None
    member_id: UUID | None
    item_id: UUID | None
    name: str | None = Field(description="Display name; null where you may not see it.")


class ItemOut(Response):
    id: UUID
    client: ClientRef | None
    topic: str | None
    starts_at: datetime | None
    ends_at: datetime | None


class AppointmentOut(Response):
    id: UUID
    team_id: UUID
    kind: Kind
    status: Status
    starts_at: datetime
    ends_at: datetime
    lobby_opens_at: datetime
    title: str | None
    client: ClientRef | None
    restricted: bool = Field(
        description="It is about a client you may not see: names and topics are left out."
    )
    participants: list[ParticipantOut]
    items: list[ItemOut]
    series_id: UUID | None
    occurrence_at: datetime | None
    detached: bool
    outside_hours: bool
    outside_client_times: bool = Field(
        description="Not at a time the client prefers to be reached (a hint, not a rule)."
    )
    cancel_reason: str | None
    version: int

    @classmethod
    def of(cls, shown: Shown) -> AppointmentOut:
        a = shown.appointment
        names = shown.client_names

        def client(cid: UUID | None) -> ClientRef | None:
            return ClientRef(id=cid, name=names[cid]) if cid in names and cid else None

        def person_name(p: Participant) -> str | None:
            if p.subject is not None:
                return shown.staff_names.get(p.subject)
            if p.client_id is not None:
                return names.get(p.client_id)
            if p.member_id is not None:
                return shown.member_names.get(p.member_id)
            return p.name if not shown.restricted else None

        return cls(
            id=a.id,
            team_id=a.team_id,
            kind=a.kind,
            status=a.status,
            starts_at=a.starts_at,
            ends_at=a.ends_at,
            lobby_opens_at=a.lobby_opens_at,
            title=a.title if not shown.restricted else None,
            client=client(a.client_id),
            restricted=bool(shown.restricted),
            participants=[
                ParticipantOut(
                    id=p.id,
                    role=p.role,
                    subject=p.subject,
                    client_id=p.client_id if p.client_id in names else None,
                    member_id=p.member_id if p.member_id in shown.member_names else None,
                    item_id=p.item_id,
                    name=person_name(p),
                )
                for p in a.participants
            ],
            items=[
                ItemOut(
                    id=i.id,
                    client=client(i.client_id),
                    topic=i.topic if i.client_id in names else None,
                    starts_at=i.starts_at,
                    ends_at=i.ends_at,
                )
                for i in a.items
            ],
            series_id=a.series_id,
            occurrence_at=a.occurrence_at,
            detached=a.detached,
            outside_hours=a.outside_hours,
            outside_client_times=shown.outside_client_times,
            cancel_reason=a.cancel_reason,
            version=a.version,
        )


class AgendaOut(Response):
    items: list[AppointmentOut]


class CreatedOut(Response):
    appointment: AppointmentOut
    series_id: UUID | None
    occurrences: int = Field(description="How many appointments were booked (a series: all).")


class LinkOut(Response):
    participant_id: UUID
    role: ParticipantRole
    name: str | None
    path: str = Field(description="Personal link, relative to the site: /join#<code>.")


class LinksOut(Response):
    items: list[LinkOut]


class SeatOutcomeOut(Response):
    participant_id: UUID
    role: ParticipantRole
    joined_at: datetime | None
    left_at: datetime | None
    reconnects: int
    took_part: bool


class OutcomeOut(Response):
    appointment_id: UUID
    reason: Literal["ended_by_host", "everyone_left", "host_gone", "not_joined"]
    started_at: datetime | None
    ended_at: datetime
    duration_s: int
    media_path: Literal["direct", "relay"] | None
    reconnects: int
    participants: list[SeatOutcomeOut]
    quality: QualityOut | None = Field(
        default=None, description="The fallback ladder: the modes each direction went through."
    )


class HoursOut(Response):
    weekday: int
    starts: time
    ends: time


class ExceptionOut(Response):
    id: UUID
    starts_at: datetime
    ends_at: datetime
    available: bool
    note: str | None

    @classmethod
    def of(cls, e: AvailabilityException) -> ExceptionOut:
        return cls(
            id=e.id, starts_at=e.starts_at, ends_at=e.ends_at, available=e.available, note=e.note
        )


class AvailabilityOut(Response):
    subject: str
    hours: list[HoursOut]
    exceptions: list[ExceptionOut] = Field(description="From now until eight weeks ahead.")


class ContactTimesOut(Response):
    client_id: UUID
    windows: list[HoursOut] = Field(description="Wall-clock times in Europe/Amsterdam.")


class JoinOut(Response):
    state: Literal["early", "open"] = Field(
        description="early: count down to lobby_opens_at, then POST the code again."
    )
    appointment_id: UUID
    kind: Kind
    starts_at: datetime
    ends_at: datetime
    lobby_opens_at: datetime
    join_closes_at: datetime
    role: ParticipantRole
    with_names: list[str] = Field(description="The workers you will meet.")
    token: str | None = Field(description="A join token (state open), for this call only.")
    token_expires_at: datetime | None

    @classmethod
    def of(cls, answer: JoinAnswer) -> JoinOut:
        a = answer.appointment
        return cls(
            state="open" if answer.verdict.state.value == "open" else "early",
            appointment_id=a.id,
            kind=a.kind,
            starts_at=a.starts_at,
            ends_at=a.ends_at,
            lobby_opens_at=answer.verdict.opens_at,
            join_closes_at=answer.verdict.closes_at,
            role=answer.participant.role,
            with_names=list(answer.worker_names),
            token=answer.token,
            token_expires_at=answer.token_expires_at,
        )


# --- handlers --------------------------------------------------------------------------------


def _one(shown: Shown, status: int = 200) -> Reply:
    return Reply(AppointmentOut.of(shown), status=status)


async def get_agenda(call: Call) -> Reply:
    q = call.query_as(AgendaQuery)
    found = await call.app[AGENDA].agenda(call.who(), q.subject, q.start, q.to)
    return Reply(AgendaOut(items=[AppointmentOut.of(s) for s in found]))


async def create_appointment(call: Call) -> Reply:
    body = call.body_as(AppointmentCreate)
    who = call.who()
    workers = tuple(body.workers) if body.workers is not None else (who.subject,)
    draft = Draft(
        kind=body.kind,
        team_id=body.team_id,
        starts_at=body.starts_at,
        ends_at=body.ends_at,
        title=body.title,
        client_id=body.client_id,
        workers=workers,
        guests=tuple(g.draft() for g in body.guests),
        items=tuple(ItemDraft(i.client_id, i.topic, i.starts_at, i.ends_at) for i in body.items),
        client_takes_part=body.clients_take_part,
        override_hours=body.override_hours,
    )
    recurrence = body.recurrence
    created = await call.app[AGENDA].create(
        who,
        draft,
        rule=recurrence.rrule if recurrence else None,
        kinds=tuple(recurrence.kinds or ()) if recurrence else (),
    )
    out = AppointmentOut.of(created.first)
    return Reply(
        CreatedOut(appointment=out, series_id=created.series_id, occurrences=created.occurrences),
        status=201,
        headers={"Location": f"/api/v1/appointments/{out.id}"},
    )


async def get_appointment(call: Call) -> Reply:
    path = call.path_as(AppointmentPath)
    return _one(await call.app[AGENDA].get(call.who(), path.appointment_id))


async def patch_appointment(call: Call) -> Reply:
    body = call.body_as(AppointmentPatch)
    given = body.model_fields_set
    if "kind" in given and body.kind is None:
        raise InvalidInput("kind cannot be cleared", details={"field": "kind"})
    return _one(
        await call.app[AGENDA].change(
            call.who(),
            call.path_as(AppointmentPath).appointment_id,
            body.version,
            starts_at=body.starts_at,
            ends_at=body.ends_at,
            kind=body.kind,
            title=body.title,
            title_given="title" in given,
            scope=Scope.FOLLOWING if body.scope == "following" else Scope.THIS,
            override_hours=body.override_hours,
        )
    )


async def cancel_appointment(call: Call) -> Reply:
    body = call.body_as(CancelBody)
    return _one(
        await call.app[AGENDA].cancel(
            call.who(),
            call.path_as(AppointmentPath).appointment_id,
            body.version,
            body.reason,
            Scope.FOLLOWING if body.scope == "following" else Scope.THIS,
        )
    )


async def record_outcome(call: Call) -> Reply:
    body = call.body_as(OutcomeBody)
    return _one(
        await call.app[AGENDA].set_outcome(
            call.who(),
            call.path_as(AppointmentPath).appointment_id,
            body.version,
            Status(body.status),
        )
    )


async def add_guest(call: Call) -> Reply:
    body = call.body_as(GuestBody)
    return _one(
        await call.app[AGENDA].add_guest(
            call.who(), call.path_as(AppointmentPath).appointment_id, body.version, body.draft()
        )
    )


async def remove_participant(call: Call) -> Reply:
    path = call.path_as(ParticipantPath)
    return _one(
        await call.app[AGENDA].remove_participant(
            call.who(),
            path.appointment_id,
            path.participant_id,
            call.query_as(VersionQuery).version,
        )
    )


async def get_outcome(call: Call) -> Reply:
    found = await call.app[AGENDA].outcome(call.who(), call.path_as(AppointmentPath).appointment_id)
    return Reply(
        OutcomeOut.model_validate(
            {
                "appointment_id": found.appointment_id,
                "reason": found.reason,
                "started_at": found.started_at,
                "ended_at": found.ended_at,
                "duration_s": found.duration_s,
                "media_path": found.media_path,
                "reconnects": found.reconnects,
                "participants": list(found.seats),
                "quality": quality.as_json() if (quality := Quality.of(found.quality)) else None,
            }
        )
    )


async def get_links(call: Call) -> Reply:
    path = call.path_as(AppointmentPath)
    service = call.app[AGENDA]
    shown = await service.get(call.who(), path.appointment_id)
    names = {p.id: p.name for p in AppointmentOut.of(shown).participants}
    links = await service.links(call.who(), path.appointment_id)
    return Reply(
        LinksOut(
            items=[
                LinkOut(
                    participant_id=link.participant.id,
                    role=link.participant.role,
                    name=names.get(link.participant.id),
                    path=link.path,
                )
                for link in links
            ]
        )
    )


async def start_call(call: Call) -> Reply:
    body = call.body_as(AdHocCall)
    shown = await call.app[AGENDA].start_now(
        call.who(), body.client_id, timedelta(minutes=body.minutes)
    )
    return Reply(
        AppointmentOut.of(shown),
        status=201,
        headers={"Location": f"/api/v1/appointments/{shown.appointment.id}"},
    )


async def _availability(call: Call, subject: str | None) -> AvailabilityOut:
    service = call.app[AGENDA]
    now = call.app[appkeys.CLOCK].now()
    hours = await service.hours(call.who(), subject)
    exceptions = await service.exceptions(call.who(), subject, now, now + timedelta(weeks=8))
    return AvailabilityOut(
        subject=subject or call.who().subject,
        hours=[HoursOut(weekday=h.weekday, starts=h.starts, ends=h.ends) for h in hours],
        exceptions=[ExceptionOut.of(e) for e in exceptions],
    )


async def get_availability(call: Call) -> Reply:
    return Reply(await _availability(call, call.query_as(AvailabilityQuery).subject))


async def put_hours(call: Call) -> Reply:
    body = call.body_as(HoursBody)
    await call.app[AGENDA].set_hours(
        call.who(), [WorkingHours(h.weekday, h.starts, h.ends) for h in body.hours]
    )
    return Reply(await _availability(call, None))


async def add_exception(call: Call) -> Reply:
    body = call.body_as(ExceptionIn)
    made = await call.app[AGENDA].add_exception(
        call.who(), body.starts_at, body.ends_at, body.available, body.note
    )
    return Reply(ExceptionOut.of(made), status=201)


async def remove_exception(call: Call) -> Reply:
    await call.app[AGENDA].remove_exception(call.who(), call.path_as(ExceptionPath).exception_id)
    return Reply(None, status=204)


def _windows_out(client_id: UUID, windows: list[WorkingHours]) -> ContactTimesOut:
    return ContactTimesOut(
        client_id=client_id,
        windows=[HoursOut(weekday=w.weekday, starts=w.starts, ends=w.ends) for w in windows],
    )


async def get_contact_times(call: Call) -> Reply:
    client_id = call.path_as(ClientPath).client_id
    return Reply(
        _windows_out(client_id, await call.app[AGENDA].contact_times(call.who(), client_id))
    )


async def put_contact_times(call: Call) -> Reply:
    client_id = call.path_as(ClientPath).client_id
    body = call.body_as(ContactTimesBody)
    windows = await call.app[AGENDA].set_contact_times(
        call.who(), client_id, [WorkingHours(w.weekday, w.starts, w.ends) for w in body.windows]
    )
    return Reply(_windows_out(client_id, windows))


async def exchange_code(call: Call) -> Reply:
    body = call.body_as(JoinBody)
    return Reply(JoinOut.of(await call.app[AGENDA].exchange(body.code)))


async def join_appointment(call: Call) -> Reply:
    header = call.request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("send 'Authorization: Bearer <join token>'")
    app = call.app
    grant = app[appkeys.TOKENS].verify_join(token.strip(), app[appkeys.CLOCK].now())
    answer = await app[AGENDA].lobby(grant, call.path_as(AppointmentPath).appointment_id)
    return Reply(JoinOut.of(answer))


# --- operations ------------------------------------------------------------------------------

CLIENT = DataClass.CLIENT
TAG = "agenda"
ONE = "/api/v1/appointments/{appointment_id}"
CARE = frozenset({Role.WORKER, Role.COORDINATOR})

OPERATIONS = (
    Operation(
        "GET",
        "/api/v1/agenda",
        get_agenda,
        "getAgenda",
        "A worker's agenda",
        TAG,
        CLIENT,
        response=AgendaOut,
        query=AgendaQuery,
        roles=CARE,
        description="Appointments you (or, for coordinators, `subject` in your team) take "
        "part in that overlap [from, to), at most six weeks, cancelled ones included. "
        "Clients you may not see are left out by name (`restricted`).",
    ),
    Operation(
        "POST",
        "/api/v1/appointments",
        create_appointment,
        "createAppointment",
        "Plan a check-in, visit or case meeting (or a series)",
        TAG,
        CLIENT,
        response=CreatedOut,
        status=201,
        body=AppointmentCreate,
        roles=CARE,
        errors=(409,),
        description="409 `booking_conflict` names the appointment in the way; 409 "
        "`outside_working_hours` until `override_hours` is set; 409 `consent_required` for "
        "a guest when the client has not consented to guests in calls. A series is booked "
        "whole or not at all, up to the horizon (a job extends it).",
    ),
    Operation(
        "GET",
        ONE,
        get_appointment,
        "getAppointment",
        "One appointment",
        TAG,
        CLIENT,
        response=AppointmentOut,
        path_params=AppointmentPath,
        roles=CARE,
    ),
    Operation(
        "PATCH",
        ONE,
        patch_appointment,
        "changeAppointment",
        "Move an appointment, or turn a visit into a call and back",
        TAG,
        CLIENT,
        response=AppointmentOut,
        body=AppointmentPatch,
        path_params=AppointmentPath,
        roles=CARE,
        errors=(409,),
        description="`scope: following` changes this occurrence and every later one of "
        "its series (time of day, length, kind); participants keep their links.",
    ),
    Operation(
        "POST",
        ONE + "/cancel",
        cancel_appointment,
        "cancelAppointment",
        "Cancel an appointment (or it and the rest of its series)",
        TAG,
        CLIENT,
        response=AppointmentOut,
        body=CancelBody,
        path_params=AppointmentPath,
        roles=CARE,
        errors=(409,),
        description="Frees the slot and revokes every participant's link.",
    ),
    Operation(
        "POST",
        ONE + "/outcome",
        record_outcome,
        "recordOutcome",
        "Record that it took place, or that the client was not there",
        TAG,
        CLIENT,
        response=AppointmentOut,
        body=OutcomeBody,
        path_params=AppointmentPath,
        roles=CARE,
        errors=(409,),
    ),
    Operation(
        "POST",
        ONE + "/guests",
        add_guest,
        "addGuest",
        "Invite a guest",
        TAG,
        CLIENT,
        response=AppointmentOut,
        body=GuestBody,
        path_params=AppointmentPath,
        roles=CARE,
        errors=(409,),
        description="Only when the client has consented to guests in calls.",
    ),
    Operation(
        "DELETE",
        ONE + "/participants/{participant_id}",
        remove_participant,
        "removeParticipant",
        "Take someone out of an appointment (their link stops working)",
        TAG,
        CLIENT,
        response=AppointmentOut,
        path_params=ParticipantPath,
        query=VersionQuery,
        roles=CARE,
        errors=(409,),
    ),
    Operation(
        "GET",
        ONE + "/links",
        get_links,
        "getJoinLinks",
        "Each participant's personal join link",
        TAG,
        CLIENT,
        response=LinksOut,
        path_params=AppointmentPath,
        roles=CARE,
    ),
    Operation(
        "GET",
        ONE + "/outcome",
        get_outcome,
        "getCallOutcome",
        "What happened in the call",
        TAG,
        CLIENT,
        response=OutcomeOut,
        path_params=AppointmentPath,
        roles=CARE,
        description="Filed once when the call ended: who took part, when, how long, the "
        "media path, reconnects and why it ended (`not_joined`: the client never came).",
    ),
    Operation(
        "POST",
        "/api/v1/calls",
        start_call,
        "startCall",
        "Start a call with a client now",
        TAG,
        CLIENT,
        response=AppointmentOut,
        status=201,
        body=AdHocCall,
        roles=CARE,
        errors=(409,),
        description="A check-in that starts now with its lobby open.",
    ),
    Operation(
        "GET",
        "/api/v1/availability",
        get_availability,
        "getAvailability",
        "Working hours and exceptions (bereikbaarheid)",
        TAG,
        DataClass.ORGANISATION,
        response=AvailabilityOut,
        query=AvailabilityQuery,
        roles=CARE,
    ),
    Operation(
        "PUT",
        "/api/v1/availability/hours",
        put_hours,
        "setWorkingHours",
        "Set your working hours",
        TAG,
        DataClass.ORGANISATION,
        response=AvailabilityOut,
        body=HoursBody,
        roles=CARE,
        description="Wall-clock times in Europe/Amsterdam. No hours: bookable any time.",
    ),
    Operation(
        "POST",
        "/api/v1/availability/exceptions",
        add_exception,
        "addAvailabilityException",
        "Mark yourself away, or available extra",
        TAG,
        DataClass.ORGANISATION,
        response=ExceptionOut,
        status=201,
        body=ExceptionIn,
        roles=CARE,
    ),
    Operation(
        "DELETE",
        "/api/v1/availability/exceptions/{exception_id}",
        remove_exception,
        "removeAvailabilityException",
        "Remove an exception",
        TAG,
        DataClass.ORGANISATION,
        path_params=ExceptionPath,
        status=204,
        roles=CARE,
    ),
    Operation(
        "GET",
        "/api/v1/clients/{client_id}/contact-times",
        get_contact_times,
        "getContactTimes",
        "When the client prefers to be reached",
        TAG,
        CLIENT,
        response=ContactTimesOut,
        path_params=ClientPath,
        roles=CARE,
    ),
    Operation(
        "PUT",
        "/api/v1/clients/{client_id}/contact-times",
        put_contact_times,
        "setContactTimes",
        "Set when the client prefers to be reached",
        TAG,
        CLIENT,
        response=ContactTimesOut,
        body=ContactTimesBody,
        path_params=ClientPath,
        roles=CARE,
        description="Appointments outside these times are flagged `outside_client_times` "
        "(a hint for the worker, not a rule). No windows: any time.",
    ),
    Operation(
        "POST",
        "/api/v1/join",
        exchange_code,
        "exchangeJoinCode",
        "Exchange an invitation link's code for a join token",
        "join",
        DataClass.OPERATIONAL,
        response=JoinOut,
        body=JoinBody,
        public=True,
        errors=(404, 409),
        idempotent_replay=False,
        description="For the person holding the link (no sign-in). Before the lobby opens: "
        "state `early` and no token (count down, then post again). 409 `join_refused` "
        "(cancelled, over, a home visit) and 404 carry a Dutch message for the person.",
    ),
    Operation(
        "GET",
        "/api/v1/join/appointments/{appointment_id}",
        join_appointment,
        "getJoinedAppointment",
        "The appointment a join token is for",
        "join",
        DataClass.OPERATIONAL,
        response=JoinOut,
        path_params=AppointmentPath,
        public=True,
        errors=(401, 403, 409),
        description="Takes `Authorization: Bearer <join token>`; a token for another "
        "appointment is refused with 403.",
    ),
)
