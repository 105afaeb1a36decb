"""Element-only transactions written straight to nf_tables over netlink, as one atomic batch.

Why not libnftables for these: before any ``add element`` or ``delete element`` it loads every element of
every interval set that is not a concatenation, in every table (nft 1.0.6, ``NFT_CACHE_SETELEM_MAYBE``):
with 10,000 provider blocks that is 12-14 ms per call, for a change of one element. The elements' wire
form is simple and fixed, so this module encodes them itself: the same attributes libnftables sends
(checked in tests/engine/test_nlelements.py by dumping what each one wrote into twin sets), one
NFT_MSG_NEWSETELEM / DELSETELEM per command between BATCH_BEGIN and BATCH_END, so the batch is still
atomic. A transaction with anything else in it, or with a key or value type not in the tables below,
goes to libnftables as before (``encode`` returns None).
"""

from __future__ import annotations

import os
import socket
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address

from guestwall.dataplane.nlchains import NetfilterSocket, messages, netfilter_socket
from guestwall.errors import DataplaneError
from guestwall.nft import ir
from guestwall.nft.commands import Command, Elements, Transaction, Verb
from guestwall.nft.datatypes import DataType

_NFNL_SUBSYS_NFTABLES = 10
_NFNL_MSG_BATCH_BEGIN, _NFNL_MSG_BATCH_END = 0x10, 0x11
_NFT_MSG_NEWSETELEM, _NFT_MSG_DELSETELEM = 12, 14
_NLM_F_REQUEST, _NLM_F_ACK, _NLM_F_EXCL, _NLM_F_CREATE = 0x1, 0x4, 0x200, 0x400
_NLMSG_ERROR = 2
_NLA_F_NESTED = 0x8000
_FAMILY = {"inet": 1, "ip": 2, "arp": 3, "netdev": 5, "bridge": 7, "ip6": 10}
# attribute numbers (linux/netfilter/nf_tables.h)
_LIST_TABLE, _LIST_SET, _LIST_ELEMENTS, _LIST_ELEM = 1, 2, 3, 1
_ELEM_KEY, _ELEM_DATA, _ELEM_FLAGS, _ELEM_USERDATA, _ELEM_KEY_END = 1, 2, 3, 6, 10
_DATA_VALUE, _DATA_VERDICT = 1, 2
_VERDICT_CODE, _VERDICT_CHAIN = 1, 2
_ELEM_INTERVAL_END = 0x1
# libnftnl's element user data for an interval that runs to the end of the key space (no end element):
# type NFTNL_UDATA_SET_ELEM_FLAGS, length 4, NFTNL_SET_ELEM_F_INTERVAL_OPEN; kept only for listings
_OPEN_INTERVAL = bytes((1, 4)) + struct.pack("=I", 1)
_VERDICT_CODES = {"drop": 0, "accept": 1, "continue": -1, "jump": -3, "goto": -4, "return": -5}
_SO_SNDBUFFORCE = 32  # a batch is one datagram: a large one needs a larger send buffer (root may set it)
_DEFAULT_SNDBUF = 200_000
# one nested attribute holds at most 64 KiB: a command's elements go in messages of this many bytes
_MESSAGE_BYTES = 60_000


def _ifname(value: object) -> bytes | None:
    text = str(value)
    raw = text.encode()
    # a wildcard (``gw*``) is a prefix match with its own length: not a plain key
    return None if text.endswith("*") or len(raw) >= 16 else raw.ljust(16, b"\0")


def _mac(value: object) -> bytes | None:
    raw = bytes.fromhex(str(value).replace(":", ""))
    return raw if len(raw) == 6 else None


def _address(size: int) -> Callable[[object], bytes | None]:
    kind = IPv4Address if size == 4 else IPv6Address
    return lambda v: v.packed if isinstance(v, kind) else None


