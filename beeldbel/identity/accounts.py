"""Managing staff accounts: create, change roles and teams, reset a password or a factor,
disable, end sessions. Used by ``beeldbel user`` (actor "cli") and the admin API.

Every change is audited (ACCOUNT_CHANGE) in the unit of work that makes it. A reset
ends every sign-in of the user; so does disabling.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from uuid import UUID

from sqlalchemy import select

from beeldbel.audit.model import AuditEvent, AuditRecord, Outcome
from beeldbel.audit.service import AuditLog
from beeldbel.clock import Clock
from beeldbel.db.engine import Database
from beeldbel.db.repositories.staff import SqlRefreshTokens, SqlStaffRepository, SqlThrottle
from beeldbel.db.tables import TeamRow
from beeldbel.errors import InvalidInput, NotFound
from beeldbel.identity.model import (
    Role,
    StaffUser,
    valid_display_name,
    valid_text,
    valid_username,
)
from beeldbel.identity.passwords import Passwords
from beeldbel.identity.rules import valid_new_password
from beeldbel.identity.serverkey import ServerKey
from beeldbel.identity.service import username_throttle_key
from beeldbel.organisation.model import name_key
from beeldbel.pagination import Page, PageRequest

__all__ = ["Accounts", "NewAccount", "generate_password"]

OBJECT = "staff_user"
# Characters, not a password: no 0/O, 1/l/I, to be read aloud and typed safely.
_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ"


def generate_password() -> str:
    """A password to hand over once: 4 groups of 5, easy to read aloud, ~115 bits."""
    return "-".join("".join(secrets.choice(_ALPHABET) for _ in range(5)) for _ in range(4))


@dataclass(frozen=True, slots=True)
class NewAccount:
    user: StaffUser
    password: str | None  # the generated password, shown once; None if one was given


def _valid_roles(roles: frozenset[Role]) -> frozenset[Role]:
    if not roles:
        raise InvalidInput("a user needs at least one role", details={"field": "roles"})
    return roles


class Accounts:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        audit: AuditLog,
        key: ServerKey,
        passwords: Passwords | None = None,
    ) -> None:
        self._db = db
        self._clock = clock
        self._audit = audit
        self._key = key
        self._passwords = passwords or Passwords()

    def _record(self, actor: str, user: StaffUser | str, **detail: str | None) -> AuditRecord:
        subject = user if isinstance(user, str) else user.subject
        if detail.get("reason") is not None:
            detail["reason"] = valid_text(str(detail["reason"]), "reason", 500)
        facts = {k: v for k, v in detail.items() if v is not None}
        return AuditRecord(
            AuditEvent.ACCOUNT_CHANGE,
            Outcome.SUCCESS,
            actor=actor,
            object_type=OBJECT,
            object_id=subject,
            detail=facts,
        )

    async def team_ids(self, names: list[str]) -> frozenset[UUID]:
        """The ids of teams named (as people write them); InvalidInput for an unknown one."""
        if not names:
            return frozenset()
        keys = {name_key(n): n for n in names}
        async with self._db.transaction(read_only=True) as session:
            rows = (
                await session.execute(
                    select(TeamRow.name_key, TeamRow.id).where(TeamRow.name_key.in_(keys))
                )
            ).all()
        found = dict(rows)
        if missing := [keys[k] for k in keys if k not in found]:
            raise InvalidInput("no such team", details={"field": "teams", "unknown": missing})
        return frozenset(found.values())

    async def team_names(self, ids: frozenset[UUID]) -> dict[UUID, str]:
        if not ids:
            return {}
        async with self._db.transaction(read_only=True) as session:
            rows = (
                await session.execute(select(TeamRow.id, TeamRow.name).where(TeamRow.id.in_(ids)))
            ).all()
        return dict(rows)

    async def create(
        self,
        actor: str,
        username: str,
        display_name: str,
        roles: frozenset[Role],
        teams: frozenset[UUID],
        password: str | None = None,
    ) -> NewAccount:
        """A new user; without a password, one is generated (and returned once)."""
        now = self._clock.now()
        cleaned = valid_username(username)
        generated = generate_password() if password is None else None
        chosen = password if password is not None else generated
        assert chosen is not None
        valid_new_password(chosen, cleaned)
        user = StaffUser(
            id=uuid.uuid4(),
            username=cleaned,
            display_name=valid_display_name(display_name),
            roles=_valid_roles(roles),
            teams=teams,
            totp_enabled=False,
            disabled=False,
            created_at=now,
            updated_at=now,
        )
        password_hash = await self._passwords.hash(chosen)
        async with self._db.transaction() as session:
            await SqlStaffRepository(session).add(user, password_hash)
            await self._audit.append(
                session,
                self._record(
                    actor,
                    user,
                    change="created",
                    roles=",".join(sorted(r.value for r in user.roles)),
                    teams=str(len(teams)),
                ),
            )
        return NewAccount(user, generated)

    async def get(self, user_id: UUID) -> StaffUser:
        async with self._db.transaction(read_only=True) as session:
            return await SqlStaffRepository(session).get(user_id)

    async def by_username(self, username: str) -> StaffUser:
        async with self._db.transaction(read_only=True) as session:
            found = await SqlStaffRepository(session).credentials_by_username(username)
        if found is None:
            raise NotFound("no such user", details={"username": username})
        return found.user

    async def list(self, page: PageRequest) -> Page[StaffUser]:
        async with self._db.transaction(read_only=True) as session:
            return await SqlStaffRepository(session).list(page)

    async def recovery_codes_left(self, user_id: UUID) -> int:
        async with self._db.transaction(read_only=True) as session:
            return await SqlStaffRepository(session).recovery_codes_left(user_id)

    async def change(
        self,
        actor: str,
        user_id: UUID,
        expected_version: int,
        *,
        display_name: str | None = None,
        roles: frozenset[Role] | None = None,
        teams: frozenset[UUID] | None = None,
        disabled: bool | None = None,
    ) -> StaffUser:
        """Change what is given, if the user is still at ``expected_version``.

        Disabling ends every sign-in of the user in the same unit of work.
        """
        now = self._clock.now()
        name = valid_display_name(display_name) if display_name is not None else None
        chosen_roles = _valid_roles(roles) if roles is not None else None
        async with self._db.transaction() as session:
            staff = SqlStaffRepository(session)
            await staff.update_profile(
                user_id,
                expected_version,
                now,
                display_name=name,
                roles=chosen_roles,
                teams=teams,
                disabled=disabled,
            )
            changed = [
                field
                for field, value in (
                    ("display_name", name),
                    ("roles", roles),
                    ("teams", teams),
                    ("disabled", disabled),
                )
                if value is not None
            ]
            detail = {"change": "profile", "fields": ",".join(changed)}
            if chosen_roles is not None:
                detail["roles"] = ",".join(sorted(r.value for r in chosen_roles))
            user = await staff.get(user_id)
            if disabled:
                ended = await SqlRefreshTokens(session).revoke_subject(
                    user.subject, now, "disabled"
                )
                detail["tokens_revoked"] = str(ended)
            await self._audit.append(session, self._record(actor, user, **detail))
        return user

    async def reset_password(
        self, actor: str, user_id: UUID, password: str | None = None, reason: str | None = None
    ) -> tuple[StaffUser, str | None]:
        """Set a new password (generated if none is given) and end every sign-in."""
        now = self._clock.now()
        user = await self.get(user_id)
        generated = generate_password() if password is None else None
        chosen = password if password is not None else generated
        assert chosen is not None
        valid_new_password(chosen, user.username)
        password_hash = await self._passwords.hash(chosen)
        async with self._db.transaction() as session:
            await SqlStaffRepository(session).set_password(user.id, password_hash, now)
            ended = await SqlRefreshTokens(session).revoke_subject(
                user.subject, now, "password_reset"
            )
            # A reset also lifts the wait after failed attempts on this name.
            throttle = SqlThrottle(session)
            await throttle.clear(username_throttle_key(self._key, user.username))
            await throttle.clear(f"f:{user.id}")
            await self._audit.append(
                session,
                self._record(
                    actor,
                    user,
                    change="password_reset",
                    tokens_revoked=str(ended),
                    reason=reason,
                ),
            )
        return await self.get(user_id), generated

    async def reset_factor(self, actor: str, user_id: UUID, reason: str | None = None) -> StaffUser:
        """Remove the TOTP factor and recovery codes; the next sign-in enrols a new one."""
        now = self._clock.now()
        user = await self.get(user_id)
        async with self._db.transaction() as session:
            await SqlStaffRepository(session).reset_factor(user.id, now)
            ended = await SqlRefreshTokens(session).revoke_subject(
                user.subject, now, "factor_reset"
            )
            await SqlThrottle(session).clear(f"f:{user.id}")
            await self._audit.append(
                session,
                self._record(
                    actor, user, change="factor_reset", tokens_revoked=str(ended), reason=reason
                ),
            )
        return await self.get(user_id)

    async def set_disabled(self, actor: str, user_id: UUID, disabled: bool) -> StaffUser:
        """Disable (ending every sign-in) or enable a user."""
        now = self._clock.now()
        async with self._db.transaction() as session:
            staff = SqlStaffRepository(session)
            await staff.set_disabled(user_id, now if disabled else None, now)
            ended = 0
            user = await staff.get(user_id)
            if disabled:
                ended = await SqlRefreshTokens(session).revoke_subject(
                    user.subject, now, "disabled"
                )
            await self._audit.append(
                session,
                self._record(
                    actor,
                    user,
                    change="disabled" if disabled else "enabled",
                    tokens_revoked=str(ended),
                ),
            )
        return user

    async def end_sessions(self, actor: str, user_id: UUID, reason: str | None = None) -> int:
        """End every sign-in of the user (a lost phone, a stolen laptop)."""
        now = self._clock.now()
        async with self._db.transaction() as session:
            user = await SqlStaffRepository(session).get(user_id)
            ended = await SqlRefreshTokens(session).revoke_subject(user.subject, now, "admin")
            await self._audit.append(
                session,
                self._record(
                    actor, user, change="sessions_ended", tokens_revoked=str(ended), reason=reason
                ),
            )
        return ended
