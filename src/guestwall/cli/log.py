"""``guestwall log``: read the drop log the agent writes (docs/logging.md).

Records are JSON lines in the configured file and its rotated copies (``[log] path``, oldest first); this
command filters them by port and time and prints them as text (one line each) or as the JSON lines.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, TextIO

import click

from guestwall.agent.droplog import log_files
from guestwall.cli.context import reported
from guestwall.errors import InputError

_RELATIVE = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """``10m``, ``2h``, ``1d`` (ago), an ISO 8601 time (UTC unless it says otherwise) or epoch seconds."""
    now = now or datetime.now(UTC)
    match = _RELATIVE.match(text.strip())
    if match:
        return now - timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])
    try:
        return datetime.fromtimestamp(float(text), UTC)
    except ValueError:
        pass
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise InputError(
            f"--since '{text}': expected 10m, 2h, 1d, an ISO 8601 time or epoch seconds"
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _records(lines: Iterator[str]) -> Iterator[dict[str, Any]]:
    for line in lines:
        try:
            row = json.loads(line)
        except ValueError:
            continue  # a line cut by a crash or a rotation
        if isinstance(row, dict):
            yield row


def _wanted(row: dict[str, Any], port: str | None, since: datetime | None) -> bool:
    if port is not None and row.get("port") != port:
        return False
    if since is not None:
        try:
            when = datetime.fromisoformat(str(row.get("time", "")).replace("Z", "+00:00"))
        except ValueError:
            return False
        if when < since:
            return False
    return True


def format_text(row: dict[str, Any]) -> str:
    """One line: time, port, direction, verdict, the rule, then the packet."""
    head = f"{row.get('time', '?')} {row.get('host', '')}"
    rule = (
        f"filter {row.get('filter', '?')} rule {row.get('rule', '?')}"
        if "filter" in row
        else f"rule {row.get('rule_id', '?')}"
    )
    if "skipped" in row:
        verdict = str(row.get("verdict", "")).upper()
        return f"{head} skipped {row['skipped']} ({verdict} by {rule}: over the rate limit)"
    if "lost" in row:
        return f"{head} lost records: {row['lost']}"
    src = row.get("src", row.get("src_mac", "?"))
    dst = row.get("dst", row.get("dst_mac", "?"))
    if "sport" in row:
        src, dst = f"{src}:{row['sport']}", f"{dst}:{row['dport']}"
    packet = f"{row.get('protocol', row.get('ethertype', ''))} {src} -> {dst}"
    verdict = str(row.get("verdict", "?")).upper()
    return f"{head} {row.get('port', '?')} {row.get('direction', '?')} {verdict} {rule}: {packet}"


@click.command("log")
@click.option("--follow", "-f", is_flag=True, help="Keep printing new records as they are written.")
@click.option("--port", default=None, metavar="DEV", help="Only this port's records.")
@click.option(
    "--since", default=None, metavar="T", help="Only records from T on: 10m, 2h, 1d, ISO 8601, epoch."
)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--file", "path", default=None, metavar="FILE", help="The log file (default: [log] path).")
def log(follow: bool, port: str | None, since: str | None, fmt: str, path: str | None) -> None:
    """Print the drop log: packets dropped (or accepted) by the rules of logged ports, and how many the rate
    limit left out. Log a port with the binding parameter GUESTWALL_LOG=drop (or all)."""
    from guestwall.config import load_config

    with reported():
        start = parse_since(since) if since else None
        path = path or load_config().log_path

    def emit(row: dict[str, Any]) -> None:
        if _wanted(row, port, start):
            click.echo(json.dumps(row, separators=(",", ":")) if fmt == "json" else format_text(row))

    for name in log_files(path):
        with reported():
            f = _opened(name)
        with f:
            for row in _records(iter(f)):
                emit(row)
    if follow:
        _follow(path, emit)


def _opened(name: str) -> TextIO:
    try:
        return open(name, encoding="utf-8", errors="replace")  # the caller closes it
    except OSError as e:
        raise InputError(f"cannot read the drop log {name}: {e.strerror}") from None


def _follow(path: str, emit: Any) -> None:
    """Print what is appended; a rotation (a new file) is noticed by its inode and read from the top."""
    handle = open(path, encoding="utf-8", errors="replace") if os.path.exists(path) else None  # noqa: SIM115
    if handle is not None:
        handle.seek(0, os.SEEK_END)
    try:
        while True:
            if handle is not None:
                for row in _records(iter(handle.readline, "")):
                    emit(row)
                sys.stdout.flush()
            try:
                inode = os.stat(path).st_ino
            except FileNotFoundError:
                inode = None
            if inode is not None and (handle is None or os.fstat(handle.fileno()).st_ino != inode):
                if handle is not None:
                    handle.close()
                handle = open(path, encoding="utf-8", errors="replace")  # noqa: SIM115
                continue
            time.sleep(0.2)
    except KeyboardInterrupt:
        pass
    finally:
        if handle is not None:
            handle.close()
