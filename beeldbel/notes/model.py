"""Reports and notes in a client's file: visibility, the effectenster, versions, merging. Pure.

A note is text a worker writes in the file, often the report (verslag) of an appointment or a
contact. Its visibility says who may read it: ``shared`` notes are for the client and the
people the client authorised as well (the portal comes later); ``professional`` notes are
for the care team only (a suspicion of domestic violence is written here). A note can carry
the effectenster (outcome star): a score from 1 to 10 per life domain, filled in inside the
report rather than as separate work.

Every change makes a new version and the old one stays in the history. A change names the
version it was made on; if someone saved in between, the change is refused with
:class:`EditConflict`, which carries both versions and a proposed merge (a three-way merge
of the text by lines, of the visibility and of each score) in which nothing either person
wrote is lost. The worker checks the proposal and saves it on the newest version.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any, Final
from uuid import UUID

from merge3 import Merge3

from beeldbel.access.model import Basis, Category, Grant
from beeldbel.errors import Conflict, InvalidInput

__all__ = [
    "MAX_TEXT",
    "Domain",
    "Edit",
    "EditConflict",
    "Merged",
    "Note",
    "NoteContent",
    "NoteVersion",
    "Scores",
    "Visibility",
    "apply_edit",
    "clean_text",
    "merge",
    "new_note",
    "readable",
    "scores_of",
]

MAX_TEXT: Final = 20_000
SCORE_RANGE: Final = range(1, 11)


class Visibility(StrEnum):
    SHARED = "shared"  # the client (and whom they authorised) may read it
    PROFESSIONAL = "professional"  # the care team only; never shown to the client or network


class Domain(StrEnum):
    """The effectenster's life domains (the Dutch outcome star)."""

    MOTIVATION = "motivation"  # motivatie en verantwoordelijkheid
    SELF_CARE = "self_care"  # zelfzorg en vaardigheden
    MONEY = "money"  # geld en administratie
    SOCIAL_NETWORK = "social_network"  # sociaal netwerk en relaties
    SUBSTANCE_USE = "substance_use"  # alcohol en drugs
    PHYSICAL_HEALTH = "physical_health"  # lichamelijke gezondheid
    MENTAL_HEALTH = "mental_health"  # emotionele en psychische gezondheid
    DAILY_ACTIVITIES = "daily_activities"  # zinvolle dagbesteding
    HOUSING = "housing"  # huisvesting
    OFFENDING = "offending"  # justitie en veiligheid


PROFESSIONAL_BASES: Final = frozenset({Basis.CARE_TEAM, Basis.HANDOVER, Basis.EMERGENCY})
"""Grants of professionals on the client's care file: they read professional notes too."""


def readable(grant: Grant) -> frozenset[Visibility]:
    """The visibilities a grant may read. Only a professional's grant on the care file reads
    professional notes; any other grant (the client's own, their network's, when the portal
    comes) reads shared notes at most."""
    if grant.category is Category.CARE_FILE and grant.basis in PROFESSIONAL_BASES:
        return frozenset(Visibility)
    return frozenset({Visibility.SHARED})


Scores = tuple[tuple[Domain, int], ...]
"""Effectenster scores, in the order of :class:`Domain`; only the domains filled in."""


def scores_of(values: Mapping[str, int] | None) -> Scores | None:
    """Scores from a mapping of domain to score; None stays None (no star in this note)."""
    if values is None:
        return None
    known = {d.value: d for d in Domain}
    for key, score in values.items():
        if key not in known:
            raise InvalidInput(
                f"'{key}' is not a domain of the effectenster",
                details={"field": f"effectenster.{key}"},
            )
        if isinstance(score, bool) or not isinstance(score, int) or score not in SCORE_RANGE:
            raise InvalidInput(
                "an effectenster score is a whole number from 1 to 10",
                details={"field": f"effectenster.{key}"},
            )
    if not values:
        raise InvalidInput(
            "fill in at least one domain of the effectenster, or leave it out",
            details={"field": "effectenster"},
        )
    return tuple((d, values[d.value]) for d in Domain if d.value in values)


def clean_text(text: str) -> str:
    """The text as stored: NFC, Unix line ends, no trailing spaces; not empty, not too long."""
    lines = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    cleaned = "\n".join(line.rstrip() for line in lines.split("\n")).strip("\n")
    if not cleaned.strip():
        raise InvalidInput("a note needs some text", details={"field": "text"})
    if len(cleaned) > MAX_TEXT:
        raise InvalidInput(f"a note has at most {MAX_TEXT} characters", details={"field": "text"})
    return cleaned


@dataclass(frozen=True, slots=True)
class NoteContent:
    """What a person writes: the part of a note that is versioned and merged."""

    text: str
    visibility: Visibility
    scores: Scores | None = None


@dataclass(frozen=True, slots=True)
class Note:
    id: UUID
    client_id: UUID
    content: NoteContent
    created_by: str
    created_at: datetime
    updated_by: str
    updated_at: datetime
    version: int = 1
    appointment_id: UUID | None = None  # the report of this appointment
    contact_id: UUID | None = None  # the report of this contact entry


@dataclass(frozen=True, slots=True)
class NoteVersion:
    """One state in a note's history: who made it, when, and what it said."""

    note_id: UUID
    version: int
    content: NoteContent
    changed_by: str
    changed_at: datetime


