"""Live counters of concurrent use (lines, seats) per tenant, for the call and agent paths.

The counters are in memory, owned by the node that owns the tenant (see the map, §4),
and rebuilt from live calls / logged-in agents at start. ``try_acquire`` never blocks.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field


@dataclass
class ConcurrencyCounter:
    """Concurrent holders of one license kind, per tenant, each holder named by a key."""

    name: str
    _held: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))

    def in_use(self, tenant_id: str) -> int:
        """How many are held now."""
        return len(self._held.get(tenant_id, ()))

    def try_acquire(self, tenant_id: str, key: str, limit: int) -> bool:
        """Take one unit for ``key`` if fewer than ``limit`` are held; idempotent per key."""
        holders = self._held[tenant_id]
        if key in holders:
            return True
        if len(holders) >= limit:
            return False
        holders.add(key)
        return True

    def release(self, tenant_id: str, key: str) -> None:
        """Give back ``key``'s unit (no error if it held none)."""
        holders = self._held.get(tenant_id)
        if holders is not None:
            holders.discard(key)

    def rebuild(self, tenant_id: str, keys: set[str]) -> None:
        """Replace the holders with ``keys`` (after a restart)."""
        self._held[tenant_id] = set(keys)
