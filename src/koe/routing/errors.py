"""Errors the ACD raises, each with a stable code and a Japanese and English message."""

from __future__ import annotations

from koe.core.errors import Conflict, FieldError, LicenseExceeded, NotFound, ValidationFailed


def illegal_transition(agent_id: str, state: str, event: str) -> Conflict:
    """``event`` is not allowed for an agent in ``state``."""
    return Conflict(
        "agent_illegal_transition",
        f"エージェントの状態が「{state}」のため、この操作({event})はできません。",
        f"An agent who is {state} cannot do this ({event}).",
        details={"agent_id": agent_id, "state": state, "event": event},
    )


def agent_not_logged_in(agent_id: str) -> NotFound:
    """The agent is not logged in to the ACD (or belongs to another tenant)."""
    return NotFound(
        "agent_not_logged_in",
        "エージェントはログインしていません。",
        "The agent is not logged in.",
        details={"agent_id": agent_id},
    )


def seats_exceeded(allowed: int, in_use: int) -> LicenseExceeded:
    """R2.2: every seat license is held by a logged-in agent."""
    if allowed <= 0:
        return LicenseExceeded(
            "license_seats_exceeded",
            "シートライセンスがないため、エージェントとしてログインできません。"
            "管理者にシートライセンスの追加を依頼してください。",
            "This tenant holds no seat license, so no agent can log in. "
            "Ask an administrator to add seat licenses.",
            details={"allowed": allowed, "in_use": in_use},
        )
    return LicenseExceeded(
        "license_seats_exceeded",
        f"シートライセンス({allowed})はすべて使用中です。同時にログインできるエージェントは"
        f"{allowed}名までです。ほかのエージェントのログアウトを待つか、"
        "管理者にシートライセンスの追加を依頼してください。",
        f"All {allowed} seat licenses are in use: at most {allowed} agents may be logged in "
        "at once. Wait for another agent to log out, or ask an administrator to add seat "
        "licenses.",
        details={"allowed": allowed, "in_use": in_use},
    )


def call_not_found(call_id: str) -> NotFound:
    """The call is not in the ACD (or belongs to another tenant)."""
    return NotFound(
        "call_not_found",
        "通話がキューにありません。",
        "The call is not in a queue.",
        details={"call_id": call_id},
    )


def call_in_wrong_state(call_id: str, state: str, event: str) -> Conflict:
    """``event`` does not apply to a call in ``state``."""
    return Conflict(
        "call_illegal_transition",
        f"通話の状態が「{state}」のため、この操作({event})はできません。",
        f"A call that is {state} cannot do this ({event}).",
        details={"call_id": call_id, "state": state, "event": event},
    )


def call_already_queued(call_id: str) -> Conflict:
    """The call id is already in the ACD."""
    return Conflict(
        "call_already_queued",
        "この通話はすでにキューに入っています。",
        "This call is already in a queue.",
        details={"call_id": call_id},
    )


def queue_not_found(queue_id: str) -> NotFound:
    """No such queue is configured (or it belongs to another tenant)."""
    return NotFound(
        "queue_not_found",
        "キューが見つかりません。",
        "Queue not found.",
        details={"queue_id": queue_id},
    )


def queue_has_calls(queue_id: str, calls: int) -> Conflict:
    """A queue with callers in it cannot be removed."""
    return Conflict(
        "queue_has_calls",
        f"キューに通話が{calls}件あるため削除できません。",
        f"The queue still holds {calls} calls, so it cannot be removed.",
        details={"queue_id": queue_id, "calls": calls},
    )


def wrap_up_limit(agent_id: str, limit: float) -> Conflict:
    """The agent asked for more after-call work than the queue allows."""
    return Conflict(
        "wrap_up_extension_exceeded",
        f"後処理の延長は合計{limit:g}秒までです。",
        f"After-call work may be extended by at most {limit:g} seconds in all.",
        details={"agent_id": agent_id, "limit_seconds": limit},
    )


def invalid(field: str, message_ja: str, message_en: str) -> ValidationFailed:
    """A routing setting (queue, skills, reason code) that does not validate."""
    return ValidationFailed(
        "routing_invalid",
        f"ルーティング設定が正しくありません: {message_ja}",
        f"Invalid routing setting: {message_en}",
        fields=[FieldError(field, "invalid", message_ja, message_en)],
    )
