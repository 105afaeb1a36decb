"""What a command that enforces loads: pyroute2 (~80 ms in a command's own process) only when it lists links."""

from __future__ import annotations

import subprocess
import sys


def test_enforcing_a_binding_does_not_load_pyroute2() -> None:
    code = (
        "import sys; import guestwall.engine, guestwall.services.bindings, guestwall.cli.binding; "
        "print('pyroute2' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
