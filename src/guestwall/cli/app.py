"""The ``guestwall`` command: a Click group whose subcommands live in small modules, imported on demand.

Commands are loaded lazily so that start-up stays cheap (``nwfilter-list`` has a 150 ms budget): a command's
module, and what it imports, is only loaded when that command runs or when help lists it.
"""

from __future__ import annotations

import importlib
import logging
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
    "port": "port:port",
    "secgroup": "secgroup:secgroup",
    "provider": "provider:provider",
    "host-settings": "hostsettings:host_settings",
    "api": "api:api",
    "token": "api:token",
    "host": "host:host",
    "net-define": "network:define",
    "net-undefine": "network:undefine",
    "net-start": "network:start",
    "net-destroy": "network:destroy",
    "net-autostart": "network:autostart",
    "net-list": "network:list_",
    "net-info": "network:info",
    "net-dumpxml": "network:dumpxml",
    "net-edit": "network:edit",
    "net-update": "network:update",
    "net-dhcp-leases": "network:dhcp_leases",
    "net-port-attach": "network:port_attach",
    "floating-ip": "floating:floating_ip",
    "doctor": "doctor:doctor",
    "import-libvirt": "virt:import_libvirt",
    "log": "log:log",
}


def summary(command: click.Command) -> str:
    """A command's first sentence, whole (click would cut it at 45 characters with '...')."""
    text = command.short_help or (command.help or "").split("\n\n")[0]
    text = " ".join(text.split())
    end = text.find(". ")
    return text[: end + 1] if end >= 0 else text


class SummaryGroup(click.Group):
    """A group whose help lists each command with its whole first sentence."""

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = []
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, summary(command)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


class LazyGroup(SummaryGroup):
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
        if not isinstance(command, click.Command):
            return None
        _accept_common(command, name in STRUCTURED)
        return command


def _context_setter(field: str) -> Any:
    def callback(ctx: click.Context, _param: click.Parameter, value: Any) -> None:
        from guestwall.cli.context import Context

        obj = ctx.find_object(Context)
        if obj is not None and value:
            setattr(obj, field, value)

    return callback


FORMAT_CHOICES = ("table", "json", "yaml", "value")  # as cli.output.FORMATS (not imported: start-up)


# Commands whose output has a structure: --format and -c on each (and on every subcommand of the groups).
# The others (lab, agent, demo, nwfilter-edit) print for people only and take -q alone.
STRUCTURED = frozenset(
    {
        "nwfilter-define",
        "nwfilter-undefine",
        "nwfilter-dumpxml",
        "nwfilter-list",
        "nwfilter-binding-create",
        "nwfilter-binding-delete",
        "nwfilter-binding-list",
        "nwfilter-binding-dumpxml",
        "apply",
        "status",
        "simulate",
        "port",
        "secgroup",
        "provider",
        "host-settings",
    }
)


def _common_options(command: click.Command, structured: bool) -> list[click.Option]:
    """``-q`` on every command; ``--format`` and ``-c`` on those with structured output (those a command
    defines itself stay its own)."""
    taken = {opt for p in command.params if isinstance(p, click.Option) for opt in p.opts}
    options = []
    if "-q" not in taken:
        options.append(
            click.Option(
                ["-q", "--quiet"],
                is_flag=True,
                expose_value=False,
                is_eager=True,
                callback=_context_setter("quiet"),
                help="Suppress informational messages (also before the command).",
            )
        )
    if structured and "--format" not in taken:
        options.append(
            click.Option(
                ["--format"],
                type=click.Choice(FORMAT_CHOICES),
                default=None,
                expose_value=False,
                is_eager=True,
                callback=_context_setter("fmt"),
                help="Output format (default: table, or the virsh layout).",
            )
        )
    if structured and "-c" not in taken:
        options.append(
            click.Option(
                ["-c", "--column"],
                multiple=True,
                metavar="COLUMN",
                expose_value=False,
                is_eager=True,
                callback=_context_setter("columns"),
                help="Show only this column (repeatable).",
            )
        )
    return options


