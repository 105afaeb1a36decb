"""libvirt integration tests: a private libvirt daemon in a lab's host namespace (see libvirtkit.py)."""

from netns_fixtures import lab_factory  # noqa: F401
