"""The net-* commands against virsh 9.0's recorded answers: messages, tables, errors and exit codes of a
whole lifecycle (tests/golden/libvirt/networks/commands, net-start in a namespace of this test), and every
net-update ip-dhcp-host step (updates/dhcp-host)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from netkit import World

from guestwall.cli.app import cli
from netns_fixtures import needs_netns

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "libvirt" / "networks"


def _replay(runner: CliRunner, base: list[str], steps: list[dict[str, object]], cwd: Path) -> None:
    import os

    here = os.getcwd()
    os.chdir(cwd)
    try:
        for i, step in enumerate(steps):
            args = [str(a) for a in step["args"]]  # type: ignore[attr-defined]
            result = runner.invoke(cli, [*base, *args])
            got = (result.exit_code, result.stdout, result.stderr)
            assert got == (step["rc"], step["stdout"], step["stderr"]), f"step {i}: {' '.join(args)}"
    finally:
        os.chdir(here)


@pytest.mark.parametrize("netns", [pytest.param(True, marks=needs_netns)])
def test_lifecycle_as_virsh(world: World, netns: bool) -> None:
    steps = json.loads((GOLDEN / "commands" / "steps.json").read_text())
    # leases are listed by time and our dnsmasq has none yet: the same empty table
    base = ["--db", f"sqlite:///{world.tmp}/guestwall.db", "--netns", world.host]
    _replay(CliRunner(), base, steps, GOLDEN / "commands")


def test_update_dhcp_host_as_virsh(tmp_path: Path) -> None:
    d = GOLDEN / "updates" / "dhcp-host"
    steps = json.loads((d / "steps.json").read_text())
    runner = CliRunner()
    base = ["--db", f"sqlite:///{tmp_path}/guestwall.db"]
    import os

    here = os.getcwd()
    os.chdir(d)
    try:
        assert runner.invoke(cli, [*base, "net-define", "input.xml"]).exit_code == 0
        for i, step in enumerate(steps):
            result = runner.invoke(cli, [*base, "net-update", "dhcp-hosts", *step["args"]])
            expected = (step["rc"], step["stdout"], step["stderr"])
            assert (result.exit_code, result.stdout, result.stderr) == expected, i
            dump = runner.invoke(cli, [*base, "net-dumpxml", "dhcp-hosts"]).stdout
            assert dump == (d / f"step{i}.xml").read_text(), i
    finally:
        os.chdir(here)


def test_net_edit_redefines_the_persistent_definition(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = CliRunner()
    base = ["--db", f"sqlite:///{tmp_path}/guestwall.db"]
    assert runner.invoke(cli, [*base, "net-define", str(GOLDEN / "commands" / "b.xml")]).exit_code == 0
    monkeypatch.setenv("VISUAL", "sed -i s/10.7.0.1/10.8.0.1/")
    result = runner.invoke(cli, [*base, "net-edit", "netb"])
    assert (result.exit_code, result.stdout) == (0, "Network netb XML configuration edited.\n\n")
    assert "<ip address='10.8.0.1' prefix='24'>" in runner.invoke(cli, [*base, "net-dumpxml", "netb"]).stdout
    monkeypatch.setenv("VISUAL", "true")
    assert (
        runner.invoke(cli, [*base, "net-edit", "netb"]).stdout
        == "Network netb XML configuration not changed.\n\n"
    )
