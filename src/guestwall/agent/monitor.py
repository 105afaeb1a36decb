"""``nft monitor`` in the agent's namespace, as a child process: any event on our tables means "check now".

This is how a flush, delete or edit by someone else (``nft flush ruleset``, a firewall reload) is noticed
within milliseconds; the agent's periodic check remains the safety net if the monitor is not running.
Our own transactions produce events too: the check that follows finds nothing to do. Transactions of
other programs on other tables cost one such check each.
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import shutil
import signal
import subprocess

from guestwall.compile import names

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child, before exec: the kernel kills it when the agent dies, even by SIGKILL (which leaves
    the agent no chance to stop it), so that no ``nft monitor`` outlives its agent."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() == 1:  # the agent died before prctl took effect
        os._exit(1)


class NftMonitor:
    def __init__(self, netns: str | None) -> None:
        nft = shutil.which("nft") or "nft"
        self.argv = ["ip", "netns", "exec", netns, nft, "monitor"] if netns else [nft, "monitor"]
        self.proc: subprocess.Popen[bytes] | None = None
        self._partial = b""
        self._own_marker = f"by process {os.getpid()} ".encode()

    def start(self) -> None:
        self.proc = subprocess.Popen(
            self.argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            bufsize=0,
            preexec_fn=_die_with_parent,
        )
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | os.O_NONBLOCK)
        self._partial = b""

    def fileno(self) -> int:
        assert self.proc is not None and self.proc.stdout is not None
        return self.proc.stdout.fileno()

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def read(self) -> tuple[bool, bool]:
        """(one of our tables changed, the monitor ended). Never blocks."""
        ours = False
        while True:
            try:
                chunk = os.read(self.fileno(), 1 << 16)
            except BlockingIOError:
                return ours, False
            if not chunk:
                return True, True  # it ended: what happened meanwhile is unknown, so check
            lines = (self._partial + chunk).split(b"\n")
            self._partial = lines.pop()
            ours = ours or any(self._concerns_us(line) for line in lines)

    def _concerns_us(self, line: bytes) -> bool:
        if names.TABLE.encode() in line.split():
            return True
        # nft 1.0.6's monitor can lose track of a set after one of our chains is refilled and then prints
        # nothing for its elements, only the generation line: any transaction but our own is worth a check
        return line.startswith(b"# new generation") and self._own_marker not in line

    def close(self) -> None:
        """Stop the child we started (by its pid) and reap it."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(2)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
