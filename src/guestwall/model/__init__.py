"""The model: typed, immutable objects for filters, bindings and the cloud layer. No I/O."""

from guestwall.model.addressset import AddressSet
from guestwall.model.binding import Binding, Owner
from guestwall.model.filter import (
    Action,
    AttrValue,
    DataType,
    Direction,
    Filter,
    FilterEntry,
    FilterRef,
    Match,
    Params,
    Rule,
    Scalar,
    TcpFlags,
    VarRef,
    make_params,
)
from guestwall.model.mac import MacAddress

__all__ = [
    "Action",
    "AddressSet",
    "AttrValue",
    "Binding",
    "DataType",
    "Direction",
    "Filter",
    "FilterEntry",
    "FilterRef",
    "MacAddress",
    "Match",
    "Owner",
    "Params",
    "Rule",
    "Scalar",
    "TcpFlags",
    "VarRef",
    "make_params",
]
