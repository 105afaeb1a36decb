"""The dashboard's page times (issue 16: no page slower than 300 ms with 1000 ports and 1000 groups).

A store with N ports and N security groups (each group with its 4 default rules and one tcp rule; each port
in two groups), served by the API app (``create_app``, the dashboard included) in-process through
Starlette's test client: a request's time is the app's whole work (routing, token check against the store,
queries, template), without a socket or a browser. No kernel: changes are not measured here, reads only, so
a recording backend stands in. Each page is requested R times as an admin and as a member; the baseline is
the cheapest request through the same path (a static asset), measured in the same run, and every page is
printed as p50 / p95 in ms and as a ratio to that baseline.

``python -m bench.ui [--quick] [--ports N] [--groups N] [--rounds R] [--json FILE]``
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

LIMIT_MS = 300.0


def populate(store: Any, ports: int, groups: int) -> dict[str, str]:
    """N groups in two projects (one transaction, with what the engine derives from them), then N ports
    in one call of the use case; returns names the pages are asked about."""
    from uuid import uuid4

    from guestwall.cloud.facade import Cloud
    from guestwall.cloud.sync import Scope, sync
    from guestwall.dataplane.backend import RecordingBackend
    from guestwall.model.cloud import Ethertype, Port, RuleDirection, SecurityGroup, SecurityGroupRule
    from guestwall.store.cloudrepo import cloud_writer

    made: list[SecurityGroup] = []
    with store.write() as writer:
        repo = cloud_writer(writer)
        for i in range(groups):
            gid = str(uuid4())
            rules = [
                SecurityGroupRule(
                    str(uuid4()), gid, d, e, remote_group_id=gid if d is RuleDirection.INGRESS else None
                )
                for d in RuleDirection
                for e in Ethertype
            ]
            rules.append(
                SecurityGroupRule(
                    str(uuid4()),
                    gid,
                    RuleDirection.INGRESS,
                    Ethertype.IPV4,
                    "tcp",
                    8000 + i % 1000,
                    8000 + i % 1000,
                )
            )
            group = SecurityGroup(
                gid, f"group-{i:04}", "acme" if i % 2 == 0 else "other", f"bench group {i}", tuple(rules)
            )
            repo.add_group(group)
            made.append(group)
        sync(writer, repo, Scope(groups={g.id for g in made}))
    cloud = Cloud(store, RecordingBackend())
    base = int(IPv4Address("10.128.0.0"))
    new_ports = []
    for i in range(ports):
        project = "acme" if i % 2 == 0 else "other"
        own = [g.id for g in made if g.project == project]
        chosen = (own[i // 2 % len(own)], own[(i // 2 + 1) % len(own)]) if own else ()
        new_ports.append(
            Port(
                "",
                f"b{i:05}",
                f"52:54:02:{i >> 16 & 0xFF:02x}:{i >> 8 & 0xFF:02x}:{i & 0xFF:02x}",
                project,
                fixed_ips=(IPv4Address(base + i + 10),),
                security_groups=chosen,
            )
        )
    cloud.put_ports(new_ports)
    first = made[0]
    return {"device": "b00000", "group": first.id, "filter": f"gw-sg-{first.id.replace('-', '')[:16]}"}


def pages(names: dict[str, str], ports: int) -> list[tuple[str, str]]:
    last = max(1, -(-ports // 50))
    return [
        ("overview", "/ui/"),
        ("ports", "/ui/ports"),
        (f"ports, page {last}", f"/ui/ports?page={last}"),
        ("ports, filtered", "/ui/ports?q=b0012"),
        ("port + program", f"/ui/ports/{names['device']}"),
        (
            "port + simulate",
            f"/ui/ports/{names['device']}?direction=in&packet=src%3D10.0.0.9+tcp+dport%3D8000",
        ),
        ("groups", "/ui/groups"),
        ("groups, page 10", "/ui/groups?page=10"),
        ("group", f"/ui/groups/{names['group']}"),
        ("provider blocks", "/ui/blocks"),
        ("filters", "/ui/filters"),
        ("filter XML", f"/ui/filters/{names['filter']}"),
    ]


def timed(get: Callable[[], Any], rounds: int) -> list[float]:
    get()  # warm: template compilation, first queries
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        response = get()
        times.append((time.perf_counter() - t0) * 1000)
        if response.status_code not in (200,):
            raise RuntimeError(f"{response.request.url} answered {response.status_code}")
    return times


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def measure(ports: int, groups: int, rounds: int) -> dict[str, Any]:
    from starlette.testclient import TestClient

    from guestwall.api.app import ApiState, Settings, create_app
    from guestwall.cloud.facade import Cloud
    from guestwall.dataplane.backend import RecordingBackend
    from guestwall.services.tokens import Role, create_token
    from guestwall.store import open_store

    with tempfile.TemporaryDirectory(prefix="gw-bench-ui-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'guestwall.db'}"
        store = open_store(url)
        try:
            t0 = time.perf_counter()
            names = populate(store, ports, groups)
            setup = time.perf_counter() - t0
            settings = Settings(url)
            backend = RecordingBackend()
            app = create_app(settings, ApiState(settings, store, backend, Cloud(store, backend)))
            results: dict[str, Any] = {"ports": ports, "groups": groups, "rounds": rounds, "setup_s": setup}
            for who, project, role in (("admin", "admin", Role.ADMIN), ("member", "acme", Role.MEMBER)):
                client = TestClient(app, follow_redirects=False)
                client.cookies.set("gw_session", create_token(store, project, role).secret, path="/ui")
                baseline = timed(lambda c=client: c.get("/ui/static/ui.css"), rounds)
                rows = []
                for label, path in pages(names, ports):
                    if path == "/ui/blocks" and role is not Role.ADMIN:
                        continue
                    times = timed(lambda c=client, p=path: c.get(p), rounds)
                    rows.append(
                        {
                            "page": label,
                            "path": path,
                            "p50_ms": statistics.median(times),
                            "p95_ms": p95(times),
                        }
                    )
                results[who] = {"baseline_p50_ms": statistics.median(baseline), "pages": rows}
            return results
        finally:
            store.close()


def report(results: dict[str, Any]) -> str:
    lines = [
        f"Dashboard pages with {results['ports']} ports and {results['groups']} groups "
        f"({results['rounds']} requests each; in-process ASGI; setup {results['setup_s']:.1f} s)",
    ]
    worst = 0.0
    for who in ("admin", "member"):
        part = results[who]
        base = part["baseline_p50_ms"]
        lines.append(f"\n{who}: baseline (static asset) p50 {base:.2f} ms")
        lines.append(f"  {'page':<22} {'p50 ms':>8} {'p95 ms':>8} {'p50 / baseline':>15}")
        for row in part["pages"]:
            worst = max(worst, row["p95_ms"])
            p50, p95_ = row["p50_ms"], row["p95_ms"]
            lines.append(f"  {row['page']:<22} {p50:>8.1f} {p95_:>8.1f} {p50 / base:>15.1f}")
    verdict = "met" if worst <= LIMIT_MS else "MISSED"
    lines.append(
        f"\nslowest page p95: {worst:.1f} ms (target: every page under {LIMIT_MS:.0f} ms): {verdict}"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.ui", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100 ports and groups, 5 rounds")
    parser.add_argument("--ports", type=int, default=1000)
    parser.add_argument("--groups", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    if args.quick:
        args.ports, args.groups, args.rounds = 100, 100, 5
    results = measure(args.ports, args.groups, args.rounds)
    print(report(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
