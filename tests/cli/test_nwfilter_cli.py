"""The virsh-compatible filter commands end to end: a real process, exact stdout/stderr and exit codes."""

from __future__ import annotations

import itertools
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from uuid import UUID

import pytest

from guestwall.store import open_store

BINDING_XML = (
    "<filterbinding><owner><name>vm</name><uuid>00000000-0000-4000-8000-000000000001</uuid></owner>"
    "<portdev name='vnet0'/><mac address='52:54:00:00:00:01'/>"
    "<filterref filter='clean-traffic'><parameter name='IP' value='10.0.0.1'/></filterref></filterbinding>"
)

U1 = "00000000-0000-0000-0000-000000000001"
U2 = "00000000-0000-0000-0000-000000000002"

WEB = f"""<filter name='web' chain='ipv4'>
  <uuid>{U1}</uuid>
  <rule action='accept' direction='in' priority='500'>
    <tcp dstportstart='80'/>
  </rule>
  <filterref filter='clean-traffic'/>
</filter>
"""
# What virsh nwfilter-dumpxml prints for WEB: the default ipv4 chain priority appears, then an empty line.
WEB_DUMP = WEB.replace("chain='ipv4'>", "chain='ipv4' priority='-700'>") + "\n"


class Guestwall:
    def __init__(self, tmp_path: Path) -> None:
        self.tmp = tmp_path
        self.url = f"sqlite:///{tmp_path}/guestwall.db"

    def __call__(
        self, *args: str, input: str | None = None, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "guestwall", "--db", self.url, *args],
            capture_output=True,
            text=True,
            input=input if input is not None else "",
            env={**os.environ, **(env or {})},
            cwd=self.tmp,
            timeout=60,
        )

    def file(self, name: str, text: str) -> str:
        (self.tmp / name).write_text(text)
        return name

    def ok(self, *args: str, stdout: str) -> None:
        result = self(*args)
        assert (result.returncode, result.stderr, result.stdout) == (0, "", stdout)

    def fails(self, *args: str, stderr: str, stdout: str = "\n", prefix: bool = False) -> None:
        """Exit 1 with exactly these outputs; with ``prefix``, stderr's lines need only start as given
        (the XML layer may add where the error is, e.g. " (element tcp, rule 1)")."""
        result = self(*args)
        assert (result.returncode, result.stdout) == (1, stdout)
        if prefix:
            lines = result.stderr.splitlines()
            wanted = stderr.splitlines()
            assert len(lines) == len(wanted) and all(map(str.startswith, lines, wanted)), result.stderr
        else:
            assert result.stderr == stderr


@pytest.fixture
def gw(tmp_path: Path) -> Guestwall:
    return Guestwall(tmp_path)


def test_define_then_dumpxml(gw: Guestwall) -> None:
    gw.ok("nwfilter-define", gw.file("web.xml", WEB), stdout="Network filter web defined from web.xml\n\n")
    gw.ok("nwfilter-dumpxml", "web", stdout=WEB_DUMP)
    gw.ok("nwfilter-dumpxml", U1, stdout=WEB_DUMP)
    gw.ok("nwfilter-dumpxml", "--nwfilter", "web", stdout=WEB_DUMP)
    gw.ok("-q", "nwfilter-dumpxml", "web", stdout=WEB_DUMP[:-1])


def test_define_with_file_option_validate_and_quiet(gw: Guestwall) -> None:
    path = gw.file("web.xml", WEB)
    gw.ok(
        "nwfilter-define", "--file", path, "--validate", stdout="Network filter web defined from web.xml\n\n"
    )
    gw.ok("-q", "nwfilter-define", path, stdout="")


