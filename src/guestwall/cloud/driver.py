"""The instance firewall lifecycle as a Python API with Nova's FirewallDriver operations, for a compute
service that embeds guestwall.

A compute host calls these as Nova's libvirt driver did (spawn: ``setup_basic_filtering`` ->
``prepare_instance_filter`` -> start the domain -> ``apply_instance_filter``; destroy: ``unfilter_instance``;
live migration: ``instance_filter_exists``; API changes: the ``refresh_*`` casts). Unlike Nova's drivers:

- each operation is one store transaction and one kernel transaction that contains only the difference
  (a refresh touches exactly the chains and set elements that changed: membership changes are set element
  updates, rule changes rewrite the group's shared chains, never per-instance chains);
- rules and members apply in both directions (ingress and egress) and to IPv6 as well as IPv4;
- whatever a refresh revokes is revoked for open connections too (their conntrack entries are deleted);
- instances are known from the store, not from process memory, so a restarted compute service can refresh
  every instance without re-preparing it.

Security groups and provider blocks are created through ``guestwall.cloud.facade.Cloud`` (or the CLI/API);
the driver refers to groups by id or by name within the instance's project.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from uuid import NAMESPACE_OID, uuid5

from guestwall.cloud import validate
from guestwall.cloud.conntrack import Conntrack, ConntrackTool
from guestwall.cloud.facade import Cloud
from guestwall.cloud.outcome import DEFAULT_PROJECT
from guestwall.dataplane.backend import Backend
from guestwall.model.cloud import Port
from guestwall.store.cloudrepo import cloud_reader
from guestwall.store.records import Store

log = logging.getLogger(__name__)


def _instance_uuid(instance: Instance) -> str:
    """The instance's UUID, which must not be empty: an empty one matched every port without an owner."""
    uuid = instance.uuid.strip() if isinstance(instance.uuid, str) else ""
    if not uuid:
        raise validate.CloudInputError(f"instance '{instance.name}' has no UUID")
    return uuid


@dataclass(frozen=True)
class Vif:
    """One virtual interface of an instance (Nova's network_info entry): host-side device, MAC, fixed
    addresses, allowed address pairs, port security, whether the guest serves DHCP, and the Neutron port id
    if there is one (else a stable id is derived from the instance and the MAC)."""

    devname: str
    mac: str
    ips: tuple[str, ...] = ()
    allowed_address_pairs: tuple[str, ...] = ()
    port_security: bool = True
    dhcp_server: bool = False
    id: str = ""


@dataclass(frozen=True)
class Instance:
    """What the driver needs of an instance: UUID, name, project and security groups (ids or names)."""

    uuid: str
    name: str
    project: str = DEFAULT_PROJECT
    security_groups: tuple[str, ...] = ()


NetworkInfo = Sequence[Vif]


