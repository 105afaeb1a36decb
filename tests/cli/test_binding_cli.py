"""The virsh-compatible binding commands against libvirt 9.0's recorded answers (tests/golden/libvirt/bindings):
exact messages, dumpxml and list layouts; errors with libvirt's first line and its message. Bindings are
really enforced, in a network namespace of the test's own."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from guestwall.cli.app import cli
from guestwall.lab.netns import create_netns, remove_netns
from netns_fixtures import needs_netns, new_prefix, require_netns

pytestmark = needs_netns

GOLDEN = Path(__file__).parent.parent / "golden" / "libvirt" / "bindings"
CASES = sorted(p.name for p in GOLDEN.iterdir() if p.is_dir()) if GOLDEN.is_dir() else []
LEARNING = {"ip-learning-any"}  # IP learning: the agent's tests cover it with real traffic
# libvirt instantiates (and adds the MAC parameter) only when the port exists; guestwall enforces every
# binding by port name at once, so it always adds it (docs/compatibility.md)
MAC_ALWAYS_ADDED = {"portdev-nonexistent"}


@pytest.fixture(scope="module")
def netns() -> Iterator[str]:
    require_netns()
    name = f"{new_prefix('b')}-bind"
    create_netns(name)
    yield name
    remove_netns(name)


def run(netns: str, url: str, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["--db", url, "--netns", netns, *args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def same_error(expected: str, got: str) -> bool:
    """libvirt's first line exactly; its message within ours (guestwall may add where it happened)."""
    want, have = expected.splitlines(), got.splitlines()
    if not want:
        return not have
    if want[0] != have[0]:
        return False
    message = want[1].removeprefix("error: ").split(": ", 1)[-1] if len(want) > 1 else ""
    return message.split(",")[0] in "\n".join(have[1:])


@pytest.mark.parametrize("case", CASES)
def test_binding_case(case: str, netns: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if case in LEARNING:
        pytest.skip("IP learning is tested with real traffic in tests/agent")
    source = GOLDEN / case
    for path in source.iterdir():
        (tmp_path / path.name).write_bytes(path.read_bytes())
    monkeypatch.chdir(tmp_path)
    url = f"sqlite:///{tmp_path}/gw.db"
    for path in sorted(tmp_path.glob("gb-*.xml")):
        assert run(netns, url, "nwfilter-define", path.name)[0] == 0
    if (source / "steps.json").exists():
        for step in json.loads((source / "steps.json").read_text())["steps"]:
            if step["command"][1] == "nwfilter-define":
                continue  # done above
            code, out, err = run(netns, url, *step["command"][1:])
            assert code == step["exit"], (step["command"], err)
            if code == 0:
                assert (out, err) == (step["stdout"], step["stderr"]), step["command"]
            else:
                assert same_error(step["stderr"], err), (step["stderr"], err)
        return
    code, out, err = run(netns, url, "nwfilter-binding-create", "binding.xml")
    if (source / "error.txt").exists():
        expected = (source / "error.txt").read_text()
        assert code == 1
        assert same_error(expected, err), (expected, err)
        assert run(netns, url, "nwfilter-binding-list")[1] == " Port Dev   Filter\n--------------------\n\n"
        return
    assert code == 0, err
    portdev = out.split(" on ", 1)[1].split(" created", 1)[0]
    assert out == f"Network filter binding on {portdev} created from binding.xml\n\n"
    dumped = run(netns, url, "nwfilter-binding-dumpxml", portdev)[1]
    expected = (source / "expected.xml").read_text()
    if case in MAC_ALWAYS_ADDED:
        mac = expected.split("<mac address='", 1)[1].split("'", 1)[0]
        name = expected.split("<filterref filter='", 1)[1].split("'", 1)[0]
        expected = expected.replace(
            f"<filterref filter='{name}'/>",
            f"<filterref filter='{name}'>\n    <parameter name='MAC' value='{mac}'/>\n  </filterref>",
        )
    assert dumped == expected
    assert run(netns, url, "nwfilter-binding-list")[1] == (source / "list.txt").read_text()
    assert run(netns, url, "nwfilter-binding-delete", portdev) == (
        0,
        f"Network filter binding on {portdev} deleted\n\n",
        "",
    )


def test_undefine_of_a_bound_filter_is_refused(
    netns: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    url = f"sqlite:///{tmp_path}/gw.db"
    (tmp_path / "b.xml").write_text(
        "<filterbinding><owner><name>vm</name><uuid>00000000-0000-4000-8000-000000000001</uuid></owner>"
        "<portdev name='vnet7'/><mac address='52:54:00:00:00:07'/>"
        "<filterref filter='clean-traffic'><parameter name='IP' value='10.0.0.7'/></filterref></filterbinding>"
    )
    assert run(netns, url, "nwfilter-binding-create", "b.xml")[0] == 0
    for name in ("clean-traffic", "no-arp-ip-spoofing"):  # bound directly, and through the tree
        code, _, err = run(netns, url, "nwfilter-undefine", name)
        assert code == 1
        assert (
            err
            == f"error: Failed to undefine network filter {name}\nerror: Requested operation is not valid: nwfilter is in use\n"
        )
    assert run(netns, url, "nwfilter-binding-delete", "vnet7")[0] == 0
    assert run(netns, url, "nwfilter-undefine", "clean-traffic")[0] == 0