def test_define_errors(gw: Guestwall) -> None:
    gw.ok("-q", "nwfilter-define", gw.file("web.xml", WEB), stdout="")
    first = "error: Failed to define network filter from f.xml\n"
    gw.fails(
        "nwfilter-define",
        gw.file("f.xml", WEB.replace("'web'", "'other'")),
        stderr=first
        + "error: operation failed: filter with same UUID but different name ('web') already exists\n",
    )
    gw.fails(
        "nwfilter-define",
        gw.file("f.xml", WEB.replace(U1, U2)),
        stderr=first + f"error: operation failed: filter 'web' already exists with uuid {U1}\n",
    )
    gw.fails(
        "nwfilter-define",
        gw.file("f.xml", WEB.replace("'clean-traffic'", "'web'")),
        stderr=first + "error: operation failed: filter would introduce a loop\n",
    )
    gw.fails(
        "nwfilter-define",
        gw.file("f.xml", WEB.replace("'80'", "'65536'")),
        stderr=first + "error: internal error: dstportstart has illegal value 65536\n",
        prefix=True,
    )
    gw.fails(
        "-q",
        "nwfilter-define",
        "f.xml",
        stdout="",
        stderr=first + "error: internal error: dstportstart has illegal value 65536\n",
        prefix=True,
    )
    gw.fails(
        "nwfilter-define",
        "missing.xml",
        stderr="error: Failed to open file 'missing.xml': No such file or directory\n",
    )
    result = gw("nwfilter-define")
    assert (result.returncode, result.stderr) == (
        1,
        "error: command 'nwfilter-define' requires <file> option\n",
    )
    gw.ok("nwfilter-dumpxml", "web", stdout=WEB_DUMP)  # unchanged by all of that


def test_redefine_without_uuid_updates(gw: Guestwall) -> None:
    gw.ok("-q", "nwfilter-define", gw.file("web.xml", WEB), stdout="")
    no_uuid = WEB.replace(f"  <uuid>{U1}</uuid>\n", "").replace("'80'", "'443'")
    gw.ok(
        "nwfilter-define", gw.file("web2.xml", no_uuid), stdout="Network filter web defined from web2.xml\n\n"
    )
    gw.ok("-q", "nwfilter-dumpxml", "web", stdout=WEB_DUMP[:-1].replace("'80'", "'443'"))


def test_list_layout(gw: Guestwall) -> None:
    store = open_store(gw.url)
    with store.write() as writer:
        for record in writer.filters():
            writer.delete_filter(record.uuid)
    store.close()
    gw.ok("nwfilter-list", stdout=" UUID   Name\n" + "-" * 14 + "\n\n")
    gw.ok("-q", "nwfilter-list", stdout="")
    gw.ok("-q", "nwfilter-define", gw.file("web.xml", WEB), stdout="")
    gw.ok(
        "-q",
        "nwfilter-define",
        gw.file("b.xml", "<filter name='Beta'><uuid>" + U2 + "</uuid></filter>"),
        stdout="",
    )
    gw.ok(
        "nwfilter-list",
        stdout=(
            " UUID                                   Name\n"  # UUID is 36 wide, "Beta"/"Name" 4
            + "-" * (36 + 3 + 4 + 3)
            + "\n"
            f" {U2}   Beta\n"
            f" {U1}   web\n"
            "\n"
        ),
    )
    gw.ok("-q", "nwfilter-list", stdout=f" {U2}   Beta\n {U1}   web\n")


def test_list_of_the_builtins(gw: Guestwall) -> None:
    open_store(gw.url).close()  # only commands that write create a store
    result = gw("nwfilter-list")
    assert (result.returncode, result.stderr) == (0, "")
    lines = result.stdout.split("\n")
    assert lines[0] == " UUID" + " " * 32 + "   Name"
    assert lines[1] == "-" * 65
    assert lines[-2:] == ["", ""]  # the last row ends with a newline, then virsh's empty line
    rows = lines[2:-2]
    assert len(rows) == 24
    assert all(re.fullmatch(r" [0-9a-f-]{36}   [a-z0-9-]+", row) for row in rows)
    assert rows[0].endswith("   allow-arp") and rows[-1].endswith("   qemu-announce-self-rarp")


def test_undefine(gw: Guestwall) -> None:
    gw.ok("-q", "nwfilter-define", gw.file("web.xml", WEB), stdout="")
    gw.ok("nwfilter-undefine", U1, stdout=f"Network filter {U1} undefined\n\n")
    gw.fails(
        "nwfilter-undefine",
        "web",
        stderr="error: failed to get nwfilter 'web'\n"
        "error: Network filter not found: no nwfilter with matching name 'web'\n",
    )
    gw.fails(
        "nwfilter-dumpxml",
        U1,
        stderr=f"error: failed to get nwfilter '{U1}'\n"
        f"error: Network filter not found: no nwfilter with matching name '{U1}'\n",
    )
    gw.ok("nwfilter-undefine", "--nwfilter", "allow-arp", stdout="Network filter allow-arp undefined\n\n")


