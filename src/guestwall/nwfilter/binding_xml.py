"""The ``<filterbinding>`` XML (libvirt's binding API): parsing with libvirt's messages, and printing as
``virsh nwfilter-binding-dumpxml`` does (without its extra empty last line).
"""

from __future__ import annotations

from lxml import etree

from guestwall.errors import BindingError, FilterError
from guestwall.model.binding import Binding, Owner
from guestwall.model.filter import FilterRef
from guestwall.model.ifname import ifname_problem
from guestwall.model.mac import MacAddress
from guestwall.nwfilter.format import escape, format_params
from guestwall.nwfilter.parse import parse_params, parse_uuid
from guestwall.nwfilter.safexml import local_name, parse_xml, string_value, xpath_attr


def _error(message: str, code: str | None = None) -> BindingError:
    error = BindingError(message)
    if code is not None:
        error.code = code
    return error


def _children(node: etree._Element, name: str) -> list[etree._Element]:
    return [child for child in node if child.tag == name]


def _by_tag(node: etree._Element) -> dict[object, list[etree._Element]]:
    """``node``'s children by tag, each list in document order (one pass for all the lookups below)."""
    out: dict[object, list[etree._Element]] = {}
    for child in node:
        out.setdefault(child.tag, []).append(child)
    return out


def _first_text(outers: list[etree._Element], inner: str) -> str | None:
    """XPath ``string(./a/b)`` with ``outers`` the ``a``: the text of the first ``b`` under any of them; ""
    counts as absent."""
    for outer in outers:
        for node in _children(outer, inner):
            return string_value(node)
    return None


def _first_attr(nodes: list[etree._Element], attr: str) -> str | None:
    """XPath ``string(./element/@attr)`` with ``nodes`` the ``element``s."""
    for child in nodes:
        if child.get(attr) is not None:
            return xpath_attr(child, attr)
    return None


def check_ifname(what: str, name: str) -> None:
    """guestwall's own rule (guestwall.model.ifname): a port (or link) device is a Linux interface name that
    nftables can match (libvirt accepts anything and then finds no such device)."""
    problem = ifname_problem(name)
    if problem:
        raise _error(f"{what} '{name}' is not a valid interface name ({problem})", code="invalid argument")


def parse_binding(xml: str | bytes, *, validate: bool = False) -> Binding:
    """A ``<filterbinding>``, or XMLError / BindingError with libvirt's messages. ``validate`` also applies
    the checks of libvirt's binding schema (``virsh nwfilter-binding-create --validate``)."""
    root = parse_xml(xml, "filter binding XML")
    if validate:
        from guestwall.nwfilter.validate_binding import validate_binding

        validate_binding(root)
    root_name = local_name(root)
    if root_name != "filterbinding":
        raise _error(f"expecting root element of 'filterbinding', not '{root_name}'", code="XML error")
    # libvirt's order of checks: port dev, link dev, owner, MAC, filter reference.
    kids = _by_tag(root)
    portdev = _first_attr(kids.get("portdev", []), "name")
    if portdev is None:
        raise _error("filter binding has no port dev name")
    check_ifname("port dev", portdev)
    linkdev = None
    if "linkdev" in kids:
        linkdev = _first_attr(kids["linkdev"], "name")
        if linkdev is None:
            raise _error("filter binding has no link dev name")
        check_ifname("link dev", linkdev)
    owners = kids.get("owner", [])
    owner_name = _first_text(owners, "name")
    if owner_name is None:
        raise _error("filter binding has no owner name")
    uuid_text = _first_text(owners, "uuid")
    if uuid_text is None:
        raise _error("filter binding has no owner UUID")
    try:
        owner_uuid = parse_uuid(uuid_text)
    except FilterError:
        owner_uuid = None
    if owner_uuid is None:
        raise _error(f"Unable to parse UUID '{uuid_text}'")
    mac_text = _first_attr(kids.get("mac", []), "address")
    if mac_text is None:
        raise _error("filter binding has no MAC address")
    mac = MacAddress.parse(mac_text, trailing=True)
    if mac is None:
        raise _error(f"Unable to parse MAC '{mac_text}'")
    refs = kids.get("filterref", [])
    filter_name = _first_attr(refs, "filter")
    if not refs or filter_name is None:
        raise _error("filter binding has no filter reference")
    return Binding(
        owner=Owner(owner_name, owner_uuid),
        portdev=portdev,
        mac=mac,
        filterref=FilterRef(filter_name, parse_params(refs[0])),
        linkdev=linkdev,
    )


def format_binding(b: Binding) -> str:
    """What ``virsh nwfilter-binding-dumpxml`` prints, ending with ``</filterbinding>\\n``."""
    lines = [
        "<filterbinding>\n",
        "  <owner>\n",
        f"    <name>{escape(b.owner.name)}</name>\n",
        f"    <uuid>{b.owner.uuid}</uuid>\n",
        "  </owner>\n",
        f"  <portdev name='{escape(b.portdev)}'/>\n",
    ]
    if b.linkdev is not None:
        lines.append(f"  <linkdev name='{escape(b.linkdev)}'/>\n")
    lines.append(f"  <mac address='{b.mac}'/>\n")
    ref = f"  <filterref filter='{escape(b.filterref.filter)}'"
    if b.filterref.params:
        lines.append(ref + ">\n" + format_params(b.filterref.params, "    ") + "  </filterref>\n")
    else:
        lines.append(ref + "/>\n")
    lines.append("</filterbinding>\n")
    return "".join(lines)
