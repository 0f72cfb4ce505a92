"""The client's file as one timeline: contacts, notes, appointments and consent changes. Pure.

Each source is read newest first; :func:`newest_first` merges them into one page ordered by
(time, id) descending, which is a total order (ids are unique), so a cursor taken from the
last item of a page continues exactly where it ended.

Unanswered attempts: a run of calls the client did not join and visits that found nobody
home, not broken by a contact that took place, is what makes a client "hard to reach"
(":func:`unreached`": "3 pogingen, niet bereikt"). Case meetings do not count either way:
they are about the client, not contacts with the client.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Generic, TypeVar
from uuid import UUID

from beeldbel.contactlog.model import ContactEntry, ContactKind
from beeldbel.errors import InvalidInput
from beeldbel.pagination import Cursor

__all__ = [
    "Filter",
    "Item",
    "ItemKind",
    "Unreached",
    "attempts",
    "newest_first",
    "parse_kinds",
    "unreached",
]

T = TypeVar("T")

FAILED = frozenset({ContactKind.NOT_JOINED, ContactKind.NOBODY_HOME})
REACHED = frozenset({ContactKind.CALL, ContactKind.VISIT})


class ItemKind(StrEnum):
    CONTACT = "contact"
    NOTE = "note"
    APPOINTMENT = "appointment"
    CONSENT = "consent"


def parse_kinds(value: str | None) -> frozenset[ItemKind]:
    """``"contact,note"`` as kinds; nothing (or empty) means every kind."""
    if value is None or not value.strip():
        return frozenset(ItemKind)
    kinds: set[ItemKind] = set()
    for part in value.split(","):
        name = part.strip()
        try:
            kinds.add(ItemKind(name))
        except ValueError:
            raise InvalidInput(
                f"'{name}' is not a kind of timeline item ({', '.join(k.value for k in ItemKind)})",
                details={"field": "kinds"},
            ) from None
    return frozenset(kinds)


@dataclass(frozen=True, slots=True)
class Filter:
    """Which items: of these kinds, at or after ``since``, before ``until``, and before the
    cursor (the last item of the previous page)."""

    kinds: frozenset[ItemKind] = frozenset(ItemKind)
    since: datetime | None = None
    until: datetime | None = None
    before: Cursor | None = None
    limit: int = 50

    def __post_init__(self) -> None:
        if self.since is not None and self.until is not None and self.until <= self.since:
            raise InvalidInput("the period ends before it starts", details={"field": "until"})


@dataclass(frozen=True, slots=True)
class Item(Generic[T]):
    kind: ItemKind
    at: datetime
    id: UUID
    value: T

    @property
    def key(self) -> tuple[datetime, UUID]:
        return (self.at, self.id)


def newest_first(
    sources: Iterable[Sequence[Item[object]]], limit: int
) -> tuple[list[Item[object]], Cursor | None]:
    """One page of at most ``limit`` items from sources each ordered newest first, and the
    cursor of the next page (None when this page holds the last item)."""
    merged = heapq.merge(*sources, key=lambda item: item.key, reverse=True)
    page: list[Item[object]] = []
    for item in merged:
        if len(page) == limit:
            last = page[-1]
            return page, Cursor(created_at=last.at, id=last.id)
        page.append(item)
    return page, None


@dataclass(frozen=True, slots=True)
class Unreached:
    """The current run of unanswered attempts: how many, the first and the last."""

    attempts: int
    since: datetime
    last_at: datetime


def _contacts_newest_first(entries: Iterable[ContactEntry]) -> list[ContactEntry]:
    return sorted(
        (e for e in entries if e.kind in FAILED | REACHED),
        key=lambda e: (e.occurred_at, e.id),
        reverse=True,
    )


def unreached(entries: Iterable[ContactEntry]) -> Unreached | None:
    """The run of failed attempts since the client was last reached; None if there is none."""
    run: list[ContactEntry] = []
    for entry in _contacts_newest_first(entries):
        if entry.kind in REACHED:
            break
        run.append(entry)
    if not run:
        return None
    return Unreached(attempts=len(run), since=run[-1].occurred_at, last_at=run[0].occurred_at)


def attempts(entries: Iterable[ContactEntry]) -> dict[UUID, tuple[int, int]]:
    """For each entry in the current unanswered run: (its number, the run's length), the
    oldest being attempt 1 — "poging 2 van 3"."""
    run: list[ContactEntry] = []
    for entry in _contacts_newest_first(entries):
        if entry.kind in REACHED:
            break
        run.append(entry)
    return {entry.id: (len(run) - i, len(run)) for i, entry in enumerate(run)}
