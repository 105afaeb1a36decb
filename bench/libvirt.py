"""The real libvirt nwfilter (reference/nwfilter.md, last section), for a small N, when it can run here.

Our own libvirtd runs in a namespace of ours and in a private mount namespace whose /run/libvirt,
/etc/libvirt/nwfilter, /var/lib/libvirt and /var/log/libvirt are directories of this run, so another
libvirtd on the machine (other sessions use their own namespaces the same way) is never disturbed. virsh
reaches it with ``nsenter`` into that daemon's mount and network namespaces. The daemon is stopped by its
pid and everything is removed however the run ends.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import workload
from bench.netns import kernel_size, scratch_netns, veth_pairs
from bench.standalone import stop
from bench.timing import median

Log = Callable[[str], None]
BUILTIN_FILTERS = Path("/etc/libvirt/nwfilter")
BIND = {
    "run": "/run/libvirt",
    "nwfilter": "/etc/libvirt/nwfilter",
    "lib": "/var/lib/libvirt",
    "log": "/var/log/libvirt",
}


def unavailable() -> str | None:
    """Why the real libvirt cannot be measured here, or None."""
    for tool in ("libvirtd", "virsh", "unshare", "nsenter"):
        if shutil.which(tool) is None:
            return (
                f"{tool} is not installed (apt-get install --no-install-recommends libvirt-daemon "
                "libvirt-clients libvirt-daemon-config-nwfilter)"
            )
    return None


def qemu_account_files(directory: Path) -> list[tuple[Path, str]]:
    """The QEMU driver (installed with libvirt-daemon) looks its user up at start and stops the daemon when
    it is missing (it comes with libvirt-daemon-system): passwd/group copies in ``directory`` that have it,
    as (copy, /etc path) pairs to bind-mount in the daemon's mount namespace only (the machine's accounts
    stay as they are). Empty where the user exists."""
    binds = []
    for name, entry in (
        ("passwd", "libvirt-qemu:x:{id}:{id}::/nonexistent:/usr/sbin/nologin"),
        ("group", "libvirt-qemu:x:{id}:"),
    ):
        current = Path(f"/etc/{name}").read_text()
        if any(line.startswith("libvirt-qemu:") for line in current.splitlines()):
            continue
        ids = [int(line.split(":")[2]) for line in current.splitlines() if line.count(":") >= 3]
        copy = directory / name
        copy.write_text(current.rstrip("\n") + "\n" + entry.format(id=max(ids) + 1) + "\n")
        binds.append((copy, f"/etc/{name}"))
    return binds


class Libvirtd:
    """One private libvirtd: start, virsh, stop."""

    def __init__(self, netns: str, root: Path) -> None:
        self.netns, self.root = netns, root
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> None:
        for sub in BIND:
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        if (BUILTIN_FILTERS / "clean-traffic.xml").exists():
            for xml in BUILTIN_FILTERS.glob("*.xml"):
                shutil.copy(xml, self.root / "nwfilter" / xml.name)
        else:  # without libvirt-daemon-config-nwfilter: guestwall's copies of them (the same text)
            from guestwall.nwfilter.builtins import builtin_names, builtin_xml

            for name in builtin_names():
                (self.root / "nwfilter" / f"{name}.xml").write_text(builtin_xml(name))
        dirs = [
            f"mkdir -p {target} && mount --bind {self.root / sub} {target}" for sub, target in BIND.items()
        ]
        files = [f"mount --bind {copy} {target}" for copy, target in qemu_account_files(self.root)]
        mounts = " && ".join(dirs + files)
        script = f"{mounts} && exec libvirtd --pid-file {self.root / 'libvirtd.pid'}"
        log = open(self.root / "libvirtd.log", "wb")  # noqa: SIM115 (the daemon's output, closed by stop)
        self._log = log
        # ip netns exec and unshare both exec in place: the Popen pid is libvirtd's own pid
        self.proc = subprocess.Popen(
            [
                "ip",
                "netns",
                "exec",
                self.netns,
                "unshare",
                "--mount",
                "--propagation",
                "private",
                "sh",
                "-c",
                script,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"libvirtd exited with status {self.proc.returncode} (see {log.name})")
            if (self.root / "run" / "libvirt-sock").exists():
                try:
                    self.virsh("nwfilter-list", timeout=10)
                    return
                except RuntimeError:
                    pass
            time.sleep(0.2)
        raise RuntimeError(f"libvirtd did not answer within {timeout:g} s")

    def virsh(self, *args: str, timeout: float = 600.0) -> float:
        """Run one virsh command against our daemon; its wall time."""
        assert self.proc is not None
        argv = [
            "nsenter",
            "-t",
            str(self.proc.pid),
            "-m",
            "-n",
            "virsh",
            "-q",
            "-c",
            "nwfilter:///system",
            *args,
        ]
        t0 = time.perf_counter()
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
        elapsed = time.perf_counter() - t0
        if proc.returncode != 0:
            raise RuntimeError(f"virsh {args[0]}: {(proc.stderr or proc.stdout).strip()[:300]}")
        return elapsed

    def stop(self) -> None:
        if self.proc is not None:
            stop(self.proc, 15)
        if getattr(self, "_log", None) is not None:
            self._log.close()


def measure_libvirt(ports: int, work: Path, log: Log) -> dict[str, Any]:
    """Bind ``ports`` ports one after another, then edit the shared filter, add and remove one port."""
    why = unavailable()
    if why:
        return {"available": False, "note": why}
    root = work / "libvirt"
    files = root / "xml"
    files.mkdir(parents=True, exist_ok=True)
    out: dict[str, Any] = {"available": True, "ports": ports}
    with scratch_netns("lv") as ns:
        plist = [workload.other_port(i) for i in range(1, ports + 2)]
        daemon = Libvirtd(ns, root)
        try:
            veth_pairs(ns, (port.name for port in plist))  # real devices, as libvirt expects
            log(f"  real libvirt: starting libvirtd in {ns}")
            daemon.start()
            for variant in (0, 1):
                (files / f"filter{variant}.xml").write_text(workload.filter_xml(variant))
            out["define_s"] = daemon.virsh("nwfilter-define", str(files / "filter0.xml"))
            log(f"  real libvirt: binding {ports} ports one after another")
            times = []
            for port in plist[:ports]:
                path = files / f"{port.name}.xml"
                path.write_text(workload.binding_xml(port))
                times.append(daemon.virsh("nwfilter-binding-create", str(path)))
            out["bind_each_s"] = times
            out["bind_total_s"] = sum(times)
            out["bind_median_s"] = median(times)
            out["kernel_size"] = kernel_size(ns).as_dict()
            log(f"  real libvirt: shared filter edit with {ports} ports bound")
            out["edit_s"] = daemon.virsh("nwfilter-define", str(files / "filter1.xml"))
            extra = plist[ports]
            path = files / f"{extra.name}.xml"
            path.write_text(workload.binding_xml(extra))
            out["add_s"] = daemon.virsh("nwfilter-binding-create", str(path))
            out["remove_s"] = daemon.virsh("nwfilter-binding-delete", extra.name)
        except (RuntimeError, subprocess.SubprocessError, OSError) as e:
            out.update(available=False, note=f"libvirt could not be measured: {e}")
        finally:
            daemon.stop()
    if out.get("available"):
        out.update(extrapolate(out))
    return out


def extrapolate(m: dict[str, Any]) -> dict[str, Any]:
    """Linear extrapolation from the measured per-port costs (a lower bound: libvirt's per-port work also
    grows with the table size; ``bind_trend`` compares the last quarter of the bindings with the first)."""
    times: list[float] = m["bind_each_s"]
    q = max(len(times) // 4, 1)
    per_port_edit = m["edit_s"] / m["ports"]
    return {
        "bind_trend": median(times[-q:]) / median(times[:q]),
        "edit_per_bound_port_s": per_port_edit,
        "extrapolated": {
            str(n): {"bind_all_s": m["bind_median_s"] * n, "edit_s": per_port_edit * n}
            for n in (100, 1000, 5000)
        },
    }
