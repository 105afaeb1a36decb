"""Data path: iperf3 guest -> guest through a lab bridge (TCP throughput, small-UDP packet rate), against two
baselines measured in the same run, every ruleset in a lab of its own (bench.labs).

Rulesets: no filtering; a minimal stateful ruleset of our own (br_netfilter + one ``ct state`` accept); for
each N, guestwall's ruleset for N bound ports (the two lab guests among them, as the programming
measurements left it) and the libvirt-style per-port ruleset for the same ports with linear dispatch, the
measured ports last. The traffic runs go round all labs several times; medians over the rounds, so slow
drift of a noisy machine hits every ruleset alike. Besides the ratio of medians, each ratio is also given
paired (``..._paired``): the median over rounds of the ruleset's rate over the baseline's rate in the same
round, which a machine whose load changes between rounds disturbs less.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bench.config import Config
from bench.labs import LabPool
from bench.netns import kernel_size, nft_file
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
METRICS = ("tcp_gbit_s", "udp_pkt_s")


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


def datapath_key(config: str, n: int) -> str:
    return f"{config}-{n}" if n else config


def measure_datapath(
    cfg: Config, pool: LabPool, sizes: dict[str, dict[str, Any]], work: Any, log: Log
) -> dict[str, Any]:
    """``pool`` already holds the loaded guestwall and per-port labs; ``sizes`` their kernel sizes by key."""
    pool.get("none")
    minimal = pool.get("minimal-stateful")
    nft_file(minimal.host_netns, MINIMAL, str(work / "minimal.nft"))
    sizes = {**sizes, "minimal-stateful": kernel_size(minimal.host_netns).as_dict()}
    plan = [("none", 0), ("minimal-stateful", 0)]
    for n in cfg.datapath_sizes:
        plan += [("guestwall", n), ("per-port", n)]
    runs: list[dict[str, Any]] = []
    for round_ in range(1, cfg.traffic_rounds + 1):
        for config, n in plan:
            lab = pool.labs[datapath_key(config, n)]
            log(
                f"  data path round {round_}/{cfg.traffic_rounds}: {config}"
                + (f", N={n}" if n else "")
                + f" ({cfg.traffic_seconds} s TCP + {cfg.traffic_seconds} s UDP)"
            )
            runs.append({"config": config, "n": n, "round": round_, **_traffic(lab, cfg.traffic_seconds)})
    summary = aggregate(runs)
    for entry in summary:
        entry["kernel_size"] = sizes.get(datapath_key(entry["config"], entry["n"]), {})
    table = ratios(summary, runs)
    return {
        "seconds": cfg.traffic_seconds,
        "rounds": cfg.traffic_rounds,
        "udp_length": UDP_LENGTH,
        "direction": "alice -> bob",
        "runs": runs,
        "summary": summary,
        "ratios": table,
        "notes": paired_notes(table),
    }


def aggregate(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per (ruleset, N): the median of each metric over the rounds, the rounds' values, and their
    spread ((max - min) / median)."""
    out: dict[tuple[str, int], dict[str, Any]] = {}
    for r in runs:
        entry = out.setdefault((r["config"], r["n"]), {"config": r["config"], "n": r["n"]})
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


def baseline(summary: list[dict[str, Any]], config: str, metric: str) -> float | None:
    return next((r[metric] for r in summary if r["config"] == config and metric in r), None)


def paired(runs: list[dict[str, Any]], config: str, n: int, base: str, metric: str) -> float | None:
    """The median over rounds of ``config``'s rate over ``base``'s rate measured in the same round."""
    base_by_round = {r["round"]: r[metric] for r in runs if r["config"] == base and r.get(metric)}
    pairs = [
        r[metric] / base_by_round[r["round"]]
        for r in runs
        if r["config"] == config and r["n"] == n and metric in r and r["round"] in base_by_round
    ]
    return median(pairs) if pairs else None


def ratios(summary: list[dict[str, Any]], runs: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """Each filtered ruleset against no filtering and against the minimal stateful ruleset (medians, and
    paired per round where the runs are given)."""
    out = []
    for r in summary:
        if r["config"] == "none":
            continue
        entry: dict[str, Any] = {"config": r["config"], "n": r["n"]}
        for metric in METRICS:
            for base in ("none", "minimal-stateful"):
                b = baseline(summary, base, metric)
                entry[f"{metric}_vs_{base}"] = r[metric] / b if b and metric in r else None
                if runs is not None:
                    entry[f"{metric}_vs_{base}_paired"] = paired(runs, r["config"], r["n"], base, metric)
        out.append(entry)
    return out


def paired_notes(table: list[dict[str, Any]]) -> list[str]:
    """One line per filtered ruleset: its paired ratios against the minimal stateful ruleset."""
    out = []
    for r in table:
        if r["config"] == "minimal-stateful":
            continue
        tcp, udp = (r.get(f"{m}_vs_minimal-stateful_paired") for m in METRICS)
        if tcp is None and udp is None:
            continue
        shown = [f"{label} {v:.3f}" for label, v in (("TCP", tcp), ("small UDP", udp)) if v is not None]
        out.append(f"{r['config']} N={r['n']} vs minimal stateful, paired per round: {', '.join(shown)}")
    return out