def _big_endian(size: int) -> Callable[[object], bytes | None]:
    return lambda v: v.to_bytes(size, "big") if isinstance(v, int) and 0 <= v < 1 << (8 * size) else None


def _host_u32(value: object) -> bytes | None:
    return struct.pack("=I", value) if isinstance(value, int) and 0 <= value < 1 << 32 else None


# how one key component is written, by its type (the register layout libnftables uses)
_KEY: dict[DataType, Callable[[object], bytes | None]] = {
    DataType.IFNAME: _ifname,
    DataType.ETHER_ADDR: _mac,
    DataType.IPV4_ADDR: _address(4),
    DataType.IPV6_ADDR: _address(16),
    DataType.MARK: _host_u32,
    DataType.ETHER_TYPE: _big_endian(2),
    DataType.INET_SERVICE: _big_endian(2),
    DataType.ARP_OP: _big_endian(2),
    DataType.INET_PROTO: _big_endian(1),
    DataType.ICMP_TYPE: _big_endian(1),
    DataType.ICMP_CODE: _big_endian(1),
    DataType.ICMPV6_TYPE: _big_endian(1),
    DataType.ICMPV6_CODE: _big_endian(1),
}


def _attr(kind: int, payload: bytes) -> bytes:
    head = struct.pack("=HH", 4 + len(payload), kind)
    return head + payload + b"\0" * (-len(payload) % 4)


def _nested(kind: int, payload: bytes) -> bytes:
    return _attr(kind | _NLA_F_NESTED, payload)


def _string(kind: int, text: str) -> bytes:
    return _attr(kind, text.encode() + b"\0")


