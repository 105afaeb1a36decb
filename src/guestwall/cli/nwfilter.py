"""virsh-compatible filter commands: nwfilter-define, -undefine, -dumpxml, -list and -edit (reference §6).

Names, arguments, messages and layouts are virsh 9.0's. The read-only commands go through the fast store
path and import neither SQLAlchemy nor the XML layer (``nwfilter-list`` has a 150 ms start-up budget).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from guestwall.cli.context import Context, reported
from guestwall.errors import GuestwallError

F = TypeVar("F", bound=Callable[..., Any])


class _ReadError(GuestwallError):
    code = ""  # virsh prints system errors without an error-code phrase


# What the XML parser accepts (nwfilter.safexml.MAX_XML_BYTES; not imported: lxml stays unloaded here).
MAX_INPUT_BYTES = 4 * 1024 * 1024


def read_input_file(path: str, limit: int = MAX_INPUT_BYTES) -> bytes:
    """The bytes of a file named on the command line, at most ``limit`` (as virsh's virFileReadAll, so
    that /dev/zero or a huge file cannot exhaust memory); errors worded as virsh's. ``-`` is standard input
    (a guestwall extension)."""
    try:
        if path == "-":
            data = sys.stdin.buffer.read(limit + 1)
        else:
            with open(path, "rb") as f:
                data = f.read(limit + 1)
    except OSError as e:
        raise _ReadError(f"Failed to open file '{path}': {e.strerror}") from e
    if len(data) > limit:
        raise _ReadError(f"File '{path}' is too large: the limit is {limit} bytes")
    return data


def required(command: str, option: str, positional: str | None, named: str | None) -> str:
    """virsh options can be given positionally or by name (``nwfilter-define FILE`` or ``--file FILE``)."""
    if positional is not None and named is not None:
        click.echo(f"error: option --{option} already seen", err=True)
        sys.exit(1)
    value = positional if positional is not None else named
    if value is None:
        click.echo(f"error: command '{command}' requires <{option}> option", err=True)
        sys.exit(1)
    return value


def _nwfilter_option(function: F) -> F:
    function = click.option("--nwfilter", "nwfilter_named", metavar="NWFILTER", help="Name or UUID.")(
        function
    )
    return click.argument("nwfilter", required=False, metavar="NWFILTER")(function)


def _not_found(name: str) -> str:
    return f"failed to get nwfilter '{name}'"


@click.command("nwfilter-define")
@click.argument("file", required=False, metavar="FILE")
@click.option(
    "--file", "file_named", metavar="FILE", help="File containing an XML network filter description."
)
@click.option("--validate", is_flag=True, help="Validate the XML against the schema.")
@click.pass_obj
def define(ctx: Context, file: str | None, file_named: str | None, validate: bool) -> None:
    """Define or update a network filter from an XML FILE."""
    from guestwall.services.filters import define_filter

    path = required("nwfilter-define", "file", file, file_named)
    with reported():
        xml = read_input_file(path)
    with reported(f"Failed to define network filter from {path}"):
        result = define_filter(ctx.store(), xml, validate=validate, engine=ctx.engine())
    warn_ignored(xml)
    ctx.info(
        f"Network filter {result.name} defined from {path}",
        {"name": result.name, "uuid": str(result.uuid), "changed": result.changed},
    )


def warn_ignored(xml: str | bytes) -> None:
    """libvirt silently ignores unknown attributes (a typo then widens the rule); we say so on stderr."""
    from guestwall.nwfilter.ignored import ignored_attributes

    for line in ignored_attributes(xml):
        click.echo(f"warning: {line}", err=True)


@click.command("nwfilter-undefine")
@_nwfilter_option
@click.pass_obj
def undefine(ctx: Context, nwfilter: str | None, nwfilter_named: str | None) -> None:
    """Undefine a network filter (by name or UUID)."""
    from guestwall.services.filters import undefine_filter

    name = required("nwfilter-undefine", "nwfilter", nwfilter, nwfilter_named)
    with reported(f"Failed to undefine network filter {name}", not_found=_not_found(name)):
        undefine_filter(ctx.store(), name, engine=ctx.engine())
    # as virsh: the argument as typed, even a UUID
    ctx.info(f"Network filter {name} undefined", {"name": name, "undefined": True})


@click.command("nwfilter-dumpxml")
@_nwfilter_option
@click.pass_obj
def dumpxml(ctx: Context, nwfilter: str | None, nwfilter_named: str | None) -> None:
    """Print a network filter's XML."""
    from guestwall.services.filters import find_filter

    name = required("nwfilter-dumpxml", "nwfilter", nwfilter, nwfilter_named)
    with reported(not_found=_not_found(name)):
        record = find_filter(ctx.reader(), name)
    if ctx.fmt != "table" or ctx.columns:
        from guestwall.cli.output import emit

        emit(ctx.fmt, {"name": record.name, "uuid": str(record.uuid), "xml": record.xml}, [], ctx.columns)
        return
    click.echo(record.xml, nl=not record.xml.endswith("\n"))
    ctx.done()


