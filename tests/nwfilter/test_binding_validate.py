"""parse_binding(validate=True): the checks of libvirt's binding schema (nwfilter-binding-create --validate)."""

from __future__ import annotations

import pytest

from guestwall.errors import BindingError
from guestwall.nwfilter import parse_binding

OWNER = "<owner><name>vm1</name><uuid>00000000-0000-0000-0000-0000000000aa</uuid></owner>"
PORT = "<portdev name='vnet7'/>"
MAC = "<mac address='52:54:00:00:00:07'/>"
REF = "<filterref filter='clean-traffic'><parameter name='IP' value='10.0.0.7'/></filterref>"


def binding(*parts: str) -> str:
    return f"<filterbinding>{''.join(parts)}</filterbinding>"


def test_a_valid_binding_passes_in_any_order() -> None:
    for xml in (binding(OWNER, PORT, MAC, REF), binding(REF, MAC, "<linkdev name='eth0'/>", PORT, OWNER)):
        assert parse_binding(xml, validate=True).portdev == "vnet7"


@pytest.mark.parametrize(
    ("xml", "message"),
    [
        (binding(OWNER, PORT, MAC, REF, "<extra/>"), "Element filterbinding has extra content: extra"),
        (binding(OWNER, PORT, PORT, MAC, REF), "Extra element portdev in interleave"),
        (
            binding(OWNER, "<portdev name='vnet7' foo='1'/>", MAC, REF),
            "Invalid attribute foo for element portdev",
        ),
        (
            binding(OWNER, PORT, "<mac address='52:54:00:00:00:07'>x</mac>", REF),
            "Element mac has extra content",
        ),
        (
            binding(OWNER, PORT, MAC, "<filterref filter='f'><x/></filterref>"),
            "Element filterref has extra content",
        ),
        (binding("<owner><name>vm1</name></owner>", PORT, MAC, REF), "Element owner misses uuid"),
        (binding(OWNER, PORT, REF), "Element filterbinding misses mac"),
        ("<filterbinding foo='1'/>", "Invalid attribute foo for element filterbinding"),
    ],
)
def test_the_schema_refuses(xml: str, message: str) -> None:
    with pytest.raises(BindingError, match=message) as caught:
        parse_binding(xml, validate=True)
    assert caught.value.code == "XML document failed to validate against schema"


def test_without_validate_extra_content_is_ignored_as_libvirt_does() -> None:
    assert parse_binding(binding(OWNER, PORT, MAC, REF, "<extra/>")).portdev == "vnet7"
