"""Personal join links: a code per participant that page script exchanges by POST.

A code is the participant's ``link_id`` (random, stored) followed by a keyed tag of it
(never stored): the database alone cannot make a working link, and a code can be shown to
the worker again at any time without keeping it. Revoking a link is removing the
participant or cancelling the appointment; rescheduling keeps it.

The code travels in the link's fragment (``/join#<code>``), which browsers never send to a
server, so it stays out of access logs, proxies and referrers; the join page reads it and
POSTs it. A mail scanner that prefetches the link with GET gets the page and nothing else.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from typing import Final

__all__ = ["CODE_LENGTH", "JoinCodes", "join_path"]

LINK_ID_BYTES: Final = 9  # 12 characters
TAG_BYTES: Final = 12  # 16 characters: 96 bits an attacker would have to guess
LINK_ID_LENGTH: Final = 12
CODE_LENGTH: Final = 28
_ALPHABET: Final = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


class JoinCodes:
    def __init__(self, key: bytes) -> None:
        self._key = key

    def __repr__(self) -> str:
        return "JoinCodes(...)"

    @staticmethod
    def new_link_id() -> str:
        return _b64(secrets.token_bytes(LINK_ID_BYTES))

    def _tag(self, link_id: str) -> str:
        return _b64(hmac.new(self._key, link_id.encode(), hashlib.sha256).digest()[:TAG_BYTES])

    def code(self, link_id: str) -> str:
        return link_id + self._tag(link_id)

    def link_id(self, code: str) -> str | None:
        """The link a code names, or None if it is not one of ours."""
        code = code.strip()
        if len(code) != CODE_LENGTH or not set(code) <= _ALPHABET:
            return None
        link_id, tag = code[:LINK_ID_LENGTH], code[LINK_ID_LENGTH:]
        return link_id if hmac.compare_digest(tag, self._tag(link_id)) else None


def join_path(code: str) -> str:
    return f"/join#{code}"
