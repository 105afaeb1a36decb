"""Interface names: every character is judged as the rule in model/ifname.py's docstring says."""

from __future__ import annotations

import pytest

from guestwall.model.ifname import ifname_problem


def test_every_character_judged_as_linux_and_nftables_see_it() -> None:
    linux = "containing '/', ':', blanks or control characters"
    nft = "containing '\"', '*' or '\\', which nftables cannot match as part of a name"
    wrong = []
    for code in range(0x110000):
        c = chr(code)
        if c in "/:" or c.isspace() or code < 0x20 or code == 0x7F:
            expected: str | None = linux
        elif c in '"*\\':
            expected = nft
        else:
            expected = None
        if 0xD800 <= code <= 0xDFFF:
            continue  # a lone surrogate is no text a name can come from
        if ifname_problem(f"p{c}") != expected:
            wrong.append(hex(code))
    assert not wrong, wrong[:10]


@pytest.mark.parametrize(
    ("name", "problem"),
    [("", "empty"), ("a" * 16, "longer than 15 bytes"), ("..", "not allowed"), ("vnet0", None)],
)
def test_names(name: str, problem: str | None) -> None:
    assert ifname_problem(name) == problem
