"""guestwall's nwfilter parser and formatter against the answers of the real libvirt 9.0.

The data is in tests/golden/libvirt/filters/<case>/ (see tests/golden/README.md):

- ``input.xml`` and ``expected.xml``: ``virsh nwfilter-dumpxml`` after ``nwfilter-define``, byte for byte
  (virsh adds one empty line after the XML, hence the ``+ "\\n"``);
- ``input.xml`` and ``error.txt``: the stderr of the failing ``nwfilter-define``; its second line is libvirt's
  error, ``error: <code phrase>: <message>``, and the message must be part of guestwall's exception;
- ``random-uuid.txt``: the input has no usable UUID, so libvirt's parser generated a random one; the
  ``<uuid>`` line is left out of the comparison (guestwall may assign it only when the filter is defined);
- ``deviation.txt``: libvirt loses or garbles data there because of a bug; guestwall deliberately differs, so
  the case is skipped with that explanation.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

nwfilter = pytest.importorskip("guestwall.nwfilter")
errors = pytest.importorskip("guestwall.errors")
if not hasattr(nwfilter, "parse_filter") or not hasattr(nwfilter, "format_filter"):
    pytest.skip("guestwall.nwfilter has no parse_filter/format_filter yet", allow_module_level=True)

FILTERS = Path(__file__).resolve().parents[1] / "golden" / "libvirt" / "filters"
CASES = sorted(p.name for p in FILTERS.iterdir() if (p / "input.xml").exists()) if FILTERS.exists() else []

# The error-code phrases virsh prints before libvirt's message (virErrorNumber texts seen in the data).
CODE_PHRASES = (
    "internal error: ",
    "invalid argument: ",
    "XML error: ",
    "unsupported configuration: ",
    "operation failed: ",
)
UUID_LINE = re.compile(r"^  <uuid>[0-9a-f-]{36}</uuid>\n", re.M)


def libvirt_message(stderr: str) -> str | None:
    """libvirt's message from virsh's stderr, or None when it is not one guestwall should repeat.

    None for "An error occurred, but the cause is unknown" (libvirt reports no message for chain names
    that start with "root"), for libxml2's parser diagnostics ("(nwfilter_definition):LINE: ..."), which
    depend on the XML library rather than on the nwfilter language, and for "Failed to create file ..."
    (libvirt accepted the XML and failed only when saving it to a path built from the name).
    """
    lines = stderr.splitlines()
    assert len(lines) >= 2 and lines[0].startswith("error: Failed to define network filter"), stderr
    second = lines[1]
    assert second.startswith("error: "), stderr
    text = second[len("error: ") :]
    if text == "An error occurred, but the cause is unknown" or text.startswith(
        ("(nwfilter_definition)", "Failed to create file ")
    ):
        return None
    for phrase in CODE_PHRASES:
        if text.startswith(phrase):
            return text[len(phrase) :]
    return text


@pytest.mark.parametrize("case", CASES)
def test_libvirt_golden(case: str) -> None:
    d = FILTERS / case
    deviation = d / "deviation.txt"
    if deviation.exists():
        pytest.skip(f"deliberate deviation from libvirt: {deviation.read_text().strip()}")
    data = (d / "input.xml").read_bytes()
    expected = d / "expected.xml"
    if expected.exists():
        got = nwfilter.format_filter(nwfilter.parse_filter(data)) + "\n"
        want = expected.read_bytes().decode()
        if (d / "random-uuid.txt").exists():
            got = UUID_LINE.sub("", got)
            want = UUID_LINE.sub("", want)
        assert got == want
        return
    stderr = (d / "error.txt").read_text()
    message = libvirt_message(stderr)
    with pytest.raises((errors.FilterError, errors.XMLError)) as info:
        nwfilter.parse_filter(data)
    if message is not None:
        assert message in str(info.value), f"libvirt says: {message!r}"


def test_golden_data_present() -> None:
    """The data set is there and every case has exactly one answer."""
    assert len(CASES) > 500
    for case in CASES:
        d = FILTERS / case
        assert (d / "expected.xml").exists() != (d / "error.txt").exists(), case