def test_undefine_in_use(gw: Guestwall) -> None:
    store = open_store(gw.url)
    with store.write() as writer:
        writer.add_binding("vnet0", "clean-traffic", BINDING_XML)
    store.close()
    gw.fails(
        "nwfilter-undefine",
        "no-mac-spoofing",
        stderr="error: Failed to undefine network filter no-mac-spoofing\n"
        "error: Requested operation is not valid: nwfilter is in use\n",
    )


def test_db_from_the_environment(gw: Guestwall, tmp_path: Path) -> None:
    other = f"sqlite:///{tmp_path}/other.db"
    result = subprocess.run(
        [sys.executable, "-m", "guestwall", "-q", "nwfilter-list"],
        capture_output=True,
        text=True,
        env={**os.environ, "GUESTWALL_DB": other},
    )
    assert result.returncode == 1 and "there is no guestwall store at" in result.stderr
    assert not (tmp_path / "other.db").exists()  # a read never creates a store
    open_store(other).close()
    result = subprocess.run(
        [sys.executable, "-m", "guestwall", "-q", "nwfilter-list"],
        capture_output=True,
        text=True,
        env={**os.environ, "GUESTWALL_DB": other},
    )
    assert result.returncode == 0 and len(result.stdout.splitlines()) == 24


def test_store_errors_are_reported(gw: Guestwall, tmp_path: Path) -> None:
    (tmp_path / "plain").write_text("")
    gw.url = f"sqlite:///{tmp_path}/plain/sub/g.db"
    gw.fails(
        "nwfilter-list",
        stderr="error: Failed to list network filters\n"
        f"error: internal error: there is no guestwall store at {tmp_path}/plain/sub/g.db "
        "(check --db or GUESTWALL_DB)\n",
    )
    gw.fails(
        "nwfilter-define",
        gw.file("web.xml", WEB),
        stderr="error: Failed to define network filter from web.xml\n"
        f"error: internal error: cannot open the store database file {tmp_path}/plain/sub/g.db: "
        f"cannot create directory {tmp_path}/plain/sub: Not a directory\n",
    )


EDITOR = """#!/bin/sh
# Test editor: applies the sed expression of edit number N (counted in $EDIT_COUNT) to the file.
n=$(( $(cat "$EDIT_COUNT" 2>/dev/null || echo 0) + 1 ))
echo $n > "$EDIT_COUNT"
eval "expr=\\$EDIT_$n"
[ -n "$expr" ] && sed -i "$expr" "$1"
exit 0
"""


def edit(gw: Guestwall, *edits: str, answers: str = "") -> subprocess.CompletedProcess[str]:
    editor = gw.tmp / "editor.sh"
    editor.write_text(EDITOR)
    editor.chmod(0o755)
    env = {"EDITOR": str(editor), "VISUAL": "", "EDIT_COUNT": str(gw.tmp / "count")}
    (gw.tmp / "count").unlink(missing_ok=True)
    env.update({f"EDIT_{i}": expression for i, expression in enumerate(edits, 1)})
    return gw("nwfilter-edit", "web", input=answers, env=env)


def assert_one_error(stderr: str, mentions: str) -> None:
    # nwfilter-edit validates (as virsh's), so the wording is the schema check's; one line naming the value.
    assert stderr.startswith("error: ") and stderr.count("\n") == 1 and mentions in stderr, stderr


def test_edit(gw: Guestwall) -> None:
    gw.ok("-q", "nwfilter-define", gw.file("web.xml", WEB), stdout="")
    result = edit(gw, "s/'80'/'8080'/")
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == "Network filter web XML configuration edited.\n\n"
    gw.ok("-q", "nwfilter-dumpxml", "web", stdout=WEB_DUMP[:-1].replace("'80'", "'8080'"))

    result = edit(gw)  # the editor saves nothing new
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == "Network filter web XML configuration not changed.\n\n"


