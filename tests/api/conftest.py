"""API test helpers: an in-process HTTP client (ASGI, no network) and a small world builder."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, cast

import httpx
import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI

from koe.api.app import create_api
from koe.api.deps import Services
from koe.app import Koe
from koe.core.domain import LicenseKind, Role
from koe.identity import passwords

PASSWORD = "correct horse battery"
BASE = "/api/v1"


@pytest.fixture(autouse=True)
def cheap_argon2(monkeypatch: pytest.MonkeyPatch) -> None:
    """Real argon2id, with the cheapest parameters: the production cost only slows tests."""
    monkeypatch.setattr(passwords, "_hasher", PasswordHasher(time_cost=1, memory_cost=64))


@dataclass
class Actor:
    """A logged-in caller: every request carries its bearer token."""

    http: httpx.AsyncClient
    token: str
    tenant_id: str | None
    user_id: str
    role: str

    def _headers(self, extra: dict[str, str] | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", **(extra or {})}

    async def get(self, url: str, **kw: Any) -> httpx.Response:
        return await self.http.get(url, headers=self._headers(kw.pop("headers", None)), **kw)

    async def post(self, url: str, **kw: Any) -> httpx.Response:
        return await self.http.post(url, headers=self._headers(kw.pop("headers", None)), **kw)

    async def patch(self, url: str, **kw: Any) -> httpx.Response:
        return await self.http.patch(url, headers=self._headers(kw.pop("headers", None)), **kw)

    async def delete(self, url: str, **kw: Any) -> httpx.Response:
        return await self.http.delete(url, headers=self._headers(kw.pop("headers", None)), **kw)

    async def put(self, url: str, **kw: Any) -> httpx.Response:
        return await self.http.put(url, headers=self._headers(kw.pop("headers", None)), **kw)


@dataclass
class Tenant:
    """A tenant made for a test, with its admin logged in."""

    id: str
    code: str
    admin: Actor


class World:
    """Builds tenants, users and logged-in callers for API tests."""

    def __init__(self, koe: Koe, http: httpx.AsyncClient) -> None:
        self.koe = koe
        self.http = http
        self._devices = 0

    async def tenant(
        self, code: str, *, seats: int = 6, admins: int = 1, lines: int = 5, extra_users: int = 0
    ) -> Tenant:
        """A tenant with licenses and a logged-in tenant admin ``admin``."""
        view = await self.koe.tenants.create(
            {
                "code": code,
                "company_name": f"{code} 株式会社",
                "representative_name": "代表 太郎",
                "address": "東京都千代田区1-1",
                "phone": "03-0000-0000",
            }
        )
        for kind, quantity in (
            (LicenseKind.SEAT, seats),
            (LicenseKind.ADMIN, admins),
            (LicenseKind.LINE, lines),
            (LicenseKind.ADDITIONAL_USER, extra_users),
        ):
            if quantity:
                await self.koe.tenants.add_license(view["id"], kind, quantity)
        await self.user(view["id"], "admin", Role.TENANT_ADMIN)
        admin = await self.actor(code, "admin")
        return Tenant(view["id"], code, admin)

    async def user(self, tenant_id: str, login: str, role: Role) -> dict[str, Any]:
        """A user of ``tenant_id`` with the test password."""
        return await self.koe.directory.create(
            tenant_id,
            "users",
            {"login": login, "name": login, "role": role.value, "password": PASSWORD},
        )

    def device(self) -> str:
        """A fresh browser device id."""
        self._devices += 1
        return f"test-device-{self._devices:04d}"

    async def login(
        self, tenant: str | None, login: str, password: str = PASSWORD, **extra: Any
    ) -> httpx.Response:
        """POST /auth/login."""
        body = {"tenant": tenant, "login": login, "password": password, **extra}
        return await self.http.post(f"{BASE}/auth/login", json=body)

    async def actor(self, tenant: str | None, login: str, **extra: Any) -> Actor:
        """Log in (a new device for each admin login) and return the caller."""
        extra.setdefault("device_id", self.device())
        response = await self.login(tenant, login, **extra)
        assert response.status_code == 200, response.text
        body = response.json()
        return Actor(self.http, body["token"], body["tenant_id"], body["user_id"], body["role"])

    async def operator(self, login: str = "ops", role: Role = Role.OPERATOR_ADMIN) -> Actor:
        """Operator staff, logged in."""
        await self.koe.auth.add_operator_user(login, "運営 花子", PASSWORD, role)
        return await self.actor(None, login)


@pytest.fixture(scope="session")
def api_app() -> FastAPI:
    """One app for the session: building FastAPI's routes costs more than most tests."""
    return create_api(cast(Services, None))


@pytest.fixture
async def http(koe: Koe, api_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client talking in process to the API over this test's ``koe``."""
    api_app.state.koe = koe
    transport = httpx.ASGITransport(app=api_app, client=("192.0.2.10", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://koe.test") as client:
        yield client


@pytest.fixture
def world(koe: Koe, http: httpx.AsyncClient) -> World:
    """The world builder."""
    return World(koe, http)
