"""The agent's view of our tables in the kernel: what the diff compares, plus a fingerprint of each chain.

The diff compares rules by the content digest in their comments. A rule edited in place that kept its
comment would pass that comparison, so the agent also remembers a hash of every chain's rule expressions as
it left them after its last apply; a chain whose digests are unchanged but whose expressions differ was
edited by someone else and is refilled. (Right after a start nothing is trusted yet: the first reading is
the reference, and the store remains the authority for everything the digests cover.)
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from guestwall.compile import names
from guestwall.dataplane.backend import Backend
from guestwall.dataplane.state import ActualTable, parse_table

ChainKey = tuple[str, str]  # (family, chain)
Fingerprints = dict[ChainKey, tuple[tuple[str, ...], str]]  # -> (rule digests, hash of the rule expressions)
TAMPERED = "tampered"


def read_kernel(backend: Backend) -> tuple[dict[str, ActualTable], Fingerprints]:
    """Our tables as they are now (as ``dataplane.state.read_state``) and their chains' fingerprints."""
    state: dict[str, ActualTable] = {}
    prints: Fingerprints = {}
    for family in names.FAMILIES:
        listing = backend.list_json(f"table {family} {names.TABLE}")
        if listing is None:
            continue
        table = parse_table(family, listing)
        state[family] = table
        exprs: dict[str, list[str]] = {}
        for obj in listing.get("nftables", []):
            rule: dict[str, Any] | None = obj.get("rule")
            if rule is not None:
                text = json.dumps(rule.get("expr"), sort_keys=True) + "\x1f" + str(rule.get("comment", ""))
                exprs.setdefault(rule["chain"], []).append(text)
        for name, chain in table.chains.items():
            digest = hashlib.sha256("\n".join(exprs.get(name, [])).encode()).hexdigest()
            prints[(family, name)] = (tuple(chain.digests), digest)
    return state, prints


def mark_tampered(
    state: dict[str, ActualTable], trusted: Fingerprints, current: Fingerprints
) -> list[ChainKey]:
    """Chains edited in place since ``trusted`` was taken: their digests are blanked in ``state``, so the
    diff flushes and refills them. Returns them."""
    tampered = []
    for key, (digests, exprs) in current.items():
        known = trusted.get(key)
        if known is not None and known[0] == digests and known[1] != exprs:
            family, chain = key
            state[family].chains[chain].digests = [TAMPERED] * len(digests)
            tampered.append(key)
    return tampered
