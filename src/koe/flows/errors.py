"""Errors of the flow engine and the ACD service, with stable codes and ja/en messages."""

from __future__ import annotations

from koe.core.errors import Conflict, NotFound


def no_agent_profile() -> NotFound:
    """The caller's user has no agent profile (extension and skills) in this tenant."""
    return NotFound(
        "agent_profile_missing",
        "このユーザーにはエージェント設定(内線とスキル)がありません。管理者に登録を依頼してください。",
        "This user has no agent profile (extension and skills). Ask an administrator to add one.",
    )


def version_not_found(flow_id: str, version: int) -> NotFound:
    """The flow has no such saved version (or belongs to another tenant)."""
    return NotFound(
        "flow_version_not_found",
        f"着信フローのバージョン {version} が見つかりません。",
        f"Call flow version {version} not found.",
        details={"flow_id": flow_id, "version": version},
    )


def rollback_to_current(version: int) -> Conflict:
    """Rolling back to the version in force changes nothing."""
    return Conflict(
        "flow_version_current",
        f"バージョン {version} はすでに現在のバージョンです。",
        f"Version {version} is already the current version.",
        details={"version": version},
    )
