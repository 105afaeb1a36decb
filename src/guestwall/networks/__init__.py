"""Virtual networks: libvirt's network XML and driver, Nova's linux_net (bridges, VLANs, dnsmasq, NAT,
floating IPs), as desired state compiled into guestwall's own tables and applied by the same dataplane.

model (frozen data) -> xml (parse/format, virsh-compatible) -> rules (pure compile to a Ruleset) ->
dataplane.apply; links (bridges and VLANs through pyroute2) and dnsmasq (one per network) on the host.
"""
