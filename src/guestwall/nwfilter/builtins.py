"""The 24 builtin filters libvirt installs (clean-traffic and friends), shipped as XML package data.

The files carry no ``<uuid>``: the store gives each a UUID when it first seeds them.
"""

from __future__ import annotations

from importlib import resources

from guestwall.model.filter import Filter
from guestwall.nwfilter.parse import parse_filter

PACKAGE = "guestwall.nwfilter.builtin"


def builtin_names() -> list[str]:
    """The names of the builtin filters, sorted."""
    files = resources.files(PACKAGE).iterdir()
    return sorted(f.name[: -len(".xml")] for f in files if f.name.endswith(".xml"))


def builtin_xml(name: str) -> str:
    """The XML text of one builtin filter as shipped."""
    return resources.files(PACKAGE).joinpath(f"{name}.xml").read_text(encoding="utf-8")


def builtin_filters() -> list[Filter]:
    """All builtin filters, parsed (uuid None), sorted by name."""
    return [parse_filter(builtin_xml(name)) for name in builtin_names()]
