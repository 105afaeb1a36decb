"""Inputs for libvirt's network XML golden data (our own inputs, written for guestwall).

Each case is one ``virsh net-define input.xml`` followed by ``virsh net-dumpxml NAME``; ``UPDATES`` are
``virsh net-update`` sequences on a defined network. ``netrecord.py`` records libvirt's answers.
"""

from __future__ import annotations

import uuid

NS = uuid.UUID("6f1d6a3e-5c55-4f4e-9a8f-7d2b0c0e1313")


def uid(name: str) -> str:
    return str(uuid.uuid5(NS, name))


def net(name: str, body: str, *, head: str = "", fixed: bool = True, bridge: str | None = "gwb0") -> str:
    parts = [f"<network{head}>", f"  <name>{name}</name>"]
    if fixed:
        parts.append(f"  <uuid>{uid(name)}</uuid>")
    if bridge is not None:
        parts.append(f"  <bridge name='{bridge}'/>")
    if fixed:
        parts.append("  <mac address='52:54:00:0a:0b:0c'/>")
    parts += ["  " + line for line in body.strip().splitlines()] if body.strip() else []
    parts.append("</network>")
    return "\n".join(parts) + "\n"


IP4 = """<ip address='192.168.100.1' netmask='255.255.255.0'>
  <dhcp>
    <range start='192.168.100.2' end='192.168.100.254'/>
  </dhcp>
</ip>"""

CASES: dict[str, str] = {
    "isolated-minimal": net("isolated-minimal", "<ip address='10.1.0.1' prefix='24'/>"),
    "isolated-dhcp": net("isolated-dhcp", IP4),
    "nat-default": net("nat-default", "<forward mode='nat'/>\n" + IP4),
    "nat-dev": net("nat-dev", "<forward mode='nat' dev='eth0'/>\n" + IP4),
    "nat-address-port": net(
        "nat-address-port",
        """<forward mode='nat'>
  <nat>
    <address start='203.0.113.10' end='203.0.113.20'/>
    <port start='20000' end='30000'/>
  </nat>
</forward>
"""
        + IP4,
    ),
    "nat-address-single": net(
        "nat-address-single",
        "<forward mode='nat'><nat><address start='203.0.113.5' end='203.0.113.5'/></nat></forward>\n" + IP4,
    ),
    "nat-ipv6-yes": net(
        "nat-ipv6-yes",
        "<forward mode='nat'><nat ipv6='yes'/></forward>\n"
        + IP4
        + "\n<ip family='ipv6' address='fd00:1::1' prefix='64'/>",
    ),
    "route": net("route", "<forward mode='route'/>\n" + IP4),
    "route-dev": net("route-dev", "<forward mode='route' dev='eth1'/>\n" + IP4),
    "open": net("open", "<forward mode='open'/>\n" + IP4),
    "forward-none-explicit": net("forward-none-explicit", "<forward mode='none'/>\n" + IP4),
    "bridge-stp-delay": net(
        "bridge-stp-delay", "<ip address='10.2.0.1' prefix='24'/>", bridge=None, head=""
    ).replace("<mac ", "<bridge name='gwb0' stp='off' delay='5'/>\n  <mac "),
    "bridge-stp-on": net("bridge-stp-on", "<ip address='10.2.0.1' prefix='24'/>", bridge=None).replace(
        "<mac ", "<bridge name='gwb0' stp='on' delay='0'/>\n  <mac "
    ),
    "mtu": net("mtu", "<mtu size='9000'/>\n<ip address='10.3.0.1' prefix='24'/>"),
    "domain": net("domain", "<forward mode='nat'/>\n<domain name='example.test'/>\n" + IP4),
    "domain-localonly": net(
        "domain-localonly", "<forward mode='nat'/>\n<domain name='lab.test' localOnly='yes'/>\n" + IP4
    ),
    "dns-hosts": net(
        "dns-hosts",
        """<forward mode='nat'/>
<dns>
  <forwarder addr='192.0.2.53'/>
  <forwarder domain='corp.test' addr='192.0.2.54'/>
  <host ip='192.168.100.50'>
    <hostname>db</hostname>
    <hostname>db.lab.test</hostname>
  </host>
</dns>
"""
        + IP4,
    ),
    "dns-disabled": net("dns-disabled", "<forward mode='nat'/>\n<dns enable='no'/>\n" + IP4),
    "dhcp-hosts": net(
        "dhcp-hosts",
        """<forward mode='nat'/>
<ip address='192.168.100.1' prefix='24'>
  <dhcp>
    <range start='192.168.100.100' end='192.168.100.199'/>
    <host mac='52:54:00:00:00:01' name='web' ip='192.168.100.10'/>
    <host mac='52:54:00:00:00:02' ip='192.168.100.11'/>
    <host name='named-only' ip='192.168.100.12'/>
  </dhcp>
</ip>""",
    ),
    "ipv6-dhcp": net(
        "ipv6-dhcp",
        "<ip family='ipv6' address='fd00:2::1' prefix='64'>\n  <dhcp>\n"
        "    <range start='fd00:2::100' end='fd00:2::1ff'/>\n  </dhcp>\n</ip>",
    ),
    "dual-stack": net(
        "dual-stack",
        "<forward mode='nat'/>\n" + IP4 + "\n<ip family='ipv6' address='fd00:3::1' prefix='64'/>",
    ),
    "portgroup-vlan": net(
        "portgroup-vlan",
        """<forward mode='nat'/>
<portgroup name='web' default='yes'>
  <vlan>
    <tag id='10'/>
  </vlan>
</portgroup>
<portgroup name='db'>
  <vlan>
    <tag id='20'/>
  </vlan>
</portgroup>
"""
        + IP4,
    ),
    "portgroup-plain": net(
        "portgroup-plain",
        "<forward mode='nat'/>\n<portgroup name='web' default='yes'/>\n<portgroup name='db'/>\n" + IP4,
    ),
    "port-isolated": net("port-isolated", "<forward mode='nat'/>\n<port isolated='yes'/>\n" + IP4),
    "order-shuffled": net(
        "order-shuffled",
        "<ip address='10.5.0.1' prefix='24'/>\n<domain name='x.test'/>\n<forward mode='nat'/>\n<mtu size='1400'/>",
    ),
    "prefix-form": net("prefix-form", "<ip address='172.16.0.1' prefix='16'/>"),
    "netmask-16": net("netmask-16", "<ip address='172.16.0.1' netmask='255.255.0.0'/>"),
    # auto-filled fields (uuid, mac, bridge name): only the shape is comparable
    "autofill": net("autofill", "<forward mode='nat'/>\n" + IP4, fixed=False, bridge=None),
    "autofill-isolated": net(
        "autofill-isolated", "<ip address='10.9.0.1' prefix='24'/>", fixed=False, bridge=None
    ),
    # refused inputs
    "invalid-forward-mode": net("invalid-forward-mode", "<forward mode='bogus'/>\n" + IP4),
    "invalid-no-name": "<network>\n  <bridge name='gwb0'/>\n</network>\n",
    "invalid-ip-address": net("invalid-ip-address", "<ip address='10.0.0.300' prefix='24'/>"),
    "invalid-prefix": net("invalid-prefix", "<ip address='10.0.0.1' prefix='33'/>"),
    "invalid-range-outside": net(
        "invalid-range-outside",
        "<ip address='10.0.0.1' prefix='24'><dhcp><range start='10.0.1.2' end='10.0.1.9'/></dhcp></ip>",
    ),
    "invalid-range-reversed": net(
        "invalid-range-reversed",
        "<ip address='10.0.0.1' prefix='24'><dhcp><range start='10.0.0.9' end='10.0.0.2'/></dhcp></ip>",
    ),
    "invalid-host-mac": net(
        "invalid-host-mac",
        "<ip address='10.0.0.1' prefix='24'><dhcp><host mac='zz:54:00:00:00:01' ip='10.0.0.5'/></dhcp></ip>",
    ),
    "invalid-mtu": net("invalid-mtu", "<mtu size='abc'/>\n<ip address='10.3.0.1' prefix='24'/>"),
    "invalid-stp": net("invalid-stp", "<ip address='10.2.0.1' prefix='24'/>", bridge=None).replace(
        "<mac ", "<bridge name='gwb0' stp='maybe'/>\n  <mac "
    ),
    "invalid-nat-port": net(
        "invalid-nat-port",
        "<forward mode='nat'><nat><port start='70000' end='80000'/></nat></forward>\n" + IP4,
    ),
    "invalid-mac": net("invalid-mac", "<ip address='10.0.0.1' prefix='24'/>").replace(
        "52:54:00:0a:0b:0c", "01:54:00:0a:0b:0c"
    ),
    "invalid-vlan-tag": net(
        "invalid-vlan-tag",
        "<portgroup name='p'><vlan><tag id='5000'/></vlan></portgroup>\n<ip address='10.0.0.1' prefix='24'/>",
    ),
    "invalid-xml": "<network><name>broken</name>\n",
    "invalid-ip-no-address": net("invalid-ip-no-address", "<ip prefix='24'/>"),
    "invalid-nat-without-ip-ok": net("invalid-nat-without-ip-ok", "<forward mode='nat'/>"),
}

