"""The per-host agent: keeps one network namespace's kernel equal to the store (converge on start, store
changes, port events, drift), and learns guests' IP addresses. ``guestwall agent`` runs it (daemon.py)."""
