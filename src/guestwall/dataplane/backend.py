"""The one I/O seam to the kernel's nftables: run a transaction of typed commands, list our tables (JSON).

Two real backends: libnftables in-process through ctypes (fast: no process per change) and the ``nft``
command as a fallback. Both can work in a named network namespace, and both render a transaction once,
here, with ``nft.render`` (why text and not JSON: see there). A recording fake serves pure tests.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import os
import shutil
import subprocess
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from guestwall.dataplane.netns import call_in_netns, netns_path
from guestwall.errors import DataplaneError
from guestwall.nft.commands import Command, Listing, ListTable, Table, Transaction
from guestwall.nft.render import list_command, listing, render_transaction

if TYPE_CHECKING:
    from guestwall.dataplane.nlchains import ChainReader
    from guestwall.dataplane.nlelements import ElementWriter
    from guestwall.dataplane.state import ActualTable

JSON = dict[str, Any]

_NFT_CTX_OUTPUT_JSON = 1 << 4
_NFT_CTX_OUTPUT_TERSE = 1 << 11  # leave set elements out of listings
_SOCKET_PROBE = ListTable(Table("inet", "guestwall-socket-probe"))  # absent: listing it opens the socket


class Backend(Protocol):
    netns: str | None

    def run(self, tx: Transaction) -> None:
        """Run the commands as one atomic transaction; raise DataplaneError with nft's message."""

    def list_json(self, what: Listing, terse: bool = False) -> JSON | None:
        """``nft -j list <what>`` (``-t``: without set elements); None when the object does not exist."""


@dataclass
class TerseMemo:
    """A backend's last terse reading of our tables (``dataplane.state.read_terse``) and the ruleset
    generation it holds for: a change reads the kernel again only when something was committed since.
    Callers only read the tables."""

    generation: int = -1
    tables: dict[str, ActualTable] | None = None


class NoKernel:
    """No kernel at all: for a command acting for another host, whose agent enforces. Every change is still
    compiled (a change that cannot be enforced is refused at write time); nothing is run."""

    netns: str | None = None

    def run(self, tx: Transaction) -> None:
        return None

    def list_json(self, what: Listing, terse: bool = False) -> JSON | None:
        return None


