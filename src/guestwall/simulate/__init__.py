"""simulate/explain: evaluate a described packet on a port's rule program (the same IR the kernel gets)."""

from guestwall.simulate.evaluate import SimulationResult, simulate
from guestwall.simulate.packet import Packet, parse_packet

__all__ = ["Packet", "SimulationResult", "parse_packet", "simulate"]
