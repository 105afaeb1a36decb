"""Packet sockets on learning ports: the frames a guest sends and receives, for IP address learning.

One AF_PACKET socket per port, opened in the agent's namespace and bound to the port, with a classic BPF
filter so that the kernel hands us only what can matter (IPv4 and ARP for ``any``; DHCP over UDP 67/68 for
``dhcp``; never VLAN-tagged frames). A packet socket sees frames from the guest before the bridge filters
them, and frames to the guest after (on transmit), which is why replies are trusted only on their way
out. DHCP snooping is rate-limited per port, as libvirt does it (10 packets/s, bursts of 50).
"""

from __future__ import annotations

import ctypes
import errno
import socket
import struct
import time
from collections.abc import Sequence
from datetime import datetime

from guestwall.agent.observe import Observation, Watch, observe
from guestwall.dataplane.netns import call_in_netns
from guestwall.errors import DataplaneError
from guestwall.instantiate.learning import LearningMode

ETH_P_ALL = 0x0003
SOL_PACKET = 263
PACKET_AUXDATA = 8
PACKET_OUTGOING = 4
SO_ATTACH_FILTER = 26
TP_STATUS_VLAN_VALID = 0x10
_AUXDATA = struct.Struct("=IIIHHHH")
MAX_FRAME = 2048  # DHCP messages and headers fit; larger frames are only ever truncated IPv4 we ignore
FRAMES_PER_READ = 256

# classic BPF opcodes
_LD_W_ABS, _LD_H_ABS, _LD_B_ABS, _LDX_B_MSH, _LD_H_IND = 0x20, 0x28, 0x30, 0xB1, 0x48
_JEQ, _JSET, _RET = 0x15, 0x45, 0x06
_VLAN_TAG_PRESENT = 0xFFFFF000 + 48  # SKF_AD_OFF + SKF_AD_VLAN_TAG_PRESENT
_ACCEPT = 0x40000


def _assemble(program: Sequence[tuple[object, ...]]) -> list[tuple[int, int, int, int]]:
    """Instructions with symbolic jump targets: ``(op, k, "label-if-true", "label-if-false")`` and
    ``("label", name)`` markers; a missing target means the next instruction."""
    labels: dict[str, int] = {}
    code: list[tuple[object, ...]] = []
    for item in program:
        if item[0] == "label":
            labels[str(item[1])] = len(code)
        else:
            code.append(item)
    out = []
    for pc, (op, k, *targets) in enumerate(code):
        jt, jf = ([*targets, None, None])[:2]
        rel = [0 if t is None else labels[str(t)] - pc - 1 for t in (jt, jf)]
        out.append((int(op), rel[0], rel[1], int(k)))  # type: ignore[call-overload]
    return out


def bpf_program(mode: LearningMode) -> list[tuple[int, int, int, int]]:
    untagged = [(_LD_W_ABS, _VLAN_TAG_PRESENT), (_JEQ, 0, None, "drop"), (_LD_H_ABS, 12)]
    if mode is LearningMode.DHCP:
        body: list[tuple[object, ...]] = [
            (_JEQ, 0x0800, None, "drop"),
            (_LD_B_ABS, 23),  # IPv4 protocol
            (_JEQ, 17, None, "drop"),
            (_LD_H_ABS, 20),  # fragment offset: first fragments only
            (_JSET, 0x1FFF, "drop", None),
            (_LDX_B_MSH, 14),  # x = IPv4 header length
            (_LD_H_IND, 14),  # UDP source port
            (_JEQ, 67, "dport", None),
            (_JEQ, 68, "dport", "drop"),
            ("label", "dport"),
            (_LD_H_IND, 16),  # UDP destination port
            (_JEQ, 67, "accept", None),
            (_JEQ, 68, "accept", "drop"),
        ]
    else:
        body = [(_JEQ, 0x0800, "accept", None), (_JEQ, 0x0806, "accept", "drop")]
    tail = [("label", "accept"), (_RET, _ACCEPT), ("label", "drop"), (_RET, 0)]
    return _assemble([*untagged, *body, *tail])


def _attach(sock: socket.socket, program: list[tuple[int, int, int, int]]) -> None:
    raw = b"".join(struct.pack("=HBBI", *insn) for insn in program)
    buffer = ctypes.create_string_buffer(raw)
    fprog = struct.pack("HL", len(program), ctypes.addressof(buffer))
    sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)


class Snooper:
    """The learning socket of one port. ``read`` returns what the frames queued since say (never blocks)."""

    def __init__(
        self, netns: str | None, portdev: str, ifindex: int, watch: Watch, rate: float, burst: int
    ) -> None:
        self.portdev = portdev
        self.ifindex = ifindex
        self.watch = watch
        self.rate = rate
        self.burst = float(burst)
        self.tokens = float(burst)
        self.stamp = time.monotonic()
        program = bpf_program(watch.mode)

        def make() -> socket.socket:
            # protocol 0 receives nothing until bound, so no frame gets in before the filter is attached
            sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
            try:
                _attach(sock, program)
                sock.setsockopt(SOL_PACKET, PACKET_AUXDATA, 1)
                sock.bind((portdev, ETH_P_ALL))
                sock.setblocking(False)
            except OSError:
                sock.close()
                raise
            return sock

        try:
            self.sock = call_in_netns(netns, make)
        except OSError as e:
            raise DataplaneError(f"cannot watch port {portdev} for IP learning: {e.strerror or e}") from e

    def fileno(self) -> int:
        return self.sock.fileno()

    def _allow(self) -> bool:
        if self.watch.mode is not LearningMode.DHCP:
            return True
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True

    def read(self, now: datetime) -> list[Observation]:
        found: list[Observation] = []
        for _ in range(FRAMES_PER_READ):
            try:
                data, ancdata, _flags, addr = self.sock.recvmsg(MAX_FRAME, socket.CMSG_SPACE(_AUXDATA.size))
            except BlockingIOError:
                break
            except OSError as e:
                if e.errno == errno.ENETDOWN:  # reported once when the port went down (or came up late)
                    continue
                raise DataplaneError(f"watching port {self.portdev} failed: {e.strerror or e}") from e
            if _tagged(ancdata) or not self._allow():
                continue
            found.extend(observe(data, addr[2] == PACKET_OUTGOING, self.watch, now))
        return found

    def close(self) -> None:
        self.sock.close()


def _tagged(ancdata: list[tuple[int, int, bytes]]) -> bool:
    for level, kind, raw in ancdata:
        if level == SOL_PACKET and kind == PACKET_AUXDATA and len(raw) >= _AUXDATA.size:
            status, *_rest, tci, _tpid = _AUXDATA.unpack_from(raw)
            return bool(status & TP_STATUS_VLAN_VALID or tci)
    return False