class LibNftables:
    """libnftables through ctypes. The context's netlink socket is opened inside the target namespace
    and stays bound to it, so later calls from any thread act there."""

    _lock = threading.Lock()

    def __init__(self, netns: str | None = None) -> None:
        self.netns = netns
        name = ctypes.util.find_library("nftables") or "libnftables.so.1"
        try:
            lib = ctypes.CDLL(name)
        except OSError as e:
            raise DataplaneError(f"cannot load libnftables ({name}): {e}") from e
        lib.nft_ctx_new.restype = ctypes.c_void_p
        lib.nft_ctx_new.argtypes = [ctypes.c_uint32]
        lib.nft_run_cmd_from_buffer.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
        lib.nft_run_cmd_from_buffer.restype = ctypes.c_int
        for fn in ("nft_ctx_buffer_output", "nft_ctx_buffer_error"):
            getattr(lib, fn).argtypes = [ctypes.c_void_p]
        for fn in ("nft_ctx_get_output_buffer", "nft_ctx_get_error_buffer"):
            getattr(lib, fn).argtypes = [ctypes.c_void_p]
            getattr(lib, fn).restype = ctypes.c_char_p
        lib.nft_ctx_output_set_flags.argtypes = [ctypes.c_void_p, ctypes.c_uint]
        lib.nft_ctx_free.argtypes = [ctypes.c_void_p]
        self._lib = lib
        self._ctx = self._new_ctx(0)
        self._json_ctx = self._new_ctx(_NFT_CTX_OUTPUT_JSON)
        self._terse_ctx = self._new_ctx(_NFT_CTX_OUTPUT_JSON | _NFT_CTX_OUTPUT_TERSE)
        self._chains: ChainReader | None = None
        self._elements: ElementWriter | None = None
        self.terse = TerseMemo()

    def chain_reader(self) -> ChainReader:
        """Our chains and rule digests without libnftables' cache (``dataplane.nlchains``), opened once."""
        if self._chains is None:
            from guestwall.dataplane.nlchains import ChainReader

            self._chains = ChainReader(self.netns)
        return self._chains

    def element_writer(self) -> ElementWriter:
        """Element-only transactions over netlink, without libnftables' cache (``dataplane.nlelements``)."""
        if self._elements is None:
            from guestwall.dataplane.nlelements import ElementWriter

            self._elements = ElementWriter(self.netns)
        return self._elements

    def _new_ctx(self, flags: int) -> int:
        lib = self._lib

        def create() -> int:
            ctx = lib.nft_ctx_new(0)
            if ctx and self.netns is not None:
                # the socket is opened lazily by some versions: force it now, inside the namespace, with
                # a listing that reads one table's name only (``list tables`` fills the whole cache: 140
                # ms at 5000 ports, for each of the three contexts of every command run on its own)
                lib.nft_ctx_buffer_output(ctx)
                lib.nft_ctx_buffer_error(ctx)
                lib.nft_run_cmd_from_buffer(ctx, list_command(_SOCKET_PROBE).encode())
            return int(ctx or 0)

        ctx = call_in_netns(self.netns, create)
        if not ctx:
            raise DataplaneError("libnftables could not create a context")
        lib.nft_ctx_buffer_output(ctx)
        lib.nft_ctx_buffer_error(ctx)
        if flags:
            lib.nft_ctx_output_set_flags(ctx, flags)
        return int(ctx)

    def _free(self, *contexts: int) -> None:
        with self._lock:
            for ctx in contexts:
                self._lib.nft_ctx_free(ctx)

    def close(self) -> None:
        """Free the contexts (each holds a netlink socket); the backend is unusable afterwards."""
        contexts = [getattr(self, name, 0) for name in ("_ctx", "_json_ctx", "_terse_ctx")]
        self._ctx = self._json_ctx = self._terse_ctx = 0
        self._free(*(ctx for ctx in contexts if ctx))
        for name in ("_chains", "_elements"):
            socket_user = getattr(self, name, None)
            setattr(self, name, None)
            if socket_user is not None:
                socket_user.close()

    def __del__(self) -> None:
        # long-lived processes (the agent, the API, a test run) open many backends: a context that is
        # never freed keeps a netlink socket and libnftables' cache for the life of the process
        if getattr(self, "_lib", None) is not None:
            self.close()

    def _call(self, ctx: int, text: str) -> tuple[int, str, str]:
        with self._lock:
            rc = self._lib.nft_run_cmd_from_buffer(ctx, text.encode())
            out = (self._lib.nft_ctx_get_output_buffer(ctx) or b"").decode()
            err = (self._lib.nft_ctx_get_error_buffer(ctx) or b"").decode()
        return rc, out, err

    def run(self, tx: Transaction) -> None:
        from guestwall.dataplane.nlelements import encode

        known, self.terse.tables = self.terse.tables, None
        messages = encode(tx)
        if messages is not None:
            self.element_writer().send(messages, _command_text)
            if known is not None and self.chain_reader().generation() == self.terse.generation + 1:
                # this batch alone was committed since the reading, and it held elements only
                self.terse.generation, self.terse.tables = self.terse.generation + 1, known
            return
        commands = render_transaction(tx)
        rc, _, err = self._call(self._ctx, commands)
        if rc != 0:
            # a failed batch can leave libnftables' cache inconsistent: start the next call afresh
            failed, self._ctx = self._ctx, self._new_ctx(0)
            self._free(failed)
            raise DataplaneError(
                f"the kernel refused the nftables transaction: {self._located(commands, err)}"
            )

    def _located(self, commands: str, err: str) -> str:
        """nft's error with the command it is about. libnftables 1.0.6 quotes the first line of a buffer
        whatever command failed; a dry run of the same text read as a file names the right line."""
        lib = self._lib
        lib.nft_ctx_set_dry_run.argtypes = [ctypes.c_void_p, ctypes.c_bool]
        lib.nft_run_cmd_from_filename.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
        ctx = self._new_ctx(0)
        fd = os.memfd_create("guestwall-nft")
        try:
            os.write(fd, commands.encode())
            lib.nft_ctx_set_dry_run(ctx, True)
            with self._lock:
                lib.nft_run_cmd_from_filename(ctx, f"/proc/self/fd/{fd}".encode())
                located = (lib.nft_ctx_get_error_buffer(ctx) or b"").decode()
        finally:
            os.close(fd)
            self._free(ctx)
        return _with_command(located, commands) or _first_error(err).split(" | ")[0]

    def list_json(self, what: Listing, terse: bool = False) -> JSON | None:
        text = list_command(what)
        rc, out, err = self._call(self._terse_ctx if terse else self._json_ctx, text)
        if rc != 0:
            if "No such file or directory" in err:
                return None
            raise DataplaneError(f"nft {text} failed: {_first_error(err)}")
        return _parsed(out, text) if out.strip() else {"nftables": []}


