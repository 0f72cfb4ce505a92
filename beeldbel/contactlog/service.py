"""Reading the contact log: a care-file read, granted by the access policy and audited."""

from __future__ import annotations

from uuid import UUID

from beeldbel.access.model import Action, Category
from beeldbel.access.service import AccessService
from beeldbel.audit.model import AuditEvent, through
from beeldbel.clientfile.service import Granted
from beeldbel.clock import Clock
from beeldbel.contactlog.model import ContactEntry
from beeldbel.db.repositories.agenda import staff_names
from beeldbel.db.repositories.contactlog import SqlContactLog
from beeldbel.identity.model import Principal

__all__ = ["ContactLogService"]


class ContactLogService:
    def __init__(self, clock: Clock, access: AccessService) -> None:
        self._clock = clock
        self._access = access

    async def of_client(
        self, principal: Principal, client_id: UUID, limit: int
    ) -> Granted[tuple[list[ContactEntry], dict[str, str]]]:
        async with self._access.transaction() as session:
            grant = await self._access.grant(
                session, principal, client_id, Action.READ, Category.CARE_FILE
            )
            entries = await SqlContactLog(session, self._clock.now()).of_client(
                grant, client_id, limit
            )
            await self._access.audit.append(
                session, through(grant, AuditEvent.READ, "contact_log", str(client_id))
            )
            names = await staff_names(
                session, {p.subject for e in entries for p in e.people if p.subject}
            )
        return Granted((entries, names), grant)
