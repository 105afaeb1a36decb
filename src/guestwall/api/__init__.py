"""The REST API (FastAPI), and the web dashboard under ``/ui`` (guestwall.api.ui)."""
