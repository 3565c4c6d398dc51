"""A queue's ACD settings from the store: the Queue row's columns plus its ``routing`` options.

``routing`` (JSON, edited with ``PUT /api/v1/queues/{id}/routing``) holds what the columns do
not::

    {"ring_timeout_seconds": 20,
     "escalation": [{"after_seconds": 60, "lower_levels_by": 2},
                    {"after_seconds": 120, "drop_skills": ["<skill id>"],
                     "also_accept": [{"<skill id>": 3}], "raise_priority_by": 1}],
     "overflow": {"kind": "voicemail" | "callback" | "hangup" | "transfer" | "queue",
                  "ref": "<number or queue id>"},
     "overflow_ewt_seconds": 900,
     "announce_first_seconds": 30, "announce_every_seconds": 60,
     "announce_position": true, "announce_ewt": true,
     "callback_offer_ewt_seconds": 300, "callback_offer_after_seconds": 120,
     "max_wrap_up_extension_seconds": 600, "default_handle_seconds": 180}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from koe.core.errors import FieldError, ValidationFailed
from koe.routing.model import EscalationStep, Need, OverflowTarget, QueueConfig, TargetKind

_SECONDS = (
    "ring_timeout_seconds",
    "overflow_ewt_seconds",
    "announce_first_seconds",
    "announce_every_seconds",
    "callback_offer_ewt_seconds",
    "callback_offer_after_seconds",
    "max_wrap_up_extension_seconds",
    "default_handle_seconds",
)
_FLAGS = ("announce_position", "announce_ewt")
_STEP_KEYS = {"after_seconds", "lower_levels_by", "drop_skills", "also_accept", "raise_priority_by"}
ROUTING_KEYS = frozenset({*_SECONDS, *_FLAGS, "escalation", "overflow"})


def _bad(field: str, ja: str, en: str) -> ValidationFailed:
    return ValidationFailed(
        "invalid_queue_routing",
        f"キューのルーティング設定が正しくありません: {ja}",
        f"The queue's routing options are invalid: {en}",
        [FieldError(f"routing.{field}", "invalid_queue_routing", ja, en)],
    )


def _number(field: str, value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _bad(field, f"{field} は秒数(数値)です。", f"{field} must be a number of seconds.")
    return float(value)


def _int(field: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _bad(
            field,
            f"{field} は{low}〜{high}の整数です。",
            f"{field} must be a whole number {low}..{high}.",
        )
    return value


def _levels(field: str, value: Any) -> dict[str, int]:
    if not isinstance(value, Mapping):
        raise _bad(field, "スキルIDとレベルの対応が必要です。", "expected {skill id: level}.")
    return {str(k): _int(f"{field}.{k}", v, 1, 10) for k, v in value.items()}


def _step(index: int, raw: Any) -> EscalationStep:
    field = f"escalation.{index}"
    if not isinstance(raw, Mapping) or not set(raw) <= _STEP_KEYS or "after_seconds" not in raw:
        raise _bad(
            field,
            "エスカレーション手順には after_seconds が必要です"
            f"(ほかに {sorted(_STEP_KEYS - {'after_seconds'})})。",
            f"an escalation step has after_seconds and any of "
            f"{sorted(_STEP_KEYS - {'after_seconds'})}.",
        )
    after = _number(f"{field}.after_seconds", raw["after_seconds"])
    drop = raw.get("drop_skills", [])
    if not isinstance(drop, list) or not all(isinstance(s, str) for s in drop):
        raise _bad(f"{field}.drop_skills", "スキルIDの一覧です。", "a list of skill ids.")
    accept = raw.get("also_accept", [])
    if not isinstance(accept, list):
        raise _bad(f"{field}.also_accept", "条件の一覧です。", "a list of {skill id: level}.")
    alternatives = tuple(
        Need.all_of(_levels(f"{field}.also_accept.{i}", a)).alternatives[0]
        for i, a in enumerate(accept)
    )
    return EscalationStep(
        after_seconds=after if after is not None else 0.0,
        lower_levels_by=_int(f"{field}.lower_levels_by", raw.get("lower_levels_by", 0), 0, 9),
        drop_skills=tuple(drop),
        also_accept=alternatives,
        raise_priority_by=_int(
            f"{field}.raise_priority_by", raw.get("raise_priority_by", 0), 0, 100
        ),
    )


def _overflow(raw: Any) -> OverflowTarget:
    if not isinstance(raw, Mapping) or raw.get("kind") not in {k.value for k in TargetKind}:
        raise _bad(
            "overflow",
            f"kind は {', '.join(k.value for k in TargetKind)} のいずれかです。",
            f"kind must be one of {', '.join(k.value for k in TargetKind)}.",
        )
    ref = raw.get("ref")
    try:
        return OverflowTarget(TargetKind(raw["kind"]), str(ref) if ref else None)
    except ValidationFailed as err:
        raise _bad("overflow", err.message_ja, err.message_en) from err


def queue_config(row: Mapping[str, Any], *, ring_timeout_seconds: float = 20.0) -> QueueConfig:
    """The routing engine's settings for a queue row (``routing`` options validated)."""
    routing = row.get("routing") or {}
    if not isinstance(routing, Mapping):
        raise _bad("", "オブジェクトが必要です。", "an object is required.")
    unknown = set(routing) - ROUTING_KEYS
    if unknown:
        raise _bad(
            sorted(unknown)[0],
            f"不明な項目です(使える項目: {sorted(ROUTING_KEYS)})。",
            f"unknown option (known: {sorted(ROUTING_KEYS)}).",
        )
    options: dict[str, Any] = {
        key: _number(key, routing[key]) for key in _SECONDS if key in routing
    }
    for key in _FLAGS:
        if key in routing:
            if not isinstance(routing[key], bool):
                raise _bad(key, "true か false です。", "must be true or false.")
            options[key] = routing[key]
    options.setdefault("ring_timeout_seconds", float(ring_timeout_seconds))
    if "escalation" in routing:
        if not isinstance(routing["escalation"], list):
            raise _bad("escalation", "手順の一覧です。", "a list of steps.")
        options["escalation"] = tuple(_step(i, s) for i, s in enumerate(routing["escalation"]))
    if "overflow" in routing:
        options["overflow_target"] = _overflow(routing["overflow"])
    try:
        return QueueConfig(
            queue_id=str(row["id"]),
            need=Need.from_rows(row.get("skills") or []),
            priority=int(row.get("priority", 5)),
            wrap_up_seconds=float(row.get("wrap_up_seconds", 30)),
            max_wait_seconds=float(row.get("max_wait_seconds", 600)),
            max_length=int(row.get("max_length", 50)),
            service_level_seconds=float(row.get("service_level_seconds", 20)),
            **options,
        )
    except ValidationFailed as err:
        raise _bad(
            err.fields[0].field if err.fields else "", err.message_ja, err.message_en
        ) from err
