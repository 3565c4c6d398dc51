"""Tenant settings: user-facing options a tenant admin edits (stored in ``tenants.settings``).

Server settings (ports, database, TLS) are not here; they live in ``koe.core.settings``.
"""

from __future__ import annotations

from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from koe.core.errors import FieldError, ValidationFailed


class TenantSettings(BaseModel):
    """Every tenant option with its default."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    language: Literal["ja", "en"] = "ja"
    timezone: str = Field(default="Asia/Tokyo", max_length=64)
    record_calls: bool = False
    recording_notice: bool = True  # play the notice before recorded calls (APPI purpose notice)
    wrap_up_seconds: int = Field(default=30, ge=0, le=3600)
    ring_timeout_seconds: int = Field(default=20, ge=5, le=120)
    international_calls: bool = False  # blocked by default against toll fraud
    transcription_over_plan: Literal["hold", "buy_unit"] = "hold"  # R2.1 (cfg)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as err:
            raise ValueError(f"unknown time zone {value!r}") from err
        return value


def resolve(stored: dict[str, Any]) -> TenantSettings:
    """The effective settings: stored values over defaults (unknown stored keys are dropped)."""
    known = {k: v for k, v in stored.items() if k in TenantSettings.model_fields}
    return TenantSettings.model_validate(known)


def apply(stored: dict[str, Any], changes: dict[str, Any]) -> TenantSettings:
    """Validate ``changes`` on top of the stored settings; a precise error names each field."""
    try:
        return TenantSettings.model_validate({**resolve(stored).model_dump(), **changes})
    except ValidationError as err:
        fields = [
            FieldError(
                ".".join(str(p) for p in e["loc"]) or "settings",
                "invalid_setting",
                f"設定値が正しくありません: {e['msg']}",
                f"Invalid setting: {e['msg']}",
            )
            for e in err.errors()
        ]
        raise ValidationFailed(
            "invalid_settings", "設定が正しくありません。", "The settings are invalid.", fields
        ) from err
