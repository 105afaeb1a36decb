"""The cloud layer's benchmark (issue 6): a membership change in a group of 1000 members and 10 000 provider
blocks, as update time (a service call: store + kernel transaction) and per-packet cost (iperf3 between two
lab guests that are cloud ports, with everything loaded).

Setup, in a 2-guest lab (``gwb<pid>c``, removed at the end): group ``members`` with M ports (M-1 synthetic
ones whose devices do not exist, and alice), group ``web`` (bob) accepting iperf3 (tcp and udp 5201) from
the members as a remote group, and B provider blocks of whole /24s. Measured:

- update time of a member joining and leaving ``members`` (``update_port``), a port created into and
  deleted from it, and one more provider block and its unblock, with the size of each kernel transaction;
- per-packet cost: TCP throughput and small-UDP packet rate alice -> bob with no ruleset, with guestwall's
  ruleset, and with a Nova-style linear baseline of the same policy (one drop rule per block ahead of the
  stateful accept, as guestwall orders blocks, and one accept rule per member, as Nova expanded group
  grants). iperf3's UDP stream gets no replies, so each of its packets is a new connection for conntrack
  and walks the whole chain: the membership lookup is on its path, not only on the first packet.

Entry points: ``measure_cloud(...) -> dict`` and ``print_cloud(results)`` for ``python -m bench``, or on its
own ``python -m bench.cloud [--quick] [--out DIR]``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections.abc import Callable
from dataclasses import replace
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path
from typing import Any

from bench.netns import RUN, free_backend, kernel_size, nft, nft_file
from bench.timing import median, stopwatch

Log = Callable[[str], None]
IPERF_PORT = 5201
UDP_LENGTH = 64
MEMBER_NET = IPv4Network("10.200.0.0/16")
BLOCK_BASE = IPv4Address("100.64.0.0")


def _member_port(i: int) -> Any:
    from guestwall.model.cloud import Port

    return Port(
        id="",
        device=f"gm{i}",
        mac=f"52:54:01:{i >> 16 & 0xFF:02x}:{i >> 8 & 0xFF:02x}:{i & 0xFF:02x}",
        project="bench",
        fixed_ips=(MEMBER_NET[i + 10],),
        security_groups=("members",),
    )


def _block_cidr(i: int) -> IPv4Network:
    return IPv4Network((int(BLOCK_BASE) + (i << 8), 24))


def _commands(outcome: Any) -> int:
    """The number of kernel commands a change's Outcome applied."""
    applied = outcome.applied
    return len(applied.transaction.commands) if applied is not None else 0


def _timed(rounds: int, action: Callable[[], Any]) -> dict[str, Any]:
    """``action`` returns the change's Outcome."""
    times, sizes = [], []
    for _ in range(rounds):
        with stopwatch() as t:
            outcome = action()
        times.append(t[0])
        sizes.append(_commands(outcome))
    return {"ms": median(times) * 1000, "ms_rounds": [x * 1000 for x in times], "commands": max(sizes)}


def _linear_baseline(cloud: Any, lab: Any) -> str:
    """The same policy as linear rules (the Nova-style expansion), in our own table."""
    alice, bob = lab["alice"], lab["bob"]
    lines = [
        "table inet gwbench_linear {",
        "  chain forward {",
        "    type filter hook forward priority filter; policy accept;",
    ]
    lines += [f"    ip saddr {b.cidr} drop" for b in cloud.list_blocks()]
    lines += ["    ct state invalid drop", "    ct state established,related accept"]
    members = [p for p in cloud.list_ports("bench") if p.device != bob.portdev]
    for port in members:
        for net in port.networks(4):
            lines.append(
                f"    ip saddr {net.network_address} meta l4proto {{ tcp, udp }} th dport {IPERF_PORT} accept"
            )
    lines += ["    drop", "  }", "}"]
    assert any(alice.ipv4 in line for line in lines)
    return "\n".join(lines) + "\n"


def _traffic(lab: Any, seconds: int) -> dict[str, Any]:
    from guestwall.lab.traffic.iperf import iperf3

    out: dict[str, Any] = {}
    try:
        tcp = iperf3(lab, "bob", "alice", seconds=seconds, port=IPERF_PORT)
        out.update(tcp_gbit_s=tcp.gbit_s)
    except Exception as e:  # a failed run is reported, not fatal
        out["tcp_error"] = str(e)
    try:
        udp = iperf3(lab, "bob", "alice", seconds=seconds, udp=True, length=UDP_LENGTH, port=IPERF_PORT)
        out.update(udp_pkt_s=udp.pkt_s)
    except Exception as e:
        out["udp_error"] = str(e)
    return out


