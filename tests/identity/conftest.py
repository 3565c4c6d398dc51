"""Identity tests share the API tests' cheap argon2 parameters."""

from tests.api.conftest import cheap_argon2

__all__ = ["cheap_argon2"]
