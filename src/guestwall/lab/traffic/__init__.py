"""Traffic tools for the lab, all acting inside guest namespaces: forged-frame probes with per-probe
markers (``probe``), frame builders (``frames``), neighbour-table and bridge-FDB readers, ping, TCP, UDP and
iperf3. Frames are built and dissected with scapy in this process; sockets are opened inside namespaces.
"""

from guestwall.lab.traffic import frames
from guestwall.lab.traffic.iperf import Throughput, iperf3
from guestwall.lab.traffic.probe import Frame, probe, send
from guestwall.lab.traffic.sockets import TcpServer, address, ping, tcp_connect, tcp_server, udp_exchange
from guestwall.lab.traffic.tables import FdbEntry, Neighbour, arp_cache, fdb, fdb_port, neighbours

__all__ = [
    "FdbEntry",
    "Frame",
    "Neighbour",
    "TcpServer",
    "Throughput",
    "address",
    "arp_cache",
    "fdb",
    "fdb_port",
    "frames",
    "iperf3",
    "neighbours",
    "ping",
    "probe",
    "send",
    "tcp_connect",
    "tcp_server",
    "udp_exchange",
]
