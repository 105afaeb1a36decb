"""Parse and print one attribute value per libvirt datatype, and ``$VAR`` references. ``values`` tries an
attribute's datatypes in order with ``parse_datatype``; ``format_datatype`` prints what libvirt prints.
"""

from __future__ import annotations

from collections.abc import Callable
from ipaddress import IPv4Address, IPv6Address

from guestwall.model.filter import DataType, Scalar, TcpFlags, VarRef
from guestwall.model.mac import MacAddress
from guestwall.nwfilter import addresses
from guestwall.nwfilter.cnumbers import UINT_MAX, str_to_uint
from guestwall.nwfilter.schema import AttrSpec
from guestwall.nwfilter.valuesets import (
    BOOLEAN_TRUE,
    CT_STATE_NONE,
    CT_STATES,
    IPSET_FLAG_NAMES,
    IPSET_MAX_FLAGS,
    IPSET_NAME_CHARS,
    IPSET_NAME_MAX,
    NAME_SETS,
    TCP_FLAGS,
    FlagSet,
)

D = DataType
VAR_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")
MAX_ITERATOR = 1000
_UINT_LIMITS = {D.UINT8: 0xFF, D.UINT8_HEX: 0xFF, D.UINT16: 0xFFFF, D.UINT16_HEX: 0xFFFF}
_HEX_TYPES = frozenset({D.UINT8_HEX, D.UINT16_HEX, D.UINT32_HEX})


# ----- variables -----


def parse_varref(text: str) -> VarRef | None:
    """libvirt's ``virNWFilterVarAccessParse`` on the text after ``$``, normalised as libvirt prints it.

    ``A`` = ``A[@0]``; ``A[n]`` an element (unsigned 32-bit, ``-1`` wraps); ``A[@k]`` an iterator (k <= 1000).
    Blanks are allowed inside the brackets; whatever follows ``]`` is dropped; an empty name is allowed.
    """
    body = text[1:] if text.startswith("$") else text
    i = 0
    while i < len(body) and body[i] in VAR_NAME_CHARS:
        i += 1
    name = body[:i]
    if i == len(body):
        return VarRef(name)
    if body[i] != "[":
        return None
    j = _skip_blanks(body, i + 1)
    iterator = j < len(body) and body[j] == "@"
    if iterator:
        j += 1
    parsed = str_to_uint(body[j:], 10, whole=False)
    if parsed is None:
        return None
    number, used = parsed
    k = _skip_blanks(body, j + used)
    if k >= len(body) or body[k] != "]":
        return None
    if not iterator:
        return VarRef(name, index=number)
    if number > MAX_ITERATOR:
        return None
    return VarRef(name, iterator=number)


def _skip_blanks(text: str, i: int) -> int:
    while i < len(text) and text[i] in " \t\n\v\f\r":
        i += 1
    return i


def format_varref(ref: VarRef) -> str:
    """``$NAME``, ``$NAME[n]`` or ``$NAME[@k]`` (``[@0]`` is not printed)."""
    return str(ref)


# ----- parsing per datatype -----


def _uint(dt: DataType, text: str) -> int | None:
    parsed = str_to_uint(text, 16 if dt in _HEX_TYPES else 10)
    if parsed is None:
        return None
    value = parsed[0]
    return value if value <= _UINT_LIMITS.get(dt, UINT_MAX) else None


def _decimal(text: str) -> int | None:
    parsed = str_to_uint(text, 10)
    return parsed[0] if parsed else None


def _mac(text: str) -> MacAddress | None:
    return MacAddress.parse(text, trailing=True)


def _macmask(text: str) -> MacAddress | None:
    mac = MacAddress.parse(text, trailing=True)
    if mac is None or mac.prefix_length is None:
        return None
    return mac


def _string(text: str, attr: AttrSpec) -> Scalar | None:
    """STRING is only valid with a value set (libvirt: a validator); names map to numbers or flag sets."""
    name_set = NAME_SETS.get(attr.names or "")
    if name_set is not None:
        return name_set.lookup(text)
    if attr.names == CT_STATES.key:
        return parse_ct_state(text)
    if attr.names == TCP_FLAGS.key:
        return parse_tcp_flags(text)
    return None


def parse_flag_items(flags: FlagSet, text: str, extra: tuple[tuple[str, int], ...] = ()) -> int | None:
    """libvirt's ``parseStringItems``: names matched case-insensitively as prefixes of the rest of the
    text, skipping blanks and commas anywhere (so ``SYNACK`` and ``,new,`` are accepted)."""
    names = flags.input_names() + extra
    bits = 0
    i = 0
    while i < len(text):
        while i < len(text) and (text[i] in " \t\n\v\f\r" or text[i] == ","):
            i += 1
        if i >= len(text):
            break
        for name, bit in names:
            if text[i : i + len(name)].lower() == name.lower():
                bits |= bit
                i += len(name)
                break
        else:
            return None
    return bits


