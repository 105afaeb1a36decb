"""The network layer's benchmark (issue 13): N networks with G guests each (full: 100 x 10, quick: 10 x 2)
running in one namespace, each with its bridge, dnsmasq and G fixed DHCP hosts; measured there:

- starting one more network (``service.start``: bridge, dnsmasq, one kernel transaction), its time and
  transaction size, and the same when it is the only network (the ratio says whether N matters);
- adding one DHCP host to a running network (``net-update add ip-dhcp-host --live``: store, hosts file,
  one SIGHUP; no kernel transaction);
- the data path through a nat network with all N loaded: iperf3 guest -> outside (TCP throughput, small-UDP
  packet rate), against no filtering (our tables removed, the outside routing back to the guests' subnet)
  measured in the same run.

``python -m bench.networks [--quick] [--out DIR]`` (root; namespaces ``gwb<pid>-net*``, removed at the end).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.netns import exit_on_sigterm, scratch_netns, sweep_stale
from bench.timing import median

UDP_LENGTH = 64


def _xml(i: int, guests: int) -> str:
    net = f"10.{100 + i // 250}.{i % 250}"
    hosts = "".join(
        f"<host mac='52:54:00:{i >> 8 & 0xFF:02x}:{i & 0xFF:02x}:{g:02x}' name='g{i}x{g}' "
        f"ip='{net}.{10 + g}'/>"
        for g in range(guests)
    )
    return (
        f"<network><name>bn{i}</name><forward mode='nat' dev='uplink'/><bridge name='bnb{i}' stp='off'/>"
        f"<ip address='10.{100 + i // 250}.{i % 250}.1' prefix='24'><dhcp>"
        f"<range start='10.{100 + i // 250}.{i % 250}.100' end='10.{100 + i // 250}.{i % 250}.200'/>"
        f"{hosts}</dhcp></ip></network>"
    )


@contextmanager
def _world(tag: str) -> Iterator[tuple[str, str, str]]:
    """host, outside and one guest namespace, the uplink between host and outside, forwarding on."""
    from pyroute2 import IPRoute

    from guestwall.lab.netns import write_sysctl

    with (
        scratch_netns(f"{tag}h") as host,
        scratch_netns(f"{tag}o") as outside,
        scratch_netns(f"{tag}g") as guest,
    ):
        write_sysctl(host, "net.ipv4.ip_forward", 1)
        with IPRoute(netns=host) as ipr:
            ipr.link("set", index=ipr.link_lookup(ifname="lo")[0], state="up")
            ipr.link("add", ifname="uplink", kind="veth", peer={"ifname": "eth0", "net_ns_fd": outside})
            up = ipr.link_lookup(ifname="uplink")[0]
            ipr.addr("add", index=up, address="198.18.0.1", prefixlen=24)
            ipr.link("set", index=up, state="up")
        with IPRoute(netns=outside) as ipr:
            for dev in ("lo", "eth0"):
                ipr.link("set", index=ipr.link_lookup(ifname=dev)[0], state="up")
            ipr.addr("add", index=ipr.link_lookup(ifname="eth0")[0], address="198.18.0.2", prefixlen=24)
        yield host, outside, guest


def _start_timed(store: Any, name: str, host: str) -> tuple[float, int]:
    """Start ``name`` through its engine: the seconds it takes and the size of its kernel transaction."""
    from guestwall.engine import open_engine
    from guestwall.networks import service

    engine = open_engine(host)
    sizes: list[int] = []
    real = engine.apply

    def counting(txn: Any, change: Any) -> Any:
        result = real(txn, change)
        sizes.append(len(result.transaction.commands))
        return result

    engine.apply = counting  # type: ignore[method-assign]
    t0 = time.perf_counter()
    service.start(store, name, host, engine=engine)
    return time.perf_counter() - t0, sum(sizes)


def _iperf(guest: str, outside: str, seconds: int) -> dict[str, float]:
    from guestwall.lab.netns import popen_in_netns, run_in_netns, stop_process

    srv = popen_in_netns(outside, ["iperf3", "-s", "-p", "5201"], stdout=-3, stderr=-3)
    try:
        time.sleep(0.3)
        tcp = json.loads(
            run_in_netns(
                guest, ["iperf3", "-c", "198.18.0.2", "-t", str(seconds), "-J"], timeout=seconds + 20
            ).stdout
        )
        udp = json.loads(
            run_in_netns(
                guest,
                [
                    "iperf3",
                    "-c",
                    "198.18.0.2",
                    "-t",
                    str(seconds),
                    "-J",
                    "-u",
                    "-b",
                    "0",
                    "-l",
                    str(UDP_LENGTH),
                ],
                timeout=seconds + 20,
            ).stdout
        )
    finally:
        stop_process(srv)
    return {
        "tcp_gbit_s": tcp["end"]["sum_received"]["bits_per_second"] / 1e9,
        "udp_pkt_s": udp["end"]["sum"]["packets"] / max(udp["end"]["sum"]["seconds"], 1e-9),
    }


def measure_networks(
    networks: int, guests: int, seconds: int, rounds: int, log: Any = print
) -> dict[str, Any]:
    from pyroute2 import IPRoute

    from guestwall.lab.netns import run_in_netns
    from guestwall.networks import service
    from guestwall.store import open_store

    work = Path(tempfile.mkdtemp(prefix="gwbench-net-"))
    work.chmod(0o755)
    os.environ["GUESTWALL_NET_DIR"] = str(work / "state")
    out: dict[str, Any] = {"networks": networks, "guests_per_network": guests}
    try:
        with _world("net") as (host, outside, guest):
            store = open_store(f"sqlite:///{work}/db")
            for i in range(networks):
                service.define(store, _xml(i, guests), host)
            service.define(store, _xml(networks, guests), host)
            # alone: the extra network as the only one
            alone = [_start_timed(store, f"bn{networks}", host) for _ in range(1)]
            service.destroy(store, f"bn{networks}", host)
            log(f"networks: starting {networks} networks")
            t0 = time.perf_counter()
            for i in range(networks):
                service.start(store, f"bn{i}", host)
                with IPRoute(netns=host) as ipr:  # the guests' host-side ports
                    for g in range(guests):
                        ipr.link("add", ifname=f"bp{i}x{g}", kind="veth", peer={"ifname": f"bq{i}x{g}"})
                        ipr.link(
                            "set",
                            index=ipr.link_lookup(ifname=f"bp{i}x{g}")[0],
                            master=ipr.link_lookup(ifname=f"bnb{i}")[0],
                            state="up",
                        )
            out["start_all_s"] = time.perf_counter() - t0
            loaded = []
            for _ in range(3):
                loaded.append(_start_timed(store, f"bn{networks}", host))
                service.destroy(store, f"bn{networks}", host)
            out["start_one_alone_s"], out["start_one_alone_commands"] = alone[0]
            out["start_one_loaded_s"] = median([t for t, _ in loaded])
            out["start_one_loaded_commands"] = loaded[0][1]
            adds = []
            for k in range(3):
                host_xml = f"<host mac='52:54:00:ff:00:{k:02x}' name='extra{k}' ip='10.100.0.{250 - k}'/>"
                t0 = time.perf_counter()
                service.update(store, "bn0", "add", "ip-dhcp-host", host_xml, live=True, netns=host)
                adds.append(time.perf_counter() - t0)
            out["add_host_s"] = median(adds)
            out["add_host_commands"] = 0  # hosts are dnsmasq's: no kernel transaction
            # the data path: a guest of bn0 -> outside through nat, then with no filtering at all
            with IPRoute(netns=host) as ipr:
                ipr.link("add", ifname="bpg", kind="veth", peer={"ifname": "eth0", "net_ns_fd": guest})
                ipr.link(
                    "set",
                    index=ipr.link_lookup(ifname="bpg")[0],
                    master=ipr.link_lookup(ifname="bnb0")[0],
                    state="up",
                )
            for argv in (
                ["ip", "link", "set", "lo", "up"],
                ["ip", "link", "set", "eth0", "up"],
                ["ip", "addr", "add", "10.100.0.9/24", "dev", "eth0"],
                ["ip", "route", "add", "default", "via", "10.100.0.1"],
            ):
                run_in_netns(guest, argv, check=True)
            run_in_netns(outside, ["ip", "route", "add", "10.100.0.0/24", "via", "198.18.0.1"], check=True)
            runs: dict[str, list[dict[str, float]]] = {"nat": [], "none": []}
            for r in range(rounds):
                log(f"networks: data path round {r + 1}/{rounds}")
                runs["nat"].append(_iperf(guest, outside, seconds))
                run_in_netns(host, ["nft", "delete", "table", "ip", "guestwall"], check=True)
                runs["none"].append(_iperf(guest, outside, seconds))
                from guestwall.engine import networks_changed, open_engine

                with store.read() as rd:
                    open_engine(host).apply(rd, networks_changed())
            for cfg, values in runs.items():
                for metric in ("tcp_gbit_s", "udp_pkt_s"):
                    out[f"{cfg}_{metric}"] = median([v[metric] for v in values])
            for metric in ("tcp_gbit_s", "udp_pkt_s"):
                out[f"ratio_{metric}"] = out[f"nat_{metric}"] / out[f"none_{metric}"]
            store.close()
    finally:
        os.environ.pop("GUESTWALL_NET_DIR", None)
        shutil.rmtree(work, ignore_errors=True)
    return out


def print_networks(r: dict[str, Any]) -> None:
    n, g = r["networks"], r["guests_per_network"]
    print(f"\nVirtual networks: {n} nat networks x {g} fixed hosts, one namespace")
    print(f"  start all {n}: {r['start_all_s']:.2f} s")
    print(
        f"  start one more: {r['start_one_loaded_s'] * 1000:.0f} ms, "
        f"{r['start_one_loaded_commands']} nft commands "
        f"(alone: {r['start_one_alone_s'] * 1000:.0f} ms, {r['start_one_alone_commands']} commands; "
        f"ratio {r['start_one_loaded_s'] / r['start_one_alone_s']:.2f})"
    )
    print(f"  add one DHCP host (live): {r['add_host_s'] * 1000:.0f} ms, no kernel transaction")
    for metric, unit in (("tcp_gbit_s", "Gbit/s TCP"), ("udp_pkt_s", "pkt/s small UDP")):
        print(
            f"  data path guest -> outside, {unit}: nat {r[f'nat_{metric}']:.3g}, no filtering "
            f"{r[f'none_{metric}']:.3g}, ratio {r[f'ratio_{metric}']:.2f}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.networks", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10 networks x 2 guests, 1 s traffic runs")
    parser.add_argument("--out", type=Path, default=Path("bench-results"))
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        print("the benchmark needs root: it creates network namespaces", file=sys.stderr)
        return 2
    exit_on_sigterm()
    sweep_stale()
    sizes = (10, 2, 1, 1) if args.quick else (100, 10, 3, 3)
    try:
        result = measure_networks(*sizes, log=lambda m: print(m, file=sys.stderr, flush=True))
    finally:
        sweep_stale()
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"networks-{'quick' if args.quick else 'full'}.json").write_text(
        json.dumps(result, indent=1) + "\n"
    )
    print_networks(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
