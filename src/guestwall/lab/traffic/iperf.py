"""Time-bounded iperf3 runs between two guests, for data-path benchmarks: returns Gbit/s and packets/s.

The server runs in one guest (one test, then it exits; stopped by pid in any case), the client in another.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import time
from dataclasses import dataclass
from typing import Any

from pyroute2 import IPRoute

from guestwall.errors import LabError
from guestwall.lab.netns import popen_in_netns, run_in_netns, stop_process
from guestwall.lab.spec import GUEST_DEV, Lab
from guestwall.lab.traffic.sockets import Family, address


@dataclass(frozen=True)
class Throughput:
    """Received rate at the server: ``gbit_s`` of payload and ``pkt_s`` packets per second.

    UDP packets are iperf3's datagrams minus the lost ones; TCP packets are what the server's eth0 counted
    (segments merged by GSO/GRO count once, so TCP ``pkt_s`` is a lower bound on wire packets).
    """

    gbit_s: float
    pkt_s: float
    seconds: float
    protocol: str
    lost_percent: float = 0.0


def iperf3(
    lab: Lab,
    server: str,
    client: str,
    *,
    seconds: float = 3.0,
    udp: bool = False,
    length: int | None = None,
    bitrate: str = "0",
    port: int = 5201,
    family: Family = 4,
) -> Throughput:
    """Run iperf3 from ``client`` to ``server`` for ``seconds``. UDP sends as fast as it can unless
    ``bitrate`` (iperf3 syntax, e.g. "100M") limits it; ``length`` sets the datagram or write size."""
    dst = address(lab, server, family)
    srv = popen_in_netns(
        lab.guest(server).netns,
        ["iperf3", "-s", "-1", "-p", str(port), "--forceflush"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=False,
        bufsize=0,
    )
    try:
        _await_listening(srv, 5.0)
        rx_before = _rx_packets(lab, server)
        argv = ["iperf3", "-c", dst, "-p", str(port), "-t", f"{seconds:g}", "-J"]
        if udp:
            argv += ["-u", "-b", bitrate]
        if length is not None:
            argv += ["-l", str(length)]
        proc = run_in_netns(lab.guest(client).netns, argv, timeout=seconds + 20)
        rx_after = _rx_packets(lab, server)
    finally:
        stop_process(srv)
    try:
        result: dict[str, Any] = json.loads(proc.stdout)
    except json.JSONDecodeError:
        raise LabError(f"iperf3 from {client} to {server} printed no result: {proc.stderr.strip()}") from None
    if "error" in result:
        raise LabError(f"iperf3 from {client} to {server} failed: {result['error']}")
    received = result["end"]["sum_received"]
    secs = float(received["seconds"]) or seconds
    if udp:
        packets = int(received["packets"]) - int(received["lost_packets"])
        lost = float(received["lost_percent"])
    else:
        packets, lost = rx_after - rx_before, 0.0
    return Throughput(
        gbit_s=float(received["bits_per_second"]) / 1e9,
        pkt_s=packets / secs,
        seconds=secs,
        protocol="udp" if udp else "tcp",
        lost_percent=lost,
    )


def _await_listening(proc: subprocess.Popen[bytes], timeout: float) -> None:
    # Raw reads on the pipe: a buffered readline could swallow the line select() is waiting for.
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    deadline = time.monotonic() + timeout
    seen = b""
    while (left := deadline - time.monotonic()) > 0 and b"Server listening" not in seen:
        ready, _, _ = select.select([fd], [], [], left)
        chunk = os.read(fd, 4096) if ready else b""
        if not chunk:
            break
        seen += chunk
    if b"Server listening" not in seen:
        text = " ".join(line.strip("- ") for line in seen.decode(errors="replace").splitlines())
        raise LabError(f"iperf3 server in the lab did not start: {text.strip() or 'no output'}")


def _rx_packets(lab: Lab, guest: str) -> int:
    with IPRoute(netns=lab.guest(guest).netns) as ipr:
        link = ipr.get_links(ipr.link_lookup(ifname=GUEST_DEV)[0])[0]
        stats = link.get_attr("IFLA_STATS64")
        return int(stats["rx_packets"])
