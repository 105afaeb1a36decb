"""Defects found by attacking the CLI and the store (issue 15): unbounded reads, filters stored too large to
read back, stores created by reads, store file modes, tracebacks instead of one error line."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from guestwall.errors import FilterError, StoreError
from guestwall.services.filters import define_filter, list_filters
from guestwall.store import open_reader, open_store

LIMIT = 4 * 1024 * 1024


def gw(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "guestwall", "--db", f"sqlite:///{tmp_path}/gw.db", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
        cwd=tmp_path,
    )


def one_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr, result.stderr
    return result.stderr


# ---- 6: every input is read with a cap -------------------------------------------------------------------


@pytest.mark.parametrize("command", ["nwfilter-define", "nwfilter-binding-create"])
def test_endless_input_is_refused(tmp_path: Path, command: str) -> None:
    open_store(f"sqlite:///{tmp_path}/gw.db").close()
    assert "is too large" in one_error(gw(tmp_path, command, "/dev/zero"))
    big = tmp_path / "big.xml"
    big.write_bytes(b" " * (LIMIT + 1))
    assert "is too large" in one_error(gw(tmp_path, command, str(big)))


def test_the_cli_cap_is_the_parsers_limit() -> None:
    from guestwall.cli.nwfilter import MAX_INPUT_BYTES
    from guestwall.nwfilter.safexml import MAX_XML_BYTES

    assert MAX_INPUT_BYTES == MAX_XML_BYTES == LIMIT


# ---- 7: what is accepted can be read back -----------------------------------------------------------------


def test_a_filter_stored_above_the_limit_is_refused(tmp_path: Path) -> None:
    rule = "<rule action='drop' direction='in'><tcp/></rule>"
    count = (LIMIT - 100) // len(rule)
    xml = f"<filter name='huge'>{rule * count}</filter>"
    assert len(xml) < LIMIT
    store = open_store(f"sqlite:///{tmp_path}/gw.db")
    try:
        with pytest.raises(FilterError, match=r"would be stored as .* above the limit"):
            define_filter(store, xml)
        assert len(list_filters(store)) == 24  # nothing stored; the store stays readable
    finally:
        store.close()


# ---- 8: only commands that write create a store ------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["nwfilter-binding-list"],
        ["nwfilter-list"],
        ["nwfilter-dumpxml", "clean-traffic"],
        ["apply", "--dry-run"],
        ["apply"],
        ["status"],
        ["simulate", "vnet0", "--direction", "out", "--packet", "tcp"],
        ["port", "list"],
        ["secgroup", "list"],
        ["provider", "list"],
        ["nwfilter-edit", "clean-traffic"],
        ["net-list"],
        ["net-dumpxml", "default"],
        ["floating-ip", "list"],
        ["token", "list"],
        ["host", "list"],
        ["host-settings", "show"],
        ["doctor"],
    ],
)
def test_reads_do_not_create_a_store(tmp_path: Path, args: list[str]) -> None:
    assert "there is no guestwall store at" in one_error(gw(tmp_path, *args))
    assert not (tmp_path / "gw.db").exists()


def test_python_reader_does_not_create_a_store(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="there is no guestwall store"):
        open_reader(f"sqlite:///{tmp_path}/gw.db")
    with pytest.raises(StoreError, match="there is no guestwall store"):
        open_store(f"sqlite:///{tmp_path}/gw.db", create=False)
    assert not (tmp_path / "gw.db").exists()


@pytest.mark.parametrize("args", [["--netns", "", "apply", "--dry-run"], ["agent", "--once", "--netns", ""]])
def test_an_empty_namespace_name_is_an_error(tmp_path: Path, args: list[str]) -> None:
    assert "an empty name is not a network namespace" in one_error(gw(tmp_path, *args))


# ---- 10: the store is private ------------------------------------------------------------------------------


def test_a_new_store_is_private(tmp_path: Path) -> None:
    open_store(f"sqlite:///{tmp_path}/private/gw.db").close()
    assert stat.S_IMODE((tmp_path / "private").stat().st_mode) == 0o700
    for path in (tmp_path / "private").iterdir():  # the database and its write-ahead log files
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def test_an_old_readable_store_is_made_private(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/gw.db"
    open_store(url).close()
    (tmp_path / "gw.db").chmod(0o644)
    open_store(url).close()
    assert stat.S_IMODE((tmp_path / "gw.db").stat().st_mode) == 0o600


# ---- 15: one error line, never a traceback --------------------------------------------------------------


def test_edit_with_an_editor_that_removes_the_file(tmp_path: Path) -> None:
    open_store(f"sqlite:///{tmp_path}/gw.db").close()
    editor = tmp_path / "editor.sh"
    editor.write_text('#!/bin/sh\nrm -f "$1"\n')
    editor.chmod(0o755)
    result = gw(tmp_path, "nwfilter-edit", "clean-traffic", env={"EDITOR": str(editor), "VISUAL": ""})
    assert "Failed to open file" in one_error(result)
    assert result.stderr.count("error:") == 1


@pytest.mark.parametrize(
    ("packet", "message"),
    [
        ("tcp comment='x", "No closing quotation"),
        ("tcp dport=99999", "dport=99999 is out of range"),
        ("icmp icmptype=300", "icmptype=300 is out of range"),
    ],
)
def test_simulate_refuses_bad_packets_in_one_line(tmp_path: Path, packet: str, message: str) -> None:
    open_store(f"sqlite:///{tmp_path}/gw.db").close()
    result = gw(tmp_path, "simulate", "vnet0", "--direction", "out", "--packet", packet)
    assert message in one_error(result)


# ---- 14: what the kernel would refuse is refused at define time, saying where ---------------------------------

INVERTED = [
    ("<tcp dstportstart='90' dstportend='80'/>", "dstportend '80' is below dstportstart '90'"),
    ("<udp srcipfrom='10.0.0.9' srcipto='10.0.0.1'/>", "srcipto '10.0.0.1' is below srcipfrom '10.0.0.9'"),
    ("<ipv6 protocol='icmpv6' type='9' typeend='3'/>", "typeend '3' is below type '9'"),
]


@pytest.mark.parametrize(("match", "message"), INVERTED)
def test_inverted_ranges_are_refused_at_define(tmp_path: Path, match: str, message: str) -> None:
    xml = f"<filter name='inv'><rule action='drop' direction='in'>{match}</rule></filter>"
    store = open_store(f"sqlite:///{tmp_path}/gw.db")
    try:
        with pytest.raises(FilterError, match=re.escape(message)):
            define_filter(store, xml)
    finally:
        store.close()
    (tmp_path / "inv.xml").write_text(xml)
    stderr = one_error(gw(tmp_path, "nwfilter-define", "inv.xml"))
    assert message in stderr and "rule 1" in stderr
