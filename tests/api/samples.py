"""A valid object of every resource, made through the API (or the operator, for holdings)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from koe.core.domain import AddOn, LicenseKind
from tests.api.conftest import BASE, PASSWORD, Tenant, World

HANGUP_FLOW = {"start": "end", "nodes": {"end": {"type": "hangup"}}}
HANGUP_IVR = {
    "prompt": {"ja": "お電話ありがとうございます。", "en": "Thank you for calling."},
    "choices": {"1": {"action": "hangup"}},
    "default": {"action": "hangup"},
}

# resource -> (body to create, body to change); None for the read-only holdings.
SAMPLES: dict[str, tuple[dict[str, Any], dict[str, Any]] | None] = {
    "users": (
        {"login": "sv1", "name": "監督 一郎", "password": PASSWORD, "role": "supervisor"},
        {"name": "監督 二郎"},
    ),
    "agents": (
        {"login": "ag1", "password": PASSWORD, "display_name": "受付 一", "extension": "201"},
        {"display_name": "受付 二"},
    ),
    "skills": ({"name": "請求"}, {"description": "請求書の問い合わせ"}),
    "queues": ({"name": "代表"}, {"priority": 3}),
    "numbers": ({"number": "03-1234-5678", "label": "代表"}, {"label": "本社"}),
    "flows": ({"name": "平日", "document": HANGUP_FLOW}, {"description": "夜間"}),
    "ivrs": (
        {"name": "メニュー", "template": "simple_reception", "document": HANGUP_IVR},
        {"name": "メニュー2"},
    ),
    "hours": (
        {"name": "本社", "weekly": {"mon": [["09:00", "18:00"]]}},
        {"closed_on_public_holidays": False},
    ),
    "contacts": ({"kind": "technical", "name": "技術 担当"}, {"department": "情報システム部"}),
    "licenses": None,
    "addons": None,
}


async def make(world: World, tenant: Tenant, resource: str) -> dict[str, Any]:
    """Create a sample ``resource`` object in ``tenant``; its JSON view."""
    sample = SAMPLES[resource]
    if sample is not None:
        response = await tenant.admin.post(f"{BASE}/{resource}", json=sample[0])
        assert response.status_code == 201, response.text
        return dict(response.json())
    makers: dict[str, Callable[[], Awaitable[dict[str, Any]]]] = {
        "licenses": lambda: world.koe.tenants.add_license(
            tenant.id, LicenseKind.ADDITIONAL_USER, 2
        ),
        "addons": lambda: world.koe.tenants.subscribe_addon(tenant.id, AddOn.TRANSCRIPTION),
    }
    return await makers[resource]()
