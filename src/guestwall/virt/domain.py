"""A libvirt domain's XML read into what guestwall binds: each interface's host-side port, MAC and the filter
its guestwall assignment names (pure: no libvirt connection).

The assignment lives in the domain's ``<metadata>``, in guestwall's own XML namespace, so libvirt's nwfilter
driver (which reads ``<filterref>`` inside ``<interface>``) never filters the same port as well::

    <metadata>
      <gw:filters xmlns:gw="https://guestwall.dev/xmlns/libvirt/1">
        <gw:interface mac="52:54:00:f0:00:01" filter="clean-traffic">
          <gw:parameter name="IP" value="10.0.0.5"/>
        </gw:interface>
        <gw:interface filter="allow-all"/>          <!-- every other interface of the domain -->
      </gw:filters>
    </metadata>
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID
from xml.sax.saxutils import quoteattr

from lxml import etree

from guestwall.errors import BindingError
from guestwall.model import Binding, FilterRef, Owner, make_params
from guestwall.model.filter import Params
from guestwall.model.mac import MacAddress
from guestwall.nwfilter.safexml import elements, local_name, parse_xml

NAMESPACE = "https://guestwall.dev/xmlns/libvirt/1"
ROOT = "filters"


@dataclass(frozen=True)
class Assignment:
    """One ``<gw:interface>``: the filter for the interface with this MAC (or, without a MAC, the others)."""

    filter: str
    params: Params
    mac: MacAddress | None = None


@dataclass(frozen=True)
class Nic:
    """One ``<interface>`` of a domain's (live) XML."""

    mac: MacAddress
    portdev: str | None  # <target dev>: known for a running domain
    libvirt_filter: str | None  # <filterref filter=...>: libvirt's own nwfilter would enforce it too


@dataclass(frozen=True)
class Domain:
    name: str
    uuid: UUID
    active: bool
    nics: tuple[Nic, ...]
    assignments: tuple[Assignment, ...]

    def assignment(self, nic: Nic) -> Assignment | None:
        exact = [a for a in self.assignments if a.mac == nic.mac]
        default = [a for a in self.assignments if a.mac is None]
        found = exact or default
        return found[0] if found else None

    def bindings(self) -> list[Binding]:
        """The bindings guestwall keeps while this domain runs: one per assigned interface with a port."""
        if not self.active:
            return []
        out = []
        for nic in self.nics:
            assigned = self.assignment(nic)
            if assigned is None or nic.portdev is None:
                continue
            out.append(
                Binding(
                    Owner(self.name, self.uuid),
                    nic.portdev,
                    nic.mac,
                    FilterRef(assigned.filter, assigned.params),
                )
            )
        return out

    def double_filtered(self) -> list[Nic]:
        """Interfaces that libvirt's nwfilter filters too (a ``<filterref>`` and a guestwall assignment)."""
        return [n for n in self.nics if n.libvirt_filter and self.assignment(n) is not None]

    def left_to_libvirt(self) -> list[Nic]:
        """Interfaces with a ``<filterref>`` but no guestwall assignment: guestwall leaves them alone."""
        return [n for n in self.nics if n.libvirt_filter and self.assignment(n) is None]


def _mac(text: str | None, where: str) -> MacAddress:
    return MacAddress.require(text, where, BindingError)


def _child(node: etree._Element, name: str) -> etree._Element | None:
    return next((c for c in elements(node) if local_name(c) == name), None)


def parse_domain(xml: str | bytes, active: bool) -> Domain:
    """A domain from ``virDomainGetXMLDesc`` (the live XML of a running domain carries the port names)."""
    root = parse_xml(xml, "domain XML")
    name = (root.findtext("name") or "").strip()
    where = f"domain '{name}'"
    try:
        dom_uuid = UUID((root.findtext("uuid") or "").strip())
    except ValueError:
        raise BindingError(f"{where}: no valid <uuid>") from None
    nics = []
    devices = root.find("devices")
    for iface in devices.findall("interface") if devices is not None else []:
        mac_node = iface.find("mac")
        if mac_node is None:
            continue  # libvirt always adds one to a defined domain
        target = iface.find("target")
        ref = iface.find("filterref")
        nics.append(
            Nic(
                _mac(mac_node.get("address"), f"{where} interface"),
                (target.get("dev") or None) if target is not None else None,
                ref.get("filter") if ref is not None else None,
            )
        )
    return Domain(name, dom_uuid, active, tuple(nics), parse_assignments(root, where))


def parse_assignments(root: etree._Element, where: str) -> tuple[Assignment, ...]:
    metadata = root.find("metadata")
    if metadata is None:
        return ()
    ours = [c for c in elements(metadata) if etree.QName(c).namespace == NAMESPACE]
    if not ours:
        return ()
    top = ours[0]
    if local_name(top) != ROOT:
        raise BindingError(f"{where}: guestwall metadata must be <{ROOT}>, not <{local_name(top)}>")
    return tuple(_assignment(node, where) for node in elements(top) if local_name(node) == "interface")


def _assignment(node: etree._Element, where: str) -> Assignment:
    filter_name = node.get("filter")
    if not filter_name:
        raise BindingError(f"{where}: guestwall <interface> without a filter attribute")
    mac = node.get("mac")
    pairs = [
        (p.get("name") or "", p.get("value") or "")
        for p in elements(node)
        if local_name(p) == "parameter" and p.get("name") and p.get("value")
    ]
    return Assignment(filter_name, make_params(pairs), _mac(mac, where) if mac is not None else None)


def format_assignments(assignments: Sequence[Assignment], prefix: str | None = "gw") -> str:
    """The metadata element for a domain definition; with ``prefix=None`` the bare element that
    ``virsh metadata DOMAIN --uri NAMESPACE --key gw --set`` takes (virsh adds the namespace itself)."""
    p = f"{prefix}:" if prefix else ""
    xmlns = f' xmlns:{prefix}="{NAMESPACE}"' if prefix else ""
    lines = [f"<{p}{ROOT}{xmlns}>"]
    for a in assignments:
        head = (
            f"<{p}interface"
            + (f" mac={quoteattr(str(a.mac))}" if a.mac else "")
            + f" filter={quoteattr(a.filter)}"
        )
        if not a.params:
            lines.append(f"  {head}/>")
            continue
        lines.append(f"  {head}>")
        for pname, values in a.params:
            lines += [f"    <{p}parameter name={quoteattr(pname)} value={quoteattr(v)}/>" for v in values]
        lines.append(f"  </{p}interface>")
    lines.append(f"</{p}{ROOT}>")
    return "\n".join(lines)
