#!/usr/bin/env python3
"""Regenerate the libvirt golden data by running the real libvirt 9.0 nwfilter driver.

Run as root on a Debian 12 machine (see tests/golden/README.md):

    python3 tests/golden/libvirt/tools/generate.py all

Commands (they can be combined, in this order):

    inputs      write the input files of every case from cases.py (no libvirt needed)
    setup       create the network namespace ``lvhost`` (bridge br0, IPv6 off) and start libvirtd in it,
                in a private mount namespace whose /etc/libvirt/nwfilter, /run/libvirt, /var/lib/libvirt
                and /var/log/libvirt are directories under the work dir (the host's are not touched);
                the 24 builtin filters get fixed UUIDs there so that every output is deterministic
    filters     define every filters/<case>/input.xml, record expected.xml or error.txt
    sequences   run every sequences/<case>/ and record steps.json
    bindings    run every bindings/<case>/ and record expected.xml + list.txt, error.txt or steps.json
    rules       run every rules/<case>/ and record the firewall state libvirt created
    timing      measure binding-create of clean-traffic and write rules/notes.md
    teardown    stop libvirtd, delete the namespace and the work dir
    all         all of the above

Nothing outside the namespace ``lvhost`` (and the work dir) is changed: the root namespace's firewall
is never touched.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import cases

ROOT = Path(__file__).resolve().parents[1]  # tests/golden/libvirt
WORK = Path(os.environ.get("GOLDEN_WORKDIR", "/tmp/guestwall-golden-lv"))
NETNS = "lvhost"
BRIDGE = "br0"
ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C", "LANG": "C"}
BUILTIN_UUID = "00000000-0000-4000-8000-{:012d}"


# ------------------------------------------------------------------------------------------------
# helpers
# ------------------------------------------------------------------------------------------------


def sh(*argv: str, check: bool = True, cwd: Path | None = None) -> subprocess.CompletedProcess[bytes]:
    p = subprocess.run(
        list(argv), capture_output=True, env=ENV, cwd=cwd, stdin=subprocess.DEVNULL, timeout=120
    )
    if check and p.returncode != 0:
        raise RuntimeError(f"{argv} failed ({p.returncode}): {p.stderr.decode(errors='replace')}")
    return p


def ns(*argv: str, check: bool = True) -> subprocess.CompletedProcess[bytes]:
    return sh("ip", "netns", "exec", NETNS, *argv, check=check)


def write(path: Path, data: str | bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    if path.exists() and path.read_bytes() == data:
        return
    path.write_bytes(data)


RANDOM_UUID = re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
GARBAGE_COMMENT = re.compile(rb"comment='[0-9]+'")


def write_stable(path: Path, data: str | bytes, *masks: re.Pattern[bytes]) -> None:
    """Like write(), but keep the existing file when it differs only in what the masks match
    (random UUIDs, garbage that libvirt prints differently on each run), so regenerating is quiet."""
    if isinstance(data, str):
        data = data.encode()
    if path.exists():
        old = path.read_bytes()
        a, b = old, data
        for m in masks:
            a, b = m.sub(b"MASKED", a), m.sub(b"MASKED", b)
        if a == b:
            return
    write(path, data)


def remove(path: Path) -> None:
    if path.exists():
        path.unlink()


def libvirtd_pid() -> str:
    pidfile = WORK / "libvirtd.pid"
    if not pidfile.exists():
        raise RuntimeError("libvirtd is not running: run `generate.py setup` first")
    pid = pidfile.read_text().strip()
    if not Path(f"/proc/{pid}").exists():
        raise RuntimeError(f"libvirtd (pid {pid}) is gone")
    return pid


def virsh(*args: str, cwd: Path | None = None) -> tuple[int, bytes, bytes]:
    """virsh inside libvirtd's network and mount namespace, with the case directory as cwd."""
    wd = [f"--wd={cwd}"] if cwd else []
    p = sh(
        "nsenter",
        "-t",
        libvirtd_pid(),
        "-m",
        "-n",
        *wd,
        "virsh",
        "-c",
        "nwfilter:///system",
        *args,
        check=False,
    )
    return p.returncode, p.stdout, p.stderr


def virsh_ok(*args: str, cwd: Path | None = None) -> bytes:
    rc, out, err = virsh(*args, cwd=cwd)
    if rc != 0:
        raise RuntimeError(f"virsh {args} failed: {err.decode(errors='replace')}")
    return out


