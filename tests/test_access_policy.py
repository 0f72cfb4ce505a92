"""Acceptance: the access policy, over any principal, role, grant and action.

Pure: no database, no clock; every case is plain values and a given ``now``.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from beeldbel.access.model import (
    Action,
    Basis,
    Category,
    ClientFacts,
    EmergencyAccess,
    Grant,
    Handover,
)
from beeldbel.access.rules import decide, validate_emergency_reason
from beeldbel.errors import Forbidden, InvalidInput
from beeldbel.identity.model import Principal, PrincipalKind, Role

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
TEAM_A = uuid.UUID("00000000-0000-4000-8000-00000000000a")
TEAM_B = uuid.UUID("00000000-0000-4000-8000-00000000000b")
CLIENT = uuid.UUID("00000000-0000-4000-8000-0000000000c1")
SUBJECTS = [f"staff:{name}" for name in ("anouk", "bas", "carla", "daan", "eva")]
CARE_ROLES = {Role.WORKER, Role.COORDINATOR}

moments = st.integers(min_value=-48, max_value=48).map(lambda h: T0 + timedelta(hours=h))


@st.composite
def periods(draw: st.DrawFn) -> tuple[datetime, datetime]:
    start = draw(moments)
    return start, start + timedelta(hours=draw(st.integers(min_value=1, max_value=24)))


@st.composite
def handovers(draw: st.DrawFn) -> Handover:
    start, end = draw(periods())
    return Handover(draw(st.sampled_from(SUBJECTS)), draw(st.sampled_from(SUBJECTS)), start, end)


@st.composite
def emergencies(draw: st.DrawFn) -> EmergencyAccess:
    start, end = draw(periods())
    return EmergencyAccess(
        draw(st.sampled_from(SUBJECTS)), "bewoner valt, sleutel kwijt", start, end
    )


principals = st.builds(
    Principal,
    subject=st.sampled_from(SUBJECTS),
    kind=st.sampled_from(PrincipalKind),
    roles=st.frozensets(st.sampled_from(Role)),
    second_factor=st.booleans(),
)
facts = st.builds(
    ClientFacts,
    client_id=st.just(CLIENT),
    team_id=st.sampled_from([TEAM_A, TEAM_B]),
    care_team=st.frozensets(st.sampled_from(SUBJECTS), max_size=3),
    handovers=st.lists(handovers(), max_size=3).map(tuple),
    emergencies=st.lists(emergencies(), max_size=2).map(tuple),
)
teams = st.frozensets(st.sampled_from([TEAM_A, TEAM_B]))


def attempt(
    principal: Principal,
    teams_: frozenset[uuid.UUID],
    facts_: ClientFacts,
    action: Action,
    category: Category,
    now: datetime,
) -> Grant | None:
    try:
        return decide(principal, teams_, facts_, action, category, now)
    except Forbidden:
        return None


@settings(max_examples=600, deadline=None)
@given(principals, teams, facts, st.sampled_from(Action), st.sampled_from(Category), moments)
def test_every_grant_is_justified(
    principal: Principal,
    teams_: frozenset[uuid.UUID],
    facts_: ClientFacts,
    action: Action,
    category: Category,
    now: datetime,
) -> None:
    grant = attempt(principal, teams_, facts_, action, category, now)
    if grant is None:
        return
    # Whoever it is, a grant covers what was asked, now, for this client and this principal.
    assert grant.allows(action, CLIENT, now)
    assert (grant.subject, grant.client_id, grant.category) == (principal.subject, CLIENT, category)
    # Only staff, only with a second factor.
    assert principal.kind is PrincipalKind.STAFF
    assert principal.second_factor
    if category in (Category.AUDIT_TRAIL, Category.RETENTION):
        # The privacy officer's own categories (retention came after this test was written).
        assert Role.PRIVACY_OFFICER in principal.roles
        assert grant.basis is Basis.PRIVACY_OFFICER
        return
    # Care data: never an admin or privacy officer as such, only care roles.
    assert principal.roles & CARE_ROLES
    in_care_team = principal.subject in facts_.care_team
    if grant.basis is Basis.CARE_TEAM:
        assert in_care_team or (action is Action.CREATE and not facts_.care_team)
    if not in_care_team and category is Category.CARE_FILE:
        # A worker outside the care team reaches the care file only by handover or noodknop.
        assert grant.basis in {Basis.HANDOVER, Basis.EMERGENCY}
    if grant.basis is Basis.TEAM_COORDINATION:
        assert category is Category.RECORD
        assert Role.COORDINATOR in principal.roles
        assert facts_.team_id in teams_
    if grant.basis in {Basis.HANDOVER, Basis.EMERGENCY}:
        # Temporary grants end, and say so.
        assert grant.expires_at is not None
        assert grant.expires_at > now
        assert not grant.allows(action, CLIENT, grant.expires_at)
    if grant.basis is Basis.HANDOVER:
        assert grant.on_behalf_of in facts_.care_team
    if grant.basis is Basis.EMERGENCY:
        assert grant.flagged
        assert grant.reason
        assert grant.actions <= {Action.READ, Action.SEARCH}


@settings(max_examples=300, deadline=None)
@given(principals, teams, facts, st.sampled_from(Action), moments)
def test_admins_and_privacy_officers_never_reach_care_data_as_such(
    principal: Principal,
    teams_: frozenset[uuid.UUID],
    facts_: ClientFacts,
    action: Action,
    now: datetime,
) -> None:
    without_care_roles = Principal(
        principal.subject, PrincipalKind.STAFF, principal.roles - CARE_ROLES, second_factor=True
    )
    for category in (Category.RECORD, Category.CARE_FILE):
        assert attempt(without_care_roles, teams_, facts_, action, category, now) is None


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from([PrincipalKind.CLIENT, PrincipalKind.GUEST, PrincipalKind.DEVICE]),
    st.frozensets(st.sampled_from(Role)),
    facts,
    st.sampled_from(Action),
    moments,
)
def test_network_members_such_as_a_bewindvoerder_never_reach_the_care_file(
    kind: PrincipalKind,
    roles: frozenset[Role],
    facts_: ClientFacts,
    action: Action,
    now: datetime,
) -> None:
    # A bewindvoerder signs in (when the portal comes) as a network member, never as staff;
    # even listed in the care team by mistake, the policy gives nothing.
    bewindvoerder = Principal("guest:bewindvoerder", kind, roles, second_factor=True)
    sneaky_facts = ClientFacts(CLIENT, facts_.team_id, facts_.care_team | {bewindvoerder.subject})
    for category in Category:
        assert (
            attempt(bewindvoerder, frozenset({facts_.team_id}), sneaky_facts, action, category, now)
            is None
        )


@settings(max_examples=300, deadline=None)
@given(principals, teams, facts, st.sampled_from(Action), moments)
def test_a_worker_outside_the_care_team_without_handover_or_emergency_gets_nothing(
    principal: Principal,
    teams_: frozenset[uuid.UUID],
    facts_: ClientFacts,
    action: Action,
    now: datetime,
) -> None:
    outsider = Principal(
        "staff:outsider", PrincipalKind.STAFF, frozenset({Role.WORKER}), second_factor=True
    )
    assert attempt(outsider, teams_, facts_, action, Category.CARE_FILE, now) is None


WORKER = Principal("staff:bas", PrincipalKind.STAFF, frozenset({Role.WORKER}), second_factor=True)


def test_a_handover_grant_holds_during_the_period_and_not_after() -> None:
    handover = Handover("staff:anouk", "staff:bas", T0, T0 + timedelta(days=5))
    facts_ = ClientFacts(CLIENT, TEAM_A, frozenset({"staff:anouk"}), handovers=(handover,))
    assert (
        attempt(
            WORKER,
            frozenset({TEAM_A}),
            facts_,
            Action.READ,
            Category.CARE_FILE,
            T0 - timedelta(minutes=1),
        )
        is None
    )
    grant = decide(
        WORKER,
        frozenset({TEAM_A}),
        facts_,
        Action.CHANGE,
        Category.CARE_FILE,
        T0 + timedelta(days=4, hours=23),
    )
    assert (grant.basis, grant.on_behalf_of, grant.expires_at) == (
        Basis.HANDOVER,
        "staff:anouk",
        T0 + timedelta(days=5),
    )
    assert not grant.allows(Action.CHANGE, CLIENT, T0 + timedelta(days=5))
    with pytest.raises(Forbidden):
        decide(
            WORKER,
            frozenset({TEAM_A}),
            facts_,
            Action.READ,
            Category.CARE_FILE,
            T0 + timedelta(days=5),
        )


def test_a_handover_from_someone_outside_the_care_team_gives_nothing() -> None:
    handover = Handover("staff:eva", "staff:bas", T0, T0 + timedelta(days=5))
    facts_ = ClientFacts(CLIENT, TEAM_A, frozenset({"staff:anouk"}), handovers=(handover,))
    with pytest.raises(Forbidden):
        decide(WORKER, frozenset({TEAM_A}), facts_, Action.READ, Category.CARE_FILE, T0)


def test_emergency_access_reads_only_is_flagged_and_expires() -> None:
    emergency = EmergencyAccess(
        "staff:bas", "mevrouw valt, dochter onbereikbaar", T0, T0 + timedelta(hours=4)
    )
    facts_ = ClientFacts(CLIENT, TEAM_A, frozenset({"staff:anouk"}), emergencies=(emergency,))
    grant = decide(WORKER, frozenset(), facts_, Action.READ, Category.CARE_FILE, T0)
    assert grant.basis is Basis.EMERGENCY
    assert grant.flagged
    assert grant.reason == emergency.reason
    with pytest.raises(Forbidden):
        decide(WORKER, frozenset(), facts_, Action.CHANGE, Category.CARE_FILE, T0)
    with pytest.raises(Forbidden):
        decide(
            WORKER, frozenset(), facts_, Action.READ, Category.CARE_FILE, T0 + timedelta(hours=4)
        )


def test_a_coordinator_plans_with_the_record_but_does_not_read_the_care_file() -> None:
    carla = Principal(
        "staff:carla", PrincipalKind.STAFF, frozenset({Role.COORDINATOR}), second_factor=True
    )
    facts_ = ClientFacts(CLIENT, TEAM_A, frozenset({"staff:anouk"}))
    grant = decide(carla, frozenset({TEAM_A}), facts_, Action.CHANGE, Category.RECORD, T0)
    assert grant.basis is Basis.TEAM_COORDINATION
    with pytest.raises(Forbidden):
        decide(carla, frozenset({TEAM_A}), facts_, Action.READ, Category.CARE_FILE, T0)
    with pytest.raises(Forbidden):
        decide(carla, frozenset({TEAM_B}), facts_, Action.READ, Category.RECORD, T0)


@pytest.mark.parametrize("category", [Category.RECORD, Category.CARE_FILE])
def test_no_care_basis_deletes_client_data(category: Category) -> None:
    # Found by test_every_grant_is_justified in CI: the care team's grant (which never holds
    # DELETE) came back for a DELETE, so a grant did not cover what was asked for.
    roles = frozenset({Role.WORKER, Role.COORDINATOR})
    anouk = Principal("staff:anouk", PrincipalKind.STAFF, roles, second_factor=True)
    facts_ = ClientFacts(CLIENT, TEAM_A, frozenset({"staff:anouk"}))
    with pytest.raises(Forbidden, match="do not delete"):
        decide(anouk, frozenset({TEAM_A}), facts_, Action.DELETE, category, T0)


def test_without_the_second_factor_even_the_care_team_is_refused() -> None:
    anouk = Principal("staff:anouk", PrincipalKind.STAFF, frozenset({Role.WORKER}))
    facts_ = ClientFacts(CLIENT, TEAM_A, frozenset({"staff:anouk"}))
    with pytest.raises(Forbidden, match="second factor"):
        decide(anouk, frozenset({TEAM_A}), facts_, Action.READ, Category.RECORD, T0)


def test_only_the_privacy_officer_reads_audit_trails() -> None:
    facts_ = ClientFacts(CLIENT, TEAM_A, frozenset({"staff:anouk"}))
    eva = Principal(
        "staff:eva", PrincipalKind.STAFF, frozenset({Role.PRIVACY_OFFICER}), second_factor=True
    )
    assert decide(eva, frozenset(), facts_, Action.READ, Category.AUDIT_TRAIL, T0).basis is (
        Basis.PRIVACY_OFFICER
    )
    for roles in ({Role.ADMIN}, {Role.WORKER}, {Role.COORDINATOR}):
        someone = Principal(
            "staff:anouk", PrincipalKind.STAFF, frozenset(roles), second_factor=True
        )
        with pytest.raises(Forbidden):
            decide(someone, frozenset({TEAM_A}), facts_, Action.READ, Category.AUDIT_TRAIL, T0)


@pytest.mark.parametrize("reason", ["", "   ", "help", "x" * 2001])
def test_the_noodknop_needs_a_real_written_reason(reason: str) -> None:
    with pytest.raises(InvalidInput):
        validate_emergency_reason(reason)
    assert validate_emergency_reason("  bewoner  reageert niet  ") == "bewoner reageert niet"
