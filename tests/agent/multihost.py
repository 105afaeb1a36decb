"""Helpers for the many-hosts tests: a private PostgreSQL server, hosts (a lab each, with its own agent
``--host hN`` against the shared store), a writer acting from no host's kernel, and frame checks."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from agentkit import Host, binding_xml

from guestwall.lab import Lab
from guestwall.lab.traffic import frames
from guestwall.lab.traffic.probe import probe

# A guest filter that carries the provider blocks (as a cloud port's filter does), and one that drops
# everything delivered to the guest.
GUEST_FILTER = (
    "<filter name='mh-guest' chain='root'><uuid>6d2f0e10-8a3f-4c55-9d53-000000000001</uuid>"
    "<filterref filter='gw-provider'/></filter>\n"
)
DENY_FILTER = (
    "<filter name='mh-deny' chain='root'><uuid>6d2f0e10-8a3f-4c55-9d53-000000000002</uuid>"
    "<rule action='drop' direction='in' priority='500'><all/></rule></filter>\n"
)


@dataclass
class Cluster:
    """Hosts sharing one store; ``write`` runs a CLI command acting for a host without enforcing here."""

    url: str
    workdir: Path
    hosts: list[Host]
    names: list[str]

    def write(self, *args: str, host: str = "writer", check: bool = True) -> tuple[int, str, str]:
        from click.testing import CliRunner

        from guestwall.cli.app import cli

        env = {"GUESTWALL_CONFIG": str(self.workdir / "empty.toml")}
        result = CliRunner().invoke(cli, ["--db", self.url, "--host", host, *args], env=env)
        if check and result.exit_code != 0:
            raise AssertionError(f"guestwall {' '.join(args)} failed ({result.exit_code}):\n{result.stderr}")
        return result.exit_code, result.stdout, result.stderr

    def file(self, name: str, text: str) -> str:
        path = self.workdir / name
        path.write_text(text)
        return str(path)

    def bind(self, index: int, guests: Sequence[str], filter_name: str) -> None:
        lab = self.hosts[index].lab
        files = [self.file(f"{self.names[index]}-{g}.xml", binding_xml(lab[g], filter_name)) for g in guests]
        self.write(
            "--wait", "--wait-timeout", "20", "nwfilter-binding-create", *files, host=self.names[index]
        )

    def in_sync(self, index: int) -> bool:
        """The host's kernel holds exactly what the store says for it (``apply --dry-run`` plans nothing)."""
        host = self.hosts[index]
        _, out, _ = self.write("--netns", host.netns, "apply", "--dry-run", host=self.names[index])
        return out.strip() in ("", "Nothing to change: the kernel equals the store")

    def start_agents(self) -> None:
        for host, name in zip(self.hosts, self.names, strict=True):
            host.start_agent("--host", name)


def passes(lab: Lab, sender: str, receiver: str) -> bool:
    """Whether a UDP datagram from ``sender`` (its own addresses) reaches ``receiver``."""
    s, r = lab[sender], lab[receiver]
    frame = frames.udp4(s.mac, r.mac, ip_src=s.ipv4, ip_dst=r.ipv4, dport=5353)
    return bool(probe(lab, sender, [frame], [receiver], timeout=0.3)[receiver])


def host_names(count: int) -> list[str]:
    return [f"h{i + 1}-{os.getpid()}" for i in range(count)]
