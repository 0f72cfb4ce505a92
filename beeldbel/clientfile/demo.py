"""Demo clients of Wijkteam Hof van Twente, with networks, care teams and consent.

Fictitious people at fictitious addresses in Goor, Markelo, Delden and Diepenheim. Only for
trying Beeldbel out on one's own machine. Seeding is idempotent: each demo client has a
fixed id, and one that exists is left as it is (also when another process seeds at once).

Demo data is written as rows, not through the access policy: nobody reads or changes a
real client's file here, so there is no grant to ask for and no access to audit.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from beeldbel.access.model import NetworkRole
from beeldbel.clientfile.model import (
    Address,
    ConsentDecision,
    ConsentMethod,
    ConsentTopic,
    LegalBasis,
    NetworkMember,
    consent_giver,
    name_key,
    new_client,
    new_network_member,
)
from beeldbel.clock import Clock
from beeldbel.db.engine import Database
from beeldbel.db.tables.clients import (
    CareTeamMemberRow,
    ClientRow,
    ConsentRecordRow,
    NetworkMemberRow,
)
from beeldbel.identity.demo import DemoStaff

__all__ = ["DEMO_CLIENTS", "seed_clients"]

DEMO_TEAM = "Wijkteam Hof van Twente"
_NAMESPACE = uuid.UUID("6c1f4d1e-5a43-4c1b-9a53-3f2f0e1b7d21")

R = NetworkRole
T = ConsentTopic
GIVEN, WITHDRAWN = ConsentDecision.GIVEN, ConsentDecision.WITHDRAWN
SPOKEN, SIGNED = ConsentMethod.SPOKEN, ConsentMethod.SIGNED


@dataclass(frozen=True, slots=True)
class DemoMember:
    name: str
    roles: frozenset[NetworkRole]
    phone: str | None = None
    email: str | None = None
    language: str | None = None


@dataclass(frozen=True, slots=True)
class DemoConsent:
    topic: ConsentTopic
    decision: ConsentDecision
    how: ConsentMethod
    by: str | None = None  # a network member's name; None: the client themself


@dataclass(frozen=True, slots=True)
class DemoClient:
    name: str
    born: date | None
    phone: str
    address: tuple[str, str, str]
    legal_basis: LegalBasis = LegalBasis.WMO_2015
    language: str = "nl"
    care_team: tuple[str, ...] = ()  # usernames; the first one leads
    network: tuple[DemoMember, ...] = ()
    consent: tuple[DemoConsent, ...] = ()


DEMO_CLIENTS: tuple[DemoClient, ...] = (
    DemoClient(
        "Gerrit Nijhuis",
        date(1938, 4, 17),
        "0547 271 430",
        ("Grotestraat 112", "7471 CT", "Goor"),
        care_team=("anouk", "daan"),
        network=(
            DemoMember(
                "Ans ter Horst-Nijhuis",
                frozenset({R.FAMILY, R.MANTELZORGER}),
                "06 1234 5670",
                "ans.terhorst@example.nl",
            ),
        ),
        consent=(
            DemoConsent(T.VIDEO_CALLS, GIVEN, SPOKEN),
            DemoConsent(T.GUESTS_IN_CALLS, GIVEN, SPOKEN),
            DemoConsent(T.TABLET_AUTO_ANSWER, GIVEN, SIGNED),
            DemoConsent(T.RECORDING, GIVEN, SPOKEN),
            DemoConsent(T.RECORDING, WITHDRAWN, SPOKEN),
        ),
    ),
    DemoClient(
        "Hanna Wolterink",
        date(1931, 11, 2),
        "0547 361 208",
        ("Holterweg 45", "7475 AC", "Markelo"),
        care_team=("daan",),
        network=(
            DemoMember(
                "Marieke Wolterink",
                frozenset({R.FAMILY, R.MANTELZORGER, R.MENTOR}),
                "06 2345 6781",
                "marieke.wolterink@example.nl",
            ),
        ),
        consent=(
            DemoConsent(T.VIDEO_CALLS, GIVEN, SIGNED, by="Marieke Wolterink"),
            DemoConsent(T.TABLET_AUTO_ANSWER, GIVEN, SIGNED, by="Marieke Wolterink"),
        ),
    ),
    DemoClient(
        "Hendrik Oude Lenferink",
        date(1946, 7, 9),
        "074 376 1290",
        ("Langestraat 8", "7491 AE", "Delden"),
        care_team=("anouk",),
        network=(
            DemoMember(
                "Petra de Vries (Bewindvoering Twente)",
                frozenset({R.BEWINDVOERDER}),
                "074 255 0199",
                "p.devries@example.nl",
            ),
            DemoMember("Jan Oude Lenferink", frozenset({R.FAMILY}), "06 3456 7892"),
        ),
        consent=(DemoConsent(T.VIDEO_CALLS, GIVEN, SPOKEN),),
    ),
    DemoClient(
        "Fatma Yılmaz",  # noqa: RUF001 (a Turkish dotless i, on purpose)
        date(1952, 3, 21),
        "0547 384 517",
        ("Molenstraat 31", "7471 GK", "Goor"),
        language="tr",
        care_team=("anouk", "daan"),
        network=(
            DemoMember(
                "Elif Yılmaz",  # noqa: RUF001
                frozenset({R.FAMILY, R.MANTELZORGER}),
                "06 4567 8903",
                "elif.yilmaz@example.nl",
                language="nl",
            ),
            DemoMember(
                "Ayşe Demir (tolk)", frozenset({R.INTERPRETER}), "06 5678 9014", language="tr"
            ),
        ),
        consent=(
            DemoConsent(T.VIDEO_CALLS, GIVEN, SPOKEN),
            DemoConsent(T.GUESTS_IN_CALLS, GIVEN, SPOKEN),
        ),
    ),
    DemoClient(
        "Willemien Bruggink",
        date(1940, 1, 30),
        "0547 351 764",
        ("Grotestraat 3", "7478 AA", "Diepenheim"),
        language="nds",
        care_team=("daan",),
        consent=(DemoConsent(T.VIDEO_CALLS, GIVEN, SPOKEN),),
    ),
    DemoClient(
        "Sem Kamphuis",
        date(2014, 9, 12),
        "06 6789 0125",
        ("Stationsstraat 17", "7475 AV", "Markelo"),
        legal_basis=LegalBasis.JEUGDWET,
        care_team=("anouk",),
        network=(
            DemoMember(
                "Linda Kamphuis",
                frozenset({R.FAMILY, R.PARENT_WITH_AUTHORITY}),
                "06 6789 0125",
                "linda.kamphuis@example.nl",
            ),
        ),
        consent=(DemoConsent(T.VIDEO_CALLS, GIVEN, SIGNED, by="Linda Kamphuis"),),
    ),
)


def demo_id(kind: str, name: str) -> UUID:
    return uuid.uuid5(_NAMESPACE, f"{kind}:{name}")


async def seed_clients(
    db: Database, clock: Clock, teams: Mapping[str, UUID], staff: DemoStaff
) -> int:
    """Seed demo clients; returns how many were created. Idempotent.

    Care teams are made of the demo staff's subjects; without demo staff (``staff`` is
    empty) the clients are seeded without care teams."""
    team_id = teams.get(DEMO_TEAM)
    if team_id is None:
        return 0
    created = 0
    for demo in DEMO_CLIENTS:
        client_id = demo_id("client", demo.name)
        async with db.transaction(read_only=True) as session:
            if await session.scalar(select(ClientRow.id).where(ClientRow.id == client_id)):
                continue
        try:
            async with db.transaction() as session:
                await _add(session, demo, client_id, team_id, clock, staff)
            created += 1
        except IntegrityError:  # seeded concurrently by another process
            pass
    return created


async def _add(
    session: AsyncSession,
    demo: DemoClient,
    client_id: UUID,
    team_id: UUID,
    clock: Clock,
    staff: DemoStaff,
) -> None:
    now = clock.now()
    client = new_client(
        client_id,
        team_id,
        name=demo.name,
        legal_basis=demo.legal_basis,
        now=now,
        date_of_birth=demo.born,
        phone=demo.phone,
        address=Address.of(*demo.address),
        preferred_language=demo.language,
    )
    assert client.address is not None
    session.add(
        ClientRow(
            id=client.id,
            team_id=team_id,
            name=client.name,
            name_key=name_key(client.name),
            date_of_birth=client.date_of_birth,
            phone=client.phone,
            street=client.address.street,
            postcode=client.address.postcode,
            town=client.address.town,
            preferred_language=client.preferred_language,
            legal_basis=client.legal_basis.value,
            file_state=client.file_state.value,
            created_at=now,
            updated_at=now,
            closed_at=None,
            version=1,
            care_team_version=1,
            consent_seq=len(demo.consent),
        )
    )
    await session.flush()  # rows without relationships are inserted in the order flushed
    subjects = [staff.subjects[u] for u in demo.care_team if u in staff.subjects]
    for position, subject in enumerate(subjects):
        session.add(
            CareTeamMemberRow(
                client_id=client.id, subject=subject, is_lead=position == 0, added_at=now
            )
        )
    members: dict[str, NetworkMember] = {}
    for spec in demo.network:
        member = new_network_member(
            demo_id("member", f"{demo.name}/{spec.name}"),
            client.id,
            name=spec.name,
            roles=spec.roles,
            now=now,
            phone=spec.phone,
            email=spec.email,
            language=spec.language,
        )
        members[spec.name] = member
        session.add(
            NetworkMemberRow(
                id=member.id,
                client_id=client.id,
                name=member.name,
                roles=sorted(r.value for r in member.roles),
                phone=member.phone,
                email=member.email,
                language=member.language,
                created_at=now,
                updated_at=now,
                removed_at=None,
                version=1,
            )
        )
    await session.flush()
    recorder = subjects[0] if subjects else "demo"
    for seq, decision in enumerate(demo.consent, start=1):
        giver = consent_giver(client.id, members[decision.by] if decision.by else None)
        session.add(
            ConsentRecordRow(
                id=demo_id("consent", f"{demo.name}/{seq}"),
                client_id=client.id,
                seq=seq,
                topic=decision.topic.value,
                decision=decision.decision.value,
                representative_id=giver.member_id,
                representative_role=giver.role.value if giver.role else None,
                how=decision.how.value,
                recorded_by=recorder,
                recorded_at=now - timedelta(days=len(demo.consent) - seq),
            )
        )
    await session.flush()
