"""IVR templates a tenant picks and fills in (R2.3: "an IVR built by choosing a template")."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from koe.core.errors import ValidationFailed


def _queue(queue_id: str) -> dict[str, Any]:
    return {"action": "queue", "queue": queue_id}


def simple_reception(queues: Sequence[str], company: str) -> dict[str, Any]:
    """One greeting, every caller to the first queue."""
    return {
        "prompt": {
            "ja": f"お電話ありがとうございます。{company}です。担当者におつなぎします。",
            "en": f"Thank you for calling {company}. Connecting you to an agent.",
        },
        "choices": {"0": _queue(queues[0])},
        "timeout_seconds": 1,
        "retries": 0,
        "default": _queue(queues[0]),
    }


def hours_menu(queues: Sequence[str], company: str) -> dict[str, Any]:
    """Greeting and a menu: one digit per queue; no input goes to the first queue."""
    keys = "123456789"
    choices = {keys[i]: _queue(q) for i, q in enumerate(queues[:9])}
    ja = "、".join(f"{i + 1}番" for i in range(len(choices)))
    return {
        "prompt": {
            "ja": f"{company}です。ご用件の番号を押してください({ja})。",
            "en": f"This is {company}. Please press the number for your enquiry "
            f"(1 to {len(choices)}).",
        },
        "choices": choices | {"9": {"action": "repeat"}} if len(choices) < 9 else choices,
        "timeout_seconds": 5,
        "retries": 2,
        "default": _queue(queues[0]),
    }


def support_callback(queues: Sequence[str], company: str) -> dict[str, Any]:
    """Support line: 1 to wait, 2 to request a callback."""
    return {
        "prompt": {
            "ja": f"{company}サポートです。そのままお待ちの方は1を、"
            "折り返しをご希望の方は2を押してください。",
            "en": f"{company} support. Press 1 to hold for an agent, or 2 to request a callback.",
        },
        "choices": {"1": _queue(queues[0]), "2": {"action": "callback", "queue": queues[0]}},
        "timeout_seconds": 5,
        "retries": 2,
        "default": _queue(queues[0]),
    }


def after_hours_voicemail(queues: Sequence[str], company: str) -> dict[str, Any]:
    """After hours: leave a message."""
    return {
        "prompt": {
            "ja": f"{company}です。ただいま営業時間外です。発信音の後にメッセージをどうぞ。",
            "en": f"You have reached {company} outside business hours. "
            "Please leave a message after the tone.",
        },
        "choices": {"1": {"action": "voicemail"}},
        "timeout_seconds": 2,
        "retries": 0,
        "default": {"action": "voicemail"},
    }


def multilingual(queues: Sequence[str], company: str) -> dict[str, Any]:
    """Language choice: 1 for Japanese, 2 for English (second queue if there is one)."""
    english = queues[1] if len(queues) > 1 else queues[0]
    return {
        "prompt": {
            "ja": f"{company}です。日本語は1を、For English, press 2.",
            "en": f"Thank you for calling {company}. 日本語は1を、For English, press 2.",
        },
        "choices": {
            "1": _queue(queues[0]) | {"language": "ja"},
            "2": _queue(english) | {"language": "en"},
        },
        "timeout_seconds": 5,
        "retries": 1,
        "default": _queue(queues[0]) | {"language": "ja"},
    }


TEMPLATES: dict[str, Callable[[Sequence[str], str], dict[str, Any]]] = {
    "simple_reception": simple_reception,
    "hours_menu": hours_menu,
    "support_callback": support_callback,
    "after_hours_voicemail": after_hours_voicemail,
    "multilingual": multilingual,
}


def build_ivr(template: str, queues: Sequence[str], company: str) -> dict[str, Any]:
    """The IVR document of ``template`` filled in with ``queues`` and the company name."""
    if template not in TEMPLATES:
        raise ValidationFailed(
            "unknown_ivr_template",
            f"IVRテンプレート {template!r} はありません。候補: {', '.join(TEMPLATES)}",
            f"No IVR template {template!r}. Choose one of: {', '.join(TEMPLATES)}",
        )
    if not queues and template != "after_hours_voicemail":
        raise ValidationFailed(
            "ivr_template_needs_queue",
            "このテンプレートにはキューが1つ以上必要です。",
            "This template needs at least one queue.",
        )
    return TEMPLATES[template](queues or [""], company)
