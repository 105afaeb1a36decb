"""The ``guestwall`` command: a Click group whose subcommands live in small modules, imported on demand.

Commands are loaded lazily so that start-up stays cheap (``nwfilter-list`` has a 150 ms budget): a command's
module, and what it imports, is only loaded when that command runs or when help lists it.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

import click

# command name -> "module:attribute" (module under guestwall.cli)
COMMANDS: dict[str, str] = {
    "nwfilter-define": "nwfilter:define",
    "nwfilter-undefine": "nwfilter:undefine",
    "nwfilter-dumpxml": "nwfilter:dumpxml",
    "nwfilter-list": "nwfilter:list_",
    "nwfilter-edit": "nwfilter:edit",
    "nwfilter-binding-create": "binding:create",
    "nwfilter-binding-delete": "binding:delete",
    "nwfilter-binding-list": "binding:list_",
    "nwfilter-binding-dumpxml": "binding:dumpxml",
    "apply": "binding:apply",
    "status": "binding:status",
    "simulate": "simulate:simulate",
    "lab": "lab:lab",
    "demo": "demo:demo",
    "agent": "agent:agent",
    "port": "cloud:port",
    "secgroup": "cloud:secgroup",
    "provider": "cloud:provider",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(name for name in COMMANDS if self._load(name) is not None)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return self._load(cmd_name)

    @staticmethod
    def _load(name: str) -> click.Command | None:
        target = COMMANDS.get(name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        try:
            module = importlib.import_module(f"guestwall.cli.{module_name}")
        except ModuleNotFoundError as e:
            if e.name == f"guestwall.cli.{module_name}":
                return None  # not built yet
            raise
        command = getattr(module, attr, None)
        return command if isinstance(command, click.Command) else None


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--db",
    "db_url",
    envvar="GUESTWALL_DB",
    default=None,
    help="SQLAlchemy URL of the store (default: sqlite:////var/lib/guestwall/guestwall.db).",
)
@click.option(
    "--netns",
    default=None,
    envvar="GUESTWALL_NETNS",
    help="Enforce in this named network namespace instead of the current one.",
)
@click.option("-q", "--quiet", is_flag=True, help="Suppress informational messages (as virsh -q).")
@click.version_option(package_name="guestwall")
@click.pass_context
def cli(ctx: click.Context, db_url: str | None, netns: str | None, quiet: bool) -> None:
    """guestwall: libvirt-compatible network filters for guests, enforced with shared nftables rules."""
    from guestwall.cli.context import Context

    ctx.obj = Context(db_url=db_url, netns=netns, quiet=quiet)


def main(argv: list[str] | None = None) -> Any:
    # One line per error and a non-zero exit code: commands raise GuestwallError, cli.context prints it.
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    return cli.main(args=argv if argv is not None else sys.argv[1:], prog_name="guestwall")
