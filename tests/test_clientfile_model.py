"""The client file's pure rules, with plain values: no database, no clock."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from beeldbel.access.model import NetworkRole
from beeldbel.clientfile.model import (
    EMERGENCY_ACCESS_DURATION,
    Address,
    CareTeamMember,
    ClientChanges,
    ConsentDecision,
    ConsentGiver,
    ConsentMethod,
    ConsentRecord,
    ConsentTopic,
    FileState,
    LegalBasis,
    MemberChanges,
    apply_client_changes,
    apply_member_changes,
    close_client,
    consent_giver,
    current_consent,
    is_given,
    name_key,
    new_client,
    new_handover,
    new_network_member,
    open_emergency_access,
    valid_care_team,
)
from beeldbel.errors import InvalidInput, InvalidTransition

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
TEAM = uuid.UUID(int=1)
CLIENT = uuid.UUID(int=2)


def a_client(**fields: object):  # type: ignore[no-untyped-def]
    values: dict[str, object] = {"name": "Gerrit Nijhuis", "legal_basis": LegalBasis.WMO_2015}
    values.update(fields)
    return new_client(CLIENT, TEAM, now=NOW, **values)  # type: ignore[arg-type]


def decision(
    seq: int,
    topic: ConsentTopic = ConsentTopic.VIDEO_CALLS,
    value: ConsentDecision = ConsentDecision.GIVEN,
) -> ConsentRecord:
    return ConsentRecord(
        id=uuid.uuid4(),
        client_id=CLIENT,
        seq=seq,
        topic=topic,
        decision=value,
        given_by=ConsentGiver(),
        how=ConsentMethod.SPOKEN,
        recorded_by="staff:anouk",
        recorded_at=NOW,
    )


# --- clients ---------------------------------------------------------------------------------


def test_a_new_client_is_open_with_cleaned_minimal_data() -> None:
    client = a_client(
        name="  Gerrit   Nijhuis ",
        phone=" 0547  271 430 ",
        address=Address.of("Grotestraat 112", "7471ct", " Goor "),
        date_of_birth=date(1938, 4, 17),
    )
    assert client.name == "Gerrit Nijhuis"
    assert client.phone == "0547 271 430"
    assert client.address == Address("Grotestraat 112", "7471 CT", "Goor")
    assert client.preferred_language == "nl"
    assert client.file_state is FileState.OPEN
    assert client.version == 1


@pytest.mark.parametrize(
    "fields",
    [
        {"name": "   "},
        {"name": "x" * 201},
        {"phone": "call me"},
        {"phone": "12345"},
        {"date_of_birth": date(2026, 12, 1)},
        {"date_of_birth": date(1899, 12, 31)},
        {"preferred_language": "Nederlands"},
    ],
)
def test_unusable_client_data_is_refused(fields: dict[str, object]) -> None:
    with pytest.raises(InvalidInput):
        a_client(**fields)


@pytest.mark.parametrize("postcode", ["747", "ABCD 12", "0471 AB", "7471-AB"])
def test_an_address_needs_a_dutch_postcode(postcode: str) -> None:
    with pytest.raises(InvalidInput):
        Address.of("Grotestraat 1", postcode, "Goor")


def test_a_change_moves_the_version_only_when_something_changed_and_none_clears() -> None:
    client = a_client(phone="0547 271 430")
    later = NOW + timedelta(hours=1)
    assert apply_client_changes(client, ClientChanges(name=" Gerrit Nijhuis"), later) is client
    changed = apply_client_changes(
        client, ClientChanges(phone=None, preferred_language="nds"), later
    )
    assert (changed.phone, changed.preferred_language) == (None, "nds")
    assert (changed.version, changed.updated_at, changed.created_at) == (2, later, NOW)


def test_a_closed_file_is_kept_but_no_longer_changed() -> None:
    closed = close_client(a_client(), NOW)
    assert (closed.file_state, closed.closed_at, closed.version) == (FileState.CLOSED, NOW, 2)
    with pytest.raises(InvalidTransition):
        apply_client_changes(closed, ClientChanges(name="Someone Else"), NOW)
    with pytest.raises(InvalidTransition):
        close_client(closed, NOW)


@given(st.text(st.characters(codec="latin-1", categories=["L", "Zs"]), min_size=1, max_size=40))
def test_name_key_ignores_case_and_spacing(name: str) -> None:
    assert name_key(name) == name_key(name.upper().replace(" ", "  "))


def test_name_key_ignores_accents_and_the_turkish_dotless_i() -> None:
    assert name_key("Fatma Y\u0131lmaz") == name_key("FATMA YILMAZ") == "fatma yilmaz"
    assert name_key("Ay\u015fe") == "ayse"
    assert name_key("Ren\u00e9e") == "renee"


# --- network ---------------------------------------------------------------------------------


def test_legal_representatives_are_mentor_curator_and_parent_with_authority() -> None:
    def member(*roles: NetworkRole):  # type: ignore[no-untyped-def]
        return new_network_member(uuid.uuid4(), CLIENT, name="Ans", roles=roles, now=NOW)

    assert member(NetworkRole.MENTOR).is_legal_representative
    assert member(NetworkRole.CURATOR).is_legal_representative
    assert member(NetworkRole.FAMILY, NetworkRole.PARENT_WITH_AUTHORITY).is_legal_representative
    assert not member(NetworkRole.BEWINDVOERDER).is_legal_representative
    assert not member(NetworkRole.FAMILY, NetworkRole.MANTELZORGER).is_legal_representative
    assert not member(NetworkRole.INTERPRETER).is_legal_representative


def test_a_network_member_needs_a_role_and_a_real_email() -> None:
    with pytest.raises(InvalidInput):
        new_network_member(uuid.uuid4(), CLIENT, name="Ans", roles=(), now=NOW)
    with pytest.raises(InvalidInput):
        new_network_member(
            uuid.uuid4(), CLIENT, name="Ans", roles=(NetworkRole.FAMILY,), now=NOW, email="ans"
        )
    member = new_network_member(
        uuid.uuid4(), CLIENT, name="Ans", roles=(NetworkRole.FAMILY,), now=NOW, email="a@b.nl"
    )
    renamed = apply_member_changes(member, MemberChanges(email=None, name="Ans ter Horst"), NOW)
    assert (renamed.email, renamed.name, renamed.version) == (None, "Ans ter Horst", 2)


def test_only_the_client_or_a_legal_representative_decides_on_consent() -> None:
    mentor = new_network_member(
        uuid.uuid4(), CLIENT, name="Marieke", roles=(NetworkRole.MENTOR,), now=NOW
    )
    bewindvoerder = new_network_member(
        uuid.uuid4(), CLIENT, name="Petra", roles=(NetworkRole.BEWINDVOERDER,), now=NOW
    )
    of_someone_else = new_network_member(
        uuid.uuid4(), uuid.UUID(int=9), name="Kees", roles=(NetworkRole.CURATOR,), now=NOW
    )
    assert consent_giver(CLIENT, None).is_client
    assert consent_giver(CLIENT, mentor) == ConsentGiver(mentor.id, NetworkRole.MENTOR)
    with pytest.raises(InvalidInput):
        consent_giver(CLIENT, bewindvoerder)
    with pytest.raises(InvalidInput):
        consent_giver(CLIENT, of_someone_else)


# --- care teams ------------------------------------------------------------------------------


def test_a_care_team_has_exactly_one_lead_and_no_one_twice() -> None:
    assert valid_care_team([]) == ()
    team = valid_care_team([CareTeamMember("staff:a", True), CareTeamMember("staff:b")])
    assert [m.subject for m in team] == ["staff:a", "staff:b"]
    for members in (
        [CareTeamMember("staff:a"), CareTeamMember("staff:b")],
        [CareTeamMember("staff:a", True), CareTeamMember("staff:b", True)],
        [CareTeamMember("staff:a", True), CareTeamMember("staff:a")],
        [CareTeamMember("staff a", True)],
    ):
        with pytest.raises(InvalidInput):
            valid_care_team(members)


# --- handovers and emergency access ----------------------------------------------------------


def test_a_handover_is_to_someone_else_for_a_real_period() -> None:
    def handover(**fields: object):  # type: ignore[no-untyped-def]
        values: dict[str, object] = {
            "from_subject": "staff:anouk",
            "to_subject": "staff:bart",
            "starts_at": NOW,
            "ends_at": NOW + timedelta(days=7),
            "created_by": "staff:femke",
            "now": NOW,
        }
        values.update(fields)
        return new_handover(uuid.uuid4(), **values)  # type: ignore[arg-type]

    assert handover().active(NOW + timedelta(days=1))
    assert not handover().active(NOW + timedelta(days=7))
    for fields in (
        {"to_subject": "staff:anouk"},
        {"ends_at": NOW},
        {"starts_at": NOW - timedelta(days=9), "ends_at": NOW - timedelta(days=1)},
        {"ends_at": NOW + timedelta(days=400)},
    ):
        with pytest.raises(InvalidInput):
            handover(**fields)


def test_emergency_access_needs_a_written_reason_and_expires() -> None:
    with pytest.raises(InvalidInput):
        open_emergency_access(uuid.uuid4(), CLIENT, "staff:nina", "   help   ", NOW)
    access = open_emergency_access(
        uuid.uuid4(),
        CLIENT,
        "staff:nina",
        "Valmelding  via alarmcentrale, dochter onbereikbaar",
        NOW,
    )
    assert access.reason == "Valmelding via alarmcentrale, dochter onbereikbaar"
    assert access.active(NOW)
    assert access.ends_at == NOW + EMERGENCY_ACCESS_DURATION
    assert not access.active(access.ends_at)


# --- consent ---------------------------------------------------------------------------------


def test_no_consent_recorded_means_not_given() -> None:
    assert all(record is None for record in current_consent([]).values())
    assert not is_given([], ConsentTopic.RECORDING)


def test_the_latest_decision_per_topic_wins_whatever_order_it_is_read_in() -> None:
    history = [
        decision(3, ConsentTopic.VIDEO_CALLS, ConsentDecision.WITHDRAWN),
        decision(1, ConsentTopic.VIDEO_CALLS, ConsentDecision.GIVEN),
        decision(2, ConsentTopic.RECORDING, ConsentDecision.GIVEN),
    ]
    current = current_consent(history)
    assert current[ConsentTopic.VIDEO_CALLS] == history[0]
    assert not is_given(history, ConsentTopic.VIDEO_CALLS)
    assert is_given(history, ConsentTopic.RECORDING)
    assert not is_given(history, ConsentTopic.CLIENT_WIFI)


@given(st.lists(st.sampled_from(list(ConsentDecision)), min_size=1, max_size=20))
def test_consent_is_given_exactly_when_the_last_decision_gave_it(
    decisions: list[ConsentDecision],
) -> None:
    history = [decision(seq, value=value) for seq, value in enumerate(decisions, start=1)]
    expected = decisions[-1] is ConsentDecision.GIVEN
    assert is_given(history, ConsentTopic.VIDEO_CALLS) is expected
    assert is_given(list(reversed(history)), ConsentTopic.VIDEO_CALLS) is expected
