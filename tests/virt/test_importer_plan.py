"""import-libvirt's plan against a store (pure: no libvirt, no kernel): builtins mapped onto guestwall's,
UUIDs kept, clashes and missing filters reported, directories read by root element."""

from __future__ import annotations

from pathlib import Path

from guestwall.nwfilter.builtins import builtin_xml
from guestwall.store import Store
from guestwall.virt.importer import IMPORT, SAME, SKIP, UPDATE, Source, plan_import, read_directory

WEB = "<filter name='web' chain='root'>\n  <uuid>5c6d1e8a-7f5e-4d39-9a61-0c2b7f6f1a01</uuid>\n  <filterref filter='clean-traffic'/>\n</filter>\n"
BINDING = (
    "<filterbinding><owner><name>vm</name><uuid>11111111-2222-4333-8444-555555555555</uuid></owner>"
    "<portdev name='vnet0'/><mac address='52:54:00:00:00:01'/><filterref filter='{f}'/></filterbinding>"
)


def actions(store: Store, filters: list[str], bindings: list[str] = ()) -> dict[str, tuple[str, str]]:  # type: ignore[assignment]
    items = plan_import(store, [Source("t", x) for x in filters], [Source("t", x) for x in bindings])
    return {f"{i.kind} {i.name}": (i.action, i.detail) for i in items}


def test_builtins_map_onto_guestwall_s_own(store: Store) -> None:
    libvirt_copy = builtin_xml("allow-arp").replace(
        "<filter name='allow-arp' chain='arp'>",
        "<filter name='allow-arp' chain='arp'>\n  <uuid>7246e265-f30c-4d08-9c9e-55ed23d311d4</uuid>",
    )
    edited = libvirt_copy.replace("action='accept'", "action='accept' priority='400'")
    assert actions(store, [libvirt_copy])["filter allow-arp"][0] == SAME
    action, detail = actions(store, [edited])["filter allow-arp"]
    assert action == UPDATE and "keeps guestwall's uuid" in detail and "7246e265" in detail


def test_user_filters_keep_their_uuid_and_clashes_are_reported(store: Store) -> None:
    assert actions(store, [WEB])["filter web"][0] == IMPORT
    clash = WEB.replace("name='web'", "name='other'")
    got = actions(store, [WEB, clash])
    assert got["filter other"] == (SKIP, "uuid 5c6d1e8a-7f5e-4d39-9a61-0c2b7f6f1a01 is already filter 'web'")
    assert (
        actions(store, ["<filter name='broken'><rule action='accept' direction='sideways'/></filter>"])[
            "filter "
        ][0]
        == SKIP
    )


def test_bindings_need_their_filter(store: Store) -> None:
    got = actions(
        store, [WEB], [BINDING.format(f="web"), BINDING.format(f="missing").replace("vnet0", "vnet1")]
    )
    assert got["binding vnet0"][0] == IMPORT
    assert got["binding vnet1"] == (SKIP, "its filter 'missing' is not imported")


def test_directory_by_root_element(tmp_path: Path) -> None:
    (tmp_path / "web.xml").write_text(WEB)
    (tmp_path / "vnet0.xml").write_text(
        f"<filterbindingstatus>{BINDING.format(f='web')}</filterbindingstatus>"
    )
    (tmp_path / "junk.xml").write_text("<network/>")
    (tmp_path / "bad.xml").write_text("<filter")
    filters, bindings, bad = read_directory(str(tmp_path))
    assert [f.origin for f in filters] == [str(tmp_path / "web.xml")]
    assert 'portdev name="vnet0"' in bindings[0].xml
    assert sorted(Path(i.name).name for i in bad) == ["bad.xml", "junk.xml"]
