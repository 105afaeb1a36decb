"""Data path: iperf3 guest -> guest through the lab bridge (TCP throughput, small-UDP packet rate), with
rulesets loaded in the lab's host namespace, against two baselines measured in the same run.

Rulesets, in this order, repeated in rounds (medians over rounds, so slow drift of a noisy machine hits
every ruleset alike): no filtering; a minimal stateful ruleset of our own (br_netfilter + one ``ct state``
accept); for each N, guestwall's ruleset for N bound ports (the two lab guests among them) and the
libvirt-style per-port ruleset for the same ports with linear dispatch, the measured ports last.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bench import perport
from bench.config import Config
from bench.netns import RUN, free_backend, kernel_size, nft, nft_file
from bench.programming import InProcessState
from bench.timing import median

Log = Callable[[str], None]

MINIMAL = """\
table inet gwbench_min {
  chain forward {
    type filter hook forward priority filter; policy accept;
    ct state established,related accept
  }
}
"""
UDP_LENGTH = 64  # bytes of UDP payload: "small UDP packets", the per-packet cost dominates


def _traffic(lab: Any, seconds: int) -> dict[str, Any]:
    from guestwall.lab.traffic.iperf import iperf3

    out: dict[str, Any] = {}
    try:
        tcp = iperf3(lab, "bob", "alice", seconds=seconds)
        out.update(tcp_gbit_s=tcp.gbit_s, tcp_pkt_s=tcp.pkt_s)
    except Exception as e:  # a failed run is reported, not fatal
        out["tcp_error"] = str(e)
    try:
        udp = iperf3(lab, "bob", "alice", seconds=seconds, udp=True, length=UDP_LENGTH)
        out.update(udp_pkt_s=udp.pkt_s, udp_gbit_s=udp.gbit_s, udp_lost_percent=udp.lost_percent)
    except Exception as e:
        out["udp_error"] = str(e)
    return out


def measure_datapath(cfg: Config, states: dict[int, InProcessState], work: Any, log: Log) -> dict[str, Any]:
    from bench import workload
    from guestwall.lab import LabSpec, lab_down, lab_up

    measured = [p.name for p in workload.lab_ports()]
    prefix = f"{RUN}d"
    path = str(work / "datapath.nft")
    runs: list[dict[str, Any]] = []
    notes: list[str] = []
    perport_text: dict[int, str] = {}  # compiled once per N, loaded in every round
    lab = lab_up(LabSpec(prefix=prefix, guests=2), replace=True)
    try:

        def loaders(n: int) -> tuple[Callable[[str], None], Callable[[str], None]]:
            state = states[n]

            def guestwall(host: str) -> None:
                from guestwall.dataplane.apply import apply
                from guestwall.dataplane.backend import open_backend

                backend = open_backend(host)
                try:
                    apply(state.final_ruleset, backend)
                finally:
                    free_backend(backend)

            def per_port(host: str) -> None:
                if n not in perport_text:
                    ruleset = perport.compile_perport(state.final_inputs)
                    keys = perport.measured_marks(state.final_inputs, measured)
                    perport_text[n] = perport.full_text(perport.linear_dispatch(ruleset, keys))
                nft_file(host, perport_text[n], path)

            return guestwall, per_port

        plan: list[tuple[str, int, Callable[[str], None] | None]] = [
            ("none", 0, None),
            ("minimal-stateful", 0, lambda host: nft_file(host, MINIMAL, path)),
        ]
        for n in cfg.datapath_sizes:
            gw, pp = loaders(n)
            plan += [("guestwall", n, gw), ("per-port", n, pp)]
        for round_ in range(1, cfg.traffic_rounds + 1):
            for config, n, load in plan:
                for attempt in (1, 2):
                    try:
                        runs.append(_one_run(lab, config, n, load, round_, cfg, log))
                        break
                    except Exception as e:  # e.g. the lab vanished: rebuild it once and retry
                        if attempt == 2:
                            raise
                        notes.append(f"round {round_}, {config} N={n}: {e}; lab rebuilt, run repeated")
                        log(f"  data path: {e}; rebuilding the lab")
                        lab = lab_up(LabSpec(prefix=prefix, guests=2), replace=True)
    finally:
        lab_down(prefix)
    summary = aggregate(runs)
    return {
        "seconds": cfg.traffic_seconds,
        "rounds": cfg.traffic_rounds,
        "udp_length": UDP_LENGTH,
        "direction": "alice -> bob",
        "runs": runs,
        "summary": summary,
        "ratios": ratios(summary),
        "notes": notes,
    }


def _one_run(
    lab: Any, config: str, n: int, load: Callable[[str], None] | None, round_: int, cfg: Config, log: Log
) -> dict[str, Any]:
    host = lab.host_netns
    nft(host, ["flush", "ruleset"])
    entry: dict[str, Any] = {"config": config, "n": n, "round": round_}
    if load is not None:
        load(host)
        entry["kernel_size"] = kernel_size(host).as_dict()
    log(
        f"  data path round {round_}: {config}"
        + (f", N={n}" if n else "")
        + f" ({cfg.traffic_seconds} s TCP + {cfg.traffic_seconds} s UDP)"
    )
    entry.update(_traffic(lab, cfg.traffic_seconds))
    nft(host, ["flush", "ruleset"])
    return entry


METRICS = ("tcp_gbit_s", "udp_pkt_s")


def aggregate(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per (ruleset, N): the median of each metric over the rounds, and the rounds' values."""
    out: dict[tuple[str, int], dict[str, Any]] = {}
    for r in runs:
        entry = out.setdefault((r["config"], r["n"]), {"config": r["config"], "n": r["n"]})
        if "kernel_size" in r:
            entry["kernel_size"] = r["kernel_size"]
        for metric in METRICS:
            if metric in r:
                entry.setdefault(f"{metric}_rounds", []).append(r[metric])
    for entry in out.values():
        for metric in METRICS:
            values = entry.get(f"{metric}_rounds")
            if values:
                entry[metric] = median(values)
                entry[f"{metric}_spread"] = (max(values) - min(values)) / median(values)
    return list(out.values())


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def baseline(summary: list[dict[str, Any]], config: str, metric: str) -> float | None:
    return next((r[metric] for r in summary if r["config"] == config and metric in r), None)


def ratios(summary: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each filtered ruleset against no filtering and against the minimal stateful ruleset (medians)."""
    out = []
    for r in summary:
        if r["config"] == "none":
            continue
        entry: dict[str, Any] = {"config": r["config"], "n": r["n"]}
        for metric in METRICS:
            for base in ("none", "minimal-stateful"):
                b = baseline(summary, base, metric)
                entry[f"{metric}_vs_{base}"] = r[metric] / b if b and metric in r else None
        out.append(entry)
    return out
