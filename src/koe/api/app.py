"""Minimal placeholder so ``koe serve`` has an app; the api branch's version replaces it."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

import koe


def create_api(services: Any, *, close_on_shutdown: bool = False) -> FastAPI:
    """The HTTP API over ``services`` (here only the liveness probe)."""
    app = FastAPI(title="Koe", version=koe.__version__)
    app.state.koe = services

    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, str]:
        """Liveness probe."""
        return {"status": "ok"}

    return app
