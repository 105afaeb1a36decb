"""Which command lines the ``guestwall`` entry point may hand to a running agent (cli.remote.parse), and that
the entry point imports nothing heavy before it decides. The exchange with a real agent is tested in
tests/agent/test_agent_control.py."""

from __future__ import annotations

import subprocess
import sys

import pytest

from guestwall.cli.remote import FORWARDED, Line, one_shot, parse


@pytest.mark.parametrize(
    ("argv", "env", "expected"),
    [
        (["nwfilter-define", "f.xml"], {}, Line("nwfilter-define", None, None, None)),
        (
            ["--db", "sqlite:////s.db", "--netns=ns1", "-q", "port", "create", "x", "--mac", "m"],
            {},
            Line("port", "ns1", "sqlite:////s.db", None),
        ),
        (
            ["secgroup", "rule-create", "g"],
            {"GUESTWALL_NETNS": "ns2", "GUESTWALL_DB": "sqlite:////e.db", "GUESTWALL_HOST": "h"},
            Line("secgroup", "ns2", "sqlite:////e.db", "h"),
        ),
        # an option beats the environment; an empty variable is no value (as Click reads it)
        (
            ["--netns", "ns3", "provider", "block", "c"],
            {"GUESTWALL_NETNS": "ns2"},
            Line("provider", "ns3", None, None),
        ),
        (
            ["nwfilter-binding-delete", "p"],
            {"GUESTWALL_NETNS": ""},
            Line("nwfilter-binding-delete", None, None, None),
        ),
    ],
)
def test_forwarded_lines(argv: list[str], env: dict[str, str], expected: Line) -> None:
    assert parse(argv, env) == expected


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["--db"],  # a usage error: said by Click, here
        ["nwfilter-list"],  # reads: fast on their own
        ["nwfilter-edit", "f"],  # interactive
        ["agent"],
        ["--wait", "nwfilter-define", "f.xml"],  # would hold the agent while it waits for it
        ["--help"],
        ["--version"],
        ["nwfilter-define", "--help"],
        ["port", "create", "-h"],
        ["nwfilter-define", "/dev/stdin"],  # the agent's own descriptors
        ["nwfilter-define", "/proc/self/fd/0"],
        ["nwfilter-binding-create", "--", "f.xml"],
        ["--netns", "", "nwfilter-define", "f.xml"],  # an error, said here
        ["--bogus", "nwfilter-define", "f.xml"],
    ],
)
def test_lines_run_here(argv: list[str]) -> None:
    assert parse(argv, {}) is None


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--db", "sqlite:////s.db", "-q", "nwfilter-binding-create", "a.xml", "b.xml"], True),
        (["--netns", "ns1", "apply"], True),
        (["port", "create", "x"], True),
        (["agent"], False),  # runs on: its collector stays on
        (["api", "serve"], False),
        (["nwfilter-list"], False),
        (["--help"], False),
        ([], False),
    ],
)
def test_one_shot_commands(argv: list[str], expected: bool) -> None:
    # the commands run without the cyclic collector in a process of their own
    assert one_shot(argv) is expected


def test_every_forwarded_command_exists_and_writes() -> None:
    from guestwall.cli.app import COMMANDS

    assert set(COMMANDS) >= FORWARDED
    assert not {name for name in FORWARDED if "list" in name or "dumpxml" in name}


def test_the_entry_point_decides_before_importing_click() -> None:
    """No agent (a run directory without sockets): the decision itself loads only the standard library."""
    code = (
        "import os, sys; os.environ['GUESTWALL_RUN_DIR'] = '/nonexistent'; "
        "from guestwall.cli.remote import forward; "
        "assert forward(['nwfilter-define', 'f.xml'], os.environ) is None; "
        "heavy = {'click', 'sqlalchemy', 'lxml', 'pyroute2', 'guestwall.store', 'guestwall.cli.app'}; "
        "print(sorted(heavy & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
