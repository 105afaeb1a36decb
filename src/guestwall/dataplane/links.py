"""Network interfaces of the agent's namespace, and their appearance and disappearance (rtnetlink).

One NETLINK_ROUTE socket subscribed to link events, read without blocking from the agent's loop; messages
are decoded with pyroute2's ifinfmsg. ``list_links`` is a one-off dump, also used by the CLI when it needs
the interfaces (for unbound guest ports under a default filter).
"""

from __future__ import annotations

import errno
import socket
import struct
from collections.abc import Iterator
from dataclasses import dataclass

from pyroute2.netlink.rtnl.ifinfmsg import ifinfmsg

from guestwall.dataplane.netns import call_in_netns
from guestwall.errors import DataplaneError

RTMGRP_LINK = 1
RTM_NEWLINK = 16
RTM_DELLINK = 17
RTM_GETLINK = 18
NLMSG_ERROR = 2
NLMSG_DONE = 3
NLM_F_REQUEST = 0x1
NLM_F_DUMP = 0x300
_HEADER = struct.Struct("=LHHLL")  # nlmsghdr: length, type, flags, sequence, port id
_IFINFO = struct.Struct("=BBHiII")  # ifinfomsg: family, pad, type, index, flags, change


@dataclass(frozen=True)
class Link:
    index: int
    name: str
    mac: str  # lowercase, "" for links without one


@dataclass(frozen=True)
class LinkEvent:
    kind: str  # "new" (added or changed) or "del"
    link: Link


def _open(netns: str | None, groups: int) -> socket.socket:
    def make() -> socket.socket:
        sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
            sock.bind((0, groups))
        except OSError:
            sock.close()
            raise
        return sock

    try:
        return call_in_netns(netns, make)
    except OSError as e:
        raise DataplaneError(
            f"cannot open a netlink socket in {netns or 'this namespace'}: {e.strerror}"
        ) from e


def _messages(data: bytes) -> Iterator[tuple[int, bytes]]:
    """(type, bytes) of each netlink message in one datagram."""
    offset = 0
    while offset + _HEADER.size <= len(data):
        length, kind = _HEADER.unpack_from(data, offset)[:2]
        if length < _HEADER.size:
            break
        yield kind, data[offset : offset + length]
        offset += (length + 3) & ~3


def _link(msg: ifinfmsg) -> Link | None:
    name = msg.get_attr("IFLA_IFNAME")
    if not name:
        return None
    return Link(int(msg["index"]), str(name), str(msg.get_attr("IFLA_ADDRESS") or "").lower())


def parse_messages(data: bytes) -> tuple[list[LinkEvent], bool]:
    """Link events in one netlink datagram, and whether it ended a dump."""
    events: list[LinkEvent] = []
    done = False
    for kind, raw in _messages(data):
        if kind in (RTM_NEWLINK, RTM_DELLINK):
            msg = ifinfmsg(raw)
            msg.decode()
            link = _link(msg)
            if link is not None:
                events.append(LinkEvent("new" if kind == RTM_NEWLINK else "del", link))
        elif kind in (NLMSG_DONE, NLMSG_ERROR):
            done = True
    return events, done


def dump_links(netns: str | None = None) -> Iterator[ifinfmsg]:
    """The decoded RTM_NEWLINK message of every interface in the namespace (one dump)."""
    sock = _open(netns, 0)
    try:
        request = _HEADER.pack(_HEADER.size + _IFINFO.size, RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, 1, 0)
        sock.send(request + _IFINFO.pack(socket.AF_UNSPEC, 0, 0, 0, 0, 0))
        done = False
        while not done:
            for kind, raw in _messages(sock.recv(1 << 16)):
                if kind == RTM_NEWLINK:
                    msg = ifinfmsg(raw)
                    msg.decode()
                    yield msg
                elif kind in (NLMSG_DONE, NLMSG_ERROR):
                    done = True
    finally:
        sock.close()


def list_links(netns: str | None = None) -> dict[str, Link]:
    """Every interface in the namespace, by name."""
    links = (_link(msg) for msg in dump_links(netns))
    return {link.name: link for link in links if link is not None}


class LinkWatcher:
    """Link events of one namespace; ``fileno`` for select, ``read`` never blocks.

    Subscribes before it lists, so no change falls between the two. When the kernel had to drop events (the
    socket buffer overflowed), ``read`` reports ``resync``: the caller lists the links again.
    """

    def __init__(self, netns: str | None) -> None:
        self.netns = netns
        self.sock = _open(netns, RTMGRP_LINK)
        self.sock.setblocking(False)

    def fileno(self) -> int:
        return self.sock.fileno()

    def read(self) -> tuple[list[LinkEvent], bool]:
        """(events, resync needed)."""
        events: list[LinkEvent] = []
        while True:
            try:
                data = self.sock.recv(1 << 16)
            except BlockingIOError:
                return events, False
            except OSError as e:
                if e.errno == errno.ENOBUFS:
                    return events, True
                raise
            events.extend(parse_messages(data)[0])

    def close(self) -> None:
        self.sock.close()
