"""``guestwall agent``: run the per-host agent in the foreground (logs to stderr; SIGTERM stops it, SIGHUP
forces a full reconcile with the configuration read again). See docs/agent.md and contrib/."""

from __future__ import annotations

import sys

import click

from guestwall.cli.context import Context, reported


@click.command("agent")
@click.option(
    "--netns", default=None, help="Enforce in this named network namespace (overrides the global --netns)."
)
@click.option("--db", "db_url", default=None, help="Store URL (overrides the global --db).")
@click.option(
    "--host",
    default=None,
    help="The host this agent enforces (its ports and bindings; overrides the global --host; default: "
    "this machine's host name).",
)
@click.option(
    "--config",
    "config_path",
    default=None,
    metavar="FILE",
    help="Host configuration (default: $GUESTWALL_CONFIG or /etc/guestwall/guestwall.toml if it exists).",
)
@click.option("--once", is_flag=True, help="Converge once and exit (what a start does, without staying).")
@click.option(
    "--verify",
    is_flag=True,
    help="With --once: also compare every rule exactly with what the store renders to, comments aside "
    "(what SIGHUP does).",
)
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    default="info",
    show_default=True,
)
@click.pass_obj
def agent(
    ctx: Context,
    netns: str | None,
    db_url: str | None,
    host: str | None,
    config_path: str | None,
    once: bool,
    verify: bool,
    log_level: str,
) -> None:
    """Keep the kernel equal to the store: converge at start (changing only what differs), follow store
    changes, repair drift within a second, handle guest ports coming and going, learn IP addresses."""
    from guestwall.agent.daemon import AgentSettings, configure_logging, open_agent

    configure_logging(log_level)
    settings = AgentSettings(netns=netns or ctx.netns, config_path=config_path, host=host or ctx.host)
    url = db_url or ctx.url
    with reported():
        daemon = open_agent(settings, url)
    try:
        if once:
            with reported():
                outcome = daemon.reconciler.converge(verify=verify)
            click.echo(f"Converged: {outcome.summary()}")
            return
        with reported():
            code = daemon.run()
    finally:
        daemon.store.close()
    sys.exit(code)
