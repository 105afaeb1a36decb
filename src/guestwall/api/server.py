"""The uvicorn entry point: ``guestwall.api.server:app`` (a factory) reads its settings from the
environment that ``guestwall api`` sets, so that every worker process builds the same application."""

from __future__ import annotations

import os

from fastapi import FastAPI

from guestwall.api.app import Settings, create_app
from guestwall.store.records import DEFAULT_URL


def settings_from_env() -> Settings:
    return Settings(
        db_url=os.environ.get("GUESTWALL_API_DB") or os.environ.get("GUESTWALL_DB") or DEFAULT_URL,
        netns=os.environ.get("GUESTWALL_API_NETNS") or os.environ.get("GUESTWALL_NETNS") or None,
    )


def app() -> FastAPI:
    return create_app(settings_from_env())
