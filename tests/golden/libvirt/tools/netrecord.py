#!/usr/bin/env python3
"""Record libvirt 9.0's answers for virtual networks (net-define, net-dumpxml, net-update, net-list ...).

Run as root on Debian 12 with libvirt-daemon and libvirt-clients installed:

    python3 tests/golden/libvirt/tools/netrecord.py

It starts a private libvirtd in its own network namespace (``gwnet13``) and mount namespace (its
/run/libvirt, /etc/libvirt, /var/lib/libvirt, /var/log/libvirt, /var/cache/libvirt are directories under
the work dir), records every case of ``netcases.py`` under ``tests/golden/libvirt/networks/`` and stops
it again. Nothing outside the namespace and the work dir is changed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import netcases
from generate import stop_private_libvirtd

OUT = Path(__file__).resolve().parents[1] / "networks"
WORK = Path(os.environ.get("GOLDEN_NET_WORKDIR", "/tmp/guestwall-golden-net13"))
NETNS = "gwnet13"
ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C", "LANG": "C"}


def sh(*argv: str, check: bool = True) -> subprocess.CompletedProcess[bytes]:
    p = subprocess.run(list(argv), capture_output=True, env=ENV, stdin=subprocess.DEVNULL, timeout=60)
    if check and p.returncode != 0:
        raise RuntimeError(f"{argv} failed: {p.stderr.decode(errors='replace')}")
    return p


def pid() -> str:
    return (WORK / "libvirtd.pid").read_text().strip()


def virsh(*args: str, cwd: Path | None = None) -> tuple[int, bytes, bytes]:
    wd = [f"--wd={cwd}"] if cwd else []
    p = sh("nsenter", "-t", pid(), "-m", "-n", *wd, "virsh", "-c", "network:///system", *args, check=False)
    return p.returncode, p.stdout, p.stderr


def setup() -> None:
    if NETNS not in sh("ip", "netns", "list").stdout.decode().split():
        sh("ip", "netns", "add", NETNS)
    sh("ip", "netns", "exec", NETNS, "ip", "link", "set", "lo", "up")
    if WORK.exists():
        shutil.rmtree(WORK)
    dirs = {
        "run": "/run/libvirt",
        "etc": "/etc/libvirt",
        "lib": "/var/lib/libvirt",
        "log": "/var/log/libvirt",
        "cache": "/var/cache/libvirt",
    }
    binds = []
    for sub, target in dirs.items():
        (WORK / sub).mkdir(parents=True)
        binds.append(f"mkdir -p {target}; mount --bind {WORK}/{sub} {target}")
    # the QEMU driver refuses to start without its user (libvirt-daemon-system creates it): a private
    # passwd/group with that user, bind-mounted in the daemon's mount namespace only
    for db, line in (
        ("passwd", "libvirt-qemu:x:64055:64055::/nonexistent:/usr/sbin/nologin"),
        ("group", "libvirt-qemu:x:64055:\nkvm:x:64056:"),
    ):
        (WORK / db).write_text(Path(f"/etc/{db}").read_text() + line + "\n")
        binds.append(f"mount --bind {WORK}/{db} /etc/{db}")
    script = "set -e\n" + "\n".join(binds) + f"\nexec libvirtd -d --pid-file {WORK}/libvirtd.pid\n"
    sh("ip", "netns", "exec", NETNS, "unshare", "-m", "--propagation", "private", "sh", "-c", script)
    for _ in range(100):
        if (WORK / "libvirtd.pid").exists() and (WORK / "run" / "libvirt-sock").exists():
            break
        time.sleep(0.1)
    else:
        raise RuntimeError("libvirtd did not start")
    time.sleep(0.5)


def teardown() -> None:
    stop_private_libvirtd(WORK, NETNS)


def write(path: Path, data: bytes | str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)


def record_cases() -> None:
    cdir = OUT / "cases"
    shutil.rmtree(cdir, ignore_errors=True)
    for name, xml in netcases.CASES.items():
        d = cdir / name
        write(d / "input.xml", xml)
        rc, out, err = virsh("net-define", "input.xml", cwd=d)
        if rc != 0:
            write(d / "error.txt", err)
            continue
        write(d / "define.txt", out)
        rc, dump, err = virsh("net-dumpxml", name)
        write(d / "expected.xml", dump if rc == 0 else err)
        _, inactive, _ = virsh("net-dumpxml", "--inactive", name)
        if inactive != dump:
            write(d / "expected-inactive.xml", inactive)
        virsh("net-undefine", name)


def record_updates() -> None:
    udir = OUT / "updates"
    shutil.rmtree(udir, ignore_errors=True)
    for name, steps in netcases.UPDATES.items():
        d = udir / name
        write(d / "input.xml", netcases.CASES["dhcp-hosts"])
        virsh("net-define", "input.xml", cwd=d)
        log = []
        for i, step in enumerate(steps):
            rc, out, err = virsh("net-update", "dhcp-hosts", *step)
            _, dump, _ = virsh("net-dumpxml", "dhcp-hosts")
            log.append({"args": step, "rc": rc, "stdout": out.decode(), "stderr": err.decode()})
            write(d / f"step{i}.xml", dump)
        write(d / "steps.json", json.dumps(log, indent=1) + "\n")
        virsh("net-undefine", "dhcp-hosts")


def record_commands() -> None:
    """Messages and tables of the lifecycle commands, on two networks."""
    d = OUT / "commands"
    shutil.rmtree(d, ignore_errors=True)
    write(d / "a.xml", netcases.net("neta", "<forward mode='nat'/>\n" + netcases.IP4, bridge="gwba"))
    write(d / "b.xml", netcases.net("netb", "<ip address='10.7.0.1' prefix='24'/>", bridge="gwbb"))
    seq = [
        ["net-list"],
        ["net-list", "--all"],
        ["net-define", "a.xml"],
        ["net-define", "b.xml"],
        ["net-define", "a.xml"],
        ["net-list"],
        ["net-list", "--all"],
        ["net-list", "--inactive"],
        ["net-info", "neta"],
        ["net-info", "netb"],
        ["net-info", "nosuch"],
        ["net-autostart", "neta"],
        ["net-info", "neta"],
        ["net-list", "--all"],
        ["net-list", "--autostart"],
        ["net-autostart", "neta", "--disable"],
        ["net-autostart", "nosuch"],
        ["net-start", "nosuch"],
        ["net-destroy", "neta"],
        ["net-dumpxml", "nosuch"],
        ["net-dhcp-leases", "neta"],
        ["net-dhcp-leases", "nosuch"],
        ["net-start", "netb"],
        ["net-list", "--all"],
        ["net-info", "netb"],
        ["net-start", "netb"],
        ["net-destroy", "netb"],
        ["net-destroy", "netb"],
        ["net-start", "neta"],
        ["net-list"],
        ["net-info", "neta"],
        ["net-dumpxml", "neta"],
        ["net-dumpxml", "--inactive", "neta"],
        ["net-dhcp-leases", "neta"],
        ["net-undefine", "neta"],
        ["net-list", "--all"],
        ["net-info", "neta"],
        ["net-define", "a.xml"],
        ["net-destroy", "neta"],
        ["net-undefine", "neta"],
        ["net-undefine", "netb"],
        ["net-undefine", "neta"],
        ["net-list", "--all"],
    ]
    log = []
    for args in seq:
        rc, out, err = virsh(*args, cwd=d)
        log.append({"args": args, "rc": rc, "stdout": out.decode(), "stderr": err.decode()})
        if args == ["net-start", "neta"] and rc == 0:
            # libvirt's own host rules and dnsmasq configuration for a running nat network
            ipt = sh("nsenter", "-t", pid(), "-m", "-n", "iptables-save", check=False).stdout.decode()
            write(d / "neta-iptables.txt", re.sub(r"^#.*\n", "", ipt, flags=re.M))
            write(d / "neta-dnsmasq.conf", (WORK / "lib" / "dnsmasq" / "neta.conf").read_bytes())
    write(d / "steps.json", json.dumps(log, indent=1) + "\n")


def main() -> None:
    teardown()
    setup()
    try:
        record_cases()
        record_updates()
        record_commands()
    finally:
        teardown()
    print(f"recorded {len(netcases.CASES)} cases under {OUT}")


if __name__ == "__main__":
    main()
