"""Wall time of every writing CLI command at N bound ports, in a process of its own and run by a running
agent (``guestwall agent``'s control socket, docs/cli-daemon.md), against ``virsh nwfilter-binding-create``
of the same filter on a private libvirt 9.0 measured in the same run.

Each command is followed by its undo (also timed) so that every repetition starts from the same state:
nwfilter-binding-create / -delete of one more port, nwfilter-define of the filter all N ports share (an
edit, undone by the next one), port create / delete, secgroup rule-create / rule-delete, provider block /
unblock. ``python -m bench.cliwrite [--sizes 100,1000,5000] [--reps 5]`` runs it alone (root).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench import workload
from bench.netns import scratch_netns, veth_pairs
from bench.programming import guestwall_argv
from bench.standalone import Log, elapsed_log, is_root, stop, work_dir
from bench.timing import median

GROUP = "cw-bench"
PORT_DEV, PORT_MAC, PORT_IP = "cwp0", "52:54:03:00:00:01", "10.251.0.1"
# the commands the goal names (the undo commands are timed too, but not part of the goal)
GOAL = (
    "nwfilter-binding-create",
    "nwfilter-binding-delete",
    "nwfilter-define",
    "port create",
    "secgroup rule-create",
    "provider block",
)


class Cli:
    """``guestwall --db URL --netns NS -q ...`` with wall times; GUESTWALL_LOCAL unless ``warm``."""

    def __init__(self, url: str, netns: str, cwd: Path) -> None:
        self.url, self.netns, self.cwd = url, netns, cwd
        self.warm = False
        self.times: dict[str, list[float]] = {}

    def __call__(self, *args: str, name: str | None = None) -> str:
        env = os.environ.copy()
        env.pop("GUESTWALL_LOCAL", None)
        if not self.warm:
            env["GUESTWALL_LOCAL"] = "1"
        argv = [*guestwall_argv(), "--db", self.url, "--netns", self.netns, "-q", *args]
        t0 = time.perf_counter()
        proc = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=self.cwd, timeout=900)
        elapsed = time.perf_counter() - t0
        if proc.returncode != 0:
            raise RuntimeError(
                f"guestwall {' '.join(args[:3])}: {(proc.stderr or proc.stdout).strip()[:400]}"
            )
        if name is not None:
            self.times.setdefault(name, []).append(elapsed)
        return proc.stdout


def one_round(cli: Cli, r: int, timed: bool = True) -> None:
    """Every writing command once, each followed by its undo."""

    def t(name: str) -> str | None:
        return name if timed else None

    cli("nwfilter-binding-create", "extra.xml", name=t("nwfilter-binding-create"))
    cli("nwfilter-binding-delete", workload.EXTRA_PORT, name=t("nwfilter-binding-delete"))
    cli("nwfilter-define", f"filter{(r + 1) % 2}.xml", name=t("nwfilter-define"))
    cli(
        "port",
        "create",
        PORT_DEV,
        "--mac",
        PORT_MAC,
        "--fixed-ip",
        PORT_IP,
        "--security-group",
        GROUP,
        "--format",
        "json",
        name=t("port create"),
    )
    cli("port", "delete", PORT_DEV, name=t("port delete"))
    rule = json.loads(
        cli(
            "secgroup",
            "rule-create",
            GROUP,
            "--protocol",
            "tcp",
            "--port-range",
            str(2000 + r),
            "--format",
            "json",
            name=t("secgroup rule-create"),
        )
    )
    cli("secgroup", "rule-delete", rule["id"], name=t("secgroup rule-delete"))
    cli("provider", "block", f"198.51.100.{r % 250 + 1}/32", name=t("provider block"))
    cli("provider", "unblock", f"198.51.100.{r % 250 + 1}/32", name=t("provider unblock"))


@contextmanager
def running_agent(url: str, netns: str, log_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """``guestwall agent`` for the namespace and store, ready (sd_notify READY=1), stopped afterwards."""
    name = f"gw-cliwrite-{os.getpid()}"
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind("\0" + name)
    notify.settimeout(0.2)
    out = open(log_path, "wb")  # noqa: SIM115 (closed below)
    argv = [*guestwall_argv(), "agent", "--netns", netns, "--db", url, "--log-level", "warning"]
    proc = subprocess.Popen(
        argv, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "NOTIFY_SOCKET": "@" + name}
    )
    try:
        deadline = time.monotonic() + 300
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"the agent exited with {proc.returncode} (see {log_path})")
            if time.monotonic() > deadline:
                raise RuntimeError("the agent was not ready within 300 s")
            try:
                if b"READY=1" in notify.recv(256):
                    break
            except TimeoutError:
                continue
        yield proc
    finally:
        stop(proc)
        out.close()
        notify.close()


def summary(times: dict[str, list[float]]) -> dict[str, dict[str, float]]:
    return {op: {"median_s": median(v), "max_s": max(v), "runs": len(v)} for op, v in times.items()}


def measure_size(n: int, reps: int, work: Path, log: Log) -> dict[str, Any]:
    files = work / f"cliwrite-{n}"
    files.mkdir(exist_ok=True)
    for variant in (0, 1):
        (files / f"filter{variant}.xml").write_text(workload.filter_xml(variant))
    names = []
    for port in workload.ports(n):
        (files / f"{port.name}.xml").write_text(workload.binding_xml(port))
        names.append(f"{port.name}.xml")
    (files / "extra.xml").write_text(workload.binding_xml(workload.extra_port()))
    url = f"sqlite:///{work}/cliwrite-{n}.db"
    out: dict[str, Any] = {"n": n, "repetitions": reps}
    with scratch_netns(f"cw{n}") as ns:
        cli = Cli(url, ns, files)
        cli("nwfilter-define", "filter0.xml")
        cli("nwfilter-binding-create", *names)
        cli("secgroup", "create", GROUP)
        for mode in ("process", "agent"):
            log(f"  CLI writes, N={n}, {mode}: {reps} rounds")
            if mode == "agent":
                with running_agent(url, ns, work / f"cliwrite-agent-{n}.log"):
                    cli.warm = True
                    one_round(cli, 0, timed=False)  # what the first command pays once: not measured
                    for r in range(reps):
                        one_round(cli, r + 1)
            else:
                one_round(cli, 0, timed=False)
                for r in range(reps):
                    one_round(cli, r + 1)
            out[mode] = summary(cli.times)
            cli.times = {}
    return out


def measure_virsh(reps: int, work: Path, log: Log, bound: int = 5) -> dict[str, Any]:
    """virsh nwfilter-binding-create / -delete of the same filter on a private libvirtd, ``bound`` other
    ports bound (real veth devices, as libvirt requires)."""
    from bench.libvirt import Libvirtd, unavailable

    why = unavailable()
    if why:
        return {"available": False, "note": why}
    root = work / "cliwrite-libvirt"
    files = root / "xml"
    files.mkdir(parents=True, exist_ok=True)
    out: dict[str, Any] = {"available": True, "bound": bound}
    with scratch_netns("cwlv") as ns:
        ports = [workload.other_port(i) for i in range(1, bound + 2)]
        daemon = Libvirtd(ns, root)
        try:
            veth_pairs(ns, (port.name for port in ports))
            log("  virsh: starting a private libvirtd")
            daemon.start()
            (files / "filter.xml").write_text(workload.filter_xml(0))
            daemon.virsh("nwfilter-define", str(files / "filter.xml"))
            for port in ports:
                (files / f"{port.name}.xml").write_text(workload.binding_xml(port))
            for port in ports[:bound]:
                daemon.virsh("nwfilter-binding-create", str(files / f"{port.name}.xml"))
            extra = ports[bound]
            creates, deletes = [], []
            for _ in range(reps + 1):
                creates.append(daemon.virsh("nwfilter-binding-create", str(files / f"{extra.name}.xml")))
                deletes.append(daemon.virsh("nwfilter-binding-delete", extra.name))
            out["binding_create_s"] = median(creates[1:])  # the first one warms the daemon's caches
            out["binding_delete_s"] = median(deletes[1:])
        except (RuntimeError, subprocess.SubprocessError, OSError) as e:
            out.update(available=False, note=f"libvirt could not be measured: {e}")
        finally:
            daemon.stop()
    return out


def python_pass(runs: int) -> float:
    """``python -c pass``: the floor of any command in a process of its own (the machine's load shows)."""
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        times.append(time.perf_counter() - t0)
    return median(times)


def measure_cliwrite(
    sizes: tuple[int, ...], reps: int, work: Path, log: Log, virsh: bool = True, virsh_bound: int = 5
) -> dict[str, Any]:
    results: dict[str, Any] = {"sizes": [measure_size(n, reps, work, log) for n in sizes]}
    results["python_pass_s"] = python_pass(5)
    skipped = {"available": False, "note": "skipped"}
    results["virsh"] = measure_virsh(reps, work, log, virsh_bound) if virsh else skipped
    return results


def print_cliwrite(results: dict[str, Any], file: Any = None) -> None:
    """One table: each command's median wall time (ms) per N, in a process and through the agent, and the
    agent's time as a ratio of virsh nwfilter-binding-create's."""
    file = file or sys.stdout
    virsh = results.get("virsh", {})
    base = virsh.get("binding_create_s") if virsh.get("available") else None
    sizes = results["sizes"]
    print(
        "\nCLI writes: median wall ms, own process / through the agent (ratio: agent / virsh create)",
        file=file,
    )
    if base:
        print(
            f"  virsh nwfilter-binding-create {base * 1000:.0f} ms, -delete "
            f"{virsh['binding_delete_s'] * 1000:.0f} ms ({virsh['bound']} ports bound)",
            file=file,
        )
    else:
        print(f"  virsh: {virsh.get('note', 'not measured')}", file=file)
    if "python_pass_s" in results:
        print(
            f"  python -c pass {results['python_pass_s'] * 1000:.0f} ms (the floor; the machine's load)",
            file=file,
        )
    header = f"  {'command':26}" + "".join(f"{'N=' + str(s['n']):>24}" for s in sizes)
    print(header, file=file)
    for op in sizes[0]["process"]:
        cells = []
        for s in sizes:
            p, a = s["process"][op]["median_s"], s["agent"][op]["median_s"]
            ratio = f" ({a / base:.2f})" if base else ""
            cells.append(f"{p * 1000:6.0f} /{a * 1000:5.0f}{ratio:8}")
        mark = "*" if op in GOAL else " "
        print(f" {mark}{op:26}" + "".join(f"{c:>24}" for c in cells), file=file)
    print("  * the goal's commands (<= 100 ms, flat in N, below virsh's create)", file=file)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cliwrite", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes", type=lambda s: tuple(int(x) for x in s.split(",")), default=(100, 1000, 5000)
    )
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--no-virsh", action="store_true")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    if not is_root():
        return 2
    with work_dir("gwcliwrite-") as work:
        results = measure_cliwrite(args.sizes, args.reps, work, elapsed_log(), virsh=not args.no_virsh)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    print_cliwrite(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
