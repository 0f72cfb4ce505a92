"""Staff users, their teams and factors, the sign-in throttle and refresh tokens, in SQL.

Every decision that two requests could race for is a conditional statement here (a
unique key, ``WHERE used_at IS NULL``, ``WHERE failures = :seen``), so the database
settles it on PostgreSQL as on SQLite.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from beeldbel.db.paging import in_creation_order, next_cursor, split_page
from beeldbel.db.tables import TeamRow
from beeldbel.db.tables.identity import (
    RecoveryCodeRow,
    RefreshTokenRow,
    SignInThrottleRow,
    StaffUserRow,
    TeamMembershipRow,
)
from beeldbel.errors import Conflict, InvalidInput, NotFound, StaleVersion
from beeldbel.identity.model import (
    PrincipalKind,
    Role,
    StaffUser,
    parse_subject,
    plausible_username,
    username_key,
)
from beeldbel.identity.rules import ThrottleState
from beeldbel.pagination import Page, PageRequest

__all__ = [
    "Credentials",
    "RefreshRecord",
    "SqlRefreshTokens",
    "SqlStaffRepository",
    "SqlThrottle",
    "staff_exists",
    "teams_of",
]


def _staff_id(subject: str) -> UUID | None:
    parsed = parse_subject(subject)
    if parsed is None or parsed[0] is not PrincipalKind.STAFF:
        return None
    return parsed[1]


async def teams_of(session: AsyncSession, subject: str) -> frozenset[UUID]:
    """The teams a staff principal belongs to; empty for any other subject or a disabled user."""
    user_id = _staff_id(subject)
    if user_id is None:
        return frozenset()
    rows = await session.scalars(
        select(TeamMembershipRow.team_id)
        .join(StaffUserRow, StaffUserRow.id == TeamMembershipRow.user_id)
        .where(TeamMembershipRow.user_id == user_id, StaffUserRow.disabled_at.is_(None))
    )
    return frozenset(rows.all())


async def staff_exists(session: AsyncSession, subject: str) -> bool:
    """True if ``subject`` is a staff user who exists and is not disabled."""
    user_id = _staff_id(subject)
    if user_id is None:
        return False
    found = await session.scalar(
        select(StaffUserRow.id).where(
            StaffUserRow.id == user_id, StaffUserRow.disabled_at.is_(None)
        )
    )
    return found is not None


def _dialect_insert(session: AsyncSession):  # type: ignore[no-untyped-def]
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


def _rowcount(result: object) -> int:
    return int(result.rowcount)  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class Credentials:
    """A user with what signing in needs; stays inside the identity use cases."""

    user: StaffUser
    password_hash: str
    totp_secret: str | None  # sealed
    totp_last_step: int | None


class SqlStaffRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def _teams(self, user_ids: Iterable[UUID]) -> dict[UUID, frozenset[UUID]]:
        ids = list(user_ids)
        if not ids:
            return {}
        rows = (
            await self._session.execute(
                select(TeamMembershipRow.user_id, TeamMembershipRow.team_id).where(
                    TeamMembershipRow.user_id.in_(ids)
                )
            )
        ).all()
        found: dict[UUID, set[UUID]] = {i: set() for i in ids}
        for user_id, team_id in rows:
            found[user_id].add(team_id)
        return {i: frozenset(t) for i, t in found.items()}

    @staticmethod
    def _user(row: StaffUserRow, teams: frozenset[UUID]) -> StaffUser:
        return StaffUser(
            id=row.id,
            username=row.username,
            display_name=row.display_name,
            roles=frozenset(Role(r) for r in row.roles),
            teams=teams,
            totp_enabled=row.totp_enabled_at is not None,
            disabled=row.disabled_at is not None,
            created_at=row.created_at,
            updated_at=row.updated_at,
            version=row.version,
        )

    async def _check_teams(self, teams: frozenset[UUID]) -> None:
        if not teams:
            return
        known = set(
            (await self._session.scalars(select(TeamRow.id).where(TeamRow.id.in_(teams)))).all()
        )
        if missing := teams - known:
            raise InvalidInput(
                "no such team", details={"field": "teams", "unknown": sorted(map(str, missing))}
            )

    async def add(self, user: StaffUser, password_hash: str) -> None:
        """Store a new user; Conflict if the username is taken, InvalidInput for unknown teams."""
        await self._check_teams(user.teams)
        row = StaffUserRow(
            id=user.id,
            username=user.username,
            username_key=username_key(user.username),
            display_name=user.display_name,
            password_hash=password_hash,
            roles=sorted(r.value for r in user.roles),
            created_at=user.created_at,
            updated_at=user.updated_at,
            version=user.version,
        )
        try:
            async with self._session.begin_nested():
                self._session.add(row)
                await self._session.flush()
        except IntegrityError:
            raise Conflict(
                "another user already has this username", details={"field": "username"}
            ) from None
        await self._set_teams(user.id, user.teams)

    async def _set_teams(self, user_id: UUID, teams: frozenset[UUID]) -> None:
        await self._session.execute(
            delete(TeamMembershipRow).where(TeamMembershipRow.user_id == user_id)
        )
        for team_id in sorted(teams):
            self._session.add(TeamMembershipRow(user_id=user_id, team_id=team_id))
        await self._session.flush()

    async def get(self, user_id: UUID) -> StaffUser:
        row = await self._session.get(StaffUserRow, user_id, populate_existing=True)
        if row is None:
            raise NotFound("no such user", details={"id": str(user_id)})
        return self._user(row, (await self._teams([row.id]))[row.id])

    async def credentials_by_username(self, username: str) -> Credentials | None:
        if not plausible_username(username):
            return None
        row = await self._session.scalar(
            select(StaffUserRow).where(StaffUserRow.username_key == username_key(username))
        )
        return None if row is None else await self._credentials(row)

    async def credentials(self, user_id: UUID) -> Credentials | None:
        row = await self._session.get(StaffUserRow, user_id, populate_existing=True)
        return None if row is None else await self._credentials(row)

    async def _credentials(self, row: StaffUserRow) -> Credentials:
        return Credentials(
            user=self._user(row, (await self._teams([row.id]))[row.id]),
            password_hash=row.password_hash,
            totp_secret=row.totp_secret,
            totp_last_step=row.totp_last_step,
        )

    async def list(self, page: PageRequest) -> Page[StaffUser]:
        query = in_creation_order(
            select(StaffUserRow), StaffUserRow.created_at, StaffUserRow.id, page
        )
        rows, more = split_page((await self._session.scalars(query)).all(), page)
        teams = await self._teams(r.id for r in rows)
        users = tuple(self._user(r, teams[r.id]) for r in rows)
        cursor = next_cursor(users[-1].created_at, users[-1].id, more) if users else None
        return Page(items=users, next_cursor=cursor)

    async def _change(self, user_id: UUID, expected_version: int | None, **values: object) -> int:
        """Apply ``values`` and move the version on; returns the new version."""
        conditions = [StaffUserRow.id == user_id]
        if expected_version is not None:
            conditions.append(StaffUserRow.version == expected_version)
        result = await self._session.execute(
            update(StaffUserRow)
            .where(*conditions)
            .values(version=StaffUserRow.version + 1, **values)
            .returning(StaffUserRow.version)
            .execution_options(synchronize_session=False)
        )
        version = result.scalar_one_or_none()
        if version is None:
            current = await self.get(user_id)  # NotFound if it is gone
            raise StaleVersion(
                "the user was changed by someone else",
                details={"current_version": current.version},
            )
        return int(version)

    async def update_profile(
        self,
        user_id: UUID,
        expected_version: int,
        now: datetime,
        *,
        display_name: str | None = None,
        roles: frozenset[Role] | None = None,
        teams: frozenset[UUID] | None = None,
        disabled: bool | None = None,
    ) -> None:
        values: dict[str, object] = {"updated_at": now}
        if display_name is not None:
            values["display_name"] = display_name
        if disabled is not None:
            # Disabling twice keeps the first moment; enabling clears it.
            values["disabled_at"] = (
                func.coalesce(StaffUserRow.disabled_at, now) if disabled else None
            )
        if roles is not None:
            values["roles"] = sorted(r.value for r in roles)
        if teams is not None:
            await self._check_teams(teams)
        await self._change(user_id, expected_version, **values)
        if teams is not None:
            await self._set_teams(user_id, teams)

    async def set_password(self, user_id: UUID, password_hash: str, now: datetime) -> None:
        await self._change(user_id, None, password_hash=password_hash, updated_at=now)

    async def rehash_password(self, user_id: UUID, old_hash: str, new_hash: str) -> None:
        """Replace an outdated hash of the same password; not an account change."""
        await self._session.execute(
            update(StaffUserRow)
            .where(StaffUserRow.id == user_id, StaffUserRow.password_hash == old_hash)
            .values(password_hash=new_hash)
            .execution_options(synchronize_session=False)
        )

    async def set_disabled(
        self, user_id: UUID, disabled_at: datetime | None, now: datetime
    ) -> None:
        await self._change(user_id, None, disabled_at=disabled_at, updated_at=now)

    async def start_enrolment(self, user_id: UUID, version: int, sealed_secret: str) -> bool:
        """Store a pending TOTP secret, unless a factor is enabled or the account changed."""
        result = await self._session.execute(
            update(StaffUserRow)
            .where(
                StaffUserRow.id == user_id,
                StaffUserRow.version == version,
                StaffUserRow.totp_enabled_at.is_(None),
            )
            .values(totp_secret=sealed_secret, totp_last_step=None)
            .execution_options(synchronize_session=False)
        )
        return _rowcount(result) == 1

    async def finish_enrolment(
        self, user_id: UUID, version: int, sealed_secret: str, step: int, now: datetime
    ) -> bool:
        """Enable the pending factor that was checked; only one confirmation wins."""
        result = await self._session.execute(
            update(StaffUserRow)
            .where(
                StaffUserRow.id == user_id,
                StaffUserRow.version == version,
                StaffUserRow.totp_enabled_at.is_(None),
                StaffUserRow.totp_secret == sealed_secret,
            )
            .values(
                totp_enabled_at=now,
                totp_last_step=step,
                updated_at=now,
                version=StaffUserRow.version + 1,
            )
            .execution_options(synchronize_session=False)
        )
        return _rowcount(result) == 1

    async def set_factor(self, user_id: UUID, stored_secret: str, now: datetime) -> None:
        """Enable a factor without a confirming code: for seeding demo accounts only."""
        await self._change(
            user_id, None, totp_secret=stored_secret, totp_enabled_at=now, updated_at=now
        )

    async def accept_totp_step(self, user_id: UUID, step: int) -> bool:
        """Record ``step`` as used; False if it (or a later one) already was."""
        result = await self._session.execute(
            update(StaffUserRow)
            .where(
                StaffUserRow.id == user_id,
                or_(StaffUserRow.totp_last_step.is_(None), StaffUserRow.totp_last_step < step),
            )
            .values(totp_last_step=step)
            .execution_options(synchronize_session=False)
        )
        return _rowcount(result) == 1

    async def reset_factor(self, user_id: UUID, now: datetime) -> None:
        await self._change(
            user_id,
            None,
            totp_secret=None,
            totp_enabled_at=None,
            totp_last_step=None,
            updated_at=now,
        )
        await self._session.execute(
            delete(RecoveryCodeRow).where(RecoveryCodeRow.user_id == user_id)
        )

    async def replace_recovery_codes(
        self, user_id: UUID, hashes: Iterable[str], now: datetime
    ) -> None:
        await self._session.execute(
            delete(RecoveryCodeRow).where(RecoveryCodeRow.user_id == user_id)
        )
        for code_hash in hashes:
            self._session.add(RecoveryCodeRow(user_id=user_id, code_hash=code_hash, created_at=now))
        await self._session.flush()

    async def use_recovery_code(self, user_id: UUID, code_hash: str, now: datetime) -> bool:
        """Mark an unused code used; False if it is unknown or used (only one use wins)."""
        result = await self._session.execute(
            update(RecoveryCodeRow)
            .where(
                RecoveryCodeRow.user_id == user_id,
                RecoveryCodeRow.code_hash == code_hash,
                RecoveryCodeRow.used_at.is_(None),
            )
            .values(used_at=now)
            .execution_options(synchronize_session=False)
        )
        return _rowcount(result) == 1

    async def recovery_codes_left(self, user_id: UUID) -> int:
        count = await self._session.scalar(
            select(func.count())
            .select_from(RecoveryCodeRow)
            .where(RecoveryCodeRow.user_id == user_id, RecoveryCodeRow.used_at.is_(None))
        )
        return int(count or 0)


class SqlThrottle:
    """Failed sign-in attempts per key; claims are compare-and-set on the failure count."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, key: str) -> ThrottleState | None:
        row = (
            await self._session.execute(
                select(
                    SignInThrottleRow.failures,
                    SignInThrottleRow.last_failure_at,
                    SignInThrottleRow.next_allowed_at,
                ).where(SignInThrottleRow.key == key)
            )
        ).one_or_none()
        if row is None:
            return None
        return ThrottleState(
            failures=row.failures,
            last_failure_at=row.last_failure_at,
            next_allowed_at=row.next_allowed_at,
        )

    async def claim(self, key: str, seen: ThrottleState | None, new: ThrottleState) -> bool:
        """Store ``new`` if the row is still as ``seen``; False if another attempt came first."""
        values = {
            "failures": new.failures,
            "last_failure_at": new.last_failure_at,
            "next_allowed_at": new.next_allowed_at,
        }
        if seen is None:
            insert = _dialect_insert(self._session)
            result = await self._session.execute(
                insert(SignInThrottleRow).values(key=key, **values).on_conflict_do_nothing()
            )
        else:
            result = await self._session.execute(
                update(SignInThrottleRow)
                .where(
                    SignInThrottleRow.key == key,
                    SignInThrottleRow.failures == seen.failures,
                    SignInThrottleRow.last_failure_at == seen.last_failure_at,
                )
                .values(**values)
                .execution_options(synchronize_session=False)
            )
        return _rowcount(result) == 1

    async def clear(self, key: str) -> None:
        await self._session.execute(delete(SignInThrottleRow).where(SignInThrottleRow.key == key))

    async def prune(self, before: datetime) -> int:
        result = await self._session.execute(
            delete(SignInThrottleRow).where(SignInThrottleRow.last_failure_at < before)
        )
        return _rowcount(result)


