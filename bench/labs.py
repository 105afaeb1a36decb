"""The data-path labs: one two-guest lab per ruleset, each loaded once and kept for the whole run.

Loading a per-port ruleset of 5000 ports takes minutes in nft, so rulesets are not swapped in one lab:
every ruleset gets its own lab (namespaces, bridge, two guests), and the traffic rounds alternate between
labs. The programming measurements at a data-path N run in that N's lab host namespace, so what they
leave loaded is what the packets then meet.
"""

from __future__ import annotations

from typing import Any

from bench.netns import RUN


class LabPool:
    """Labs by key ("none", "guestwall-5000", ...); all removed by ``close`` (also on errors)."""

    def __init__(self) -> None:
        self.labs: dict[str, Any] = {}

    def prefix(self, index: int) -> str:
        return f"{RUN}d{chr(ord('a') + index)}"

    def get(self, key: str) -> Any:
        from guestwall.lab import LabSpec, lab_up

        if key not in self.labs:
            self.labs[key] = lab_up(LabSpec(prefix=self.prefix(len(self.labs)), guests=2), replace=True)
        return self.labs[key]

    def rebuild(self, key: str) -> Any:
        """A lab that vanished or broke: built again (empty: the caller loads its ruleset again)."""
        from guestwall.lab import LabSpec, lab_up

        old = self.labs[key]
        self.labs[key] = lab_up(LabSpec(prefix=old.prefix, guests=2), replace=True)
        return self.labs[key]

    def close(self) -> None:
        from guestwall.lab import lab_down

        for lab in self.labs.values():
            lab_down(lab.prefix)
        self.labs.clear()
