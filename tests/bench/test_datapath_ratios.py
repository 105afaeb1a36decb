"""bench.datapath: ratios against the baselines, as medians and paired per round (pure, no traffic)."""

from __future__ import annotations

from bench.datapath import aggregate, paired_notes, ratios


def run(config: str, n: int, round_: int, udp: float, tcp: float = 10.0) -> dict[str, object]:
    return {"config": config, "n": n, "round": round_, "udp_pkt_s": udp, "tcp_gbit_s": tcp}


def test_paired_ratios_follow_the_baseline_round_by_round() -> None:
    # the machine is twice as fast in round 2: the ruleset is 0.8 of the baseline in every round
    runs = [
        run("none", 0, 1, 100.0),
        run("minimal-stateful", 0, 1, 100.0),
        run("guestwall", 1000, 1, 80.0),
        run("none", 0, 2, 200.0),
        run("minimal-stateful", 0, 2, 200.0),
        run("guestwall", 1000, 2, 160.0),
        run("none", 0, 3, 100.0),
        run("minimal-stateful", 0, 3, 200.0),
        run("guestwall", 1000, 3, 80.0),
    ]
    table = ratios(aggregate(runs), runs)
    ours = next(r for r in table if r["config"] == "guestwall")
    assert ours["udp_pkt_s_vs_minimal-stateful"] == 80.0 / 200.0  # medians: 80 against 200
    assert ours["udp_pkt_s_vs_minimal-stateful_paired"] == 0.8  # per round: 0.8, 0.8, 0.4
    assert ours["tcp_gbit_s_vs_minimal-stateful_paired"] == 1.0
    assert paired_notes(table) == [
        "guestwall N=1000 vs minimal stateful, paired per round: TCP 1.000, small UDP 0.800"
    ]


def test_without_runs_only_medians() -> None:
    runs = [run("minimal-stateful", 0, 1, 100.0), run("guestwall", 5, 1, 50.0)]
    (_baseline, ours) = ratios(aggregate(runs))
    assert ours["udp_pkt_s_vs_minimal-stateful"] == 0.5 and "udp_pkt_s_vs_minimal-stateful_paired" not in ours
