"""The guard against an empty store wiping the kernel: a typo in ``--db``, or a store deleted by mistake,
followed by ``apply`` or an agent start would otherwise remove every guest's rules.

``apply`` and the agent open their store with ``open_for_enforcing`` (a missing one is created only on a
host whose kernel enforces no port) and check with ``refuse_emptying`` before their first apply: a store
without bindings may not take ports away that the kernel enforces, unless told so (``--allow-empty``).
"""

from __future__ import annotations

from guestwall.compile import names
from guestwall.dataplane.backend import Backend
from guestwall.engine.desired import Desired
from guestwall.errors import ConflictError
from guestwall.nft.commands import ListSet, Table
from guestwall.store.records import Reader, Store


class EmptyStoreError(ConflictError):
    code = ""


def kernel_ports(backend: Backend) -> set[str]:
    """The ports our bridge table dispatches (the keys of its outbound verdict map); empty without it."""
    listing = backend.list_json(ListSet(Table(names.BRIDGE, names.TABLE), names.L2_OUT_MAP, map=True))
    ports: set[str] = set()
    for item in (listing or {}).get("nftables", []):
        for element in item.get("map", {}).get("elem", []) if isinstance(item, dict) else []:
            key = element[0] if isinstance(element, list) else element
            if isinstance(key, str):
                ports.add(key)
    return ports


def open_for_enforcing(url: str, host: str | None, backend: Backend, allow_empty: bool) -> Store:
    """The store ``apply`` and the agent enforce: a missing one is created only when the kernel enforces
    no port (a new host) or when ``allow_empty``; otherwise a typo in the URL would remove every rule."""
    from guestwall.errors import MissingStoreError
    from guestwall.store import open_store

    try:
        return open_store(url, host, create=False)
    except MissingStoreError as e:
        held = sorted(kernel_ports(backend))
        if held and not allow_empty:
            raise EmptyStoreError(
                f"{e}, but the kernel enforces rules for {_shown(held)}: a new, empty store would leave them "
                "unfiltered. Give --allow-empty if that is meant"
            ) from None
    return open_store(url, host, create=True)


def _shown(ports: list[str]) -> str:
    return ", ".join(ports[:5]) + (f" and {len(ports) - 5} more" if len(ports) > 5 else "")


def refuse_emptying(reader: Reader, desired: Desired, backend: Backend, where: str) -> None:
    """Raise EmptyStoreError when the store has no binding but applying ``desired`` would remove ports
    the kernel enforces now."""
    if reader.bindings():
        return
    keep = {
        key[0]
        for key in desired.compiled.ruleset.table(names.BRIDGE).sets[names.L2_OUT_MAP].elements
        if isinstance(key, tuple)
    }
    lost = sorted(kernel_ports(backend) - keep)
    if lost:
        raise EmptyStoreError(
            f"the store {where} has no bindings, but the kernel enforces rules for {_shown(lost)}: "
            "applying it would leave them unfiltered. Check --db (or GUESTWALL_DB); give --allow-empty if "
            "that is meant"
        )
