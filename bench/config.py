"""How much to measure: the quick mode (CI: small N, short traffic runs) and the full run."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Config:
    mode: str
    sizes: tuple[int, ...]  # N for programming time and kernel size
    datapath_sizes: tuple[int, ...]  # N loaded during the data-path runs (a subset of sizes)
    cli_sizes: tuple[int, ...]  # N at which the guestwall command is timed end to end (a subset of sizes)
    traffic_seconds: int  # length of one iperf3 run
    traffic_rounds: int  # every ruleset is measured once per round (median over rounds)
    startup_runs: int  # CLI start-up: runs of each command (median)
    libvirt_ports: int  # real libvirt: ports bound one after another (0: skip)
    cloud: bool = True  # the cloud layer's figures (bench/cloud.py)
    cliwrite: bool = True  # every writing CLI command, own process and through the agent (bench/cliwrite.py)
    max_reps: int = 3  # repetitions of each single operation (in-process) for small N
    max_cli_reps: int = 3  # the same for the CLI (a process start each)

    def reps(self, n: int) -> int:
        """In-process repetitions of re-apply, edit, add, remove at this N (fewer where one run is long)."""
        return self.max_reps if n <= 1000 else 1

    def cli_reps(self, n: int) -> int:
        return self.max_cli_reps if n <= 100 else 1


QUICK = Config(
    mode="quick",
    sizes=(20, 50),
    datapath_sizes=(50,),
    cli_sizes=(50,),
    traffic_seconds=1,
    traffic_rounds=1,
    startup_runs=5,
    libvirt_ports=0,
    max_cli_reps=1,
)
FULL = Config(
    mode="full",
    sizes=(100, 1000, 5000),
    datapath_sizes=(1000, 5000),
    cli_sizes=(100, 1000, 5000),
    traffic_seconds=2,
    traffic_rounds=4,
    startup_runs=10,
    libvirt_ports=20,
)