def _parsed(out: str, what: str) -> JSON:
    """nft's JSON listing; output that is not JSON is nft's failure, not a crash of the caller."""
    try:
        result: JSON = json.loads(out)
    except ValueError as e:
        raise DataplaneError(f"nft {what} printed output that is not JSON: {e}") from None
    return result


class NftCommand:
    """The ``nft`` program, one process per call (``ip netns exec`` for a namespace)."""

    def __init__(self, netns: str | None = None) -> None:
        self.netns = netns
        nft = shutil.which("nft")
        if nft is None:
            raise DataplaneError("the nft command is not installed (Debian package nftables)")
        self._argv = ["ip", "netns", "exec", netns, nft] if netns else [nft]
        if netns:
            netns_path(netns)

    def _exec(self, args: list[str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        try:
            return subprocess.run(
                [*self._argv, *args], input=stdin, capture_output=True, text=True, check=False
            )
        except OSError as e:
            raise DataplaneError(f"cannot run nft: {e}") from e

    def run(self, tx: Transaction) -> None:
        commands = render_transaction(tx)
        proc = self._exec(["-f", "-"], commands)
        if proc.returncode != 0:
            what = _with_command(proc.stderr, commands) or _first_error(proc.stderr)
            raise DataplaneError(f"the kernel refused the nftables transaction: {what}")

    def list_json(self, what: Listing, terse: bool = False) -> JSON | None:
        text = list_command(what)
        proc = self._exec(["-j", *(["-t"] if terse else []), *text.split()])
        if proc.returncode != 0:
            if "No such file or directory" in proc.stderr:
                return None
            raise DataplaneError(f"nft {text} failed: {_first_error(proc.stderr)}")
        return _parsed(proc.stdout, text)


class LazyBackend:
    """The namespace's real backend (``open_backend``), opened when first used: a command that turns out to
    change nothing never loads libnftables."""

    def __init__(self, netns: str | None = None) -> None:
        self.netns = netns
        self._backend: Backend | None = None

    def _opened(self) -> Backend:
        if self._backend is None:
            self._backend = open_backend(self.netns)
        return self._backend

    def run(self, tx: Transaction) -> None:
        self._opened().run(tx)

    def list_json(self, what: Listing, terse: bool = False) -> JSON | None:
        return self._opened().list_json(what, terse)

    def chain_reader(self) -> ChainReader | None:
        opened = getattr(self._opened(), "chain_reader", None)
        return opened() if opened is not None else None

    @property
    def terse(self) -> TerseMemo | None:
        memo: TerseMemo | None = getattr(self._opened(), "terse", None)
        return memo


class RecordingBackend:
    """A fake for pure tests: records transactions (rendered, as the kernel would get them), lists what it
    is given by listing text (``table bridge guestwall``), else nothing (as if the kernel were empty)."""

    def __init__(self, listings: dict[str, JSON] | None = None) -> None:
        self.netns: str | None = None
        self.transactions: list[str] = []
        self.listings = listings or {}

    def run(self, tx: Transaction) -> None:
        self.transactions.append(render_transaction(tx))

    def list_json(self, what: Listing, terse: bool = False) -> JSON | None:
        return self.listings.get(listing(what))


def _with_command(text: str, commands: str) -> str | None:
    """``FILE:LINE:COLS: Error: what`` as "what (in: the command)"; None when nft named no line."""
    for line in text.splitlines():
        head, sep, what = line.partition(" Error: ")
        parts = head.split(":")
        if sep and len(parts) >= 3 and parts[-3].isdigit():
            number = int(parts[-3])
            lines = commands.splitlines()
            command = lines[number - 1].strip() if 0 < number <= len(lines) else ""
            return f"{what} (in: {command[:200]})" if command else what
    return None


def _command_text(command: Command) -> str:
    return render_transaction(Transaction((command,))).strip()


def _first_error(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return " | ".join(lines[:3]) if lines else "unknown error"


def open_backend(netns: str | None = None) -> Backend:
    """libnftables when available, else the nft command."""
    if os.environ.get("GUESTWALL_NFT_BACKEND") == "command":
        return NftCommand(netns)
    try:
        return LibNftables(netns)
    except DataplaneError:
        return NftCommand(netns)
