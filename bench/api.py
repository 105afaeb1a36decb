"""The REST API's benchmark (issue 11): latency of a rule create and of a member change (a port moving
between two groups) through the API, with 1000 groups and 1000 ports loaded, next to the same use case
called in process; and read requests per second.

``python -m bench.api [--quick] [--out DIR]``. Needs root: the changes are enforced in a network namespace
this run creates (``gwb<pid>a``) and removes; the store lives in a temporary directory. The API's overhead
is reported as the difference of the p99s (goal: ≤ 50 ms plus the engine's own time).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from ipaddress import IPv4Network
from pathlib import Path
from typing import Any

from bench.netns import RUN

NET = IPv4Network("10.210.0.0/16")
ROOT = Path(__file__).resolve().parents[1]


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _summary(times: list[float]) -> dict[str, float]:
    return {"p50_ms": _percentile(times, 0.5) * 1000, "p99_ms": _percentile(times, 0.99) * 1000}


def _timed(rounds: int, action: Callable[[int], object]) -> list[float]:
    out = []
    for i in range(rounds):
        start = time.perf_counter()
        action(i)
        out.append(time.perf_counter() - start)
    return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(client: Any, server: subprocess.Popen[bytes]) -> None:
    import httpx

    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError("guestwall api exited")
        try:
            client.get("/")
            return
        except httpx.TransportError:
            time.sleep(0.2)
    raise RuntimeError("guestwall api did not answer within 300 s")


def _load(cloud: Any, groups: int, ports: int) -> tuple[list[str], list[Any]]:
    from guestwall.model.cloud import Port

    made = cloud.create_groups([(f"g{i}", "") for i in range(groups)], "bench", member_ingress=False).value
    ids = [g.id for g in made]
    new = [
        Port(
            id="",
            device=f"ga{i}",
            mac=f"52:54:02:{i >> 16 & 0xFF:02x}:{i >> 8 & 0xFF:02x}:{i & 0xFF:02x}",
            project="bench",
            fixed_ips=(NET[i + 10],),
            security_groups=(ids[i % len(ids)],),
        )
        for i in range(ports)
    ]
    return ids, cloud.put_ports(new).value


def measure(
    quick: bool, log: Callable[[str], None] = print, sizes: tuple[int, int, int, int] | None = None
) -> dict[str, Any]:
    """``sizes``: (groups, ports, rounds, reads) instead of the quick or full ones."""
    import httpx

    from guestwall.cloud.facade import Cloud
    from guestwall.cloud.ports import PortChanges
    from guestwall.cloud.rules import RuleSpec
    from guestwall.dataplane.backend import open_backend
    from guestwall.lab.netns import create_netns, remove_netns
    from guestwall.model.cloud import RuleDirection
    from guestwall.services.tokens import Role, create_token
    from guestwall.store import open_store

    groups, ports, rounds, reads = sizes or ((100, 100, 20, 200) if quick else (1000, 1000, 100, 1000))
    netns = f"{RUN}a-api"
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        create_netns(netns)
        server = None
        try:
            store = open_store(url)
            cloud = Cloud(store, open_backend(netns))
            token = create_token(store, "bench", Role.MEMBER).secret
            port = _free_port()
            env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
            argv = [sys.executable, "-m", "guestwall", "--db", url, "--netns", netns, "api"]
            argv += ["--listen", f"127.0.0.1:{port}", "--log-level", "warning"]
            server = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            client = httpx.Client(
                base_url=f"http://127.0.0.1:{port}", headers={"X-Auth-Token": token}, timeout=120
            )
            log(f"loading {groups} groups and {ports} ports ...")
            ids, loaded = _load(cloud, groups, ports)
            _wait(client, server)

            def rule_in_process(i: int) -> None:
                spec = RuleSpec(RuleDirection.INGRESS, protocol="tcp", ports=(1 + i, 1 + i))
                cloud.create_rule(ids[0], spec)

            def rule_api(i: int) -> None:
                body = {
                    "security_group_id": ids[1],
                    "direction": "ingress",
                    "protocol": "tcp",
                    "port_range_min": 1 + i,
                    "port_range_max": 1 + i,
                }
                client.post(
                    "/v2.0/security-group-rules", json={"security_group_rule": body}
                ).raise_for_status()

            mover = loaded[0]

            def member_in_process(i: int) -> None:
                cloud.update_port(mover.id, PortChanges(security_groups=(ids[2 + i % 2],)))

            other = loaded[1]

            def member_api(i: int) -> None:
                body = {"port": {"security_groups": [ids[2 + i % 2]]}}
                client.put(f"/v2.0/ports/{other.id}", json=body).raise_for_status()

            results: dict[str, Any] = {"groups": groups, "ports": ports, "rounds": rounds}
            for name, local, remote in (
                ("rule create", rule_in_process, rule_api),
                ("member change", member_in_process, member_api),
            ):
                log(f"{name}: {rounds} rounds in process, {rounds} through the API ...")
                results[name] = {
                    "in_process": _summary(_timed(rounds, local)),
                    "api": _summary(_timed(rounds, remote)),
                }
            start = time.perf_counter()
            for i in range(reads):
                client.get(f"/v2.0/security-groups/{ids[i % len(ids)]}").raise_for_status()
            results["show group req/s"] = reads / (time.perf_counter() - start)
            start = time.perf_counter()
            for _ in range(max(reads // 20, 5)):
                client.get("/v2.0/ports", params={"limit": 100}).raise_for_status()
            results["list 100 ports req/s"] = max(reads // 20, 5) / (time.perf_counter() - start)
            store.close()
            return results
        finally:
            if server is not None:
                server.terminate()
                server.wait(10)
            remove_netns(netns)


def report(results: dict[str, Any]) -> str:
    lines = [
        f"REST API, {results['groups']} groups, {results['ports']} ports, {results['rounds']} rounds",
        f"{'operation':<15}{'in-process p50/p99 ms':>24}{'API p50/p99 ms':>20}{'overhead p99 ms':>18}"
        f"{'API/in-process p50':>20}",
    ]
    for name in ("rule create", "member change"):
        local, api = results[name]["in_process"], results[name]["api"]
        overhead = api["p99_ms"] - local["p99_ms"]
        lines.append(
            f"{name:<15}{local['p50_ms']:>12.1f} / {local['p99_ms']:<9.1f}"
            f"{api['p50_ms']:>9.1f} / {api['p99_ms']:<8.1f}{overhead:>10.1f}"
            f"{api['p50_ms'] / max(local['p50_ms'], 1e-6):>19.2f}x"
        )
    lines.append(
        f"reads: {results['show group req/s']:.0f} group shows/s, "
        f"{results['list 100 ports req/s']:.0f} lists of 100 ports/s"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.api", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100 groups and ports, 20 rounds")
    parser.add_argument("--out", type=Path, default=None, help="directory for api.json")
    parser.add_argument("--rounds", type=int, default=None, help="rounds per operation")
    args = parser.parse_args(argv)
    sizes = None
    if args.rounds is not None:
        groups, ports, reads = (100, 100, 200) if args.quick else (1000, 1000, 1000)
        sizes = (groups, ports, args.rounds, reads)
    results = measure(args.quick, sizes=sizes)
    print(report(results))
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "api.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
