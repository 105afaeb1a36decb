"""The agent attacked (issue 15, item 16): kill -9 must not leave its ``nft monitor`` child behind."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from agentkit import Host, wait_until

from netns_fixtures import needs_netns

pytestmark = needs_netns


def children(pid: int) -> set[int]:
    out: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        out.update(int(c) for c in text)
    return out


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_kill_9_of_the_agent_takes_its_monitor_along(make_host: Callable[..., Host]) -> None:
    host = make_host(guests=1)
    agent = host.start_agent()
    monitors = [
        pid for pid in children(agent.proc.pid) if b"monitor" in Path(f"/proc/{pid}/cmdline").read_bytes()
    ]
    assert len(monitors) == 1
    agent.kill()
    try:
        wait_until(lambda: not alive(monitors[0]), 10, 0.02, "the nft monitor to end with its agent")
    finally:
        if alive(monitors[0]):
            os.kill(monitors[0], 9)
