"""Identifiers: random UUIDs as text, sortable enough and safe to show."""

from __future__ import annotations

import secrets
import uuid


def new_id() -> str:
    """A new random identifier (UUID4, canonical text form)."""
    return str(uuid.uuid4())


def new_token(nbytes: int = 32) -> str:
    """A new unguessable token for sessions and links."""
    return secrets.token_urlsafe(nbytes)
