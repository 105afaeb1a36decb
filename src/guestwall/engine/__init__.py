"""The engine: the one path from a change in the store to the kernel (see engine.py)."""

from guestwall.engine.changes import Change, FilterEdit, converge, filter_edit, networks_changed
from guestwall.engine.desired import BoundPort, Desired, bound_port
from guestwall.engine.engine import Engine, open_engine

__all__ = [
    "BoundPort",
    "Change",
    "Desired",
    "Engine",
    "FilterEdit",
    "bound_port",
    "converge",
    "filter_edit",
    "networks_changed",
    "open_engine",
]
