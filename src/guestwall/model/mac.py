"""Ethernet (MAC) addresses as values: parsed and checked once where they enter, then passed as MacAddress.

``str()`` is the canonical form (lower case, two digits per byte, colons) that nftables, libvirt's XML and
the store all use; masks (``srcmacmask``) are MacAddress values too, with ``prefix_length``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from ipaddress import IPv6Address

from guestwall.errors import GuestwallError, InputError

WIDTH = 48
_ALL = (1 << WIDTH) - 1
_HEX = frozenset("0123456789abcdefABCDEF")
_CANONICAL = re.compile(r"[0-9a-fA-F]{2}(?::[0-9a-fA-F]{2}){5}")  # the common form, read without the loop


@dataclass(frozen=True, order=True)
class MacAddress:
    """A 48-bit MAC address (or mask): ``parse``/``require`` read text, ``from_bytes`` a frame's bytes."""

    bits: int
    text: str = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not 0 <= self.bits <= _ALL:
            raise ValueError(f"{self.bits:#x} is not a 48-bit MAC address")
        raw = f"{self.bits:012x}"
        text = f"{raw[0:2]}:{raw[2:4]}:{raw[4:6]}:{raw[6:8]}:{raw[8:10]}:{raw[10:12]}"
        object.__setattr__(self, "text", text)

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"MacAddress('{self.text}')"

    @classmethod
    def parse(cls, text: str, *, trailing: bool = False) -> MacAddress | None:
        """Six groups of one or two hex digits joined by ':' (libvirt's ``virMacAddrParse``), else None.

        With ``trailing`` (libvirt's own check, ``*end <= ' '``) any character up to and including space
        may follow the sixth group, so ``aa:bb:cc:dd:ee:ff junk`` is accepted as libvirt accepts it.
        """
        if _CANONICAL.fullmatch(text):
            return cls(int(text.replace(":", ""), 16))
        bits = 0
        i = 0
        for index in range(6):
            j = i
            while j < len(text) and j - i < 3 and text[j] in _HEX:
                j += 1
            if j == i or j - i > 2:
                return None
            bits = bits << 8 | int(text[i:j], 16)
            if index == 5:
                if j == len(text) or (trailing and ord(text[j]) <= 0x20):
                    return cls(bits)
                return None
            if j >= len(text) or text[j] != ":":
                return None
            i = j + 1
        return None

    @classmethod
    def require(cls, text: str | None, where: str, error: type[GuestwallError] = InputError) -> MacAddress:
        """The address ``text`` (surrounding blanks ignored), or ``error`` naming the value and ``where``."""
        mac = cls.parse((text or "").strip())
        if mac is None:
            raise error(f"{where}: '{text}' is not a MAC address")
        return mac

    @classmethod
    def from_bytes(cls, raw: bytes) -> MacAddress:
        if len(raw) != 6:
            raise ValueError(f"a MAC address is 6 bytes, not {len(raw)}")
        return cls(int.from_bytes(raw, "big"))

    @classmethod
    def mask(cls, length: int) -> MacAddress:
        """The mask of ``length`` leading one bits (``ff:ff:ff:00:00:00`` for 24)."""
        return cls((_ALL << (WIDTH - length)) & _ALL)

    @property
    def packed(self) -> bytes:
        return self.bits.to_bytes(6, "big")

    @property
    def is_multicast(self) -> bool:
        """The group bit (the low bit of the first byte): multicast or broadcast, never a NIC's own."""
        return bool(self.bits >> 40 & 1)

    @property
    def is_zero(self) -> bool:
        return self.bits == 0

    @property
    def prefix_length(self) -> int | None:
        """As a mask: the number of leading one bits, or None when ones and zeros are not contiguous."""
        inverted = ~self.bits & _ALL
        if inverted & (inverted + 1):
            return None
        return bin(self.bits).count("1")

    def bounds(self, length: int) -> tuple[MacAddress, MacAddress]:
        """The lowest and highest address sharing this address's first ``length`` bits."""
        host = (1 << (WIDTH - length)) - 1
        lo = self.bits & ~host & _ALL
        return MacAddress(lo), MacAddress(lo | host)

    def same_prefix(self, other: MacAddress, length: int) -> bool:
        shift = WIDTH - length
        return self.bits >> shift == other.bits >> shift

    def with_first_byte(self, value: int) -> MacAddress:
        return MacAddress((value & 0xFF) << 40 | (self.bits & ((1 << 40) - 1)))

    def link_local(self) -> IPv6Address:
        """The EUI-64 link-local address a guest derives from this MAC (RFC 4291 appendix A)."""
        octets = list(self.packed)
        octets[0] ^= 0x02
        eui = [*octets[:3], 0xFF, 0xFE, *octets[3:]]
        return IPv6Address(bytes([0xFE, 0x80, 0, 0, 0, 0, 0, 0, *eui]))


BROADCAST = MacAddress(_ALL)
STP_GROUP = MacAddress(0x0180C2000000)  # the bridge group address STP frames are sent to (IEEE 802.1D)