@dataclass(frozen=True, slots=True)
class RefreshRecord:
    id: UUID
    family_id: UUID
    parent_id: UUID | None
    subject: str
    second_factor: bool
    issued_at: datetime
    expires_at: datetime
    used_at: datetime | None
    revoked_at: datetime | None


def _record(row: RefreshTokenRow) -> RefreshRecord:
    return RefreshRecord(
        id=row.id,
        family_id=row.family_id,
        parent_id=row.parent_id,
        subject=row.subject,
        second_factor=row.second_factor,
        issued_at=row.issued_at,
        expires_at=row.expires_at,
        used_at=row.used_at,
        revoked_at=row.revoked_at,
    )


class SqlRefreshTokens:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, record: RefreshRecord, token_hash: str) -> bool:
        """Store a token; False if its successor slot or hash is already taken."""
        row = RefreshTokenRow(
            id=record.id,
            token_hash=token_hash,
            family_id=record.family_id,
            parent_id=record.parent_id,
            subject=record.subject,
            second_factor=record.second_factor,
            issued_at=record.issued_at,
            expires_at=record.expires_at,
            used_at=record.used_at,
            revoked_at=record.revoked_at,
        )
        try:
            async with self._session.begin_nested():
                self._session.add(row)
                await self._session.flush()
        except IntegrityError:
            return False
        return True

    async def find(self, token_hash: str) -> RefreshRecord | None:
        row = await self._session.scalar(
            select(RefreshTokenRow)
            .where(RefreshTokenRow.token_hash == token_hash)
            .execution_options(populate_existing=True)
        )
        return None if row is None else _record(row)

    async def successor_of(self, token_id: UUID) -> RefreshRecord | None:
        row = await self._session.scalar(
            select(RefreshTokenRow)
            .where(RefreshTokenRow.parent_id == token_id)
            .execution_options(populate_existing=True)
        )
        return None if row is None else _record(row)

    async def mark_used(self, token_id: UUID, now: datetime) -> bool:
        """Mark a fresh token used; False if it was used or revoked meanwhile."""
        result = await self._session.execute(
            update(RefreshTokenRow)
            .where(
                RefreshTokenRow.id == token_id,
                RefreshTokenRow.used_at.is_(None),
                RefreshTokenRow.revoked_at.is_(None),
            )
            .values(used_at=now)
            .execution_options(synchronize_session=False)
        )
        return _rowcount(result) == 1

    async def revoke_family(self, family_id: UUID, now: datetime, reason: str) -> int:
        result = await self._session.execute(
            update(RefreshTokenRow)
            .where(RefreshTokenRow.family_id == family_id, RefreshTokenRow.revoked_at.is_(None))
            .values(revoked_at=now, revoked_reason=reason)
            .execution_options(synchronize_session=False)
        )
        return _rowcount(result)

    async def revoke_subject(
        self, subject: str, now: datetime, reason: str, *, keep_family: UUID | None = None
    ) -> int:
        """Revoke every sign-in of ``subject`` (but ``keep_family``); returns tokens revoked."""
        conditions = [RefreshTokenRow.subject == subject, RefreshTokenRow.revoked_at.is_(None)]
        if keep_family is not None:
            conditions.append(RefreshTokenRow.family_id != keep_family)
        result = await self._session.execute(
            update(RefreshTokenRow)
            .where(*conditions)
            .values(revoked_at=now, revoked_reason=reason)
            .execution_options(synchronize_session=False)
        )
        return _rowcount(result)

    async def active_sessions(self, subject: str, now: datetime) -> int:
        count = await self._session.scalar(
            select(func.count(func.distinct(RefreshTokenRow.family_id))).where(
                RefreshTokenRow.subject == subject,
                RefreshTokenRow.revoked_at.is_(None),
                RefreshTokenRow.used_at.is_(None),
                RefreshTokenRow.expires_at > now,
            )
        )
        return int(count or 0)

    async def prune(self, before: datetime) -> int:
        """Forget chains whose every token expired before ``before``."""
        live = select(RefreshTokenRow.family_id).where(RefreshTokenRow.expires_at >= before)
        result = await self._session.execute(
            delete(RefreshTokenRow).where(RefreshTokenRow.family_id.not_in(live))
        )
        return _rowcount(result)
