"""The many-hosts benchmark (issue 12), on a private PostgreSQL server this run starts and removes.

1. **Latency**: H hosts (a 2-guest lab each, ``guestwall agent --host hN``); W provider blocks written through
   the Python API (``Cloud.block`` acting for no host) and through the CLI (a process per write); for each,
   the time from the start of the write until every host's agent has reported it applied (its nft
   transaction is done by then), p50 and p99, next to the write's own time (the baseline: the same write,
   committed, enforced nowhere).
2. **Load**: 1000 changes a minute for D seconds on those hosts (nine in ten a binding created or deleted on
   one random host, one in ten a provider block, as in a cloud where ports come and go); the statements the
   agents run (pg_stat_statements, the writer's own subtracted) and their CPU time, per change.
3. **Simulated hosts**: the agents' per-change work in this process for 10 and for 100 hosts (reconcilers
   with a recording backend, one store connection each): statements and CPU per change and host, and how
   they grow from 10 to 100 hosts.

``python -m bench.multihost [--quick] [--out DIR]``; needs root and the PostgreSQL 15 server binaries.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from ipaddress import ip_network
from pathlib import Path
from typing import Any

from bench.netns import RUN

GUEST_FILTER = (
    "<filter name='mh-guest' chain='root'><uuid>6d2f0e10-8a3f-4c55-9d53-000000000001</uuid>"
    "<filterref filter='gw-provider'/></filter>\n"
)
BINDING = (
    "<filterbinding><owner><name>{dev}</name><uuid>00000000-0000-4000-8000-{n:012d}</uuid></owner>"
    "<portdev name='{dev}'/><mac address='{mac}'/>"
    "<filterref filter='mh-guest'/></filterbinding>"
)


@dataclass(frozen=True)
class Sizes:
    hosts: int
    writes: int
    load_seconds: float
    simulated: tuple[int, ...]
    simulated_changes: int


FULL = Sizes(hosts=10, writes=30, load_seconds=30.0, simulated=(10, 100), simulated_changes=40)
QUICK = Sizes(hosts=3, writes=8, load_seconds=6.0, simulated=(5, 20), simulated_changes=12)


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def _summary(values: list[float]) -> dict[str, float]:
    return {"p50": _pct(values, 0.5), "p99": _pct(values, 0.99), "max": max(values), "n": len(values)}


def _binding(k: int) -> tuple[str, str]:
    dev = f"bx{k}"
    mac = f"52:54:01:{(k >> 16) & 0xFF:02x}:{(k >> 8) & 0xFF:02x}:{k & 0xFF:02x}"
    return dev, BINDING.format(dev=dev, n=k, mac=mac)


class Hosts:
    """H labs with an agent each, on one store; everything removed by ``close``."""

    def __init__(self, url: str, count: int, workdir: Path) -> None:
        from guestwall.lab import LabSpec, lab_up

        self.url = url
        self.names = [f"h{i + 1}" for i in range(count)]
        self.labs: list[Any] = []
        self.agents: list[subprocess.Popen[bytes]] = []
        config = workdir / "empty.toml"
        config.write_text("")
        self.env = {**os.environ, "GUESTWALL_CONFIG": str(config), "PYTHONDONTWRITEBYTECODE": "1"}
        self.logs = []
        for i, name in enumerate(self.names):
            self.labs.append(lab_up(LabSpec(prefix=f"{RUN}m{i}", guests=2), replace=True))
            log = open(workdir / f"agent-{name}.log", "w")  # noqa: SIM115 (closed in close)
            self.logs.append(log)
            argv = [sys.executable, "-m", "guestwall", "agent", "--netns", self.labs[-1].host_netns]
            argv += ["--db", url, "--host", name, "--log-level", "warning"]
            self.agents.append(subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=self.env))

    def cpu_seconds(self) -> float:
        total = 0.0
        ticks = os.sysconf("SC_CLK_TCK")
        for agent in self.agents:
            with open(f"/proc/{agent.pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / ticks
        return total

    def close(self) -> None:
        from guestwall.lab import lab_down
        from guestwall.lab.netns import stop_process

        for agent in self.agents:
            stop_process(agent, 10)
        for log in self.logs:
            log.close()
        for lab in self.labs:
            lab_down(lab)


def _wait_all(store: Any, names: list[str], revision: int, timeout: float = 30.0) -> tuple[float, float]:
    """Poll the hosts table until every host has applied ``revision``: the monotonic times the first and
    the last host were seen to have applied it."""
    from guestwall.store.hosts import host_statuses

    deadline = time.monotonic() + timeout
    first: float | None = None
    while True:
        _, statuses = host_statuses(store)
        applied = {s.name: s.applied_revision for s in statuses}
        done = [n for n in names if applied.get(n, -1) >= revision]
        if done and first is None:
            first = time.monotonic()
        if len(done) == len(names):
            assert first is not None
            return first, time.monotonic()
        if time.monotonic() > deadline:
            late = [n for n in names if applied.get(n, -1) < revision]
            raise RuntimeError(f"revision {revision} not applied after {timeout} s on {late}")
        time.sleep(0.002)


def _statements(pg: Any, database: str) -> int:
    rows = pg.execute(
        "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid "
        f"WHERE d.datname = '{database}'"
    )
    return int(rows[0][0])


@contextmanager
def _counted(engine: Any) -> Iterator[list[int]]:
    """Count the statements an SQLAlchemy engine runs inside the block."""
    from sqlalchemy import event

    count = [0]

    def before(*_: Any) -> None:
        count[0] += 1

    event.listen(engine, "before_cursor_execute", before)
    try:
        yield count
    finally:
        event.remove(engine, "before_cursor_execute", before)


def measure_latency_and_load(pg: Any, sizes: Sizes, workdir: Path) -> dict[str, Any]:
    from guestwall.cloud.facade import Cloud
    from guestwall.dataplane.backend import NoKernel
    from guestwall.engine import Engine
    from guestwall.store import open_store

    url = pg.new_database()
    database = url.rsplit("/", 1)[1]
    store = open_store(url, "writer")
    cloud = Cloud(store, NoKernel())
    hosts = Hosts(url, sizes.hosts, workdir)
    try:
        cloud.block(ip_network("192.0.2.1/32"))
        from guestwall.services.bindings import create_bindings
        from guestwall.services.filters import define_filter

        define_filter(store, GUEST_FILTER)
        for name, lab in zip(hosts.names, hosts.labs, strict=True):
            host_store = open_store(url, name)
            xmls = [BINDING.format(dev=g.portdev, n=i, mac=g.mac) for i, g in enumerate(lab.guests)]
            create_bindings(host_store, xmls, Engine(NoKernel()))
            host_store.close()
        _wait_all(store, hosts.names, store.generation(), timeout=120)

        api, api_first, api_write, cli, cli_first, cli_write = [], [], [], [], [], []
        for k in range(sizes.writes):
            t0 = time.monotonic()
            cloud.block(ip_network(f"203.0.113.{k + 1}/32"))
            t1 = time.monotonic()
            assert store.last_revision is not None
            first, last = _wait_all(store, hosts.names, store.last_revision)
            api.append(last - t0)
            api_first.append(first - t0)
            api_write.append(t1 - t0)
        for k in range(sizes.writes):
            argv = [sys.executable, "-m", "guestwall", "--db", url, "--host", "writer", "-q"]
            argv += ["provider", "block", f"198.51.100.{k + 1}/32"]
            t0 = time.monotonic()
            subprocess.run(argv, check=True, capture_output=True, env=hosts.env)
            t1 = time.monotonic()
            first, last = _wait_all(store, hosts.names, store.generation())
            cli.append(last - t0)
            cli_first.append(first - t0)
            cli_write.append(t1 - t0)

        load = _load(pg, database, store, cloud, hosts, sizes.load_seconds)
        return {
            "hosts": sizes.hosts,
            "api": {
                "enforced_everywhere": _summary(api),
                "enforced_first_host": _summary(api_first),
                "write_only": _summary(api_write),
            },
            "cli": {
                "enforced_everywhere": _summary(cli),
                "enforced_first_host": _summary(cli_first),
                "write_only": _summary(cli_write),
            },
            "load": load,
        }
    finally:
        hosts.close()
        store.close()


def _load(pg: Any, database: str, store: Any, cloud: Any, hosts: Hosts, seconds: float) -> dict[str, Any]:
    """1000 changes a minute: bindings on random hosts, every tenth change a provider block."""
    from guestwall.store.sqlstore import SqlStore

    assert isinstance(store, SqlStore)
    rng = random.Random(12)
    interval = 60.0 / 1000
    stores = {name: SqlStore(store.engine, store.url, name) for name in hosts.names}
    bound: dict[str, list[str]] = {name: [] for name in hosts.names}
    cpu0, statements0 = hosts.cpu_seconds(), _statements(pg, database)
    changes = 0
    start = time.monotonic()
    with _counted(store.engine) as own:
        while time.monotonic() - start < seconds:
            if changes % 10 == 9:
                cloud.block(ip_network(f"100.64.{changes // 256 % 256}.{changes % 256}/32"))
            else:
                name = rng.choice(hosts.names)
                with stores[name].write() as w:
                    if bound[name] and rng.random() < 0.5:
                        w.delete_binding(bound[name].pop())
                    else:
                        dev, xml = _binding(changes)
                        w.add_binding(dev, "mh-guest", xml)
                        bound[name].append(dev)
            changes += 1
            time.sleep(max(0.0, start + changes * interval - time.monotonic()))
        _wait_all(store, hosts.names, store.generation())
        own_statements = own[0]  # the writer's, and its polls of the hosts table
    cpu = hosts.cpu_seconds() - cpu0
    statements = _statements(pg, database) - statements0 - own_statements
    return {
        "changes": changes,
        "seconds": round(time.monotonic() - start, 2),
        "agent_statements_per_change": round(statements / changes, 1),
        "agent_statements_per_change_per_host": round(statements / changes / len(hosts.names), 2),
        "agent_cpu_ms_per_change_per_host": round(cpu * 1000 / changes / len(hosts.names), 2),
        "agent_cpu_share_per_host": round(cpu / len(hosts.names) / seconds, 4),
    }


def measure_simulated(pg: Any, count: int, changes: int, notified: bool = True) -> dict[str, Any]:
    """``count`` reconcilers in this process (recording backends) following ``changes`` changes, woken
    with the notification's payload (``notified``) or by polling (each reads the change log)."""
    from guestwall.agent.reconcile import FOLLOWED_SKIPPED, Reconciler
    from guestwall.cloud.facade import Cloud
    from guestwall.config import HostConfig
    from guestwall.dataplane.backend import NoKernel, RecordingBackend
    from guestwall.services.filters import define_filter
    from guestwall.store import open_store
    from guestwall.store.records import notify_payload
    from guestwall.store.sqlstore import SqlStore

    url = pg.new_database()
    writer = open_store(url, "writer")
    cloud = Cloud(writer, NoKernel())
    cloud.block(ip_network("192.0.2.1/32"))
    define_filter(writer, GUEST_FILTER)
    names = [f"s{i + 1}" for i in range(count)]
    stores = [open_store(url, name) for name in names]
    reconcilers = [Reconciler(s, RecordingBackend(), HostConfig(), None) for s in stores]
    rng = random.Random(7)
    for k, s in enumerate(stores):  # a few ports on every host
        with s.write() as w:
            for j in range(3):
                dev, xml = _binding(k * 10 + j)
                w.add_binding(dev, "mh-guest", xml)
    for r in reconcilers:
        r.converge()
    statements = 0
    cpu = 0.0
    concerned = 0
    for c in range(changes):
        if c % 10 == 9:
            cloud.block(ip_network(f"100.64.0.{c % 256}/32"))
            payload = notify_payload(writer.generation(), [None])
        else:
            s = rng.choice(stores)
            with s.write() as w:
                dev, xml = _binding(100_000 + c)
                w.add_binding(dev, "mh-guest", xml)
            payload = notify_payload(s.generation(), [s.host])
        for store, r in zip(stores, reconcilers, strict=True):
            assert isinstance(store, SqlStore)
            with _counted(store.engine) as n:
                t = time.process_time()
                # what the agent does with a notification: move on, or read the log and converge
                result = FOLLOWED_SKIPPED if notified and r.skip_notified([payload]) else r.follow()
                cpu += time.process_time() - t
            statements += n[0]
            concerned += not isinstance(result, str)
    for s in [*stores, writer]:
        s.close()
    per = changes * count
    return {
        "hosts": count,
        "woken_by": "notification" if notified else "poll",
        "changes": changes,
        "statements_per_change_per_host": round(statements / per, 2),
        "cpu_ms_per_change_per_host": round(cpu * 1000 / per, 3),
        "statements_per_change_all_hosts": round(statements / changes, 1),
        "hosts_concerned_per_change": round(concerned / changes, 2),
    }


