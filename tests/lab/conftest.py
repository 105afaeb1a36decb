"""The lab tests use the shared namespace fixtures (see tests/netns_fixtures.py)."""

from netns_fixtures import fresh_lab, host_run, lab, lab_factory, lab_module  # noqa: F401
