"""Compile rule programs into the desired nftables state (shared chains, per-port sets, verdict maps)."""
