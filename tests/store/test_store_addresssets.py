"""Address sets edited in place (store.addresssets): the stored text stays canonical, and the kernel's change
(``SetDelta``) is what comparing both sets whole (``delta_between``) says, covered networks included."""

from __future__ import annotations

import random
from ipaddress import ip_network

import pytest

from guestwall.model.addressset import Network
from guestwall.store import Store
from guestwall.store.addresssets import SetDelta, delta_between, edit_text, format_networks, text_delta


def _net(text: str) -> Network:
    return ip_network(text)


def _random_net(rng: random.Random) -> Network:
    if rng.random() < 0.2:
        return ip_network(f"2001:db8:{rng.randint(0, 3):x}::/{rng.choice([48, 56, 64])}", strict=False)
    prefix = rng.choice([8, 16, 20, 24, 25, 28, 32])
    return ip_network(
        f"10.{rng.randint(0, 3)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}/{prefix}", strict=False
    )


def test_a_block_inside_a_blocked_network_changes_nothing_in_the_kernel() -> None:
    text = format_networks([_net("10.0.0.0/8"), _net("192.0.2.0/24")])
    new, delta = edit_text(text, add=[_net("10.1.0.0/16")])
    assert new == "10.0.0.0/8\n10.1.0.0/16\n192.0.2.0/24"
    assert delta == SetDelta()


def test_removing_a_covering_network_uncovers_what_it_held() -> None:
    text = format_networks(
        [_net("10.0.0.0/8"), _net("10.1.0.0/16"), _net("10.1.2.0/24"), _net("10.2.0.0/16")]
    )
    new, delta = edit_text(text, remove=[_net("10.0.0.0/8")])
    assert new == "10.1.0.0/16\n10.1.2.0/24\n10.2.0.0/16"
    assert delta == SetDelta(
        frozenset({_net("10.1.0.0/16"), _net("10.2.0.0/16")}), frozenset({_net("10.0.0.0/8")})
    )


def test_adding_a_covering_network_replaces_what_it_holds() -> None:
    text = format_networks([_net("10.1.0.0/16"), _net("10.1.2.0/24"), _net("11.0.0.0/8")])
    _, delta = edit_text(text, add=[_net("10.0.0.0/8")])
    assert delta == SetDelta(frozenset({_net("10.0.0.0/8")}), frozenset({_net("10.1.0.0/16")}))


def test_absent_and_present_networks_are_no_change() -> None:
    text = format_networks([_net("10.0.0.0/24")])
    assert edit_text(text, add=[_net("10.0.0.0/24")], remove=[_net("10.9.0.0/24")]) == (text, SetDelta())
    assert edit_text("", add=[_net("::/0")]) == ("::/0", SetDelta(frozenset({_net("::/0")})))


@pytest.mark.parametrize("seed", range(4))
def test_edits_agree_with_whole_comparison(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(100):
        nets = list({_random_net(rng) for _ in range(rng.randint(0, 30))})
        add = [_random_net(rng) for _ in range(rng.randint(0, 3))]
        remove = [*rng.sample(nets, min(len(nets), rng.randint(0, 3))), _random_net(rng)]
        after = (set(nets) - set(remove)) | set(add)
        new, delta = edit_text(format_networks(nets), add, remove)
        assert new == format_networks(after)
        assert delta == delta_between(nets, list(after))
        assert text_delta(format_networks(nets), new) == delta


def test_many_changes_are_compared_whole() -> None:
    old = [ip_network(f"10.0.{i}.0/24") for i in range(200)]
    new = [ip_network(f"10.1.{i}.0/24") for i in range(100)] + [ip_network("10.0.0.0/16")]
    assert text_delta(format_networks(old), format_networks(new)) == delta_between(old, new)


def test_a_write_transaction_knows_how_it_moved_each_set(store: Store) -> None:
    """Within one transaction the store composes what its writes did to each set (what the engine turns into
    element commands), whether a set was replaced whole, edited in place or deleted."""
    with store.write() as w:
        w.put_address_set("blocks", [_net("10.0.0.0/8"), _net("192.0.2.0/24")])
        w.put_address_set("members", [_net("10.1.0.1/32")])
    with store.write() as w:
        assert w.address_set_delta("blocks") is None  # not written in this transaction
        assert w.edit_address_set("blocks", add=[_net("10.9.0.0/16")]) is True  # covered: no kernel change
        assert w.address_set_delta("blocks") == SetDelta()
        assert w.edit_address_set("blocks", remove=[_net("10.0.0.0/8")]) is True
        assert w.edit_address_set("blocks", add=[_net("10.9.0.0/16")]) is False  # already there
        assert w.put_address_set("members", [_net("10.1.0.2/32")]) is True
        w.delete_address_set("members")
        assert w.address_set_delta("blocks") == SetDelta(
            frozenset({_net("10.9.0.0/16")}), frozenset({_net("10.0.0.0/8")})
        )
        assert w.address_set_delta("members") == SetDelta(removed=frozenset({_net("10.1.0.1/32")}))
        assert [(s.name, s.networks) for s in w.address_sets(["blocks"])] == [
            ("blocks", (_net("10.9.0.0/16"), _net("192.0.2.0/24")))
        ]
    with store.read() as r:
        assert r.address_set_names() == ["blocks"]
        assert r.address_set_delta("blocks") is None