@click.command("nwfilter-list")
@click.pass_obj
def list_(ctx: Context) -> None:
    """List network filters."""
    from guestwall.cli.output import virsh_table
    from guestwall.services.filters import list_filters

    with reported("Failed to list network filters"):
        records = list_filters(ctx.reader())
    if ctx.fmt != "table" or ctx.columns:
        from guestwall.cli.output import emit

        data = [{"uuid": str(record.uuid), "name": record.name} for record in records]
        emit(ctx.fmt, data, ["uuid", "name"], ctx.columns)
        return
    rows = [(str(record.uuid), record.name) for record in records]
    click.echo(virsh_table(("UUID", "Name"), rows, header=not ctx.quiet), nl=False)
    ctx.done()


_REEDIT_HELP = """y - yes, start editor again
n - no, throw away my changes
i - turn off validation and try to redefine again
f - force, try to redefine again
? - print this help"""


@click.command("nwfilter-edit")
@_nwfilter_option
@click.pass_obj
def edit(ctx: Context, nwfilter: str | None, nwfilter_named: str | None) -> None:
    """Edit a network filter's XML in $VISUAL or $EDITOR (default vi) and redefine it."""
    import tempfile

    from guestwall.services.filters import define_filter, find_filter
    from guestwall.services.ownership import check_filter_change

    name = required("nwfilter-edit", "nwfilter", nwfilter, nwfilter_named)
    with reported(not_found=_not_found(name)):
        original = find_filter(ctx.store(create=False), name)
        check_filter_change(original.name, "nwfilter-edit")
    handle, path = tempfile.mkstemp(prefix="guestwall", suffix=".xml")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(original.xml)
        validate = True  # as virsh's nwfilter-edit; answer 'i' turns it off
        reedit = True
        while True:
            if reedit:
                with reported():
                    _run_editor(path)
                    edited = read_input_file(path)  # bytes: the parser honours an encoding declaration
                if edited == original.xml.encode():
                    ctx.info(f"Network filter {original.name} XML configuration not changed.")
                    return
            # As virsh: if someone else changed the filter meanwhile, ask before overwriting their change.
            with reported(not_found=_not_found(name)):
                current = find_filter(ctx.store(), str(original.uuid))
            if current.xml != original.xml:
                message = "The XML configuration was changed by another user."
                original = current
            else:
                try:
                    result = define_filter(
                        ctx.store(), edited, validate=validate, engine=ctx.engine()
                    )
                except GuestwallError as e:
                    click.echo(f"error: {e.virsh_text()}", err=True)
                    message = "Failed."
                else:
                    warn_ignored(edited)
                    ctx.info(f"Network filter {result.name} XML configuration edited.")
                    return
            answer = _ask_reedit(message)
            if answer == "n":
                ctx.done()
                sys.exit(1)
            reedit = answer == "y"
            validate = validate and answer != "i"
    finally:
        with contextlib.suppress(OSError):  # the editor may have removed or renamed it
            os.unlink(path)


def _run_editor(path: str) -> None:
    import subprocess

    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
    # Through the shell, as virsh does for editors given with arguments (EDITOR="emacs -nw").
    status = subprocess.call(["sh", "-c", f'{editor} "$1"', "sh", path])
    if status != 0:
        raise GuestwallError(f"Child process ({editor} {path}) unexpected exit status {status}")


def _ask_reedit(message: str) -> str:
    """virsh's "Try again?" question: one key on a terminal, else one line (where virsh would not ask at
    all); end of input counts as 'n'."""
    while True:
        click.echo(f"{message} Try again? [y,n,i,f,?]: ", nl=False)
        if sys.stdin.isatty():
            answer = click.getchar().lower()
            click.echo("")
        else:
            line = sys.stdin.readline()
            if not line:
                click.echo("")
                return "n"
            answer = line.strip().lower()[:1]
        if answer == "?":
            click.echo(_REEDIT_HELP)
        elif answer in ("y", "n", "i", "f"):
            return answer
