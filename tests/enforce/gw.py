"""Helpers for enforcement tests: run the guestwall CLI against a lab's host namespace and a temp store."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from guestwall.lab import Guest, Lab


def binding_xml(guest: Guest, filter_name: str, params: dict[str, str | list[str]] | None = None) -> str:
    lines = []
    for name, value in (params or {}).items():
        for v in [value] if isinstance(value, str) else value:
            lines.append(f"    <parameter name='{name}' value='{v}'/>")
    body = "\n".join(lines)
    return f"""<filterbinding>
  <owner><name>{guest.name}</name><uuid>00000000-0000-4000-8000-{guest.index:012d}</uuid></owner>
  <portdev name='{guest.portdev}'/>
  <mac address='{guest.mac}'/>
  <filterref filter='{filter_name}'>
{body}
  </filterref>
</filterbinding>
"""


@dataclass
class Guestwall:
    """The CLI bound to one store and one lab's host namespace."""

    lab: Lab
    db: Path
    workdir: Path

    @property
    def url(self) -> str:
        return f"sqlite:///{self.db}"

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        argv = [sys.executable, "-m", "guestwall", "--db", self.url, "--netns", self.lab.host_netns, *args]
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
        if check and proc.returncode != 0:
            raise AssertionError(f"guestwall {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")
        return proc

    def write(self, name: str, text: str) -> str:
        path = self.workdir / name
        path.write_text(text)
        return str(path)

    def define(self, xml: str) -> subprocess.CompletedProcess[str]:
        return self.run("nwfilter-define", self.write("filter.xml", xml))

    def bind(
        self,
        guests: list[Guest],
        filter_name: str,
        params: dict[str, dict[str, str | list[str]]] | None = None,
    ) -> None:
        files = [
            self.write(
                f"bind-{g.name}.xml", binding_xml(g, filter_name, (params or {}).get(g.name, {"IP": g.ipv4}))
            )
            for g in guests
        ]
        self.run("nwfilter-binding-create", *files)

    def nft(self, *args: str) -> str:
        proc = subprocess.run(
            ["ip", "netns", "exec", self.lab.host_netns, "nft", *args],
            capture_output=True,
            text=True,
            check=True,
        )
        return proc.stdout
