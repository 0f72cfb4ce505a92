"""`beeldbel user` and `beeldbel keys`: staff accounts and signing keys from the command line.

    beeldbel user create USERNAME --name "Anouk Jansen" --role worker [--role ...]
                         [--team "Wijkteam Hof van Twente" ...] [--password-stdin]
    beeldbel user reset-password USERNAME [--password-stdin]
    beeldbel user reset-factor USERNAME
    beeldbel user disable USERNAME | enable USERNAME | end-sessions USERNAME
    beeldbel user list
    beeldbel keys rotate
    beeldbel keys list

A password that is not given on standard input is generated and printed once. Every
change is audited with actor "cli". The user commands migrate the database first.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from beeldbel.audit.context import RequestOrigin, current_origin
from beeldbel.audit.service import AuditLog
from beeldbel.clock import SystemClock
from beeldbel.db.engine import Database
from beeldbel.db.migrate import upgrade
from beeldbel.errors import BeeldbelError
from beeldbel.identity.accounts import Accounts
from beeldbel.identity.keys import Keyring, retirable
from beeldbel.identity.model import Role
from beeldbel.identity.serverkey import ServerKey
from beeldbel.pagination import PageRequest
from beeldbel.settings import Settings

__all__ = ["KEY_RETIREMENT", "Command", "register"]

Command = Callable[[argparse.Namespace, Settings], int]

ACTOR = "cli"
EXIT_FAILED = 1
# A replaced key verifies for this long: the longest access-token lifetime the settings
# allow (60 min), plus the time processes take to notice a new key, plus leeway.
KEY_RETIREMENT = timedelta(minutes=70)


def _out(line: str) -> None:
    print(line)  # noqa: T201 - the command's answer


def _err(line: str) -> None:
    print(f"beeldbel: {line}", file=sys.stderr)  # noqa: T201


def _password_from_stdin(args: argparse.Namespace) -> str | None:
    if not args.password_stdin:
        return None
    return sys.stdin.readline().rstrip("\r\n")


def _with_accounts(settings: Settings, work: Callable[[Accounts], Awaitable[int]]) -> int:
    upgrade(settings.effective_database_url)

    async def run() -> int:
        token = current_origin.set(RequestOrigin(source="cli", request_id=None))
        db = Database.from_settings(settings)
        try:
            clock = SystemClock()
            accounts = Accounts(
                db, clock, AuditLog(db, clock), ServerKey.load_or_create(settings.keys_dir)
            )
            return await work(accounts)
        finally:
            await db.dispose()
            current_origin.reset(token)

    try:
        return asyncio.run(run())
    except BeeldbelError as error:
        _err(error.message + (f" ({error.details})" if error.details else ""))
        return EXIT_FAILED


def _user(args: argparse.Namespace, settings: Settings) -> int:
    action: str = args.user_command

    async def work(accounts: Accounts) -> int:
        if action == "list":
            page = await accounts.list(PageRequest(limit=200))
            names = await accounts.team_names(frozenset().union(*(u.teams for u in page.items)))
            for user in page.items:
                state = "disabled" if user.disabled else ("active" if user.totp_enabled else "new")
                teams = "; ".join(sorted(names.get(t, str(t)) for t in user.teams))
                roles = ",".join(sorted(user.roles))
                _out(f"{user.username}\t{user.display_name}\t{roles}\t{state}\t{teams}")
            return 0
        if action == "create":
            created = await accounts.create(
                ACTOR,
                args.username,
                args.name,
                frozenset(Role(r) for r in args.role),
                await accounts.team_ids(args.team or []),
                _password_from_stdin(args),
            )
            _out(f"created {created.user.username} ({created.user.subject})")
            if created.password is not None:
                _out(f"password (shown once, hand it over in person): {created.password}")
            _out("At the first sign-in they set up an authenticator app.")
            return 0
        user = await accounts.by_username(args.username)
        if action == "reset-password":
            _, generated = await accounts.reset_password(ACTOR, user.id, _password_from_stdin(args))
            _out(f"password of {user.username} reset; every sign-in of theirs has ended")
            if generated is not None:
                _out(f"new password (shown once): {generated}")
        elif action == "reset-factor":
            await accounts.reset_factor(ACTOR, user.id)
            _out(
                f"authenticator of {user.username} removed; every sign-in of theirs has ended. "
                "At the next sign-in they set up a new one."
            )
        elif action in {"disable", "enable"}:
            await accounts.set_disabled(ACTOR, user.id, action == "disable")
            _out(f"{user.username} {action}d")
        elif action == "end-sessions":
            ended = await accounts.end_sessions(ACTOR, user.id)
            _out(f"ended the sign-ins of {user.username} ({ended} refresh tokens revoked)")
        return 0

    return _with_accounts(settings, work)


def _keys(args: argparse.Namespace, settings: Settings) -> int:
    directory = settings.keys_dir
    if args.keys_command == "rotate":
        Keyring.load_or_create(directory)
        new = Keyring.create(directory)
        _out(f"new signing key {new.kid}: it signs from now on (running services within 30 s)")
        now = datetime.now(UTC)
        for old in retirable(Keyring.load_or_create(directory).keys, now, KEY_RETIREMENT):
            for path in directory.glob(f"signing-{old.created}-*.pem"):
                path.unlink(missing_ok=True)
            _out(f"retired signing key {old.kid}: every token it signed has expired")
        return 0
    keyring = Keyring.load_or_create(directory)
    for key in keyring.keys:
        marker = "signing" if key is keyring.keys[-1] else "verifying"
        _out(f"{key.kid}\t{key.created}\t{marker}")
    return 0


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> dict[str, Command]:
    """Add this capability's subcommands; returns the function that runs each."""
    user = commands.add_parser("user", help="create staff accounts, reset a password or factor")
    actions = user.add_subparsers(dest="user_command", required=True, metavar="ACTION")

    create = actions.add_parser("create", help="create a staff account")
    create.add_argument("username")
    create.add_argument("--name", required=True, help="the name colleagues know them by")
    create.add_argument(
        "--role",
        action="append",
        required=True,
        choices=[r.value for r in Role],
        help="repeat for several roles",
    )
    create.add_argument("--team", action="append", help="a team's name; repeat for several")
    create.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from standard input (else one is generated and printed)",
    )

    reset = actions.add_parser("reset-password", help="set a new password; ends their sign-ins")
    reset.add_argument("username")
    reset.add_argument("--password-stdin", action="store_true")

    for name, text in (
        ("reset-factor", "remove their authenticator; they enrol again at the next sign-in"),
        ("disable", "disable the account; ends their sign-ins"),
        ("enable", "enable a disabled account"),
        ("end-sessions", "end every sign-in of theirs (a lost phone or laptop)"),
    ):
        actions.add_parser(name, help=text).add_argument("username")
    actions.add_parser("list", help="list the staff accounts")

    keys = commands.add_parser("keys", help="rotate or list the token signing keys")
    key_actions = keys.add_subparsers(dest="keys_command", required=True, metavar="ACTION")
    key_actions.add_parser(
        "rotate",
        help="make a new signing key; tokens of older keys stay valid until they expire",
    )
    key_actions.add_parser("list", help="list the signing keys")
    return {"user": _user, "keys": _keys}
