"""guestwall: network filters for guests on Linux bridges, libvirt nwfilter compatible, enforced with
nftables."""

__version__ = "0.1.0"
