"""A full apply holds Python's cyclic garbage collector off while it builds and applies the ruleset, and
gives it back as it was: on when it was on (also after an error), off when the caller had it off (a command
in its own process), and only the outermost of nested pauses turns it back on."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from guestwall.engine.engine import collector_paused


@pytest.fixture(autouse=True)
def restore() -> Iterator[None]:
    was = gc.isenabled()
    yield
    if was:
        gc.enable()
    else:
        gc.disable()


def test_paused_inside_and_on_again_after() -> None:
    gc.enable()
    with collector_paused():
        assert not gc.isenabled()
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the inner pause found it off: it leaves it off
    assert gc.isenabled()


def test_on_again_after_an_error() -> None:
    gc.enable()
    with pytest.raises(RuntimeError), collector_paused():
        raise RuntimeError("refused")
    assert gc.isenabled()


def test_left_off_when_the_caller_had_it_off() -> None:
    gc.disable()
    with collector_paused():
        pass
    assert not gc.isenabled()
