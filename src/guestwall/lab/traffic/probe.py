"""Send frames from one guest and see exactly which of them arrive where.

Every frame of a probe carries a marker (magic, a random token per probe, the frame's index) inside its
innermost payload, so IP length fields cover it and br_netfilter's trimming to the IP length keeps it.
Captures then keep only frames with this probe's token, and each kept frame says which sent frame it is.
"""

from __future__ import annotations

import os
import socket
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from scapy.layers.l2 import Ether
from scapy.packet import Packet, Padding, Raw

from guestwall.lab.spec import Lab
from guestwall.lab.traffic.capture import collect, endpoint, open_capture, open_sender, send_frames

MAGIC = b"GWLP"
TOKEN_LEN = 8
MARKER_LEN = len(MAGIC) + TOKEN_LEN + 2


@dataclass(frozen=True)
class Frame:
    """A captured frame: ``index`` of the sent frame it is, ``data`` as it arrived (802.1Q tag restored)."""

    index: int
    data: bytes

    @property
    def packet(self) -> Any:
        """The frame dissected by scapy (an ``Ether``)."""
        return Ether(self.data)


def new_token() -> bytes:
    return os.urandom(TOKEN_LEN)


def marker(token: bytes, index: int) -> bytes:
    return MAGIC + token + struct.pack("!H", index)


def stamp(frame: Packet | bytes, mark: bytes) -> bytes:
    """The frame's bytes with ``mark`` appended to its innermost payload.

    A scapy packet gets the mark as (or added to) its last Raw layer before serialising, so lengths and
    checksums left unset are computed over it; raw bytes simply get it appended.
    """
    if isinstance(frame, bytes | bytearray):
        return bytes(frame) + mark
    pkt = frame.copy()
    last = pkt.lastlayer()
    if isinstance(last, Padding) and last.underlayer is not None:  # dissected: the mark goes before it
        last.underlayer.remove_payload()
        last = pkt.lastlayer()
    if isinstance(last, Raw):
        last.load = bytes(last.load) + mark
    else:
        last.add_payload(Raw(mark))
    return bytes(pkt)


def find_marks(data: bytes, token: bytes) -> list[int]:
    """Indexes of this probe's frames whose marks appear in ``data`` (normally one)."""
    found = []
    start = 0
    needle = MAGIC + token
    while (pos := data.find(needle, start)) >= 0:
        tail = data[pos + len(needle) : pos + len(needle) + 2]
        if len(tail) == 2:
            found.append(struct.unpack("!H", tail)[0])
        start = pos + 1
    return found


def probe(
    lab: Lab,
    sender: str,
    frames: Sequence[Packet | bytes],
    receivers: Sequence[str] | None = None,
    timeout: float = 0.3,
    *,
    promisc_bridge: bool = True,
) -> dict[str, list[Frame]]:
    """Send ``frames`` out of ``sender``'s eth0; return, per receiver, the frames of this probe that arrived.

    Receivers are guest names (their eth0), ``br0`` (promiscuous unless ``promisc_bridge`` is false, so it
    shows everything the bridge forwards) or ``vnetN`` ports in the host namespace (what the guest put on
    the wire, before any bridge filtering). Default: every other guest. The call waits ``timeout`` seconds
    after sending, or less once every receiver has got every frame.
    """
    names = list(receivers) if receivers is not None else [g.name for g in lab.guests if g.name != sender]
    token = new_token()
    wire = [stamp(frame, marker(token, i)) for i, frame in enumerate(frames)]
    if len(wire) > 0xFFFF:
        raise ValueError("at most 65535 frames per probe")
    socks: dict[str, socket.socket] = {}
    try:
        for name in names:
            ep = endpoint(lab, name)
            socks[name] = open_capture(ep, promisc=promisc_bridge and ep.ifname == lab.bridge)
        out = open_sender(endpoint(lab, sender))
        try:
            send_frames(out, wire)
        finally:
            out.close()

        def complete(raw: dict[str, list[bytes]]) -> bool:
            return all(len(_matching(raw[n], token)) >= len(wire) for n in names)

        raw = collect(socks, timeout, done=complete)
    finally:
        for sock in socks.values():
            sock.close()
    return {name: _matching(raw[name], token) for name in names}


def _matching(frames: list[bytes], token: bytes) -> list[Frame]:
    return [Frame(index, data) for data in frames for index in find_marks(data, token)[:1]]


def send(lab: Lab, sender: str, frames: Sequence[Packet | bytes]) -> None:
    """Send frames out of ``sender``'s eth0 as they are (no marker), without capturing."""
    out = open_sender(endpoint(lab, sender))
    try:
        send_frames(out, [bytes(f) for f in frames])
    finally:
        out.close()
