"""Interface names: what Linux accepts as a device name, narrowed to what nftables can match as a plain value.

One rule for every way a name comes in (binding XML, cloud ports and the driver's VIFs, the links the agent
and the unbound-port path find on the host). Linux allows any byte but '/', ':', blanks and NUL in a name of
at most 15 bytes; nftables cannot write '"' in a name at all, treats a trailing '*' as a wildcard and '\\'
as an escape, so a name with any of these could not be matched as itself: it is refused where a user gives
it, and skipped with a warning where the host has it (the port then stays under the fail-closed drop).
"""

from __future__ import annotations

import re

IFNAMSIZ = 16
NFT_UNSAFE = '"*\\'
# '/', ':', blanks (re's \s is str.isspace) and control characters; then what nftables cannot match
_NOT_LINUX = re.compile(r"[/:\s\x00-\x1f\x7f]")
_NOT_NFT = re.compile(f"[{re.escape(NFT_UNSAFE)}]")


def ifname_problem(name: str) -> str | None:
    """Why ``name`` cannot be a guest port's device name, or None when it can."""
    if not name:
        return "empty"
    if len(name.encode()) >= IFNAMSIZ:
        return f"longer than {IFNAMSIZ - 1} bytes"
    if name in (".", ".."):
        return "not allowed"
    if _NOT_LINUX.search(name):
        return "containing '/', ':', blanks or control characters"
    if _NOT_NFT.search(name):
        return "containing '\"', '*' or '\\', which nftables cannot match as part of a name"
    return None
