"""Rule and chain order as libvirt builds it (reference §2.3), worked out by hand for clean-traffic."""

from __future__ import annotations

from helpers import chain, entries, filters, program

from guestwall.instantiate.program import Stage


def test_clean_traffic_root_chain_from_the_guest() -> None:
    prog = program("clean-traffic", filters(), {"IP": ("10.0.0.5",)})
    assert entries(chain(prog, Stage.L2_OUT)) == [
        "jump mac",  # -800
        "jump ipv4-ip",  # -710
        "clean-traffic#1 accept",  # mac protocolid=ipv4, -650
        "jump arp-mac",  # -520
        "jump arp-ip",  # -510
        "clean-traffic#2 accept",  # mac protocolid=arp, -500 (jumps of equal priority come first)
        "jump rarp",  # -400
        "qemu-announce-self#1 accept",  # protocolid 0x835, 500
        "no-other-l2-traffic#1 drop",  # 1000
    ]


def test_clean_traffic_root_chain_to_the_guest() -> None:
    prog = program("clean-traffic", filters(), {"IP": ("10.0.0.5",)})
    assert entries(chain(prog, Stage.L2_IN)) == [
        "jump ipv4",
        "clean-traffic#2 accept",
        "jump rarp",
        "no-other-l2-traffic#1 drop",
    ]


def test_sub_chains_keep_their_rules_in_priority_order() -> None:
    prog = program("clean-traffic", filters(), {"IP": ("10.0.0.5",)})
    assert entries(chain(prog, Stage.L2_OUT, "ipv4-ip")) == [
        "no-ip-spoofing#1 return",
        "no-ip-spoofing#2 return",
        "no-ip-spoofing#3 drop",
    ]
    assert entries(chain(prog, Stage.L2_OUT, "rarp")) == [
        "qemu-announce-self-rarp#1 accept",
        "no-other-rarp-traffic#1 drop",
    ]
    assert entries(chain(prog, Stage.L2_IN, "rarp")) == [
        "qemu-announce-self-rarp#2 accept",
        "no-other-rarp-traffic#1 drop",
    ]


def test_root_rules_come_before_sub_chain_rules_then_priority() -> None:
    defs = filters(
        """<filter name='a' chain='ipv4'>
             <rule action='accept' direction='out' priority='-900'><ip/></rule>
           </filter>""",
        """<filter name='top'>
             <filterref filter='a'/>
             <rule action='drop' direction='out' priority='900'><mac/></rule>
             <rule action='accept' direction='out' priority='100'><tcp/></rule>
             <rule action='accept' direction='out' priority='100'><udp/></rule>
           </filter>""",
    )
    prog = program("top", defs)
    # a's rule is raised to its chain priority -700: the ipv4 jump sits before root's rules
    assert entries(chain(prog, Stage.L2_OUT)) == ["jump ipv4", "top#1 drop"]
    # layer 3: root-chain rules first, equal priorities keep tree order
    assert entries(chain(prog, Stage.L3_OUT)) == ["top#2 accept", "top#3 accept"]


def test_a_filter_included_twice_is_expanded_twice() -> None:
    defs = filters(
        "<filter name='child'><rule action='drop' direction='out' priority='500'><mac srcmacaddr='$X'/></rule></filter>",
        """<filter name='top'>
             <filterref filter='child'><parameter name='X' value='00:00:00:00:00:01'/></filterref>
             <filterref filter='child'><parameter name='X' value='00:00:00:00:00:02'/></filterref>
           </filter>""",
    )
    root = chain(program("top", defs), Stage.L2_OUT)
    assert entries(root) == ["child#1 drop", "child#1 drop"]
