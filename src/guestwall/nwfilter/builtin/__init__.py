"""Package data: the XML files of the 24 builtin filters."""