def test_edit_invalid_then_answer_no(gw: Guestwall) -> None:
    gw.ok("-q", "nwfilter-define", gw.file("web.xml", WEB), stdout="")
    result = edit(gw, "s/'80'/'65536'/", answers="n\n")
    assert result.returncode == 1
    assert_one_error(result.stderr, "65536")
    assert result.stdout == "Failed. Try again? [y,n,i,f,?]: \n"
    gw.ok("nwfilter-dumpxml", "web", stdout=WEB_DUMP)


def test_edit_invalid_then_fix_it(gw: Guestwall) -> None:
    gw.ok("-q", "nwfilter-define", gw.file("web.xml", WEB), stdout="")
    result = edit(gw, "s/'80'/'65536'/", "s/'65536'/'81'/", answers="?\ny\n")
    assert result.returncode == 0
    assert_one_error(result.stderr, "65536")
    assert result.stdout.startswith("Failed. Try again? [y,n,i,f,?]: y - yes, start editor again\n")
    assert result.stdout.endswith(
        "Failed. Try again? [y,n,i,f,?]: Network filter web XML configuration edited.\n\n"
    )
    gw.ok("-q", "nwfilter-dumpxml", "web", stdout=WEB_DUMP[:-1].replace("'80'", "'81'"))


def test_edit_turn_off_validation(gw: Guestwall) -> None:
    gw.ok("-q", "nwfilter-define", gw.file("web.xml", WEB), stdout="")
    result = edit(gw, "s/priority='500'/priority='1001'/", answers="i\n")
    assert result.returncode == 0
    assert_one_error(result.stderr, "1001")  # the schema's complaint
    assert result.stdout.endswith("Network filter web XML configuration edited.\n\n")
    # Without validation libvirt replaces an out-of-range rule priority by 500: nothing else changed.
    gw.ok("-q", "nwfilter-dumpxml", "web", stdout=WEB_DUMP[:-1])


def test_edit_end_of_input_means_no(gw: Guestwall) -> None:
    gw.ok("-q", "nwfilter-define", gw.file("web.xml", WEB), stdout="")
    result = edit(gw, "s/<filter /<filter /; s/<\\/filter>//")
    assert result.returncode == 1
    assert result.stdout == "Failed. Try again? [y,n,i,f,?]: \n\n"


def test_edit_unknown(gw: Guestwall) -> None:
    open_store(gw.url).close()
    gw.fails(
        "nwfilter-edit",
        "nope",
        stderr="error: failed to get nwfilter 'nope'\n"
        "error: Network filter not found: no nwfilter with matching name 'nope'\n",
    )


def test_virsh_table_layouts_from_libvirt() -> None:
    from guestwall.cli.output import virsh_table

    headers = ("Port Dev", "Filter")
    assert virsh_table(headers, []) == " Port Dev   Filter\n--------------------\n"
    rows = [("vnet0", "clean-traffic"), ("vnet1", "clean-traffic")]
    assert virsh_table(headers, rows) == (
        " Port Dev   Filter\n"
        "---------------------------\n"
        " vnet0      clean-traffic\n"
        " vnet1      clean-traffic\n"
    )
    assert virsh_table(headers, [("vnet012345", "x")]).startswith(" Port Dev     Filter\n")
    # Without the header (virsh -q) the header does not count for the widths.
    assert virsh_table(headers, [("a", "b")], header=False) == " a   b\n"
    with pytest.raises(ValueError):
        virsh_table(headers, [("only one",)])


@pytest.mark.parametrize("command", [["nwfilter-list"], ["nwfilter-dumpxml", "clean-traffic"]])
def test_read_only_commands_stay_light(gw: Guestwall, command: list[str]) -> None:
    # The 150 ms start-up budget: importing SQLAlchemy alone costs more, lxml and Alembic add to it.
    open_store(gw.url).close()
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "guestwall", "--db", gw.url, *command],
        capture_output=True,
        text=True,
        check=True,
    )
    imported = {line.split("|")[-1].strip() for line in result.stderr.splitlines() if "|" in line}
    assert "guestwall.store.fastread" in imported
    assert not {name for name in imported if name.split(".")[0] in ("sqlalchemy", "alembic", "lxml")}


