"""PNG plots of one run (matplotlib, Agg backend): programming time, kernel size, data path, edit size."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

TARGETS = {"first_apply": 0.5, "edit": 0.020, "add": 0.010, "remove": 0.010}  # issue 5, seconds at N=1000
PLOTS = ("bench-programming.png", "bench-kernel-size.png", "bench-datapath.png", "bench-transaction.png")


def write_plots(results: dict[str, Any], out: Path) -> list[Path]:
    return [
        _programming(results, out / PLOTS[0]),
        _kernel(results, out / PLOTS[1]),
        _datapath(results, out / PLOTS[2]),
        _transaction(results, out / PLOTS[3]),
    ]


def _ns(results: dict[str, Any]) -> list[int]:
    return [p["n"] for p in results["programming"]]


def _programming(results: dict[str, Any], path: Path) -> Path:
    ns = _ns(results)
    fig, axes = plt.subplots(1, 4, figsize=(16, 4.2))
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
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("seconds")
    axes[0].legend(fontsize=7)
    fig.suptitle(f"Programming time ({results['mode']} run)")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def _kernel(results: dict[str, Any], path: Path) -> Path:
    ns = _ns(results)
    p = results["programming"]
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    ax.plot(ns, [x["guestwall"]["kernel_size"]["rules"] for x in p], "o-", label="guestwall rules")
    ax.plot(ns, [x["guestwall"]["kernel_size"]["elements"] for x in p], "o--", label="guestwall set elements")
    ax.plot(ns, [x["perport"]["kernel_size"]["rules"] for x in p], "^-", label="per-port rules")
    ax.plot(ns, [x["perport"]["kernel_size"]["chains"] for x in p], "^:", label="per-port chains")
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
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def _datapath(results: dict[str, Any], path: Path) -> Path:
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
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
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def _transaction(results: dict[str, Any], path: Path) -> Path:
    ns = _ns(results)
    p = results["programming"]
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
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
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
