"""The results: targets of issue 5 evaluated, ratios to the same run's baselines, Rich tables, JSON."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

OPS = ("first_apply", "reapply", "edit", "add", "remove")
TARGET_N = 1000
DATAPATH_TARGET_N = 5000


def _at(results: dict[str, Any], n: int) -> dict[str, Any] | None:
    return next((p for p in results["programming"] if p["n"] == n), None)


def _target_row(results: dict[str, Any], want_n: int) -> tuple[dict[str, Any], int]:
    """The programming entry at ``want_n``, else the largest N measured (quick mode)."""
    entry = _at(results, want_n) or max(results["programming"], key=lambda p: p["n"])
    return entry, entry["n"]


def _bound(
    name: str, value: float | None, bound: float, n: int, want_n: int, unit: str = "s", detail: str = ""
) -> dict[str, Any]:
    met = None if value is None or (isinstance(value, float) and math.isnan(value)) else value <= bound
    return {
        "target": name,
        "bound": bound,
        "unit": unit,
        "value": value,
        "met": met,
        "n": n,
        "at_target_n": n == want_n,
        "over_by": (value / bound if value is not None and met is False else None),
        "detail": detail,
    }


def evaluate(results: dict[str, Any]) -> list[dict[str, Any]]:
    targets = []
    row, n = _target_row(results, TARGET_N)
    gw, cli = row["guestwall"], row["cli"]
    targets.append(
        _bound(
            "first apply of 1000 ports, CLI end to end",
            cli.get("first_apply_s"),
            0.5,
            n,
            TARGET_N,
            detail=f"in-process {gw['first_apply']['total_s']:.3f} s",
        )
    )
    targets.append(
        _bound(
            "first apply of 1000 ports, in-process",
            gw["first_apply"]["total_s"],
            0.5,
            n,
            TARGET_N,
            detail=_split(gw["first_apply"]),
        )
    )
    for op, bound in (("edit", 0.020), ("add", 0.010), ("remove", 0.010)):
        targets.append(
            _bound(
                f"{op} ({'shared filter' if op == 'edit' else 'one port'}), in-process",
                gw[op]["total_s"],
                bound,
                n,
                TARGET_N,
                detail=f"{_split(gw[op])}; CLI {_ms(cli.get(op + '_s'))} ms",
            )
        )
    sizes = {p["n"]: p["guestwall"]["edit"]["tx_commands"] for p in results["programming"]}
    flat = len(set(sizes.values())) == 1
    targets.append(
        {
            "target": "edit transaction does not grow with N",
            "value": sizes,
            "met": flat,
            "n": max(sizes),
            "at_target_n": True,
            "unit": "commands",
            "bound": None,
            "over_by": None,
            "detail": "commands by N: " + ", ".join(f"{k}: {v}" for k, v in sorted(sizes.items())),
        }
    )
    reapply = {p["n"]: p["guestwall"]["reapply"]["tx_commands"] for p in results["programming"]}
    # and after add/remove (incremental paths), a full re-apply must find nothing to change either
    drift = {p["n"]: p["guestwall"].get("final_check_tx_commands", 0) for p in results["programming"]}
    reapply = {n: max(v, drift[n]) for n, v in reapply.items()}
    targets.append(
        {
            "target": "re-apply unchanged: no kernel change",
            "value": reapply,
            "met": all(v == 0 for v in reapply.values()),
            "n": max(reapply),
            "at_target_n": True,
            "unit": "commands",
            "bound": 0,
            "over_by": None,
            "detail": "commands by N, also for a re-apply after add/remove: "
            + ", ".join(f"{k}: {v}" for k, v in sorted(reapply.items())),
        }
    )
    rules = {p["n"]: p["guestwall"]["kernel_size"]["rules"] for p in results["programming"]}
    elements = {p["n"]: p["guestwall"]["kernel_size"]["elements"] for p in results["programming"]}
    targets.append(
        {
            "target": "kernel rule count independent of N",
            "value": rules,
            "met": len(set(rules.values())) == 1,
            "n": max(rules),
            "at_target_n": True,
            "unit": "rules",
            "bound": None,
            "over_by": None,
            "detail": "rules by N: "
            + ", ".join(f"{k}: {v}" for k, v in sorted(rules.items()))
            + "; set elements: "
            + ", ".join(f"{k}: {v}" for k, v in sorted(elements.items())),
        }
    )
    targets += _datapath_targets(results.get("datapath"))
    startup = results.get("startup")
    if startup:
        targets.append(
            _bound(
                "guestwall nwfilter-list wall time",
                startup["nwfilter_list_s"],
                0.150,
                0,
                0,
                detail=f"python -c pass {startup['python_pass_s'] * 1000:.0f} ms; "
                f"guestwall's own {startup['over_python_s'] * 1000:.0f} ms",
            )
        )
    return targets


def _split(op: dict[str, Any]) -> str:
    return (
        f"compile {op['compile_s'] * 1000:.1f} ms (instantiate {op['instantiate_s'] * 1000:.1f}), "
        f"kernel {op['kernel_s'] * 1000:.1f} ms, store+parse {(op['load_s'] + op['other_s']) * 1000:.1f} ms"
    )


def _datapath_targets(datapath: dict[str, Any] | None) -> list[dict[str, Any]]:
    if not datapath:
        return []
    ours = [r for r in datapath["ratios"] if r["config"] == "guestwall"]
    if not ours:
        return []
    entry = next((r for r in ours if r["n"] == DATAPATH_TARGET_N), max(ours, key=lambda r: r["n"]))
    out = []
    for metric, label in (("tcp_gbit_s", "TCP throughput"), ("udp_pkt_s", "small-UDP packet rate")):
        ratio = entry.get(f"{metric}_vs_minimal-stateful")
        out.append(
            {
                "target": f"data path, {label} >= 95% of minimal stateful",
                "value": ratio,
                "bound": 0.95,
                "unit": "ratio",
                "met": None if ratio is None else ratio >= 0.95,
                "n": entry["n"],
                "at_target_n": entry["n"] == DATAPATH_TARGET_N,
                "over_by": None,
                "detail": f"vs no filtering {_fmt_ratio(entry.get(f'{metric}_vs_none'))}",
            }
        )
    return out


def ratios(results: dict[str, Any]) -> dict[str, Any]:
    """guestwall against the per-port baseline at every N (time and size), and against real libvirt."""
    out: dict[str, Any] = {"guestwall_vs_perport": {}}
    for p in results["programming"]:
        gw, pp = p["guestwall"], p["perport"]
        row: dict[str, Any] = {}
        for op in ("first_apply", "edit", "add", "remove"):
            row[f"{op}_total"] = gw[op]["total_s"] / pp[op]["total_s"]
            row[f"{op}_kernel"] = gw[op]["kernel_s"] / pp[op]["kernel_s"]
        row["edit_tx_commands"] = gw["edit"]["tx_commands"] / max(pp["edit"]["tx_commands"], 1)
        row["rules"] = gw["kernel_size"]["rules"] / pp["kernel_size"]["rules"]
        if pp["kernel_size"].get("listed_lines"):
            row["listed_lines"] = gw["kernel_size"]["listed_lines"] / pp["kernel_size"]["listed_lines"]
        out["guestwall_vs_perport"][str(p["n"])] = row
    lv = results.get("libvirt") or {}
    with_cli = [p for p in results["programming"] if p["cli"]]
    if lv.get("available") and with_cli:
        smallest = min(with_cli, key=lambda p: p["n"])
        out["guestwall_cli_vs_libvirt"] = {
            "n": smallest["n"],
            "add_one_port": smallest["cli"]["add_s"] / lv["add_s"],
            "bind_one_port_of_libvirt_median": smallest["cli"]["add_s"] / lv["bind_median_s"],
        }
    return out


# ---- printing ---------------------------------------------------------------------------------------------


def _ms(seconds: float | None) -> str:
    if seconds is None or (isinstance(seconds, float) and math.isnan(seconds)):
        return "-"
    return f"{seconds * 1000:.1f}" if seconds < 10 else f"{seconds * 1000:.0f}"


def _fmt_ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.3g}x"


def print_tables(results: dict[str, Any], console: Console | None = None) -> None:
    if console is None:
        console = Console()
        if not console.is_terminal:  # a log file or CI: wide enough for the tables, not 80 columns
            console = Console(width=180)
    t = Table(title=f"Programming time, ms ({results['mode']} run; medians; ratio = guestwall / per-port)")
    for col in (
        "N",
        "operation",
        "gw in-process",
        "compile",
        "kernel",
        "tx cmds",
        "gw CLI",
        "per-port",
        "pp kernel",
        "pp tx cmds",
        "ratio",
    ):
        t.add_column(col, justify="right")
    for p in results["programming"]:
        gw, cli, pp = p["guestwall"], p["cli"], p["perport"]
        for op in OPS:
            g = gw[op]
            ppo = pp.get(op if op != "reapply" else "reload", {})
            ratio = g["total_s"] / ppo["total_s"] if ppo.get("total_s") else None
            t.add_row(
                str(p["n"]),
                op,
                _ms(g["total_s"]),
                _ms(g["compile_s"]),
                _ms(g["kernel_s"]),
                str(g["tx_commands"]),
                _ms(cli.get(f"{op}_s")),
                _ms(ppo.get("total_s")),
                _ms(ppo.get("kernel_s")),
                str(ppo.get("tx_commands", "-")),
                _fmt_ratio(ratio),
            )
        t.add_section()
    console.print(t)

    t = Table(title="Kernel size after the first apply (our tables; per-port: the baseline's tables)")
    for col in (
        "N",
        "gw chains",
        "gw rules",
        "gw sets",
        "gw elements",
        "gw lines",
        "pp chains",
        "pp rules",
        "pp lines",
        "rules ratio",
    ):
        t.add_column(col, justify="right")
    for p in results["programming"]:
        g, q = p["guestwall"]["kernel_size"], p["perport"]["kernel_size"]
        t.add_row(
            str(p["n"]),
            str(g["chains"]),
            str(g["rules"]),
            str(g["sets"]),
            str(g["elements"]),
            str(g["listed_lines"]),
            str(q["chains"]),
            str(q["rules"]),
            str(q["listed_lines"] or "-"),
            _fmt_ratio(g["rules"] / q["rules"]),
        )
    console.print(t)

    dp = results.get("datapath")
    if dp:
        t = Table(
            title=f"Data path, iperf3 {dp['direction']}, {dp['seconds']} s per run, median of "
            f"{dp['rounds']} round(s), UDP payload {dp['udp_length']} B"
        )
        for col in (
            "ruleset",
            "N",
            "rules",
            "TCP Gbit/s",
            "spread",
            "vs none",
            "vs minimal",
            "UDP kpkt/s",
            "spread",
            "vs none",
            "vs minimal",
        ):
            t.add_column(col, justify="right")
        by_key = {(r["config"], r["n"]): r for r in dp["ratios"]}
        for r in dp["summary"]:
            ratio = by_key.get((r["config"], r["n"]), {})
            t.add_row(
                r["config"],
                str(r["n"] or "-"),
                str(r.get("kernel_size", {}).get("rules", 0)),
                _num(r.get("tcp_gbit_s")),
                _pct(r.get("tcp_gbit_s_spread")),
                _fmt_ratio(ratio.get("tcp_gbit_s_vs_none")),
                _fmt_ratio(ratio.get("tcp_gbit_s_vs_minimal-stateful")),
                _num(r["udp_pkt_s"] / 1000 if "udp_pkt_s" in r else None),
                _pct(r.get("udp_pkt_s_spread")),
                _fmt_ratio(ratio.get("udp_pkt_s_vs_none")),
                _fmt_ratio(ratio.get("udp_pkt_s_vs_minimal-stateful")),
            )
        console.print(t)
        for note in dp.get("notes", []):
            console.print(f"note: {note}")
        failed = [r for r in dp["runs"] if "tcp_error" in r or "udp_error" in r]
        for r in failed:
            console.print(
                f"[red]failed run[/] {r['config']} N={r['n']}: {r.get('tcp_error') or r.get('udp_error')}"
            )

    lv = results.get("libvirt") or {}
    if lv.get("available"):
        t = Table(title=f"Real libvirt nwfilter ({lv['ports']} ports; virsh wall time)")
        for col in ("measure", "value", "extrapolated to 1000", "to 5000"):
            t.add_column(col, justify="right")
        ex = lv["extrapolated"]
        t.add_row(
            "bind one port (median)",
            f"{lv['bind_median_s']:.2f} s",
            f"{ex['1000']['bind_all_s'] / 60:.0f} min (all)",
            f"{ex['5000']['bind_all_s'] / 60:.0f} min (all)",
        )
        t.add_row(
            f"edit shared filter, {lv['ports']} bound",
            f"{lv['edit_s']:.1f} s",
            f"{ex['1000']['edit_s'] / 60:.0f} min",
            f"{ex['5000']['edit_s'] / 60:.0f} min",
        )
        t.add_row("add one port / remove one port", f"{lv['add_s']:.2f} s / {lv['remove_s']:.2f} s", "", "")
        t.add_row(
            "kernel rules / chains", f"{lv['kernel_size']['rules']} / {lv['kernel_size']['chains']}", "", ""
        )
        console.print(t)
    elif lv:
        console.print(f"[bold]Real libvirt:[/] skipped: {lv.get('note')}")

    s = results.get("startup")
    if s:
        console.print(
            f"[bold]CLI start-up[/] (median of {s['runs']}): "
            f"guestwall nwfilter-list {_ms(s['nwfilter_list_s'])} ms, "
            f"python -c pass {_ms(s['python_pass_s'])} ms, ratio {s['ratio_to_python']:.2f}x"
        )

    t = Table(title="Targets of issue 5")
    for col in ("target", "bound", "measured", "N", "met", "detail"):
        t.add_column(col)
    for tg in results["targets"]:
        met = {True: "[green]met[/]", False: "[red]missed[/]", None: "n/a"}[tg["met"]]
        if tg["met"] is False and tg.get("over_by"):
            met += f" ({tg['over_by']:.3g}x)"
        t.add_row(
            tg["target"],
            _bound_text(tg),
            _value_text(tg),
            str(tg["n"] or "-") + ("" if tg["at_target_n"] else " (quick)"),
            met,
            tg["detail"],
        )
    console.print(t)
    console.print(f"total run time {results['seconds']:.0f} s")


def _pct(value: float | None) -> str:
    """Spread of the rounds, (max - min) / median."""
    return "-" if value is None else f"±{value / 2:.0%}"


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.3g}"


def _bound_text(tg: dict[str, Any]) -> str:
    if tg["bound"] is None:
        return "flat"
    if tg["unit"] == "s":
        return f"<= {tg['bound'] * 1000:.0f} ms"
    if tg["unit"] == "ratio":
        return f">= {tg['bound']:.0%}"
    return f"= {tg['bound']}"


def _value_text(tg: dict[str, Any]) -> str:
    v = tg["value"]
    if isinstance(v, dict):
        return ", ".join(str(x) for _, x in sorted(v.items()))
    if v is None:
        return "-"
    if tg["unit"] == "s":
        return f"{v * 1000:.1f} ms"
    if tg["unit"] == "ratio":
        return f"{v:.1%}"
    return str(v)


def write_json(results: dict[str, Any], path: Path) -> None:
    path.write_text(json.dumps(results, indent=1, sort_keys=False, default=str) + "\n")