def new_note(
    id: UUID,
    client_id: UUID,
    *,
    text: str,
    visibility: Visibility,
    scores: Scores | None,
    author: str,
    now: datetime,
    appointment_id: UUID | None = None,
    contact_id: UUID | None = None,
) -> Note:
    """A new note (version 1). A new note never conflicts with anything."""
    return Note(
        id=id,
        client_id=client_id,
        content=NoteContent(clean_text(text), visibility, scores),
        created_by=author,
        created_at=now,
        updated_by=author,
        updated_at=now,
        appointment_id=appointment_id,
        contact_id=contact_id,
    )


@dataclass(frozen=True, slots=True)
class Edit:
    """A change made on ``base_version``; fields left ``None`` stay as they were, except
    ``scores`` where ``clear_scores`` removes the star."""

    base_version: int
    text: str | None = None
    visibility: Visibility | None = None
    scores: Scores | None = None
    clear_scores: bool = False

    def on(self, content: NoteContent) -> NoteContent:
        """The content this edit makes of ``content`` (the version it was made on)."""
        scores = None if self.clear_scores else (self.scores or content.scores)
        return NoteContent(
            text=clean_text(self.text) if self.text is not None else content.text,
            visibility=self.visibility or content.visibility,
            scores=scores,
        )


@dataclass(frozen=True, slots=True)
class Merged:
    """A proposed merge of two edits of one base; ``clean`` is False where both changed the
    same lines (both passages are then kept, the colleague's first) or the same score."""

    content: NoteContent
    clean: bool
    clashes: tuple[tuple[str, str], ...] = field(default=())  # (theirs, yours) passages


class EditConflict(Conflict):
    """Someone saved the note after the version this edit was made on."""

    code = "edit_conflict"

    def __init__(
        self, current: Note, base: NoteVersion, yours: NoteContent, merged: Merged
    ) -> None:
        super().__init__(
            "a colleague saved this note while you were editing it; "
            "check the merged text and save again",
            details={"version": current.version, "base_version": base.version},
        )
        self.current = current
        self.base = base
        self.yours = yours
        self.merged = merged


def _lines(text: str) -> list[str]:
    return [line + "\n" for line in text.split("\n")]


def _merge_text(base: str, theirs: str, yours: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    b, t, y = _lines(base), _lines(theirs), _lines(yours)
    out: list[str] = []
    clashes: list[tuple[str, str]] = []
    for found in Merge3(b, t, y).merge_regions():
        region: tuple[Any, ...] = tuple(found)
        what = region[0]
        if what == "unchanged":
            out.extend(b[region[1] : region[2]])
        elif what in ("a", "same"):
            out.extend(t[region[1] : region[2]])
        elif what == "b":
            out.extend(y[region[1] : region[2]])
        else:  # conflict: keep both, the colleague's (saved first) before yours
            theirs_part, yours_part = t[region[3] : region[4]], y[region[5] : region[6]]
            out.extend(theirs_part)
            out.extend(yours_part)
            clashes.append(("".join(theirs_part).rstrip("\n"), "".join(yours_part).rstrip("\n")))
    return "".join(out).rstrip("\n"), tuple(clashes)


def _merge_visibility(base: Visibility, theirs: Visibility, yours: Visibility) -> Visibility:
    if theirs == yours or yours == base:
        return theirs
    if theirs == base:
        return yours
    return Visibility.PROFESSIONAL  # unreachable with two values; the safer one if ever


def _merge_scores(
    base: Scores | None, theirs: Scores | None, yours: Scores | None
) -> tuple[Scores | None, bool]:
    if theirs == yours or yours == base:
        return theirs, True
    if theirs == base:
        return yours, True
    b, t, y = dict(base or ()), dict(theirs or ()), dict(yours or ())
    merged: dict[Domain, int] = {}
    clean = True
    for domain in Domain:
        old, mine, other = b.get(domain), y.get(domain), t.get(domain)
        if mine == old:
            value = other
        elif other in (old, mine):
            value = mine
        else:
            value, clean = other, False  # both scored it differently: the saved one stands
        if value is not None:
            merged[domain] = value
    return (tuple((d, merged[d]) for d in Domain if d in merged) or None), clean


def merge(base: NoteContent, theirs: NoteContent, yours: NoteContent) -> Merged:
    """Three-way merge of two edits of ``base``: what only one side changed is taken, lines
    both changed are all kept. Nothing either side wrote is lost."""
    text, clashes = _merge_text(base.text, theirs.text, yours.text)
    scores, scores_clean = _merge_scores(base.scores, theirs.scores, yours.scores)
    content = NoteContent(
        text=text or theirs.text,
        visibility=_merge_visibility(base.visibility, theirs.visibility, yours.visibility),
        scores=scores,
    )
    return Merged(content, clean=not clashes and scores_clean, clashes=clashes)


def apply_edit(
    note: Note, edit: Edit, base: NoteVersion | None, author: str, now: datetime
) -> Note:
    """The note after ``edit``, one version on; the note itself if nothing changed.

    ``base`` is the version the edit was made on, from the history (needed only when it is
    not the newest). Raises EditConflict when someone saved after ``edit.base_version``,
    and InvalidInput for a version the note never had.
    """
    if not 1 <= edit.base_version <= note.version:
        raise InvalidInput(
            "this note has no such version",
            details={"field": "version", "version": note.version},
        )
    if edit.base_version < note.version:
        if base is None or base.version != edit.base_version:
            raise ValueError("the base version is needed to merge")
        yours = edit.on(base.content)
        raise EditConflict(note, base, yours, merge(base.content, note.content, yours))
    content = edit.on(note.content)
    if content == note.content:
        return note
    return replace(
        note, content=content, version=note.version + 1, updated_by=author, updated_at=now
    )