def test_edit_notices_a_change_made_meanwhile(gw: Guestwall) -> None:
    gw.ok("-q", "nwfilter-define", gw.file("web.xml", WEB), stdout="")
    gw.file("theirs.xml", WEB.replace("'80'", "'443'"))
    editor = gw.tmp / "editor.sh"
    editor.write_text(
        "#!/bin/sh\n"
        f"{sys.executable} -m guestwall --db {gw.url} -q nwfilter-define theirs.xml\n"
        "sed -i \"s/'80'/'8080'/\" \"$1\"\n"
    )
    editor.chmod(0o755)
    for answer, port in (("n\n", "443"), ("f\n", "8080")):
        gw.ok("-q", "nwfilter-define", "web.xml", stdout="")
        result = gw("nwfilter-edit", "web", input=answer, env={"EDITOR": str(editor), "VISUAL": ""})
        question = "The XML configuration was changed by another user. Try again? [y,n,i,f,?]: "
        assert result.stdout.startswith(question), result.stdout
        assert result.returncode == (0 if answer == "f\n" else 1)
        gw.ok("-q", "nwfilter-dumpxml", "web", stdout=WEB_DUMP[:-1].replace("'80'", f"'{port}'"))


# --- Replay of command sequences recorded on libvirt 9.0 (tests/golden/libvirt/sequences) ---------------

SEQUENCES = Path(__file__).parents[1] / "golden" / "libvirt" / "sequences"
# The recording machine's builtins had these UUIDs: 00000000-0000-4000-8000-0000000000NN, NN = 01..24 in
# name order.
GOLDEN_BUILTIN_UUID = "00000000-0000-4000-8000-0000000000{:02d}"
Outcome = tuple[int, str, str]  # exit status, stdout, stderr
# Where we differ on purpose: a definition without <uuid> for an existing name updates that filter.
UPDATED = (0, "Network filter seq-a defined from a-nouuid.xml\n\n", "")
DELIBERATE: dict[tuple[str, int], Callable[[Outcome], Outcome]] = {
    ("define-without-uuid-then-redefine-without-uuid", 1): lambda _: UPDATED,
    ("redefine-without-uuid", 1): lambda _: UPDATED,
    ("redefine-without-uuid", 2): lambda libvirt: (0, libvirt[1].replace("'22'", "'24'"), ""),
}
# Where only the start must match: the schema check words its findings itself (nwfilter/validate.py)
# rather than as libxml2's RNG validator does.
PREFIX_ONLY = {("define-validate-schema-error", 0)}
WITH_BINDINGS = "nwfilter-binding-"
# Sequences with bindings whose filter semantics we replay, the bindings being put into the store directly
# (no enforcement); the others are about instantiation and belong to the binding tests.
STORE_BINDINGS = {"undefine-in-use-by-binding"}


def replayable() -> list[str]:
    if not SEQUENCES.is_dir():
        return []
    names = []
    for directory in sorted(SEQUENCES.iterdir()):
        steps = json.loads((directory / "steps.json").read_text())["steps"]
        binds = any(WITH_BINDINGS in " ".join(step["command"]) for step in steps)
        if not binds or directory.name in STORE_BINDINGS:
            names.append(directory.name)
    return names


def untie(outcome: Outcome) -> Outcome:
    """A listing with the rows of names that differ only in case in one order. virsh sorts with
    strcasecmp and keeps such ties in the daemon's internal order, which changes when it restarts."""
    lines = outcome[1].split("\n")
    rows = [line for line in lines if line.startswith(" ") and not line.startswith(" UUID ")]
    start = lines.index(rows[0]) if rows else 0
    # Only neighbours are reordered, so a listing in the wrong order still differs.
    runs = itertools.groupby(rows, key=lambda row: row.split()[-1].lower())
    rows = [row for _, run in runs for row in sorted(run)]
    return outcome[0], "\n".join(lines[:start] + rows + lines[start + len(rows) :]), outcome[2]


def bind_in_store(url: str, command: list[str]) -> None:
    from guestwall.nwfilter import parse_binding

    store = open_store(url)
    with store.write() as writer:
        if command[1] == "nwfilter-binding-create":
            binding = parse_binding(Path(command[2]).read_bytes())
            writer.add_binding(binding.portdev, binding.filterref.filter, Path(command[2]).read_text())
        else:
            assert command[1] == "nwfilter-binding-delete"
            writer.delete_binding(command[2])
    store.close()


