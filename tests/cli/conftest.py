"""CLI tests hash many passwords too: the same cheap argon2 parameters as tenancy tests."""

from __future__ import annotations

from tests.tenancy.conftest import _cheap_password_hashing

__all__ = ["_cheap_password_hashing"]
