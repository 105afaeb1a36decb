"""Attributes a filter's rules carry that nothing reads: accepted as libvirt accepts them, but reported.

``<tcp dstport='22'/>`` (a typo for ``dstportstart``) is stored as ``<tcp/>``, which matches every TCP packet:
a silent widening. libvirt ignores unknown attributes of a protocol element too, so guestwall keeps
accepting them (``--validate`` refuses them through the schema), and the commands print one warning per
ignored attribute, naming rule, element and attribute.
"""

from __future__ import annotations

from guestwall.nwfilter.safexml import elements, local_name, parse_xml
from guestwall.nwfilter.schema import PROTOCOLS

KNOWN_EVERYWHERE = frozenset({"match"})


def ignored_attributes(xml: str | bytes) -> list[str]:
    """One line per ignored attribute of a rule's protocol element (the element the rule matches on)."""
    root = parse_xml(xml, "filter XML")
    out: list[str] = []
    number = 0
    for rule in elements(root):
        if local_name(rule) != "rule":
            continue
        number += 1
        protocol = None
        for child in elements(rule):
            name = local_name(child)
            if protocol is None and name is not None:
                protocol = PROTOCOLS.get(name)
            if protocol is None or name != protocol.element:
                continue
            known = {a.name for a in protocol.attrs} | KNOWN_EVERYWHERE
            for attr in child.attrib:
                attr_name = str(attr)
                if attr_name not in known:
                    out.append(
                        f"rule {number}: attribute '{attr_name}' of <{name}> is not a {name} attribute and "
                        "is ignored (the rule matches as if it were absent; --validate refuses it)"
                    )
    return out
