"""Link emulator: weak rural links (rate, queue, delay, jitter, loss, blackouts) on loopback.

The model (``model``, ``rules``, ``state``) is pure and takes ``now``; ``relay`` is the
one asyncio adapter that does I/O; ``python -m beeldbel.linkemu`` runs it.
"""

from beeldbel.linkemu.model import (
    PROFILES,
    DirectionProfile,
    LinkProfile,
    Schedule,
    Segment,
    named_schedule,
    parse_schedule,
)
from beeldbel.linkemu.rules import Measurement, Verdict, measured_loss, verify
from beeldbel.linkemu.state import Counters, Direction, DropReason, Fate

__all__ = [
    "PROFILES",
    "Counters",
    "Direction",
    "DirectionProfile",
    "DropReason",
    "Fate",
    "LinkProfile",
    "Measurement",
    "Schedule",
    "Segment",
    "Verdict",
    "measured_loss",
    "named_schedule",
    "parse_schedule",
    "verify",
]
