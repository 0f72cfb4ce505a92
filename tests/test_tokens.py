"""Access tokens: one pinned algorithm, required claims, known key ids, our clock."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
import pytest

from beeldbel.errors import Unauthenticated
from beeldbel.identity.keys import Keyring
from beeldbel.identity.model import Principal, PrincipalKind, Role
from beeldbel.identity.tokens import TokenService

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
ALICE = Principal("staff:alice", PrincipalKind.STAFF, frozenset({Role.WORKER}))


@pytest.fixture
def keyring(tmp_path: Path) -> Keyring:
    return Keyring.load_or_create(tmp_path / "keys")


@pytest.fixture
def tokens(keyring: Keyring) -> TokenService:
    return TokenService(
        keyring, issuer="beeldbel", audience="beeldbel-api", lifetime=timedelta(minutes=10)
    )


def test_a_token_round_trips_to_the_same_principal(tokens: TokenService) -> None:
    assert tokens.verify(tokens.issue(ALICE, NOW), NOW) == ALICE


def test_a_token_expires_by_the_services_clock(tokens: TokenService) -> None:
    token = tokens.issue(ALICE, NOW)
    assert tokens.verify(token, NOW + timedelta(minutes=10)) == ALICE  # within leeway
    with pytest.raises(Unauthenticated, match="expired"):
        tokens.verify(token, NOW + timedelta(minutes=11))
    with pytest.raises(Unauthenticated, match="not valid yet"):
        tokens.verify(token, NOW - timedelta(minutes=5))


def test_other_audience_or_issuer_is_refused(keyring: Keyring, tokens: TokenService) -> None:
    for issuer, audience in (("beeldbel", "other"), ("other", "beeldbel-api")):
        foreign = TokenService(
            keyring, issuer=issuer, audience=audience, lifetime=timedelta(minutes=10)
        )
        with pytest.raises(Unauthenticated):
            tokens.verify(foreign.issue(ALICE, NOW), NOW)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def hs256(payload: dict[str, object], secret: bytes, kid: str) -> str:
    """Built by hand: pyjwt rightly refuses to sign HMAC with a public key."""
    head = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": kid}).encode())
    body = b64(json.dumps(payload).encode())
    signature = hmac.new(secret, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64(signature)}"


def claims(**extra: object) -> dict[str, object]:
    base: dict[str, object] = {
        "iss": "beeldbel",
        "aud": "beeldbel-api",
        "sub": "staff:eve",
        "iat": int(NOW.timestamp()),
        "exp": int(NOW.timestamp()) + 600,
    }
    base.update(extra)
    return {k: v for k, v in base.items() if v is not None}


@pytest.mark.parametrize("missing", ["exp", "iat", "iss", "aud", "sub"])
def test_each_required_claim_is_required(
    keyring: Keyring, tokens: TokenService, missing: str
) -> None:
    key = keyring.active
    token = jwt.encode(
        claims(**{missing: None}), key.private, algorithm="EdDSA", headers={"kid": key.kid}
    )
    with pytest.raises(Unauthenticated):
        tokens.verify(token, NOW)


def test_unsigned_and_symmetric_tokens_are_refused(keyring: Keyring, tokens: TokenService) -> None:
    kid = keyring.active.kid
    unsigned = jwt.encode(claims(), None, algorithm="none", headers={"kid": kid})
    with pytest.raises(Unauthenticated):
        tokens.verify(unsigned, NOW)
    # The classic confusion: an HMAC token "signed" with the public key bytes.
    from cryptography.hazmat.primitives import serialization

    public_pem = keyring.active.public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    forged = hs256(claims(), public_pem, kid)
    with pytest.raises(Unauthenticated):
        tokens.verify(forged, NOW)


def test_a_token_signed_by_an_unknown_key_is_refused(tmp_path: Path, tokens: TokenService) -> None:
    stranger = TokenService(
        Keyring.load_or_create(tmp_path / "other"),
        issuer="beeldbel",
        audience="beeldbel-api",
        lifetime=timedelta(minutes=10),
    )
    with pytest.raises(Unauthenticated):
        tokens.verify(stranger.issue(ALICE, NOW), NOW)


def test_keys_persist_and_are_private(tmp_path: Path) -> None:
    first = Keyring.load_or_create(tmp_path / "keys")
    again = Keyring.load_or_create(tmp_path / "keys")
    assert first.active.kid == again.active.kid
    (path,) = (tmp_path / "keys").glob("signing-*.pem")
    assert path.stat().st_mode & 0o077 == 0


def test_tokens_of_an_older_key_stay_valid_after_a_new_key(tmp_path: Path) -> None:
    directory = tmp_path / "keys"
    old = TokenService(
        Keyring.load_or_create(directory),
        issuer="beeldbel",
        audience="beeldbel-api",
        lifetime=timedelta(minutes=10),
    )
    token = old.issue(ALICE, NOW)
    Keyring.create(directory, now=datetime.now(UTC) + timedelta(seconds=1))
    rotated = Keyring.load_or_create(directory)
    current = TokenService(
        rotated, issuer="beeldbel", audience="beeldbel-api", lifetime=timedelta(minutes=10)
    )
    assert current.verify(token, NOW) == ALICE
    assert (
        jwt.get_unverified_header(current.issue(ALICE, NOW))["kid"]
        != jwt.get_unverified_header(token)["kid"]
    )


def test_a_challenge_and_an_access_token_are_never_mistaken_for_each_other(
    tokens: TokenService,
) -> None:
    from beeldbel.identity.tokens import Challenge, ChallengeStage

    challenge = Challenge("staff:alice", ChallengeStage.SECOND_FACTOR, 3)
    ticket = tokens.issue_challenge(challenge, NOW)
    assert tokens.verify_challenge(ticket, NOW) == challenge
    with pytest.raises(Unauthenticated):
        tokens.verify(ticket, NOW)
    with pytest.raises(Unauthenticated):
        tokens.verify_challenge(tokens.issue(ALICE, NOW), NOW)
    with pytest.raises(Unauthenticated, match="sign in again"):
        tokens.verify_challenge(ticket, NOW + timedelta(minutes=6))


def test_the_session_id_travels_in_the_token(tokens: TokenService) -> None:
    from dataclasses import replace

    signed_in = replace(ALICE, second_factor=True, session="chain-1")
    assert tokens.verify(tokens.issue(signed_in, NOW), NOW) == signed_in
    claims = jwt.decode(tokens.issue(signed_in, NOW), options={"verify_signature": False})
    assert claims["amr"] == ["pwd", "otp"]
    assert claims["sid"] == "chain-1"


def test_a_running_keyring_learns_a_key_another_process_made(tmp_path: Path) -> None:
    directory = tmp_path / "keys"
    running = TokenService(
        Keyring.load_or_create(directory),
        issuer="beeldbel",
        audience="beeldbel-api",
        lifetime=timedelta(minutes=10),
    )
    Keyring.create(directory, now=datetime.now(UTC) + timedelta(seconds=1))
    restarted = TokenService(
        Keyring.load_or_create(directory),
        issuer="beeldbel",
        audience="beeldbel-api",
        lifetime=timedelta(minutes=10),
    )
    assert running.verify(restarted.issue(ALICE, NOW), NOW) == ALICE
    assert len(running.keyring.keys) == 2
