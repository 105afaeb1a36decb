from netns_fixtures import lab, lab_factory, lab_module  # noqa: F401
