"""`beeldbel audit verify` and `beeldbel audit prune --before DATE`.

verify seals what is pending, recomputes the chain with the key and compares it with
the anchor file: exit 0 and "audit log intact: N entries, head seq S", or exit 1 and a
line for every problem, naming where ("entry seq 17 (id 23) was changed").
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable
from datetime import UTC, datetime

from beeldbel.audit.context import RequestOrigin, current_origin
from beeldbel.audit.files import AuditKeyError
from beeldbel.audit.sealing import AuditChain
from beeldbel.clock import Clock, SystemClock
from beeldbel.db.engine import Database
from beeldbel.errors import Conflict, InvalidInput
from beeldbel.settings import Settings

__all__ = ["Command", "register", "run_audit"]

Command = Callable[[argparse.Namespace, Settings], int]

EXIT_DAMAGED = 1
EXIT_USAGE = 2


def _moment(text: str) -> datetime:
    """A date (midnight UTC) or a date and time with a zone."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a date (YYYY-MM-DD) or a time with a zone"
        ) from None
    if value.tzinfo is None:
        if len(text) > 10:
            raise argparse.ArgumentTypeError(f"{text!r} needs a time zone (e.g. +01:00 or Z)")
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> dict[str, Command]:
    """Add this capability's subcommands; returns the function that runs each."""
    audit = commands.add_parser("audit", help="verify the audit log, or apply its retention")
    actions = audit.add_subparsers(dest="audit_command", required=True, metavar="ACTION")
    actions.add_parser(
        "verify",
        help="seal pending entries and check the whole chain against the key and the anchor",
    )
    prune = actions.add_parser(
        "prune",
        help="remove sealed entries older than --before (at least five years ago), "
        "keeping a signed checkpoint",
    )
    prune.add_argument(
        "--before",
        type=_moment,
        required=True,
        help="cut-off: YYYY-MM-DD (midnight UTC) or an ISO time with a zone",
    )
    return {"audit": lambda args, settings: run_audit(args, settings)}


def _chain(db: Database, settings: Settings, clock: Clock) -> AuditChain:
    return AuditChain(
        db,
        clock,
        key_file=settings.effective_audit_key_file,
        anchor_file=settings.effective_audit_anchor_file,
    )


async def _verify(settings: Settings, clock: Clock) -> int:
    db = Database.from_settings(settings)
    try:
        verdict = await _chain(db, settings, clock).verify()
    finally:
        await db.dispose()
    print(verdict.summary())  # noqa: T201 - the command's answer
    return 0 if verdict.intact else EXIT_DAMAGED


async def _prune(settings: Settings, clock: Clock, before: datetime) -> int:
    db = Database.from_settings(settings)
    try:
        report = await _chain(db, settings, clock).prune(before)
    finally:
        await db.dispose()
    if report.removed:
        print(  # noqa: T201
            f"removed {report.removed} audit entries before {before.date().isoformat()}; "
            f"the chain now starts after the checkpoint at seq {report.checkpoint_seq}"
        )
    else:
        print(f"nothing to remove before {before.date().isoformat()}")  # noqa: T201
    return 0


def run_audit(args: argparse.Namespace, settings: Settings, clock: Clock | None = None) -> int:
    clock = clock or SystemClock()
    token = current_origin.set(RequestOrigin(source="cli", request_id=None))
    try:
        if args.audit_command == "verify":
            return asyncio.run(_verify(settings, clock))
        return asyncio.run(_prune(settings, clock, args.before))
    except AuditKeyError as exc:
        print(f"beeldbel: {exc}", file=sys.stderr)  # noqa: T201
        return EXIT_USAGE
    except InvalidInput as exc:
        print(f"beeldbel: {exc.message}", file=sys.stderr)  # noqa: T201
        return EXIT_USAGE
    except Conflict as exc:
        print(f"beeldbel: {exc.message}", file=sys.stderr)  # noqa: T201
        for finding in exc.details.get("findings", []):
            print(finding)  # noqa: T201
        return EXIT_DAMAGED
    finally:
        current_origin.reset(token)
