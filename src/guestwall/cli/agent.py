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
    "--allow-empty",
    is_flag=True,
    help="Start even with a missing store (creating it) or one without bindings while the kernel "
    "enforces ports (which then lose their rules).",
)
@click.option(
    "--libvirt",
    "libvirt_uri",
    default=None,
    metavar="URI",
    help="Follow this libvirt's domains (e.g. qemu:///system): bind the interfaces their guestwall "
    "metadata assigns a filter to while they run (docs/libvirt.md). Needs libvirt-python.",
)
@click.option(
    "--libvirt-interval",
    type=float,
    default=5.0,
    show_default=True,
    help="Seconds between full listings of the libvirt domains (the safety net behind events).",
)
@click.option(
    "--metrics",
    default=None,
    metavar="HOST:PORT",
    help="Serve Prometheus metrics (rules, sets, elements, transactions, drift repairs, per-rule and "
    "per-port counters) at http://HOST:PORT/metrics.",
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
    allow_empty: bool,
    libvirt_uri: str | None,
    libvirt_interval: float,
    metrics: str | None,
    log_level: str,
) -> None:
    """Keep the kernel equal to the store: converge at start (changing only what differs), follow store
    changes, repair drift within a second, handle guest ports coming and going, learn IP addresses."""
    from guestwall.agent.daemon import AgentSettings, configure_logging, open_agent

    configure_logging(log_level)
    if netns == "":
        raise click.BadParameter("an empty name is not a network namespace", param_hint="'--netns'")
    watch = None
    if libvirt_uri:
        from guestwall.virt.watcher import WatchSettings

        watch = WatchSettings(libvirt_uri, libvirt_interval)
    settings = AgentSettings(
        netns=netns or ctx.netns,
        config_path=config_path,
        host=host or ctx.host,
        allow_empty=allow_empty,
        libvirt=watch,
        metrics=metrics,
    )
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