# net-update sequences: (command args after the network name), applied in order to case "dhcp-hosts"
UPDATES: dict[str, list[list[str]]] = {
    "dhcp-host": [
        ["add", "ip-dhcp-host", "<host mac='52:54:00:00:00:03' name='api' ip='192.168.100.13'/>", "--config"],
        ["add", "ip-dhcp-host", "<host mac='52:54:00:00:00:03' name='dup' ip='192.168.100.14'/>", "--config"],
        [
            "modify",
            "ip-dhcp-host",
            "<host mac='52:54:00:00:00:03' name='api2' ip='192.168.100.15'/>",
            "--config",
        ],
        [
            "modify",
            "ip-dhcp-host",
            "<host mac='52:54:00:00:00:99' name='nope' ip='192.168.100.16'/>",
            "--config",
        ],
        [
            "delete",
            "ip-dhcp-host",
            "<host mac='52:54:00:00:00:01' name='web' ip='192.168.100.10'/>",
            "--config",
        ],
        ["delete", "ip-dhcp-host", "<host mac='52:54:00:00:00:77' ip='192.168.100.77'/>", "--config"],
        ["add", "ip-dhcp-host", "<host mac='52:54:00:00:00:04' ip='10.99.0.4'/>", "--config"],
        [
            "add-first",
            "ip-dhcp-host",
            "<host mac='52:54:00:00:00:05' name='first' ip='192.168.100.20'/>",
            "--config",
        ],
        [
            "add-last",
            "ip-dhcp-host",
            "<host mac='52:54:00:00:00:06' name='last' ip='192.168.100.21'/>",
            "--config",
        ],
        ["delete", "ip-dhcp-host", "<host name='named-only' ip='192.168.100.12'/>", "--config"],
    ],
}
