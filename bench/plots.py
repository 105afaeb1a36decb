"""PNG plots of one run (matplotlib, Agg backend): programming time, kernel size, data path, edit size."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

TARGETS = {"first_apply": 0.5, "edit": 0.020, "add": 0.010, "remove": 0.010}  # seconds at N=1000
PLOTS = ("bench-programming.png", "bench-kernel-size.png", "bench-datapath.png", "bench-transaction.png")


def write_plots(results: dict[str, Any], out: Path) -> list[Path]:
    return [
        _programming(results, out / PLOTS[0]),
        _kernel(results, out / PLOTS[1]),
        _datapath(results, out / PLOTS[2]),
        _transaction(results, out / PLOTS[3]),
    ]


def _caption(fig: Any, text: str, bottom: float = 0.12) -> None:
    """What to look at, under the plot; the axes make room for it."""
    fig.text(0.5, 0.015, text, ha="center", va="bottom", fontsize=9, wrap=True)
    fig.tight_layout(rect=(0, bottom, 1, 1))


def _outside_legend(ax: Any) -> None:
    """The legend right of the axes: it never covers a series (the libvirt line ran under it)."""
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0)


def _ns(results: dict[str, Any]) -> list[int]:
    return [p["n"] for p in results["programming"]]


def _programming(results: dict[str, Any], path: Path) -> Path:
    ns = _ns(results)
    fig, axes = plt.subplots(1, 4, figsize=(16, 5.2))
    lv = results.get("libvirt") or {}
    for ax, (op, title) in zip(
        axes,
        (
            ("first_apply", "first apply of all N"),
            ("edit", "edit of the shared filter"),
            ("add", "add one port"),
            ("remove", "remove one port"),
        ),
        strict=True,
    ):
        p = results["programming"]
        ax.plot(ns, [x["guestwall"][op]["total_s"] for x in p], "o-", label="guestwall, in-process")
        ax.plot(ns, [x["guestwall"][op]["kernel_s"] for x in p], "o:", label="  of which kernel")
        cli = [(x["n"], x["cli"][f"{op}_s"]) for x in p if x["cli"]]
        if cli:
            ax.plot(*zip(*cli, strict=True), "s-", label="guestwall CLI (wall)")
        ax.plot(ns, [x["perport"][op]["total_s"] for x in p], "^-", label="per-port chains, nft -f")
        if lv.get("available"):
            if op == "first_apply":
                ax.plot(ns, [lv["bind_median_s"] * n for n in ns], "k--", label="libvirt (extrapolated)")
            elif op == "edit":
                ax.plot(
                    ns, [lv["edit_per_bound_port_s"] * n for n in ns], "k--", label="libvirt (extrapolated)"
                )
            else:
                ax.axhline(lv[f"{op}_s"], color="k", ls="--", label="libvirt (measured)")
        target = TARGETS.get(op)
        if target is not None:
            ax.plot(
                [1000],
                [target],
                marker="*",
                color="gold",
                markersize=14,
                markeredgecolor="k",
                linestyle="none",
                label="target at N=1000",
            )
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(title)
        ax.set_xlabel("ports N")
        ax.set_ylabel("seconds (log)")
        ax.grid(True, which="both", alpha=0.3)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=6, fontsize=8, bbox_to_anchor=(0.5, 0.07))
    fig.suptitle(f"Programming time ({results['mode']} run)")
    _caption(
        fig,
        "Look at the blue line (guestwall's work for one change) against the red and black ones (rules per "
        "port, libvirt): only the first apply grows with N; edit, add and remove stay flat. The star is "
        "the target at N=1000.",
        bottom=0.2,
    )
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def _kernel(results: dict[str, Any], path: Path) -> Path:
    ns = _ns(results)
    p = results["programming"]
    fig, ax = plt.subplots(figsize=(9, 5))
    ax.plot(ns, [x["guestwall"]["kernel_size"]["rules"] for x in p], "o-", label="guestwall rules")
    # set elements and per-port chains are both about 11 per port: hollow markers keep both visible
    ax.plot(
        ns,
        [x["guestwall"]["kernel_size"]["elements"] for x in p],
        "o--",
        markersize=11,
        markerfacecolor="none",
        linewidth=2.5,
        label="guestwall set elements",
    )
    ax.plot(ns, [x["perport"]["kernel_size"]["rules"] for x in p], "^-", label="per-port rules")
    ax.plot(ns, [x["perport"]["kernel_size"]["chains"] for x in p], "^:", label="per-port chains", zorder=3)
    lv = results.get("libvirt") or {}
    if lv.get("available"):
        per_port = lv["kernel_size"]["rules"] / lv["ports"]
        ax.plot(ns, [per_port * n for n in ns], "k--", label="libvirt rules (extrapolated)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("ports N")
    ax.set_ylabel("count")
    ax.set_title("Kernel size of the tables")
    ax.grid(True, which="both", alpha=0.3)
    _outside_legend(ax)
    _caption(
        fig,
        "guestwall's rules stay constant (shared chains); what grows with N are set elements, one per port "
        "and field, looked up in O(1). Per-port designs grow in rules, which every packet walks.",
    )
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def _datapath(results: dict[str, Any], path: Path) -> Path:
    fig, axes = plt.subplots(1, 2, figsize=(12, 5))
    dp = results.get("datapath")
    if dp:
        shown = [r for r in dp["ratios"]]
        labels = [
            r["config"].replace("minimal-stateful", "minimal\nstateful") + (f"\nN={r['n']}" if r["n"] else "")
            for r in shown
        ]
        colors = [
            "grey"
            if r["config"] == "minimal-stateful"
            else "tab:blue"
            if r["config"] == "guestwall"
            else "tab:red"
            for r in shown
        ]
        for ax, metric, title in (
            (axes[0], "tcp_gbit_s", "TCP throughput"),
            (axes[1], "udp_pkt_s", f"UDP {dp['udp_length']} B packet rate"),
        ):
            values = [r.get(f"{metric}_vs_none") or 0.0 for r in shown]
            ax.bar(range(len(values)), values, color=colors)
            ax.set_xticks(range(len(values)), labels, fontsize=8)
            ax.axhline(1.0, color="k", lw=0.8)
            ax.set_ylim(0, max([1.15, *[v + 0.1 for v in values]]))
            ax.set_ylabel("ratio to no filtering (same run)")
            ax.set_title(title)
            for i, v in enumerate(values):
                ax.text(i, v + 0.02, f"{v:.2f}", ha="center", fontsize=8)
    fig.suptitle("Data path guest -> guest through the bridge")
    _caption(
        fig,
        "Bars are ratios to no filtering in the same run (1.0 = no cost). Compare blue (guestwall with N "
        "ports loaded) with grey (a minimal stateful ruleset) and red (per-port rules).",
    )
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def _transaction(results: dict[str, Any], path: Path) -> Path:
    ns = _ns(results)
    p = results["programming"]
    fig, ax = plt.subplots(figsize=(9, 5))
    ax.plot(ns, [x["guestwall"]["edit"]["tx_commands"] for x in p], "o-", label="guestwall: edit")
    ax.plot(
        ns,
        [max(x["guestwall"]["add"]["tx_commands"], 0.5) for x in p],
        "o--",
        label="guestwall: add one port",
    )
    ax.plot(ns, [x["perport"]["edit"]["tx_commands"] for x in p], "^-", label="per-port: edit")
    ax.plot(ns, [x["perport"]["add"]["tx_commands"] for x in p], "^--", label="per-port: add one port")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("ports N")
    ax.set_ylabel("nft commands in the transaction")
    ax.set_title("Size of one change's kernel transaction")
    ax.grid(True, which="both", alpha=0.3)
    _outside_legend(ax)
    _caption(
        fig,
        "An edit of a filter all N ports use: guestwall rewrites the shared chains once (flat), per-port "
        "designs rewrite every port's (grows with N). Adding a port costs a constant number of commands.",
    )
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
