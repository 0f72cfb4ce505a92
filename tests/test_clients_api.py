"""Clients, their network and care team over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from typing import Any
from uuid import UUID

import pytest
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError

from beeldbel.api import appkeys
from beeldbel.clock import FixedClock
from beeldbel.db.tables.clients import CareTeamMemberRow
from beeldbel.settings import Settings
from tests.clients_support import World, make_world, subject


@pytest.fixture
async def world(aiohttp_client: Any, settings: Settings, fixed_clock: FixedClock) -> World:
    return await make_world(aiohttp_client, settings, fixed_clock)


async def test_a_worker_opens_a_file_leads_its_care_team_reads_and_changes_it(
    backend: str, world: World
) -> None:
    created = await world.create_client(
        name="  Hanna   Wolterink ",
        date_of_birth="1931-11-02",
        phone="0547 361 208",
        address={"street": "Holterweg 45", "postcode": "7475ac", "town": "Markelo"},
    )
    assert created["name"] == "Hanna Wolterink"
    assert created["address"] == {
        "street": "Holterweg 45",
        "postcode": "7475 AC",
        "town": "Markelo",
    }
    assert (created["file_state"], created["legal_basis"], created["version"]) == (
        "open",
        "wmo_2015",
        1,
    )
    url = f"/api/v1/clients/{created['id']}"
    team = await (await world.http.get(f"{url}/care-team", headers=world.headers("anouk"))).json()
    # No staff account behind these test subjects: no name to show.
    assert team["members"] == [{"subject": subject("anouk"), "name": None, "is_lead": True}]

    read = await world.http.get(url, headers=world.headers("anouk"))
    assert read.status == 200
    body = await read.json()
    assert body["access"] == {
        "basis": "care_team",
        "on_behalf_of": None,
        "expires_at": None,
        "flagged": False,
    }
    changed = await world.http.patch(
        url,
        json={"version": 1, "phone": None, "preferred_language": "nds"},
        headers=world.headers("anouk"),
    )
    assert changed.status == 200, await changed.text()
    after = await changed.json()
    assert (after["phone"], after["preferred_language"], after["version"]) == (None, "nds", 2)
    assert after["date_of_birth"] == "1931-11-02"


async def test_a_stale_version_is_refused_and_a_required_field_cannot_be_cleared(
    backend: str, world: World
) -> None:
    client = await world.create_client()
    url = f"/api/v1/clients/{client['id']}"
    first = await world.http.patch(
        url, json={"version": 1, "name": "Gerrit J. Nijhuis"}, headers=world.headers("anouk")
    )
    assert first.status == 200
    stale = await world.http.patch(
        url, json={"version": 1, "name": "G. Nijhuis"}, headers=world.headers("anouk")
    )
    assert stale.status == 409
    error = (await stale.json())["error"]
    assert (error["code"], error["details"]["current_version"]) == ("stale_version", 2)
    cleared = await world.http.patch(
        url, json={"version": 2, "name": None}, headers=world.headers("anouk")
    )
    assert cleared.status == 422
    bad_postcode = await world.http.patch(
        url,
        json={"version": 2, "address": {"street": "Markt 1", "postcode": "ABCDEF", "town": "Goor"}},
        headers=world.headers("anouk"),
    )
    assert bad_postcode.status == 422
    assert (await bad_postcode.json())["error"]["details"]["field"] == "address.postcode"


async def test_concurrent_changes_of_one_version_give_one_winner(
    backend: str, world: World
) -> None:
    client = await world.create_client()
    url = f"/api/v1/clients/{client['id']}"
    responses = await asyncio.gather(
        *(
            world.http.patch(
                url, json={"version": 1, "phone": f"0547 27{n} 430"}, headers=world.headers("anouk")
            )
            for n in range(6)
        )
    )
    assert sorted(r.status for r in responses) == [200] + [409] * 5
    final = await (await world.http.get(url, headers=world.headers("anouk"))).json()
    assert final["version"] == 2


async def test_a_worker_cannot_open_a_file_for_another_team(backend: str, world: World) -> None:
    response = await world.http.post(
        "/api/v1/clients",
        json={
            "team_id": str(world.team_ids["Wijkteam Twenterand"]),
            "name": "Iemand",
            "legal_basis": "wmo_2015",
        },
        headers=world.headers("anouk"),
    )
    assert response.status == 403
    denied = await world.audit(event="access_denied", actor=subject("anouk"))
    assert [row.detail["action"] for row in denied] == ["create"]


async def test_a_coordinator_opens_a_file_without_care_team_then_assigns_one(
    backend: str, world: World
) -> None:
    client = await world.create_client(by="femke")
    assert client["access"]["basis"] == "team_coordination"
    url = f"/api/v1/clients/{client['id']}/care-team"
    team = await (await world.http.get(url, headers=world.headers("femke"))).json()
    assert team == {"members": [], "version": 1}
    put = await world.http.put(
        url,
        json={
            "version": 1,
            "members": [
                {"subject": subject("daan"), "is_lead": True},
                {"subject": subject("anouk")},
            ],
        },
        headers=world.headers("femke"),
    )
    assert put.status == 200, await put.text()
    assert await put.json() == {
        "members": [
            {"subject": subject("daan"), "name": None, "is_lead": True},
            {"subject": subject("anouk"), "name": None, "is_lead": False},
        ],
        "version": 2,
    }
    read = await world.http.get(f"/api/v1/clients/{client['id']}", headers=world.headers("daan"))
    assert read.status == 200


async def test_a_care_team_is_made_of_the_clients_wijkteam_with_one_lead(
    backend: str, world: World
) -> None:
    client = await world.create_client()
    url = f"/api/v1/clients/{client['id']}/care-team"
    for members, status in (
        ([{"subject": subject("anouk"), "is_lead": True}, {"subject": subject("olaf")}], 422),
        ([{"subject": "staff:nobody", "is_lead": True}], 422),
        ([{"subject": subject("anouk")}, {"subject": subject("daan")}], 422),
        (
            [
                {"subject": subject("anouk"), "is_lead": True},
                {"subject": subject("daan"), "is_lead": True},
            ],
            422,
        ),
    ):
        response = await world.http.put(
            url, json={"version": 1, "members": members}, headers=world.headers("anouk")
        )
        assert response.status == status, (members, await response.text())
    outsider = (await response.json())["error"]
    assert outsider["code"] == "invalid_input"


async def test_concurrent_care_team_changes_leave_exactly_one_lead(
    backend: str, world: World
) -> None:
    client = await world.create_client()
    url = f"/api/v1/clients/{client['id']}/care-team"
    names = ["anouk", "daan", "bart"]

    def team_led_by(lead: str) -> dict[str, Any]:
        return {
            "version": 1,
            "members": [{"subject": subject(n), "is_lead": n == lead} for n in names],
        }

    responses = await asyncio.gather(
        *(
            world.http.put(url, json=team_led_by(names[i % 3]), headers=world.headers("anouk"))
            for i in range(8)
        )
    )
    assert sorted(r.status for r in responses) == [200] + [409] * 7
    team = await (await world.http.get(url, headers=world.headers("daan"))).json()
    assert team["version"] == 2
    assert sum(m["is_lead"] for m in team["members"]) == 1
    assert {m["subject"] for m in team["members"]} == {subject(n) for n in names}


async def test_the_database_itself_refuses_a_second_lead(backend: str, world: World) -> None:
    client = await world.create_client()
    db = world.app[appkeys.DATABASE]
    with pytest.raises(IntegrityError):
        async with db.transaction() as session:
            await session.execute(
                insert(CareTeamMemberRow).values(
                    client_id=UUID(client["id"]),
                    subject=subject("daan"),
                    is_lead=True,
                    added_at=world.clock.now(),
                )
            )
    async with db.transaction() as session:  # a second member who does not lead is fine
        await session.execute(
            insert(CareTeamMemberRow).values(
                client_id=UUID(client["id"]),
                subject=subject("daan"),
                is_lead=False,
                added_at=world.clock.now(),
            )
        )


async def test_the_network_is_kept_with_its_own_contact_details_and_roles(
    backend: str, world: World
) -> None:
    client = await world.create_client()
    url = f"/api/v1/clients/{client['id']}/network"
    added = await world.http.post(
        url,
        json={
            "name": "Ans ter Horst-Nijhuis",
            "roles": ["family", "mantelzorger"],
            "phone": "06 1234 5670",
            "email": "ans@example.nl",
        },
        headers=world.headers("anouk"),
    )
    assert added.status == 201, await added.text()
    ans = await added.json()
    assert (ans["roles"], ans["is_legal_representative"]) == (["family", "mantelzorger"], False)
    mentor = await world.http.patch(
        f"{url}/{ans['id']}",
        json={"version": 1, "roles": ["family", "mantelzorger", "mentor"], "email": None},
        headers=world.headers("anouk"),
    )
    assert mentor.status == 200, await mentor.text()
    assert (await mentor.json())["is_legal_representative"] is True
    tolk = await world.http.post(
        url,
        json={"name": "Ayşe Demir", "roles": ["interpreter"], "language": "tr"},
        headers=world.headers("anouk"),
    )
    assert tolk.status == 201
    listing = await (await world.http.get(url, headers=world.headers("anouk"))).json()
    assert [m["name"] for m in listing["items"]] == ["Ans ter Horst-Nijhuis", "Ayşe Demir"]
    removed = await world.http.delete(
        f"{url}/{(await tolk.json())['id']}", headers=world.headers("anouk")
    )
    assert removed.status == 204
    again = await world.http.delete(
        f"{url}/{(await tolk.json())['id']}", headers=world.headers("anouk")
    )
    assert again.status == 404
    listing = await (await world.http.get(url, headers=world.headers("anouk"))).json()
    assert [m["name"] for m in listing["items"]] == ["Ans ter Horst-Nijhuis"]
    bad = await world.http.post(
        url, json={"name": "X", "roles": ["neighbour"]}, headers=world.headers("anouk")
    )
    assert bad.status == 422


async def test_a_closed_file_is_read_but_not_changed(backend: str, world: World) -> None:
    client = await world.create_client()
    url = f"/api/v1/clients/{client['id']}"
    closed = await world.http.post(
        f"{url}/close", json={"version": 1}, headers=world.headers("anouk")
    )
    assert closed.status == 200, await closed.text()
    assert (await closed.json())["file_state"] == "closed"
    assert (await world.http.get(url, headers=world.headers("anouk"))).status == 200
    attempts = [
        world.http.patch(url, json={"version": 2, "name": "X"}, headers=world.headers("anouk")),
        world.http.post(f"{url}/close", json={"version": 2}, headers=world.headers("anouk")),
        world.http.post(
            f"{url}/network",
            json={"name": "X", "roles": ["family"]},
            headers=world.headers("anouk"),
        ),
        world.http.post(
            f"{url}/consent",
            json={"topic": "video_calls", "decision": "given", "how": "spoken"},
            headers=world.headers("anouk"),
        ),
        world.http.put(
            f"{url}/care-team",
            json={"version": 1, "members": [{"subject": subject("daan"), "is_lead": True}]},
            headers=world.headers("anouk"),
        ),
    ]
    for attempt in attempts:
        response = await attempt
        assert response.status == 409, await response.text()
        assert (await response.json())["error"]["code"] == "invalid_transition"


async def test_search_lists_only_clients_the_principal_may_search_in_name_order(
    backend: str, world: World
) -> None:
    names = ["Willemien Bruggink", "Fatma Yılmaz", "Gerrit Nijhuis", "Hanna Wolterink"]  # noqa: RUF001
    ids = {}
    for name in names:
        ids[name] = (await world.create_client(name=name))["id"]
    other = await world.create_client(by="daan", name="Sem Kamphuis")

    async def listing(who: str, **params: Any) -> dict[str, Any]:
        response = await world.http.get(
            "/api/v1/clients", params=params, headers=world.headers(who)
        )
        assert response.status == 200, await response.text()
        return dict(await response.json())

    mine = await listing("anouk")
    assert [c["name"] for c in mine["items"]] == sorted(names, key=str.casefold)
    first = await listing("anouk", limit=2)
    assert len(first["items"]) == 2
    second = await listing("anouk", limit=2, cursor=first["next_cursor"])
    assert second["next_cursor"] is None
    assert [c["name"] for c in first["items"] + second["items"]] == [
        c["name"] for c in mine["items"]
    ]
    found = await listing("anouk", q="YILMAZ")
    assert [c["name"] for c in found["items"]] == ["Fatma Yılmaz"]  # noqa: RUF001
    assert (await listing("anouk", q="100%"))["items"] == []
    coordinator = await listing("femke")
    assert len(coordinator["items"]) == 5
    assert {c["access"]["basis"] for c in coordinator["items"]} == {"team_coordination"}
    assert [c["id"] for c in (await listing("daan"))["items"]] == [other["id"]]
    assert (await listing("olaf"))["items"] == []
    searches = await world.audit(event="search", actor=subject("femke"))
    assert len(searches) == 5
    assert {str(row.client_id) for row in searches} == {*ids.values(), other["id"]}
    assert all(row.detail["basis"] == "team_coordination" for row in searches)
    bad = await world.http.get(
        "/api/v1/clients", params={"cursor": "nonsense"}, headers=world.headers("anouk")
    )
    assert bad.status == 422


async def test_an_unknown_client_is_not_found(backend: str, world: World) -> None:
    url = "/api/v1/clients/00000000-0000-4000-8000-000000000000"
    assert (await world.http.get(url, headers=world.headers("anouk"))).status == 404
    assert (await world.http.get(f"{url}/consent", headers=world.headers("anouk"))).status == 404
