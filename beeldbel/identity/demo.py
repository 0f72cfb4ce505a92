"""Demo staff: five colleagues of Wijkteam Hof van Twente, with fixed passwords and TOTP secrets.

Only for trying Beeldbel out on one's own machine (``serve --demo`` refuses any address
but loopback). Seeding is idempotent: an existing username is left as it is.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from uuid import UUID

from beeldbel.audit.model import AuditEvent, AuditRecord, Outcome
from beeldbel.audit.service import AuditLog
from beeldbel.clock import Clock
from beeldbel.db.engine import Database
from beeldbel.db.repositories.staff import SqlStaffRepository
from beeldbel.errors import Conflict
from beeldbel.identity.factors import Factors
from beeldbel.identity.model import Role, StaffUser
from beeldbel.identity.passwords import Passwords

__all__ = [
    "DEMO_PASSWORD",
    "DEMO_STAFF",
    "DEMO_TEAM",
    "DemoStaff",
    "DemoUser",
    "demo_accounts_with_demo_password",
    "seed_staff",
]

DEMO_TEAM = "Wijkteam Hof van Twente"
DEMO_PASSWORD = "demo-wachtwoord"  # noqa: S105 (public on purpose: demo accounts only)


@dataclass(frozen=True, slots=True)
class DemoUser:
    username: str
    display_name: str
    roles: frozenset[Role]
    totp_secret: str  # base32, public on purpose


DEMO_STAFF: tuple[DemoUser, ...] = (
    DemoUser("anouk", "Anouk Jansen", frozenset({Role.WORKER}), "ANOUKDEMOANOUKDEMOANOUKDEMOANOUK"),
    DemoUser("daan", "Daan Bosman", frozenset({Role.WORKER}), "DAANDEMODAANDEMODAANDEMODAANDEMO"),
    DemoUser(
        "femke", "Femke Kuipers", frozenset({Role.COORDINATOR}), "FEMKEDEMOFEMKEDEMOFEMKEDEMOFEMKE"
    ),
    DemoUser("joost", "Joost Meijer", frozenset({Role.ADMIN}), "JOOSTDEMOJOOSTDEMOJOOSTDEMOJOOST"),
    DemoUser(
        "ingrid",
        "Ingrid Smit",
        frozenset({Role.PRIVACY_OFFICER}),
        "INGRIDDEMOINGRIDDEMOINGRIDDEMOIN",
    ),
)


@dataclass(frozen=True, slots=True)
class DemoStaff:
    """What seeding made, and how to sign in with it (printed by ``beeldbel demo``)."""

    subjects: Mapping[str, str] = field(default_factory=dict)  # username -> principal subject
    sign_in_help: tuple[str, ...] = ()


def _help() -> tuple[str, ...]:
    lines = [
        f"Demo staff of {DEMO_TEAM}; every password is {DEMO_PASSWORD!r}:",
        *(
            f"  {u.username:<7} {u.display_name:<14} {', '.join(sorted(u.roles)):<16} "
            f"TOTP secret {u.totp_secret}"
            for u in DEMO_STAFF
        ),
        "Sign in with username and password, then the 6-digit code that any authenticator",
        "app shows for the TOTP secret (add it by hand), or that this command prints:",
        "  python -c \"import pyotp;print(pyotp.TOTP('SECRET').now())\"",
    ]
    return tuple(lines)


async def seed_staff(db: Database, clock: Clock, teams: Mapping[str, UUID]) -> DemoStaff:
    """Seed demo staff for the demo teams (``teams`` maps team name to id). Idempotent."""
    team_id = teams.get(DEMO_TEAM)
    passwords = Passwords()
    audit = AuditLog(db, clock)
    subjects: dict[str, str] = {}
    for demo in DEMO_STAFF:
        async with db.transaction(read_only=True) as session:
            found = await SqlStaffRepository(session).credentials_by_username(demo.username)
        if found is not None:
            subjects[demo.username] = found.user.subject
            continue
        now = clock.now()
        user = StaffUser(
            id=uuid.uuid4(),
            username=demo.username,
            display_name=demo.display_name,
            roles=demo.roles,
            teams=frozenset({team_id}) if team_id else frozenset(),
            totp_enabled=True,
            disabled=False,
            created_at=now,
            updated_at=now,
        )
        password_hash = await passwords.hash(DEMO_PASSWORD)
        try:
            async with db.transaction() as session:
                staff = SqlStaffRepository(session)
                await staff.add(user, password_hash)
                await staff.set_factor(user.id, Factors.unsealed(demo.totp_secret), now)
                await audit.append(
                    session,
                    AuditRecord(
                        AuditEvent.ACCOUNT_CHANGE,
                        Outcome.SUCCESS,
                        actor="demo",
                        object_type="staff_user",
                        object_id=user.subject,
                        detail={"change": "created", "demo": "true"},
                    ),
                )
        except Conflict:  # seeded concurrently by another process
            async with db.transaction(read_only=True) as session:
                again = await SqlStaffRepository(session).credentials_by_username(demo.username)
            if again is None:
                raise
            subjects[demo.username] = again.user.subject
            continue
        subjects[demo.username] = user.subject
    return DemoStaff(subjects=subjects, sign_in_help=_help())


async def demo_accounts_with_demo_password(db: Database) -> list[str]:
    """Usernames of enabled demo accounts that still have the public demo password.

    ``serve`` refuses to listen beyond this machine while any exist: a database once
    seeded with demo data must not become reachable with well-known passwords.
    """
    passwords = Passwords()
    exposed: list[str] = []
    for demo in DEMO_STAFF:
        async with db.transaction(read_only=True) as session:
            found = await SqlStaffRepository(session).credentials_by_username(demo.username)
        if (
            found is not None
            and not found.user.disabled
            and await passwords.verify(found.password_hash, DEMO_PASSWORD)
        ):
            exposed.append(demo.username)
    return exposed