def measure_cloud(
    work: Path,
    log: Log = print,
    *,
    members: int = 1000,
    blocks: int = 10_000,
    rounds: int = 5,
    traffic_seconds: int = 2,
    traffic_rounds: int = 2,
) -> dict[str, Any]:
    from guestwall.cloud.conntrack import ConntrackTool
    from guestwall.cloud.facade import Cloud
    from guestwall.cloud.rules import RuleSpec
    from guestwall.config import HostConfig
    from guestwall.dataplane.backend import open_backend
    from guestwall.engine import Engine
    from guestwall.lab import LabSpec, lab_down, lab_up
    from guestwall.model.cloud import ProviderBlock, RuleDirection
    from guestwall.store import open_store
    from guestwall.store.cloudrepo import cloud_writer

    prefix = f"{RUN}c"
    lab = lab_up(LabSpec(prefix=prefix, guests=2), replace=True)
    store = open_store(f"sqlite:///{work}/cloud.db")
    backend = open_backend(lab.host_netns)
    results: dict[str, Any] = {"members": members, "blocks": blocks, "rounds": rounds}
    try:
        engine = Engine(backend, HostConfig())
        cloud = Cloud(store, engine, ConntrackTool(lab.host_netns))
        alice, bob = lab["alice"], lab["bob"]
        cloud.create_group("members", "bench")
        cloud.create_group("web", "bench")
        for proto in ("tcp", "udp"):
            spec = RuleSpec(
                RuleDirection.INGRESS, protocol=proto, ports=(IPERF_PORT, IPERF_PORT), remote_group="members"
            )
            cloud.create_rule("web", spec, "bench")
        log(f"  cloud: {members} member ports, {blocks} provider blocks")
        with stopwatch() as t:
            cloud.put_ports([_member_port(i) for i in range(1, members)])
        results["create_members_s"] = t[0]
        from guestwall.model.cloud import Port

        lab_ports = [
            Port(
                "",
                g.portdev,
                g.mac,
                "bench",
                name=g.name,
                fixed_ips=(IPv4Address(g.ipv4),),
                security_groups=(grp,),
            )
            for g, grp in ((alice, "members"), (bob, "web"))
        ]
        cloud.put_ports(lab_ports)
        with stopwatch() as t:
            with store.write() as writer:
                repo = cloud_writer(writer)
                for i in range(blocks):
                    repo.add_provider_block(
                        ProviderBlock(f"00000000-0000-4000-8000-{i:012d}", _block_cidr(i))
                    )
            cloud.refresh_provider()
        results["load_blocks_s"] = t[0]

        extra = replace(_member_port(members + 1), security_groups=())
        cloud.create_port(extra)
        results["join"], results["leave"] = _split_toggle(cloud, extra.device, rounds)
        created: list[str] = []

        def create() -> Any:
            port = _member_port(members + 10 + len(created))
            created.append(port.device)
            return cloud.create_port(port)

        results["create_member"] = _timed(rounds, create)
        results["delete_member"] = _timed(rounds, lambda: cloud.delete_port(created.pop()))
        cidrs = [_block_cidr(blocks + i) for i in range(rounds)]
        made: list[str] = []

        last: list[Any] = []

        def block() -> Any:
            last[:] = [cloud.block(cidrs[len(made)])]
            made.append(last[0].value.id)
            return last[0]

        results["block"] = _timed(rounds, block)
        applied = last[0].applied if last else None
        results["block_transaction"] = (applied.transaction.text() if applied else "").splitlines()
        results["unblock"] = _timed(rounds, lambda: cloud.unblock(made.pop()))
        results["kernel_size"] = kernel_size(lab.host_netns).as_dict()

        # per-packet cost
        with store.read() as reader:
            guestwall_desired = engine.desired(reader)
        linear_text = _linear_baseline(cloud, lab)
        path = str(work / "linear.nft")
        plan: list[tuple[str, Callable[[], object] | None]] = [
            ("none", None),
            ("guestwall", lambda: engine.converge(guestwall_desired)),
            ("linear", lambda: nft_file(lab.host_netns, linear_text, path)),
        ]
        runs = []
        for round_ in range(1, traffic_rounds + 1):
            for config, load in plan:
                nft(lab.host_netns, ["flush", "ruleset"])
                if load is not None:
                    load()
                log(f"  cloud data path round {round_}: {config}")
                runs.append({"config": config, "round": round_, **_traffic(lab, traffic_seconds)})
        nft(lab.host_netns, ["flush", "ruleset"])
        results["datapath"] = _datapath_summary(runs)
        results["datapath_runs"] = runs
    finally:
        free_backend(backend)
        store.close()
        lab_down(prefix)
    return results


