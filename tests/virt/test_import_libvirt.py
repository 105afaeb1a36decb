"""``guestwall import-libvirt`` against a real libvirt 9.0: what ``virsh nwfilter-dumpxml`` printed before is
what ``guestwall nwfilter-dumpxml`` prints after (builtins aside: they keep guestwall's UUIDs), bindings that
libvirt made for a running LXC domain come over, and what cannot be taken is reported."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from guestwall.cli.app import cli
from guestwall.lab import Lab
from guestwall.nwfilter.builtins import builtin_names
from libvirtkit import Nic, PrivateLibvirt, libvirt_unavailable
from netns_fixtures import needs_netns

pytestmark = [
    *needs_netns,
    pytest.mark.skipif(bool(libvirt_unavailable()), reason=str(libvirt_unavailable())),
]

WEB = """<filter name='web' chain='root'>
  <uuid>5c6d1e8a-7f5e-4d39-9a61-0c2b7f6f1a01</uuid>
  <filterref filter='clean-traffic'/>
  <rule action='accept' direction='in' priority='500'>
    <tcp dstportstart='80' dstportend='443'/>
  </rule>
  <rule action='drop' direction='inout' priority='1000'>
    <all/>
  </rule>
</filter>
"""
EDITED_BUILTIN = """<filter name='allow-arp' chain='arp'>
  <rule direction='inout' action='accept' priority='400'/>
</filter>
"""
UUID_LINE = re.compile(r"  <uuid>[0-9a-f-]+</uuid>\n")


@pytest.fixture
def libvirt(lab_factory: Callable[..., Lab], tmp_path: Path) -> Iterator[tuple[Lab, PrivateLibvirt]]:
    lab = lab_factory(guests=1)
    with PrivateLibvirt(lab.host_netns, tmp_path, lab.bridge, builtins=True) as lv:
        yield lab, lv


def gw(db: str, netns: str, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--db", db, "--netns", netns, *args], catch_exceptions=False)


def test_import_from_connection_and_directory(libvirt: tuple[Lab, PrivateLibvirt], tmp_path: Path) -> None:
    lab, lv = libvirt
    (tmp_path / "web.xml").write_text(WEB)
    arp_uuid = UUID_LINE.search(lv.virsh("nwfilter-dumpxml", "allow-arp").stdout)
    assert arp_uuid is not None
    (tmp_path / "arp.xml").write_text(EDITED_BUILTIN.replace("\n", "\n" + arp_uuid.group(0), 1))
    lv.virsh("nwfilter-define", str(tmp_path / "web.xml"))
    lv.virsh("nwfilter-define", str(tmp_path / "arp.xml"))
    # a domain whose interface libvirt filters itself: libvirt makes the binding when it starts
    lv.define(
        lv.domain_xml(
            "legacy",
            [
                Nic(
                    "lxf5",
                    "52:54:00:f0:00:05",
                    "10.77.0.105/24",
                    "<filterref filter='web'><parameter name='IP' value='10.77.0.105'/></filterref>",
                )
            ],
        )
    )
    lv.virsh("start", "legacy")
    names = [line.split()[1] for line in lv.virsh("nwfilter-list").stdout.splitlines()[2:] if line.strip()]
    assert set(builtin_names()) | {"web"} == set(names)
    before = {name: lv.virsh("nwfilter-dumpxml", name).stdout for name in names}
    binding_before = lv.virsh("nwfilter-binding-dumpxml", "lxf5").stdout

    db = f"sqlite:///{tmp_path}/gw.db"
    dry = gw(db, lab.host_netns, "import-libvirt", "--connect", lv.uri, "--dry-run")
    assert dry.exit_code == 0, dry.output
    builtin_uuid = gw(db, lab.host_netns, "nwfilter-dumpxml", "clean-traffic").stdout
    assert "<name" not in builtin_uuid and "clean-traffic" in builtin_uuid
    assert "Would import 2, update 1; 23 already equal; 0 cannot be imported" in dry.output
    assert gw(db, lab.host_netns, "nwfilter-list").stdout.count("web") == 0  # a dry run changes nothing

    done = gw(db, lab.host_netns, "import-libvirt", "--connect", lv.uri)
    assert done.exit_code == 0, done.output
    assert "binding lxf5: imported" in done.output
    assert "filter allow-arp: updated: edited builtin" in done.output
    for name, text in before.items():
        after = gw(db, lab.host_netns, "nwfilter-dumpxml", name).stdout
        if name in builtin_names():  # guestwall's UUID, libvirt's content
            assert UUID_LINE.sub("", after) == UUID_LINE.sub("", text)
        else:
            assert after == text
    assert gw(db, lab.host_netns, "nwfilter-dumpxml", "clean-traffic").stdout == builtin_uuid
    assert gw(db, lab.host_netns, "nwfilter-binding-dumpxml", "lxf5").stdout == binding_before
    again = gw(db, lab.host_netns, "import-libvirt", "--connect", lv.uri)
    assert "Imported 0, update 0; 26 already equal" in again.output

    # from libvirt's directories into a fresh store, with a file guestwall cannot take
    conf = tmp_path / "nwfilter"
    shutil.copytree(lv.state / "etc" / "nwfilter", conf)
    (conf / "broken.xml").write_text(
        "<filter name='broken'><rule action='accept' direction='sideways'/></filter>"
    )
    fresh = f"sqlite:///{tmp_path}/fresh.db"
    got = gw(
        fresh,
        lab.host_netns,
        "import-libvirt",
        "--dir",
        str(conf),
        "--dir",
        str(lv.state / "run" / "nwfilter-binding"),
    )
    assert got.exit_code == 1
    assert re.search(r"filter \?: NOT imported: .*broken.xml.*direction", got.output), got.output
    assert gw(fresh, lab.host_netns, "nwfilter-dumpxml", "web").stdout == before["web"]
    assert gw(fresh, lab.host_netns, "nwfilter-binding-dumpxml", "lxf5").stdout == binding_before
