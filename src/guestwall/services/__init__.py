"""Use cases shared by the CLI, the REST API and the agent: one module per subject (filters, bindings, ...).

Each use case runs in one store transaction and raises guestwall.errors exceptions only.
"""
