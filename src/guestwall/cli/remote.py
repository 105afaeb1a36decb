"""The ``guestwall`` entry point's fast path: hand a writing command to a running agent (as virsh hands its
commands to libvirtd), else run it here.

A cold process pays for its imports (SQLAlchemy, the compiler, pyroute2: about 0.4 s) and for opening the
store and an nftables context before it does 5 ms of work. ``guestwall agent`` holds all of that warm, so
when one runs for the command's namespace, this module (standard library only: nothing heavy is imported
before the decision) sends it the command line, the working directory, the relevant environment and, for
``-``, standard input; the agent runs the same Click command in its process (one at a time) and sends back
stdout, stderr and the exit status, which are written out unchanged. Protocol and checks:
``guestwall.agent.control``; why: docs/cli-daemon.md.

Falls back to running the command here when no agent listens (no socket, or a stale one), when the agent
says the store is not its own, or when it ends before it accepted the command (nothing was done).
"""

from __future__ import annotations

import gc
import json
import os
import socket
import struct
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

# The commands an agent may run for the CLI: they write, never prompt, and print no terminal-sized output.
FORWARDED = frozenset(
    {
        "nwfilter-define",
        "nwfilter-undefine",
        "nwfilter-binding-create",
        "nwfilter-binding-delete",
        "port",
        "secgroup",
        "provider",
    }
)
# The global options of ``guestwall`` (cli.app) that take a value, and the flags; any other option before
# the command (--help, --version, --wait: it would hold the agent while it waits) keeps it here.
VALUE_OPTIONS = frozenset({"--db", "--netns", "--host", "--wait-timeout"})
FLAGS = frozenset({"-q", "--quiet"})
HELP = frozenset({"-h", "--help"})
# Paths that name this process's own descriptors: the agent would open its own.
OWN_FILES = ("/dev/stdin", "/dev/fd/", "/proc/self/", "/proc/thread-self/")
# The environment a command reads (guestwall's variables; what colours or sizes output).
ENVIRONMENT = ("TERM", "COLORTERM", "NO_COLOR", "FORCE_COLOR", "COLUMNS", "LINES", "TTY_COMPACT")
ENV_PREFIX = "GUESTWALL_"

ACCEPTED, DECLINED = b"A", b"D"
PEER_UID = struct.Struct("3i")  # struct ucred: pid, uid, gid


def run_dir(environ: Mapping[str, str]) -> str:
    """Where the agent's lock, state file and socket are (as dataplane.apply.LOCK_DIR)."""
    return environ.get("GUESTWALL_RUN_DIR", "/run/guestwall")


def socket_path(directory: str, netns_inode: str) -> str:
    """The control socket of the agent of one network namespace (by its inode, as the agent's lock)."""
    return os.path.join(directory, f"agent-netns-{netns_inode}.sock")


@dataclass(frozen=True)
class Line:
    """What the entry point reads of a command line: the global options that choose the agent, and the
    command."""

    command: str
    netns: str | None  # --netns or GUESTWALL_NETNS; None: the current namespace
    db: str | None  # --db or GUESTWALL_DB; None: the default store
    host: str | None  # --host or GUESTWALL_HOST; None: this machine


def _global_options(argv: Sequence[str]) -> tuple[dict[str, str], int] | None:
    """The global options' values and the index of the command, or None when an option keeps the line
    here (--help, --version, --wait) or there is no command."""
    values: dict[str, str] = {}
    i = 0
    while i < len(argv):
        arg = argv[i]
        name, eq, value = arg.partition("=")
        if name in VALUE_OPTIONS:
            if not eq:
                if i + 1 >= len(argv):
                    return None
                value = argv[i + 1]
                i += 1
            values[name] = value
            i += 1
            continue
        if arg in FLAGS:
            i += 1
            continue
        if arg.startswith("-"):
            return None
        return values, i
    return None


def parse(argv: Sequence[str], environ: Mapping[str, str]) -> Line | None:
    """The line when it may be forwarded, else None. Only a quick look: the agent parses the line again
    with Click, and a line it would not run the same way is declined, or fails as it would here."""
    found = _global_options(argv)
    if found is None:
        return None
    values, i = found
    rest = argv[i + 1 :]
    if argv[i] not in FORWARDED or any(a in HELP for a in rest) or "--" in rest:
        return None
    if any(a.startswith(OWN_FILES) for a in rest):
        return None
    netns = values["--netns"] if "--netns" in values else environ.get("GUESTWALL_NETNS") or None
    if netns == "":
        return None  # an error, said by the command
    return Line(
        argv[i],
        netns,
        values.get("--db", environ.get("GUESTWALL_DB")) or None,
        values.get("--host", environ.get("GUESTWALL_HOST")) or None,
    )