@pytest.mark.parametrize("sequence", replayable())
def test_libvirt_sequence(sequence: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from guestwall.cli.app import cli
    from guestwall.nwfilter import builtin_filters, format_filter, parse_filter

    source = SEQUENCES / sequence
    steps = json.loads((source / "steps.json").read_text())["steps"]
    for path in source.iterdir():
        if path.name != "steps.json":
            (tmp_path / path.name).write_bytes(path.read_bytes())
    monkeypatch.chdir(tmp_path)
    url = f"sqlite:///{tmp_path}/guestwall.db"

    # The store as the recording machine had it: builtins with its UUIDs, plus filters that earlier
    # recordings left behind and that show up in a listing.
    store = open_store(url)
    builtins = sorted(builtin_filters(), key=lambda f: f.name)
    defined_here = {
        parse_filter(p.read_bytes()).name
        for p in tmp_path.glob("*.xml")
        if b"<filterbinding" not in p.read_bytes()
    }
    with store.write() as writer:
        for record in writer.filters():
            writer.delete_filter(record.uuid)
        for number, builtin in enumerate(builtins, 1):
            uuid = UUID(GOLDEN_BUILTIN_UUID.format(number))
            writer.put_filter(uuid, builtin.name, format_filter(replace(builtin, uuid=uuid)))
        listed = [step["stdout"] for step in steps if step["command"][1] == "nwfilter-list"]
        for row in listed[0].splitlines()[2:] if listed else []:
            uuid_text, _, name = row.strip().partition("   ")
            if name and name not in defined_here and name not in {b.name for b in builtins}:
                writer.put_filter(UUID(uuid_text), name, f"<filter name='{name}' chain='root'>\n</filter>\n")
    store.close()

    runner = CliRunner()
    for number, step in enumerate(steps):
        if WITH_BINDINGS in step["command"][1]:
            bind_in_store(url, step["command"])
            continue
        result = runner.invoke(cli, ["--db", url, *step["command"][1:]])
        got = (result.exit_code, result.stdout, result.stderr)
        wanted: Outcome = (step["exit"], step["stdout"], step["stderr"])
        if (sequence, number) in DELIBERATE:
            wanted = DELIBERATE[sequence, number](wanted)
        where = f"step {number}: {' '.join(step['command'])}"
        if step["command"][1] == "nwfilter-list":
            got, wanted = untie(got), untie(wanted)
        if (sequence, number) in PREFIX_ONLY:
            first, second, *_ = wanted[2].splitlines(keepends=True)
            assert got[:2] == wanted[:2] and got[2].startswith(first + second.split(": ")[0] + ": "), where
        else:
            assert got == wanted, where


BINDING_EXTRA = """<filterbinding>
  <owner><name>vm1</name><uuid>00000000-0000-0000-0000-0000000000aa</uuid></owner>
  <portdev name='vnet7'/>
  <mac address='52:54:00:00:00:07'/>
  <filterref filter='clean-traffic'/>
  <extra/>
</filterbinding>
"""


def test_binding_create_validate_refuses_what_the_schema_does_and_stores_nothing(gw: Guestwall) -> None:
    # --host elsewhere: written for that host's agent, so no kernel is touched here
    path = gw.file("b.xml", BINDING_EXTRA)
    gw.fails(
        "--host",
        "elsewhere",
        "nwfilter-binding-create",
        "--validate",
        path,
        stderr="error: Failed to create network filter from b.xml\n"
        "error: XML document failed to validate against schema: Element filterbinding has extra content: extra\n",
    )
    gw.ok(
        "--host",
        "elsewhere",
        "nwfilter-binding-create",
        "--validate",
        gw.file("ok.xml", BINDING_EXTRA.replace("  <extra/>\n", "")),
        stdout="Network filter binding on vnet7 created from ok.xml\n\n",
    )
    gw.ok("-q", "--host", "elsewhere", "nwfilter-binding-list", stdout=" vnet7   clean-traffic\n")
