"""`beeldbel demo` seeds a wijkteam in Hof van Twente with clients, networks, care teams and
consent; seeding twice changes nothing."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from uuid import UUID, uuid4

from sqlalchemy import func, select

from beeldbel.clientfile.demo import DEMO_CLIENTS, seed_clients
from beeldbel.clientfile.model import (
    LEGAL_REPRESENTATIVE_ROLES,
    ConsentRecord,
    ConsentTopic,
    is_given,
)
from beeldbel.clock import SystemClock
from beeldbel.db.engine import Database
from beeldbel.db.repositories.clients import _to_consent
from beeldbel.db.tables import TeamRow
from beeldbel.db.tables.clients import (
    CareTeamMemberRow,
    ClientRow,
    ConsentRecordRow,
    NetworkMemberRow,
)
from beeldbel.demo import seed_demo
from beeldbel.identity.demo import DemoStaff


async def test_demo_seeds_clients_with_networks_care_teams_and_consent_once(
    backend: str, database_url: str
) -> None:
    db = Database(database_url)
    try:
        first = await seed_demo(db, SystemClock())
        second = await seed_demo(db, SystemClock())
        assert (first.clients_created, second.clients_created) == (len(DEMO_CLIENTS), 0)
        async with db.transaction(read_only=True) as session:
            clients = (await session.scalars(select(ClientRow))).all()
            towns = {c.town for c in clients}
            members = (await session.scalars(select(NetworkMemberRow))).all()
            leads = (
                await session.execute(
                    select(CareTeamMemberRow.client_id, func.count())
                    .where(CareTeamMemberRow.is_lead)
                    .group_by(CareTeamMemberRow.client_id)
                )
            ).all()
            history = [_to_consent(r) for r in await session.scalars(select(ConsentRecordRow))]
        assert towns == {"Goor", "Markelo", "Delden", "Diepenheim"}
        roles = Counter(role for m in members for role in m.roles)
        assert roles["mantelzorger"] >= 2
        assert roles["bewindvoerder"] == 1
        assert roles["interpreter"] == 1
        assert any(set(m.roles) & LEGAL_REPRESENTATIVE_ROLES for m in members)
        assert len(leads) == len(DEMO_CLIENTS)
        assert all(count == 1 for _, count in leads)
        by_client: dict[UUID, list[ConsentRecord]] = {}
        for record in history:
            by_client.setdefault(record.client_id, []).append(record)
        seqs = {c.id: c.consent_seq for c in clients}
        assert all(len(records) == seqs[cid] for cid, records in by_client.items())
        gerrit = next(c.id for c in clients if c.name == "Gerrit Nijhuis")
        assert not is_given(by_client[gerrit], ConsentTopic.RECORDING)  # given, then withdrawn
        assert is_given(by_client[gerrit], ConsentTopic.VIDEO_CALLS)
    finally:
        await db.dispose()


async def test_without_demo_staff_clients_are_seeded_without_care_teams(database_url: str) -> None:
    db = Database(database_url)
    try:
        async with db.transaction() as session:
            team_id = uuid4()
            now = datetime.now(UTC)
            session.add(
                TeamRow(
                    id=team_id,
                    name="Wijkteam Hof van Twente",
                    name_key="wijkteam hof van twente",
                    municipalities=["Hof van Twente"],
                    created_at=now,
                    updated_at=now,
                    version=1,
                )
            )
        created = await seed_clients(
            db, SystemClock(), {"Wijkteam Hof van Twente": team_id}, DemoStaff()
        )
        assert created == len(DEMO_CLIENTS)
        async with db.transaction(read_only=True) as session:
            assert await session.scalar(select(func.count()).select_from(CareTeamMemberRow)) == 0
            assert await session.scalar(select(func.count()).select_from(ClientRow)) == created
    finally:
        await db.dispose()
