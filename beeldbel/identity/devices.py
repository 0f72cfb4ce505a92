"""Device cookies: a browser where someone signed in before is not throttled with strangers.

The sign-in throttle counts failures per username, and anybody can make failures for
any username. Alone, it would let a stranger keep the on-call worker waiting for ever
(one wrong guess each time the wait ends). So a browser that completed a sign-in gets
a device cookie naming, by keyed hash, the users who signed in there (the last few, for
an office PC that colleagues share). A sign-in attempt from such a browser, for one of
those users, is counted on its own key: the stranger's failures do not touch it, and
its own failures are throttled just the same. (OWASP: "Slow down online guessing
attacks with device cookies".)

The cookie holds no name and no secret: a random device id and one MAC per user.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from beeldbel.identity.model import username_key
from beeldbel.identity.serverkey import ServerKey

__all__ = ["MAX_USERS", "DeviceCookies"]

PREFIX = "bbd1"
MAX_USERS = 5
MAX_LENGTH = 400
_MAC_BYTES = 16


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


class DeviceCookies:
    def __init__(self, key: ServerKey) -> None:
        self._mac_key = key.derive("device-cookie")
        self._throttle_key = key.derive("device-throttle")

    def _mac(self, device: str, username: str) -> str:
        message = f"{device}|{username_key(username)}".encode()
        return _b64(hmac.new(self._mac_key, message, hashlib.sha256).digest()[:_MAC_BYTES])

    @staticmethod
    def _parse(value: str | None) -> tuple[str, list[str]] | None:
        if not value or len(value) > MAX_LENGTH or not value.isascii():
            return None
        parts = value.split(".")
        if len(parts) < 3 or parts[0] != PREFIX or not parts[1]:
            return None
        return parts[1], parts[2:]

    def trusted(self, value: str | None, username: str) -> str | None:
        """The throttle key of this device for this user, if the cookie vouches for both."""
        parsed = self._parse(value)
        if parsed is None:
            return None
        device, macs = parsed
        expected = self._mac(device, username)
        if not any(hmac.compare_digest(expected, mac) for mac in macs):
            return None
        message = f"{device}|{username_key(username)}".encode()
        return "d:" + hmac.new(self._throttle_key, message, hashlib.sha256).hexdigest()

    def remember(self, value: str | None, username: str) -> str:
        """The cookie after ``username`` signed in here: this user last, at most MAX_USERS."""
        parsed = self._parse(value)
        device, macs = parsed if parsed is not None else (_b64(secrets.token_bytes(16)), [])
        mine = self._mac(device, username)
        kept = [mac for mac in macs if mac != mine][-(MAX_USERS - 1) :]
        return ".".join([PREFIX, device, *kept, mine])
