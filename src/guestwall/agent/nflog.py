"""nfnetlink_log: one netlink socket per network namespace and group, bound in that namespace, and the
packets the kernel logs through it decoded into plain values (the drop log's input).

The protocol (include/uapi/linux/netfilter/nfnetlink_log.h): a config message binds a group (only one
listener per group and namespace: the kernel answers EEXIST to a second one, e.g. ulogd) and sets the copy
mode; each logged packet arrives as one message with attributes: prefix, in/out devices (and the bridge
ports behind a bridge: physin/physout), hardware header, timestamp and the packet from its network header.
"""

from __future__ import annotations

import errno
import ipaddress
import socket
import struct
from dataclasses import dataclass

from guestwall.dataplane.netns import call_in_netns
from guestwall.errors import DataplaneError

NETLINK_NETFILTER = 12
NFNL_SUBSYS_ULOG = 4
MSG_PACKET = NFNL_SUBSYS_ULOG << 8 | 0
MSG_CONFIG = NFNL_SUBSYS_ULOG << 8 | 1
NLM_F_REQUEST, NLM_F_ACK = 1, 4
NLMSG_ERROR = 2
CFG_CMD, CFG_MODE, CFG_TIMEOUT, CFG_QTHRESH = 1, 2, 4, 5
CMD_BIND = 1
COPY_PACKET = 2
COPY_RANGE = 256  # enough for every header we decode
# packet attributes
A_HDR, A_TIMESTAMP, A_INDEV, A_OUTDEV, A_PHYSIN, A_PHYSOUT = 1, 3, 4, 5, 6, 7
A_PAYLOAD, A_PREFIX, A_HWHEADER = 9, 10, 16
ETH_IP4, ETH_IP6, ETH_ARP = 0x0800, 0x86DD, 0x0806
PROTOCOLS = {1: "icmp", 6: "tcp", 17: "udp", 58: "icmpv6", 132: "sctp", 2: "igmp"}


@dataclass(frozen=True)
class Packet:
    """One logged packet, decoded as far as guestwall reports it."""

    prefix: str
    time: float | None
    indev: int
    outdev: int
    physin: int
    physout: int
    ethertype: int
    src_mac: str | None = None
    dst_mac: str | None = None
    src: str | None = None
    dst: str | None = None
    protocol: str | None = None
    sport: int | None = None
    dport: int | None = None


def _attr(kind: int, payload: bytes) -> bytes:
    data = struct.pack("=HH", 4 + len(payload), kind) + payload
    return data + b"\0" * (-len(data) % 4)


def _config(group: int, *attrs: bytes, seq: int) -> bytes:
    body = struct.pack("=BBH", socket.AF_UNSPEC, 0, socket.htons(group)) + b"".join(attrs)
    return struct.pack("=IHHII", 16 + len(body), MSG_CONFIG, NLM_F_REQUEST | NLM_F_ACK, seq, 0) + body


class NflogSocket:
    """A bound nfnetlink_log group in one namespace; ``read()`` returns the packets that arrived."""

    def __init__(self, netns: str | None, group: int) -> None:
        self.group = group
        self.lost = 0  # times the kernel's queue overflowed (ENOBUFS): records lost, count unknown
        self.sock = call_in_netns(
            netns, lambda: socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
        )
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
            self.sock.bind((0, 0))
            self._request(_config(group, _attr(CFG_CMD, bytes([CMD_BIND])), seq=1))
            mode = _attr(CFG_MODE, struct.pack("!IBB", COPY_RANGE, COPY_PACKET, 0))
            flush = _attr(CFG_QTHRESH, struct.pack("!I", 1))  # deliver each packet at once (the rules limit)
            self._request(_config(group, mode, flush, seq=2))
        except BaseException:
            self.sock.close()
            raise
        self.sock.setblocking(False)

    def fileno(self) -> int:
        return self.sock.fileno()

    def close(self) -> None:
        self.sock.close()

    def _request(self, message: bytes) -> None:
        self.sock.send(message)
        data = self.sock.recv(65536)
        _length, kind = struct.unpack_from("=IH", data)
        if kind == NLMSG_ERROR:
            (code,) = struct.unpack_from("=i", data, 16)
            if code == -errno.EEXIST:
                raise DataplaneError(
                    f"nfnetlink_log group {self.group} is already bound by another program (ulogd?): "
                    "set [log] group to a free one"
                )
            if code:
                raise DataplaneError(
                    f"cannot bind nfnetlink_log group {self.group}: {errno.errorcode.get(-code, code)}"
                )

    def read(self) -> list[Packet]:
        out: list[Packet] = []
        while True:
            try:
                data = self.sock.recv(1 << 17)
            except BlockingIOError:
                return out
            except OSError as e:
                if e.errno == errno.ENOBUFS:
                    self.lost += 1
                    continue
                raise
            out += parse_messages(data)


