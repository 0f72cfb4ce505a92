"""Agenda use cases: each opens one unit of work, asks the access policy for a grant on
every client the appointment is about, writes the audit entries through those grants, and
calls the pure rules. The database refuses double booking; this module turns the refusal
into an answer that names the appointment in the way.

Scheduling (who, when, what kind) is the client's *record*: a coordinator of the team
plans it; the content of contacts and reports is the care file and comes with the client
file. A worker or coordinator outside the appointment's team changes it only as a
participant or through a grant (a colleague covering in a handover).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from beeldbel.access.ledger import record_nothing_found
from beeldbel.access.model import Action, Basis, Category, Grant
from beeldbel.access.service import AccessService
from beeldbel.audit.model import AuditEvent, AuditRecord, Outcome, through
from beeldbel.clientfile.model import ConsentTopic, is_given
from beeldbel.clock import Clock
from beeldbel.contactlog.model import entry_for_visit
from beeldbel.db.engine import Database
from beeldbel.db.repositories.agenda import (
    SqlAgenda,
    SqlAvailability,
    SqlContactTimes,
    staff_names,
)
from beeldbel.db.repositories.calls import SqlCalls
from beeldbel.db.repositories.clients import SqlClientFile, team_of_client
from beeldbel.db.repositories.contactlog import SqlContactLog
from beeldbel.db.tables.clients import ClientRow, NetworkMemberRow
from beeldbel.errors import Conflict, Forbidden, InvalidInput, NotFound, StaleVersion
from beeldbel.identity.model import Principal, PrincipalKind, Role
from beeldbel.identity.tokens import JoinPass, TokenService
from beeldbel.scheduling.links import JoinCodes, join_path
from beeldbel.scheduling.model import (
    AGENDA_ZONE,
    AgendaItem,
    Appointment,
    AvailabilityException,
    Kind,
    Participant,
    ParticipantRole,
    Recurrence,
    Series,
    Status,
    WorkingHours,
)
from beeldbel.scheduling.rules import (
    JoinState,
    JoinVerdict,
    available,
    cancel,
    change_kind,
    check_appointment,
    expand,
    join_verdict,
    local_wall_time,
    parse_rule,
    reschedule,
    set_status,
    split_series,
    validate_hours,
    validate_title,
)

__all__ = [
    "AgendaService",
    "CallOutcome",
    "ConsentMissing",
    "Created",
    "Draft",
    "GuestDraft",
    "ItemDraft",
    "JoinAnswer",
    "JoinRefused",
    "Link",
    "OutsideHours",
    "Scope",
    "Shown",
]

CARE_ROLES = frozenset({Role.WORKER, Role.COORDINATOR})
ChangeFn = Callable[[AsyncSession, Appointment, dict[UUID, Grant]], Awaitable[Appointment]]
AD_HOC_DEFAULT = timedelta(minutes=30)
MAX_AGENDA_SPAN = timedelta(days=42)
MAX_AGENDA_ITEMS = 500
MAX_EXCEPTION = timedelta(days=366)


class OutsideHours(Conflict):
    """A worker is not available then; book anyway only by saying so (override)."""

    code = "outside_working_hours"


class ConsentMissing(Conflict):
    code = "consent_required"


class JoinRefused(Conflict):
    """The link no longer lets anyone in. The message is for the person holding the link:
    in Dutch, plain, with what to do."""

    code = "join_refused"


JOIN_MESSAGES = {
    JoinState.CANCELLED: "Deze afspraak is geannuleerd. Neem contact op met uw hulpverlener "
    "als u een nieuwe afspraak wilt maken.",
    JoinState.ENDED: "Deze afspraak is voorbij. Heeft u nog vragen? Neem dan contact op met "
    "uw hulpverlener.",
    JoinState.NOT_A_CALL: "Deze afspraak is een huisbezoek: uw hulpverlener komt bij u langs. "
    "U hoeft niet in te bellen.",
}
UNKNOWN_LINK = (
    "Deze link werkt niet (meer). Controleer of u de hele link heeft geopend, of vraag uw "
    "hulpverlener om een nieuwe."
)


class Scope:
    THIS = "this"
    FOLLOWING = "following"


@dataclass(frozen=True, slots=True)
class GuestDraft:
    member_id: UUID | None = None  # from the client's network
    name: str | None = None  # someone outside it (an external professional)
    item: int | None = None  # joins only for this agenda item (its position)


@dataclass(frozen=True, slots=True)
class ItemDraft:
    client_id: UUID
    topic: str
    starts_at: datetime | None = None
    ends_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Draft:
    kind: Kind
    team_id: UUID
    starts_at: datetime
    ends_at: datetime
    title: str | None = None
    client_id: UUID | None = None
    workers: tuple[str, ...] = ()
    guests: tuple[GuestDraft, ...] = ()
    items: tuple[ItemDraft, ...] = ()
    client_takes_part: bool = True  # in a case meeting: the item clients join too
    override_hours: bool = False


@dataclass(frozen=True, slots=True)
class Shown:
    """An appointment as its reader may see it: names only of the clients they may see."""

    appointment: Appointment
    client_names: dict[UUID, str] = field(default_factory=dict)
    staff_names: dict[str, str] = field(default_factory=dict)
    member_names: dict[UUID, str] = field(default_factory=dict)
    restricted: frozenset[UUID] = frozenset()  # clients in it the reader may not see
    outside_client_times: bool = False  # not when the client prefers to be reached


@dataclass(frozen=True, slots=True)
class Created:
    first: Shown
    series_id: UUID | None
    occurrences: int


@dataclass(frozen=True, slots=True)
class Link:
    participant: Participant
    path: str  # /join#<code>


@dataclass(frozen=True, slots=True)
class CallOutcome:
    appointment_id: UUID
    reason: str
    started_at: datetime | None
    ended_at: datetime
    duration_s: int
    media_path: str | None
    reconnects: int
    seats: tuple[dict[str, object], ...]
    quality: dict[str, object] | None = None


@dataclass(frozen=True, slots=True)
class JoinAnswer:
    verdict: JoinVerdict
    appointment: Appointment
    participant: Participant
    worker_names: tuple[str, ...]
    token: str | None
    token_expires_at: datetime | None


class AgendaService:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        access: AccessService,
        codes: JoinCodes,
        tokens: TokenService,
        horizon: timedelta,
    ) -> None:
        self._db = db
        self._clock = clock
        self._access = access
        self._codes = codes
        self._tokens = tokens
        self._horizon = horizon

    @property
    def codes(self) -> JoinCodes:
        return self._codes

    # --- access --------------------------------------------------------------------------

    async def _grants(
        self,
        session: AsyncSession,
        principal: Principal,
        client_ids: Sequence[UUID],
        action: Action,
    ) -> dict[UUID, Grant]:
        """A grant for every client, or Forbidden (audited by the access service)."""
        return {
            cid: await self._access.grant(session, principal, cid, action, Category.RECORD)
            for cid in client_ids
        }

    async def _in_team(
        self, session: AsyncSession, principal: Principal, team_id: UUID, workers: Sequence[str]
    ) -> None:
        _care_staff(principal)
        if principal.subject in workers:
            return
        if team_id not in await self._access.teams_of(session, principal.subject):
            raise Forbidden(
                "you are not in this team", details={"reason": "not in the appointment's team"}
            )

    async def _authorize(
        self, session: AsyncSession, principal: Principal, appointment: Appointment, action: Action
    ) -> dict[UUID, Grant]:
        grants = await self._grants(session, principal, appointment.clients(), action)
        if not grants or all(g.basis is not Basis.HANDOVER for g in grants.values()):
            await self._in_team(session, principal, appointment.team_id, appointment.workers())
        return grants

    async def _read_grants(
        self, session: AsyncSession, principal: Principal, appointment: Appointment
    ) -> dict[UUID, Grant]:
        """What a reader may see of an appointment. A worker taking part sees it all, with
        the clients they may not see left out by name (a case meeting's other items); anyone
        else needs a grant for every client in it."""
        if principal.subject in appointment.workers():
            _care_staff(principal)
            return await self._access.grants(
                session, principal, appointment.clients(), Action.READ, Category.RECORD
            )
        return await self._authorize(session, principal, appointment, Action.READ)

    async def _audit(
        self,
        session: AsyncSession,
        grants: dict[UUID, Grant],
        event: AuditEvent,
        appointment_id: UUID,
        **detail: str,
    ) -> None:
        for grant in grants.values():
            await self._access.audit.append(
                session, through(grant, event, "appointment", str(appointment_id), **detail)
            )
        if not grants:
            record_nothing_found()

    async def _shown(
        self, session: AsyncSession, appointment: Appointment, grants: dict[UUID, Grant]
    ) -> Shown:
        granted = [cid for cid in appointment.clients() if cid in grants]
        client_names: dict[UUID, str] = {}
        member_names: dict[UUID, str] = {}
        if granted:
            rows = await session.execute(
                select(ClientRow.id, ClientRow.name).where(ClientRow.id.in_(granted))
            )
            client_names = {row.id: row.name for row in rows}
            members = [p.member_id for p in appointment.participants if p.member_id]
            if members:
                rows = await session.execute(
                    select(NetworkMemberRow.id, NetworkMemberRow.name).where(
                        NetworkMemberRow.id.in_(members),
                        NetworkMemberRow.client_id.in_(granted),
                    )
                )
                member_names = {row.id: row.name for row in rows}
        taking_part = [
            p.client_id
            for p in appointment.participants
            if p.client_id is not None and p.client_id in grants
        ]
        windows = await SqlContactTimes(session).of(taking_part)
        outside = any(
            not available(w, (), appointment.starts_at, appointment.ends_at, AGENDA_ZONE)
            for w in windows.values()
        )
        return Shown(
            appointment,
            client_names,
            await staff_names(session, appointment.workers()),
            member_names,
            frozenset(cid for cid in appointment.clients() if cid not in grants),
            outside,
        )

    # --- making appointments -------------------------------------------------------------

    def _participants(self, draft: Draft, items: tuple[AgendaItem, ...]) -> tuple[Participant, ...]:
        new = JoinCodes.new_link_id
        people = [
            Participant(uuid.uuid4(), ParticipantRole.WORKER, new(), subject=s)
            for s in draft.workers
        ]
        if draft.kind is Kind.CASE_MEETING:
            if draft.client_takes_part:
                for cid in dict.fromkeys(i.client_id for i in items):
                    people.append(
                        Participant(uuid.uuid4(), ParticipantRole.CLIENT, new(), client_id=cid)
                    )
        elif draft.client_id is not None:
            people.append(
                Participant(uuid.uuid4(), ParticipantRole.CLIENT, new(), client_id=draft.client_id)
            )
        for guest in draft.guests:
            item_id = None
            if guest.item is not None:
                if not 0 <= guest.item < len(items):
                    raise InvalidInput(
                        "a guest's item is not on the agenda", details={"field": "guests"}
                    )
                item_id = items[guest.item].id
            people.append(
                Participant(
                    uuid.uuid4(),
                    ParticipantRole.GUEST,
                    new(),
                    member_id=guest.member_id,
                    name=validate_title(guest.name, "name") if guest.member_id is None else None,
                    item_id=item_id,
                )
            )
        return tuple(people)

    def _appointment(self, principal: Principal, draft: Draft, now: datetime) -> Appointment:
        items = tuple(
            AgendaItem(uuid.uuid4(), i.client_id, i.topic, i.starts_at, i.ends_at)
            for i in draft.items
        )
        return check_appointment(
            Appointment(
                id=uuid.uuid4(),
                team_id=draft.team_id,
                kind=draft.kind,
                status=Status.PLANNED,
                starts_at=draft.starts_at,
                ends_at=draft.ends_at,
                created_by=principal.subject,
                created_at=now,
                updated_at=now,
                title=draft.title,
                client_id=draft.client_id,
                participants=self._participants(draft, items),
                items=items,
                outside_hours=False,
            )
        )

    async def _check_people(
        self, session: AsyncSession, appointment: Appointment, grants: dict[UUID, Grant]
    ) -> None:
        """Workers are staff of the team; guests are in the client's network, and only when
        the client allows guests in calls."""
        for subject in appointment.workers():
            if appointment.team_id not in await self._access.teams_of(session, subject):
                raise InvalidInput(
                    "a worker in the appointment is not in its team",
                    details={"field": "workers", "subject": subject},
                )
        await self._check_guests(session, appointment, grants)

    async def _check_guests(
        self, session: AsyncSession, appointment: Appointment, grants: dict[UUID, Grant]
    ) -> None:
        guests = [p for p in appointment.participants if p.role is ParticipantRole.GUEST]
        if not guests:
            return
        file = SqlClientFile(session, self._access.audit, self._clock.now())
        for guest in guests:
            about = _clients_of_guest(appointment, guest)
            if guest.member_id is not None:
                if len(about) != 1:
                    raise InvalidInput(
                        "a guest from a client's network joins for that client",
                        details={"field": "guests"},
                    )
                await file.member(grants[about[0]], about[0], guest.member_id)
            if appointment.kind.is_call:
                for cid in about:
                    history = await file.consent_history(grants[cid], cid)
                    if not is_given(history, ConsentTopic.GUESTS_IN_CALLS):
                        raise ConsentMissing(
                            "the client has not consented to guests in calls",
                            details={"client_id": str(cid), "topic": "guests_in_calls"},
                        )

    async def _check_hours(
        self, session: AsyncSession, appointment: Appointment, override: bool
    ) -> Appointment:
        """The appointment if every worker is available then; flagged if ``override``;
        OutsideHours otherwise."""
        repo = SqlAvailability(session)
        outside = []
        for subject in appointment.workers():
            hours = await repo.hours(subject)
            exceptions = await repo.exceptions(subject, appointment.starts_at, appointment.ends_at)
            if not available(
                hours, exceptions, appointment.starts_at, appointment.ends_at, AGENDA_ZONE
            ):
                outside.append(subject)
        if not outside:
            return replace(appointment, outside_hours=False)
        if override:
            return replace(appointment, outside_hours=True)
        raise OutsideHours(
            "a worker is not available then; choose another time or book it anyway",
            details={
                "workers": outside,
                "starts_at": appointment.starts_at.isoformat(),
                "names": list((await staff_names(session, outside)).values()),
            },
        )

    async def create(
        self,
        principal: Principal,
        draft: Draft,
        *,
        rule: str | None = None,
        kinds: tuple[Kind, ...] = (),
    ) -> Created:
        """One appointment, or a series materialized up to the horizon. A series books
        every occurrence or none (the conflict names the first in the way)."""
        now = self._clock.now()
        first = self._appointment(principal, draft, now)
        async with self._access.transaction() as session:
            await self._in_team(session, principal, first.team_id, ())
            grants = await self._authorize(session, principal, first, Action.CREATE)
            await self._check_people(session, first, grants)
            agenda = SqlAgenda(session)
            if rule is None:
                booked = await self._check_hours(session, first, draft.override_hours)
                await agenda.add(booked)
                await self._audit(session, grants, AuditEvent.CREATE, booked.id)
                return Created(await self._shown(session, booked, grants), None, 1)
            recurrence = Recurrence(
                rule=parse_rule(rule),
                local_start=local_wall_time(first.starts_at, AGENDA_ZONE),
                duration=first.duration,
                kinds=kinds or (first.kind,),
            )
            if first.kind is Kind.CASE_MEETING and (
                first.items or any(k is not Kind.CASE_MEETING for k in recurrence.kinds)
            ):
                raise InvalidInput(
                    "a recurring case meeting has no items of its own; add them per meeting",
                    details={"field": "rrule"},
                )
            if first.kind is not Kind.CASE_MEETING and Kind.CASE_MEETING in recurrence.kinds:
                raise InvalidInput(
                    "a series of check-ins and visits does not turn into a case meeting",
                    details={"field": "kinds"},
                )
            series = Series(
                id=uuid.uuid4(),
                team_id=first.team_id,
                recurrence=recurrence,
                materialized_until=now + self._horizon,
                created_by=principal.subject,
                created_at=now,
            )
            template = _template(first)
            await agenda.add_series(series, template)
            made = await self._materialize(
                session,
                series,
                template,
                now,
                series.materialized_until,
                draft.override_hours,
                strict=True,
            )
            if not made:
                raise InvalidInput(
                    "the series has no occurrence before the horizon", details={"field": "rrule"}
                )
            for a in made:
                await self._audit(session, grants, AuditEvent.CREATE, a.id, series=str(series.id))
            return Created(await self._shown(session, made[0], grants), series.id, len(made))

    async def _materialize(
        self,
        session: AsyncSession,
        series: Series,
        template: dict[str, object],
        created_at: datetime,
        until: datetime,
        override: bool,
        *,
        strict: bool,
        since: datetime | None = None,
    ) -> list[Appointment]:
        """Store the series' occurrences before ``until`` (from ``since``). ``strict``: a
        conflict or an unavailable worker refuses the lot. Otherwise (the horizon job) such
        an occurrence is stored cancelled, with the reason, for the worker to resolve."""
        agenda = SqlAgenda(session)
        made = []
        for occurrence in expand(series.recurrence, until, since):
            appointment = _from_template(
                template,
                series,
                occurrence.starts_at,
                occurrence.ends_at,
                occurrence.kind,
                created_at,
            )
            try:
                appointment = await self._check_hours(session, appointment, override)
                await agenda.add(appointment)
            except Conflict as error:
                if strict:
                    raise
                appointment = replace(
                    appointment,
                    status=Status.CANCELLED,
                    cancel_reason=f"niet ingepland: {error.message}"[:500],
                )
                await agenda.add(appointment)
            made.append(appointment)
        return made

    async def extend_horizon(self, limit: int = 100) -> int:
        """The job that keeps every open series materialized up to the horizon."""
        now = self._clock.now()
        until = now + self._horizon
        count = 0
        async with self._db.transaction() as session:
            agenda = SqlAgenda(session)
            for series_id in await agenda.series_due(until - timedelta(days=1), limit):
                series, template = await agenda.series(series_id, lock=True)
                made = await self._materialize(
                    session,
                    series,
                    template,
                    now,
                    until,
                    False,
                    strict=False,
                    since=series.materialized_until,
                )
                await agenda.set_materialized(series_id, until)
                count += len(made)
        return count

    async def start_now(
        self, principal: Principal, client_id: UUID, duration: timedelta = AD_HOC_DEFAULT
    ) -> Shown:
        """ "Start a call with this client now": a check-in that starts at once, its lobby
        open. Working hours do not stop it (starting it is the worker's explicit choice);
        another appointment at the same time does."""
        now = self._clock.now()
        async with self._access.transaction() as session:
            grant = await self._access.grant(
                session, principal, client_id, Action.CREATE, Category.RECORD
            )
            team_id = await team_of_client(session, client_id)
            draft = Draft(
                kind=Kind.CHECKIN,
                team_id=team_id,
                starts_at=now,
                ends_at=now + duration,
                client_id=client_id,
                workers=(principal.subject,),
            )
            appointment = self._appointment(principal, draft, now)
            appointment = replace(appointment, status=Status.LOBBY_OPEN)
            await self._in_team(session, principal, team_id, appointment.workers())
            await SqlAgenda(session).add(appointment)
            grants = {client_id: grant}
            await self._audit(session, grants, AuditEvent.CREATE, appointment.id, ad_hoc="true")
            return await self._shown(session, appointment, grants)

    # --- reading -------------------------------------------------------------------------

    async def get(self, principal: Principal, appointment_id: UUID) -> Shown:
        async with self._access.transaction() as session:
            appointment = await SqlAgenda(session).get(appointment_id)
            grants = await self._read_grants(session, principal, appointment)
            await self._audit(session, grants, AuditEvent.READ, appointment.id)
            return await self._shown(session, appointment, grants)

    async def agenda(
        self, principal: Principal, subject: str | None, starts: datetime, ends: datetime
    ) -> list[Shown]:
        """A worker's agenda for ``[starts, ends)``: your own, or (coordinators) that of a
        colleague in your team. Clients you may not see are shown without name."""
        if ends <= starts or ends - starts > MAX_AGENDA_SPAN:
            raise InvalidInput(
                "an agenda spans at most six weeks, and ends after it starts",
                details={"field": "to"},
            )
        whose = subject or principal.subject
        async with self._access.transaction() as session:
            _care_staff(principal)
            if whose != principal.subject:
                mine = await self._access.teams_of(session, principal.subject)
                theirs = await self._access.teams_of(session, whose)
                if Role.COORDINATOR not in principal.roles or not mine & theirs:
                    raise Forbidden("you may see your own agenda and, as coordinator, your team's")
            found = await SqlAgenda(session).agenda([whose], starts, ends, MAX_AGENDA_ITEMS)
            client_ids = list(dict.fromkeys(c for a in found for c in a.clients()))
            grants = await self._access.grants(
                session, principal, client_ids, Action.READ, Category.RECORD
            )
            for grant in grants.values():
                await self._access.audit.append(
                    session,
                    through(
                        grant, AuditEvent.READ, "agenda", whose, days=str((ends - starts).days)
                    ),
                )
            if not grants:
                record_nothing_found()
            return [
                await self._shown(session, a, {c: grants[c] for c in a.clients() if c in grants})
                for a in found
            ]

    async def outcome(self, principal: Principal, appointment_id: UUID) -> CallOutcome:
        """What happened in the appointment's call (filed once when it ended)."""
        async with self._access.transaction() as session:
            appointment = await SqlAgenda(session).get(appointment_id)
            grants = await self._read_grants(session, principal, appointment)
            row = await SqlCalls(session).outcome(appointment_id)
            if row is None:
                raise NotFound("the call has no outcome yet", details={"id": str(appointment_id)})
            await self._audit(session, grants, AuditEvent.READ, appointment.id, what="outcome")
            return CallOutcome(
                appointment_id=appointment_id,
                reason=row.reason,
                started_at=row.started_at,
                ended_at=row.ended_at,
                duration_s=row.duration_s,
                media_path=row.media_path,
                reconnects=row.reconnects,
                seats=tuple(row.seats),
                quality=row.quality,
            )

    async def links(self, principal: Principal, appointment_id: UUID) -> list[Link]:
        """Each participant's personal link, to send or read out to them."""
        async with self._access.transaction() as session:
            appointment = await SqlAgenda(session).get(appointment_id)
            grants = await self._authorize(session, principal, appointment, Action.READ)
            await self._audit(session, grants, AuditEvent.READ, appointment.id, what="links")
            return [
                Link(p, join_path(self._codes.code(p.link_id))) for p in appointment.participants
            ]

    # --- changing ------------------------------------------------------------------------

    async def _change(
        self,
        principal: Principal,
        appointment_id: UUID,
        version: int,
        change: ChangeFn,
    ) -> Shown:
        async with self._access.transaction() as session:
            agenda = SqlAgenda(session)
            current = await agenda.get(appointment_id)
            grants = await self._authorize(session, principal, current, Action.CHANGE)
            if current.version != version:
                raise StaleVersion(
                    "the appointment was changed meanwhile; reload it",
                    details={"current_version": current.version},
                )
            changed = await change(session, current, grants)
            if changed is not current:
                await agenda.update(current, changed)
                await self._audit(session, grants, AuditEvent.CHANGE, changed.id)
            else:
                await self._audit(session, grants, AuditEvent.READ, changed.id)
            return await self._shown(session, changed, grants)

    async def change(
        self,
        principal: Principal,
        appointment_id: UUID,
        version: int,
        *,
        starts_at: datetime | None = None,
        ends_at: datetime | None = None,
        kind: Kind | None = None,
        title: str | None = None,
        title_given: bool = False,
        scope: str = Scope.THIS,
        override_hours: bool = False,
    ) -> Shown:
        """Move, retitle or turn a visit into a call (and back): this occurrence only, or
        ("following") this one and every later one of its series."""
        now = self._clock.now()

        async def apply(
            session: AsyncSession, current: Appointment, grants: dict[UUID, Grant]
        ) -> Appointment:
            changed = current
            if starts_at is not None or ends_at is not None:
                new_start = starts_at or current.starts_at
                new_end = ends_at or (new_start + current.duration)
                changed = reschedule(changed, new_start, new_end, now)
            if kind is not None:
                changed = change_kind(changed, kind, now)
                if kind.is_call and changed is not current:
                    await self._check_guests(session, changed, grants)
            if title_given:
                new_title = validate_title(title)
                if new_title != changed.title:
                    changed = replace(
                        changed, title=new_title, updated_at=now, version=current.version + 1
                    )
            if changed is current:
                return current
            if changed.starts_at != current.starts_at or changed.ends_at != current.ends_at:
                changed = await self._check_hours(session, changed, override_hours)
            if scope == Scope.FOLLOWING:
                series_id, occurrence_at = await self._change_following(
                    session, current, changed, grants, override_hours
                )
                changed = replace(
                    changed, series_id=series_id, occurrence_at=occurrence_at, detached=False
                )
            return changed

        if scope not in (Scope.THIS, Scope.FOLLOWING):
            raise InvalidInput("scope is 'this' or 'following'", details={"field": "scope"})
        return await self._change(principal, appointment_id, version, apply)

    async def _change_following(
        self,
        session: AsyncSession,
        current: Appointment,
        changed: Appointment,
        grants: dict[UUID, Grant],
        override_hours: bool,
    ) -> tuple[UUID, datetime]:
        """Split the series at ``current``: the old one ends there, a new one with the new
        wall-clock time, length and kind takes over, and every later occurrence that was not
        edited on its own moves along (keeping its participants and links)."""
        if current.series_id is None or current.occurrence_at is None:
            raise InvalidInput(
                "this appointment is not part of a series", details={"field": "scope"}
            )
        if (
            local_wall_time(changed.starts_at, AGENDA_ZONE).date()
            != local_wall_time(current.starts_at, AGENDA_ZONE).date()
        ):
            raise InvalidInput(
                "for this and following appointments, change the time of day, not the date",
                details={"field": "starts_at"},
            )
        agenda = SqlAgenda(session)
        series, template = await agenda.series(current.series_id, lock=True)
        _, after = split_series(
            series.recurrence, current.occurrence_at, changed.starts_at, changed.duration
        )
        if changed.kind is not current.kind:
            after = replace(after, kinds=(changed.kind,))
        now = self._clock.now()
        new_series = Series(
            id=uuid.uuid4(),
            team_id=series.team_id,
            recurrence=after,
            materialized_until=series.materialized_until,
            created_by=series.created_by,
            created_at=now,
        )
        await agenda.add_series(new_series, template)
        await agenda.set_series_end(series.id, current.occurrence_at)
        later = [
            a
            for a in await agenda.of_series(series.id, current.occurrence_at)
            if a.id != current.id
        ]
        occurrences = expand(after, series.materialized_until)
        for occurrence, appointment in zip(occurrences[1:], later, strict=False):
            if appointment.status.final or appointment.detached:
                await agenda.move_to_series(appointment.id, new_series.id, occurrence.starts_at)
                continue
            moved = reschedule(
                appointment, occurrence.starts_at, occurrence.ends_at, now, detach=False
            )
            if occurrence.kind is not moved.kind:
                moved = replace(moved, kind=occurrence.kind)
            moved = replace(moved, series_id=new_series.id, occurrence_at=occurrence.starts_at)
            moved = await self._check_hours(session, moved, override_hours)
            if moved.kind.is_call and not appointment.kind.is_call:
                await self._check_guests(session, moved, grants)
            await agenda.update(appointment, moved)
            await self._audit(
                session, grants, AuditEvent.CHANGE, moved.id, series=str(new_series.id)
            )
        # The one being changed is the new series' first occurrence.
        return new_series.id, occurrences[0].starts_at

    async def cancel(
        self,
        principal: Principal,
        appointment_id: UUID,
        version: int,
        reason: str | None,
        scope: str = Scope.THIS,
    ) -> Shown:
        """Cancel (this occurrence, or this and every later one). Cancelling frees the
        slot and revokes every participant's link; the appointment stays, cancelled."""
        now = self._clock.now()

        async def apply(
            session: AsyncSession, current: Appointment, grants: dict[UUID, Grant]
        ) -> Appointment:
            cancelled = cancel(current, reason, now)
            if scope == Scope.FOLLOWING:
                if current.series_id is None or current.occurrence_at is None:
                    raise InvalidInput(
                        "this appointment is not part of a series", details={"field": "scope"}
                    )
                agenda = SqlAgenda(session)
                await agenda.series(current.series_id, lock=True)
                await agenda.set_series_end(current.series_id, current.occurrence_at)
                for later in await agenda.of_series(current.series_id, current.occurrence_at):
                    if later.id == current.id or later.status.final:
                        continue
                    gone = cancel(later, reason, now)
                    await agenda.update(later, gone)
                    await self._audit(
                        session, grants, AuditEvent.CHANGE, later.id, change="cancelled"
                    )
            return cancelled

        if scope not in (Scope.THIS, Scope.FOLLOWING):
            raise InvalidInput("scope is 'this' or 'following'", details={"field": "scope"})
        return await self._change(principal, appointment_id, version, apply)

    async def set_outcome(
        self, principal: Principal, appointment_id: UUID, version: int, status: Status
    ) -> Shown:
        """Record that a visit took place or that the client was not there (no-show)."""
        if status not in (Status.COMPLETED, Status.NO_SHOW):
            raise InvalidInput("an outcome is completed or no_show", details={"field": "status"})
        now = self._clock.now()

        async def apply(
            session: AsyncSession, current: Appointment, grants: dict[UUID, Grant]
        ) -> Appointment:
            changed = set_status(current, status, now)
            if current.kind is Kind.VISIT and current.client_id is not None:
                await SqlContactLog(session, now).file(
                    [
                        entry_for_visit(
                            entry_id=uuid.uuid4(),
                            appointment_id=current.id,
                            client_id=current.client_id,
                            starts_at=current.starts_at,
                            ends_at=current.ends_at,
                            took_place=status is Status.COMPLETED,
                            workers=current.workers(),
                        )
                    ]
                )
            return changed

        return await self._change(principal, appointment_id, version, apply)

    async def add_guest(
        self, principal: Principal, appointment_id: UUID, version: int, guest: GuestDraft
    ) -> Shown:
        now = self._clock.now()

        async def apply(
            session: AsyncSession, current: Appointment, grants: dict[UUID, Grant]
        ) -> Appointment:
            if current.status.final:
                raise InvalidInput("this appointment is over", details={"field": "status"})
            item_id = None
            if guest.item is not None:
                if not 0 <= guest.item < len(current.items):
                    raise InvalidInput("no such agenda item", details={"field": "item"})
                item_id = current.items[guest.item].id
            person = Participant(
                uuid.uuid4(),
                ParticipantRole.GUEST,
                JoinCodes.new_link_id(),
                member_id=guest.member_id,
                name=validate_title(guest.name, "name") if guest.member_id is None else None,
                item_id=item_id,
            )
            changed = check_appointment(
                replace(
                    current,
                    participants=(*current.participants, person),
                    updated_at=now,
                    version=current.version + 1,
                )
            )
            await self._check_guests(session, changed, grants)
            return changed

        return await self._change(principal, appointment_id, version, apply)

    async def remove_participant(
        self, principal: Principal, appointment_id: UUID, participant_id: UUID, version: int
    ) -> Shown:
        """Take someone out; their link stops working at once."""
        now = self._clock.now()

        async def apply(
            session: AsyncSession, current: Appointment, grants: dict[UUID, Grant]
        ) -> Appointment:
            if current.participant(participant_id) is None:
                raise NotFound("no such participant", details={"id": str(participant_id)})
            return check_appointment(
                replace(
                    current,
                    participants=tuple(p for p in current.participants if p.id != participant_id),
                    updated_at=now,
                    version=current.version + 1,
                )
            )

        return await self._change(principal, appointment_id, version, apply)

    # --- joining -------------------------------------------------------------------------

    async def exchange(self, code: str) -> JoinAnswer:
        """A join code, POSTed by the join page: a short-lived join token for this
        participant and appointment while the link lets them in, or the countdown while
        the lobby is not open yet. Refusals carry a Dutch message for the person."""
        now = self._clock.now()
        link_id = self._codes.link_id(code)
        async with self._db.transaction() as session:
            found = await SqlAgenda(session).by_link(link_id) if link_id else None
            if found is None:
                raise NotFound(UNKNOWN_LINK, details={"reason": "unknown_link"})
            appointment, participant = found
            verdict = join_verdict(appointment, participant, now)
            if verdict.state in (JoinState.OPEN, JoinState.EARLY):
                await SqlAgenda(session).mark_opened(participant.id, now)
            await self._access.audit.append(
                session,
                AuditRecord(
                    event=AuditEvent.READ,
                    outcome=Outcome.SUCCESS
                    if verdict.state in (JoinState.OPEN, JoinState.EARLY)
                    else Outcome.DENIED,
                    actor=f"participant:{participant.id}",
                    client_id=appointment.client_id,
                    object_type="join_link",
                    object_id=str(appointment.id),
                    detail={"state": verdict.state.value, "role": participant.role.value},
                ),
            )
            names = tuple((await staff_names(session, appointment.workers())).values())
        if verdict.state in JOIN_MESSAGES:
            raise JoinRefused(JOIN_MESSAGES[verdict.state], details={"reason": verdict.state.value})
        token = expires = None
        if verdict.state is JoinState.OPEN:
            lifetime = min(timedelta(minutes=10), verdict.closes_at - now)
            token = self._tokens.issue_join(
                JoinPass(appointment.id, participant.id, participant.role.value), now, lifetime
            )
            expires = now + lifetime
        return JoinAnswer(verdict, appointment, participant, names, token, expires)

    async def lobby(self, grant: JoinPass, appointment_id: UUID) -> JoinAnswer:
        """What a join token shows its holder: only their own appointment."""
        if grant.appointment_id != appointment_id:
            raise Forbidden(
                "this join token is for another appointment",
                details={"reason": "other_appointment"},
            )
        now = self._clock.now()
        async with self._db.transaction(read_only=True) as session:
            appointment = await SqlAgenda(session).get(appointment_id)
            participant = appointment.participant(grant.participant_id)
            if participant is None:
                raise Forbidden(
                    "you are no longer in this appointment", details={"reason": "removed"}
                )
            names = tuple((await staff_names(session, appointment.workers())).values())
        verdict = join_verdict(appointment, participant, now)
        if verdict.state in JOIN_MESSAGES:
            raise JoinRefused(JOIN_MESSAGES[verdict.state], details={"reason": verdict.state.value})
        return JoinAnswer(verdict, appointment, participant, names, None, None)

    # --- when clients prefer to be reached -------------------------------------------------

    async def contact_times(self, principal: Principal, client_id: UUID) -> list[WorkingHours]:
        async with self._access.transaction() as session:
            grant = await self._access.grant(
                session, principal, client_id, Action.READ, Category.RECORD
            )
            await self._access.audit.append(
                session, through(grant, AuditEvent.READ, "contact_times", str(client_id))
            )
            return (await SqlContactTimes(session).of([client_id]))[client_id]

    async def set_contact_times(
        self, principal: Principal, client_id: UUID, windows: Sequence[WorkingHours]
    ) -> list[WorkingHours]:
        checked = validate_hours(windows)
        async with self._access.transaction() as session:
            grant = await self._access.grant(
                session, principal, client_id, Action.CHANGE, Category.RECORD
            )
            await SqlContactTimes(session).replace(client_id, checked)
            await self._access.audit.append(
                session, through(grant, AuditEvent.CHANGE, "contact_times", str(client_id))
            )
        return list(checked)

    # --- availability --------------------------------------------------------------------

    async def hours(self, principal: Principal, subject: str | None) -> list[WorkingHours]:
        whose = await self._whose(principal, subject)
        async with self._db.transaction(read_only=True) as session:
            return await SqlAvailability(session).hours(whose)

    async def set_hours(
        self, principal: Principal, hours: Sequence[WorkingHours]
    ) -> list[WorkingHours]:
        checked = validate_hours(hours)
        async with self._db.transaction() as session:
            await SqlAvailability(session).replace_hours(principal.subject, checked)
        return list(checked)

    async def exceptions(
        self, principal: Principal, subject: str | None, starts: datetime, ends: datetime
    ) -> list[AvailabilityException]:
        whose = await self._whose(principal, subject)
        async with self._db.transaction(read_only=True) as session:
            return await SqlAvailability(session).exceptions(whose, starts, ends)

    async def add_exception(
        self,
        principal: Principal,
        starts_at: datetime,
        ends_at: datetime,
        available_then: bool,
        note: str | None,
    ) -> AvailabilityException:
        if ends_at <= starts_at or ends_at - starts_at > MAX_EXCEPTION:
            raise InvalidInput(
                "an exception ends after it starts and lasts at most a year",
                details={"field": "ends_at"},
            )
        exception = AvailabilityException(
            uuid.uuid4(), starts_at, ends_at, available_then, validate_title(note, "note")
        )
        async with self._db.transaction() as session:
            await SqlAvailability(session).add_exception(principal.subject, exception)
        return exception

    async def remove_exception(self, principal: Principal, exception_id: UUID) -> None:
        async with self._db.transaction() as session:
            await SqlAvailability(session).remove_exception(principal.subject, exception_id)

    async def _whose(self, principal: Principal, subject: str | None) -> str:
        if subject is None or subject == principal.subject:
            return principal.subject
        async with self._db.transaction(read_only=True) as session:
            mine = await self._access.teams_of(session, principal.subject)
            theirs = await self._access.teams_of(session, subject)
        if not mine & theirs:
            raise Forbidden("you may see the availability of colleagues in your teams")
        return subject


def _care_staff(principal: Principal) -> None:
    if principal.kind is not PrincipalKind.STAFF or not principal.roles & CARE_ROLES:
        raise Forbidden("the agenda is for workers and coordinators")
    if not principal.second_factor:
        raise Forbidden("sign in with your second factor first")


def _clients_of_guest(appointment: Appointment, guest: Participant) -> list[UUID]:
    if appointment.client_id is not None:
        return [appointment.client_id]
    if guest.item_id is not None:
        return [i.client_id for i in appointment.items if i.id == guest.item_id]
    return list(dict.fromkeys(i.client_id for i in appointment.items))


def _template(first: Appointment) -> dict[str, object]:
    return {
        "title": first.title,
        "client_id": str(first.client_id) if first.client_id else None,
        "participants": [
            {
                "role": p.role.value,
                "subject": p.subject,
                "client_id": str(p.client_id) if p.client_id else None,
                "member_id": str(p.member_id) if p.member_id else None,
                "name": p.name,
            }
            for p in first.participants
        ],
    }


def _from_template(
    template: dict[str, object],
    series: Series,
    starts_at: datetime,
    ends_at: datetime,
    kind: Kind,
    now: datetime,
) -> Appointment:
    def uid(value: object) -> UUID | None:
        return UUID(str(value)) if value else None

    people = template["participants"]
    assert isinstance(people, list)
    client = template.get("client_id")
    title = template.get("title")
    return Appointment(
        id=uuid.uuid4(),
        team_id=series.team_id,
        kind=kind,
        status=Status.PLANNED,
        starts_at=starts_at,
        ends_at=ends_at,
        created_by=series.created_by,
        created_at=now,
        updated_at=now,
        title=str(title) if title else None,
        client_id=uid(client),
        participants=tuple(
            Participant(
                uuid.uuid4(),
                ParticipantRole(p["role"]),
                JoinCodes.new_link_id(),
                subject=p.get("subject"),
                client_id=uid(p.get("client_id")),
                member_id=uid(p.get("member_id")),
                name=p.get("name"),
            )
            for p in people
        ),
        series_id=series.id,
        occurrence_at=starts_at,
    )
