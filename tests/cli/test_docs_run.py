"""The walkthroughs run as written (issue 10): the README's five steps and docs/cloud.md's CLI section, each
a shell block run top to bottom with bash -e, in a lab of its own (its prefix and store substituted)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from guestwall.lab.build import lab_down
from netns_fixtures import needs_netns, new_prefix

pytestmark = needs_netns

ROOT = Path(__file__).resolve().parents[2]


def shell_block(path: Path, after: str) -> str:
    text = path.read_text()
    found = re.search(r"```sh\n(.*?)```", text[text.index(after) :], re.S)
    assert found, f"no sh block after {after!r} in {path}"
    return found.group(1)


def run_block(block: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    prefix = new_prefix("d")
    script = (
        block.replace("guestwall lab up", f"guestwall lab up --prefix {prefix}")
        .replace("guestwall lab down", f"guestwall lab down --prefix {prefix}")
        .replace("gwlab-", f"{prefix}-")
    )
    script = re.sub(r"sqlite:////tmp/[\w.-]+\.db", f"sqlite:///{tmp_path}/doc.db", script)
    wrapper = f'guestwall() {{ "{sys.executable}" -m guestwall "$@"; }}\nset -e\n' + script
    env = {**os.environ, "GUESTWALL_CONFIG": str(tmp_path / "none.toml")}
    (tmp_path / "none.toml").write_text("")
    try:
        return subprocess.run(
            ["bash", "-c", wrapper], capture_output=True, text=True, cwd=ROOT, env=env, timeout=300
        )
    finally:
        lab_down(prefix)


@pytest.mark.parametrize(("doc", "after"), [("README.md", "## Five steps"), ("docs/cloud.md", "## CLI")])
def test_walkthrough_runs_as_written(doc: str, after: str, tmp_path: Path) -> None:
    result = run_block(shell_block(ROOT / doc, after), tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "error:" not in result.stderr
