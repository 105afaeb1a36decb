"""guestwall's own filters for cloud ports, written in the nwfilter language and stored like any filter.

They close the holes real frames showed in libvirt's ``clean-traffic`` (which stays as libvirt has it):
UDP from 0.0.0.0 only as a DHCP request, ARP probes from 0.0.0.0 allowed, IPv6 with its own anti-spoofing
(``::`` only for duplicate address detection, NDP and DHCPv6 client allowed, no router advertisements from
guests), stateful layer 3 (an unsolicited SYN-ACK is invalid and dropped), no DHCP server answers from
guests unless the port is one. ``translate.port_filter`` combines them with provider blocks and security
groups into a port's top filter.

Layer 2 (bridge table): sub-chains by ethertype as in libvirt, each ending in a drop for frames from the
guest that none of its return rules let through. Layer 3 (inet table, through br_netfilter): one ordered
chain per direction; the priorities below fix the order of the parts:

    -900 provider blocks   -850 invalid dropped   -840 established/related accepted
    -700 DHCP/DHCPv6 client, NDP/MLD, DHCP server (if marked)   500 security-group rules   1000 default drop
"""

from __future__ import annotations

# Names of the fixed filters (the variable parts have names built in translate.py).
MAC = "gw-mac"
L2 = "gw-l2"
IPV4 = "gw-ipv4"
IPV4_UNADDRESSED = "gw-ipv4-unaddressed"
ARP_MAC = "gw-arp-mac"
ARP = "gw-arp"
ARP_UNADDRESSED = "gw-arp-unaddressed"
IPV6 = "gw-ipv6"
IPV6_NA = "gw-ipv6-na"
RARP = "gw-rarp"
NO_DHCP_SERVER = "gw-no-dhcp-server"
NO_DHCPV6_SERVER = "gw-no-dhcpv6-server"
STATEFUL = "gw-stateful"
CLIENT = "gw-client"
DHCP_SERVER = "gw-dhcp-server"
DEFAULT_DROP = "gw-default-drop"
OPEN = "gw-open"

PROVIDER_PRIORITY = -900
GROUP_RULE_PRIORITY = 500