def builtin_names() -> list[str]:
    """The builtin filters, as recorded by setup (libvirt also saves every defined filter in nwf/)."""
    f = WORK / "builtins.txt"
    return f.read_text().split() if f.exists() else []


BUILTINS: list[str] = []


def defined_filters() -> list[tuple[str, str]]:
    out = virsh_ok("nwfilter-list").decode()
    rows = []
    for line in out.splitlines()[2:]:
        if line.strip():
            uuid, name = line.strip().split(None, 1)
            rows.append((uuid, name))
    return rows


def cleanup_state() -> None:
    """Delete every binding and every filter that is not a builtin."""
    out = virsh_ok("nwfilter-binding-list").decode()
    for line in out.splitlines()[2:]:
        if line.strip():
            virsh("nwfilter-binding-delete", line.split()[0])
    for _ in range(5):  # parents before children: retry until nothing is left
        extra = [(u, n) for u, n in defined_filters() if n not in BUILTINS]
        if not extra:
            return
        for u, _n in extra:
            virsh("nwfilter-undefine", u)
    raise RuntimeError(f"cannot clean up filters: {extra}")


def ensure_port(name: str) -> None:
    if ns("ip", "link", "show", name, check=False).returncode == 0:
        return
    existing = ns("ip", "-o", "link", "show").stdout.decode()
    n = len(re.findall(r"gwp\d+", existing))
    peer = f"gwp{n}"
    ns("ip", "link", "add", name, "type", "veth", "peer", "name", peer)
    ns("ip", "link", "set", name, "master", BRIDGE)
    ns("ip", "link", "set", name, "up")
    ns("ip", "link", "set", peer, "up")


# ------------------------------------------------------------------------------------------------
# inputs
# ------------------------------------------------------------------------------------------------


def sync_dirs(base: Path, wanted: set[str]) -> None:
    if not base.exists():
        return
    for d in base.iterdir():
        if d.is_dir() and d.name not in wanted:
            shutil.rmtree(d)


def cmd_inputs() -> None:
    cases.build_all()
    fdir = ROOT / "filters"
    sync_dirs(fdir, set(cases.FILTERS))
    for name, xml in cases.FILTERS.items():
        d = fdir / name
        write(d / "input.xml", xml)
        if name in cases.DEVIATIONS:
            write(d / "deviation.txt", cases.DEVIATIONS[name] + "\n")
        else:
            remove(d / "deviation.txt")
    sdir = ROOT / "sequences"
    sync_dirs(sdir, set(cases.SEQUENCES))
    for name, seq in cases.SEQUENCES.items():
        d = sdir / name
        for fn, xml in seq.files.items():
            write(d / fn, xml)
        if seq.note:
            write(d / "note.txt", seq.note + "\n")
    bdir = ROOT / "bindings"
    sync_dirs(bdir, set(cases.BINDINGS) | set(cases.BINDING_SEQUENCES))
    for name, bc in cases.BINDINGS.items():
        d = bdir / name
        write(d / "binding.xml", bc.binding)
        for fn, xml in bc.filters.items():
            write(d / fn, xml)
        if bc.note:
            write(d / "note.txt", bc.note + "\n")
    for name, seq in cases.BINDING_SEQUENCES.items():
        d = bdir / name
        for fn, xml in seq.files.items():
            write(d / fn, xml)
    rdir = ROOT / "rules"
    sync_dirs(rdir, set(cases.RULES))
    for name, rc in cases.RULES.items():
        d = rdir / name
        write(d / "binding.xml", rc.binding)
        for fn, xml in rc.filters.items():
            write(d / fn, xml)
        if rc.note:
            write(d / "note.txt", rc.note + "\n")
    print(
        f"inputs: {len(cases.FILTERS)} filters, {len(cases.SEQUENCES)} sequences, "
        f"{len(cases.BINDINGS) + len(cases.BINDING_SEQUENCES)} bindings, {len(cases.RULES)} rules"
    )


# ------------------------------------------------------------------------------------------------
# setup / teardown
# ------------------------------------------------------------------------------------------------


