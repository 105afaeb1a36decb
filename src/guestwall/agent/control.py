"""The agent's control socket: it runs writing CLI commands for ``guestwall`` processes (cli.remote), warm.

A unix stream socket in the run directory (mode 0600, named after the namespace's inode like the agent's
lock), served in the agent's loop: one command at a time, between the agent's own steps, so a command never
runs beside a converge. Exchange, one per connection:

- the client sends one JSON document (command line, working directory, environment, standard input, which
  of its streams are terminals) and shuts its side down;
- the agent checks the peer (SO_PEERCRED: root or the agent's own user) and that the command names this
  agent's store, host and namespace; if not, it answers ``D`` (declined: the client runs it itself);
- else it answers ``A`` (accepted), runs the Click command in this process with the client's directory,
  environment and streams, and sends one JSON document: stdout, stderr and the exit status.

What a command writes is one store transaction (with its kernel transaction inside), so an agent that dies
during a command leaves the change whole or absent; the client, which got ``A`` and no answer, says so.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import socket
import sys
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from guestwall.cli.remote import ACCEPTED, DECLINED, ENV_PREFIX, ENVIRONMENT, PEER_UID, parse, socket_path
from guestwall.dataplane.backend import Backend
from guestwall.errors import GuestwallError
from guestwall.store.records import DEFAULT_URL, Store

log = logging.getLogger("guestwall.agent")

MAX_REQUEST = 32 * 1024 * 1024  # a command line and at most a few files' worth of stdin
READ_TIMEOUT = 5.0  # seconds a client may take to send its request (it sends it at once)
BACKLOG = 64


@dataclass(frozen=True)
class Request:
    argv: list[str]
    cwd: str
    env: dict[str, str]
    netns_inode: str
    stdin: bytes | None
    tty: tuple[bool, bool]
    encoding: tuple[str, str]


@dataclass(frozen=True)
class Reply:
    code: int
    stdout: bytes
    stderr: bytes

    def encoded(self) -> bytes:
        return json.dumps(
            {
                "code": self.code,
                "stdout": self.stdout.decode("latin-1"),
                "stderr": self.stderr.decode("latin-1"),
            }
        ).encode()


class BadRequest(GuestwallError):
    """A control request that is not one (logged by the agent; the client runs the command itself)."""


def decode(data: bytes) -> Request:
    try:
        doc = json.loads(data)
        stdin = doc["stdin"]
        request = Request(
            argv=[str(a) for a in doc["argv"]],
            cwd=str(doc["cwd"]),
            env={str(k): str(v) for k, v in doc["env"].items()},
            netns_inode=str(doc["netns_inode"]),
            stdin=None if stdin is None else str(stdin).encode("latin-1"),
            tty=(bool(doc["tty"][0]), bool(doc["tty"][1])),
            encoding=(str(doc["encoding"][0] or "utf-8"), str(doc["encoding"][1] or "utf-8")),
        )
    except (ValueError, KeyError, TypeError, IndexError, AttributeError, UnicodeError) as e:
        raise BadRequest(f"malformed control request: {e}") from None
    if not os.path.isabs(request.cwd):
        raise BadRequest(f"malformed control request: working directory {request.cwd!r} is not absolute")
    return request


class _Stream(io.TextIOWrapper):
    """A captured stdout or stderr that answers isatty() as the client's stream does (what colours)."""

    def __init__(self, encoding: str, tty: bool) -> None:
        self.raw_bytes = io.BytesIO()
        super().__init__(self.raw_bytes, encoding=encoding, errors="backslashreplace" if tty else "strict")
        self._tty = tty

    def isatty(self) -> bool:
        return self._tty

    def captured(self) -> bytes:
        self.flush()
        return self.raw_bytes.getvalue()


