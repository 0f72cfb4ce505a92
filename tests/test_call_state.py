"""The life of one call as a pure state machine, driven with explicit times (no clock).

Every test opens the call at ``OPENED`` and names its moments in seconds after that, so
``at(80)`` is 80 seconds after the lobby opened. The grace period is the default minute
unless a test says otherwise.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from beeldbel.calls.state import (
    DEFAULT_GRACE,
    Admit,
    Call,
    Command,
    Connect,
    Disconnect,
    EndForAll,
    EndReason,
    Event,
    Finished,
    Leave,
    Outcome,
    Phase,
    ReportPath,
    SeatStatus,
    Tell,
    Tick,
    close_unjoined,
    new_call,
    outcome_of,
    step,
)
from beeldbel.errors import BeeldbelError, Forbidden, InvalidInput, InvalidTransition, NotFound

APPOINTMENT = uuid.UUID(int=100)
WORKER = uuid.UUID(int=1)
COLLEAGUE = uuid.UUID(int=2)
CLIENT = uuid.UUID(int=3)
GUEST = uuid.UUID(int=4)
STRANGER = uuid.UUID(int=99)
ROLES = {WORKER: "worker", COLLEAGUE: "worker", CLIENT: "client", GUEST: "guest"}
OPENED = datetime(2026, 3, 9, 8, 55, tzinfo=UTC)  # five minutes before a 10:00 check-in
GRACE = DEFAULT_GRACE


def at(seconds: float) -> datetime:
    return OPENED + timedelta(seconds=seconds)


def connect(participant_id: uuid.UUID) -> Connect:
    return Connect(participant_id, ROLES[participant_id])


def play(call: Call, *script: tuple[float, Event]) -> tuple[Call, list[Command]]:
    """Step through ``(seconds after opening, event)`` pairs; the commands of all the steps."""
    commands: list[Command] = []
    for seconds, event in script:
        call, more = step(call, event, at(seconds))
        commands.extend(more)
    return call, commands


def opened(*, grace: timedelta = GRACE, auto_admit_client: bool = False) -> Call:
    return new_call(APPOINTMENT, OPENED, grace=grace, auto_admit_client=auto_admit_client)


def live_call() -> Call:
    """The worker in at 0 s, the client waiting from 10 s, admitted at 20 s: live since 20 s."""
    call, _ = play(
        opened(),
        (0, connect(WORKER)),
        (10, connect(CLIENT)),
        (20, Admit(WORKER, CLIENT)),
    )
    assert call.phase is Phase.LIVE
    return call


def tells(commands: list[Command], what: str | None = None) -> list[Tell]:
    return [c for c in commands if isinstance(c, Tell) and (what is None or c.what == what)]


def finished(commands: list[Command]) -> Outcome:
    """The outcome of the one Finished among ``commands``."""
    outcomes = [c.outcome for c in commands if isinstance(c, Finished)]
    assert len(outcomes) == 1, outcomes
    return outcomes[0]


def status(call: Call, participant_id: uuid.UUID) -> SeatStatus:
    seat = call.seat(participant_id)
    assert seat is not None
    return seat.status


# --- opening the lobby and arriving --------------------------------------------------------


def test_a_new_call_is_open_with_nobody_in_it_and_no_host_yet() -> None:
    call = opened()

    assert call.phase is Phase.OPEN
    assert call.seats == ()
    assert call.opened_at == OPENED
    assert call.no_host_since == OPENED
    assert call.grace == DEFAULT_GRACE == timedelta(seconds=60)
    assert (call.started_at, call.ended_at, call.end_reason) == (None, None, None)
    assert call.version == 1


def test_a_worker_connecting_is_in_the_call_at_once_and_the_call_stays_open_alone() -> None:
    call, commands = play(opened(), (0, connect(WORKER)))

    assert commands == [Tell("admitted", about=WORKER)]
    assert call.in_call() == (WORKER,)
    seat = call.seat(WORKER)
    assert seat is not None
    assert seat.admitted
    assert seat.first_joined_at == seat.in_call_since == at(0)
    assert call.phase is Phase.OPEN
    assert call.started_at is None
    assert call.no_host_since is None


def test_a_client_waits_and_the_workers_in_the_call_are_cued() -> None:
    call, _ = play(opened(), (0, connect(WORKER)), (1, connect(COLLEAGUE)))

    call, commands = step(call, connect(CLIENT), at(10))

    assert commands == [Tell("waiting", to=(WORKER, COLLEAGUE), about=CLIENT, cue=True)]
    assert call.waiting() == (CLIENT,)
    seat = call.seat(CLIENT)
    assert seat is not None
    assert not seat.admitted
    assert seat.first_joined_at == at(10)
    assert seat.in_call_since is None
    assert call.phase is Phase.OPEN  # two workers of a check-in wait for the client


def test_two_colleagues_make_a_case_meeting_live() -> None:
    call, _ = play(
        new_call(APPOINTMENT, at(0), colleagues_count=True),
        (0, connect(WORKER)),
        (1, connect(COLLEAGUE)),
    )
    assert call.phase is Phase.LIVE
    assert call.started_at == at(1)


def test_a_client_before_any_worker_waits_and_is_told_to_everyone_present() -> None:
    call, commands = step(opened(), connect(CLIENT), at(0))

    assert commands == [Tell("waiting", to=None, about=CLIENT, cue=True)]
    assert call.waiting() == (CLIENT,)
    assert call.phase is Phase.OPEN


def test_a_worker_who_is_away_is_not_cued_when_someone_waits() -> None:
    call, _ = play(opened(), (0, connect(WORKER)), (1, connect(COLLEAGUE)), (5, Disconnect(WORKER)))

    _, commands = step(call, connect(GUEST), at(10))

    assert commands == [Tell("waiting", to=(COLLEAGUE,), about=GUEST, cue=True)]


def test_the_invited_client_is_let_in_at_once_when_policy_says_so() -> None:
    call, _ = play(opened(auto_admit_client=True), (0, connect(WORKER)))

    call, commands = step(call, connect(CLIENT), at(30))

    assert commands == [Tell("admitted", about=CLIENT)]
    assert call.in_call() == (WORKER, CLIENT)
    assert call.phase is Phase.LIVE
    assert call.started_at == at(30)


def test_an_auto_admitted_client_alone_does_not_make_the_call_live_until_a_worker_comes() -> None:
    call, commands = play(opened(auto_admit_client=True), (0, connect(CLIENT)))

    assert commands == [Tell("admitted", about=CLIENT)]
    assert call.in_call() == (CLIENT,)
    assert call.phase is Phase.OPEN

    call, _ = step(call, connect(WORKER), at(45))

    assert call.phase is Phase.LIVE
    assert call.started_at == at(45)


@pytest.mark.parametrize("auto_admit_client", [False, True])
def test_a_guest_always_waits_for_admission(auto_admit_client: bool) -> None:
    call, _ = play(opened(auto_admit_client=auto_admit_client), (0, connect(WORKER)))

    call, commands = step(call, connect(GUEST), at(10))

    assert commands == [Tell("waiting", to=(WORKER,), about=GUEST, cue=True)]
    assert call.waiting() == (GUEST,)
    assert call.phase is Phase.OPEN


# --- admission ---------------------------------------------------------------------------


def test_a_worker_admits_one_waiting_person_and_the_others_keep_waiting() -> None:
    call, _ = play(opened(), (0, connect(WORKER)), (10, connect(CLIENT)), (12, connect(GUEST)))

    call, commands = step(call, Admit(WORKER, GUEST), at(30))

    assert commands == [Tell("admitted", about=GUEST)]
    assert call.waiting() == (CLIENT,)
    assert status(call, GUEST) is SeatStatus.IN_CALL
    seat = call.seat(GUEST)
    assert seat is not None
    assert seat.admitted
    assert seat.in_call_since == at(30)
    assert seat.first_joined_at == at(12)


def test_admit_all_lets_in_everyone_waiting_and_no_one_else() -> None:
    call, _ = play(
        opened(),
        (0, connect(WORKER)),
        (10, connect(CLIENT)),
        (12, connect(GUEST)),
        (14, connect(COLLEAGUE)),
    )

    call, commands = step(call, Admit(WORKER), at(30))

    assert sorted(c.about for c in tells(commands) if c.about) == [CLIENT, GUEST]
    assert tells(commands, "admitted") == tells(commands)
    assert call.waiting() == ()
    assert set(call.in_call()) == {WORKER, COLLEAGUE, CLIENT, GUEST}


def test_admit_all_passes_over_someone_whose_waiting_connection_dropped() -> None:
    call, _ = play(
        opened(),
        (0, connect(WORKER)),
        (10, connect(CLIENT)),
        (12, connect(GUEST)),
        (15, Disconnect(GUEST)),
    )

    call, commands = step(call, Admit(WORKER), at(30))

    assert commands == [Tell("admitted", about=CLIENT)]
    assert status(call, GUEST) is SeatStatus.AWAY
    guest = call.seat(GUEST)
    assert guest is not None
    assert not guest.admitted


def test_admit_all_with_nobody_waiting_changes_nothing_but_the_version() -> None:
    call, _ = play(opened(), (0, connect(WORKER)))

    after, commands = step(call, Admit(WORKER), at(5))

    assert commands == []
    assert after.seats == call.seats
    assert after.version == call.version + 1


@pytest.mark.parametrize(
    ("script", "by"),
    [
        pytest.param([], CLIENT, id="a client in the call"),
        pytest.param([], GUEST, id="a waiting guest"),
        pytest.param([(15, Disconnect(COLLEAGUE))], COLLEAGUE, id="a worker who is away"),
        pytest.param([(15, Leave(COLLEAGUE))], COLLEAGUE, id="a worker who left"),
    ],
)
def test_only_a_worker_in_the_call_may_admit_or_end_it(
    script: list[tuple[float, Event]], by: uuid.UUID
) -> None:
    call, _ = play(
        opened(auto_admit_client=True),
        (0, connect(WORKER)),
        (1, connect(COLLEAGUE)),
        (10, connect(CLIENT)),
        (12, connect(GUEST)),
        *script,
    )

    for event in (Admit(by, GUEST), Admit(by), EndForAll(by)):
        with pytest.raises(Forbidden) as error:
            step(call, event, at(30))
        assert error.value.details == {"reason": "not_host"}
    assert call.waiting() == (GUEST,)
    assert call.phase is Phase.LIVE


@pytest.mark.parametrize("event", [Admit(STRANGER, CLIENT), Admit(STRANGER), EndForAll(STRANGER)])
def test_someone_without_a_seat_may_not_admit_or_end(event: Event) -> None:
    call, _ = play(opened(), (0, connect(WORKER)), (10, connect(CLIENT)))

    with pytest.raises(NotFound):
        step(call, event, at(30))


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        pytest.param([(20, Admit(WORKER, CLIENT))], "in_call", id="already in"),
        pytest.param([(20, Disconnect(CLIENT))], "away", id="dropped while waiting"),
        pytest.param([(20, Leave(CLIENT))], "left", id="left the waiting room"),
    ],
)
def test_admitting_someone_who_is_not_waiting_is_refused(
    script: list[tuple[float, Event]], expected: str
) -> None:
    call, _ = play(opened(), (0, connect(WORKER)), (10, connect(CLIENT)), *script)

    with pytest.raises(InvalidTransition) as error:
        step(call, Admit(WORKER, CLIENT), at(30))

    assert error.value.details == {"status": expected}


def test_admitting_someone_who_has_no_seat_is_not_found() -> None:
    call, _ = play(opened(), (0, connect(WORKER)))

    with pytest.raises(NotFound) as error:
        step(call, Admit(WORKER, STRANGER), at(30))

    assert error.value.details == {"participant_id": str(STRANGER)}


# --- going live --------------------------------------------------------------------------


def test_the_call_goes_live_when_a_worker_and_another_person_are_in_it_together() -> None:
    call, _ = play(opened(), (0, connect(WORKER)), (10, connect(CLIENT)))
    assert call.phase is Phase.OPEN  # the client only waits

    call, _ = step(call, Admit(WORKER, CLIENT), at(20))

    assert call.phase is Phase.LIVE
    assert call.started_at == at(20)


def test_the_start_of_a_call_stays_put_while_people_come_and_go() -> None:
    call, _ = play(
        live_call(),
        (30, Disconnect(CLIENT)),
        (40, connect(CLIENT)),
        (50, connect(GUEST)),
        (60, Admit(WORKER, GUEST)),
        (70, Leave(CLIENT)),
    )

    assert call.phase is Phase.LIVE
    assert call.started_at == at(20)


# --- drops and returns -------------------------------------------------------------------


def test_a_drop_keeps_the_seat_and_a_return_within_the_grace_needs_no_admission() -> None:
    call, commands = step(live_call(), Disconnect(CLIENT), at(100))

    assert commands == [Tell("away", about=CLIENT)]
    assert status(call, CLIENT) is SeatStatus.AWAY
    away = call.seat(CLIENT)
    assert away is not None
    assert away.away_since == at(100)
    assert away.admitted
    assert call.phase is Phase.LIVE

    call, commands = step(call, connect(CLIENT), at(159))

    assert commands == [Tell("state", about=CLIENT)]
    back = call.seat(CLIENT)
    assert back is not None
    assert back.status is SeatStatus.IN_CALL
    assert back.reconnects == 1
    assert back.away_since is None
    assert back.in_call_since == at(20)  # the same place as before the drop
    assert back.first_joined_at == at(10)


def test_every_return_from_a_drop_counts_as_a_reconnect() -> None:
    call, _ = play(
        live_call(),
        (100, Disconnect(CLIENT)),
        (105, connect(CLIENT)),
        (200, Disconnect(CLIENT)),
        (230, connect(CLIENT)),
        (300, Disconnect(WORKER)),
        (301, connect(WORKER)),
    )

    client, worker = call.seat(CLIENT), call.seat(WORKER)
    assert client is not None
    assert worker is not None
    assert (client.reconnects, worker.reconnects) == (2, 1)
    assert set(call.in_call()) == {WORKER, CLIENT}


def test_a_second_drop_while_away_changes_nothing() -> None:
    call, _ = step(live_call(), Disconnect(CLIENT), at(100))

    again, commands = step(call, Disconnect(CLIENT), at(110))

    assert commands == []
    assert again.seats == call.seats


def test_a_drop_of_someone_without_a_seat_is_ignored() -> None:
    call = live_call()

    after, commands = step(call, Disconnect(STRANGER), at(100))

    assert commands == []
    assert after.seats == call.seats


def test_a_waiting_person_who_drops_and_returns_waits_again() -> None:
    call, _ = play(opened(), (0, connect(WORKER)), (10, connect(CLIENT)))

    call, commands = play(call, (20, Disconnect(CLIENT)), (40, connect(CLIENT)))

    assert tells(commands, "away") == [Tell("away", about=CLIENT)]
    assert tells(commands, "admitted") == []
    assert call.waiting() == (CLIENT,)
    seat = call.seat(CLIENT)
    assert seat is not None
    assert not seat.admitted
    assert seat.in_call_since is None
    assert call.phase is Phase.OPEN


def test_a_tick_releases_a_seat_that_was_away_for_the_grace_period() -> None:
    call, _ = step(live_call(), Disconnect(CLIENT), at(100))

    call, commands = step(call, Tick(), at(159))
    assert commands == []
    assert status(call, CLIENT) is SeatStatus.AWAY

    call, commands = step(call, Tick(), at(160))

    assert commands == [Tell("seat_released", about=CLIENT)]
    seat = call.seat(CLIENT)
    assert seat is not None
    assert seat.status is SeatStatus.LEFT
    assert seat.left_at == at(100)  # gone since the drop
    assert not seat.admitted
    assert call.phase is Phase.LIVE  # the worker is still there


def test_a_waiting_seat_is_released_after_the_grace_period_too() -> None:
    call, _ = play(opened(), (0, connect(WORKER)), (10, connect(GUEST)), (20, Disconnect(GUEST)))

    call, commands = step(call, Tick(), at(80))

    assert commands == [Tell("seat_released", about=GUEST)]
    assert status(call, GUEST) is SeatStatus.LEFT


@pytest.mark.parametrize("ticked", [True, False], ids=["after a tick", "before any tick"])
def test_a_return_after_the_grace_period_means_waiting_for_admission_again(ticked: bool) -> None:
    call, _ = step(live_call(), Disconnect(CLIENT), at(100))
    released: list[Command] = []
    if ticked:
        call, released = step(call, Tick(), at(165))

    call, commands = step(call, connect(CLIENT), at(170))

    # The seat is released (and the host told) before the return is dealt with.
    assert released + commands == [
        Tell("seat_released", about=CLIENT),
        Tell("waiting", to=(WORKER,), about=CLIENT, cue=True),
    ]
    assert call.waiting() == (CLIENT,)
    seat = call.seat(CLIENT)
    assert seat is not None
    assert not seat.admitted
    assert seat.first_joined_at == at(10)
    assert len(call.seats) == 2

    call, commands = step(call, Admit(WORKER, CLIENT), at(180))

    assert commands == [Tell("admitted", about=CLIENT)]
    assert status(call, CLIENT) is SeatStatus.IN_CALL


def test_a_return_exactly_at_the_end_of_the_grace_period_is_too_late() -> None:
    call, _ = step(live_call(), Disconnect(CLIENT), at(100))

    call, _ = step(call, connect(CLIENT), at(160))

    assert call.waiting() == (CLIENT,)


def test_an_auto_admitted_client_back_after_the_grace_period_is_let_in_by_policy_again() -> None:
    call, _ = play(
        opened(auto_admit_client=True),
        (0, connect(WORKER)),
        (10, connect(CLIENT)),
        (100, Disconnect(CLIENT)),
        (200, Tick()),
        (210, connect(CLIENT)),
    )

    assert status(call, CLIENT) is SeatStatus.IN_CALL


@settings(max_examples=80, deadline=None, derandomize=True)
@given(
    grace_s=st.integers(min_value=1, max_value=600),
    gone_s=st.integers(min_value=0, max_value=1200),
    ticked=st.booleans(),
)
def test_whether_a_returning_participant_is_let_straight_in_depends_only_on_the_grace(
    grace_s: int, gone_s: int, ticked: bool
) -> None:
    call, _ = play(
        opened(grace=timedelta(seconds=grace_s)),
        (0, connect(WORKER)),
        (10, connect(CLIENT)),
        (20, Admit(WORKER, CLIENT)),
        (100, Disconnect(CLIENT)),
    )
    if ticked:
        call, _ = step(call, Tick(), at(100 + gone_s))

    call, _ = step(call, connect(CLIENT), at(100 + gone_s))

    expected = SeatStatus.IN_CALL if gone_s < grace_s else SeatStatus.WAITING
    assert status(call, CLIENT) is expected


# --- leaving -----------------------------------------------------------------------------


def test_leaving_releases_the_seat_at_once_and_coming_back_means_waiting_again() -> None:
    call, commands = step(live_call(), Leave(CLIENT), at(100))

    assert commands == [Tell("left", about=CLIENT)]
    seat = call.seat(CLIENT)
    assert seat is not None
    assert seat.status is SeatStatus.LEFT
    assert seat.left_at == at(100)
    assert not seat.admitted
    assert call.phase is Phase.LIVE

    call, commands = step(call, connect(CLIENT), at(110))

    assert commands == [Tell("waiting", to=(WORKER,), about=CLIENT, cue=True)]
    assert call.waiting() == (CLIENT,)
    assert len(call.seats) == 2


def test_leaving_twice_is_the_same_as_leaving_once() -> None:
    call, _ = step(live_call(), Leave(CLIENT), at(100))

    again, commands = step(call, Leave(CLIENT), at(110))

    assert commands == []
    assert again.seats == call.seats


def test_someone_without_a_seat_cannot_leave() -> None:
    with pytest.raises(NotFound):
        step(live_call(), Leave(STRANGER), at(100))


def test_someone_away_who_leaves_is_gone_at_once() -> None:
    call, _ = play(live_call(), (100, Disconnect(CLIENT)), (110, Leave(CLIENT)))

    seat = call.seat(CLIENT)
    assert seat is not None
    assert seat.status is SeatStatus.LEFT
    assert seat.left_at == at(110)
    assert seat.away_since is None


# --- the host leaving --------------------------------------------------------------------


def test_when_the_host_leaves_the_others_are_told_and_stay() -> None:
    call, commands = step(live_call(), Leave(WORKER), at(100))

    assert commands == [Tell("left", about=WORKER), Tell("host_left")]
    assert call.in_call() == (CLIENT,)
    assert call.phase is Phase.LIVE
    assert call.no_host_since == at(100)


def test_a_host_back_within_the_grace_period_keeps_the_call_going() -> None:
    call, commands = play(
        live_call(),
        (100, Leave(WORKER)),
        (159, connect(WORKER)),
        (300, Tick()),
    )

    assert call.phase is Phase.LIVE
    assert set(call.in_call()) == {WORKER, CLIENT}
    assert call.no_host_since is None
    assert not any(isinstance(c, Finished) for c in commands)


def test_a_live_call_without_a_host_for_the_grace_period_ends_as_host_gone() -> None:
    call, _ = play(live_call(), (100, Leave(WORKER)), (159, Tick()))
    assert call.phase is Phase.LIVE

    call, commands = step(call, Tick(), at(160))

    assert call.phase is Phase.ENDED
    assert call.end_reason is EndReason.HOST_GONE
    assert commands[-2:-1] == [Tell("ended")]
    outcome = finished(commands)
    assert outcome.reason is EndReason.HOST_GONE
    assert outcome.started_at == at(20)
    assert outcome.ended_at == at(160)
    assert [s.left_at for s in outcome.seats] == [at(100), at(160)]


def test_a_host_who_drops_and_stays_away_ends_the_call_one_grace_period_later() -> None:
    call, commands = play(live_call(), (100, Disconnect(WORKER)))
    assert commands == [Tell("away", about=WORKER), Tell("host_left")]
    call, commands = play(call, (159, Tick()))
    assert call.phase is Phase.LIVE

    call, commands = step(call, Tick(), at(160))

    assert Tell("seat_released", about=WORKER) in commands
    assert call.phase is Phase.ENDED
    assert call.end_reason is EndReason.HOST_GONE


def test_when_one_of_two_workers_leaves_the_host_is_still_there() -> None:
    call, _ = play(live_call(), (30, connect(COLLEAGUE)))

    call, commands = play(call, (100, Leave(WORKER)), (1000, Tick()))

    assert tells(commands, "host_left") == []
    assert call.phase is Phase.LIVE
    assert call.no_host_since is None


def test_an_open_call_where_nobody_lets_the_client_in_never_ends_on_its_own() -> None:
    call, commands = play(
        opened(),
        (0, connect(WORKER)),
        (10, connect(CLIENT)),
        (20, Leave(WORKER)),
        (3600, Tick()),
    )

    assert Tell("host_left") in commands
    assert call.phase is Phase.OPEN
    assert call.waiting() == (CLIENT,)


# --- everyone leaving --------------------------------------------------------------------


def test_when_everyone_has_left_a_live_call_ends_as_everyone_left() -> None:
    call, commands = play(live_call(), (100, Leave(CLIENT)), (110, Leave(WORKER)))

    assert call.phase is Phase.ENDED
    assert call.end_reason is EndReason.EVERYONE_LEFT
    assert call.ended_at == at(110)
    assert tells(commands, "host_left") == []  # nobody was left to tell
    outcome = finished(commands)
    assert outcome.reason is EndReason.EVERYONE_LEFT
    assert outcome.duration == timedelta(seconds=90)


def test_when_the_host_leaves_first_and_then_the_client_the_call_ends_as_everyone_left() -> None:
    call, commands = play(live_call(), (100, Leave(WORKER)), (110, Leave(CLIENT)))

    assert tells(commands, "host_left") == [Tell("host_left")]
    assert call.end_reason is EndReason.EVERYONE_LEFT
    assert finished(commands).ended_at == at(110)


def test_when_everyone_drops_and_nobody_returns_the_call_ends_after_the_grace_period() -> None:
    call, commands = play(
        live_call(), (100, Disconnect(CLIENT)), (101, Disconnect(WORKER)), (161, Tick())
    )

    assert call.phase is Phase.ENDED
    assert call.end_reason is EndReason.EVERYONE_LEFT
    outcome = finished(commands)
    assert [s.left_at for s in outcome.seats] == [at(101), at(100)]


def test_an_open_call_everyone_left_stays_open_for_close_unjoined() -> None:
    call, commands = play(
        opened(),
        (0, connect(WORKER)),
        (10, connect(CLIENT)),
        (20, Leave(CLIENT)),
        (30, Leave(WORKER)),
    )

    assert call.phase is Phase.OPEN
    assert not any(isinstance(c, Finished) for c in commands)


# --- ending for all and the outcome -------------------------------------------------------


def test_end_for_all_files_one_outcome_with_both_participants() -> None:
    end = 20 + 15 * 60
    call, commands = play(
        live_call(),
        (25, ReportPath(WORKER, "direct")),
        (26, ReportPath(CLIENT, "relay")),
        (300, Disconnect(CLIENT)),
        (310, connect(CLIENT)),
        (end, EndForAll(WORKER)),
    )

    assert call.phase is Phase.ENDED
    assert call.ended_at == at(end)
    assert call.end_reason is EndReason.ENDED_BY_HOST
    assert all(s.status is SeatStatus.LEFT and not s.admitted for s in call.seats)
    assert commands[-2] == Tell("ended")
    assert isinstance(commands[-1], Finished)
    outcome = finished(commands)
    assert outcome == outcome_of(call)
    assert outcome.appointment_id == APPOINTMENT
    assert outcome.reason is EndReason.ENDED_BY_HOST
    assert outcome.started_at == at(20)
    assert outcome.ended_at == at(end)
    assert outcome.duration == timedelta(minutes=15)
    assert outcome.media_path == "relay"
    assert outcome.reconnects == 1
    worker, client = outcome.seats
    assert (worker.participant_id, worker.role) == (WORKER, "worker")
    assert (client.participant_id, client.role) == (CLIENT, "client")
    assert (worker.joined_at, client.joined_at) == (at(0), at(10))
    assert worker.left_at == client.left_at == at(end)
    assert (worker.reconnects, client.reconnects) == (0, 1)
    assert worker.took_part
    assert client.took_part


def test_the_outcome_lists_workers_first_then_the_others_in_a_stable_order() -> None:
    late_worker = uuid.UUID(int=200)  # sorts after the client and the guest
    _, commands = play(
        opened(),
        (0, connect(GUEST)),
        (1, connect(CLIENT)),
        (2, Connect(late_worker, "worker")),
        (3, connect(WORKER)),
        (4, Admit(WORKER)),
        (60, EndForAll(late_worker)),
    )

    assert [(s.role, s.participant_id) for s in finished(commands).seats] == [
        ("worker", WORKER),
        ("worker", late_worker),
        ("client", CLIENT),
        ("guest", GUEST),
    ]


@pytest.mark.parametrize(
    ("reports", "expected"),
    [
        ([], None),
        ([(WORKER, "direct")], "direct"),
        ([(WORKER, "direct"), (CLIENT, "direct")], "direct"),
        ([(WORKER, "direct"), (CLIENT, "relay")], "relay"),
        ([(CLIENT, "relay")], "relay"),
    ],
)
def test_the_media_path_is_relay_if_anyone_was_relayed(
    reports: list[tuple[uuid.UUID, str]], expected: str | None
) -> None:
    script = [(30 + i, ReportPath(who, path)) for i, (who, path) in enumerate(reports)]
    _, commands = play(live_call(), *script, (100, EndForAll(WORKER)))

    assert finished(commands).media_path == expected


def test_a_media_path_reported_before_leaving_still_counts() -> None:
    _, commands = play(
        live_call(),
        (30, connect(GUEST)),
        (35, Admit(WORKER, GUEST)),
        (40, ReportPath(GUEST, "relay")),
        (50, Leave(GUEST)),
        (100, EndForAll(WORKER)),
    )

    assert finished(commands).media_path == "relay"


@pytest.mark.parametrize("path", ["turn", "", "RELAY", "host"])
def test_a_media_path_other_than_direct_or_relay_is_refused(path: str) -> None:
    with pytest.raises(InvalidInput) as error:
        step(live_call(), ReportPath(CLIENT, path), at(30))

    assert error.value.details == {"field": "path"}


def test_a_media_path_for_someone_without_a_seat_is_not_found() -> None:
    with pytest.raises(NotFound):
        step(live_call(), ReportPath(STRANGER, "direct"), at(30))


def test_someone_who_only_waited_did_not_take_part() -> None:
    _, commands = play(live_call(), (30, connect(GUEST)), (600, EndForAll(WORKER)))

    guest = next(s for s in finished(commands).seats if s.participant_id == GUEST)
    assert not guest.took_part
    assert guest.joined_at == at(30)


def test_someone_who_left_before_the_call_went_live_did_not_take_part() -> None:
    _, commands = play(
        opened(auto_admit_client=True),
        (0, connect(CLIENT)),
        (10, Leave(CLIENT)),
        (20, connect(WORKER)),
        (30, connect(GUEST)),
        (40, Admit(WORKER, GUEST)),
        (100, EndForAll(WORKER)),
    )

    took_part = {s.participant_id: s.took_part for s in finished(commands).seats}
    assert took_part == {WORKER: True, CLIENT: False, GUEST: True}


def test_someone_who_took_part_and_came_back_to_the_waiting_room_still_took_part() -> None:
    _, commands = play(
        live_call(),
        (100, Disconnect(CLIENT)),
        (200, Tick()),  # the seat is released
        (210, connect(CLIENT)),  # back, waiting, never admitted again
        (300, EndForAll(WORKER)),
    )

    client = next(s for s in finished(commands).seats if s.participant_id == CLIENT)
    assert client.took_part


def test_a_call_ended_the_moment_it_went_live_was_taken_part_in_by_both() -> None:
    call, commands = play(
        opened(), (0, connect(WORKER)), (10, connect(CLIENT)), (20, Admit(WORKER, CLIENT))
    )
    _, commands = step(call, EndForAll(WORKER), at(20))

    outcome = finished(commands)
    assert outcome.reason is EndReason.ENDED_BY_HOST
    assert outcome.duration == timedelta(0)
    assert all(s.took_part for s in outcome.seats)


def test_a_call_ended_by_the_host_before_it_went_live_was_not_joined() -> None:
    call, commands = play(
        opened(), (0, connect(WORKER)), (10, connect(CLIENT)), (300, EndForAll(WORKER))
    )

    assert call.end_reason is EndReason.NOT_JOINED
    outcome = finished(commands)
    assert outcome.reason is EndReason.NOT_JOINED
    assert outcome.started_at is None
    assert outcome.duration == timedelta(0)
    assert not any(s.took_part for s in outcome.seats)


# --- after the end ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "event",
    [
        connect(WORKER),
        connect(CLIENT),
        connect(GUEST),
        Admit(WORKER),
        Leave(CLIENT),
        EndForAll(WORKER),
    ],
)
def test_events_after_the_end_are_refused(event: Event) -> None:
    call, _ = step(live_call(), EndForAll(WORKER), at(100))

    with pytest.raises(InvalidTransition) as error:
        step(call, event, at(110))

    assert error.value.details == {"reason": "call_ended"}


@pytest.mark.parametrize(
    "event", [Tick(), Disconnect(CLIENT), Disconnect(STRANGER), ReportPath(CLIENT, "relay")]
)
def test_late_ticks_drops_and_media_reports_after_the_end_are_ignored(event: Event) -> None:
    call, _ = step(live_call(), EndForAll(WORKER), at(100))

    after, commands = step(call, event, at(110))

    assert after is call
    assert commands == []


# --- closing a call nobody joined ---------------------------------------------------------


def test_closing_an_open_call_ends_it_as_not_joined_with_what_is_known() -> None:
    call, _ = play(opened(), (0, connect(WORKER)), (10, connect(CLIENT)))

    closed, commands = close_unjoined(call, at(1800))

    assert closed.phase is Phase.ENDED
    assert closed.end_reason is EndReason.NOT_JOINED
    assert closed.ended_at == at(1800)
    assert closed.version == call.version + 1
    assert commands[0] == Tell("ended")
    outcome = finished(commands)
    assert outcome == outcome_of(closed)
    assert outcome.reason is EndReason.NOT_JOINED
    assert outcome.started_at is None
    assert outcome.duration == timedelta(0)
    assert outcome.media_path is None
    assert [(s.participant_id, s.joined_at, s.took_part) for s in outcome.seats] == [
        (WORKER, at(0), False),
        (CLIENT, at(10), False),
    ]
    assert all(s.left_at == at(1800) for s in outcome.seats)


def test_closing_a_call_nobody_opened_ends_it_with_no_seats() -> None:
    closed, commands = close_unjoined(opened(), at(1800))

    assert closed.end_reason is EndReason.NOT_JOINED
    assert finished(commands).seats == ()


def test_closing_keeps_the_time_someone_dropped_or_left() -> None:
    call, _ = play(
        opened(),
        (0, connect(WORKER)),
        (10, connect(CLIENT)),
        (20, Disconnect(CLIENT)),
        (30, Leave(WORKER)),
    )

    _, commands = close_unjoined(call, at(40))

    assert [s.left_at for s in finished(commands).seats] == [at(30), at(20)]


@pytest.mark.parametrize("ended", [False, True], ids=["live", "ended"])
def test_closing_a_call_that_went_live_does_nothing(ended: bool) -> None:
    call = live_call()
    if ended:
        call, _ = step(call, EndForAll(WORKER), at(100))

    after, commands = close_unjoined(call, at(1800))

    assert after is call
    assert commands == []


# --- seats and roles ------------------------------------------------------------------------


@pytest.mark.parametrize("who", [WORKER, CLIENT])
def test_a_second_connection_while_in_the_call_keeps_one_seat(who: uuid.UUID) -> None:
    call, commands = step(live_call(), connect(who), at(100))

    assert commands == [Tell("state", about=who)]
    assert len(call.seats) == 2
    assert set(call.in_call()) == {WORKER, CLIENT}
    assert call.phase is Phase.LIVE


def test_a_second_connection_while_waiting_keeps_one_waiting_seat() -> None:
    call, _ = play(opened(), (0, connect(WORKER)), (10, connect(GUEST)))

    call, commands = step(call, connect(GUEST), at(20))

    assert commands == [Tell("state", about=GUEST)]
    assert call.waiting() == (GUEST,)
    assert len(call.seats) == 2


@pytest.mark.parametrize(
    "script",
    [
        pytest.param([], id="in the call"),
        pytest.param([(30, Disconnect(CLIENT))], id="away"),
        pytest.param([(30, Leave(CLIENT))], id="left"),
    ],
)
@pytest.mark.parametrize("role", ["worker", "guest"])
def test_a_connection_with_another_role_than_the_seat_is_refused(
    script: list[tuple[float, Event]], role: str
) -> None:
    call, _ = play(live_call(), *script)

    with pytest.raises(Forbidden) as error:
        step(call, Connect(CLIENT, role), at(40))

    assert error.value.details == {"reason": "role"}


def test_a_waiting_client_cannot_become_a_worker_by_reconnecting() -> None:
    call, _ = play(opened(), (0, connect(WORKER)), (10, connect(CLIENT)))

    with pytest.raises(Forbidden):
        step(call, Connect(CLIENT, "worker"), at(20))


def test_every_step_makes_a_new_version_and_leaves_the_old_call_as_it_was() -> None:
    call = opened()
    versions = [call.version]
    script: list[tuple[int, Event]] = [(0, connect(WORKER)), (10, connect(CLIENT)), (20, Tick())]
    for seconds, event in script:
        before = call
        call, _ = step(call, event, at(seconds))
        versions.append(call.version)
        assert before is not call
    assert versions == [1, 2, 3, 4]
    with pytest.raises(InvalidTransition):
        step(call, Admit(WORKER, WORKER), at(30))
    assert call.version == 4
    assert call.waiting() == (CLIENT,)


# --- any sequence of events --------------------------------------------------------------


@dataclass(frozen=True)
class Close:
    """Not an event: the adapter's close_unjoined at the end of the appointment."""


