"""The libvirt-style baseline, our own emulation: the same rule programs compiled with one chain per port and
the rules duplicated (guestwall's ``Options(share=False)``), loaded with ``nft -f`` as a per-port tool would.

Programming keeps guestwall's verdict-map dispatch (favourable to the baseline). For the data path,
``linear_dispatch`` turns each dispatch map into one rule per port, as libvirt's ``-i vnetX -j ...`` lists,
with the measured ports last, so a packet walks every other port's dispatch rule (reference/kernel.md).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bench.netns import kernel_size, nft_file, scratch_netns
from bench.programming import TABLES, InProcessState
from bench.timing import median, stopwatch

Log = Callable[[str], None]


def compile_perport(inputs: Sequence[Any]) -> Any:
    from guestwall.compile.compiler import Options, compile_ruleset

    return compile_ruleset(list(inputs), Options(share=False)).ruleset


def full_text(ruleset: Any) -> str:
    """The whole ruleset as one nft transaction (tables, chains, rules, elements)."""
    from guestwall.dataplane.diff import diff

    return diff(ruleset, {}).text()


def _base_chains() -> set[tuple[str, str]]:
    from guestwall.compile import names

    return {(family, name) for family, name, _, _ in names.BASE_CHAINS}


def port_add_text(ruleset_one_port: Any) -> str:
    """What a per-port tool sends to add one port: its own chains, their rules and its dispatch entries."""
    base = _base_chains()
    keep = []
    for line in full_text(ruleset_one_port).splitlines():
        words = line.split()  # "add table/chain/set/map" are idempotent; the skeleton's rules are not
        if words[:2] == ["add", "rule"] and (words[2], words[4]) in base:
            continue
        keep.append(line)
    return "\n".join(keep) + "\n"


def port_remove_text(ruleset_one_port: Any) -> str:
    """What a per-port tool sends to remove one port: its dispatch entries, then its chains."""
    from guestwall.dataplane.diff import element_cmds
    from guestwall.nft.commands import delete, flush, transaction

    base = _base_chains()
    commands = []
    for family, table in ruleset_one_port.tables.items():
        for spec in table.sets.values():
            if spec.elements:
                commands += element_cmds("delete", family, spec, spec.elements, chunk=1 << 30)
        own = [chain.decl(family) for name, chain in table.chains.items() if (family, name) not in base]
        commands += [flush(c) for c in own] + [delete(c) for c in own]
    return transaction(commands).text()


def linear_dispatch(ruleset: Any, last: Sequence[str]) -> Any:
    """The same ruleset with every dispatch verdict map replaced by one rule per port in the base chain
    (ports in ``last`` at the end); the maps stay declared, empty."""
    from guestwall.compile.ruleset import ChainSpec
    from guestwall.nft import ir

    def order(item: tuple[Any, Any]) -> tuple[int, str]:
        key = item[0][0]
        name = str(key)
        return (1 if any(name == p or key == p for p in last) else 0, name)

    for table in ruleset.tables.values():
        for chain in table.chains.values():
            if chain.base is None:
                continue
            rules: list[Any] = []
            for rule in chain.rules:
                vmap = next((s for s in rule.statements if isinstance(s, ir.VMap)), None)
                if vmap is None:
                    rules.append(rule)
                    continue
                spec = table.sets[vmap.map]
                for (key,), (kind, target) in sorted(spec.elements.items(), key=order):
                    style = ir.Style.IFNAME if isinstance(key, str) else ir.Style.HEX
                    verdict = ir.Verdict(ir.VerdictKind(kind), target)
                    rules.append(ir.Rule((ir.Match(vmap.key, ir.Const(key, style)), verdict)))
                spec.elements.clear()
            table.chains[chain.name] = ChainSpec(chain.name, rules, chain.base)
    return ruleset


def measured_marks(inputs: Sequence[Any], portdevs: Sequence[str]) -> list[Any]:
    """Dispatch keys of the measured ports: their names (layer 2) and marks (layer 3)."""
    from guestwall.compile import names

    keys: list[Any] = list(portdevs)
    keys += [names.port_mark(p.port_id) for p in inputs if p.program.portdev in portdevs]
    return keys


def as_actual(ruleset: Any) -> dict[str, Any]:
    """What the kernel holds after loading ``ruleset``, in the dataplane's read-back form: a per-port tool
    knows what it loaded, so its changes are diffed against that instead of listing 200k rules back."""
    from guestwall.dataplane.state import actual_of

    return actual_of(ruleset)


def ruleset_size(ruleset: Any) -> dict[str, Any]:
    """Counts of a ruleset as loaded (what ``nft -j list`` would count), without listing it back."""
    chains = sum(len(t.chains) for t in ruleset.tables.values())
    rules = sum(len(c.rules) for t in ruleset.tables.values() for c in t.chains.values())
    sets = sum(len(t.sets) for t in ruleset.tables.values())
    elements = sum(len(s.elements) for t in ruleset.tables.values() for s in t.sets.values())
    return {
        "tables": len(ruleset.tables),
        "chains": chains,
        "rules": rules,
        "sets": sets,
        "elements": elements,
        "listed_lines": None,
        "counted": "from the loaded ruleset",
    }


LIST_BACK_MAX = 1000  # above this N the per-port tables are counted from the ruleset, not listed (minutes)


def measure_perport(
    n: int,
    state: InProcessState,
    reps: int,
    work: Path,
    log: Log,
    netns: str | None = None,
    datapath_keys: Sequence[Any] = (),
) -> dict[str, Any]:
    """First load, full reload (what libvirt does on restart; small N only), shared-filter edit, add and
    remove one port. In ``netns`` when given; with ``datapath_keys`` the ruleset is left loaded at the end
    with linear dispatch, those dispatch keys last (a data-path lab)."""
    import contextlib

    from guestwall.dataplane.diff import diff

    out: dict[str, Any] = {"n": n, "repetitions": reps}
    path = str(work / f"perport-{n}.nft")
    where = contextlib.nullcontext(netns) if netns else scratch_netns(f"pp{n}")
    with where as ns:
        log(f"  per-port baseline, N={n}: compile (share=False) and nft -f")
        with stopwatch() as t_compile:
            current = compile_perport(state.initial_inputs)
            text = full_text(current)
        with stopwatch() as t_load:
            nft_file(ns, text, path)
        out["first_apply"] = {
            "compile_s": t_compile[0],
            "kernel_s": t_load[0],
            "total_s": t_compile[0] + t_load[0],
            "instantiate_s": state.instantiate_s,
            "tx_commands": len(text.splitlines()),
        }
        if n <= LIST_BACK_MAX:
            out["kernel_size"] = kernel_size(ns, TABLES, lines=True).as_dict()
        else:
            out["kernel_size"] = ruleset_size(current)
        if reps > 1:
            reload_text = "".join(f"delete table {t}\n" for t in TABLES) + text
            with stopwatch() as t:
                nft_file(ns, reload_text, path)
            out["reload"] = {"kernel_s": t[0], "tx_commands": len(reload_text.splitlines())}
        del text

        log(f"  per-port baseline, N={n}: shared filter edit")
        runs = []
        sequence = [state.edited_inputs, state.initial_inputs, state.edited_inputs][: max(reps, 1)]
        for inputs in sequence:  # there (and back, and there again): ends with the edited filter
            with stopwatch() as t_compile:
                new = compile_perport(inputs)
                tx = diff(new, as_actual(current))
            with stopwatch() as t_load:
                nft_file(ns, tx.text(), path)
            runs.append((t_compile[0], t_load[0], len(tx.commands), tx.counts()))
            current = new
        out["edit"] = {
            "compile_s": median([r[0] for r in runs]),
            "kernel_s": median([r[1] for r in runs]),
            "total_s": median([r[0] + r[1] for r in runs]),
            "tx_commands": max(r[2] for r in runs),
            "tx_counts": runs[0][3],
        }

        log(f"  per-port baseline, N={n}: add/remove one port x{reps}")
        adds, removes = [], []
        for _ in range(reps):
            with stopwatch() as t_compile:
                one = compile_perport([state.extra_input])
                add_text = port_add_text(one)
            with stopwatch() as t_load:
                nft_file(ns, add_text, path)
            adds.append((t_compile[0], t_load[0], len(add_text.splitlines())))
            remove_text = port_remove_text(one)
            with stopwatch() as t_load:
                nft_file(ns, remove_text, path)
            removes.append((0.0, t_load[0], len(remove_text.splitlines())))
        for key, runs_ in (("add", adds), ("remove", removes)):
            out[key] = {
                "compile_s": median([r[0] for r in runs_]),
                "kernel_s": median([r[1] for r in runs_]),
                "total_s": median([r[0] + r[1] for r in runs_]),
                "tx_commands": runs_[0][2],
            }

        if datapath_keys:
            log(f"  per-port baseline, N={n}: dispatch made linear for the data path")
            before = as_actual(current)
            tx = diff(linear_dispatch(current, datapath_keys), before)
            nft_file(ns, tx.text(), path)
            out["datapath_ruleset"] = ruleset_size(current)
    return out