def parse_messages(data: bytes) -> list[Packet]:
    packets = []
    offset = 0
    while offset + 16 <= len(data):
        length, kind = struct.unpack_from("=IH", data, offset)
        if length < 16:
            break
        if kind == MSG_PACKET:
            packets.append(_packet(_attrs(data[offset + 20 : offset + length])))
        offset += (length + 3) & ~3
    return packets


def _attrs(data: bytes) -> dict[int, bytes]:
    out = {}
    offset = 0
    while offset + 4 <= len(data):
        length, kind = struct.unpack_from("=HH", data, offset)
        if length < 4:
            break
        out[kind & 0x3FFF] = data[offset + 4 : offset + length]
        offset += (length + 3) & ~3
    return out


def _index(attrs: dict[int, bytes], kind: int) -> int:
    value = attrs.get(kind)
    return struct.unpack("!I", value)[0] if value and len(value) >= 4 else 0


def _mac(raw: bytes) -> str:
    return ":".join(f"{b:02x}" for b in raw)


def _packet(attrs: dict[int, bytes]) -> Packet:
    ethertype = struct.unpack_from("!H", attrs[A_HDR])[0] if A_HDR in attrs else 0
    stamp = attrs.get(A_TIMESTAMP)
    when = None
    if stamp is not None and len(stamp) >= 16:
        sec, usec = struct.unpack("!QQ", stamp[:16])
        when = sec + usec / 1e6
    hw = attrs.get(A_HWHEADER, b"")
    fields: dict[str, object] = {}
    if len(hw) >= 14:
        fields["dst_mac"], fields["src_mac"] = _mac(hw[0:6]), _mac(hw[6:12])
    fields.update(decode_l3(ethertype, attrs.get(A_PAYLOAD, b"")))
    return Packet(
        attrs.get(A_PREFIX, b"").split(b"\0")[0].decode(errors="replace"),
        when,
        _index(attrs, A_INDEV),
        _index(attrs, A_OUTDEV),
        _index(attrs, A_PHYSIN),
        _index(attrs, A_PHYSOUT),
        ethertype,
        **fields,  # type: ignore[arg-type]
    )


def decode_l3(ethertype: int, data: bytes) -> dict[str, object]:
    """Addresses, protocol and ports of an IPv4, IPv6 or ARP packet (as much as the bytes hold)."""
    if ethertype == ETH_IP4 and len(data) >= 20:
        ihl = (data[0] & 0x0F) * 4
        proto = data[9]
        out: dict[str, object] = {
            "src": str(ipaddress.IPv4Address(data[12:16])),
            "dst": str(ipaddress.IPv4Address(data[16:20])),
            "protocol": PROTOCOLS.get(proto, str(proto)),
        }
        return out | _ports(proto, data[ihl:])
    if ethertype == ETH_IP6 and len(data) >= 40:
        proto = data[6]
        out = {
            "src": str(ipaddress.IPv6Address(data[8:24])),
            "dst": str(ipaddress.IPv6Address(data[24:40])),
            "protocol": PROTOCOLS.get(proto, str(proto)),
        }
        return out | _ports(proto, data[40:])
    if ethertype == ETH_ARP and len(data) >= 28:
        return {
            "protocol": "arp",
            "src": str(ipaddress.IPv4Address(data[14:18])),
            "dst": str(ipaddress.IPv4Address(data[24:28])),
        }
    return {}


def _ports(proto: int, l4: bytes) -> dict[str, object]:
    if proto in (6, 17, 132) and len(l4) >= 4:
        sport, dport = struct.unpack_from("!HH", l4)
        return {"sport": sport, "dport": dport}
    return {}
