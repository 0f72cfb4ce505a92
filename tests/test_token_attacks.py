"""Acceptance: forged and broken access tokens get 401 through the API, and a token signed
before `beeldbel keys rotate` stays valid until it expires."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
from aiohttp.test_utils import TestClient
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from beeldbel.api import appkeys
from beeldbel.app import create_app
from beeldbel.clock import FixedClock
from beeldbel.identity.keys import Keyring
from beeldbel.settings import Settings
from tests.conftest import auth
from tests.staffing import Staff, app_of, challenge, make_staff, sign_in

ME = "/api/v1/me"
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
async def fclient(aiohttp_client, settings: Settings, fixed_clock: FixedClock) -> TestClient:  # type: ignore[no-untyped-def]
    return await aiohttp_client(create_app(settings, clock=fixed_clock))


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def hand_made(header: dict[str, Any], claims: dict[str, Any], signature: bytes = b"") -> str:
    return ".".join(
        [b64(json.dumps(header).encode()), b64(json.dumps(claims).encode()), b64(signature)]
    )


class Forger:
    """Makes tokens for the app's real staff user, each with one flaw."""

    def __init__(self, client: TestClient, staff: Staff) -> None:
        app = app_of(client)
        self.now = int(app[appkeys.CLOCK].now().timestamp())
        self.key = app[appkeys.TOKENS].keyring.active
        self.staff = staff
        settings = app[appkeys.SETTINGS]
        self.iss = settings.token_issuer
        self.aud = settings.token_audience

    def claims(self, **changes: Any) -> dict[str, Any]:
        claims: dict[str, Any] = {
            "iss": self.iss,
            "aud": self.aud,
            "sub": self.staff.subject,
            "iat": self.now,
            "nbf": self.now,
            "exp": self.now + 600,
            "kind": "staff",
            "roles": ["worker"],
            "amr": ["pwd", "otp"],
        }
        claims.update(changes)
        return {k: v for k, v in claims.items() if v is not None}

    def sign(self, claims: dict[str, Any] | None = None, **headers: Any) -> str:
        return jwt.encode(
            claims or self.claims(),
            self.key.private,
            algorithm="EdDSA",
            headers={"kid": self.key.kid, **headers},
        )

    def public_pem(self) -> bytes:
        return self.key.public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )


def alg_none(f: Forger) -> str:
    return hand_made({"alg": "none", "typ": "JWT", "kid": f.key.kid}, f.claims())


def alg_none_with_signature(f: Forger) -> str:
    good = f.sign().split(".")
    header = b64(json.dumps({"alg": "none", "kid": f.key.kid}).encode())
    return ".".join([header, good[1], good[2]])


def another_key_same_kid(f: Forger) -> str:
    return jwt.encode(
        f.claims(), Ed25519PrivateKey.generate(), algorithm="EdDSA", headers={"kid": f.key.kid}
    )


def another_key_own_kid(f: Forger) -> str:
    return jwt.encode(
        f.claims(), Ed25519PrivateKey.generate(), algorithm="EdDSA", headers={"kid": "mine"}
    )


def hs256_with_public_key(f: Forger) -> str:
    import hashlib
    import hmac

    header = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": f.key.kid}).encode())
    body = b64(json.dumps(f.claims()).encode())
    signature = hmac.new(f.public_pem(), f"{header}.{body}".encode(), hashlib.sha256).digest()
    return f"{header}.{body}.{b64(signature)}"


def rs256_own_key(f: Forger) -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return jwt.encode(f.claims(), key, algorithm="RS256", headers={"kid": f.key.kid})


def es256_own_key(f: Forger) -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return jwt.encode(f.claims(), key, algorithm="ES256", headers={"kid": f.key.kid})


def unknown_kid(f: Forger) -> str:
    return f.sign(kid="no-such-key")


def kid_as_a_path(f: Forger) -> str:
    return f.sign(kid="../../keys/signing")


def no_kid(f: Forger) -> str:
    return jwt.encode(f.claims(), f.key.private, algorithm="EdDSA")


def missing(claim: str) -> Callable[[Forger], str]:
    def make(f: Forger) -> str:
        return f.sign(f.claims(**{claim: None}))

    make.__name__ = f"missing_{claim}"
    return make


def expired(f: Forger) -> str:
    return f.sign(f.claims(iat=f.now - 3600, nbf=f.now - 3600, exp=f.now - 1200))


def not_yet_valid(f: Forger) -> str:
    return f.sign(f.claims(iat=f.now + 3600, nbf=f.now + 3600, exp=f.now + 4200))


def wrong_audience(f: Forger) -> str:
    return f.sign(f.claims(aud="another-api"))


def wrong_issuer(f: Forger) -> str:
    return f.sign(f.claims(iss="someone-else"))


def tampered_payload(f: Forger) -> str:
    head, _, signature = f.sign().split(".")
    body = b64(json.dumps(f.claims(roles=["admin", "privacy_officer"])).encode())
    return f"{head}.{body}.{signature}"


