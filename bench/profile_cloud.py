"""Time and profile the cloud layer's changes at M members and B provider blocks, without traffic runs:

    python -m bench.profile_cloud [--members 1000] [--blocks 10000] [--rounds 5] [--profile join] [--html F]
                                  [--conntrack]

The setup is bench.cloud's (group ``members`` of M ports, group ``web`` with rules naming it, B provider
blocks) in a scratch namespace (no guests: the synthetic ports' devices do not exist, as in bench.cloud).
Prints the median of each operation (join, leave, create, delete, block, unblock); with ``--profile OP`` one
more round of OP runs under pyinstrument and its report is printed. With ``--conntrack`` revoked flows are
looked for in the namespace's real conntrack table (empty: no traffic), as the CLI and the agent do.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

OPS = ("join", "leave", "create", "delete", "block", "unblock")


def _setup(store: Any, engine: Any, members: int, blocks: int, conntrack: Any = None) -> Any:
    from bench.cloud import IPERF_PORT, _block_cidr, _member_port
    from guestwall.cloud.facade import Cloud
    from guestwall.cloud.rules import RuleSpec
    from guestwall.model.cloud import ProviderBlock, RuleDirection
    from guestwall.store.cloudrepo import cloud_writer

    cloud = Cloud(store, engine, conntrack)
    cloud.create_group("members", "bench")
    cloud.create_group("web", "bench")
    for proto in ("tcp", "udp"):
        spec = RuleSpec(
            RuleDirection.INGRESS, protocol=proto, ports=(IPERF_PORT, IPERF_PORT), remote_group="members"
        )
        cloud.create_rule("web", spec, "bench")
    cloud.put_ports([_member_port(i) for i in range(1, members)])
    with store.write() as writer:
        repo = cloud_writer(writer)
        for i in range(blocks):
            repo.add_provider_block(ProviderBlock(f"00000000-0000-4000-8000-{i:012d}", _block_cidr(i)))
    cloud.refresh_provider()
    return cloud


class _Ops:
    """Each operation as a call that can be repeated (join/leave and block/unblock alternate)."""

    def __init__(self, cloud: Any, members: int, blocks: int) -> None:
        from bench.cloud import _block_cidr, _member_port

        self.cloud = cloud
        self.extra = replace(_member_port(members + 1), security_groups=())
        cloud.create_port(self.extra)
        self.created: list[str] = []
        self.made: list[str] = []
        self.last: Any = None  # the Outcome of the last change
        self.next_port = members + 10
        self.next_block = blocks
        self.member_port, self.block_cidr = _member_port, _block_cidr

    def call(self, op: str) -> Callable[[], object]:
        from guestwall.cloud.ports import PortChanges

        cloud = self.cloud

        def join() -> None:
            self.last = cloud.update_port(self.extra.device, PortChanges(security_groups=("members",)))

        def leave() -> None:
            self.last = cloud.update_port(self.extra.device, PortChanges(security_groups=()))

        def create() -> None:
            port = self.member_port(self.next_port)
            self.next_port += 1
            self.created.append(port.device)
            self.last = cloud.create_port(port)

        def delete() -> None:
            self.last = cloud.delete_port(self.created.pop())

        def block() -> None:
            self.last = cloud.block(self.block_cidr(self.next_block))
            self.made.append(self.last.value.id)
            self.next_block += 1

        def unblock() -> None:
            self.last = cloud.unblock(self.made.pop())

        return {
            "join": join,
            "leave": leave,
            "create": create,
            "delete": delete,
            "block": block,
            "unblock": unblock,
        }[op]

    def before(self, op: str) -> None:
        """Bring the state to where ``op`` can run (leave needs a member, delete a created port, ...)."""
        pre = {"leave": "join", "delete": "create", "unblock": "block"}.get(op)
        if pre is not None:
            self.call(pre)()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.profile_cloud", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--members", type=int, default=1000)
    parser.add_argument("--blocks", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--profile", choices=OPS, default=None)
    parser.add_argument("--html", type=Path, help="write pyinstrument's HTML report here")
    parser.add_argument("--conntrack", action="store_true", help="look for revoked flows in the netns")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="gwbench-cloudprof-") as tmp:
        os.environ["GUESTWALL_RUN_DIR"] = f"{tmp}/run"
        from bench.netns import free_backend, scratch_netns
        from bench.timing import median, stopwatch
        from guestwall.config import HostConfig
        from guestwall.dataplane.backend import open_backend
        from guestwall.engine import Engine
        from guestwall.store import open_store

        store = open_store(f"sqlite:///{tmp}/cloud.db")
        with scratch_netns("cprof") as ns:
            backend = open_backend(ns)
            try:
                with stopwatch() as t:
                    from guestwall.cloud.conntrack import ConntrackTool

                    conntrack = ConntrackTool(ns) if args.conntrack else None
                    engine = Engine(backend, HostConfig())
                    cloud = _setup(store, engine, args.members, args.blocks, conntrack)
                print(f"setup: {t[0]:.1f} s ({args.members} members, {args.blocks} blocks)")
                ops = _Ops(cloud, args.members, args.blocks)
                for op in OPS:
                    times, cpu, size = [], [], 0
                    for _ in range(args.rounds):
                        if op in ("join", "create", "block"):
                            pass
                        else:
                            ops.before(op)
                        c0 = time.process_time()
                        with stopwatch() as t:
                            ops.call(op)()
                        cpu.append((time.process_time() - c0) * 1000)
                        times.append(t[0] * 1000)
                        applied = ops.last.applied
                        size = len(applied.transaction.commands) if applied is not None else 0
                        if op == "join":
                            ops.call("leave")()
                    print(
                        f"{op:8} {median(times):8.1f} ms wall {median(cpu):8.1f} ms cpu  ({size} kernel cmds)"
                    )
                if args.profile:
                    from pyinstrument import Profiler

                    ops.before(args.profile)
                    profiler = Profiler(interval=0.0005)
                    profiler.start()
                    ops.call(args.profile)()
                    profiler.stop()
                    if args.html:
                        args.html.write_text(profiler.output_html())
                    print(profiler.output_text(unicode=True, color=False, show_all=False))
            finally:
                free_backend(backend)
                store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