XML: dict[str, str] = {
    MAC: """<filter name='gw-mac' chain='mac' priority='-800'>
  <!-- frames from the guest carry its own MAC address -->
  <rule action='return' direction='out' priority='100'>
    <mac srcmacaddr='$MAC'/>
  </rule>
  <rule action='drop' direction='out' priority='1000'/>
</filter>
""",
    L2: """<filter name='gw-l2' chain='root'>
  <filterref filter='gw-mac'/>
  <filterref filter='gw-arp-mac'/>
  <!-- IPv4, IPv6 and ARP, in both directions once their sub-chains let them through; nothing else -->
  <rule action='accept' direction='inout' priority='-650'>
    <mac protocolid='ipv4'/>
  </rule>
  <rule action='accept' direction='inout' priority='-550'>
    <mac protocolid='ipv6'/>
  </rule>
  <rule action='accept' direction='inout' priority='-450'>
    <mac protocolid='arp'/>
  </rule>
  <!-- qemu's announcement after live migration moves the guest's MAC in the switches: as clean-traffic
       (qemu-announce-self), its RARP frame and the old, wrong ethertype 0x0835 -->
  <filterref filter='gw-rarp'/>
  <rule action='accept' direction='out' priority='-350'>
    <mac protocolid='0x835'/>
  </rule>
  <rule action='drop' direction='inout' priority='1000'/>
</filter>
""",
    IPV4: """<filter name='gw-ipv4' chain='ipv4' priority='-700'>
  <!-- 0.0.0.0 only as a DHCP request (client port 68 to server port 67, broadcast) -->
  <rule action='return' direction='out' priority='200'>
    <ip srcipaddr='0.0.0.0' dstipaddr='255.255.255.255' protocol='udp' srcportstart='68' dstportstart='67'/>
  </rule>
  <!-- otherwise only the port's own addresses (fixed and allowed address pairs) -->
  <rule action='return' direction='out' priority='300'>
    <ip srcipaddr='$IP' srcipmask='$IPMASK'/>
  </rule>
  <rule action='drop' direction='out' priority='1000'/>
</filter>
""",
    IPV4_UNADDRESSED: """<filter name='gw-ipv4-unaddressed' chain='ipv4' priority='-700'>
  <!-- a port without IPv4 addresses may only ask for one -->
  <rule action='return' direction='out' priority='200'>
    <ip srcipaddr='0.0.0.0' dstipaddr='255.255.255.255' protocol='udp' srcportstart='68' dstportstart='67'/>
  </rule>
  <rule action='drop' direction='out' priority='1000'/>
</filter>
""",
    NO_DHCP_SERVER: """<filter name='gw-no-dhcp-server' chain='ipv4' priority='-700'>
  <!-- guests do not answer as DHCP servers -->
  <rule action='drop' direction='out' priority='100'>
    <ip protocol='udp' srcportstart='67' dstportstart='68'/>
  </rule>
</filter>
""",
    ARP_MAC: """<filter name='gw-arp-mac' chain='arp-mac' priority='-520'>
  <!-- ARP from the guest carries its own MAC address -->
  <rule action='return' direction='out' priority='350'>
    <arp arpsrcmacaddr='$MAC'/>
  </rule>
  <rule action='drop' direction='out' priority='1000'/>
</filter>
""",
    ARP: """<filter name='gw-arp' chain='arp-ip' priority='-510'>
  <!-- probes for duplicate addresses (RFC 5227) have sender address 0.0.0.0 -->
  <rule action='return' direction='out' priority='200'>
    <arp arpsrcipaddr='0.0.0.0'/>
  </rule>
  <!-- otherwise one of the port's own addresses -->
  <rule action='return' direction='out' priority='300'>
    <arp arpsrcipaddr='$IP' arpsrcipmask='$IPMASK'/>
  </rule>
  <rule action='drop' direction='out' priority='1000'/>
</filter>
""",
    ARP_UNADDRESSED: """<filter name='gw-arp-unaddressed' chain='arp-ip' priority='-510'>
  <rule action='return' direction='out' priority='200'>
    <arp arpsrcipaddr='0.0.0.0'/>
  </rule>
  <rule action='drop' direction='out' priority='1000'/>
</filter>
""",
    IPV6: """<filter name='gw-ipv6' chain='ipv6' priority='-600'>
  <!-- no router advertisements or redirects from guests -->
  <rule action='drop' direction='out' priority='100'>
    <ipv6 protocol='icmpv6' type='134'/>
  </rule>
  <rule action='drop' direction='out' priority='100'>
    <ipv6 protocol='icmpv6' type='137'/>
  </rule>
  <!-- :: only for duplicate address detection: the neighbour solicitation and its MLD report -->
  <rule action='return' direction='out' priority='200'>
    <ipv6 srcipaddr='::' srcipmask='128' protocol='icmpv6' type='135'/>
  </rule>
  <rule action='return' direction='out' priority='200'>
    <ipv6 srcipaddr='::' srcipmask='128' protocol='icmpv6' type='143'/>
  </rule>
  <!-- otherwise only the port's own addresses, its MAC-derived link-local address included -->
  <rule action='return' direction='out' priority='300'>
    <ipv6 srcipaddr='$IPV6' srcipmask='$IPV6MASK'/>
  </rule>
  <rule action='drop' direction='out' priority='1000'/>
</filter>
""",
    RARP: """<filter name='gw-rarp' chain='rarp' priority='-400'>
  <rule action='accept' direction='out' priority='500'>
    <rarp srcmacaddr='$MAC' dstmacaddr='ff:ff:ff:ff:ff:ff' opcode='Request_Reverse'
          arpsrcmacaddr='$MAC' arpdstmacaddr='$MAC' arpsrcipaddr='0.0.0.0' arpdstipaddr='0.0.0.0'/>
  </rule>
  <rule action='accept' direction='in' priority='500'>
    <rarp dstmacaddr='ff:ff:ff:ff:ff:ff' opcode='Request_Reverse'
          arpsrcmacaddr='$MAC' arpdstmacaddr='$MAC' arpsrcipaddr='0.0.0.0' arpdstipaddr='0.0.0.0'/>
  </rule>
  <rule action='drop' direction='inout' priority='1000'/>
</filter>
""",
    IPV6_NA: """<filter name='gw-ipv6-na' chain='ipv6-na' priority='-610'>
  <!-- neighbour advertisements only for the port's own addresses (else IPv6's ARP spoofing): those go on to
       the source check of gw-ipv6, any other is dropped (ndtargetaddr is guestwall's own attribute) -->
  <rule action='return' direction='out' priority='100'>
    <ipv6 protocol='icmpv6' type='136' ndtargetaddr='$IPV6' ndtargetmask='$IPV6MASK'/>
  </rule>
  <rule action='drop' direction='out' priority='200'>
    <ipv6 protocol='icmpv6' type='136'/>
  </rule>
  <!-- everything else: on to gw-ipv6 (a sub-chain that ends accepts, as ebtables' user chains) -->
  <rule action='return' direction='out' priority='300'/>
</filter>
""",
    NO_DHCPV6_SERVER: """<filter name='gw-no-dhcpv6-server' chain='ipv6' priority='-600'>
  <!-- guests do not answer as DHCPv6 servers -->
  <rule action='drop' direction='out' priority='100'>
    <ipv6 protocol='udp' srcportstart='547' dstportstart='546'/>
  </rule>
</filter>
""",
    STATEFUL: """<filter name='gw-stateful' chain='root'>
  <rule action='drop' direction='inout' priority='-850'>
    <all state='INVALID'/>
  </rule>
  <rule action='drop' direction='inout' priority='-850'>
    <all-ipv6 state='INVALID'/>
  </rule>
  <rule action='accept' direction='inout' priority='-840'>
    <all state='ESTABLISHED,RELATED'/>
  </rule>
  <rule action='accept' direction='inout' priority='-840'>
    <all-ipv6 state='ESTABLISHED,RELATED'/>
  </rule>
</filter>
""",
    CLIENT: """<filter name='gw-client' chain='root'>
  <!-- DHCP client -->
  <rule action='accept' direction='out' priority='-700'>
    <udp srcportstart='68' dstportstart='67'/>
  </rule>
  <rule action='accept' direction='in' priority='-700'>
    <udp srcportstart='67' dstportstart='68'/>
  </rule>
  <!-- DHCPv6 client -->
  <rule action='accept' direction='out' priority='-700'>
    <udp-ipv6 srcportstart='546' dstportstart='547'/>
  </rule>
  <rule action='accept' direction='in' priority='-700'>
    <udp-ipv6 srcportstart='547' dstportstart='546'/>
  </rule>
  <!-- neighbour discovery and multicast listeners: conntrack does not track them -->
  <rule action='accept' direction='out' priority='-700' statematch='false'>
    <icmpv6 type='133'/>
  </rule>
  <rule action='accept' direction='out' priority='-700' statematch='false'>
    <icmpv6 type='135'/>
  </rule>
  <rule action='accept' direction='out' priority='-700' statematch='false'>
    <icmpv6 type='136'/>
  </rule>
  <rule action='accept' direction='out' priority='-700' statematch='false'>
    <icmpv6 type='143'/>
  </rule>
  <rule action='accept' direction='out' priority='-700' statematch='false'>
    <icmpv6 type='131'/>
  </rule>
  <rule action='accept' direction='out' priority='-700' statematch='false'>
    <icmpv6 type='132'/>
  </rule>
  <rule action='accept' direction='in' priority='-700' statematch='false'>
    <icmpv6 type='134'/>
  </rule>
  <rule action='accept' direction='in' priority='-700' statematch='false'>
    <icmpv6 type='135'/>
  </rule>
  <rule action='accept' direction='in' priority='-700' statematch='false'>
    <icmpv6 type='136'/>
  </rule>
  <rule action='accept' direction='in' priority='-700' statematch='false'>
    <icmpv6 type='130'/>
  </rule>
</filter>
""",
    DHCP_SERVER: """<filter name='gw-dhcp-server' chain='root'>
  <!-- the port serves DHCP and DHCPv6 -->
  <rule action='accept' direction='in' priority='-700'>
    <udp srcportstart='68' dstportstart='67'/>
  </rule>
  <rule action='accept' direction='out' priority='-700'>
    <udp srcportstart='67' dstportstart='68'/>
  </rule>
  <rule action='accept' direction='in' priority='-700'>
    <udp-ipv6 srcportstart='546' dstportstart='547'/>
  </rule>
  <rule action='accept' direction='out' priority='-700'>
    <udp-ipv6 srcportstart='547' dstportstart='546'/>
  </rule>
</filter>
""",
    DEFAULT_DROP: """<filter name='gw-default-drop' chain='root'>
  <!-- what no rule accepted, in either direction -->
  <rule action='drop' direction='inout' priority='1000'>
    <all/>
  </rule>
  <rule action='drop' direction='inout' priority='1000'>
    <all-ipv6/>
  </rule>
</filter>
""",
    OPEN: """<filter name='gw-open' chain='root'>
  <!-- port security off: no rules for this port -->
</filter>
""",
}