def tampered_signature(f: Forger) -> str:
    head, body, signature = f.sign().split(".")
    flipped = bytearray(base64.urlsafe_b64decode(signature + "=="))
    flipped[0] ^= 1
    return f"{head}.{body}.{b64(bytes(flipped))}"


def exp_as_text(f: Forger) -> str:
    return f.sign(f.claims(exp="tomorrow"))


def unknown_kind(f: Forger) -> str:
    return f.sign(f.claims(kind="superuser"))


def not_a_jwt(f: Forger) -> str:
    return "eyJhbGciOiJFZERTQSJ9.%%%.***"


ATTACKS: list[Callable[[Forger], str]] = [
    alg_none,
    alg_none_with_signature,
    another_key_same_kid,
    another_key_own_kid,
    hs256_with_public_key,
    rs256_own_key,
    es256_own_key,
    unknown_kid,
    kid_as_a_path,
    no_kid,
    *(missing(claim) for claim in ("exp", "iat", "iss", "aud", "sub")),
    expired,
    not_yet_valid,
    wrong_audience,
    wrong_issuer,
    tampered_payload,
    tampered_signature,
    exp_as_text,
    unknown_kind,
    not_a_jwt,
]


@pytest.fixture
async def forger(fclient: TestClient) -> Forger:
    return Forger(fclient, await make_staff(fclient))


async def test_the_honest_token_of_the_forger_is_accepted(
    fclient: TestClient, forger: Forger
) -> None:
    """The control: without a flaw, the same construction passes, so each 401 below is
    the flaw's doing."""
    response = await fclient.get(ME, headers=auth(forger.sign()))
    assert response.status == 200
    assert (await response.json())["subject"] == forger.staff.subject


@pytest.mark.parametrize("attack", ATTACKS, ids=lambda a: a.__name__)
async def test_a_flawed_token_gets_401(
    fclient: TestClient, forger: Forger, attack: Callable[[Forger], str]
) -> None:
    response = await fclient.get(ME, headers=auth(attack(forger)))
    assert response.status == 401
    body = await response.json()
    assert body["error"]["code"] == "unauthenticated"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


async def test_a_sign_in_challenge_is_no_access_token(fclient: TestClient, forger: Forger) -> None:
    ticket = await challenge(fclient, forger.staff)
    assert (await fclient.get(ME, headers=auth(ticket))).status == 401


# Key rotation ---------------------------------------------------------------------------


def beeldbel(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BEELDBEL_")}
    env |= {
        "BEELDBEL_DATA_DIR": str(settings.data_dir),
        "BEELDBEL_DATABASE_URL": settings.effective_database_url,
        "BEELDBEL_LOG_FORMAT": "console",
    }
    return subprocess.run(
        [sys.executable, "-m", "beeldbel", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def test_a_token_signed_before_keys_rotate_stays_valid_until_it_expires(
    aiohttp_client,
    settings: Settings,
    fixed_clock: FixedClock,  # type: ignore[no-untyped-def]
) -> None:
    before = await aiohttp_client(create_app(settings, clock=fixed_clock))
    staff = await make_staff(before)
    old = (await sign_in(before, staff))["access_token"]
    old_kid = jwt.get_unverified_header(old)["kid"]

    rotated = beeldbel(settings, "keys", "rotate")
    assert rotated.returncode == 0, rotated.stderr
    assert "new signing key" in rotated.stdout
    listing = beeldbel(settings, "keys", "list")
    assert len(listing.stdout.splitlines()) == 2

    # A service started after the rotation signs with the new key ...
    after = await aiohttp_client(create_app(settings, clock=fixed_clock))
    fixed_clock.advance(timedelta(seconds=30))
    new = (await sign_in(after, staff))["access_token"]
    assert jwt.get_unverified_header(new)["kid"] != old_kid
    # ... and both services take both tokens: the old one until it expires.
    for client in (before, after):
        for token in (old, new):
            assert (await client.get(ME, headers=auth(token))).status == 200
    fixed_clock.advance(timedelta(minutes=11))
    for client in (before, after):
        assert (await client.get(ME, headers=auth(old))).status == 401


def test_keys_rotate_retires_only_keys_replaced_long_enough_ago(settings: Settings) -> None:
    from datetime import UTC, datetime

    directory = settings.keys_dir
    directory.mkdir(parents=True)
    now = datetime.now(UTC)
    ancient = Keyring.create(directory, now=now - timedelta(days=2))
    replaced_long_ago = Keyring.create(directory, now=now - timedelta(days=1))
    recent = Keyring.create(directory, now=now - timedelta(minutes=5))
    result = beeldbel(settings, "keys", "rotate")
    assert result.returncode == 0, result.stderr
    kids = {key.kid for key in Keyring.load_or_create(directory).keys}
    # `ancient` was replaced a day ago: gone. `replaced_long_ago` was replaced five
    # minutes ago (by `recent`): its tokens may still be valid, so it stays.
    assert ancient.kid not in kids
    assert {replaced_long_ago.kid, recent.kid} <= kids
    assert len(kids) == 3
    assert f"retired signing key {ancient.kid}" in result.stdout
