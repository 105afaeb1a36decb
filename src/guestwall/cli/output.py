"""virsh's table layout (vshTable in tools/vsh-table.c), for nwfilter-list and nwfilter-binding-list.

Each line starts with one space; a column is as wide as its widest cell (the header included when shown);
columns are left-aligned and 3 spaces apart; the last column is not padded; under the header a line of
(width + 3) dashes per column. ``virsh -q`` leaves out the header and the dashes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence


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


# ---- guestwall's own output: --format table|json|yaml|value and -c COLUMN on every command ------------

FORMATS = ("table", "json", "yaml", "value")


def cell_text(value: object) -> str:
    """One cell: lists joined by ', ' (an address, MAC or UUID is never split), nested data as JSON."""
    import json

    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return ", ".join(cell_text(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def selected(
    rows: Sequence[Mapping[str, object]], headers: Sequence[str], columns: Sequence[str]
) -> list[str]:
    """The columns to show: ``columns`` (-c, each checked) or all ``headers``."""
    if not columns:
        return list(headers)
    known = list(headers) or sorted({k for row in rows for k in row})
    for column in columns:
        if column not in known:
            raise ValueError(f"unknown column '{column}' (known: {', '.join(known)})")
    return list(columns)


def render(
    fmt: str,
    data: Mapping[str, object] | Sequence[Mapping[str, object]],
    headers: Sequence[str],
    columns: Sequence[str] = (),
) -> str:
    """``data`` (one object or a list of rows) as ``fmt``; a plain table never wraps inside a cell."""
    import json

    rows = [data] if isinstance(data, Mapping) else list(data)
    shown = selected(rows, headers or (list(rows[0]) if rows else []), columns)
    picked = [{k: row.get(k) for k in shown} for row in rows]
    out: object = picked[0] if isinstance(data, Mapping) and picked else picked
    if fmt == "json":
        return json.dumps(out, indent=2, default=str) + "\n"
    if fmt == "yaml":
        import yaml  # type: ignore[import-untyped]

        return str(yaml.safe_dump(json.loads(json.dumps(out, default=str)), sort_keys=False))
    if fmt == "value":
        return "".join(" ".join(cell_text(row[k]) for k in shown) + "\n" for row in picked)
    if isinstance(data, Mapping):
        return virsh_table(
            ["Field", "Value"], [[k, cell_text(v)] for k, v in picked[0].items()] if picked else []
        )
    return virsh_table(shown, [[cell_text(row[k]) for k in shown] for row in picked])


def emit(
    fmt: str,
    data: Mapping[str, object] | Sequence[Mapping[str, object]],
    headers: Sequence[str],
    columns: Sequence[str] = (),
) -> None:
    import click

    try:
        text = render(fmt, data, headers, columns)
    except ValueError as e:
        raise click.UsageError(str(e)) from None
    click.echo(text, nl=False)