def cmd_setup() -> None:
    if (WORK / "libvirtd.pid").exists() and Path(
        f"/proc/{(WORK / 'libvirtd.pid').read_text().strip()}"
    ).exists():
        print("setup: libvirtd already running")
        BUILTINS[:] = builtin_names()
        return
    if shutil.which("libvirtd") is None:
        raise RuntimeError(
            "install libvirt first: apt-get install -y --no-install-recommends libvirt-daemon "
            "libvirt-clients libvirt-daemon-config-nwfilter iptables ebtables"
        )
    if NETNS not in sh("ip", "netns", "list").stdout.decode().split():
        sh("ip", "netns", "add", NETNS)
    ns("ip", "link", "set", "lo", "up")
    ns("sysctl", "-q", "-w", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1")
    if ns("ip", "link", "show", BRIDGE, check=False).returncode != 0:
        ns("ip", "link", "add", BRIDGE, "type", "bridge")
        ns("ip", "link", "set", BRIDGE, "up")
    if WORK.exists():
        shutil.rmtree(WORK)
    for sub in ("run", "nwf", "lib", "log"):
        (WORK / sub).mkdir(parents=True)
    # private copy of the packaged builtin filters, each with a fixed UUID
    names = sorted(p.stem for p in Path("/etc/libvirt/nwfilter").glob("*.xml"))
    for i, name in enumerate(names, 1):
        text = Path(f"/etc/libvirt/nwfilter/{name}.xml").read_text()
        uuid = BUILTIN_UUID.format(i)
        if "<uuid>" in text:
            text = re.sub(r"<uuid>[^<]*</uuid>", f"<uuid>{uuid}</uuid>", text, count=1)
        else:
            text = re.sub(r"(<filter [^>]*>)", rf"\1\n  <uuid>{uuid}</uuid>", text, count=1)
        (WORK / "nwf" / f"{name}.xml").write_text(text)
    (WORK / "builtins.txt").write_text("\n".join(names) + "\n")
    # only the nwfilter driver: the others need what a container may lack (the QEMU driver its user)
    drivers = WORK / "drivers"
    drivers.mkdir(exist_ok=True)
    for so in Path("/usr/lib/x86_64-linux-gnu/libvirt/connection-driver").glob("libvirt_driver_nwfilter.so"):
        (drivers / so.name).symlink_to(so)
    script = f"""
set -e
export LIBVIRT_DRIVER_DIR={drivers}
mount --bind {WORK}/run /run/libvirt
mount --bind {WORK}/nwf /etc/libvirt/nwfilter
mount --bind {WORK}/lib /var/lib/libvirt
mount --bind {WORK}/log /var/log/libvirt
export LIBVIRT_LOG_FILTERS="2:util.firewall 4:*"
export LIBVIRT_LOG_OUTPUTS="2:file:{WORK}/libvirtd.log"
exec libvirtd -d --pid-file {WORK}/libvirtd.pid
"""
    ns("unshare", "-m", "--propagation", "private", "sh", "-c", script)
    for _ in range(100):
        if (WORK / "libvirtd.pid").exists() and (WORK / "run" / "libvirt-sock").exists():
            break
        time.sleep(0.1)
    else:
        raise RuntimeError("libvirtd did not start")
    time.sleep(0.5)
    BUILTINS[:] = builtin_names()
    listed = [n for _u, n in defined_filters()]
    if sorted(listed) != BUILTINS:
        raise RuntimeError(f"unexpected filters at start: {listed}")
    print(f"setup: libvirtd {sh('libvirtd', '--version').stdout.decode().strip()} pid {libvirtd_pid()}")


def stop_private_libvirtd(work: Path, netns: str) -> None:
    """Stop the private libvirtd whose pid file is in ``work``, remove its namespace and state."""
    pidfile = work / "libvirtd.pid"
    if pidfile.exists():
        pid = int(pidfile.read_text().strip())
        try:
            os.kill(pid, 15)
            for _ in range(50):
                if not Path(f"/proc/{pid}").exists():
                    break
                time.sleep(0.1)
        except ProcessLookupError:
            pass
    if netns in sh("ip", "netns", "list").stdout.decode().split():
        sh("ip", "netns", "del", netns)
    shutil.rmtree(work, ignore_errors=True)


def cmd_teardown() -> None:
    stop_private_libvirtd(WORK, NETNS)
    print("teardown: done")


# ------------------------------------------------------------------------------------------------
# filters
# ------------------------------------------------------------------------------------------------

DEFINED_RE = re.compile(rb"^Network filter (.*) defined from input\.xml\n\n\Z", re.S)
UUID_RE = re.compile(rb"<uuid>([0-9a-f-]{36})</uuid>")


def cmd_filters(only: list[str] | None = None) -> None:
    fdir = ROOT / "filters"
    n_ok = n_err = 0
    for d in sorted(fdir.iterdir()):
        if not d.is_dir() or (only and d.name not in only):
            continue
        rc, out, err = virsh("nwfilter-define", "input.xml", cwd=d)
        if rc == 0:
            m = DEFINED_RE.match(out)
            if not m:
                raise RuntimeError(f"{d.name}: unexpected define output {out!r}")
            name = m.group(1).decode()
            rc2, xml, err2 = virsh("nwfilter-dumpxml", name, cwd=d)
            if rc2 != 0:
                # a name virsh cannot look up: fall back to the UUID from the list
                uuids = [u for u, n in defined_filters() if n == name]
                rc2, xml, err2 = virsh("nwfilter-dumpxml", uuids[0], cwd=d)
                write(d / "lookup-by-uuid.txt", f"virsh nwfilter-dumpxml {name!r} failed: {err2.decode()}")
            masks = [RANDOM_UUID] + ([GARBAGE_COMMENT] if (d / "deviation.txt").exists() else [])
            write_stable(d / "expected.xml", xml, *masks)
            remove(d / "error.txt")
            m2 = UUID_RE.search(xml)
            assert m2, d.name
            uuid = m2.group(1).decode()
            inp = re.sub(r"[\s-]", "", (d / "input.xml").read_text().lower())
            if uuid.replace("-", "") not in inp:
                write(
                    d / "random-uuid.txt",
                    "libvirt generated a random UUID for this input; compare with the <uuid> line masked.\n",
                )
            else:
                remove(d / "random-uuid.txt")
            rc3, _o, e3 = virsh("nwfilter-undefine", uuid)
            if rc3 != 0:
                raise RuntimeError(f"{d.name}: cannot undefine {uuid}: {e3!r}")
            n_ok += 1
        else:
            if out != b"\n":
                raise RuntimeError(f"{d.name}: unexpected stdout on error {out!r}")
            write(d / "error.txt", err)
            for stale in ("expected.xml", "random-uuid.txt"):
                remove(d / stale)
            n_err += 1
    left = [n for _u, n in defined_filters() if n not in BUILTINS]
    if left:
        raise RuntimeError(f"filters left defined: {left}")
    print(f"filters: {n_ok} expected.xml, {n_err} error.txt")


# ------------------------------------------------------------------------------------------------
# sequences (and binding sequences)
# ------------------------------------------------------------------------------------------------


def run_steps(d: Path, seq: cases.Sequence) -> list[dict[str, object]]:
    d.mkdir(parents=True, exist_ok=True)
    for p in seq.ports:
        ensure_port(p)
    steps: list[dict[str, object]] = []
    for argv in seq.steps:
        rc, out, err = virsh(*argv, cwd=d)
        steps.append(
            {"command": ["virsh", *argv], "exit": rc, "stdout": out.decode(), "stderr": err.decode()}
        )
    return steps


def cmd_sequences() -> None:
    cases.build_sequences()
    for name, seq in cases.SEQUENCES.items():
        d = ROOT / "sequences" / name
        cleanup_state()
        steps = run_steps(d, seq)
        doc = {"note": seq.note, "steps": steps} if seq.note else {"steps": steps}
        write_stable(d / "steps.json", json.dumps(doc, indent=2, ensure_ascii=False) + "\n", RANDOM_UUID)
    cleanup_state()
    print(f"sequences: {len(cases.SEQUENCES)}")


# ------------------------------------------------------------------------------------------------
# bindings
# ------------------------------------------------------------------------------------------------

CREATED_RE = re.compile(rb"^Network filter binding on (.*) created from binding\.xml\n\n\Z", re.S)


def define_files(d: Path, files: dict[str, str]) -> None:
    for fn in files:
        virsh_ok("nwfilter-define", fn, cwd=d)


def cmd_bindings() -> None:
    cases.build_bindings()
    for name, bc in cases.BINDINGS.items():
        d = ROOT / "bindings" / name
        cleanup_state()
        for p in bc.ports:
            ensure_port(p)
        define_files(d, bc.filters)
        rc, out, err = virsh("nwfilter-binding-create", "binding.xml", cwd=d)
        if rc == 0:
            m = CREATED_RE.match(out)
            if not m:
                raise RuntimeError(f"{name}: unexpected output {out!r}")
            portdev = m.group(1).decode()
            time.sleep(0.2)
            write(d / "expected.xml", virsh_ok("nwfilter-binding-dumpxml", portdev))
            write(d / "list.txt", virsh_ok("nwfilter-binding-list"))
            virsh_ok("nwfilter-binding-delete", portdev)
            remove(d / "error.txt")
        else:
            if out != b"\n":
                raise RuntimeError(f"{name}: unexpected stdout on error {out!r}")
            write(d / "error.txt", err)
            remove(d / "expected.xml")
            remove(d / "list.txt")
        cleanup_state()
    for name, seq in cases.BINDING_SEQUENCES.items():
        d = ROOT / "bindings" / name
        cleanup_state()
        steps = run_steps(d, seq)
        write(d / "steps.json", json.dumps({"steps": steps}, indent=2, ensure_ascii=False) + "\n")
    cleanup_state()
    print(f"bindings: {len(cases.BINDINGS)} single, {len(cases.BINDING_SEQUENCES)} sequences")


# ------------------------------------------------------------------------------------------------
# rules
# ------------------------------------------------------------------------------------------------


def strip_generated(text: str) -> str:
    """Drop the '# Generated by ... on <date>' / '# Completed on <date>' lines of the *-save tools."""
    return "".join(
        line for line in text.splitlines(keepends=True) if not re.match(r"# (Generated|Completed) ", line)
    )


def firewall_state() -> dict[str, str]:
    return {
        "ebtables.txt": ns("ebtables", "-t", "nat", "-L", "--Lx").stdout.decode(),
        "ebtables-save.txt": strip_generated(ns("ebtables-save").stdout.decode()),
        "iptables-save.txt": strip_generated(ns("iptables-save").stdout.decode()),
        "ip6tables-save.txt": strip_generated(ns("ip6tables-save").stdout.decode()),
        "nft.txt": ns("nft", "list", "ruleset").stdout.decode(),
    }


def log_mark() -> int:
    log = WORK / "libvirtd.log"
    return log.stat().st_size if log.exists() else 0


def log_commands(since: int) -> str:
    with open(WORK / "libvirtd.log", "rb") as f:
        f.seek(since)
        data = f.read().decode(errors="replace")
    cmds = re.findall(r"Applying rule '(.*)'$", data, re.M)
    return "".join(c + "\n" for c in cmds)


IPSETS = [("myset", "inet"), ("six", "inet6")]


def flush_firewall() -> None:
    """An empty firewall in the namespace, plus the ip sets the rules cases refer to."""
    ns("nft", "flush", "ruleset")
    if shutil.which("ipset") is None:
        return  # only the ipset-* cases need them (--only the others on a machine without ipset)
    for name, family in IPSETS:
        if ns("ipset", "list", "-n", name, check=False).returncode != 0:
            ns("ipset", "create", name, "hash:ip", "family", family)


def cmd_rules(only: list[str] | None = None) -> None:
    cases.build_rules()
    for name, rc in cases.RULES.items():
        if only and name not in only:
            continue
        d = ROOT / "rules" / name
        cleanup_state()
        flush_firewall()
        ensure_port("vnet0")
        define_files(d, rc.filters)
        mark = log_mark()
        code, _out, err = virsh("nwfilter-binding-create", "binding.xml", cwd=d)
        if code != 0:
            # libvirt refused: keep its error, the commands it ran and what it left behind
            write(d / "error.txt", err)
            write(d / "commands.txt", log_commands(mark))
            for fn, text in firewall_state().items():
                write(d / fn, text)
            for stale in ("binding-dumpxml.xml", "nft-after-delete.txt"):
                remove(d / stale)
            cleanup_state()
            continue
        remove(d / "error.txt")
        time.sleep(1.0 if "learning" in name else 0.2)
        state = firewall_state()
        for fn, text in state.items():
            write(d / fn, text)
        write(d / "commands.txt", log_commands(mark))
        write(d / "binding-dumpxml.xml", virsh_ok("nwfilter-binding-dumpxml", "vnet0"))
        virsh_ok("nwfilter-binding-delete", "vnet0")
        time.sleep(0.2)
        write(d / "nft-after-delete.txt", ns("nft", "list", "ruleset").stdout.decode())
        cleanup_state()
    flush_firewall()
    print(f"rules: {len(cases.RULES)}")


# ------------------------------------------------------------------------------------------------
# timing
# ------------------------------------------------------------------------------------------------

NOTES_HEAD = """\
# libvirt 9.0 rules: notes

Generated by `tools/generate.py timing` (the numbers) on the machine that produced the golden data;
the observations below the table are written into the generator, verified against the captured files.

## Wall time of `virsh nwfilter-binding-create` (clean-traffic, IP given)

Each run starts from an empty firewall in the namespace; the time is the whole virsh command as seen by
the caller (it returns after libvirt has applied every rule). For comparison, `virsh nwfilter-list`
(a round trip with no firewall work) is also timed.

"""


def cmd_timing() -> None:
    d = ROOT / "rules" / "clean-traffic"
    cleanup_state()
    ensure_port("vnet0")
    runs = 10

    def timed(*argv: str) -> float:
        t0 = time.perf_counter()
        virsh_ok(*argv, cwd=d)
        return time.perf_counter() - t0

    create: list[float] = []
    delete: list[float] = []
    ncmds: list[int] = []
    for _ in range(runs):
        flush_firewall()
        mark = log_mark()
        create.append(timed("nwfilter-binding-create", "binding.xml"))
        ncmds.append(len(log_commands(mark).splitlines()))
        delete.append(timed("nwfilter-binding-delete", "vnet0"))
    listing = [timed("nwfilter-list") for _ in range(runs)]
    # several ports in a row
    ports = [f"vnet{i}" for i in range(10)]
    for p in ports:
        ensure_port(p)
    flush_firewall()
    t0 = time.perf_counter()
    for p in ports:
        xml = cases.binding_xml(p, "clean-traffic", [("IP", f"10.0.0.{10 + int(p[4:])}")])
        tmp = WORK / f"{p}.xml"
        tmp.write_text(xml)
        virsh_ok("nwfilter-binding-create", str(tmp))
    ten = time.perf_counter() - t0
    for p in ports:
        virsh_ok("nwfilter-binding-delete", p)
    flush_firewall()

    def row(label: str, xs: list[float]) -> str:
        return (
            f"| {label} | {runs} | {statistics.median(xs) * 1000:.0f} | {min(xs) * 1000:.0f} | "
            f"{max(xs) * 1000:.0f} |\n"
        )

    text = NOTES_HEAD
    text += "| command | runs | median ms | min ms | max ms |\n|---|---|---|---|---|\n"
    text += row("nwfilter-binding-create clean-traffic", create)
    text += row("nwfilter-binding-delete", delete)
    text += row("nwfilter-list (virsh round trip only)", listing)
    text += (
        f"\nFirewall commands libvirt executed per binding-create of clean-traffic: {ncmds[0]} "
        f"(each a separate ebtables/iptables/ip6tables process; see rules/clean-traffic/commands.txt).\n\n"
        f"Ten ports bound to clean-traffic one after the other (10 virsh calls): {ten:.2f} s in total.\n\n"
        f"Machine: {os.uname().nodename}, kernel {os.uname().release}, "
        f"{sh('libvirtd', '--version').stdout.decode().strip()}, "
        f"{ns('iptables', '--version').stdout.decode().strip()}.\n"
    )
    text += OBSERVATIONS
    write(ROOT / "rules" / "notes.md", text)
    print(f"timing: create median {statistics.median(create) * 1000:.0f} ms")


OBSERVATIONS = """
## What the captured files are

Per case: the filter XMLs (defined in file order) and `binding.xml` are the inputs; then

- `commands.txt`: every firewall command libvirt ran for `nwfilter-binding-create`, in order (from
  libvirtd's log, `virFirewallApplyRuleDirect`), including the cleanup commands that are expected to fail
  (`-D`/`-F`/`-X` of chains that do not exist yet);
- `ebtables.txt` (`ebtables -t nat -L --Lx`), `ebtables-save.txt`, `iptables-save.txt`,
  `ip6tables-save.txt` (the `# Generated by`/`# Completed on` timestamp lines removed) and `nft.txt`
  (`nft list ruleset`): the state right after the binding was created;
- `binding-dumpxml.xml`: the binding as libvirt shows it;
- `nft-after-delete.txt`: what is left after `nwfilter-binding-delete` (libvirt leaves its base chains).

Each case starts from `nft flush ruleset` inside the namespace.

## Environment caveats

- Debian 12 uses the nft-based `iptables-nft`/`ebtables-nft` (1.8.9), so libvirt's ebtables/iptables
  commands become nftables rules in tables `bridge nat`, `ip filter`, `ip6 filter`. `nft.txt` is what the
  kernel really has. ebtables-nft's listing prints `policy: RETURN` for libvirt's user chains, while
  `ebtables-save` prints `ACCEPT` and `nft.txt` shows the chain policy as a trailing `counter ... accept`
  rule: libvirt never sets a policy on its chains. Its chains normally end with an explicit rule, so
  this rarely matters, but a frame that falls off the end of a libvirt chain is accepted here.
- `ebtables -L --Lx` of ebtables-nft does not print commands (legacy ebtables did); use
  `ebtables-save.txt` or `commands.txt` for the command form.
- IPv6 is disabled in the namespace so that no packets move the counters.
- `commands.txt` shows arguments shell-quoted as libvirt logs them (`'!'`, `'it'\\''s'`).

## Findings worth knowing (all visible in the files of the cases named)

- `continue-iptables`: for IP rules libvirt emits `-j CONTINUE`, which iptables does not have, so any
  tcp/udp/.../all rule with `action='continue'` makes binding-create fail. In ebtables CONTINUE works
  (`return-continue`).
- `vlan-id-4095`: the XML accepts `vlanid='4095'`, ebtables refuses `--vlan-id 4095`: binding-create fails.
- `variable-in-comment`: a `comment='$C'` reaches iptables as an empty `--comment` argument: binding-create
  fails (`Bad argument`).
- `ipset-name-only-l4`: `<tcp ipset='myset'/>` (the fixup adds `ipsetflags='src'`) cannot be instantiated:
  "Unexpected enum value 0 for virNWFilterAttrDataType". With `<all>`, ipset works (`l3-attributes`).
- `icmp-types`: an ICMP/ICMPv6 rule with a `type` and direction `inout` produces no iptables rule at all;
  with `in` only FP gets it, with `out` only FJ and HJ, both with `--ctstate NEW,ESTABLISHED` and no
  `--ctdir`.
- `l2-attributes`: vlan `--vlan-encap` is printed in decimal (`2054`), dscp as `--ip-tos 0x2e` (not
  shifted), an ipv6 ICMP type without typeend/code as `--ip6-icmp-type 128:128/0:255`.
- `l3-attributes`: in an iptables rule `--tcp-flags` comes before `--sport/--dport`, and `--tcp-option`
  after them; a port range whose ends are equal is printed `80:80`.
- `iterators`: the first iterator varies fastest; repeated value tuples are emitted once; `$A` and `$B`
  without iterator ids are walked in parallel (both are iterator 0).
- Every instantiation deletes and re-inserts the FORWARD/INPUT jumps to libvirt's base chains
  (`-D FORWARD -j libvirt-in`, `-I FORWARD 1 -j libvirt-in`, ...), and binding-delete leaves the base
  chains in place (`nft-after-delete.txt`).
"""


# ------------------------------------------------------------------------------------------------


def main(argv: list[str]) -> None:
    cmds = argv or ["all"]
    if cmds == ["all"]:
        cmds = ["inputs", "setup", "filters", "sequences", "bindings", "rules", "timing", "teardown"]
    only = None
    if "--only" in cmds:
        i = cmds.index("--only")
        only = cmds[i + 1].split(",")
        cmds = cmds[:i] + cmds[i + 2 :]
    needs_libvirt = {"filters", "sequences", "bindings", "rules", "timing"}
    if needs_libvirt & set(cmds) and "setup" not in cmds:
        BUILTINS[:] = builtin_names()
    for c in cmds:
        if c in ("filters", "rules"):
            globals()[f"cmd_{c}"](only)
        else:
            globals()[f"cmd_{c}"]()


if __name__ == "__main__":
    main(sys.argv[1:])