class FirewallDriver:
    """Nova's FirewallDriver operations on guestwall's engine. Not thread-safe per instance: callers
    serialise operations on one instance, as Nova's compute manager does."""

    def __init__(self, store: Store, backend: Backend, conntrack: Conntrack | None = None) -> None:
        from guestwall.engine import Engine

        engine = Engine(backend)  # the store's host settings
        self.cloud = Cloud(
            store, engine, conntrack if conntrack is not None else ConntrackTool(backend.netns)
        )

    @classmethod
    def open(cls, url: str, netns: str | None = None) -> FirewallDriver:
        """A driver on the store at ``url`` enforcing in ``netns`` (None: the current namespace)."""
        from guestwall.dataplane.backend import open_backend
        from guestwall.store import open_store

        return cls(open_store(url), open_backend(netns))

    # ---- lifecycle ------------------------------------------------------------------------------------

    def setup_basic_filtering(self, instance: Instance, network_info: NetworkInfo) -> None:
        """Called at spawn, before ``prepare_instance_filter``: every VIF gets anti-spoofing (MAC, IPv4, ARP,
        IPv6 with its link-local address and NDP), the DHCP client allowance, the provider blocks and the
        default drop, at once. VIFs that already have a port keep their security groups."""
        ports = self._ports(instance, network_info, groups=())
        self.cloud.put_ports(ports, keep_groups=True)

    def prepare_instance_filter(self, instance: Instance, network_info: NetworkInfo) -> None:
        """Everything the instance needs, before it runs: its VIFs' ports with the instance's security
        groups. Idempotent: preparing again (compute restart, live-migration destination) changes nothing
        unless something differs."""
        self.cloud.put_ports(self._ports(instance, network_info, groups=instance.security_groups))

    def apply_instance_filter(self, instance: Instance, network_info: NetworkInfo) -> None:
        """After the domain starts. A no-op: ``prepare_instance_filter`` already enforced everything (the
        filter never depends on the domain running)."""

    def unfilter_instance(self, instance: Instance, network_info: NetworkInfo) -> None:
        """Stop filtering the instance: its ports, bindings and rules go, and its addresses leave the groups'
        sets (so flows other instances allowed only because of it are killed). Unknown instances: nothing
        happens (logged), as in Nova."""
        uuid = _instance_uuid(instance)
        devices = {validate.device(vif.devname) for vif in network_info}
        # its VIFs' ports and any other port of the instance, without reading every port
        found = [*self.cloud.ports_by_devices(devices), *self.cloud.ports_of_device(uuid)]
        known = list({p.id: p for p in found}.values())
        if not known:
            log.info("unfilter_instance: instance %s has no filtered ports", instance.uuid)
            return
        self.cloud.delete_ports([p.id for p in known])

    def instance_filter_exists(self, instance: Instance, network_info: NetworkInfo) -> bool:
        """Whether every VIF of the instance has its port and filter binding (the live-migration poll)."""
        with self.cloud.store.read() as reader:
            repo = cloud_reader(reader)
            for vif in network_info:
                port = repo.port_by_device(vif.devname)
                if port is None or reader.binding(vif.devname) is None:
                    return False
        return True

    # ---- refreshes ------------------------------------------------------------------------------------

    def refresh_security_group_rules(self, security_group_id: str) -> None:
        """A rule was added to or removed from the group (elsewhere): its shared filter is rewritten from
        the stored rules; the kernel gets only the changed chain; flows that lost their rule are killed."""
        self.cloud.refresh_group(security_group_id)

    def refresh_security_group_members(self, security_group_id: str) -> None:
        """An instance joined or left the group: its address set is recomputed from the stored ports; the
        kernel gets element additions/deletions only; flows from addresses that left are killed."""
        self.cloud.refresh_members(security_group_id)

    def refresh_instance_security_rules(self, instance: Instance) -> None:
        """The instance's ports changed (groups, addresses): their bindings and their groups' sets are
        rewritten from the store, and what they lost is revoked."""
        ports = self.cloud.ports_of_device(_instance_uuid(instance))
        if ports:
            self.cloud.refresh_ports(ports)

    def refresh_provider_fw_rules(self) -> None:
        """Provider blocks changed: the provider filter and sets are rewritten (a block or unblock of a
        CIDR alone is a set element update), and blocked flows are killed."""
        self.cloud.refresh_provider()

    # ---- helpers --------------------------------------------------------------------------------------

    def _ports(self, instance: Instance, network_info: NetworkInfo, groups: Sequence[str]) -> list[Port]:
        """The VIFs as ports; two VIFs with one device or one port id are an error (the second would
        silently replace the first)."""
        _instance_uuid(instance)
        ports = [self._port(instance, vif, groups) for vif in network_info]
        for what, values in (("device", [p.device for p in ports]), ("port id", [p.id for p in ports])):
            twice = sorted({value for value in values if values.count(value) > 1})
            if twice:
                raise validate.CloudInputError(
                    f"instance {instance.uuid}: two VIFs have the same {what} '{twice[0]}'"
                )
        return ports

    def _port(self, instance: Instance, vif: Vif, groups: Sequence[str]) -> Port:
        mac = validate.mac(vif.mac)
        device = validate.device(vif.devname)
        # by device too: Neutron allows one MAC on two networks, and the MAC alone made both VIFs one port
        return Port(
            id=vif.id or str(uuid5(NAMESPACE_OID, f"{instance.uuid}/{mac}/{device}")),
            device=device,
            mac=mac,
            project=instance.project,
            name=instance.name,
            fixed_ips=tuple(validate.fixed_ip(a) for a in vif.ips),
            allowed_address_pairs=tuple(
                validate.network(n, "allowed address pair") for n in vif.allowed_address_pairs
            ),
            security_groups=tuple(groups) if vif.port_security else (),
            port_security=vif.port_security,
            dhcp_server=vif.dhcp_server,
            device_id=instance.uuid,
        )
