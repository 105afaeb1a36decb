"""A private libvirt 9.0 daemon for tests: its own network namespace (a lab's host namespace), its own mount
namespace with its own state directories, LXC domains on the lab's bridge.

Why each step (see the project's libvirt-lxc notes): ``ip netns exec`` already gives the daemon a mount
namespace of its own, with the namespace's sysfs, so the cgroup mounts are replayed there (else "no cgroup
backend available"); cgroup2 is left out on hybrid hosts (libvirt 9.0 would try v2 inside the container and
fail); /run/libvirt, /etc/libvirt, /var/lib/libvirt, /var/log/libvirt and /var/cache/libvirt are bind mounts
of a test directory, so another daemon on the machine (the host's, another test run's) is never touched.
Teardown destroys every domain, ends the daemon by its pid, then any ``libvirt_lxc`` controller it left
(found by our state directory in its command line... or its cgroup), however the test ended.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import signal
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

LIBVIRTD = shutil.which("libvirtd") or "/usr/sbin/libvirtd"
VIRSH = shutil.which("virsh") or "/usr/bin/virsh"
STATE_DIRS = {
    "run": "/run/libvirt",
    "lib": "/var/lib/libvirt",
    "etc": "/etc/libvirt",
    "log": "/var/log/libvirt",
    "cache": "/var/cache/libvirt",
}
GUEST_INIT = "trap 'exit 0' TERM; while :; do sleep 1 &amp; wait; done"  # destroy in ~0.2 s, not 1.8 s


def libvirt_unavailable() -> str | None:
    if os.geteuid() != 0:
        return "needs root"
    if not os.path.exists(LIBVIRTD) or not os.path.exists(VIRSH):
        return "libvirtd / virsh not installed (libvirt-daemon, libvirt-daemon-driver-lxc, libvirt-clients)"
    if not os.path.exists(
        "/usr/lib/x86_64-linux-gnu/libvirt/connection-driver/libvirt_driver_lxc.so"
    ) and not (list(Path("/usr/lib").glob("*/libvirt/connection-driver/libvirt_driver_lxc.so"))):
        return "libvirt's LXC driver is not installed (libvirt-daemon-driver-lxc)"
    try:
        import libvirt  # noqa: F401
    except ImportError:
        return "libvirt-python is not installed"
    return None


def _cgroup_mounts() -> list[tuple[str, str, str]]:
    """(type, options, path) of this mount namespace's cgroup mounts, to replay in the daemon's."""
    mounts = []
    tmpfs_root = False
    for line in Path("/proc/self/mounts").read_text().splitlines():
        _dev, path, fstype, options = line.split()[:4]
        if path == "/sys/fs/cgroup" and fstype == "tmpfs":
            tmpfs_root = True
        if fstype in ("cgroup", "cgroup2") and path.startswith("/sys/fs/cgroup"):
            mounts.append((fstype, options, path))
    if tmpfs_root:  # v1 or hybrid: v1 only (see the module docstring)
        return [("tmpfs", "mode=755", "/sys/fs/cgroup")] + [m for m in mounts if m[0] == "cgroup"]
    return mounts


def _machine_cgroups() -> list[Path]:
    """libvirt's machine partitions: /sys/fs/cgroup/<controller>/machine (v1), /sys/fs/cgroup/machine (v2)."""
    root = Path("/sys/fs/cgroup")
    return [p for p in [*root.glob("*/machine"), root / "machine"] if p.is_dir()]


@dataclass
class Nic:
    dev: str  # host-side name (not vnet*: libvirt drops those as generated)
    mac: str
    ip: str | None = None  # with a prefix length, e.g. 10.77.0.101/24 (the guest side is up only with one)
    filterref: str = ""  # e.g. "<filterref filter='clean-traffic'/>": libvirt's own nwfilter binds it


