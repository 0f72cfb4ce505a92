"""The agenda's pure rules with plain values and a fake clock: no database, no real time.

Daylight saving in Europe/Amsterdam: clocks go forward at 02:00 CET on the last Sunday of
March (29 March 2026, 28 March 2027) and back at 03:00 CEST on the last Sunday of October
(25 October 2026, 31 October 2027). Winter is UTC+1, summer UTC+2.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from beeldbel.clock import FixedClock
from beeldbel.errors import InvalidInput, InvalidTransition
from beeldbel.scheduling.model import (
    AGENDA_ZONE,
    JOIN_GRACE,
    LOBBY_LEAD,
    AgendaItem,
    Appointment,
    AvailabilityException,
    Booking,
    Kind,
    Participant,
    ParticipantRole,
    Recurrence,
    Status,
    WorkingHours,
)
from beeldbel.scheduling.rules import (
    MAX_GUESTS,
    MAX_ITEMS,
    MAX_OCCURRENCES,
    MAX_PARTICIPANTS,
    JoinState,
    available,
    bookings,
    cancel,
    change_kind,
    check_appointment,
    expand,
    join_verdict,
    local_wall_time,
    overlaps,
    parse_rule,
    reschedule,
    rule_count,
    set_status,
    split_series,
    validate_hours,
)

AMSTERDAM = ZoneInfo(AGENDA_ZONE)
CET = timezone(timedelta(hours=1))
CEST = timezone(timedelta(hours=2))
TEAM = uuid.UUID(int=1)
CLIENT = uuid.UUID(int=2)
OTHER_CLIENT = uuid.UUID(int=3)
MEMBER = uuid.UUID(int=4)
SERIES = uuid.UUID(int=5)
NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)  # a Monday morning, well before the appointments
START = datetime(2026, 3, 9, 9, 0, tzinfo=UTC)  # Monday 9 March 2026, 10:00 in Amsterdam
END = START + timedelta(minutes=30)
FAR = datetime(2030, 1, 1, tzinfo=UTC)
HALF_HOUR = timedelta(minutes=30)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def local(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """An Amsterdam wall-clock time as a UTC instant."""
    return datetime(year, month, day, hour, minute, tzinfo=AMSTERDAM).astimezone(UTC)


def worker(subject: str = "staff:anouk") -> Participant:
    return Participant(uuid.uuid4(), ParticipantRole.WORKER, f"link-{subject}", subject=subject)


def client(client_id: uuid.UUID = CLIENT) -> Participant:
    return Participant(uuid.uuid4(), ParticipantRole.CLIENT, "link-client", client_id=client_id)


def guest(name: str = "dr. Jansen", item_id: uuid.UUID | None = None) -> Participant:
    return Participant(
        uuid.uuid4(), ParticipantRole.GUEST, "link-guest", name=name, item_id=item_id
    )


def member(member_id: uuid.UUID = MEMBER, item_id: uuid.UUID | None = None) -> Participant:
    return Participant(
        uuid.uuid4(), ParticipantRole.GUEST, "link-member", member_id=member_id, item_id=item_id
    )


def appointment(**fields: Any) -> Appointment:
    """A planned check-in, Monday 9 March 2026 10:00-10:30 Amsterdam, worker and client."""
    values: dict[str, Any] = {
        "id": uuid.uuid4(),
        "team_id": TEAM,
        "kind": Kind.CHECKIN,
        "status": Status.PLANNED,
        "starts_at": START,
        "ends_at": END,
        "created_by": "staff:anouk",
        "created_at": NOW,
        "updated_at": NOW,
        "client_id": CLIENT,
        "participants": (worker(), client()),
    }
    values.update(fields)
    return Appointment(**values)


def item(
    client_id: uuid.UUID = CLIENT,
    starts_at: datetime | None = None,
    ends_at: datetime | None = None,
    topic: str = "Hoe gaat het thuis",
) -> AgendaItem:
    return AgendaItem(uuid.uuid4(), client_id, topic, starts_at, ends_at)


def case_meeting(**fields: Any) -> Appointment:
    """A case meeting 10:00-12:00 UTC: two workers, an item per client, the first with a slot."""
    first = item(CLIENT, utc(2026, 3, 9, 10), utc(2026, 3, 9, 10, 30))
    second = item(OTHER_CLIENT, topic="Schuldhulp")
    values: dict[str, Any] = {
        "kind": Kind.CASE_MEETING,
        "starts_at": utc(2026, 3, 9, 10),
        "ends_at": utc(2026, 3, 9, 12),
        "client_id": None,
        "items": (first, second),
        "participants": (worker(), worker("staff:bram"), guest(item_id=first.id)),
    }
    values.update(fields)
    return appointment(**values)


def series(
    rule: str = "FREQ=WEEKLY;BYDAY=MO",
    local_start: datetime = datetime(2026, 3, 16, 10, 0),
    kinds: tuple[Kind, ...] = (Kind.CHECKIN,),
    duration: timedelta = HALF_HOUR,
    until: datetime | None = None,
) -> Recurrence:
    return Recurrence(rule, local_start, duration, kinds, until=until)


def starts(recurrence: Recurrence, until: datetime = FAR) -> list[datetime]:
    return [o.starts_at for o in expand(recurrence, until)]


def wall(moment: datetime) -> datetime:
    return local_wall_time(moment, AGENDA_ZONE)


def refused(error: pytest.ExceptionInfo[InvalidInput], field: str) -> None:
    assert error.value.details == {"field": field}


# --- expand: wall-clock time across daylight-saving changes ----------------------------------


@pytest.mark.parametrize(
    ("first_monday", "before", "after"),
    [
        # spring 2026: clocks go forward on Sunday 29 March
        (datetime(2026, 3, 16, 10), [utc(2026, 3, 16, 9), utc(2026, 3, 23, 9)], 8),
        # spring 2027: clocks go forward on Sunday 28 March
        (datetime(2027, 3, 15, 10), [utc(2027, 3, 15, 9), utc(2027, 3, 22, 9)], 8),
        # autumn 2026: clocks go back on Sunday 25 October
        (datetime(2026, 10, 12, 10), [utc(2026, 10, 12, 8), utc(2026, 10, 19, 8)], 9),
        # autumn 2027: clocks go back on Sunday 31 October
        (datetime(2027, 10, 18, 10), [utc(2027, 10, 18, 8), utc(2027, 10, 25, 8)], 9),
    ],
)
def test_a_weekly_monday_10_00_stays_at_10_00_amsterdam_across_a_clock_change(
    first_monday: datetime, before: list[datetime], after: int
) -> None:
    occurrences = expand(
        series(local_start=first_monday), first_monday.replace(tzinfo=UTC) + timedelta(days=28)
    )

    assert [o.starts_at for o in occurrences[:2]] == before
    third, fourth = occurrences[2].starts_at, occurrences[3].starts_at
    assert (third.hour, fourth.hour) == (after, after)
    assert fourth - third == timedelta(days=7)
    assert occurrences[2].starts_at - occurrences[1].starts_at == timedelta(
        days=7, hours=after - before[0].hour
    )
    for o in occurrences:
        assert wall(o.starts_at).time() == time(10, 0)
        assert wall(o.starts_at).weekday() == 0
        assert o.ends_at - o.starts_at == HALF_HOUR


def test_a_year_of_mondays_at_10_00_is_09_00_utc_in_winter_and_08_00_utc_in_summer() -> None:
    occurrences = expand(series(local_start=datetime(2026, 1, 5, 10)), utc(2027, 1, 1))

    assert len(occurrences) == 52
    assert [o.index for o in occurrences] == list(range(52))
    for o in occurrences:
        summer = utc(2026, 3, 29, 1) <= o.starts_at < utc(2026, 10, 25, 1)
        assert o.starts_at.hour == (8 if summer else 9)
        assert wall(o.starts_at) == datetime.combine(wall(o.starts_at).date(), time(10, 0))
    assert occurrences[11].starts_at == utc(2026, 3, 23, 9)
    assert occurrences[12].starts_at == utc(2026, 3, 30, 8)
    assert occurrences[41].starts_at == utc(2026, 10, 19, 8)
    assert occurrences[42].starts_at == utc(2026, 10, 26, 9)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    first=st.dates(min_value=datetime(2026, 1, 1).date(), max_value=datetime(2028, 12, 31).date()),
    at=st.times(min_value=time(6, 0), max_value=time(22, 0)).map(
        lambda t: t.replace(microsecond=0)
    ),
)
def test_every_weekly_occurrence_keeps_the_weekday_and_wall_time_of_its_start(
    first: Any, at: time
) -> None:
    start = datetime.combine(first, at)
    occurrences = expand(
        series("FREQ=WEEKLY", start), start.replace(tzinfo=UTC) + timedelta(days=400)
    )

    assert len(occurrences) >= 56
    for o in occurrences:
        assert wall(o.starts_at).time() == at
        assert wall(o.starts_at).weekday() == first.weekday()
        assert o.starts_at.utcoffset() == timedelta(0)


def test_a_daily_02_30_on_the_spring_forward_night_moves_on_by_the_gap_to_03_30() -> None:
    # 02:30 does not exist on 29 March 2026 (02:00 CET jumps to 03:00 CEST). RFC 5545 and
    # zoneinfo (fold=0) read it with the offset from before the gap: 02:30+01:00, which is
    # 01:30 UTC, shown as 03:30 summer time. The next day is back at 02:30.
    occurrences = expand(series("FREQ=DAILY;COUNT=3", datetime(2026, 3, 28, 2, 30)), FAR)

    assert [o.starts_at for o in occurrences] == [
        utc(2026, 3, 28, 1, 30),  # 02:30 CET
        utc(2026, 3, 29, 1, 30),  # "02:30" → 03:30 CEST
        utc(2026, 3, 30, 0, 30),  # 02:30 CEST
    ]
    assert [wall(o.starts_at).time() for o in occurrences] == [
        time(2, 30),
        time(3, 30),
        time(2, 30),
    ]


def test_the_ambiguous_02_30_on_the_autumn_night_is_the_first_one_in_summer_time() -> None:
    # 02:30 happens twice on 25 October 2026: at 00:30 UTC (CEST) and at 01:30 UTC (CET).
    # The series takes the first (fold=0) and only once.
    occurrences = expand(series("FREQ=DAILY;COUNT=3", datetime(2026, 10, 24, 2, 30)), FAR)

    assert [o.starts_at for o in occurrences] == [
        utc(2026, 10, 24, 0, 30),  # 02:30 CEST
        utc(2026, 10, 25, 0, 30),  # the first 02:30, still CEST
        utc(2026, 10, 26, 1, 30),  # 02:30 CET
    ]
    assert all(wall(o.starts_at).time() == time(2, 30) for o in occurrences)


@pytest.mark.parametrize(
    ("local_start", "wall_end"),
    [
        (datetime(2026, 3, 28, 23, 0), datetime(2026, 3, 29, 4, 0)),  # the short night
        (datetime(2026, 10, 24, 23, 0), datetime(2026, 10, 25, 2, 0)),  # the long night
    ],
)
def test_a_duration_is_elapsed_time_across_the_change_night(
    local_start: datetime, wall_end: datetime
) -> None:
    night = series("FREQ=DAILY;COUNT=1", local_start, duration=timedelta(hours=4))

    (occurrence,) = expand(night, FAR)

    assert occurrence.ends_at - occurrence.starts_at == timedelta(hours=4)
    assert wall(occurrence.ends_at) == wall_end


# --- expand: the rule's parts, kinds and limits ----------------------------------------------


def test_kinds_cycle_a_call_one_week_and_a_visit_the_next() -> None:
    alternating = series(kinds=(Kind.CHECKIN, Kind.VISIT))

    kinds = [o.kind for o in expand(alternating, utc(2026, 4, 13))]

    assert kinds == [Kind.CHECKIN, Kind.VISIT, Kind.CHECKIN, Kind.VISIT]


def test_three_kinds_cycle_in_their_order() -> None:
    cycle = (Kind.CHECKIN, Kind.CHECKIN, Kind.VISIT)

    kinds = [o.kind for o in expand(series(kinds=cycle, rule="FREQ=WEEKLY;COUNT=7"), FAR)]

    assert kinds == [*cycle, *cycle, Kind.CHECKIN]


def test_a_series_without_kinds_is_refused() -> None:
    with pytest.raises(InvalidInput) as error:
        expand(series(kinds=()), FAR)
    refused(error, "kinds")


def test_count_ends_the_series_after_that_many_occurrences() -> None:
    assert len(expand(series("FREQ=WEEKLY;COUNT=3"), FAR)) == 3


def test_until_in_the_rule_includes_an_occurrence_at_that_instant() -> None:
    # RFC 5545: UNTIL is inclusive (Recurrence.until, by contrast, is exclusive).
    rule = "FREQ=WEEKLY;UNTIL=20260330T080000Z"

    assert starts(series(rule)) == [utc(2026, 3, 16, 9), utc(2026, 3, 23, 9), utc(2026, 3, 30, 8)]


def test_interval_2_is_every_other_monday() -> None:
    assert starts(series("FREQ=WEEKLY;INTERVAL=2;COUNT=4")) == [
        utc(2026, 3, 16, 9),
        utc(2026, 3, 30, 8),
        utc(2026, 4, 13, 8),
        utc(2026, 4, 27, 8),
    ]


def test_byday_mo_th_gives_mondays_and_thursdays_in_order() -> None:
    assert starts(series("FREQ=WEEKLY;BYDAY=MO,TH;COUNT=5")) == [
        utc(2026, 3, 16, 9),
        utc(2026, 3, 19, 9),
        utc(2026, 3, 23, 9),
        utc(2026, 3, 26, 9),
        utc(2026, 3, 30, 8),
    ]


def test_monthly_on_the_first_monday_keeps_10_00() -> None:
    found = starts(series("FREQ=MONTHLY;BYDAY=1MO;COUNT=4", datetime(2026, 2, 2, 10)))

    assert found == [utc(2026, 2, 2, 9), utc(2026, 3, 2, 9), utc(2026, 4, 6, 8), utc(2026, 5, 4, 8)]


def test_the_first_occurrence_is_the_first_day_that_fits_the_rule() -> None:
    # A Tuesday start with BYDAY=MO: the Tuesday itself is not an occurrence.
    assert starts(series("FREQ=WEEKLY;BYDAY=MO;COUNT=1", datetime(2026, 3, 17, 10))) == [
        utc(2026, 3, 23, 9)
    ]


def test_the_series_own_until_cuts_it_exclusively() -> None:
    stopped = series(until=utc(2026, 3, 30, 8))  # exactly the third occurrence's start

    assert starts(stopped) == [utc(2026, 3, 16, 9), utc(2026, 3, 23, 9)]
    assert len(starts(replace(stopped, until=utc(2026, 3, 30, 8, 1)))) == 3


def test_expand_stops_before_its_until_argument() -> None:
    assert starts(series(), utc(2026, 3, 30, 8)) == [utc(2026, 3, 16, 9), utc(2026, 3, 23, 9)]
    assert len(starts(series(), utc(2026, 3, 30, 8, 0) + timedelta(microseconds=1))) == 3
    assert starts(series(), utc(2026, 3, 16, 9)) == []


def test_the_earlier_of_both_untils_ends_the_expansion() -> None:
    stopped = series(until=utc(2026, 4, 1))

    assert len(starts(stopped, utc(2026, 3, 24))) == 2
    assert len(starts(stopped, FAR)) == 3


def test_an_open_series_is_capped_at_max_occurrences() -> None:
    daily = series("FREQ=DAILY", datetime(2026, 1, 1, 9))

    occurrences = expand(daily, FAR)

    assert len(occurrences) == MAX_OCCURRENCES
    assert occurrences[-1].index == MAX_OCCURRENCES - 1
    assert wall(occurrences[-1].starts_at) == datetime(2026, 1, 1, 9) + timedelta(
        days=MAX_OCCURRENCES - 1
    )


def test_a_lower_case_rule_with_a_prefix_expands_like_the_clean_one() -> None:
    assert starts(series("rrule:freq=weekly;byday=mo;count=3")) == starts(
        series("FREQ=WEEKLY;BYDAY=MO;COUNT=3")
    )


def test_expanding_a_refused_rule_is_invalid_input() -> None:
    with pytest.raises(InvalidInput) as error:
        expand(series("FREQ=HOURLY"), FAR)
    refused(error, "rrule")


# --- parse_rule ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "cleaned"),
    [
        ("FREQ=WEEKLY;BYDAY=MO", "FREQ=WEEKLY;BYDAY=MO"),
        ("RRULE:FREQ=WEEKLY;BYDAY=MO", "FREQ=WEEKLY;BYDAY=MO"),
        ("rrule:freq=weekly;byday=mo,th", "FREQ=WEEKLY;BYDAY=MO,TH"),
        ("  FREQ=DAILY;COUNT=800\n", "FREQ=DAILY;COUNT=800"),
        ("FREQ=DAILY;COUNT=1", "FREQ=DAILY;COUNT=1"),
        ("FREQ=WEEKLY;INTERVAL=2", "FREQ=WEEKLY;INTERVAL=2"),
        ("FREQ=WEEKLY;UNTIL=20271231T230000Z", "FREQ=WEEKLY;UNTIL=20271231T230000Z"),
        ("FREQ=MONTHLY;BYDAY=-1FR", "FREQ=MONTHLY;BYDAY=-1FR"),
        ("FREQ=MONTHLY;BYDAY=+2TU", "FREQ=MONTHLY;BYDAY=+2TU"),
        ("FREQ=MONTHLY;BYMONTHDAY=15", "FREQ=MONTHLY;BYMONTHDAY=15"),
        ("FREQ=WEEKLY;WKST=SU;BYDAY=SU,MO", "FREQ=WEEKLY;WKST=SU;BYDAY=SU,MO"),
    ],
)
def test_an_accepted_rule_comes_back_clean(text: str, cleaned: str) -> None:
    assert parse_rule(text) == cleaned
    assert parse_rule(cleaned) == cleaned


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "RRULE:",
        "FREQ=HOURLY",
        "FREQ=MINUTELY",
        "FREQ=SECONDLY",
        "FREQ=YEARLY",
        "FREQ=FORTNIGHTLY",
        "BYDAY=MO",  # no FREQ
        "FREQ=WEEKLY;BYHOUR=10",
        "FREQ=DAILY;BYMINUTE=30",
        "FREQ=DAILY;BYSECOND=5",
        "DTSTART=20260316T100000Z;FREQ=WEEKLY",
        "DTSTART:20260316T100000Z\nRRULE:FREQ=WEEKLY",
        "hello",
        "FREQ=WEEKLY;",
        "FREQ=WEEKLY;;BYDAY=MO",
        "FREQ=WEEKLY;=MO",
        "FREQ=WEEKLY;BYDAY=",
        "FREQ=WEEKLY;BYDAY=MO;BYDAY=TU",  # a part twice
        "FREQ=WEEKLY;FREQ=DAILY",
        "FREQ=WEEKLY;COUNT=0",
        f"FREQ=WEEKLY;COUNT={MAX_OCCURRENCES + 1}",
        "FREQ=WEEKLY;COUNT=99999999999999999999",
        "FREQ=WEEKLY;COUNT=-1",
        "FREQ=WEEKLY;COUNT=+5",
        "FREQ=WEEKLY;COUNT=three",
        "FREQ=WEEKLY;BYDAY=XX",
        "FREQ=WEEKLY;BYDAY=MO,",
        "FREQ=WEEKLY;FOO=1",
        "FREQ=WEEKLY;UNTIL=20270101",  # a date: UTC date-time needed with a zoned start
        "FREQ=WEEKLY;UNTIL=20270101T000000",  # floating
        "FREQ=WEEKLY;UNTIL=tomorrow",
        "FREQ=WEEKLY;COUNT=3;UNTIL=20270101T000000Z",  # RFC 5545: not both
        "FREQ=WEEKLY;INTERVAL=0",
        "FREQ=WEEKLY;INTERVAL=00",
        "FREQ=WEEKLY;INTERVAL=-1",
        "FREQ=WEEKLY;INTERVAL=two",
        "FREQ=MONTHLY;BYDAY=+8MO",  # no month has eight Mondays
        "FREQ=MONTHLY;BYDAY=0MO",
        "FREQ=WEEKLY;BYDAY=MO\x00",
        "FREQ=WEEKLY;BYDAY=" + ",".join(["MO"] * 100),  # too long
    ],
)
def test_a_rule_we_do_not_take_is_refused_on_the_rrule_field(text: str) -> None:
    with pytest.raises(InvalidInput) as error:
        parse_rule(text)
    refused(error, "rrule")


def test_rule_count_reads_count_or_none() -> None:
    assert rule_count("freq=weekly;count=12") == 12
    assert rule_count("FREQ=WEEKLY;BYDAY=MO") is None


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.text(max_size=80))
def test_parse_rule_takes_any_text_and_answers_with_a_rule_or_invalid_input(text: str) -> None:
    details: dict[str, Any] = {"field": "rrule"}
    try:
        cleaned: str | None = parse_rule(text)
    except InvalidInput as error:
        cleaned, details = None, error.details
    assert details == {"field": "rrule"}
    if cleaned is not None:
        assert parse_rule(cleaned) == cleaned


_DAYS = st.sampled_from(["MO", "TU", "WE", "TH", "FR", "SA", "SU"])


@st.composite
def plausible_rules(draw: st.DrawFn) -> str:
    parts = [f"FREQ={draw(st.sampled_from(['DAILY', 'WEEKLY', 'MONTHLY']))}"]
    if draw(st.booleans()):
        parts.append(f"INTERVAL={draw(st.integers(-2, 4))}")
    if draw(st.booleans()):
        parts.append(f"COUNT={draw(st.integers(0, 30))}")
    if draw(st.booleans()):
        days = draw(st.lists(st.tuples(st.integers(-9, 9), _DAYS), min_size=1, max_size=3))
        parts.append("BYDAY=" + ",".join(f"{n:+d}{d}" if n else d for n, d in days))
    return ";".join(draw(st.permutations(parts)))


@settings(max_examples=150, deadline=None, derandomize=True)
@given(rule=plausible_rules())
def test_an_accepted_rule_expands_to_distinct_occurrences_in_order(rule: str) -> None:
    try:
        parse_rule(rule)
    except InvalidInput:
        return
    found = starts(series(rule, datetime(2026, 1, 5, 10)), utc(2027, 1, 1))

    assert found
    assert found == sorted(set(found))
    assert all(wall(s).time() == time(10, 0) for s in found)


# --- split_series ----------------------------------------------------------------------------


def test_this_and_following_keeps_what_came_before_and_continues_at_the_new_time() -> None:
    old = series("FREQ=WEEKLY", datetime(2026, 3, 2, 10), kinds=(Kind.CHECKIN, Kind.VISIT))
    # From the third occurrence (16 March) on: Tuesdays 14:00, 45 minutes.
    new_start = local(2026, 3, 17, 14)

    before, after = split_series(old, utc(2026, 3, 16, 9), new_start, timedelta(minutes=45))

    assert starts(before) == [utc(2026, 3, 2, 9), utc(2026, 3, 9, 9)]
    assert before.until == utc(2026, 3, 16, 9)
    assert after.local_start == datetime(2026, 3, 17, 14)
    assert after.duration == timedelta(minutes=45)
    assert after.rule == "FREQ=WEEKLY"
    assert after.until is None
    continued = expand(after, utc(2026, 4, 8))
    assert [o.starts_at for o in continued] == [
        utc(2026, 3, 17, 13),  # 14:00 CET
        utc(2026, 3, 24, 13),
        utc(2026, 3, 31, 12),  # 14:00 CEST
        utc(2026, 4, 7, 12),
    ]
    assert all(o.ends_at - o.starts_at == timedelta(minutes=45) for o in continued)


@pytest.mark.parametrize("done", [0, 1, 2, 3, 4, 5])
def test_after_a_split_the_kinds_cycle_on_where_the_series_was(done: int) -> None:
    cycle = (Kind.CHECKIN, Kind.CHECKIN, Kind.VISIT)
    old = series(kinds=cycle)
    unsplit = [o.kind for o in expand(old, utc(2026, 6, 1))]
    at = expand(old, FAR)[done].starts_at

    before, after = split_series(old, at, at, HALF_HOUR)

    kinds = [o.kind for o in expand(before, FAR)] + [o.kind for o in expand(after, utc(2026, 6, 1))]
    assert kinds == unsplit
    assert len(expand(before, FAR)) == done


def test_a_split_at_an_occurrence_gives_that_occurrence_to_the_new_series() -> None:
    old = series()

    before, after = split_series(old, utc(2026, 3, 30, 8), utc(2026, 3, 30, 8), HALF_HOUR)

    assert starts(before)[-1] == utc(2026, 3, 23, 9)
    assert starts(after)[0] == utc(2026, 3, 30, 8)


@pytest.mark.parametrize(
    "rule",
    [
        "FREQ=WEEKLY;BYDAY=MO;COUNT=10",
        "freq=weekly;byday=mo;count=10",
        "RRULE:COUNT=10;FREQ=WEEKLY",
    ],
)
def test_a_split_reduces_count_by_the_occurrences_already_had(rule: str) -> None:
    old = series(rule)

    before, after = split_series(old, utc(2026, 3, 31), local(2026, 4, 6, 11), timedelta(hours=1))

    assert len(expand(before, FAR)) == 3
    assert rule_count(after.rule) == 7
    assert len(expand(after, FAR)) == 7
    assert expand(after, FAR)[-1].starts_at == local(2026, 5, 18, 11)


def test_splitting_a_counted_series_after_its_last_occurrence_is_refused() -> None:
    with pytest.raises(InvalidInput) as error:
        split_series(series("FREQ=WEEKLY;COUNT=3"), utc(2026, 4, 1), utc(2026, 4, 6, 8), HALF_HOUR)
    refused(error, "scope")


@pytest.mark.parametrize("at", [utc(2026, 4, 1), utc(2026, 4, 2)])
def test_splitting_a_stopped_series_at_or_after_its_end_is_refused(at: datetime) -> None:
    with pytest.raises(InvalidInput) as error:
        split_series(series(until=utc(2026, 4, 1)), at, at, HALF_HOUR)
    refused(error, "scope")


def test_a_split_keeps_the_series_end_for_the_new_part() -> None:
    old = series(until=utc(2026, 4, 20, 13))

    _, after = split_series(old, utc(2026, 3, 24), local(2026, 3, 30, 15), HALF_HOUR)

    assert after.until == utc(2026, 4, 20, 13)  # exclusive
    assert starts(after) == [local(2026, 3, 30, 15), local(2026, 4, 6, 15), local(2026, 4, 13, 15)]


# --- overlaps --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ((10, 11), (10, 11), True),  # the same slot
        ((10, 12), (11, 13), True),
        ((10, 13), (11, 12), True),  # one within the other
        ((10, 11), (11, 12), False),  # touching: one ends as the other starts
        ((11, 12), (10, 11), False),
        ((10, 11), (12, 13), False),
    ],
)
def test_overlap_is_of_half_open_intervals(
    a: tuple[int, int], b: tuple[int, int], expected: bool
) -> None:
    assert (
        overlaps(
            utc(2026, 3, 9, a[0]),
            utc(2026, 3, 9, a[1]),
            utc(2026, 3, 9, b[0]),
            utc(2026, 3, 9, b[1]),
        )
        is expected
    )


_SPANS = st.tuples(st.integers(0, 60), st.integers(1, 30)).map(lambda t: (t[0], t[0] + t[1]))


@given(a=_SPANS, b=_SPANS)
def test_intervals_overlap_exactly_when_some_minute_lies_in_both(
    a: tuple[int, int], b: tuple[int, int]
) -> None:
    def at(minute: int) -> datetime:
        return START + timedelta(minutes=minute)

    result = overlaps(at(a[0]), at(a[1]), at(b[0]), at(b[1]))

    assert result == overlaps(at(b[0]), at(b[1]), at(a[0]), at(a[1]))
    assert result == bool(set(range(*a)) & set(range(*b)))
    assert result == (max(a[0], b[0]) < min(a[1], b[1]))


# --- bookings --------------------------------------------------------------------------------


def test_a_check_in_holds_the_workers_and_the_clients_slot_but_not_a_guests() -> None:
    call = appointment(participants=(worker(), client(), member(), guest()))

    assert bookings(call) == [
        Booking("worker:staff:anouk", START, END),
        Booking(f"client:{CLIENT}", START, END),
    ]


def test_a_case_meeting_holds_every_worker_and_only_the_clients_who_take_part() -> None:
    meeting = case_meeting(
        participants=(worker(), worker("staff:bram"), client(OTHER_CLIENT), guest())
    )

    assert {b.resource for b in bookings(meeting)} == {
        "worker:staff:anouk",
        "worker:staff:bram",
        f"client:{OTHER_CLIENT}",
    }  # CLIENT's item is on the agenda, but CLIENT does not take part


def test_a_cancelled_appointment_holds_no_slot() -> None:
    assert bookings(appointment(status=Status.CANCELLED)) == []


@pytest.mark.parametrize("status", [s for s in Status if s is not Status.CANCELLED])
def test_every_status_but_cancelled_holds_the_slot(status: Status) -> None:
    assert len(bookings(appointment(status=status))) == 2


# --- availability ----------------------------------------------------------------------------

WEEKDAYS_9_TO_5 = tuple(WorkingHours(day, time(9), time(17)) for day in range(5))
SPLIT_DAY = (WorkingHours(0, time(9), time(12)), WorkingHours(0, time(12), time(17)))
LUNCH_GAP = (WorkingHours(0, time(9), time(12)), WorkingHours(0, time(13), time(17)))


def away(starts_at: datetime, ends_at: datetime, available: bool = False) -> AvailabilityException:
    return AvailabilityException(uuid.uuid4(), starts_at, ends_at, available)


def can_book(
    starts_at: datetime,
    ends_at: datetime,
    hours: tuple[WorkingHours, ...] = WEEKDAYS_9_TO_5,
    exceptions: tuple[AvailabilityException, ...] = (),
) -> bool:
    return available(hours, exceptions, starts_at, ends_at, AGENDA_ZONE)


def test_a_worker_without_hours_can_be_booked_any_time() -> None:
    assert can_book(local(2026, 3, 15, 3), local(2026, 3, 15, 4), hours=())  # Sunday night


def test_a_worker_without_hours_who_is_away_cannot_be_booked() -> None:
    assert not can_book(
        local(2026, 3, 15, 3),
        local(2026, 3, 15, 4),
        hours=(),
        exceptions=(away(local(2026, 3, 15), local(2026, 3, 16)),),
    )


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        ((10, 0), (10, 30), True),
        ((9, 0), (17, 0), True),  # the whole day
        ((16, 30), (17, 0), True),  # ends as the day ends
        ((16, 45), (17, 15), False),  # straddles the end
        ((8, 45), (9, 15), False),  # straddles the start
        ((7, 0), (8, 0), False),
        ((17, 0), (17, 30), False),
    ],
)
def test_a_span_is_available_only_within_working_hours(
    start: tuple[int, int], end: tuple[int, int], expected: bool
) -> None:
    assert can_book(local(2026, 3, 9, *start), local(2026, 3, 9, *end)) is expected


def test_working_hours_are_not_on_the_weekend() -> None:
    assert not can_book(local(2026, 3, 14, 10), local(2026, 3, 14, 11))


def test_a_span_over_two_touching_windows_is_covered() -> None:
    assert can_book(local(2026, 3, 9, 11, 30), local(2026, 3, 9, 12, 30), hours=SPLIT_DAY)
    assert can_book(local(2026, 3, 9, 9), local(2026, 3, 9, 17), hours=SPLIT_DAY)


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        ((11, 30), (12, 30), False),  # into the gap
        ((12, 0), (13, 0), False),  # the gap itself
        ((11, 0), (14, 0), False),  # over the gap
        ((12, 30), (13, 30), False),  # out of the gap
        ((13, 0), (14, 0), True),
        ((11, 0), (12, 0), True),
    ],
)
def test_the_gap_between_windows_is_not_covered(
    start: tuple[int, int], end: tuple[int, int], expected: bool
) -> None:
    assert can_book(local(2026, 3, 9, *start), local(2026, 3, 9, *end), hours=LUNCH_GAP) is expected


def test_being_away_wins_over_working_hours() -> None:
    leave = away(local(2026, 3, 9, 10, 15), local(2026, 3, 9, 11))

    assert not can_book(local(2026, 3, 9, 10), local(2026, 3, 9, 10, 30), exceptions=(leave,))
    assert not can_book(local(2026, 3, 9, 10, 30), local(2026, 3, 9, 10, 45), exceptions=(leave,))
    assert can_book(local(2026, 3, 9, 9, 30), local(2026, 3, 9, 10, 15), exceptions=(leave,))
    assert can_book(local(2026, 3, 9, 11), local(2026, 3, 9, 11, 30), exceptions=(leave,))


def test_being_away_wins_over_an_extra_period_too() -> None:
    extra = away(local(2026, 3, 14, 9), local(2026, 3, 14, 13), available=True)
    leave = away(local(2026, 3, 14, 10), local(2026, 3, 14, 11))

    assert not can_book(local(2026, 3, 14, 10), local(2026, 3, 14, 11), exceptions=(extra, leave))


def test_an_extra_period_makes_a_saturday_bookable() -> None:
    extra = away(local(2026, 3, 14, 9), local(2026, 3, 14, 13), available=True)

    assert can_book(local(2026, 3, 14, 10), local(2026, 3, 14, 11), exceptions=(extra,))
    assert not can_book(local(2026, 3, 14, 12, 30), local(2026, 3, 14, 13, 30), exceptions=(extra,))
    assert not can_book(local(2026, 3, 21, 10), local(2026, 3, 21, 11), exceptions=(extra,))


def test_an_extra_period_joins_on_to_working_hours() -> None:
    evening = away(local(2026, 3, 9, 17), local(2026, 3, 9, 19), available=True)

    assert can_book(local(2026, 3, 9, 16, 30), local(2026, 3, 9, 18, 30), exceptions=(evening,))
    assert not can_book(local(2026, 3, 9, 18, 30), local(2026, 3, 9, 19, 30), exceptions=(evening,))


@pytest.mark.parametrize(
    ("day", "opens", "closes"),
    [
        # Sunday 29 March 2026, clocks go forward at 02:00: 09:00-17:00 CEST
        ((2026, 3, 29), utc(2026, 3, 29, 7), utc(2026, 3, 29, 15)),
        ((2026, 3, 28), utc(2026, 3, 28, 8), utc(2026, 3, 28, 16)),  # the Saturday before
        ((2027, 3, 28), utc(2027, 3, 28, 7), utc(2027, 3, 28, 15)),
        # Sunday 25 October 2026, clocks go back at 03:00: 09:00-17:00 CET
        ((2026, 10, 25), utc(2026, 10, 25, 8), utc(2026, 10, 25, 16)),
        ((2026, 10, 24), utc(2026, 10, 24, 7), utc(2026, 10, 24, 15)),
        ((2027, 10, 31), utc(2027, 10, 31, 8), utc(2027, 10, 31, 16)),
    ],
)
def test_working_hours_on_and_around_the_change_days_are_wall_clock_hours(
    day: tuple[int, int, int], opens: datetime, closes: datetime
) -> None:
    weekend = (WorkingHours(5, time(9), time(17)), WorkingHours(6, time(9), time(17)))

    assert can_book(opens, closes, hours=weekend)
    assert not can_book(opens - HALF_HOUR, opens + HALF_HOUR, hours=weekend)
    assert not can_book(closes - HALF_HOUR, closes + HALF_HOUR, hours=weekend)
    assert wall(opens) == datetime(*day, 9)


def test_hours_over_the_change_night_follow_the_wall_clock() -> None:
    # A Saturday-night shift 00:00-06:00 on 29 March 2026 lasts five hours, not six.
    night = (WorkingHours(6, time(0), time(6)),)

    assert can_book(local(2026, 3, 29, 0), local(2026, 3, 29, 6), hours=night)
    assert local(2026, 3, 29, 6) - local(2026, 3, 29, 0) == timedelta(hours=5)
    assert not can_book(local(2026, 3, 29, 5, 30), local(2026, 3, 29, 6, 30), hours=night)


def test_a_span_over_several_days_needs_the_nights_covered_too() -> None:
    monday_afternoon, tuesday_morning = local(2026, 3, 9, 16), local(2026, 3, 10, 10)
    night = away(local(2026, 3, 9, 17), local(2026, 3, 10, 9), available=True)

    assert not can_book(monday_afternoon, tuesday_morning)
    assert can_book(monday_afternoon, tuesday_morning, exceptions=(night,))


def test_a_span_given_with_an_offset_is_the_same_instant() -> None:
    assert can_book(datetime(2026, 3, 9, 10, tzinfo=CET), datetime(2026, 3, 9, 11, tzinfo=CET))
    assert can_book(utc(2026, 3, 9, 8), utc(2026, 3, 9, 9))  # 09:00-10:00 CET
    assert not can_book(utc(2026, 3, 9, 7, 30), utc(2026, 3, 9, 8, 30))


def test_the_days_of_a_span_are_days_in_the_given_zone_not_in_utc() -> None:
    # Monday 22:00 in Paramaribo (UTC-3) is already Tuesday 01:00 UTC.
    evening = (WorkingHours(0, time(20), time(23)),)
    zone = ZoneInfo("America/Paramaribo")
    starts_at = datetime(2026, 3, 9, 22, tzinfo=zone).astimezone(UTC)

    assert starts_at.astimezone(UTC).weekday() == 1
    assert available(evening, (), starts_at, starts_at + HALF_HOUR, "America/Paramaribo")
    assert not available(evening, (), starts_at, starts_at + HALF_HOUR, AGENDA_ZONE)


def test_validate_hours_sorts_the_windows_and_accepts_touching_ones() -> None:
    hours = [
        WorkingHours(2, time(13), time(17)),
        WorkingHours(0, time(12), time(17)),
        WorkingHours(0, time(9), time(12)),
        WorkingHours(2, time(8), time(9)),
    ]

    assert validate_hours(hours) == (hours[2], hours[1], hours[3], hours[0])


def test_four_windows_a_day_is_fine() -> None:
    split = [WorkingHours(0, time(h), time(h + 1)) for h in (8, 10, 12, 14)]

    assert len(validate_hours(split)) == 4


@pytest.mark.parametrize(
    "hours",
    [
        [WorkingHours(0, time(9), time(12)), WorkingHours(0, time(11), time(17))],  # overlap
        [WorkingHours(0, time(9), time(17)), WorkingHours(0, time(10), time(11))],  # within
        [WorkingHours(0, time(9), time(12)), WorkingHours(0, time(9), time(12))],  # twice
        [WorkingHours(0, time(17), time(9))],  # ends before it starts
        [WorkingHours(0, time(9), time(9))],  # no length
        [WorkingHours(7, time(9), time(17))],
        [WorkingHours(-1, time(9), time(17))],
        [WorkingHours(0, time(h), time(h + 1)) for h in (8, 10, 12, 14, 16)],  # five a day
    ],
)
def test_validate_hours_refuses_windows_that_make_no_sense(hours: list[WorkingHours]) -> None:
    with pytest.raises(InvalidInput) as error:
        validate_hours(hours)
    refused(error, "hours")


# --- check_appointment -----------------------------------------------------------------------


def test_a_check_in_is_cleaned_and_given_in_utc() -> None:
    call = appointment(
        title="  Wekelijks   contact ",
        starts_at=datetime(2026, 3, 9, 10, tzinfo=CET),
        ends_at=datetime(2026, 3, 9, 10, 30, tzinfo=CET),
    )

    checked = check_appointment(call)

    assert checked.title == "Wekelijks contact"
    assert checked.starts_at == START
    assert checked.starts_at.tzinfo is UTC
    assert checked.ends_at.tzinfo is UTC
    assert checked.participants == call.participants


def test_a_blank_title_is_no_title() -> None:
    assert check_appointment(appointment(title="   ")).title is None


def test_a_visit_with_a_worker_and_the_client_is_fine() -> None:
    visit = appointment(kind=Kind.VISIT)

    assert check_appointment(visit) == visit


def test_a_check_in_with_a_network_member_and_an_outside_guest_is_fine() -> None:
    call = appointment(participants=(worker(), client(), member(), guest()))

    assert check_appointment(call) == call


def test_a_case_meeting_with_items_and_guests_for_one_item_is_fine() -> None:
    slotted = item(
        CLIENT, datetime(2026, 3, 9, 11, tzinfo=CET), datetime(2026, 3, 9, 12, tzinfo=CET)
    )
    meeting = case_meeting(
        participants=(
            worker(),
            worker("staff:bram"),
            client(OTHER_CLIENT),
            guest(item_id=slotted.id),
            member(item_id=slotted.id),
            guest("mr. De Vries"),  # for the whole meeting
        ),
        items=(slotted, item(OTHER_CLIENT, topic="  Schuld   hulp ")),
    )

    checked = check_appointment(meeting)

    assert checked.items[0].starts_at == utc(2026, 3, 9, 10)
    assert checked.items[0].ends_at == utc(2026, 3, 9, 11)
    assert checked.items[0].starts_at.tzinfo is UTC
    assert checked.items[1].topic == "Schuld hulp"
    assert set(checked.clients()) == {CLIENT, OTHER_CLIENT}


def test_a_network_member_joins_a_case_meeting_about_one_client_without_naming_the_item() -> None:
    meeting = case_meeting(items=(item(CLIENT),), participants=(worker(), member()))

    assert check_appointment(meeting) == meeting


@pytest.mark.parametrize(
    "boundary", [timedelta(minutes=5), timedelta(hours=8)], ids=["five minutes", "eight hours"]
)
def test_the_shortest_and_longest_appointments_are_fine(boundary: timedelta) -> None:
    assert check_appointment(appointment(ends_at=START + boundary)).duration == boundary


BROKEN: list[tuple[str, Callable[[], Appointment], str]] = [
    ("no worker", lambda: appointment(participants=(client(),)), "workers"),
    ("only guests", lambda: appointment(participants=(client(), guest())), "workers"),
    (
        "check-in without client",
        lambda: appointment(client_id=None, participants=(worker(),)),
        "client_id",
    ),
    (
        "visit without client",
        lambda: appointment(kind=Kind.VISIT, client_id=None, participants=(worker(),)),
        "client_id",
    ),
    ("client not taking part", lambda: appointment(participants=(worker(),)), "participants"),
    (
        "another client taking part",
        lambda: appointment(participants=(worker(), client(OTHER_CLIENT))),
        "participants",
    ),
    (
        "two clients",
        lambda: appointment(participants=(worker(), client(), client(OTHER_CLIENT))),
        "participants",
    ),
    ("items on a check-in", lambda: appointment(items=(item(),)), "items"),
    (
        "a check-in guest bound to an item",
        lambda: appointment(participants=(worker(), client(), guest(item_id=uuid.uuid4()))),
        "guests",
    ),
    ("case meeting with client_id", lambda: case_meeting(client_id=CLIENT), "client_id"),
    (
        "item slot before the meeting",
        lambda: case_meeting(
            items=(item(CLIENT, utc(2026, 3, 9, 9, 45), utc(2026, 3, 9, 10, 15)),),
            participants=(worker(),),
        ),
        "items",
    ),
    (
        "item slot after the meeting",
        lambda: case_meeting(
            items=(item(CLIENT, utc(2026, 3, 9, 11, 45), utc(2026, 3, 9, 12, 15)),),
            participants=(worker(),),
        ),
        "items",
    ),
    (
        "item slot backwards",
        lambda: case_meeting(
            items=(item(CLIENT, utc(2026, 3, 9, 11), utc(2026, 3, 9, 10, 30)),),
            participants=(worker(),),
        ),
        "items",
    ),
    (
        "item slot without end",
        lambda: case_meeting(items=(item(CLIENT, utc(2026, 3, 9, 11)),), participants=(worker(),)),
        "items",
    ),
    (
        "item slot naive",
        lambda: case_meeting(
            items=(item(CLIENT, datetime(2026, 3, 9, 11), datetime(2026, 3, 9, 11, 30)),),
            participants=(worker(),),
        ),
        "items",
    ),
    (
        "item without topic",
        lambda: case_meeting(items=(item(topic="  "),), participants=(worker(),)),
        "items",
    ),
    (
        "too many items",
        lambda: case_meeting(
            items=tuple(item() for _ in range(MAX_ITEMS + 1)), participants=(worker(),)
        ),
        "items",
    ),
    (
        "guest bound to an unknown item",
        lambda: case_meeting(participants=(worker(), guest(item_id=uuid.uuid4()))),
        "guests",
    ),
    (
        "client in a meeting not about them",
        lambda: case_meeting(items=(item(CLIENT),), participants=(worker(), client(OTHER_CLIENT))),
        "participants",
    ),
    (
        "member guest, two clients, no item",
        lambda: case_meeting(participants=(worker(), member())),
        "guests",
    ),
    (
        "member guest, no items",
        lambda: case_meeting(items=(), participants=(worker(), member())),
        "guests",
    ),
    (
        "the same worker twice",
        lambda: appointment(participants=(worker(), worker(), client())),
        "participants",
    ),
    (
        "the same client twice",
        lambda: appointment(participants=(worker(), client(), client())),
        "participants",
    ),
    (
        "the same member twice",
        lambda: appointment(participants=(worker(), client(), member(), member())),
        "participants",
    ),
    (
        "too many guests",
        lambda: appointment(
            participants=(worker(), client(), *(guest(f"gast {n}") for n in range(MAX_GUESTS + 1)))
        ),
        "guests",
    ),
    (
        "too many participants",
        lambda: appointment(
            participants=(client(), *(worker(f"staff:{n}") for n in range(MAX_PARTICIPANTS)))
        ),
        "participants",
    ),
    (
        "a worker who is also a client",
        lambda: appointment(participants=(replace(worker(), client_id=CLIENT), client())),
        "participants",
    ),
    (
        "a worker without subject",
        lambda: appointment(
            participants=(Participant(uuid.uuid4(), ParticipantRole.WORKER, "l"), client())
        ),
        "participants",
    ),
    (
        "a client participant without client",
        lambda: appointment(
            participants=(worker(), Participant(uuid.uuid4(), ParticipantRole.CLIENT, "l"))
        ),
        "participants",
    ),
    (
        "a guest who is nobody",
        lambda: appointment(
            participants=(worker(), client(), Participant(uuid.uuid4(), ParticipantRole.GUEST, "l"))
        ),
        "participants",
    ),
    (
        "a guest who is a worker",
        lambda: appointment(
            participants=(
                worker(),
                client(),
                Participant(uuid.uuid4(), ParticipantRole.GUEST, "l", subject="staff:x", name="X"),
            )
        ),
        "participants",
    ),
    (
        "a guest with a blank name",
        lambda: appointment(participants=(worker(), client(), guest("   "))),
        "guests",
    ),
    ("a naive start", lambda: appointment(starts_at=datetime(2026, 3, 9, 10)), "starts_at"),
    ("a naive end", lambda: appointment(ends_at=datetime(2026, 3, 9, 11)), "ends_at"),
    ("end before start", lambda: appointment(ends_at=START - HALF_HOUR), "ends_at"),
    ("no length", lambda: appointment(ends_at=START), "ends_at"),
    (
        "four minutes",
        lambda: appointment(ends_at=START + timedelta(minutes=4, seconds=59)),
        "ends_at",
    ),
    (
        "over eight hours",
        lambda: appointment(ends_at=START + timedelta(hours=8, seconds=1)),
        "ends_at",
    ),
    ("a title too long", lambda: appointment(title="x" * 201), "title"),
]


@pytest.mark.parametrize(
    ("build", "field"), [(b, f) for _, b, f in BROKEN], ids=[n for n, _, _ in BROKEN]
)
def test_a_broken_appointment_is_refused_naming_the_field(
    build: Callable[[], Appointment], field: str
) -> None:
    with pytest.raises(InvalidInput) as error:
        check_appointment(build())
    refused(error, field)


# --- status ----------------------------------------------------------------------------------


def test_a_call_goes_from_planned_through_the_lobby_to_completed() -> None:
    clock = FixedClock(START - LOBBY_LEAD)
    call = appointment()

    call = set_status(call, Status.LOBBY_OPEN, clock.now())
    clock.advance(LOBBY_LEAD)
    call = set_status(call, Status.IN_PROGRESS, clock.now())
    clock.advance(HALF_HOUR)
    call = set_status(call, Status.COMPLETED, clock.now())

    assert call.status is Status.COMPLETED
    assert call.version == 4
    assert call.updated_at == END


@pytest.mark.parametrize(
    ("current", "following"),
    [
        (Status.PLANNED, Status.LOBBY_OPEN),
        (Status.PLANNED, Status.IN_PROGRESS),  # an ad-hoc call
        (Status.PLANNED, Status.COMPLETED),  # a visit
        (Status.PLANNED, Status.NO_SHOW),
        (Status.PLANNED, Status.CANCELLED),
        (Status.LOBBY_OPEN, Status.IN_PROGRESS),
        (Status.LOBBY_OPEN, Status.NO_SHOW),
        (Status.LOBBY_OPEN, Status.COMPLETED),
        (Status.LOBBY_OPEN, Status.CANCELLED),
        (Status.IN_PROGRESS, Status.COMPLETED),
    ],
)
def test_an_appointment_moves_on(current: Status, following: Status) -> None:
    moved = set_status(appointment(status=current, version=3), following, START)

    assert moved.status is following
    assert moved.version == 4
    assert moved.updated_at == START


@pytest.mark.parametrize(
    ("current", "following"),
    [
        (Status.LOBBY_OPEN, Status.PLANNED),
        (Status.IN_PROGRESS, Status.PLANNED),
        (Status.IN_PROGRESS, Status.LOBBY_OPEN),
        (Status.IN_PROGRESS, Status.NO_SHOW),
        (Status.IN_PROGRESS, Status.CANCELLED),
        *(
            (final, other)
            for final in (Status.COMPLETED, Status.NO_SHOW, Status.CANCELLED)
            for other in Status
            if other is not final
        ),
    ],
)
def test_an_appointment_does_not_step_back_or_out_of_a_final_state(
    current: Status, following: Status
) -> None:
    with pytest.raises(InvalidTransition) as error:
        set_status(appointment(status=current), following, START)
    assert error.value.details == {"status": current.value, "to": following.value}


@pytest.mark.parametrize("status", list(Status))
def test_setting_the_status_it_already_has_changes_nothing(status: Status) -> None:
    same = appointment(status=status)

    assert set_status(same, status, START) is same


@pytest.mark.parametrize("status", [Status.COMPLETED, Status.NO_SHOW])
def test_an_appointment_cannot_be_completed_or_missed_before_its_lobby_opens(
    status: Status,
) -> None:
    with pytest.raises(InvalidTransition):
        set_status(appointment(), status, START - LOBBY_LEAD - timedelta(seconds=1))

    assert set_status(appointment(), status, START - LOBBY_LEAD).status is status


def test_cancel_keeps_a_cleaned_reason() -> None:
    cancelled = cancel(appointment(), "  Cliënt   is ziek ", NOW)

    assert cancelled.status is Status.CANCELLED
    assert cancelled.cancel_reason == "Cliënt is ziek"
    assert cancelled.version == 2
    assert cancelled.updated_at == NOW
    assert cancel(appointment(), None, NOW).cancel_reason is None


def test_a_cancel_reason_too_long_is_refused() -> None:
    with pytest.raises(InvalidInput) as error:
        cancel(appointment(), "x" * 501, NOW)
    refused(error, "reason")


@pytest.mark.parametrize("status", [Status.IN_PROGRESS, Status.COMPLETED, Status.NO_SHOW])
def test_a_call_that_started_or_ended_cannot_be_cancelled(status: Status) -> None:
    with pytest.raises(InvalidTransition):
        cancel(appointment(status=status), "te laat", START)


# --- reschedule ------------------------------------------------------------------------------


def test_rescheduling_moves_the_time_and_keeps_the_participants_and_their_links() -> None:
    call = appointment()
    later = START + timedelta(days=1, hours=2)

    moved = reschedule(call, later, later + timedelta(hours=1), NOW)

    assert (moved.starts_at, moved.ends_at) == (later, later + timedelta(hours=1))
    assert moved.participants == call.participants
    assert moved.version == 2
    assert moved.updated_at == NOW
    assert moved.detached is False  # not part of a series


def test_rescheduling_a_case_meeting_moves_its_item_slots_along() -> None:
    meeting = case_meeting()
    shift = timedelta(days=2, hours=-1)

    moved = reschedule(meeting, meeting.starts_at + shift, meeting.ends_at + shift, NOW)

    assert moved.items[0].starts_at == utc(2026, 3, 11, 9)
    assert moved.items[0].ends_at == utc(2026, 3, 11, 9, 30)
    assert moved.items[1].starts_at is None


def test_shortening_a_case_meeting_past_an_item_slot_is_refused() -> None:
    meeting = case_meeting(
        items=(item(CLIENT, utc(2026, 3, 9, 11, 30), utc(2026, 3, 9, 12)),),
        participants=(worker(),),
    )

    with pytest.raises(InvalidInput) as error:
        reschedule(meeting, meeting.starts_at, utc(2026, 3, 9, 11), NOW)
    refused(error, "items")


def test_rescheduling_an_occurrence_detaches_it_from_its_series() -> None:
    occurrence = appointment(series_id=SERIES, occurrence_at=START)

    moved = reschedule(occurrence, START + HALF_HOUR, END + HALF_HOUR, NOW)

    assert moved.detached is True
    assert moved.occurrence_at == START


def test_the_series_moving_its_occurrences_leaves_them_attached() -> None:
    occurrence = appointment(series_id=SERIES, occurrence_at=START)

    moved = reschedule(occurrence, START + HALF_HOUR, END + HALF_HOUR, NOW, detach=False)

    assert moved.detached is False


def test_a_detached_occurrence_stays_detached() -> None:
    occurrence = appointment(series_id=SERIES, detached=True)

    assert reschedule(occurrence, START + HALF_HOUR, END + HALF_HOUR, NOW, detach=False).detached


def test_rescheduling_while_the_lobby_is_open_closes_it_again() -> None:
    waiting = appointment(status=Status.LOBBY_OPEN)

    moved = reschedule(waiting, START + timedelta(hours=3), END + timedelta(hours=3), START)

    assert moved.status is Status.PLANNED


def test_rescheduling_to_the_same_time_changes_nothing() -> None:
    call = appointment()

    assert reschedule(call, START.astimezone(CET), END.astimezone(CEST), NOW) is call


def test_a_new_time_with_an_offset_is_kept_in_utc() -> None:
    moved = reschedule(
        appointment(),
        datetime(2026, 4, 1, 10, tzinfo=CEST),
        datetime(2026, 4, 1, 11, tzinfo=CEST),
        NOW,
    )

    assert moved.starts_at == utc(2026, 4, 1, 8)
    assert moved.starts_at.tzinfo is UTC


@pytest.mark.parametrize(
    ("starts_at", "ends_at", "field"),
    [
        (START, START + timedelta(minutes=4), "ends_at"),
        (START, START + timedelta(hours=9), "ends_at"),
        (START, START - HALF_HOUR, "ends_at"),
        (datetime(2026, 3, 9, 10), END, "starts_at"),
        (START, datetime(2026, 3, 9, 11), "ends_at"),
    ],
)
def test_rescheduling_to_an_impossible_time_is_refused(
    starts_at: datetime, ends_at: datetime, field: str
) -> None:
    with pytest.raises(InvalidInput) as error:
        reschedule(appointment(), starts_at, ends_at, NOW)
    refused(error, field)


@pytest.mark.parametrize(
    "status", [Status.IN_PROGRESS, Status.COMPLETED, Status.NO_SHOW, Status.CANCELLED]
)
def test_an_appointment_that_started_or_ended_cannot_be_rescheduled(status: Status) -> None:
    with pytest.raises(InvalidTransition) as error:
        reschedule(appointment(status=status), START + HALF_HOUR, END + HALF_HOUR, NOW)
    assert error.value.details == {"status": status.value}


# --- change_kind -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("before", "after"), [(Kind.VISIT, Kind.CHECKIN), (Kind.CHECKIN, Kind.VISIT)]
)
def test_a_visit_turns_into_a_call_and_back(before: Kind, after: Kind) -> None:
    changed = change_kind(appointment(kind=before), after, NOW)

    assert changed.kind is after
    assert changed.version == 2
    assert changed.updated_at == NOW
    assert changed.detached is False


def test_changing_the_kind_of_an_occurrence_detaches_it() -> None:
    assert change_kind(appointment(series_id=SERIES), Kind.VISIT, NOW).detached is True


def test_changing_to_the_same_kind_changes_nothing() -> None:
    call = appointment()

    assert change_kind(call, Kind.CHECKIN, NOW) is call


@pytest.mark.parametrize(
    ("build", "kind"),
    [
        (lambda: appointment(), Kind.CASE_MEETING),
        (lambda: appointment(kind=Kind.VISIT), Kind.CASE_MEETING),
        (lambda: case_meeting(), Kind.CHECKIN),
        (lambda: case_meeting(), Kind.VISIT),
    ],
)
def test_a_case_meeting_does_not_turn_into_anything_else_or_back(
    build: Callable[[], Appointment], kind: Kind
) -> None:
    with pytest.raises(InvalidInput) as error:
        change_kind(build(), kind, NOW)
    refused(error, "kind")


@pytest.mark.parametrize(
    "status", [Status.IN_PROGRESS, Status.COMPLETED, Status.NO_SHOW, Status.CANCELLED]
)
def test_the_kind_of_an_appointment_that_started_or_ended_stays(status: Status) -> None:
    with pytest.raises(InvalidTransition):
        change_kind(appointment(status=status), Kind.VISIT, NOW)


# --- join_verdict ----------------------------------------------------------------------------


def test_a_join_link_counts_down_opens_with_the_lobby_and_closes_after_the_grace() -> None:
    call = appointment()
    who = call.participants[1]
    clock = FixedClock(START - LOBBY_LEAD - timedelta(seconds=1))

    early = join_verdict(call, who, clock.now())
    clock.advance(timedelta(seconds=1))
    opened = join_verdict(call, who, clock.now())
    clock.advance(LOBBY_LEAD + HALF_HOUR + JOIN_GRACE - timedelta(seconds=1))
    last_moment = join_verdict(call, who, clock.now())
    clock.advance(timedelta(seconds=1))
    ended = join_verdict(call, who, clock.now())

    assert early.state is JoinState.EARLY
    assert (early.opens_at, early.closes_at) == (
        START - timedelta(minutes=15),
        END + timedelta(minutes=30),
    )
    assert opened.state is JoinState.OPEN
    assert last_moment.state is JoinState.OPEN
    assert ended.state is JoinState.ENDED


def test_a_call_the_worker_started_early_lets_the_client_in_before_the_lobby_time() -> None:
    started = appointment(status=Status.IN_PROGRESS)

    assert (
        join_verdict(started, started.participants[1], START - timedelta(hours=1)).state
        is JoinState.OPEN
    )


def test_a_call_still_going_on_after_the_grace_lets_its_people_back_in() -> None:
    # A call that runs on past its link's window: a client whose network dropped for a
    # moment comes back in (the worker is still in the call); once it has ended, no one does.
    after_the_grace = END + JOIN_GRACE + timedelta(minutes=5)
    going_on = appointment(status=Status.IN_PROGRESS)
    waiting = appointment(status=Status.LOBBY_OPEN)

    assert join_verdict(going_on, going_on.participants[1], after_the_grace).state is (
        JoinState.OPEN
    )
    assert join_verdict(waiting, waiting.participants[1], after_the_grace).state is (
        JoinState.ENDED
    )


@pytest.mark.parametrize("status", [Status.COMPLETED, Status.NO_SHOW])
def test_a_finished_call_has_ended_even_within_its_window(status: Status) -> None:
    done = appointment(status=status)

    assert (
        join_verdict(done, done.participants[0], START + timedelta(minutes=10)).state
        is JoinState.ENDED
    )


@pytest.mark.parametrize("now", [NOW, START, END + timedelta(hours=2)])
def test_a_cancelled_call_says_cancelled_whenever_the_link_is_opened(now: datetime) -> None:
    cancelled = appointment(status=Status.CANCELLED)

    assert join_verdict(cancelled, cancelled.participants[1], now).state is JoinState.CANCELLED


def test_a_cancelled_visit_says_cancelled_rather_than_not_a_call() -> None:
    cancelled = appointment(kind=Kind.VISIT, status=Status.CANCELLED)

    assert join_verdict(cancelled, cancelled.participants[1], START).state is JoinState.CANCELLED


@pytest.mark.parametrize("now", [NOW, START, END + timedelta(hours=2)])
def test_a_home_visit_has_nothing_to_join(now: datetime) -> None:
    visit = appointment(kind=Kind.VISIT)

    assert join_verdict(visit, visit.participants[1], now).state is JoinState.NOT_A_CALL


def test_a_guest_for_an_item_joins_for_that_items_slot() -> None:
    meeting = case_meeting()  # 10:00-12:00 UTC; the guest's item 10:00-10:30 UTC
    first = replace(
        meeting.items[0], starts_at=utc(2026, 3, 9, 11), ends_at=utc(2026, 3, 9, 11, 30)
    )
    meeting = replace(meeting, items=(first, meeting.items[1]))
    the_guest = meeting.participants[2]

    assert join_verdict(meeting, the_guest, utc(2026, 3, 9, 10, 44)).state is JoinState.EARLY
    assert join_verdict(meeting, the_guest, utc(2026, 3, 9, 10, 45)).state is JoinState.OPEN
    assert join_verdict(meeting, the_guest, utc(2026, 3, 9, 11, 59)).state is JoinState.OPEN
    assert join_verdict(meeting, the_guest, utc(2026, 3, 9, 12)).state is JoinState.ENDED
    verdict = join_verdict(meeting, the_guest, utc(2026, 3, 9, 10))
    assert (verdict.opens_at, verdict.closes_at) == (utc(2026, 3, 9, 10, 45), utc(2026, 3, 9, 12))
    # the workers join for the whole meeting
    assert (
        join_verdict(meeting, meeting.participants[0], utc(2026, 3, 9, 12)).state is JoinState.OPEN
    )


@pytest.mark.parametrize("status", [Status.LOBBY_OPEN, Status.IN_PROGRESS])
def test_a_meeting_already_going_on_does_not_let_a_guest_in_before_their_item(
    status: Status,
) -> None:
    meeting = case_meeting(status=status)
    first = replace(
        meeting.items[0], starts_at=utc(2026, 3, 9, 11), ends_at=utc(2026, 3, 9, 11, 30)
    )
    meeting = replace(meeting, items=(first, meeting.items[1]))

    verdict = join_verdict(meeting, meeting.participants[2], utc(2026, 3, 9, 10, 5))

    assert verdict.state is JoinState.EARLY
    assert (
        join_verdict(meeting, meeting.participants[0], utc(2026, 3, 9, 10, 5)).state
        is JoinState.OPEN
    )


def test_a_guest_for_an_item_without_a_slot_joins_for_the_whole_meeting() -> None:
    meeting = case_meeting()
    unslotted = guest(item_id=meeting.items[1].id)
    meeting = replace(meeting, participants=(*meeting.participants, unslotted))

    verdict = join_verdict(meeting, unslotted, utc(2026, 3, 9, 9, 45))

    assert verdict.state is JoinState.OPEN
    assert (verdict.opens_at, verdict.closes_at) == (
        utc(2026, 3, 9, 9, 45),
        utc(2026, 3, 9, 12, 30),
    )


def test_a_call_whose_lobby_is_open_turned_into_a_visit_is_planned_again() -> None:
    call = replace(appointment(), status=Status.LOBBY_OPEN)
    visit = change_kind(call, Kind.VISIT, NOW)
    assert visit.kind is Kind.VISIT
    assert visit.status is Status.PLANNED
