"""The FastAPI application: ``create_api(koe)`` wires routes, errors and OpenAPI."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI

import koe
from koe.api import auth, backoffice, errors, operator
from koe.api.account import add_account_routes
from koe.api.acd import add_acd_routes
from koe.api.deps import Services, own_tenant
from koe.api.directory import add_directory_routes
from koe.api.schemas import ErrorOut
from koe.api.settings import add_settings_routes

API_PREFIX = "/api/v1"
MAX_BODY_BYTES = 1024 * 1024  # flow documents are the largest bodies, at most 64 KiB
# Uploads: identity documents (base64, up to 6 × 5 MiB) and bank-transfer CSV files.
UPLOAD_BODY_BYTES = {
    f"{API_PREFIX}/operator/applications": 48 * 1024 * 1024,
    f"{API_PREFIX}/operator/transfers": 16 * 1024 * 1024,
}

_ERRORS = {
    code: {"model": ErrorOut, "description": text}
    for code, text in (
        (400, "Malformed request (e.g. `malformed_json`)"),
        (401, "Not authenticated, session expired or revoked"),
        (403, "Not allowed for this role"),
        (404, "Not found (or another tenant's object)"),
        (409, "Conflict: duplicate, license limit"),
        (413, "Body larger than 1 MiB (uploads: more): `request_too_large`"),
        (422, "Invalid input: `invalid_request` with one entry per field"),
        (429, "Too many failed logins: `login_throttled`"),
    )
}


def create_api(services: Services, *, close_on_shutdown: bool = False) -> FastAPI:
    """The HTTP API over ``services`` (the composition root's ``Koe``)."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        if close_on_shutdown:
            await services.close()

    app = FastAPI(
        title="Koe",
        version=koe.__version__,
        description="Koe contact center API. Errors are `{code, message, fields}`; "
        "messages follow `Accept-Language` (ja by default, en).",
        lifespan=lifespan,
        responses=_ERRORS,  # type: ignore[arg-type]
    )
    app.state.koe = services
    errors.install(app, MAX_BODY_BYTES, UPLOAD_BODY_BYTES)

    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, str]:
        """Liveness probe."""
        return {"status": "ok"}

    v1 = APIRouter(prefix=API_PREFIX)
    v1.include_router(auth.router)
    v1.include_router(operator.router)
    v1.include_router(backoffice.router)
    add_directory_routes(v1, own_tenant)
    add_account_routes(v1, own_tenant)
    add_settings_routes(v1)
    add_acd_routes(v1)
    app.include_router(v1)
    return app
