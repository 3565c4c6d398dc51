"""Tenancy tests hash many passwords: use cheap argon2 parameters (same code path)."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from koe.identity import passwords


@pytest.fixture(autouse=True)
def _cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        passwords, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    )
