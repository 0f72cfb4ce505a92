"""The real relay on 127.0.0.1, started from the command line, applies and verifies a profile.

Timing claims stay in ``bench/linkemu.py``; here the relay's own counters are checked
against the pure model (which packets are lost depends only on the seed and their order)
and the reference stream's figures are judged by the same self-check the bench uses.
"""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from beeldbel.linkemu.__main__ import parser, schedule_from
from beeldbel.linkemu.state import Direction
from bench.linkemu import reference_run

pytestmark = pytest.mark.slow

CUSTOM = [
    "--rate-down", "384", "--rate-up", "128", "--delay", "100", "--jitter", "10",
    "--loss", "0.05", "--queue", "30", "--seed", "7",
]  # fmt: skip


async def test_a_custom_profile_from_the_command_line_is_applied_and_verified() -> None:
    schedule = schedule_from(parser().parse_args(["--listen", ":0", "--target", ":0", *CUSTOM]))
    result = await reference_run(CUSTOM, schedule, duration=4.0)

    down = result["relay"]["down"]
    sent = result["samples"]["down_sent"]
    assert down["received"] == sent  # nothing lost on loopback before the model
    assert down["sent"] == result["samples"]["down_delivered"]  # nor after it
    assert down["dropped_queue"] > 0  # the stream was offered above the rate: shaped

    # The relay lost exactly the packets the model loses for this seed.
    model = Direction(schedule, "down", random.Random(random.Random(7).getrandbits(64)), 0.0)
    replayed = [model.offer(i * 10.0, 64) for i in range(sent)]
    assert down["dropped_loss"] == sum(f.dropped is not None for f in replayed)

    assert result["configured"]["rate_kbps"] == 384
    assert result["valid"], result["reasons"]


def test_the_relay_writes_counters_periodically_and_prints_them_on_sigterm(
    tmp_path: Path,
) -> None:
    stats = tmp_path / "stats.json"
    relay = subprocess.Popen(
        [sys.executable, "-m", "beeldbel.linkemu", "--listen", "127.0.0.1:0",
         "--target", "127.0.0.1:9", "--profile", "rural",
         "--stats-file", str(stats), "--stats-interval", "0.1"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert relay.stdout is not None
        ready = json.loads(relay.stdout.readline())
        assert ready["listening"][0] == "127.0.0.1"
        deadline = time.monotonic() + 10
        while not stats.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert json.loads(stats.read_text())["profile"] == "rural"
    finally:
        relay.send_signal(signal.SIGTERM)
        out, _ = relay.communicate(timeout=10)
    final = json.loads(out.strip().splitlines()[-1])
    assert relay.returncode == 0
    assert set(final) == {"profile", "down", "up"}
    assert final["up"]["received"] == 0


def test_the_relay_refuses_an_address_off_loopback() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "beeldbel.linkemu", "--listen", "10.1.2.3:9000",
         "--target", "127.0.0.1:9", "--profile", "lan"],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert "not a loopback address" in result.stderr
