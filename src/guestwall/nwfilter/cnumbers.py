"""C number parsing as libvirt does it (``strtoul``/``strtol`` behind ``virStrToLong_ui``/``_i``), exactly:
its leniency (blanks, ``+``, ``-1`` as UINT_MAX, hex without ``0x``) decides what a filter accepts.
"""

from __future__ import annotations

from dataclasses import dataclass

C_SPACE = " \t\n\v\f\r"
ULONG_MAX = 2**64 - 1
UINT_MAX = 2**32 - 1
INT_MIN = -(2**31)
INT_MAX = 2**31 - 1

_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"


@dataclass(frozen=True)
class Strtoul:
    """What C ``strtoul`` gives: the value, the index after the number (``end == start``: nothing was
    parsed), whether a minus sign was seen (the value is then negated modulo 2**64), and overflow."""

    value: int
    end: int
    negative: bool
    overflow: bool


def strtoul(text: str, base: int, start: int = 0) -> Strtoul:
    """C ``strtoul`` (64-bit long) on ``text[start:]``. Base 0 picks 16 for ``0x``, 8 for a leading ``0``,
    else 10, like C."""
    i = start
    n = len(text)
    while i < n and text[i] in C_SPACE:
        i += 1
    negative = False
    if i < n and text[i] in "+-":
        negative = text[i] == "-"
        i += 1
    if base in (0, 16) and text[i : i + 2].lower() == "0x" and _digit(text, i + 2, 16) is not None:
        i += 2
        base = 16
    elif base == 0:
        base = 8 if text[i : i + 1] == "0" else 10
    digits_start = i
    value = 0
    while i < n:
        digit = _digit(text, i, base)
        if digit is None:
            break
        value = value * base + digit
        i += 1
    if i == digits_start:
        return Strtoul(0, start, False, False)
    overflow = value > ULONG_MAX
    if overflow:
        value = ULONG_MAX
    elif negative:
        value = (-value) & ULONG_MAX
    return Strtoul(value, i, negative, overflow)


def _digit(text: str, i: int, base: int) -> int | None:
    if i >= len(text):
        return None
    index = _DIGITS.find(text[i].lower())
    if index < 0 or index >= base or not text[i].isascii():
        return None
    return index


def str_to_uint(text: str, base: int = 10, *, whole: bool = True) -> tuple[int, int] | None:
    """libvirt's ``virStrToLong_ui``: an unsigned int, where ``-N`` wraps to UINT_MAX + 1 - N.

    With ``whole`` the whole string must be consumed. Returns (value, end index) or None.
    """
    parsed = strtoul(text, base)
    value, end, negative, overflow = parsed.value, parsed.end, parsed.negative, parsed.overflow
    if end == 0 or overflow:
        return None
    if negative:
        magnitude = (-value) & ULONG_MAX
        if magnitude > UINT_MAX:
            return None
        value &= UINT_MAX
    if value > UINT_MAX:
        return None
    if whole and end != len(text):
        return None
    return value, end


def str_to_int(text: str) -> int | None:
    """libvirt's ``virStrToLong_i`` in base 10 on the whole string: a signed 32-bit int or None."""
    i = 0
    n = len(text)
    while i < n and text[i] in C_SPACE:
        i += 1
    sign = 1
    if i < n and text[i] in "+-":
        sign = -1 if text[i] == "-" else 1
        i += 1
    digits = text[i:]
    if not digits or not all("0" <= c <= "9" for c in digits):
        return None
    value = sign * int(digits)
    if value < INT_MIN or value > INT_MAX:
        return None
    return value
