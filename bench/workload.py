"""What the benchmark binds: a 10-rule stateful filter over ``clean-traffic`` and N bindings to it.

Ports need not exist (rules match interface names). The first two ports are the data-path lab's guests
(``vnet0``/``vnet1`` with the lab's MACs and addresses), so one store serves programming and data path.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

FILTER = "bench-stateful"
FILTER_UUID = "6277b0e5-0b3e-4c1a-9d51-6a7e1f3c0005"
EXTRA_PORT = "gwpadd"  # the port that "add one port" adds and "remove one port" removes

# Rule 3 is the one a shared-filter edit changes (443 -> 8443 and back); iperf3 (5201) stays allowed.
_RULES = """\
  <rule action='accept' direction='in' priority='500'>
    <tcp dstportstart='22' state='NEW'/>
  </rule>
  <rule action='accept' direction='in' priority='500'>
    <tcp dstportstart='80' state='NEW'/>
  </rule>
  <rule action='accept' direction='in' priority='500'>
    <tcp dstportstart='{https}' state='NEW'/>
  </rule>
  <rule action='accept' direction='in' priority='500'>
    <tcp srcipaddr='10.0.0.0' srcipmask='8' dstportstart='5201' state='NEW'/>
  </rule>
  <rule action='accept' direction='in' priority='500'>
    <udp srcipaddr='10.0.0.0' srcipmask='8' dstportstart='5201' state='NEW'/>
  </rule>
  <rule action='accept' direction='out' priority='500'>
    <tcp srcipaddr='$IP' state='NEW'/>
  </rule>
  <rule action='accept' direction='out' priority='500'>
    <udp srcmacaddr='$MAC' srcipaddr='$IP' state='NEW'/>
  </rule>
  <rule action='accept' direction='inout' priority='500'>
    <icmp state='NEW'/>
  </rule>
  <rule action='accept' direction='inout' priority='400'>
    <all state='ESTABLISHED,RELATED'/>
  </rule>
  <rule action='drop' direction='inout' priority='1000'>
    <all/>
  </rule>
"""


def filter_xml(variant: int = 0) -> str:
    """The 10-rule stateful filter; ``variant`` 1 differs from 0 in exactly one rule (a shared edit)."""
    https = 8443 if variant % 2 else 443
    return (
        f"<filter name='{FILTER}' chain='root'>\n"
        f"  <uuid>{FILTER_UUID}</uuid>\n"  # libvirt redefines a filter only with its UUID
        "  <filterref filter='clean-traffic'/>\n" + _RULES.format(https=https) + "</filter>\n"
    )


@dataclass(frozen=True)
class Port:
    name: str
    mac: str
    ip: str


def lab_ports() -> list[Port]:
    """The two real guests of the data-path lab (guestwall.lab.spec's layout for guests 0 and 1)."""
    from guestwall.lab.spec import LabSpec

    spec = LabSpec(prefix="gwbspec", guests=2)
    return [Port(g.portdev, g.mac, g.ipv4) for g in (spec.guest(0), spec.guest(1))]


def other_port(i: int) -> Port:
    """The i-th port without a device (1-based): gwp00001, 52:54:01:.., 10.200.x.y."""
    return Port(
        f"gwp{i:05d}",
        f"52:54:01:{(i >> 16) & 0xFF:02x}:{(i >> 8) & 0xFF:02x}:{i & 0xFF:02x}",
        f"10.{200 + (i >> 16)}.{(i >> 8) & 0xFF}.{i & 0xFF}",
    )


def ports(n: int) -> list[Port]:
    """N ports: the two lab guests, then N-2 ports that do not exist."""
    base = lab_ports()[: min(n, 2)]
    return base + [other_port(i) for i in range(1, n - len(base) + 1)]


def extra_port() -> Port:
    return Port(EXTRA_PORT, "52:54:02:00:00:01", "10.250.0.1")


def binding_xml(port: Port, filter_name: str = FILTER) -> str:
    uuid = f"00000000-0000-4000-8000-{zlib.crc32(port.name.encode()):012d}"
    return (
        "<filterbinding>\n"
        f"  <owner><name>vm-{port.name}</name><uuid>{uuid}</uuid></owner>\n"
        f"  <portdev name='{port.name}'/>\n"
        f"  <mac address='{port.mac}'/>\n"
        f"  <filterref filter='{filter_name}'>\n"
        f"    <parameter name='IP' value='{port.ip}'/>\n"
        "  </filterref>\n"
        "</filterbinding>\n"
    )