PEOPLE = st.sampled_from(sorted(ROLES))
ACTIONS: st.SearchStrategy[Event | Close] = st.one_of(
    PEOPLE.map(connect),
    PEOPLE.map(connect),
    st.builds(Connect, PEOPLE, st.sampled_from(["worker", "client", "guest"])),
    st.builds(Admit, PEOPLE, st.none() | PEOPLE),
    st.builds(Admit, st.sampled_from([WORKER, COLLEAGUE]), st.none() | PEOPLE),
    PEOPLE.map(Disconnect),
    PEOPLE.map(Leave),
    PEOPLE.map(Leave),
    PEOPLE.map(EndForAll),
    st.builds(ReportPath, PEOPLE, st.sampled_from(["direct", "relay", "turn"])),
    st.just(Tick()),
    st.just(Close()),
)


# A live call with the worker, the client and a guest in it, to start some scripts from.
WARM: list[tuple[int, Event | Close]] = [
    (0, connect(WORKER)),
    (0, connect(CLIENT)),
    (0, connect(GUEST)),
    (0, Admit(WORKER)),
]


@settings(max_examples=500, deadline=None, derandomize=True)
@given(
    auto_admit_client=st.booleans(),
    warm=st.booleans(),
    grace_s=st.integers(min_value=1, max_value=120),
    script=st.lists(
        st.tuples(st.integers(min_value=0, max_value=90), ACTIONS), min_size=1, max_size=40
    ),
)
def test_any_sequence_of_events_keeps_the_call_consistent_and_finishes_at_most_once(
    auto_admit_client: bool, warm: bool, grace_s: int, script: list[tuple[int, Event | Close]]
) -> None:
    call = opened(grace=timedelta(seconds=grace_s), auto_admit_client=auto_admit_client)
    seconds = 0
    outcomes: list[Outcome] = []
    took_part: set[uuid.UUID] = set()  # in the call at some moment while it was live
    for gap, action in WARM + script if warm else script:
        seconds += gap
        before = call
        try:
            if isinstance(action, Close):
                call, commands = close_unjoined(call, at(seconds))
            else:
                call, commands = step(call, action, at(seconds))
        except BeeldbelError:
            continue  # refused: the call is unchanged (it is immutable)

        done = [c for c in commands if isinstance(c, Finished)]
        outcomes.extend(c.outcome for c in done)
        if before.phase is Phase.ENDED or (
            isinstance(action, Close) and before.phase is Phase.LIVE
        ):
            assert call is before
            assert commands == []
            continue
        assert call.version == before.version + 1
        # The phase only moves forwards, and the start never moves once set.
        order = [Phase.OPEN, Phase.LIVE, Phase.ENDED]
        assert order.index(call.phase) >= order.index(before.phase)
        if before.started_at is not None:
            assert call.started_at == before.started_at
        if call.phase is Phase.LIVE:
            assert call.started_at is not None
        # At most one seat per person, and seats agree with their status.
        ids = [s.participant_id for s in call.seats]
        assert len(ids) == len(set(ids))
        for seat in call.seats:
            old = before.seat(seat.participant_id)
            assert old is None or seat.role == old.role
            if seat.status is SeatStatus.IN_CALL:
                assert seat.admitted
            elif seat.status is not SeatStatus.AWAY:
                assert not seat.admitted
            assert (seat.away_since is not None) == (seat.status is SeatStatus.AWAY)
            assert seat.first_joined_at is not None
            if seat.status is SeatStatus.LEFT:
                assert seat.left_at is not None
        # Nobody gets into the call without a worker's admission, except workers and,
        # by policy, the invited client.
        for seat in call.seats:
            old = before.seat(seat.participant_id)
            if seat.status is not SeatStatus.IN_CALL or (
                old is not None and old.status is SeatStatus.IN_CALL
            ):
                continue
            if old is not None and old.status is SeatStatus.WAITING:
                assert isinstance(action, Admit)
            elif (
                old is not None
                and old.status is SeatStatus.AWAY
                and old.admitted
                and old.away_since is not None
                and at(seconds) - old.away_since < call.grace
            ):
                assert action == Connect(seat.participant_id, old.role)  # back within the grace
            else:
                assert isinstance(action, Connect)
                assert action.participant_id == seat.participant_id
                assert seat.role == "worker" or (seat.role == "client" and auto_admit_client)
        if call.phase is Phase.LIVE:
            took_part.update(call.in_call())
        # Finishing happens exactly when the call ends, as the last command, with its outcome.
        if call.phase is Phase.ENDED:
            assert len(done) == 1
            assert commands[-1] == done[0]
            assert done[0].outcome == outcome_of(call)
            assert all(s.status is SeatStatus.LEFT for s in call.seats)
            assert call.ended_at == at(seconds)
            assert (call.end_reason is EndReason.NOT_JOINED) == (call.started_at is None)
            assert done[0].outcome.duration >= timedelta(0)
            took = {s.participant_id for s in done[0].outcome.seats if s.took_part}
            # Someone let in by the very step that ends the call (host gone) was in it too.
            arrived = {action.participant_id} if isinstance(action, Connect) else set()
            assert took_part <= took <= took_part | arrived
        else:
            assert done == []

    assert len(outcomes) <= 1
    assert (call.phase is Phase.ENDED) == (len(outcomes) == 1)
