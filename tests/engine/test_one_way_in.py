"""The engine is the one way to the kernel: no module outside ``guestwall.engine`` runs a transaction on a
backend itself (``backend.run``), and the old side door ``dataplane.apply.apply`` is gone. The few modules
that do run one are listed here, each with the reason it is not a change of the store to enforce."""

from __future__ import annotations

import ast
from pathlib import Path

import guestwall.dataplane.apply

ROOT = Path(__file__).resolve().parents[2]
SCANNED = ("src/guestwall", "bench")  # the benchmarks go the same way

# module -> why it may run a transaction without the engine
ALLOWED = {
    "src/guestwall/dataplane/backend.py": "the backends themselves (LazyBackend hands the call on)",
    "src/guestwall/dataplane/fingerprints.py": "verify's scratch tables (no hooks, removed at once), run "
    "for the engine",
    "src/guestwall/networks/doctor.py": "doctor --fix inserts accept rules into other tools' tables, at "
    "the user's request: nothing guestwall keeps in the store or owns in the kernel",
    "bench/timing.py": "a backend that times the calls it hands on to the real one",
}


def _receiver_is_a_backend(call: ast.Call) -> bool:
    func = call.func
    if not isinstance(func, ast.Attribute) or func.attr != "run":
        return False
    receiver = ast.unparse(func.value).lower()
    return "backend" in receiver or "nft" in receiver or receiver.endswith("_opened()")


def side_doors(source: str) -> list[str]:
    """The ways into the kernel in ``source`` that bypass the engine: ``<backend>.run(...)`` calls and
    any use of ``dataplane.apply.apply``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and _receiver_is_a_backend(node):
            found.append(f"line {node.lineno}: {ast.unparse(node.func)}(...)")
        elif isinstance(node, ast.ImportFrom) and node.module == "guestwall.dataplane.apply":
            found += [f"line {node.lineno}: imports apply" for a in node.names if a.name == "apply"]
        elif isinstance(node, ast.ImportFrom) and node.module == "guestwall.dataplane":
            found += [f"line {node.lineno}: imports dataplane.apply" for a in node.names if a.name == "apply"]
        elif (
            isinstance(node, ast.Attribute)
            and node.attr == "apply"
            and ast.unparse(node.value).endswith("dataplane.apply")
        ):
            found.append(f"line {node.lineno}: {ast.unparse(node)}")
    return found


def test_the_detector_sees_each_side_door() -> None:
    source = "\n".join(
        [
            "from guestwall.dataplane.apply import apply, kernel_lock",
            "from guestwall.dataplane import apply as dp",
            "backend.run(tx)",
            "self.backend.run(tx)",
            "self._opened().run(tx)",
            "guestwall.dataplane.apply.apply(ruleset, b)",
        ]
    )
    assert len(side_doors(source)) == 6
    harmless = "from guestwall.dataplane.apply import kernel_lock\nsubprocess.run(argv)\nself.run(request)\n"
    assert side_doors(harmless) == []


def test_no_module_outside_the_engine_runs_the_kernel_itself() -> None:
    offenders = {}
    paths = [p for top in SCANNED for p in sorted((ROOT / top).rglob("*.py"))]
    assert len(paths) > 100  # the walk found the sources
    for path in paths:
        name = path.relative_to(ROOT).as_posix()
        if name.startswith("src/guestwall/engine/") or name in ALLOWED:
            continue
        found = side_doors(path.read_text())
        if found:
            offenders[name] = found
    assert offenders == {}, f"these reach the kernel beside guestwall.engine: {offenders}"


def test_the_allowed_modules_still_need_it() -> None:
    for name in ALLOWED:
        assert side_doors((ROOT / name).read_text()), (
            f"{name} no longer runs the kernel: drop it from ALLOWED"
        )


def test_dataplane_apply_keeps_only_the_lock_and_the_plan() -> None:
    assert not hasattr(guestwall.dataplane.apply, "apply")
