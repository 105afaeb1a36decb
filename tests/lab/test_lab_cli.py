"""``guestwall lab up|status|down`` through Click: the table, idempotent down, one-line errors."""

from __future__ import annotations

from click.testing import CliRunner

from guestwall.cli.app import cli
from guestwall.lab import lab_down
from guestwall.lab.netns import list_netns
from netns_fixtures import netns_test, new_prefix, require_netns


def test_invalid_prefix_is_one_error_line() -> None:
    result = CliRunner().invoke(cli, ["lab", "up", "--prefix", "Bad-Prefix"])
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: internal error: invalid lab prefix 'Bad-Prefix'")


@netns_test
def test_up_status_down() -> None:
    require_netns()
    prefix = new_prefix("c")
    runner = CliRunner(env={"COLUMNS": "200"})
    try:
        up = runner.invoke(cli, ["lab", "up", "--guests", "2", "--prefix", prefix])
        assert up.exit_code == 0, up.output
        for text in ("alice", f"{prefix}-bob", "vnet1", "52:54:00:00:00:02", "10.77.0.11", "fd77::11"):
            assert text in up.stdout
        assert list_netns(prefix) == [f"{prefix}-alice", f"{prefix}-bob", f"{prefix}-host"]

        again = runner.invoke(cli, ["lab", "up", "--guests", "2", "--prefix", prefix])
        assert again.exit_code == 1 and "already exists" in again.stderr

        status = runner.invoke(cli, ["lab", "status", "--prefix", prefix])
        assert status.exit_code == 0 and "fd77::10" in status.stdout and "2 guests, up" in status.stdout

        down = runner.invoke(cli, ["lab", "down", "--prefix", prefix])
        assert down.exit_code == 0 and f"Lab {prefix} removed (3 namespaces)" in down.stdout
        assert list_netns(prefix) == []
        down = runner.invoke(cli, ["lab", "down", "--prefix", prefix])
        assert down.exit_code == 0 and "is not up" in down.stdout
        status = runner.invoke(cli, ["lab", "status", "--prefix", prefix])
        assert status.exit_code == 0 and "is not up" in status.stdout
    finally:
        lab_down(prefix)