def namespace_inode(netns: str | None) -> str | None:
    path = (
        "/proc/thread-self/ns/net"
        if netns is None
        else netns
        if netns.startswith("/")
        else f"/run/netns/{netns}"
    )
    try:
        return str(os.stat(path).st_ino)
    except OSError:
        return None  # the command says what is wrong


def request(argv: Sequence[str], environ: Mapping[str, str], inode: str, stdin: bytes | None) -> bytes:
    """The request: one JSON document (the agent reads to end of file)."""
    env = {k: v for k, v in environ.items() if k.startswith(ENV_PREFIX) or k in ENVIRONMENT}
    document = {
        "argv": list(argv),
        "netns_inode": inode,
        "encoding": [sys.stdout.encoding, sys.stderr.encoding],
        "cwd": os.getcwd(),
        "env": env,
        "stdin": None if stdin is None else stdin.decode("latin-1"),
        "tty": [sys.stdout.isatty(), sys.stderr.isatty()],
    }
    return json.dumps(document).encode()


def _connect(path: str) -> socket.socket | None:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(path)
        _pid, uid, _gid = PEER_UID.unpack(
            sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, PEER_UID.size)
        )
    except OSError:
        sock.close()
        return None  # none listening (a stale socket of an agent that ended), or not ours to use
    if uid not in (0, os.geteuid()):
        sock.close()
        return None  # not an agent: someone else's socket
    return sock


def _read_all(sock: socket.socket) -> bytes:
    chunks: list[bytes] = []
    while True:
        chunk = sock.recv(1 << 16)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def forward(argv: Sequence[str], environ: Mapping[str, str]) -> int | None:
    """Run ``argv`` in the namespace's agent: its exit status once its output is written, or None to run
    the command here (no agent, or one that declined before doing anything)."""
    if environ.get("GUESTWALL_LOCAL"):
        return None
    line = parse(argv, environ)
    if line is None:
        return None
    inode = namespace_inode(line.netns)
    if inode is None:
        return None
    stdin = None
    if "-" in argv:
        if sys.stdin is None or sys.stdin.isatty():
            return None  # read interactively: here
        stdin = sys.stdin.buffer.read()
    sock = _connect(socket_path(run_dir(environ), inode))
    if sock is None:
        if stdin is not None:
            sys.stdin = _replayed(stdin)
        return None
    with sock:
        try:
            sock.sendall(request(argv, environ, inode, stdin))
            sock.shutdown(socket.SHUT_WR)
            first = sock.recv(1)
        except OSError:
            first = b""
        reply = b""
        if first == ACCEPTED:  # from here on the command may be committed: never run it a second time
            try:
                reply = _read_all(sock)
            except OSError:
                reply = b""
    if first != ACCEPTED:  # declined, or ended before it started anything: run it here
        if stdin is not None:
            sys.stdin = _replayed(stdin)
        return None
    return _write_reply(reply)


def _write_reply(reply: bytes) -> int:
    try:
        answer = json.loads(reply)
        out, err, code = (
            answer["stdout"].encode("latin-1"),
            answer["stderr"].encode("latin-1"),
            answer["code"],
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        sys.stderr.write(
            "error: the guestwall agent ended while it ran the command: the store has the change whole or "
            "not at all (see 'guestwall status'); the agent converges the kernel to it when it starts again\n"
        )
        return 1
    for stream, data in ((sys.stdout, out), (sys.stderr, err)):
        if data:
            stream.flush()
            stream.buffer.write(data)
            stream.buffer.flush()
    return int(code)


def _replayed(data: bytes) -> object:
    import io

    return io.TextIOWrapper(io.BytesIO(data), encoding=sys.stdin.encoding if sys.stdin else "utf-8")


def one_shot(argv: Sequence[str]) -> bool:
    """Whether the line is a command that does one bounded piece of work and ends: a write the agent may
    run, or ``apply`` (not ``agent``, ``api``, ``lab``, which run on)."""
    found = _global_options(argv)
    return found is not None and argv[found[1]] in FORWARDED | {"apply"}


def main() -> None:
    """The ``guestwall`` script: forward to an agent when one runs, else the CLI in this process."""
    argv = sys.argv[1:]
    code = forward(argv, os.environ)
    if code is not None:
        sys.exit(code)
    if one_shot(argv):
        # Such a command builds what it enforces and ends: the cyclic collector finds next to nothing in it
        # (the same peak memory without it) but walked every loaded module twice in a first apply of 1000
        # ports (50 ms of 0.55 s). The process ends before garbage could matter.
        gc.disable()
    from guestwall.cli.app import run_here

    try:
        sys.exit(run_here(argv))
    finally:
        # The command is over and its store closed: what it loaded ends with the process. Left tracked, it
        # is walked once more by the interpreter's last full collection (60 ms after a first apply of 1000
        # ports, a tenth of the command).
        gc.freeze()
