"""Nothing claims protection the kernel does not enforce (issue 10, safety): cloud-owned objects refuse the
low-level commands, ``apply`` restores what cloud objects need, ``status`` compares the kernel with the store
(and exits non-zero when they differ), host settings stay desired state across commands. Through the real
CLI, with real frames in a lab's namespaces."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from guestwall.cli.app import cli
from guestwall.lab import Lab
from guestwall.lab.traffic import ping, tcp_connect, tcp_server
from guestwall.store import open_store
from netns_fixtures import needs_netns, run_in_host

pytestmark = needs_netns

Run = Callable[..., Result]


@pytest.fixture
def gw(lab: Lab, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Run]:
    url = f"sqlite:///{tmp_path}/gw.db"
    monkeypatch.setenv("GUESTWALL_CONFIG", str(tmp_path / "none.toml"))
    (tmp_path / "none.toml").write_text("")

    def run(*args: str, ok: bool | None = True, env: dict[str, str] | None = None) -> Result:
        result = CliRunner().invoke(
            cli, ["--db", url, "--netns", lab.host_netns, *args], catch_exceptions=False, env=env
        )
        if ok is True:
            assert result.exit_code == 0, result.output + result.stderr
        elif ok is False:
            assert result.exit_code != 0, result.output
        return result

    run.url = url  # type: ignore[attr-defined]
    yield run


def _web_port(gw: Run, lab: Lab) -> None:
    """bob in group web (TCP 80 allowed in), alice in no group."""
    gw("secgroup", "create", "web")
    gw("secgroup", "rule-create", "web", "--protocol", "tcp", "--port-range", "80")
    bob = lab["bob"]
    gw("port", "create", bob.portdev, "--mac", bob.mac, "--fixed-ip", bob.ipv4, "--security-group", "web")


def _status(gw: Run) -> tuple[int, dict[str, object]]:
    result = gw("status", "--format", "json", ok=None)
    return result.exit_code, json.loads(result.stdout)


def test_low_level_commands_refuse_cloud_objects(gw: Run, lab: Lab, tmp_path: Path) -> None:
    _web_port(gw, lab)
    bob = lab["bob"].portdev
    with tcp_server(lab, "bob", 81):
        assert not tcp_connect(lab, "alice", "bob", 81)
        refused = gw("nwfilter-binding-delete", bob, ok=False)
        assert "owned by the cloud layer" in refused.stderr and f"guestwall port delete {bob}" in refused.stderr
        assert not tcp_connect(lab, "alice", "bob", 81)  # still filtered
    assert bob in gw("nwfilter-binding-list").stdout
    undefine = gw("nwfilter-undefine", "gw-l2", ok=False)
    assert "owned by the cloud layer" in undefine.stderr and "guestwall secgroup" in undefine.stderr
    mine = tmp_path / "gw-mine.xml"
    mine.write_text("<filter name='gw-mine' chain='root'><rule action='accept' direction='out'/></filter>")
    assert "owned by the cloud layer" in gw("nwfilter-define", str(mine), ok=False).stderr
    binding = tmp_path / "b.xml"
    binding.write_text(
        "<filterbinding><owner><name>x</name><uuid>d2ed2c22-5b8c-4b9e-9d2c-9c1b4c7b5f11</uuid></owner>"
        f"<portdev name='{lab['carol'].portdev}'/><mac address='{lab['carol'].mac}'/>"
        "<filterref filter='gw-open'/></filterbinding>"
    )
    assert "owned by the cloud layer" in gw("nwfilter-binding-create", str(binding), ok=False).stderr
    code, report = _status(gw)
    assert code == 0 and report["in_sync"] and report["problems"] == []
    assert gw("apply", "--dry-run").stdout == "Nothing to change: the kernel equals the store\n\n"


def test_apply_restores_a_missing_cloud_binding(gw: Run, lab: Lab) -> None:
    _web_port(gw, lab)
    bob = lab["bob"].portdev
    store = open_store(gw.url)  # type: ignore[attr-defined]
    try:
        with store.write() as writer:  # as a hand edit or an older version could have done
            writer.delete_binding(bob)
    finally:
        store.close()
    code, report = _status(gw)
    assert code == 1
    assert any(f"binding of cloud port {bob}" in p for p in report["problems"])  # type: ignore[union-attr]
    applied = gw("apply")
    assert f"Restored binding of cloud port {bob}" in applied.stdout
    with tcp_server(lab, "bob", 81):
        assert not tcp_connect(lab, "alice", "bob", 81)
    with tcp_server(lab, "bob", 80):
        assert tcp_connect(lab, "alice", "bob", 80)
    assert _status(gw)[0] == 0


def test_status_tells_kernel_drift_and_exits_non_zero(gw: Run, lab: Lab, tmp_path: Path) -> None:
    _web_port(gw, lab)
    bob = lab["bob"].portdev
    assert _status(gw)[0] == 0
    run_in_host(lab, "nft", "flush", "ruleset")
    with tcp_server(lab, "bob", 81):
        assert tcp_connect(lab, "alice", "bob", 81)  # really open now
    code, report = _status(gw)
    assert code == 1 and not report["in_sync"]
    rows = {p["portdev"]: p for p in report["ports"]}  # type: ignore[union-attr]
    assert rows[bob]["in_kernel"] is False and rows[bob]["device"] is True
    assert report["agent"]["running"] is False  # type: ignore[index]
    table = gw("status", ok=False)
    assert "DIFFERS from the store" in table.stdout and "problem: the kernel differs" in table.stdout
    assert "Agent:         not running" in table.stdout
    gw("apply")
    code, report = _status(gw)
    assert code == 0 and report["in_sync"]


def test_status_shows_dropped_unbound_guest_ports(gw: Run, lab: Lab) -> None:
    gw("host-settings", "set", "--guest-pattern", "vnet*", "--unbound", "drop")
    assert not ping(lab, "alice", "bob")
    code, report = _status(gw)
    assert code == 0
    rows = {p["portdev"]: p for p in report["ports"]}  # type: ignore[union-attr]
    alice = rows[lab["alice"].portdev]
    assert alice["owner"] == "host" and "dropped" in alice["enforcement"] and alice["device"] is True


def test_host_settings_survive_a_command_without_the_file(gw: Run, lab: Lab, tmp_path: Path) -> None:
    fc = tmp_path / "fc.toml"
    fc.write_text('[ports]\nguest_patterns = ["vnet*"]\nunbound = "drop"\n')
    assert ping(lab, "alice", "bob")
    # no bindings yet: --allow-empty (an empty store does not wipe the kernel unless asked)
    gw("apply", "--allow-empty", env={"GUESTWALL_CONFIG": str(fc)})  # seeds the store's host settings
    assert not ping(lab, "alice", "bob")
    gw("apply", "--allow-empty")  # without the file (an empty configuration file) they stay
    assert not ping(lab, "alice", "bob")
    shown = json.loads(gw("host-settings", "show", "--format", "json").stdout)
    assert {r["setting"]: r["value"] for r in shown}["ports.guest_patterns"] == ["vnet*"]
    weaker = gw("host-settings", "set", "--no-guest-patterns")
    assert "warning: ports.guest_patterns" in weaker.stderr and "weaker" in weaker.stderr
    assert ping(lab, "alice", "bob")


def test_a_file_that_disagrees_with_the_store_is_reported(gw: Run, lab: Lab, tmp_path: Path) -> None:
    gw("host-settings", "set", "--guest-pattern", "vnet*")
    other = tmp_path / "other.toml"
    other.write_text('[ports]\nguest_patterns = ["tap*"]\n')
    result = gw("apply", "--allow-empty", env={"GUESTWALL_CONFIG": str(other)})
    assert "differently from the host settings in the store" in result.stderr
    assert not ping(lab, "alice", "bob")  # the store's settings apply
    assert os.path.exists(other)