def _accept_common(command: click.Command, structured: bool) -> None:
    if isinstance(command, click.Group):
        if type(command) is click.Group:
            command.__class__ = SummaryGroup  # the same help layout for port, secgroup, provider ...
        for sub in command.commands.values():
            _accept_common(sub, structured)
        return
    if getattr(command, "_guestwall_common", False):
        return
    command.params.extend(_common_options(command, structured))
    command._guestwall_common = True  # type: ignore[attr-defined]


@click.group(
    cls=LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110},
    epilog=(
        "\b\nEnvironment:\n"
        "  GUESTWALL_DB      the store's SQLAlchemy URL (as --db)\n"
        "  GUESTWALL_NETNS   the network namespace to enforce in (as --netns)\n"
        "  GUESTWALL_HOST    the host to act on (as --host)\n"
        "  GUESTWALL_CONFIG  the host configuration file (default /etc/guestwall/guestwall.toml):\n"
        "                    it seeds the host settings (guestwall host-settings) and holds the agent's\n"
        "                    timings\n"
        "  GUESTWALL_LOCAL   set: run every command in its own process, even when an agent runs\n"
        "                    for its namespace (by default the agent runs writing commands, warm)\n"
        "\b\nExit status: 0 success; 1 an error (one 'error:' line on stderr), or for 'status' something\n"
        "not enforced; 2 a usage error."
    ),
)
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
    help="Enforce in this named network namespace instead of the current one (env GUESTWALL_NETNS).",
)
@click.option(
    "--host",
    default=None,
    envvar="GUESTWALL_HOST",
    help="The host whose ports and bindings to act on (default: this machine's host name). Another host's "
    "changes are only written: its agent enforces them (unless --netns names where to enforce them here).",
)
@click.option(
    "--wait",
    "wait",
    is_flag=True,
    help="After a write, wait until every live host concerned has enforced it (fail naming those that "
    "have not).",
)
@click.option(
    "--wait-timeout", type=float, default=10.0, show_default=True, metavar="SECONDS", help="Limit of --wait."
)
@click.option("-q", "--quiet", is_flag=True, help="Suppress informational messages (as virsh -q).")
@click.version_option(package_name="guestwall")
@click.pass_context
def cli(
    ctx: click.Context,
    db_url: str | None,
    netns: str | None,
    host: str | None,
    wait: bool,
    wait_timeout: float,
    quiet: bool,
) -> None:
    """guestwall: libvirt-compatible network filters for guests, enforced with shared nftables rules."""
    from guestwall.cli.context import Context

    if netns == "":  # not the current namespace: an empty name is a mistake (an unset variable)
        raise click.BadParameter("an empty name is not a network namespace", param_hint="'--netns'")
    _warnings_to_stderr()
    context = Context(
        db_url=db_url, netns=netns, quiet=quiet, host=host, wait=wait, wait_timeout=wait_timeout
    )
    ctx.obj = context


class _EchoHandler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        click.echo(self.format(record), err=True)


def _warnings_to_stderr() -> None:
    """Warnings of the use cases (a configuration file the store's host settings overrule) as stderr lines."""
    logger = logging.getLogger("guestwall.settings")
    if not any(isinstance(h, _EchoHandler) for h in logger.handlers):
        handler = _EchoHandler(logging.WARNING)
        logger.addHandler(handler)
        logger.propagate = False


def main(argv: list[str] | None = None) -> Any:
    """The command line: handed to a running agent when it can take it (cli.remote), else run here. The
    ``guestwall`` script enters at ``cli.remote.main``, which decides before Click is even imported."""
    if argv is None:
        from guestwall.cli.remote import forward

        code = forward(sys.argv[1:], os.environ)
        if code is not None:
            sys.exit(code)
    return run_here(argv if argv is not None else sys.argv[1:])


def run_here(argv: list[str]) -> Any:
    """Run the command line in this process."""
    # One line per error and a non-zero exit code: commands raise GuestwallError, cli.context prints it.
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    return cli.main(args=argv, prog_name="guestwall")
