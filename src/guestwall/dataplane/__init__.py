"""The dataplane: the only code that talks to the kernel (nftables), through one backend seam."""
