"""`beeldbel` subcommands of the identity capability."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from beeldbel.settings import Settings

__all__ = ["Command", "register"]

Command = Callable[[argparse.Namespace, Settings], int]


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> dict[str, Command]:
    """Add this capability's subcommands; returns the function that runs each."""
    return {}
