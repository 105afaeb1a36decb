"""What a user sees (issue 10): warnings for ignored attributes, -q after the subcommand, --format and -c,
``apply --dry-run`` with nothing to change, help that documents the environment. Through the real CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

TYPO = "<filter name='ssh' chain='root'><rule action='accept' direction='in'><tcp dstport='22'/></rule></filter>"


def gw(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "guestwall", "--db", f"sqlite:///{tmp_path}/gw.db", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "80", **(env or {})},
        cwd=tmp_path,
        timeout=60,
    )


def with_store(tmp_path: Path) -> None:
    """Reads never create a store: a define does (with libvirt's builtin filters)."""
    (tmp_path / "seed.xml").write_text("<filter name='seed' chain='root'/>")
    assert gw(tmp_path, "nwfilter-define", "seed.xml").returncode == 0


def test_an_ignored_attribute_is_warned_about_and_refused_with_validate(tmp_path: Path) -> None:
    (tmp_path / "ssh.xml").write_text(TYPO)
    refused = gw(tmp_path, "nwfilter-define", "ssh.xml", "--validate")
    assert refused.returncode == 1 and "dstport" in refused.stderr
    defined = gw(tmp_path, "nwfilter-define", "ssh.xml")
    assert defined.returncode == 0
    assert defined.stderr.startswith("warning: rule 1: attribute 'dstport' of <tcp> is not a tcp attribute")


def test_quiet_after_the_subcommand(tmp_path: Path) -> None:
    (tmp_path / "ssh.xml").write_text(TYPO.replace(" dstport='22'", " dstportstart='22'"))
    assert gw(tmp_path, "nwfilter-define", "ssh.xml", "-q").stdout == ""
    listed = gw(tmp_path, "nwfilter-list", "-q").stdout
    assert "UUID" not in listed and "ssh" in listed


@pytest.mark.parametrize("fmt", ["json", "yaml", "value", "table"])
def test_every_list_has_the_formats(tmp_path: Path, fmt: str) -> None:
    with_store(tmp_path)
    result = gw(tmp_path, "nwfilter-list", "--format", fmt, "-c", "name")
    assert result.returncode == 0, result.stderr
    if fmt == "json":
        assert {"name": "clean-traffic"} in json.loads(result.stdout)
    elif fmt == "value":
        assert "clean-traffic\n" in result.stdout
    else:
        assert "clean-traffic" in result.stdout
    assert "uuid" not in result.stdout.lower() or (fmt == "table" and "UUID" not in result.stdout)


def test_unknown_column_is_an_error(tmp_path: Path) -> None:
    with_store(tmp_path)
    result = gw(tmp_path, "nwfilter-list", "--format", "json", "-c", "colour")
    assert result.returncode == 2 and "unknown column 'colour'" in result.stderr


def test_help_documents_the_environment_and_is_not_cut(tmp_path: Path) -> None:
    text = gw(tmp_path, "--help").stdout
    assert "GUESTWALL_DB" in text and "GUESTWALL_CONFIG" in text
    commands = text[text.index("Commands:") :]
    assert "..." not in commands


def test_status_help_documents_exit_codes(tmp_path: Path) -> None:
    assert "Exit status" in gw(tmp_path, "status", "--help").stdout


def test_dumpxml_and_undefine_as_json(tmp_path: Path) -> None:
    with_store(tmp_path)
    dumped = json.loads(gw(tmp_path, "nwfilter-dumpxml", "clean-traffic", "--format", "json").stdout)
    assert dumped["name"] == "clean-traffic" and dumped["xml"].startswith("<filter name='clean-traffic'")
    (tmp_path / "ssh.xml").write_text(TYPO.replace(" dstport='22'", " dstportstart='22'"))
    defined = json.loads(gw(tmp_path, "nwfilter-define", "ssh.xml", "--format", "json").stdout)
    assert defined["name"] == "ssh" and defined["changed"] is True
    gone = gw(tmp_path, "nwfilter-undefine", "ssh", "--format", "yaml").stdout
    assert gone == "name: ssh\nundefined: true\n"


def test_commands_for_people_only_take_no_format(tmp_path: Path) -> None:
    assert gw(tmp_path, "lab", "status", "--format", "json").returncode == 2  # refused, not ignored
