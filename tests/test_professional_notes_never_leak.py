"""Acceptance 2 (issue 8): professional notes never reach a client, a guest or a network
member, by any endpoint, now or as the API grows.

Hypothesis draws principals of those kinds (access tokens of any roles, with or without a
second factor, naming the real client or network member, and the real join tokens of the
client's and the guest's invitation links) and the visibilities of the notes in the file.
For each draw the test walks the application's route table itself (every route, not a list
kept here), fills each path with the ids of the real client, notes, appointment and network
member, sends a valid body, and checks that no answer holds a professional note's text or id.
The same walk as the care-team worker must find the professional notes, so the walk does
reach the endpoints that return them.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from beeldbel.api import appkeys
from beeldbel.clock import FixedClock
from beeldbel.identity.model import Principal, PrincipalKind, Role
from beeldbel.settings import Settings, load_settings
from tests.clients_support import World, make_world
from tests.test_api_contract import example, openapi, resolve

PARAM = re.compile(r"\{([^}:]+)(:[^}]*)?\}")


@pytest.fixture
def settings_(tmp_path: Any, database_url: str) -> Settings:
    return load_settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        log_format="console",
        rate_limit_per_address=1_000_000,
        rate_limit_per_principal=1_000_000,
    )


@dataclass(frozen=True)
class Who:
    """A principal to walk as: an access token's kind, subject and roles, or a join link."""

    kind: str  # "client", "guest", "member", "join:client", "join:guest"
    roles: frozenset[Role] = frozenset()
    second_factor: bool = True


def principals() -> st.SearchStrategy[Who]:
    roles = st.frozensets(st.sampled_from(list(Role)))
    return st.one_of(
        st.builds(Who, st.sampled_from(["client", "guest", "member"]), roles, st.booleans()),
        st.builds(Who, st.sampled_from(["join:client", "join:guest"])),
    )


@dataclass
class File:
    world: World
    client_id: str
    member_id: str
    appointment_id: str
    join_tokens: dict[str, str]
    doc: dict[str, Any]
    notes: dict[str, tuple[str, str]] = field(default_factory=dict)  # id: (visibility, text)

    def token(self, who: Who) -> str:
        if who.kind.startswith("join:"):
            return self.join_tokens[who.kind.removeprefix("join:")]
        subject, kind = {
            "client": (f"client:{self.client_id}", PrincipalKind.CLIENT),
            "member": (f"member:{self.member_id}", PrincipalKind.GUEST),
            "guest": (f"guest:{uuid.uuid4()}", PrincipalKind.GUEST),
        }[who.kind]
        app = self.world.app
        principal = Principal(subject, kind, who.roles, second_factor=who.second_factor)
        return str(app[appkeys.TOKENS].issue(principal, app[appkeys.CLOCK].now()))

    def secrets(self) -> list[str]:
        return [
            text_or_id
            for note_id, (visibility, text) in self.notes.items()
            if visibility == "professional"
            for text_or_id in (note_id, text)
        ]


async def make_file(world: World) -> File:
    http, anouk = world.http, world.headers("anouk")
    client = await world.create_client(name="Hendrika Brinkhuis")
    await world.set_care_team(client["id"], "anouk")
    url = f"/api/v1/clients/{client['id']}"
    member = await http.post(
        f"{url}/network", json={"name": "Ans Brinkhuis", "roles": ["family"]}, headers=anouk
    )
    assert member.status == 201, await member.text()
    member_id = (await member.json())["id"]
    consent = await http.post(
        f"{url}/consent",
        json={"topic": "guests_in_calls", "decision": "given", "how": "spoken"},
        headers=anouk,
    )
    assert consent.status == 201, await consent.text()
    starts = world.clock.now() + timedelta(minutes=10)
    booked = await http.post(
        "/api/v1/appointments",
        json={
            "kind": "checkin",
            "team_id": str(world.home),
            "client_id": client["id"],
            "starts_at": starts.isoformat(),
            "ends_at": (starts + timedelta(minutes=30)).isoformat(),
            "guests": [{"member_id": member_id}],
        },
        headers=anouk,
    )
    assert booked.status == 201, await booked.text()
    appointment_id = (await booked.json())["appointment"]["id"]
    links = await http.get(f"/api/v1/appointments/{appointment_id}/links", headers=anouk)
    tokens = {}
    for link in (await links.json())["items"]:
        if link["role"] in ("client", "guest"):
            answer = await http.post("/api/v1/join", json={"code": link["path"].split("#")[1]})
            assert answer.status == 200, await answer.text()
            tokens[link["role"]] = (await answer.json())["token"]
    assert set(tokens) == {"client", "guest"}
    return File(world, client["id"], member_id, appointment_id, tokens, await openapi(http))