def _writers(command: Command) -> list[Callable[[object], bytes | None]] | None:
    """One writer per key component, or None when a component's type has no writer here."""
    decl = command.obj
    assert isinstance(decl, Elements)
    out: list[Callable[[object], bytes | None]] = []
    for i, kind in enumerate(decl.set.key_types):
        write = _KEY.get(kind)
        if write is None and kind is DataType.INTEGER and decl.set.typeof is not None:
            expr = decl.set.typeof[i]
            if isinstance(expr, ir.Raw) and expr.length % 8 == 0:
                write = _big_endian(expr.length // 8)
        if write is None:
            return None
        out.append(write)
    return out


def _padded(raw: bytes) -> bytes:
    return raw + b"\0" * (-len(raw) % 4)


def _bounds(component: object) -> tuple[object, object]:
    return (component[0], component[1]) if isinstance(component, tuple) else (component, component)


def _key(
    element: tuple[object, ...], writers: list[Callable[[object], bytes | None]]
) -> tuple[bytes, bytes] | None:
    """The element's lowest and highest key (equal without intervals), each component padded to 32 bits."""
    lows, highs = [], []
    for component, write in zip(element, writers, strict=True):
        lo, hi = _bounds(component)
        lo_raw, hi_raw = write(lo), write(hi)
        if lo_raw is None or hi_raw is None:
            return None
        lows.append(lo_raw)
        highs.append(hi_raw)
    if len(writers) == 1:
        return lows[0], highs[0]
    return b"".join(_padded(r) for r in lows), b"".join(_padded(r) for r in highs)


def _data(value: object, map_type: DataType) -> bytes | None:
    if map_type is DataType.VERDICT:
        if not isinstance(value, tuple):
            return None
        verdict, chain = value
        code = _VERDICT_CODES.get(str(verdict))
        if code is None:
            return None
        inner = _attr(_VERDICT_CODE, struct.pack(">i", code))
        if chain is not None:
            inner += _string(_VERDICT_CHAIN, str(chain))
        return _nested(_DATA_VERDICT, inner)
    if map_type is DataType.MARK:
        raw = _host_u32(value)
        return None if raw is None else _attr(_DATA_VALUE, raw)
    return None


def _plus_one(raw: bytes) -> bytes | None:
    """The key just after ``raw`` (an interval's end element), None past the last key."""
    number = int.from_bytes(raw, "big") + 1
    return None if number >> (8 * len(raw)) else number.to_bytes(len(raw), "big")


def _elements(command: Command) -> list[bytes] | None:
    """The command's elements as LIST_ELEM attributes, or None when one of them cannot be written here."""
    obj = command.obj
    assert isinstance(obj, Elements)
    decl = obj.set
    writers = _writers(command)
    if writers is None or set(decl.flags) - {"interval"}:
        return None
    interval = "interval" in decl.flags
    ranges = interval and len(writers) == 1  # an rbtree: start and end elements
    value_of = command.verb is not Verb.DELETE and decl.map_type is not None
    out: list[bytes] = []
    lowest: bytes | None = None
    for element, value in obj.items:
        keys = _key(element, writers)
        if keys is None:
            return None
        low, high = keys
        data = b""
        if value_of:
            assert decl.map_type is not None
            written = _data(value, decl.map_type)
            if written is None or ranges:
                return None
            data = _nested(_ELEM_DATA, written)
        if ranges:
            lowest = low if lowest is None else min(lowest, low)
            end = _plus_one(high)
            start = _nested(_ELEM_KEY, _attr(_DATA_VALUE, low))
            if end is None:
                out.append(_nested(_LIST_ELEM, start + _attr(_ELEM_USERDATA, _OPEN_INTERVAL)))
            else:
                flags = _attr(_ELEM_FLAGS, struct.pack(">I", _ELEM_INTERVAL_END))
                out.append(_nested(_LIST_ELEM, start))
                out.append(_nested(_LIST_ELEM, _nested(_ELEM_KEY, _attr(_DATA_VALUE, end)) + flags))
        elif interval:
            key = _nested(_ELEM_KEY, _attr(_DATA_VALUE, low))
            key_end = _nested(_ELEM_KEY_END, _attr(_DATA_VALUE, high))
            out.append(_nested(_LIST_ELEM, key + key_end + data))
        elif low != high:
            return None  # an interval in a set without the interval flag: the kernel would refuse it
        else:
            out.append(_nested(_LIST_ELEM, _nested(_ELEM_KEY, _attr(_DATA_VALUE, low)) + data))
    if lowest is not None and command.verb is Verb.ADD and any(lowest):
        # libnftables closes the key space below the first interval with an end element at zero; written
        # the same, so the kernel holds the same whoever wrote (an identical element is no error)
        flags = _attr(_ELEM_FLAGS, struct.pack(">I", _ELEM_INTERVAL_END))
        out.insert(0, _nested(_LIST_ELEM, _nested(_ELEM_KEY, _attr(_DATA_VALUE, bytes(len(lowest)))) + flags))
    return out


def _chunks(parts: list[bytes]) -> Iterator[bytes]:
    chunk: list[bytes] = []
    size = 0
    for part in parts:
        if chunk and size + len(part) > _MESSAGE_BYTES:
            yield b"".join(chunk)
            chunk, size = [], 0
        chunk.append(part)
        size += len(part)
    if chunk:
        yield b"".join(chunk)


_MESSAGE: dict[Verb, tuple[int, int]] = {
    Verb.ADD: (_NFT_MSG_NEWSETELEM, _NLM_F_CREATE),
    Verb.CREATE: (_NFT_MSG_NEWSETELEM, _NLM_F_CREATE | _NLM_F_EXCL),
    Verb.DELETE: (_NFT_MSG_DELSETELEM, 0),
}


@dataclass(frozen=True)
class Message:
    """One netlink message of a batch, with the command it comes from (named when the kernel refuses it)."""

    kind: int
    flags: int
    family: int
    body: bytes
    command: Command

    def header(self, seq: int) -> bytes:
        return _header(self.kind, _NLM_F_REQUEST | _NLM_F_ACK | self.flags, self.family, self.body, seq)


def _header(kind: int, flags: int, family: int, body: bytes, seq: int, res_id: int = 0) -> bytes:
    payload = struct.pack("=BBH", family, 0, socket.htons(res_id)) + body
    return struct.pack("=IHHII", 16 + len(payload), kind, flags, seq, 0) + payload


def _batch(messages: list[Message], first: int) -> bytes:
    """BEGIN (sequence ``first``), the messages, END: what the kernel applies as one transaction."""
    begin = _header(_NFNL_MSG_BATCH_BEGIN, _NLM_F_REQUEST, 0, b"", first, _NFNL_SUBSYS_NFTABLES)
    body = b"".join(m.header(first + 1 + i) for i, m in enumerate(messages))
    end_seq = first + 1 + len(messages)
    return begin + body + _header(_NFNL_MSG_BATCH_END, _NLM_F_REQUEST, 0, b"", end_seq, _NFNL_SUBSYS_NFTABLES)


def encode(tx: Transaction) -> list[Message] | None:
    """The transaction as netlink messages, or None when it holds anything but elements this module can
    write (it then goes to libnftables)."""
    messages = []
    for command in tx.commands:
        if not isinstance(command.obj, Elements) or command.verb not in _MESSAGE:
            return None
        family = _FAMILY.get(command.obj.set.table.family)
        parts = _elements(command)
        if family is None or parts is None:
            return None
        message, flags = _MESSAGE[command.verb]
        head = _string(_LIST_TABLE, command.obj.set.table.name) + _string(_LIST_SET, command.obj.set.name)
        for chunk in _chunks(parts):
            body = head + _nested(_LIST_ELEMENTS, chunk)
            messages.append(Message((_NFNL_SUBSYS_NFTABLES << 8) | message, flags, family, body, command))
    return messages


class ElementWriter(NetfilterSocket):
    """A netlink socket into one namespace's nf_tables that sends element batches and reads their acks."""

    def send(self, messages: list[Message], describe: Callable[[Command], str]) -> None:
        """Run the messages as one batch; the kernel applies all or none. A refusal raises DataplaneError
        with the kernel's reason and the command (``describe`` writes it) it was about."""
        with self._lock:
            sock = self._sock
            if sock is None:
                raise DataplaneError("the netlink element writer is closed")
            begin = self._seq + 1
            end = self._seq = begin + 1 + len(messages)
            data = _batch(messages, begin)
            try:
                if len(data) > _DEFAULT_SNDBUF:
                    sock.setsockopt(socket.SOL_SOCKET, _SO_SNDBUFFORCE, len(data) * 2)
                sock.send(data)
                failure = _acks(sock, begin, end)
            except OSError as e:
                # answers may still come on this socket: the next batch gets a fresh one
                sock.close()
                self._sock = netfilter_socket(self.netns)
                raise DataplaneError(f"cannot send the nftables batch over netlink: {e}") from e
        if failure is not None:
            code, seq = failure
            index = seq - begin - 1
            where = f" (in: {describe(messages[index].command)[:200]})" if 0 <= index < len(messages) else ""
            raise DataplaneError(
                f"the kernel refused the nftables transaction: Could not process rule: "
                f"{os.strerror(code)}{where}"
            )


def _acks(sock: socket.socket, begin: int, end: int) -> tuple[int, int] | None:
    """Read the acks of the batch numbered ``begin`` .. ``end`` (one per message between them); the first
    error as (errno, seq), or None when all were applied. Answers to other sequence numbers are skipped."""
    pending = set(range(begin + 1, end))
    failure: tuple[int, int] | None = None
    while pending:
        for kind, _, seq, payload in messages(sock.recv(1 << 16)):
            if kind != _NLMSG_ERROR or not begin <= seq <= end:
                continue
            (code,) = struct.unpack_from("=i", payload)
            if code and failure is None:
                failure = (-code, seq)
            if seq in (begin, end):  # about the batch itself: no acks will follow
                return failure
            pending.discard(seq)
    return failure
