"""What a tenant may do right now: the pure rules live in ``koe.licensing.restrictions``.

They moved below ``koe.identity`` so that logins can be refused with the reason (R3.6); this
module keeps the old import path working.
"""

from __future__ import annotations

from koe.licensing.restrictions import (
    ActiveRestriction,
    Allowance,
    RestrictionRow,
    SubscriptionRow,
    agent_login_refusal,
    allowance,
)

__all__ = [
    "ActiveRestriction",
    "Allowance",
    "RestrictionRow",
    "SubscriptionRow",
    "agent_login_refusal",
    "allowance",
]
