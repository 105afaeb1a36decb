"""Moving a host from libvirt's nwfilter to guestwall: filters and bindings read from a libvirt connection
or from directories of XML files (e.g. /etc/libvirt/nwfilter, /run/libvirt/nwfilter-binding), planned
against the store, then defined and created through the same services as the CLI's.

UUIDs are kept, so ``guestwall nwfilter-dumpxml`` prints what ``virsh nwfilter-dumpxml`` printed. libvirt's
builtin filters are mapped onto guestwall's own, which the store already has under UUIDs of its own: the
builtin keeps guestwall's UUID (two UUIDs for one name would clash), and is redefined only if libvirt's
copy was edited. What cannot be taken is reported with the reason, and the rest is still imported.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from uuid import UUID

from guestwall.engine import Engine
from guestwall.errors import GuestwallError, InputError
from guestwall.store.records import ReadableStore, Store

# what happens to one item, and how the report says it
IMPORT, UPDATE, SAME, SKIP = "import", "update", "same", "skip"


@dataclass(frozen=True)
class Source:
    """One XML document to import and where it came from (a file, or libvirt's name for it)."""

    origin: str
    xml: str


@dataclass(frozen=True)
class Item:
    kind: str  # "filter" or "binding"
    name: str  # filter name or port device ("" if the XML could not be read)
    action: str  # IMPORT, UPDATE, SAME or SKIP
    detail: str
    xml: str = ""  # what is defined or created (canonical), for IMPORT and UPDATE

    def line(self) -> str:
        verb = {IMPORT: "imported", UPDATE: "updated", SAME: "unchanged", SKIP: "NOT imported"}[self.action]
        return f"{self.kind} {self.name or '?'}: {verb}{': ' + self.detail if self.detail else ''}"


# ---- reading sources ---------------------------------------------------------------------------------------


def read_directory(path: str) -> tuple[list[Source], list[Source], list[Item]]:
    """Filters and bindings in a directory's ``*.xml`` files, by their root element; unreadable files are
    reported as items that cannot be imported."""
    from guestwall.nwfilter.safexml import local_name, parse_xml

    filters, bindings, bad = [], [], []
    directory = Path(path)
    if not directory.is_dir():
        raise InputError(f"import-libvirt: '{path}' is not a directory")
    for file in sorted(directory.glob("*.xml")):
        try:
            text = file.read_text(encoding="utf-8")
            root = parse_xml(text, f"file {file}")
        except (OSError, UnicodeDecodeError, GuestwallError) as e:
            bad.append(Item("file", str(file), SKIP, str(e)))
            continue
        kind = local_name(root)
        if kind == "filter":
            filters.append(Source(str(file), text))
        elif kind == "filterbinding":
            bindings.append(Source(str(file), text))
        elif kind == "filterbindingstatus":  # what libvirt keeps under /run/libvirt/nwfilter-binding
            inner = next((c for c in root if local_name(c) == "filterbinding"), None)
            if inner is None:
                bad.append(Item("file", str(file), SKIP, "<filterbindingstatus> without <filterbinding>"))
                continue
            from lxml import etree

            bindings.append(Source(str(file), etree.tostring(inner, encoding="unicode")))
        else:
            bad.append(
                Item("file", str(file), SKIP, f"root element <{kind}> is neither a filter nor a binding")
            )
    return filters, bindings, bad


def read_connection(uri: str) -> tuple[list[Source], list[Source]]:
    from guestwall.virt.connection import read_nwfilters

    filters, bindings = read_nwfilters(uri)
    return [Source(f"{uri} nwfilter", x) for x in filters], [Source(f"{uri} binding", x) for x in bindings]


# ---- planning (reads the store, changes nothing) -----------------------------------------------------------


def plan_import(store: ReadableStore, filters: Sequence[Source], bindings: Sequence[Source]) -> list[Item]:
    from guestwall.nwfilter import format_binding, format_filter, parse_binding, parse_filter
    from guestwall.nwfilter.builtins import builtin_names
    from guestwall.services.bindings import with_mac_parameter

    builtins = set(builtin_names())
    items: list[Item] = []
    with store.read() as reader:
        by_name = {r.name: r for r in reader.filters()}
        by_uuid = {r.uuid: r for r in reader.filters()}
        existing_bindings = {r.portdev: r for r in reader.bindings()}
    taken: dict[UUID, str] = {}
    for source in filters:
        try:
            parsed = parse_filter(source.xml)
        except GuestwallError as e:
            items.append(Item("filter", "", SKIP, f"{source.origin}: {e}"))
            continue
        name, current = parsed.name, by_name.get(parsed.name)
        if name in builtins and current is not None:
            ours = format_filter(replace(parsed, uuid=current.uuid))
            if ours == current.xml:
                items.append(
                    Item("filter", name, SAME, f"libvirt's builtin, guestwall's own (uuid {current.uuid})")
                )
            else:
                items.append(
                    Item(
                        "filter",
                        name,
                        UPDATE,
                        f"edited builtin; keeps guestwall's uuid {current.uuid}"
                        f" (libvirt's was {parsed.uuid})",
                        ours,
                    )
                )
            continue
        if parsed.uuid is None:
            items.append(Item("filter", name, SKIP, f"{source.origin}: no <uuid> (libvirt always has one)"))
            continue
        clash = by_uuid.get(parsed.uuid)
        if (clash is not None and clash.name != name) or taken.get(parsed.uuid, name) != name:
            other = clash.name if clash is not None and clash.name != name else taken[parsed.uuid]
            items.append(Item("filter", name, SKIP, f"uuid {parsed.uuid} is already filter '{other}'"))
            continue
        taken[parsed.uuid] = name
        text = format_filter(parsed)
        if current is None:
            items.append(Item("filter", name, IMPORT, f"uuid {parsed.uuid}", text))
        elif current.uuid != parsed.uuid:
            items.append(
                Item("filter", name, SKIP, f"guestwall has '{name}' with another uuid {current.uuid}")
            )
        elif current.xml == text:
            items.append(Item("filter", name, SAME, ""))
        else:
            items.append(Item("filter", name, UPDATE, f"uuid {parsed.uuid}", text))
    known = set(by_name) | {i.name for i in items if i.kind == "filter" and i.action != SKIP}
    for source in bindings:
        try:
            binding = with_mac_parameter(parse_binding(source.xml))
        except GuestwallError as e:
            items.append(Item("binding", "", SKIP, f"{source.origin}: {e}"))
            continue
        text = format_binding(binding)
        port, name = binding.portdev, binding.filterref.filter
        current_binding = existing_bindings.get(port)
        if current_binding is not None:
            same = current_binding.xml == text
            items.append(
                Item(
                    "binding",
                    port,
                    SAME if same else SKIP,
                    "" if same else "guestwall has another binding for this port",
                )
            )
        elif name not in known:
            items.append(Item("binding", port, SKIP, f"its filter '{name}' is not imported"))
        else:
            items.append(Item("binding", port, IMPORT, f"filter {name}", text))
    return items


# ---- applying the plan ------------------------------------------------------------------------------------


def run_import(
    store: Store, items: Sequence[Item], engine: Engine
) -> list[Item]:
    """Define the planned filters, then create the planned bindings (each enforced at once); an item that
    fails now is reported as SKIP with the reason, the others go on."""
    from guestwall.services.bindings import create_binding
    from guestwall.services.filters import define_filter

    done: list[Item] = []
    for item in items:
        if item.action not in (IMPORT, UPDATE) or item.kind != "filter":
            continue
        try:
            define_filter(store, item.xml, engine=engine)
            done.append(item)
        except GuestwallError as e:
            done.append(replace(item, action=SKIP, detail=str(e)))
    for item in items:
        if item.action != IMPORT or item.kind != "binding":
            continue
        try:
            create_binding(store, item.xml, engine)
            done.append(item)
        except GuestwallError as e:
            done.append(replace(item, action=SKIP, detail=str(e)))
    return done
