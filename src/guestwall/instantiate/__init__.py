"""Instantiate bindings: filter tree + variables -> ordered, directed rule programs (the IR)."""

from guestwall.instantiate.build import instantiate
from guestwall.instantiate.variables import MissingVariables

__all__ = ["MissingVariables", "instantiate"]