class PrivateLibvirt:
    """``with PrivateLibvirt(netns, workdir, bridge) as lv:`` ... ``lv.uri``, ``lv.virsh(...)``."""

    def __init__(self, netns: str, workdir: Path, bridge: str = "br0", builtins: bool = False) -> None:
        self.builtins = builtins  # install libvirt's builtin filters, as libvirt-daemon-config-nwfilter does
        self.netns = netns
        self.state = workdir / "libvirt"
        self.bridge = bridge
        self.proc: subprocess.Popen[bytes] | None = None
        self.cgroup_dirs: list[Path] = []

    @property
    def socket(self) -> str:
        return str(self.state / "run" / "libvirt-sock")

    @property
    def uri(self) -> str:
        return f"lxc:///system?socket={self.socket}"

    # ---- daemon -------------------------------------------------------------------------------------------

    def __enter__(self) -> PrivateLibvirt:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        for sub in STATE_DIRS:
            (self.state / sub).mkdir(parents=True, exist_ok=True)
        (self.state / "etc" / "libvirtd.conf").write_text(
            'log_outputs = "3:file:/var/log/libvirt/libvirtd.log"\n'
        )
        if self.builtins:
            from guestwall.nwfilter.builtins import builtin_names, builtin_xml

            (self.state / "etc" / "nwfilter").mkdir(exist_ok=True)
            for name in builtin_names():
                (self.state / "etc" / "nwfilter" / f"{name}.xml").write_text(builtin_xml(name))
        (self.state / "etc" / "lxc.conf").write_text('security_driver = "none"\n')
        # the QEMU driver comes with libvirt-daemon; its default user exists only with libvirt-daemon-system,
        # and a driver that fails to initialise stops the whole daemon
        (self.state / "etc" / "qemu.conf").write_text(
            'user = "root"\ngroup = "root"\nsecurity_driver = "none"\n'
        )
        # remember which machine cgroups exist, so teardown removes only the ones this daemon created
        if self.proc is None:
            self.cgroup_dirs = _machine_cgroups()
        lines = ["set -e"]
        for sub, target in STATE_DIRS.items():
            lines.append(f"mkdir -p {target} && mount --bind {shlex.quote(str(self.state / sub))} {target}")
        for fstype, options, path in _cgroup_mounts():
            lines.append(f"mkdir -p {path} && mount -t {fstype} -o {shlex.quote(options)} {fstype} {path}")
        lines += self._account_mounts()
        # no D-Bus for this daemon (as on the machine the recipe was checked on): with systemd-machined
        # reachable it would register the guests there instead of making its own cgroups
        lines.append("if [ -d /run/dbus ]; then mount -t tmpfs tmpfs /run/dbus; fi")
        lines.append(f"exec {LIBVIRTD} -p /run/libvirt/libvirtd.pid")
        log = open(self.state / "daemon.log", "wb")  # noqa: SIM115 (handed to the child)
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", self.netns, "sh", "-c", "\n".join(lines)],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + 20
        while not os.path.exists(self.socket):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"private libvirtd did not start:\n{self.daemon_log()}")
            time.sleep(0.02)
        while self.virsh("version", check=False).returncode != 0:  # the socket is up before the drivers
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"private libvirtd did not start:\n{self.daemon_log()}")
            time.sleep(0.05)

    def _account_mounts(self) -> list[str]:
        """The daemon's mount namespace gets passwd/group files with the QEMU driver's user (see
        bench.libvirt.qemu_account_files) rather than an account added to the machine."""
        from bench.libvirt import qemu_account_files

        return [f"mount --bind {shlex.quote(str(c))} {t}" for c, t in qemu_account_files(self.state)]

    def restart(self) -> None:
        """End the daemon (its guests keep running) and start it again: clients lose their connection."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(10)
        self.start()

    def daemon_log(self) -> str:
        text = ""
        for path in (self.state / "daemon.log", self.state / "log" / "libvirtd.log"):
            if path.exists():
                text += path.read_text(errors="replace")[-4000:]
        return text

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            for name in self._domains():
                self.virsh("destroy", name, check=False, timeout=20)
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._kill_controllers()
        for path in _machine_cgroups():
            if path not in self.cgroup_dirs:
                for child in sorted(path.glob("**/"), key=lambda p: -len(p.parts)):
                    with contextlib.suppress(OSError):
                        child.rmdir()

    def _domains(self) -> list[str]:
        out = self.virsh("list", "--name", check=False, timeout=10).stdout
        return [line.strip() for line in out.splitlines() if line.strip()]

    def _kill_controllers(self) -> None:
        """A controller outlives a killed daemon: end those started against our state directory."""
        marker = str(self.state)
        for pid_dir in Path("/proc").iterdir():
            if not pid_dir.name.isdigit():
                continue
            try:
                cmdline = (pid_dir / "cmdline").read_bytes().split(b"\0")
                if not cmdline or not cmdline[0].endswith(b"libvirt_lxc"):
                    continue
                environ = (pid_dir / "environ").read_bytes()
            except OSError:
                continue
            if marker.encode() in environ or self._in_our_netns(pid_dir):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(pid_dir.name), signal.SIGKILL)

    def _in_our_netns(self, pid_dir: Path) -> bool:
        try:
            ours = os.stat(f"/run/netns/{self.netns}").st_ino
            return os.stat(pid_dir / "ns" / "net").st_ino == ours
        except OSError:
            return False

    # ---- virsh and domains --------------------------------------------------------------------------------

    def virsh(
        self, *args: str, check: bool = True, timeout: float = 30, input: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [VIRSH, "-c", self.uri, *args], capture_output=True, text=True, timeout=timeout, input=input
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"virsh {' '.join(args)} failed: {proc.stderr.strip()}")
        return proc

    def domain_xml(self, name: str, nics: list[Nic], metadata: str = "", dom_uuid: str | None = None) -> str:
        interfaces = "".join(
            f"<interface type='bridge'><source bridge='{self.bridge}'/><mac address='{n.mac}'/>"
            + (f"<ip address='{n.ip.split('/')[0]}' prefix='{n.ip.split('/')[1]}'/>" if n.ip else "")
            + f"<target dev='{n.dev}'/>{n.filterref}</interface>"
            for n in nics
        )
        return (
            f"<domain type='lxc'><name>{name}</name><uuid>{dom_uuid or uuid.uuid4()}</uuid>"
            f"<metadata>{metadata}</metadata>"
            "<memory unit='MiB'>64</memory>"
            "<os><type>exe</type><init>/bin/sh</init><initarg>-c</initarg>"
            f"<initarg>{GUEST_INIT}</initarg></os>"
            "<devices><filesystem type='mount'><source dir='/'/><target dir='/'/><readonly/></filesystem>"
            f"{interfaces}<console type='pty'/></devices></domain>"
        )

    def define(self, xml: str) -> None:
        path = self.state / f"dom-{uuid.uuid4().hex[:8]}.xml"
        path.write_text(xml)
        self.virsh("define", str(path))

    def attach_nic(self, name: str, nic: Nic) -> None:
        path = self.state / f"nic-{nic.dev}.xml"
        path.write_text(
            f"<interface type='bridge'><source bridge='{self.bridge}'/><mac address='{nic.mac}'/>"
            f"<target dev='{nic.dev}'/></interface>"
        )
        self.virsh("attach-device", name, str(path), "--live")
