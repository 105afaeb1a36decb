"""One router per resource; each calls the use cases the CLI calls."""
