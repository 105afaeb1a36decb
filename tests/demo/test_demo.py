"""The README's main command works: the demo blocks every attack and lets normal traffic pass."""

from __future__ import annotations

import subprocess
import sys

from netns_fixtures import needs_netns, new_prefix, require_netns

pytestmark = needs_netns


def test_demo_runs_and_blocks_every_attack() -> None:
    require_netns()
    prefix = new_prefix("d")
    proc = subprocess.run(
        [sys.executable, "-m", "guestwall", "demo", "--prefix", prefix],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "every attack blocked, normal traffic passes" in proc.stdout
    assert proc.stdout.count("got through") == 7  # each attack works on the bare bridge
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    assert prefix not in listed  # the lab is gone