@contextlib.contextmanager
def _as_client(request: Request, netns: str | None) -> Iterator[tuple[_Stream, _Stream]]:
    """This process with the client's directory, environment and streams, restored afterwards."""
    saved_env = dict(os.environ)
    saved_cwd = os.open(".", os.O_RDONLY | os.O_DIRECTORY)
    saved_streams = sys.stdin, sys.stdout, sys.stderr
    loggers = {name: logging.getLogger(name) for name in ("guestwall", "guestwall.settings")}
    saved_loggers = {n: (lg.handlers[:], lg.propagate, lg.level) for n, lg in loggers.items()}
    out, err = _Stream(request.encoding[0], request.tty[0]), _Stream(request.encoding[1], request.tty[1])
    try:
        for key in [k for k in os.environ if k.startswith(ENV_PREFIX) or k in ENVIRONMENT]:
            if key != "GUESTWALL_RUN_DIR":
                del os.environ[key]
        os.environ.update(request.env)
        if netns is not None and not _names_netns(request):
            os.environ["GUESTWALL_NETNS"] = netns  # the client's own namespace is the agent's: by name here
        os.chdir(request.cwd)
        sys.stdin = io.TextIOWrapper(io.BytesIO(request.stdin or b""), encoding=request.encoding[0])
        sys.stdout, sys.stderr = out, err
        # as in a process of its own: no handler, warnings on stderr by logging's last resort
        root = loggers["guestwall"]
        root.handlers[:], root.propagate, root.level = [], True, logging.NOTSET
        yield out, err
    finally:
        sys.stdin, sys.stdout, sys.stderr = saved_streams
        for name, (handlers, propagate, level) in saved_loggers.items():
            loggers[name].handlers[:], loggers[name].propagate, loggers[name].level = (
                handlers,
                propagate,
                level,
            )
        os.fchdir(saved_cwd)
        os.close(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)


def _names_netns(request: Request) -> bool:
    line = parse(request.argv, request.env)
    return line is not None and line.netns is not None


