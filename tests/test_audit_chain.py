"""The audit chain's pure core: canonical bytes, MACs, checkpoints, verification, retention."""

from __future__ import annotations

import ast
import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

import pytest
from hypothesis import given
from hypothesis import strategies as st

from beeldbel.audit import chain
from beeldbel.audit.chain import Anchor, Entry, Head, Problem, SealedEntry
from beeldbel.audit.model import AuditFilter, SeqCursor
from beeldbel.audit.rules import check_retention_cutoff, earliest_cutoff
from beeldbel.errors import InvalidInput
from tests.test_architecture import impurities

KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))
T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
ROOT = Path(__file__).resolve().parent.parent


def entry(i: int, **changes: object) -> Entry:
    base = Entry(
        id=100 + i,
        at=T0 + timedelta(seconds=i, microseconds=7),
        event="read",
        outcome="success",
        actor=f"staff:{i}",
        on_behalf_of=None,
        client_id=UUID(int=i),
        object_type="client",
        object_id=str(i),
        source="192.0.2.1",
        request_id=f"req{i:08d}",
        detail={"basis": "care_team"},
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def sealed_chain(n: int, key: bytes = KEY) -> list[SealedEntry]:
    return chain.seal(key, Head(0, None), [entry(i) for i in range(n)])


def anchors_of(entries: list[SealedEntry]) -> list[Anchor]:
    return [Anchor(e.seq, e.mac) for e in entries[-1:]]


def check(entries: list[SealedEntry], **kwargs: object) -> chain.Verdict:
    head = Head(entries[-1].seq, entries[-1].mac) if entries else Head(0, None)
    options: dict[str, object] = {"head": head, "anchors": anchors_of(entries)}
    options.update(kwargs)
    return chain.verify(KEY, entries, **options)  # type: ignore[arg-type]


def test_an_untouched_chain_verifies_and_says_how_long_it_is() -> None:
    verdict = check(sealed_chain(5))
    assert verdict.intact
    assert verdict.summary() == "audit log intact: 5 entries, head seq 5"


def test_an_empty_chain_verifies() -> None:
    assert chain.verify(KEY, [], head=Head(0, None)).summary() == (
        "audit log intact: 0 entries, head seq 0"
    )


def test_each_mac_covers_the_previous_one() -> None:
    entries = sealed_chain(3)
    again = chain.seal(KEY, Head(1, "ff" * 32), [entries[1].entry])
    assert again[0].mac != entries[1].mac


def test_the_canonical_bytes_distinguish_none_from_empty_and_include_the_seq() -> None:
    assert chain.canonical(1, entry(1, actor=None)) != chain.canonical(1, entry(1, actor=""))
    assert chain.canonical(1, entry(1)) != chain.canonical(2, entry(1))
    assert chain.canonical(1, entry(1, detail={"a": "1", "b": "2"})) == chain.canonical(
        1, entry(1, detail={"b": "2", "a": "1"})
    )


def test_the_same_moment_in_another_zone_encodes_the_same() -> None:
    from zoneinfo import ZoneInfo

    local = T0.astimezone(ZoneInfo("Europe/Amsterdam"))
    assert chain.canonical(1, entry(1, at=local)) == chain.canonical(1, entry(1, at=T0))


def test_a_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        chain.canonical(1, entry(1, at=datetime(2026, 1, 1)))


def test_a_short_key_is_refused() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        chain.link(b"short", None, 1, entry(1))


def test_an_edited_middle_entry_is_named_by_seq_and_id() -> None:
    entries = sealed_chain(6)
    entries[2] = dataclasses.replace(entries[2], entry=entry(2, actor="staff:someone-else"))
    verdict = check(entries)
    assert not verdict.intact
    assert verdict.summary() == "entry seq 3 (id 102) was changed"
    assert [(f.problem, f.seq, f.entry_id) for f in verdict.findings] == [(Problem.CHANGED, 3, 102)]


def test_an_edited_last_entry_is_named() -> None:
    entries = sealed_chain(4)
    entries[3] = dataclasses.replace(entries[3], entry=entry(3, outcome="denied"))
    assert check(entries).summary() == "entry seq 4 (id 103) was changed"


def test_a_deleted_tail_is_found_with_the_anchor() -> None:
    entries = sealed_chain(8)
    anchors = anchors_of(entries)
    verdict = chain.verify(
        KEY, entries[:5], head=Head(entries[4].seq, entries[4].mac), anchors=anchors
    )
    assert verdict.summary() == (
        "the chain ends at seq 5 but the anchor records seq 8: entries 6\u20138 were deleted"
    )


def test_a_deleted_tail_is_found_with_the_head_row_too() -> None:
    entries = sealed_chain(8)
    verdict = chain.verify(KEY, entries[:7], head=Head(8, entries[7].mac), anchors=[])
    problems = [f.problem for f in verdict.findings]
    assert Problem.TAIL_DELETED in problems
    assert "entries 8 were deleted" in verdict.summary()


def test_deleted_middle_entries_are_a_gap() -> None:
    entries = sealed_chain(8)
    del entries[3:5]
    verdict = check(entries)
    assert verdict.summary() == "entries seq 4\u20135 are missing: they were deleted"


def test_a_chain_recomputed_with_another_key_is_found_from_its_first_seq() -> None:
    ours = sealed_chain(6)
    theirs = chain.seal(
        OTHER_KEY, Head(0, None), [e.entry if e.seq != 3 else entry(2, actor="x") for e in ours]
    )
    verdict = chain.verify(
        KEY, theirs, head=Head(6, theirs[-1].mac), anchors=[Anchor(6, theirs[-1].mac)]
    )
    assert verdict.summary() == (
        "MACs do not verify with our key from seq 1: the chain was recomputed without the key"
    )


def test_a_tail_recomputed_after_an_edit_is_found_where_it_starts() -> None:
    ours = sealed_chain(6)
    edited = [e.entry for e in ours]
    edited[3] = entry(3, event="export")
    tail = chain.seal(OTHER_KEY, Head(3, ours[2].mac), edited[3:])
    verdict = chain.verify(
        KEY, ours[:3] + tail, head=Head(6, tail[-1].mac), anchors=[Anchor(6, ours[-1].mac)]
    )
    assert [(f.problem, f.seq) for f in verdict.findings] == [(Problem.RECOMPUTED, 4)]


def test_a_recomputed_chain_is_found_even_when_only_one_entry_follows_the_edit() -> None:
    ours = sealed_chain(3)
    theirs = chain.seal(OTHER_KEY, Head(2, ours[1].mac), [entry(2, actor="x")])
    verdict = chain.verify(
        KEY, ours[:2] + theirs, head=Head(3, theirs[0].mac), anchors=[Anchor(3, ours[2].mac)]
    )
    assert [f.problem for f in verdict.findings] == [Problem.RECOMPUTED]


def test_a_duplicated_seq_is_found() -> None:
    entries = sealed_chain(4)
    verdict = check([*entries[:3], entries[2], entries[3]])
    assert Problem.DUPLICATE in {f.problem for f in verdict.findings}


def test_entries_without_any_anchor_are_not_intact() -> None:
    verdict = check(sealed_chain(3), anchors=[])
    assert [f.problem for f in verdict.findings] == [Problem.NO_ANCHOR]


def test_an_anchor_lagging_behind_the_chain_is_fine() -> None:
    entries = sealed_chain(5)
    assert check(entries, anchors=[Anchor(3, entries[2].mac)]).intact


def test_a_head_row_that_disagrees_with_the_last_entry_is_found() -> None:
    entries = sealed_chain(3)
    verdict = check(entries, head=Head(3, "00" * 32))
    assert [f.problem for f in verdict.findings] == [Problem.HEAD_MISMATCH]


def test_the_chain_after_a_signed_checkpoint_verifies_from_there() -> None:
    entries = sealed_chain(10)
    checkpoint = chain.sign_checkpoint(KEY, 4, entries[3].mac, T0, T0 + timedelta(days=1))
    verdict = check(entries[4:], checkpoint=checkpoint, anchored_checkpoint=4)
    assert verdict.summary() == "audit log intact: 6 entries, head seq 10"


def test_a_checkpoint_not_signed_with_our_key_is_forged() -> None:
    entries = sealed_chain(10)
    forged = chain.sign_checkpoint(OTHER_KEY, 6, entries[5].mac, T0, T0)
    verdict = check(entries[6:], checkpoint=forged)
    assert [f.problem for f in verdict.findings] == [Problem.CHECKPOINT_FORGED]
    assert "checkpoint at seq 6" in verdict.summary()


def test_a_checkpoint_behind_the_anchored_one_is_found() -> None:
    entries = sealed_chain(10)
    checkpoint = chain.sign_checkpoint(KEY, 4, entries[3].mac, T0, T0)
    verdict = check(entries[4:], checkpoint=checkpoint, anchored_checkpoint=6)
    assert [f.problem for f in verdict.findings] == [Problem.CHECKPOINT_MISMATCH]


def test_entries_missing_right_after_the_checkpoint_are_found() -> None:
    entries = sealed_chain(10)
    checkpoint = chain.sign_checkpoint(KEY, 4, entries[3].mac, T0, T0)
    verdict = check(entries[6:], checkpoint=checkpoint)
    assert "entries seq 5\u20136 are missing" in verdict.summary()


FIELDS = [f.name for f in dataclasses.fields(Entry)]


def _different(value: object, data: st.DataObject) -> object:
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + data.draw(st.integers(1, 1000))
    if isinstance(value, datetime):
        return value + timedelta(microseconds=data.draw(st.integers(1, 10**9)))
    if isinstance(value, UUID):
        return UUID(int=value.int ^ data.draw(st.integers(1, 2**64)))
    if isinstance(value, dict):
        return {**value, "basis": value.get("basis", "") + data.draw(st.text(min_size=1))}
    if value is None:
        return data.draw(st.text(max_size=5))
    assert isinstance(value, str)
    other = data.draw(st.one_of(st.none(), st.text(max_size=20)))
    return other if other != value else None


@given(
    size=st.integers(1, 12),
    data=st.data(),
)
def test_any_single_field_edit_anywhere_is_found_at_that_seq(
    size: int, data: st.DataObject
) -> None:
    entries = sealed_chain(size)
    index = data.draw(st.integers(0, size - 1))
    name = data.draw(st.sampled_from(FIELDS))
    original = entries[index].entry
    changed = dataclasses.replace(original, **{name: _different(getattr(original, name), data)})
    entries[index] = dataclasses.replace(entries[index], entry=changed)
    verdict = check(entries)
    assert not verdict.intact
    assert [(f.problem, f.seq) for f in verdict.findings] == [(Problem.CHANGED, index + 1)]


@given(size=st.integers(2, 12), data=st.data())
def test_any_edit_of_a_seq_or_mac_is_found(size: int, data: st.DataObject) -> None:
    entries = sealed_chain(size)
    index = data.draw(st.integers(0, size - 1))
    if data.draw(st.booleans()):
        new_mac = data.draw(
            st.one_of(st.binary(min_size=32, max_size=32).map(bytes.hex), st.text(max_size=70))
        )
        if new_mac == entries[index].mac:
            return
        entries[index] = dataclasses.replace(entries[index], mac=new_mac)
    else:
        new_seq = data.draw(st.integers(0, size + 3).filter(lambda s: s != index + 1))
        entries[index] = dataclasses.replace(entries[index], seq=new_seq)
    # The anchor keeps what was sealed: the original head.
    original = sealed_chain(size)
    verdict = chain.verify(
        KEY,
        entries,
        head=Head(original[-1].seq, original[-1].mac),
        anchors=anchors_of(original),
    )
    assert not verdict.intact


def test_checkpoint_signatures_cover_every_field() -> None:
    checkpoint = chain.sign_checkpoint(KEY, 4, "ab" * 32, T0, T0 + timedelta(days=1))
    assert chain.checkpoint_is_genuine(KEY, checkpoint)
    for change in (
        {"seq": 5},
        {"mac": "cd" * 32},
        {"before": T0 + timedelta(seconds=1)},
        {"made_at": T0},
    ):
        assert not chain.checkpoint_is_genuine(KEY, dataclasses.replace(checkpoint, **change))  # type: ignore[arg-type]


def test_the_chain_module_is_pure() -> None:
    source = (ROOT / "beeldbel" / "audit" / "chain.py").read_text()
    assert impurities(source) == []
    imported = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert imported <= {
        "__future__",
        "hashlib",
        "hmac",
        "json",
        "collections",
        "dataclasses",
        "datetime",
        "enum",
        "typing",
        "uuid",
    }


# Retention and queries ---------------------------------------------------------------


def test_retention_allows_a_cut_off_five_years_back_and_not_a_day_later() -> None:
    now = datetime(2031, 12, 1, 12, 0, tzinfo=UTC)
    assert check_retention_cutoff(datetime(2026, 12, 1, tzinfo=UTC), now)
    with pytest.raises(InvalidInput, match="at least 5 years"):
        check_retention_cutoff(datetime(2026, 12, 2, tzinfo=UTC), now)


def test_five_years_before_a_leap_day_is_the_28th() -> None:
    assert earliest_cutoff(datetime(2032, 2, 29, tzinfo=UTC)) == datetime(2027, 2, 28, tzinfo=UTC)


def test_a_period_must_not_be_empty() -> None:
    with pytest.raises(InvalidInput, match="'from' must come before 'to'"):
        AuditFilter(since=T0, until=T0)


def test_a_seq_cursor_round_trips_and_a_forged_one_is_refused() -> None:
    assert SeqCursor.decode(SeqCursor(42).encode()) == SeqCursor(42)
    for bad in ("", "!!", "eyJzIjogLTF9", "eyJzIjogIjEifQ", "bm90IGpzb24"):
        with pytest.raises(InvalidInput, match="cursor"):
            SeqCursor.decode(bad)
