"""Every exception class guestwall defines is in the tree of guestwall.errors, or listed here with a reason."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from pathlib import Path

import pytest

import guestwall
from guestwall.errors import DataplaneError, GuestwallError

# class (module.qualname) -> why it is not a GuestwallError (the same list is drawn in errors.py)
OUTSIDE = {
    "guestwall.api.errors.ApiError": "an HTTP answer (401/403/...) the API decides; not a domain error",
    "guestwall.api.ui.session.Refused": "an HTTP answer the dashboard decides; pages catch GuestwallError",
    "guestwall.api.ui.session.LoginRequired": "a Refused (401)",
    "guestwall.api.middleware._TooLarge": "must be starlette's HTTPException for FastAPI to route it",
    "guestwall.simulate.evaluate._Decided": "control flow inside the simulator; never leaves it",
}


def _exception_classes() -> dict[str, type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    for info in pkgutil.walk_packages(guestwall.__path__, "guestwall."):
        if info.name.endswith("__main__"):
            continue  # importing it runs the CLI
        module = importlib.import_module(info.name)
        for obj in vars(module).values():
            if inspect.isclass(obj) and issubclass(obj, BaseException) and obj.__module__ == module.__name__:
                found[f"{obj.__module__}.{obj.__qualname__}"] = obj
    return found


def test_every_exception_class_is_in_the_tree_or_listed() -> None:
    classes = _exception_classes()
    assert "guestwall.errors.FilterError" in classes  # the walk reached the modules
    assert "guestwall.config.ConfigError" in classes
    stray = sorted(n for n, c in classes.items() if not issubclass(c, GuestwallError) and n not in OUTSIDE)
    assert stray == [], f"exception classes outside guestwall.errors' tree: {stray}"


def test_the_list_of_outsiders_is_current() -> None:
    classes = _exception_classes()
    stale = sorted(n for n in OUTSIDE if n not in classes or issubclass(classes[n], GuestwallError))
    assert stale == [], f"listed as outside the tree but not (or no longer) there: {stale}"


def test_the_outsiders_are_drawn_in_the_docstring() -> None:
    import guestwall.errors as errors

    doc = errors.__doc__ or ""
    for name in OUTSIDE:
        short = name.removeprefix("guestwall.").rsplit(".", 1)
        assert short[1] in doc, f"{name} is not mentioned in errors.py's docstring"


def test_nft_output_that_is_not_json_is_a_dataplane_error() -> None:
    from guestwall.dataplane.backend import _parsed

    assert _parsed('{"nftables": []}', "list ruleset") == {"nftables": []}
    with pytest.raises(DataplaneError, match="nft list ruleset printed output that is not JSON"):
        _parsed("Error: oops", "list ruleset")


def test_dnsmasq_files_that_cannot_be_written_are_a_dataplane_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from guestwall.networks import dnsmasq, runtime
    from guestwall.networks.xml import parse_network

    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    monkeypatch.setattr(dnsmasq, "paths", lambda netns, name: dnsmasq.Paths(blocker / name))
    net = parse_network(
        "<network><name>n1</name><bridge name='gwbr-t1'/><ip address='10.9.0.1' prefix='24'>"
        "<dhcp><range start='10.9.0.10' end='10.9.0.20'/></dhcp></ip></network>"
    )
    with pytest.raises(DataplaneError, match="cannot write dnsmasq's files of network n1"):
        runtime.ensure_dnsmasq(None, net)
