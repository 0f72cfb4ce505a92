"""Calls in SQL: the state machine's value as JSON per appointment, saved by compare and set
on its version, and outcomes stored once (the appointment is the key)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from beeldbel.calls.state import (
    Call,
    EndReason,
    Outcome,
    Phase,
    Seat,
    SeatOutcome,
    SeatStatus,
)
from beeldbel.db.tables.calls import CallOutcomeRow, CallRow

__all__ = ["SqlCalls", "call_from_json", "call_to_json"]


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _parse(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def call_to_json(call: Call) -> dict[str, object]:
    return {
        "appointment_id": str(call.appointment_id),
        "phase": call.phase.value,
        "opened_at": _time(call.opened_at),
        "grace_s": call.grace.total_seconds(),
        "auto_admit_client": call.auto_admit_client,
        "colleagues_count": call.colleagues_count,
        "started_at": _time(call.started_at),
        "ended_at": _time(call.ended_at),
        "end_reason": call.end_reason.value if call.end_reason else None,
        "no_host_since": _time(call.no_host_since),
        "version": call.version,
        "seats": [
            {
                "participant_id": str(s.participant_id),
                "role": s.role,
                "status": s.status.value,
                "admitted": s.admitted,
                "first_joined_at": _time(s.first_joined_at),
                "in_call_since": _time(s.in_call_since),
                "away_since": _time(s.away_since),
                "left_at": _time(s.left_at),
                "reconnects": s.reconnects,
                "media_path": s.media_path,
                "took_part": s.took_part,
            }
            for s in call.seats
        ],
    }


def call_from_json(data: dict[str, Any]) -> Call:
    opened = _parse(data["opened_at"])
    assert opened is not None
    return Call(
        appointment_id=UUID(data["appointment_id"]),
        phase=Phase(data["phase"]),
        opened_at=opened,
        grace=timedelta(seconds=float(data["grace_s"])),
        auto_admit_client=bool(data["auto_admit_client"]),
        colleagues_count=bool(data.get("colleagues_count", False)),
        started_at=_parse(data["started_at"]),
        ended_at=_parse(data["ended_at"]),
        end_reason=EndReason(data["end_reason"]) if data["end_reason"] else None,
        no_host_since=_parse(data["no_host_since"]),
        version=int(data["version"]),
        seats=tuple(
            Seat(
                participant_id=UUID(s["participant_id"]),
                role=str(s["role"]),
                status=SeatStatus(s["status"]),
                admitted=bool(s["admitted"]),
                first_joined_at=_parse(s["first_joined_at"]),
                in_call_since=_parse(s["in_call_since"]),
                away_since=_parse(s["away_since"]),
                left_at=_parse(s["left_at"]),
                reconnects=int(s["reconnects"]),
                media_path=s["media_path"],
                took_part=bool(s.get("took_part", False)),
            )
            for s in data["seats"]
        ),
    )


class SqlCalls:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, appointment_id: UUID) -> Call | None:
        row = await self._session.get(CallRow, appointment_id)
        return call_from_json(row.state) if row is not None else None

    async def add(self, call: Call, now: datetime) -> bool:
        """Store a new call; False if another process stored one first."""
        try:
            async with self._session.begin_nested():
                await self._session.execute(
                    insert(CallRow).values(
                        appointment_id=call.appointment_id,
                        phase=call.phase.value,
                        state=call_to_json(call),
                        version=call.version,
                        updated_at=now,
                    )
                )
        except IntegrityError:
            return False
        return True

    async def replace(self, before: Call, after: Call, now: datetime) -> bool:
        """Store ``after`` if the row is still at ``before.version``."""
        result = await self._session.execute(
            update(CallRow)
            .where(
                CallRow.appointment_id == after.appointment_id, CallRow.version == before.version
            )
            .values(
                phase=after.phase.value,
                state=call_to_json(after),
                version=after.version,
                updated_at=now,
            )
        )
        return getattr(result, "rowcount", 0) == 1

    async def unfinished(self, limit: int) -> list[UUID]:
        rows = await self._session.scalars(
            select(CallRow.appointment_id)
            .where(CallRow.phase != Phase.ENDED.value)
            .order_by(CallRow.updated_at)
            .limit(limit)
        )
        return list(rows.all())

    async def add_outcome(self, outcome: Outcome, quality: dict[str, object] | None = None) -> bool:
        """File the outcome once: False if it was already there."""
        try:
            async with self._session.begin_nested():
                await self._session.execute(
                    insert(CallOutcomeRow).values(
                        appointment_id=outcome.appointment_id,
                        reason=outcome.reason.value,
                        started_at=outcome.started_at,
                        ended_at=outcome.ended_at,
                        duration_s=int(outcome.duration.total_seconds()),
                        media_path=outcome.media_path,
                        reconnects=outcome.reconnects,
                        seats=[
                            {
                                "participant_id": str(s.participant_id),
                                "role": s.role,
                                "joined_at": _time(s.joined_at),
                                "left_at": _time(s.left_at),
                                "reconnects": s.reconnects,
                                "took_part": s.took_part,
                            }
                            for s in outcome.seats
                        ],
                        quality=quality,
                    )
                )
        except IntegrityError:
            return False
        return True

    async def mark_filed(self, appointment_id: UUID, now: datetime) -> None:
        await self._session.execute(
            update(CallOutcomeRow)
            .where(CallOutcomeRow.appointment_id == appointment_id)
            .values(filed_at=now)
        )

    async def stored_outcome(self, appointment_id: UUID) -> Outcome | None:
        row = await self._session.get(CallOutcomeRow, appointment_id)
        if row is None:
            return None
        return Outcome(
            appointment_id=row.appointment_id,
            reason=EndReason(row.reason),
            started_at=row.started_at,
            ended_at=row.ended_at,
            duration=timedelta(seconds=row.duration_s),
            media_path=row.media_path,
            reconnects=row.reconnects,
            seats=tuple(
                SeatOutcome(
                    participant_id=UUID(str(s["participant_id"])),
                    role=str(s["role"]),
                    joined_at=_parse(s["joined_at"]),
                    left_at=_parse(s["left_at"]),
                    reconnects=int(str(s["reconnects"])),
                    took_part=bool(s["took_part"]),
                )
                for s in row.seats
            ),
        )

    async def stored_quality(self, appointment_id: UUID) -> dict[str, object] | None:
        row = await self._session.get(CallOutcomeRow, appointment_id)
        return None if row is None else row.quality

    async def outcome(self, appointment_id: UUID) -> CallOutcomeRow | None:
        return await self._session.get(CallOutcomeRow, appointment_id)