async def add_notes(file: File, visibilities: list[str]) -> None:
    for visibility in visibilities:
        marker = f"geheim-{uuid.uuid4().hex}" if visibility == "professional" else "gedeeld"
        response = await file.world.http.post(
            f"/api/v1/clients/{file.client_id}/notes",
            json={
                "visibility": visibility,
                "text": f"{marker}: notitie bij de afspraak",
                "appointment_id": file.appointment_id,
            },
            headers=file.world.headers("anouk"),
        )
        assert response.status == 201, await response.text()
        body = await response.json()
        file.notes[body["id"]] = (visibility, body["text"])


def routes(file: File) -> list[tuple[str, str]]:
    app = file.world.http.app
    assert app is not None
    found = []
    for route in app.router.routes():
        if route.resource is None or route.method in ("HEAD", "OPTIONS", "*"):
            continue
        found.append((route.method, route.resource.canonical))
    return found


def fill(file: File, path: str, note_id: str) -> str:
    ids = {
        "client_id": file.client_id,
        "note_id": note_id,
        "appointment_id": file.appointment_id,
        "member_id": file.member_id,
        "path": "app.js",
    }
    return PARAM.sub(lambda m: ids.get(m.group(1), str(uuid.uuid4())), path)


def body_for(file: File, method: str, path: str) -> Any:
    op = file.doc["paths"].get(path, {}).get(method.lower(), {})
    if "requestBody" not in op:
        return None
    schema = op["requestBody"]["content"]["application/json"]["schema"]
    return example(file.doc, resolve(file.doc, schema))


async def walk(file: File, token: str) -> tuple[list[tuple[str, str]], int]:
    """Every route with the token: (request, answer body) pairs, and how many routes."""
    answers: list[tuple[str, str]] = []
    walked = 0
    note_ids = list(file.notes) or [str(uuid.uuid4())]
    for method, path in routes(file):
        for note_id in note_ids if "{note_id}" in path else note_ids[:1]:
            url = fill(file, path, note_id)
            body = body_for(file, method, path)
            response = await file.world.http.request(
                method,
                url,
                headers={"Authorization": f"Bearer {token}"},
                **({"json": body} if body is not None else {}),
            )
            assert response.status < 500, (method, url, response.status)
            answers.append((f"{method} {url} {response.status}", await response.text()))
        walked += 1
    return answers, walked


async def test_professional_notes_never_reach_a_client_a_guest_or_a_network_member(
    aiohttp_client: Any, settings_: Settings, fixed_clock: FixedClock, backend: str
) -> None:
    world = await make_world(aiohttp_client, settings_, fixed_clock)
    file = await make_file(world)
    world.clock.advance(timedelta(minutes=5))  # the lobby is open: join tokens work

    draws: list[tuple[Who, list[str]]] = []

    @settings(
        max_examples=12,
        database=None,
        suppress_health_check=list(HealthCheck),
        deadline=None,
    )
    @given(
        principals(),
        st.lists(st.sampled_from(["shared", "professional"]), min_size=0, max_size=3),
    )
    def draw(who: Who, visibilities: list[str]) -> None:
        draws.append((who, visibilities))

    draw()
    # Every kind of principal is walked, whatever hypothesis drew.
    draws += [(Who(kind), ["professional"]) for kind in ("client", "guest", "member")]
    draws += [(Who("join:client"), ["shared"]), (Who("join:guest"), ["professional"])]
    total = len(routes(file))
    for who, visibilities in draws:
        await add_notes(file, visibilities)
        answers, walked = await walk(file, file.token(who))
        assert walked == total
        for secret in file.secrets():
            leaked = [(asked, body[:200]) for asked, body in answers if secret in body]
            assert not leaked, (who, leaked)

    # The walk reaches the endpoints that return professional notes: the care team sees them.
    answers, _ = await walk(file, world.headers("anouk")["Authorization"].removeprefix("Bearer "))
    for secret in file.secrets():
        assert any(secret in body for _, body in answers), secret