def run_command(argv: list[str]) -> int:
    """Run one command line with Click as the ``guestwall`` process would; its exit status."""
    from guestwall.cli.app import run_here

    try:
        run_here(argv)
    except SystemExit as e:
        if e.code is None:
            return 0
        if isinstance(e.code, int):
            return e.code
        print(e.code, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        raise
    except BaseException:  # as the interpreter would: the traceback, status 1
        traceback.print_exc()
        return 1
    return 0


class ControlServer:
    """The listening socket and the warm objects the commands borrow (cli.context.Warm)."""

    def __init__(self, run_dir: str, netns: str | None, netns_inode: str, url: str, host: str) -> None:
        self.netns, self.netns_inode, self.url, self.host = netns, netns_inode, url, host
        self.path = socket_path(run_dir, netns_inode)
        self._store: Store | None = None
        self._backend: Backend | None = None
        self.commands = 0
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)  # a stale one: the caller holds the namespace's agent lock
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        umask = os.umask(0o177)  # mode 0600 from the start
        try:
            sock.bind(self.path)
        except OSError:
            sock.close()
            raise
        finally:
            os.umask(umask)
        sock.listen(BACKLOG)
        sock.setblocking(False)
        self.sock = sock
        self._inode = os.stat(self.path).st_ino

    def fileno(self) -> int:
        return self.sock.fileno()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            if os.stat(self.path).st_ino == self._inode:
                os.unlink(self.path)
        self.sock.close()
        if self._store is not None:
            self._store.close()
            self._store = None

    # ---- the warm objects ---------------------------------------------------------------------------------

    def store(self) -> Store:
        if self._store is None:
            from guestwall.store import open_store

            self._store = open_store(self.url, self.host, create=False)
        return self._store

    def backend(self) -> Backend:
        if self._backend is None:
            from guestwall.dataplane.backend import open_backend

            self._backend = open_backend(self.netns)
        return self._backend

    def warm_up(self) -> None:
        """Load what the forwarded commands use and open the store and the nftables context."""
        import importlib

        from guestwall.cli.app import COMMANDS, LazyGroup
        from guestwall.cli.remote import FORWARDED

        for name in sorted(FORWARDED):
            LazyGroup._load(name)
        for module in (
            "guestwall.services.bindings",
            "guestwall.services.filters",
            "guestwall.cloud.facade",
            "guestwall.cloud.conntrack",
            "guestwall.cloud.validate",
        ):
            with contextlib.suppress(ImportError):
                importlib.import_module(module)
        assert COMMANDS
        try:
            self.store()
            self.backend()
        except GuestwallError as e:
            log.warning("control socket: cannot open the store or the kernel ahead: %s", e)

    # ---- one connection -------------------------------------------------------------------------------

    def serve_one(self) -> bool:
        """Accept one waiting client and answer it (called when the socket is readable); whether a command
        ran."""
        try:
            conn, _ = self.sock.accept()
        except (BlockingIOError, InterruptedError):
            return False
        with conn:
            conn.setblocking(True)
            conn.settimeout(READ_TIMEOUT)
            try:
                return self._answer(conn)
            except (OSError, BadRequest) as e:
                log.warning("control socket: %s", e)
                return False

    def _answer(self, conn: socket.socket) -> bool:
        _pid, uid, _gid = PEER_UID.unpack(
            conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, PEER_UID.size)
        )
        if uid not in (0, os.geteuid()):
            conn.sendall(DECLINED)
            raise BadRequest(f"refused a command of uid {uid}")
        request = decode(_receive(conn))
        why = self.declines(request)
        if why is not None:
            log.debug("control socket: declined (%s): %s", why, " ".join(request.argv))
            conn.sendall(DECLINED)
            return False
        conn.sendall(ACCEPTED)
        reply = self.run(request)
        conn.settimeout(None)
        with contextlib.suppress(OSError):  # a client that went away does not stop the agent
            conn.sendall(reply.encoded())
        return True

    def declines(self, request: Request) -> str | None:
        """Why this agent does not run the request (the client then does), or None."""
        line = parse(request.argv, request.env)
        if line is None:
            return "not a forwarded command"
        if request.netns_inode != self.netns_inode:
            return "another network namespace"
        if not os.path.isdir(request.cwd):
            return f"no directory {request.cwd} here"  # another mount namespace
        if line.netns is not None:
            from guestwall.dataplane.netns import namespace_id

            try:
                if namespace_id(line.netns) != self.netns_inode:
                    return f"namespace {line.netns} is another one here"
            except (OSError, GuestwallError):
                return f"no namespace {line.netns} here"
        from guestwall.cli.context import same_url

        if not same_url(line.db or DEFAULT_URL, self.url):
            return "another store"
        if (line.host or socket.gethostname()) != self.host:
            return "another host"
        return None

    def run(self, request: Request) -> Reply:
        from guestwall.cli.context import Warm, lent

        warm = Warm(self.url, self.host, self.netns_inode, self.store, self.backend)
        with _as_client(request, self.netns) as (out, err), lent(warm):
            code = run_command(request.argv)
            reply = Reply(code, out.captured(), err.captured())
        self.commands += 1
        log.debug("control socket: ran %s (exit status %d)", " ".join(request.argv), code)
        return reply


def _receive(conn: socket.socket) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = conn.recv(1 << 16)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > MAX_REQUEST:
            raise BadRequest(f"control request larger than {MAX_REQUEST} bytes")
        chunks.append(chunk)


def open_control(
    run_dir: str, netns: str | None, url: str, host: str, on_error: Callable[[str], Any]
) -> ControlServer | None:
    """The control socket of the agent of ``netns``, or None (said through ``on_error``) when it cannot be
    made: the CLI then runs every command itself, as without an agent."""
    from guestwall.dataplane.netns import namespace_id

    try:
        return ControlServer(run_dir, netns, namespace_id(netns), url, host)
    except (OSError, GuestwallError) as e:
        on_error(f"no control socket for the CLI (commands run in their own process): {e}")
        return None
