"""libvirt's network filter XML language: parse, validate and print filters and filter bindings exactly as
libvirt 9.0 does. The protocol × attribute × datatype table is ``schema``; values are ``datatypes``.
"""

from guestwall.nwfilter.binding_xml import format_binding, parse_binding
from guestwall.nwfilter.builtins import builtin_filters
from guestwall.nwfilter.format import format_filter
from guestwall.nwfilter.parse import parse_filter
from guestwall.nwfilter.values import typed_value

__all__ = [
    "builtin_filters",
    "format_binding",
    "format_filter",
    "parse_binding",
    "parse_filter",
    "typed_value",
]