def run(sizes: Sizes, workdir: Path) -> dict[str, Any]:
    from guestwall.lab.pgserver import PgCluster

    pg = PgCluster(stat_statements=True)
    try:
        pg.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        results: dict[str, Any] = {"latency": measure_latency_and_load(pg, sizes, workdir)}
        results["simulated"] = [measure_simulated(pg, n, sizes.simulated_changes) for n in sizes.simulated]
        small, big = results["simulated"][0], results["simulated"][-1]
        results["simulated_polling"] = measure_simulated(
            pg, sizes.simulated[-1], sizes.simulated_changes, False
        )
        results["simulated_growth"] = {
            "hosts": f"{small['hosts']} -> {big['hosts']}",
            "statements_per_change_all_hosts": round(
                big["statements_per_change_all_hosts"] / small["statements_per_change_all_hosts"], 2
            ),
            "cpu_per_change_per_host": round(
                big["cpu_ms_per_change_per_host"] / max(small["cpu_ms_per_change_per_host"], 1e-9), 2
            ),
        }
        return results
    finally:
        pg.destroy()


def print_results(results: dict[str, Any], out: Callable[[str], None] = print) -> None:
    lat = results["latency"]
    out(f"write -> enforced on all {lat['hosts']} hosts (s): p50 / p99 / max; write alone p50 (baseline)")
    for path in ("api", "cli"):
        e, f, w = (lat[path][k] for k in ("enforced_everywhere", "enforced_first_host", "write_only"))
        out(
            f"  {path:4} {e['p50']:.3f} / {e['p99']:.3f} / {e['max']:.3f}   write {w['p50']:.3f}"
            f"   first host p50 {f['p50']:.3f} p99 {f['p99']:.3f}"
            f"   all hosts x{e['p50'] / w['p50']:.1f} the write"
        )
    load = lat["load"]
    out(f"load: {load['changes']} changes in {load['seconds']} s (1000/min):")
    for key in (
        "agent_statements_per_change",
        "agent_statements_per_change_per_host",
        "agent_cpu_ms_per_change_per_host",
        "agent_cpu_share_per_host",
    ):
        out(f"  {key}: {load[key]}")
    out("simulated hosts (recording backends):")
    for sim in results["simulated"]:
        out(
            f"  {sim['hosts']:4} hosts: {sim['statements_per_change_per_host']} statements and "
            f"{sim['cpu_ms_per_change_per_host']} ms CPU per change and host; "
            f"{sim['statements_per_change_all_hosts']} statements per change in all; "
            f"{sim['hosts_concerned_per_change']} hosts rebuilt per change ({sim['woken_by']})"
        )
    out(f"  growth {results['simulated_growth']}")
    poll = results["simulated_polling"]
    out(
        f"  woken by polling instead ({poll['hosts']} hosts): {poll['statements_per_change_all_hosts']} "
        f"statements per change in all, {poll['cpu_ms_per_change_per_host']} ms CPU per change and host"
    )


def main(argv: list[str] | None = None) -> None:
    from bench.netns import exit_on_sigterm

    parser = argparse.ArgumentParser(prog="python -m bench.multihost", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 hosts, few writes, short load (CI)")
    parser.add_argument("--out", type=Path, default=None, help="directory for multihost.json")
    args = parser.parse_args(argv)
    exit_on_sigterm()
    with tempfile.TemporaryDirectory(prefix="gw-mh-") as tmp:
        results = run(QUICK if args.quick else FULL, Path(tmp))
    print_results(results)
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "multihost.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
