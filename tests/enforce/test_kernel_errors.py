"""A refused nftables transaction names the command that failed (issue 15, item 14): libnftables 1.0.6
quotes the first line of its input whatever failed; both backends must name the right one."""

from __future__ import annotations

import pytest

from guestwall.dataplane.backend import LibNftables, NftCommand
from guestwall.errors import DataplaneError
from guestwall.lab import Lab
from netns_fixtures import needs_netns

pytestmark = needs_netns

FAILING = """add table inet gwtest
add set inet gwtest s { type ipv4_addr; flags interval; }
add element inet gwtest s { 10.0.0.0/24 }
add element inet gwtest s { 10.0.0.5 }
"""


@pytest.mark.parametrize("backend", [LibNftables, NftCommand])
def test_the_failing_command_is_named(lab: Lab, backend: type[LibNftables] | type[NftCommand]) -> None:
    with pytest.raises(DataplaneError) as raised:
        backend(lab.host_netns).run(FAILING)
    message = str(raised.value)
    assert "conflicting intervals" in message
    assert "add element inet gwtest s { 10.0.0.5 }" in message
    assert "add table" not in message
