"""``guestwall api``: serve the REST API (guestwall.api) with uvicorn; ``guestwall token``: its tokens."""

from __future__ import annotations

import click

from guestwall.cli.context import Context, reported


def _listen(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise click.BadParameter(f"'{text}': expected HOST:PORT, e.g. 127.0.0.1:9696", param_hint="--listen")
    return host.strip("[]"), int(port)


@click.command("api")
@click.option("--listen", default="127.0.0.1:9696", show_default=True, help="Address and port to serve on.")
@click.option("--ssl-certfile", default=None, metavar="FILE", help="TLS certificate (PEM): serve HTTPS.")
@click.option("--ssl-keyfile", default=None, metavar="FILE", help="TLS private key (PEM).")
@click.option(
    "--workers", default=1, show_default=True, help="Worker processes (the store serialises writers)."
)
@click.option("--log-level", default="info", show_default=True)
@click.pass_obj
def api(
    ctx: Context,
    listen: str,
    ssl_certfile: str | None,
    ssl_keyfile: str | None,
    workers: int,
    log_level: str,
) -> None:
    """Serve the REST API: OpenStack Networking v2.0 security groups, rules, ports and address groups,
    and guestwall's own resources. Changes are enforced in this namespace (or --netns)."""
    import os

    import uvicorn

    host, port = _listen(listen)
    os.environ["GUESTWALL_API_DB"] = ctx.url
    if ctx.netns:
        os.environ["GUESTWALL_API_NETNS"] = ctx.netns
    with reported():
        from guestwall.api.app import Settings, open_state

        open_state(Settings(ctx.url, ctx.netns)).store.close()  # fail here, with one line, if it cannot open
    uvicorn.run(
        "guestwall.api.server:app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        ssl_certfile=ssl_certfile,
        ssl_keyfile=ssl_keyfile,
        log_level=log_level,
    )


@click.group("token")
def token() -> None:
    """API tokens: each acts for one project with one role (admin, member, reader)."""


@token.command("create")
@click.option("--project", required=True, help="The project the token acts for.")
@click.option("--role", default="member", show_default=True, help="admin, member or reader.")
@click.option("--description", default="")
@click.pass_obj
def token_create(ctx: Context, project: str, role: str, description: str) -> None:
    """Create a token and print it (only once: only its digest is stored)."""
    from guestwall.services.tokens import create_token
    from guestwall.services.tokens import role as parse_role

    with reported():
        made = create_token(ctx.store(), project, parse_role(role), description)
    click.echo(made.secret)
    click.echo(f"token {made.info.id} for project {project}, role {made.info.role.value}", err=True)


@token.command("list")
@click.option("--project", default=None, help="Only this project's tokens.")
@click.pass_obj
def token_list(ctx: Context, project: str | None) -> None:
    """List tokens (never their secrets)."""
    from guestwall.cli.output import virsh_table
    from guestwall.services.tokens import list_tokens

    with reported():
        tokens = list_tokens(ctx.store(create=False), project)
    rows = [
        [t.id, t.project, t.role.value, t.created_at.strftime("%Y-%m-%d %H:%M:%S"), t.description]
        for t in tokens
    ]
    click.echo(virsh_table(["ID", "Project", "Role", "Created", "Description"], rows), nl=False)


@token.command("revoke")
@click.argument("refs", nargs=-1, required=True, metavar="ID...")
@click.pass_obj
def token_revoke(ctx: Context, refs: tuple[str, ...]) -> None:
    """Revoke tokens by id (or a unique start of it); they stop working at once."""
    from guestwall.services.tokens import revoke_token

    with reported():
        for ref in refs:
            gone = revoke_token(ctx.store(), ref)
            click.echo(f"Token {gone.id} revoked")
