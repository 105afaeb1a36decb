"""Printing a ``model.Filter`` exactly as ``virsh nwfilter-dumpxml`` (libvirt 9.0) does, without virsh's
extra empty last line. Protocol attributes are printed in table order, split into elements where the
negation changes (libvirt 9.0's formatter).
"""

from __future__ import annotations

from guestwall.errors import FilterError
from guestwall.model.filter import AttrValue, Filter, FilterRef, Match, Params, Rule
from guestwall.nwfilter.datatypes import format_datatype
from guestwall.nwfilter.schema import PROTOCOLS

_ESCAPES = {"<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;", "'": "&apos;"}


def escape(text: str) -> str:
    """libvirt's ``virBufferEscapeString``: XML specials as entities, control characters other than tab,
    newline and carriage return dropped."""
    out: list[str] = []
    for c in text:
        if c in _ESCAPES:
            out.append(_ESCAPES[c])
        elif ord(c) < 0x20 and c not in "\t\n\r":
            continue
        else:
            out.append(c)
    return "".join(out)


def format_filter(f: Filter) -> str:
    """What ``virsh nwfilter-dumpxml`` prints, ending with ``</filter>\\n``.

    libvirt prints the filter name and filterref names unescaped (so ``&`` in a name gives broken XML);
    guestwall escapes them.
    """
    head = f"<filter name='{escape(f.name)}' chain='{escape(f.chain)}'"
    if f.priority != 0:
        head += f" priority='{f.priority}'"
    lines = [head + ">\n"]
    if f.uuid is not None:
        lines.append(f"  <uuid>{f.uuid}</uuid>\n")
    for entry in f.entries:
        if isinstance(entry, Rule):
            lines.append(format_rule(entry, "  "))
        else:
            lines.append(format_filterref(entry, "  "))
    lines.append("</filter>\n")
    return "".join(lines)


def format_rule(rule: Rule, indent: str) -> str:
    head = (
        f"{indent}<rule action='{rule.action.value}' direction='{rule.direction.value}'"
        f" priority='{rule.priority}'"
    )
    if not rule.statematch:
        head += " statematch='false'"
    if rule.match is None:
        return head + "/>\n"
    return head + ">\n" + format_match(rule.match, indent + "  ") + f"{indent}</rule>\n"


def format_match(match: Match, indent: str) -> str:
    """One element per run of equally negated attributes, in table order (libvirt 9.0); ``<proto/>`` if
    there are none."""
    spec = PROTOCOLS.get(match.protocol)
    if spec is None:
        raise FilterError(f"unknown protocol element '{match.protocol}'")
    present = {name: value for name, value in match.attrs}
    unknown = set(present) - set(spec.names)
    if unknown:
        raise FilterError(f"element {match.protocol} has no attribute '{sorted(unknown)[0]}'")
    elements: list[str] = []
    current: list[str] = []
    negated: bool | None = None
    for attr in spec.attrs:
        value = present.get(attr.name)
        if value is None:
            continue
        if negated is not None and value.negated != negated:
            elements.append(_element(match.protocol, negated, current, indent))
            current = []
        negated = value.negated
        current.append(f" {attr.name}='{_value_text(match.protocol, attr.name, value)}'")
    if negated is None:
        return f"{indent}<{match.protocol}/>\n"
    elements.append(_element(match.protocol, negated, current, indent))
    return "".join(elements)


def _element(protocol: str, negated: bool, attrs: list[str], indent: str) -> str:
    match = " match='no'" if negated else ""
    return f"{indent}<{protocol}{match}{''.join(attrs)}/>\n"


def _value_text(protocol: str, name: str, value: AttrValue) -> str:
    spec = PROTOCOLS[protocol].attr(name)
    assert spec is not None
    return escape(format_datatype(value.value, value.datatype, spec))


def format_filterref(ref: FilterRef, indent: str) -> str:
    head = f"{indent}<filterref filter='{escape(ref.filter)}'"
    if not ref.params:
        return head + "/>\n"
    return head + ">\n" + format_params(ref.params, indent + "  ") + f"{indent}</filterref>\n"


def format_params(params: Params, indent: str) -> str:
    """Sorted by name (bytewise), one line per list element in list order."""
    lines = []
    for name, values in sorted(params, key=lambda kv: kv[0].encode()):
        for value in values:
            lines.append(f"{indent}<parameter name='{escape(name)}' value='{escape(value)}'/>\n")
    return "".join(lines)
