"""virsh's table layout (vshTable in tools/vsh-table.c), for nwfilter-list and nwfilter-binding-list.

Each line starts with one space; a column is as wide as its widest cell (the header included when shown);
columns are left-aligned and 3 spaces apart; the last column is not padded; under the header a line of
(width + 3) dashes per column. ``virsh -q`` leaves out the header and the dashes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence


def virsh_table(headers: Sequence[str], rows: Iterable[Sequence[str]], *, header: bool = True) -> str:
    """The table as text, every line ending in a newline (virsh then adds its end-of-command empty line)."""
    body = [list(row) for row in rows]
    for row in body:
        if len(row) != len(headers):
            raise ValueError(f"row {row!r} has {len(row)} cells, expected {len(headers)}")
    measured = ([list(headers)] if header else []) + body
    widths = [max((len(row[i]) for row in measured), default=0) for i in range(len(headers))]
    lines = []
    if header:
        lines.append(_line(headers, widths))
        lines.append("-" * sum(width + 3 for width in widths))
    lines.extend(_line(row, widths) for row in body)
    return "".join(line + "\n" for line in lines)


def _line(cells: Sequence[str], widths: Sequence[int]) -> str:
    last = len(cells) - 1
    return "".join(
        " " + (cell if i == last else cell.ljust(widths[i]) + "  ") for i, cell in enumerate(cells)
    )
