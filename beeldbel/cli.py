"""The ``beeldbel`` command: serve, migrate, demo, backup, restore, version."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import structlog
from aiohttp import web

from beeldbel import __version__
from beeldbel.audit import cli as audit_cli
from beeldbel.clock import SystemClock
from beeldbel.db.backup import BackupError, backup, restore
from beeldbel.db.engine import Database
from beeldbel.db.migrate import head_revisions, upgrade
from beeldbel.demo import seed_demo
from beeldbel.identity import cli as identity_cli
from beeldbel.identity.cli import Command
from beeldbel.identity.demo import demo_accounts_with_demo_password
from beeldbel.ops.logging import configure_logging
from beeldbel.settings import ConfigError, Settings, is_loopback_host, load_settings

__all__ = ["main"]

EXIT_USAGE = 2

log = structlog.get_logger("beeldbel")


class UsageError(Exception):
    """A command that cannot run as asked; printed without a traceback."""


# Capabilities that bring subcommands of their own (``beeldbel user``, ``beeldbel audit``).
PLUGINS = (identity_cli, audit_cli)


def _parser() -> tuple[argparse.ArgumentParser, dict[str, Command]]:
    parser = argparse.ArgumentParser(
        prog="beeldbel",
        description="Beeldbel: video calls, agenda, client files and loaned tablets for wijkteams.",
    )
    parser.add_argument("--config", type=Path, help="a TOML file with settings (BEELDBEL_CONFIG)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="migrate the database and run the service")
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (default 8080)")
    serve.add_argument(
        "--demo", action="store_true", help="seed demo data first (only on a loopback address)"
    )

    commands.add_parser("migrate", help="bring the database schema up to date")
    commands.add_parser("demo", help="seed demo data (migrates first); safe to repeat")

    backup_cmd = commands.add_parser("backup", help="copy the SQLite database to a file")
    backup_cmd.add_argument("file", type=Path, help="the backup file to write")

    restore_cmd = commands.add_parser("restore", help="restore a backup into the data directory")
    restore_cmd.add_argument("file", type=Path, help="the backup file to read")
    restore_cmd.add_argument(
        "--force", action="store_true", help="replace an existing database (it is kept aside)"
    )

    commands.add_parser("version", help="print the version")
    handlers: dict[str, Command] = {}
    for plugin in PLUGINS:
        handlers.update(plugin.register(commands))
    return parser, handlers


def _settings(args: argparse.Namespace, **overrides: Any) -> Settings:
    return load_settings(args.config, **{k: v for k, v in overrides.items() if v is not None})


def _migrate(settings: Settings) -> None:
    upgrade(settings.effective_database_url)
    log.info(
        "schema_current",
        revisions=sorted(head_revisions()),
        database="sqlite" if settings.is_sqlite else "postgresql",
    )


def _seed(settings: Settings) -> None:
    async def run() -> None:
        db = Database.from_settings(settings)
        try:
            report = await seed_demo(db, SystemClock())
        finally:
            await db.dispose()
        log.info(
            "demo_seeded",
            teams_created=report.teams_created,
            clients=report.clients_created,
            appointments=report.appointments_created,
        )
        for line in report.sign_in_help:
            print(line, file=sys.stderr)  # noqa: T201 - for the person at the terminal

    asyncio.run(run())


def _refuse_public_demo_accounts(settings: Settings) -> None:
    async def find() -> list[str]:
        db = Database.from_settings(settings)
        try:
            return await demo_accounts_with_demo_password(db)
        finally:
            await db.dispose()

    exposed = asyncio.run(find())
    if exposed:
        raise UsageError(
            f"this database holds demo accounts with the public demo password "
            f"({', '.join(exposed)}); it refuses to listen on {settings.host!r}. "
            "Disable them (beeldbel user disable NAME) or give them new passwords "
            "(beeldbel user reset-password NAME) first, or serve on 127.0.0.1."
        )


def _serve(args: argparse.Namespace) -> None:
    settings = _settings(args, host=args.host, port=args.port)
    if args.demo and not is_loopback_host(settings.host):
        raise UsageError(
            f"--demo serves well-known demo accounts and must stay on this machine; "
            f"it refuses to listen on {settings.host!r}. Use --host 127.0.0.1 (or localhost), "
            "or run without --demo."
        )
    configure_logging(settings)
    _migrate(settings)
    if args.demo:
        _seed(settings)
    elif not is_loopback_host(settings.host):
        _refuse_public_demo_accounts(settings)
    from beeldbel.app import create_app  # imported late: the CLI starts faster without it

    app = create_app(settings)
    log.info(
        "listening",
        url=f"http://{settings.host}:{settings.port}",
        demo=args.demo,
        database="sqlite" if settings.is_sqlite else "postgresql",
    )
    web.run_app(
        app,
        host=settings.host,
        port=settings.port,
        shutdown_timeout=settings.shutdown_timeout,
        access_log=None,
        print=None,
        handle_signals=True,
    )


def _run(args: argparse.Namespace, handlers: dict[str, Command]) -> int:
    if args.command == "version":
        print(f"beeldbel {__version__}")  # noqa: T201
        return 0
    if args.command == "serve":
        _serve(args)
        return 0
    settings = _settings(args)
    configure_logging(settings)
    if args.command in handlers:
        return handlers[args.command](args, settings)
    if args.command == "migrate":
        _migrate(settings)
    elif args.command == "demo":
        _migrate(settings)
        _seed(settings)
    elif args.command == "backup":
        written = backup(settings, args.file)
        log.info("backup_written", file=str(written))
    elif args.command == "restore":
        restored = restore(settings, args.file, force=args.force)
        log.info("backup_restored", database=str(restored))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser, handlers = _parser()
    args = parser.parse_args(argv)
    try:
        return _run(args, handlers)
    except (ConfigError, UsageError, BackupError) as exc:
        print(f"beeldbel: {exc}", file=sys.stderr)  # noqa: T201
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