def _toggle(cloud: Any, device: str, join: bool) -> Any:
    from guestwall.cloud.ports import PortChanges

    return cloud.update_port(device, PortChanges(security_groups=("members",) if join else ()))


def _split_toggle(cloud: Any, device: str, rounds: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """Join and leave alternately; the medians of each direction and the largest kernel transactions."""
    joins, leaves = [], []
    jsizes, lsizes = [], []
    for _ in range(rounds):
        with stopwatch() as t:
            joined = _toggle(cloud, device, True)
        joins.append(t[0])
        jsizes.append(_commands(joined))
        with stopwatch() as t:
            left = _toggle(cloud, device, False)
        leaves.append(t[0])
        lsizes.append(_commands(left))
    return (
        {"ms": median(joins) * 1000, "ms_rounds": [x * 1000 for x in joins], "commands": max(jsizes)},
        {"ms": median(leaves) * 1000, "ms_rounds": [x * 1000 for x in leaves], "commands": max(lsizes)},
    )


def _datapath_summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for config in dict.fromkeys(r["config"] for r in runs):
        entry: dict[str, Any] = {}
        for metric in ("tcp_gbit_s", "udp_pkt_s"):
            values = [r[metric] for r in runs if r["config"] == config and metric in r]
            if values:
                entry[metric] = median(values)
        out[config] = entry
    base = out.get("none", {})
    for entry in out.values():
        for metric in ("tcp_gbit_s", "udp_pkt_s"):
            if base.get(metric) and metric in entry:
                entry[f"{metric}_vs_none"] = entry[metric] / base[metric]
    return out


def print_cloud(results: dict[str, Any], console: Any = None) -> None:
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    m, b = results["members"], results["blocks"]
    table = Table("Operation", "Median", "Kernel commands", title=f"cloud: {m} members, {b} provider blocks")
    table.add_row(f"create {m - 1} member ports (one call)", f"{results['create_members_s']:.2f} s", "")
    table.add_row(f"load {b} blocks (one transaction + refresh)", f"{results['load_blocks_s']:.2f} s", "")
    for key, label in (
        ("join", "member joins the group"),
        ("leave", "member leaves (flows checked)"),
        ("create_member", "port created into the group"),
        ("delete_member", "member port deleted"),
        ("block", "one more provider block"),
        ("unblock", "unblock"),
    ):
        op = results[key]
        table.add_row(label, f"{op['ms']:.1f} ms", str(op["commands"]))
    console.print(table)
    dp = Table(
        "Ruleset", "TCP Gbit/s", "vs none", "UDP kpkt/s (64 B)", "vs none", title="cloud: per-packet cost"
    )
    for config, entry in results["datapath"].items():
        dp.add_row(
            config,
            f"{entry.get('tcp_gbit_s', float('nan')):.2f}",
            f"{entry.get('tcp_gbit_s_vs_none', float('nan')):.2f}",
            f"{entry.get('udp_pkt_s', float('nan')) / 1000:.0f}",
            f"{entry.get('udp_pkt_s_vs_none', float('nan')):.2f}",
        )
    console.print(dp)
    console.print(f"kernel: {results['kernel_size']}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.cloud", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100 members, 1000 blocks, short traffic runs")
    parser.add_argument("--out", type=Path, default=None, help="write cloud.json here")
    args = parser.parse_args(argv)
    sizes = (
        {"members": 100, "blocks": 1000, "rounds": 3, "traffic_seconds": 1, "traffic_rounds": 1}
        if args.quick
        else {}
    )
    with tempfile.TemporaryDirectory(prefix="gwbench-cloud-") as tmp:
        import os

        os.environ.setdefault("GUESTWALL_RUN_DIR", tmp)  # kernel locks of this run, not the host's
        results = measure_cloud(Path(tmp), **sizes)  # type: ignore[arg-type]
    print_cloud(results)
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "cloud.json").write_text(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()
