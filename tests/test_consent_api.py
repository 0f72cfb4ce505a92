"""Consent: one module answers, the latest decision counts, the history keeps every one
(acceptance 7), and concurrent decisions are all kept in a defined order."""

from __future__ import annotations

import asyncio
from typing import Any
from uuid import UUID

import pytest

from beeldbel.api.clients import CONSENT
from beeldbel.clientfile.model import ConsentTopic
from beeldbel.clock import FixedClock
from beeldbel.settings import Settings
from tests.clients_support import World, make_world, subject


@pytest.fixture
async def world(aiohttp_client: Any, settings: Settings, fixed_clock: FixedClock) -> World:
    return await make_world(aiohttp_client, settings, fixed_clock)


@pytest.fixture
async def client_id(world: World) -> str:
    created = await world.create_client()
    await world.set_care_team(created["id"], "anouk", "daan")
    return str(created["id"])


async def decide(
    world: World, client_id: str, topic: str, decision: str, by: str = "anouk", **more: Any
) -> Any:
    response = await world.http.post(
        f"/api/v1/clients/{client_id}/consent",
        json={"topic": topic, "decision": decision, "how": "spoken", **more},
        headers=world.headers(by),
    )
    return response


async def consent(world: World, client_id: str, by: str = "daan") -> dict[str, Any]:
    response = await world.http.get(
        f"/api/v1/clients/{client_id}/consent", headers=world.headers(by)
    )
    assert response.status == 200, await response.text()
    return dict(await response.json())


def now_given(overview: dict[str, Any]) -> dict[str, bool]:
    return {item["topic"]: item["given"] for item in overview["current"]}


async def test_no_consent_recorded_is_not_given_for_every_topic(
    backend: str, world: World, client_id: str
) -> None:
    overview = await consent(world, client_id)
    assert now_given(overview) == {topic.value: False for topic in ConsentTopic}
    assert all(item["decision"] is None for item in overview["current"])
    assert overview["history"] == []


async def test_a_withdrawal_is_seen_by_the_next_question_and_the_history_keeps_both(
    backend: str, world: World, client_id: str
) -> None:
    consent_module = world.app[CONSENT]
    anouk = world.principal("anouk")
    given = await decide(world, client_id, "tablet_auto_answer", "given")
    assert given.status == 201, await given.text()
    assert await consent_module.is_given(anouk, UUID(client_id), ConsentTopic.TABLET_AUTO_ANSWER)

    withdrawn = await decide(world, client_id, "tablet_auto_answer", "withdrawn")
    assert withdrawn.status == 201
    assert not await consent_module.is_given(
        anouk, UUID(client_id), ConsentTopic.TABLET_AUTO_ANSWER
    )
    overview = await consent(world, client_id)
    assert now_given(overview)["tablet_auto_answer"] is False
    assert [(r["seq"], r["topic"], r["decision"]) for r in overview["history"]] == [
        (1, "tablet_auto_answer", "given"),
        (2, "tablet_auto_answer", "withdrawn"),
    ]
    current = next(i for i in overview["current"] if i["topic"] == "tablet_auto_answer")
    assert current["decision"]["id"] == (await withdrawn.json())["id"]
    record = overview["history"][0]
    assert (record["given_by"], record["how"], record["recorded_by"]) == (
        "client",
        "spoken",
        subject("anouk"),
    )
    changes = await world.audit(event="change", object_type="consent")
    assert [(r.detail["topic"], r.detail["decision"]) for r in changes] == [
        ("tablet_auto_answer", "given"),
        ("tablet_auto_answer", "withdrawn"),
    ]


async def test_a_legal_representative_decides_but_a_bewindvoerder_does_not(
    backend: str, world: World, client_id: str
) -> None:
    network = f"/api/v1/clients/{client_id}/network"

    async def member(name: str, *roles: str) -> str:
        response = await world.http.post(
            network, json={"name": name, "roles": list(roles)}, headers=world.headers("anouk")
        )
        assert response.status == 201
        return str((await response.json())["id"])

    mentor = await member("Marieke Wolterink", "family", "mentor")
    bewindvoerder = await member("Petra de Vries", "bewindvoerder")
    daughter = await member("Ans", "family", "mantelzorger")
    by_mentor = await decide(world, client_id, "video_calls", "given", representative_id=mentor)
    assert by_mentor.status == 201
    assert (await by_mentor.json())["representative_role"] == "mentor"
    for someone in (bewindvoerder, daughter):
        refused = await decide(world, client_id, "recording", "given", representative_id=someone)
        assert refused.status == 422
        assert (await refused.json())["error"]["details"]["field"] == "given_by"
    unknown = await decide(
        world,
        client_id,
        "recording",
        "given",
        representative_id="00000000-0000-4000-8000-000000000000",
    )
    assert unknown.status == 404
    # The mentor is taken out of the network later: the history still says who decided.
    await world.http.delete(f"{network}/{mentor}", headers=world.headers("anouk"))
    history = (await consent(world, client_id))["history"]
    assert [(r["given_by"], r["representative_id"]) for r in history] == [
        ("representative", mentor)
    ]
    assert now_given(await consent(world, client_id))["recording"] is False


async def test_consent_is_recorded_by_the_care_team_only(
    backend: str, world: World, client_id: str
) -> None:
    for name in ("bart", "joost", "ingrid"):
        response = await decide(world, client_id, "video_calls", "given", by=name)
        assert response.status == 403
    assert (await consent(world, client_id))["history"] == []
    coordinator = await decide(world, client_id, "client_wifi", "given", by="femke")
    assert coordinator.status == 201


async def test_concurrent_decisions_are_all_kept_in_one_order_and_the_last_counts(
    backend: str, world: World, client_id: str
) -> None:
    decisions = ["given", "withdrawn"] * 5
    responses = await asyncio.gather(
        *(decide(world, client_id, "guests_in_calls", d) for d in decisions)
    )
    assert [r.status for r in responses] == [201] * len(decisions)
    recorded = [await r.json() for r in responses]
    assert sorted(r["seq"] for r in recorded) == list(range(1, len(decisions) + 1))
    overview = await consent(world, client_id)
    history = overview["history"]
    assert [r["seq"] for r in history] == list(range(1, len(decisions) + 1))
    assert sorted(r["id"] for r in history) == sorted(r["id"] for r in recorded)
    last = history[-1]
    assert now_given(overview)["guests_in_calls"] is (last["decision"] == "given")
    current = next(i for i in overview["current"] if i["topic"] == "guests_in_calls")
    assert current["decision"]["id"] == last["id"]