_NONE_BIT = 1 << 8


def parse_ct_state(text: str) -> tuple[str, ...] | None:
    bits = parse_flag_items(CT_STATES, text, ((CT_STATE_NONE, _NONE_BIT),))
    if bits is None:
        return None
    if bits & _NONE_BIT:
        return (CT_STATE_NONE,)
    return tuple(name for name, bit in CT_STATES.flags if bits & bit)


def parse_tcp_flags(text: str) -> TcpFlags | None:
    mask_text, sep, set_text = text.partition("/")
    if not sep or "/" in set_text:
        return None
    mask = parse_flag_items(TCP_FLAGS, mask_text)
    bits = parse_flag_items(TCP_FLAGS, set_text)
    if mask is None or bits is None:
        return None
    return TcpFlags(mask & TCP_FLAGS.full, bits & TCP_FLAGS.full)


def _ipset_name(text: str) -> str | None:
    if len(text.encode()) > IPSET_NAME_MAX or any(c not in IPSET_NAME_CHARS for c in text):
        return None
    return text


def _ipset_flags(text: str) -> tuple[str, ...] | None:
    items = text.split(",")
    if not 1 <= len(items) <= IPSET_MAX_FLAGS:
        return None
    flags = tuple(item.lower() for item in items)
    return flags if all(f in IPSET_FLAG_NAMES for f in flags) else None


def truncate_bytes(text: str, limit: int) -> str:
    """Cut to at most ``limit`` UTF-8 bytes without splitting a character (libvirt cuts bytes blindly)."""
    data = text.encode()
    if len(data) <= limit:
        return text
    return data[:limit].decode(errors="ignore")


_SIMPLE: dict[DataType, Callable[[str], Scalar | None]] = {
    D.MACADDR: _mac,
    D.MACMASK: _macmask,
    D.IPADDR: addresses.parse_ipv4,
    D.IPMASK: lambda t: addresses.parse_ipv4_mask(t, _decimal(t)),
    D.IPV6ADDR: addresses.parse_ipv6,
    D.IPV6MASK: lambda t: addresses.parse_ipv6_mask(t, _decimal(t)),
    D.BOOLEAN: lambda t: t in BOOLEAN_TRUE,
    D.IPSETNAME: _ipset_name,
    D.IPSETFLAGS: _ipset_flags,
}


def parse_datatype(dt: DataType, text: str, attr: AttrSpec) -> Scalar | None:
    """The value of ``text`` as datatype ``dt`` for attribute ``attr``, or None if it is not one."""
    if dt in _UINT_LIMITS or dt in (D.UINT32, D.UINT32_HEX):
        return _uint(dt, text)
    if dt is D.STRING:
        return _string(text, attr)
    if dt is D.STRINGCOPY:
        return truncate_bytes(text, attr.max_bytes) if attr.max_bytes is not None else text
    parser = _SIMPLE.get(dt)
    return parser(text) if parser else None


# ----- formatting -----


def format_flag_bits(flags: FlagSet, bits: int) -> str:
    if flags.all_name and bits == flags.full:
        return flags.all_name
    names = [name for name, bit in flags.flags if bits & bit]
    if not names and flags.none_name:
        return flags.none_name
    return ",".join(names)


def format_datatype(value: Scalar | VarRef, dt: DataType, attr: AttrSpec) -> str:
    """The attribute value as libvirt prints it (not XML-escaped)."""
    if isinstance(value, VarRef):
        return format_varref(value)
    names = NAME_SETS.get(attr.names or "")
    if names is not None and isinstance(value, int) and not isinstance(value, bool):
        name = names.name_of(value)
        if name is not None:
            return name
        if names.numeric == "decimal" or dt is D.STRING:
            return str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, TcpFlags):
        return f"{format_flag_bits(TCP_FLAGS, value.mask)}/{format_flag_bits(TCP_FLAGS, value.set)}"
    if isinstance(value, tuple):
        return ",".join(value)
    if isinstance(value, IPv6Address):
        return addresses.format_ipv6(value)
    if isinstance(value, IPv4Address):
        return str(value)
    if isinstance(value, int):
        return f"0x{value:x}" if dt in _HEX_TYPES else str(value)
    return str(value)
