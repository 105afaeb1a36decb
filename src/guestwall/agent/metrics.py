"""The agent's Prometheus endpoint (``guestwall agent --metrics 127.0.0.1:9757``): text exposition format,
read on request from the kernel (rules, sets, elements, per-rule and per-port counters) and from the
agent's own tallies (transactions, drift repairs, drop-log records).

The HTTP server runs on a thread of its own; it only reads (nft listings through the backend, which holds
its own lock; link statistics through a netlink socket of its own) and never changes anything.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from guestwall.agent.counters import read_ports, read_rules
from guestwall.dataplane.backend import Backend
from guestwall.errors import GuestwallError

log = logging.getLogger("guestwall.agent")


@dataclass
class Tallies:
    """What the agent counts itself (written by the agent's thread, read by the server's)."""

    transactions: int = 0
    repairs: int = 0
    log_records: int = 0
    log_skipped: int = 0
    extra: dict[str, int] = field(default_factory=dict)


def _label(value: object) -> str:
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _family(lines: list[str], name: str, kind: str, text: str) -> None:
    lines += [f"# HELP {name} {text}", f"# TYPE {name} {kind}"]


def render(backend: Backend, netns: str | None, ports: list[str], tallies: Tallies) -> str:
    rules, sizes = read_rules(backend)
    lines: list[str] = []
    for name, value, text in (
        ("guestwall_chains", sizes.chains, "Chains in guestwall's nftables tables."),
        ("guestwall_rules", sizes.rules, "Rules in guestwall's nftables tables."),
        ("guestwall_sets", sizes.sets, "Sets and maps in guestwall's nftables tables."),
        ("guestwall_set_elements", sizes.elements, "Elements of those sets and maps."),
        ("guestwall_bound_ports", len(ports), "Ports with a binding (or an implicit one) on this host."),
    ):
        _family(lines, name, "gauge", text)
        lines.append(f"{name} {value}")
    for name, value, text in (
        ("guestwall_transactions_total", tallies.transactions, "nft transactions the agent applied."),
        ("guestwall_drift_repairs_total", tallies.repairs, "Repairs of our tables changed by others."),
        ("guestwall_log_records_total", tallies.log_records, "Packets written to the drop log."),
        ("guestwall_log_skipped_total", tallies.log_skipped, "Packets the drop log's rate limits left out."),
    ):
        _family(lines, name, "counter", text)
        lines.append(f"{name} {value}")
    for unit, attr in (("packets", "packets"), ("bytes", "bytes")):
        name = f"guestwall_rule_{unit}_total"
        _family(lines, name, "counter", f"{unit.capitalize()} decided by each counting rule (all its ports).")
        for r in rules:
            labels = (
                f'table="{r.family}",chain="{_label(r.chain)}",position="{r.position}",'
                f'rule="{_label(r.origin)}"'
            )
            lines.append(f"{name}{{{labels}}} {getattr(r, attr)}")
    port_rows = read_ports(netns, ports)
    for unit in ("packets", "bytes"):
        name = f"guestwall_port_{unit}_total"
        _family(lines, name, "counter", f"{unit.capitalize()} per guest port: out = sent by the guest.")
        for p in port_rows:
            for direction in ("out", "in"):
                value = getattr(p, f"{direction}_{unit}")
                lines.append(f'{name}{{port="{_label(p.port)}",direction="{direction}"}} {value}')
    return "\n".join(lines) + "\n"


class MetricsServer:
    """``/metrics`` on ``address`` (host:port; port 0 picks one: see ``bound``)."""

    def __init__(self, address: str, produce: Callable[[], str]) -> None:
        host, _, port = address.rpartition(":")
        if not host or not port.isdigit():
            raise GuestwallError(f"--metrics '{address}': expected HOST:PORT, e.g. 127.0.0.1:9757")

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.split("?")[0] != "/metrics":
                    self.send_error(404)
                    return
                try:
                    body = produce().encode()
                except GuestwallError as e:
                    self.send_error(503, str(e))
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                return  # no access log on stderr

        try:
            self.server = ThreadingHTTPServer((host.strip("[]"), int(port)), Handler)
        except OSError as e:
            raise GuestwallError(f"--metrics {address}: cannot listen: {e.strerror}") from None
        self.server.daemon_threads = True
        self.bound = f"{host}:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, name="metrics", daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
