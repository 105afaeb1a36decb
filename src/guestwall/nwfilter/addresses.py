"""IPv4 and IPv6 text forms exactly as libvirt (via glibc: ``inet_aton``, ``inet_pton``, ``inet_ntop``)
reads and prints them, and masks as prefix lengths. Used by ``datatypes``. (MAC addresses: model.mac.)
"""

from __future__ import annotations

import re
from ipaddress import IPv4Address, IPv6Address

from guestwall.nwfilter.cnumbers import strtoul

_HEX = "0123456789abcdefABCDEF"

def is_contiguous(value: int, width: int) -> bool:
    """True for ones followed by zeros (all zeros and all ones included)."""
    inverted = ~value & ((1 << width) - 1)
    return inverted & (inverted + 1) == 0


def prefix_length(value: int, width: int) -> int | None:
    if not is_contiguous(value, width):
        return None
    return bin(value).count("1")


# Four decimal parts without leading zeros: what nearly every address is, read without inet_aton's loop
_PART = r"(0|[1-9][0-9]{0,2})"
_DOTTED_DECIMAL = re.compile(rf"{_PART}\.{_PART}\.{_PART}\.{_PART}")


def parse_ipv4(text: str) -> IPv4Address | None:
    """glibc ``inet_aton`` without trailing text: 1-4 parts, each decimal, 0x-hex or 0-octal."""
    plain = _DOTTED_DECIMAL.fullmatch(text)
    if plain is not None:
        a, b, c, d = (int(part) for part in plain.groups())
        if a <= 0xFF and b <= 0xFF and c <= 0xFF and d <= 0xFF:
            return IPv4Address(a << 24 | b << 16 | c << 8 | d)
    return inet_aton(text)


def inet_aton(text: str) -> IPv4Address | None:
    """``parse_ipv4`` without its shortcut for plain dotted decimals: every form inet_aton reads."""
    parts: list[int] = []
    i = 0
    while True:
        if i >= len(text) or not ("0" <= text[i] <= "9"):
            return None
        parsed = strtoul(text, 0, i)
        value, end, overflow = parsed.value, parsed.end, parsed.overflow
        if overflow or end == i:
            return None
        if end < len(text) and text[end] == ".":
            if len(parts) >= 3 or value > 0xFF:
                return None
            parts.append(value)
            i = end + 1
            continue
        if end != len(text):
            return None
        break
    limit = (0xFFFFFFFF, 0xFFFFFF, 0xFFFF, 0xFF)[len(parts)]
    if value > limit:
        return None
    number = value
    for shift, part in zip((24, 16, 8), parts, strict=False):
        number |= part << shift
    return IPv4Address(number)


def parse_ipv6(text: str) -> IPv6Address | None:
    """glibc ``inet_pton(AF_INET6)``: hex groups of 1-4 digits, one ``::``, an optional dotted IPv4 tail.

    Zone ids (``%eth0``) are not accepted.
    """
    if not text or (text.startswith(":") and not text.startswith("::")):
        return None
    head, sep, tail = text.partition("::")
    if sep and "::" in tail:
        return None
    left = _groups(head, allow_v4=not sep)
    right = _groups(tail, allow_v4=True) if sep else []
    if left is None or right is None:
        return None
    if sep:
        if len(left) + len(right) > 7:
            return None
        words = left + [0] * (8 - len(left) - len(right)) + right
    else:
        if len(left) != 8:
            return None
        words = left
    number = 0
    for word in words:
        number = (number << 16) | word
    return IPv6Address(number)


def _groups(text: str, allow_v4: bool) -> list[int] | None:
    if text == "":
        return []
    pieces = text.split(":")
    words: list[int] = []
    for index, piece in enumerate(pieces):
        if index == len(pieces) - 1 and allow_v4 and "." in piece:
            v4 = _strict_ipv4(piece)
            if v4 is None:
                return None
            words += [v4 >> 16, v4 & 0xFFFF]
        elif 1 <= len(piece) <= 4 and all(c in _HEX for c in piece):
            words.append(int(piece, 16))
        else:
            return None
    return words


def _strict_ipv4(text: str) -> int | None:
    """glibc ``inet_pton(AF_INET)``: exactly four decimal parts 0-255 without leading zeros."""
    parts = text.split(".")
    if len(parts) != 4:
        return None
    number = 0
    for part in parts:
        if not part or not part.isascii() or not part.isdigit() or len(part) > 3:
            return None
        if len(part) > 1 and part[0] == "0":
            return None
        value = int(part)
        if value > 255:
            return None
        number = (number << 8) | value
    return number


def format_ipv6(address: IPv6Address) -> str:
    """glibc ``inet_ntop(AF_INET6)``: first longest run of >= 2 zero words becomes ``::``; dotted IPv4
    tail for ``::a.b.c.d`` (six zero words) and ``::ffff:a.b.c.d``."""
    number = int(address)
    words = [(number >> (16 * (7 - i))) & 0xFFFF for i in range(8)]
    best_base, best_len = -1, 0
    cur_base, cur_len = -1, 0
    for i, word in enumerate(words):
        if word == 0:
            if cur_base < 0:
                cur_base, cur_len = i, 1
            else:
                cur_len += 1
        elif cur_base >= 0:
            if cur_len > best_len:
                best_base, best_len = cur_base, cur_len
            cur_base = -1
    if cur_base >= 0 and cur_len > best_len:
        best_base, best_len = cur_base, cur_len
    if best_len < 2:
        best_base = -1
    out: list[str] = []
    i = 0
    while i < 8:
        if best_base >= 0 and best_base <= i < best_base + best_len:
            if i == best_base:
                out.append(":")
            i += 1
            continue
        if i != 0:
            out.append(":")
        if i == 6 and best_base == 0 and (best_len == 6 or (best_len == 5 and words[5] == 0xFFFF)):
            out.append(str(IPv4Address(number & 0xFFFFFFFF)))
            break
        out.append(f"{words[i]:x}")
        i += 1
    if best_base >= 0 and best_base + best_len == 8:
        out.append(":")
    return "".join(out)


def parse_ipv4_mask(text: str, as_number: int | None) -> int | None:
    """A CIDR length (``as_number``, already parsed as a number) 0-32, else a dotted contiguous mask."""
    if as_number is not None:
        return as_number if as_number <= 32 else None
    address = parse_ipv4(text)
    if address is None:
        return None
    return prefix_length(int(address), 32)


def parse_ipv6_mask(text: str, as_number: int | None) -> int | None:
    if as_number is not None:
        return as_number if as_number <= 128 else None
    address = parse_ipv6(text)
    if address is None:
        return None
    return prefix_length(int(address), 128)
