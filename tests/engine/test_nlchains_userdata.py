"""The rule comment is read from libnftnl's rule user data as what it is, a list of type-length-value entries
(type 0 is the comment, its text NUL-terminated), wherever the comment entry stands: the reason the netlink
chain reader decodes it itself (pyroute2 reads only a comment that comes first, see dataplane.nlchains)."""

from __future__ import annotations

import pytest

from guestwall.dataplane.nlchains import _comment


@pytest.mark.parametrize(
    ("userdata", "comment"),
    [
        (b"\x00\x0eab12cd34 port\x00", "ab12cd34 port"),
        (b"\x01\x04\x00\x00\x00\x01\x00\x09ab12cd34\x00", "ab12cd34"),  # another entry first
        (b"\x00\x02ab", "ab"),  # no NUL
        (b"\x01\x04\x00\x00\x00\x01", ""),  # no comment entry
        (b"", ""),
        (b"\x00\x20ab", "ab"),  # length past the end: what is there
    ],
)
def test_the_comment_entry_is_found_among_the_user_data_entries(userdata: bytes, comment: str) -> None:
    assert _comment(userdata) == comment
