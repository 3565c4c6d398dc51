"""What routing works with: skill needs, queue settings, escalation steps, overflow targets.

A :class:`Need` says which agents may take a call: one or more alternatives, each a set of
skills with a minimum level (1–10). An agent is eligible when, for at least one alternative,
they hold every skill of it at or above its level. An alternative with no skills accepts
any agent. Queue priority and caller priority: a higher number goes first.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from koe.routing.errors import invalid

MIN_LEVEL = 1
MAX_LEVEL = 10

Alternative = tuple[tuple[str, int], ...]
"""One way to be eligible: ``(skill_id, min_level)`` pairs, sorted by skill id."""


def _check_level(skill: str, level: int) -> None:
    if not isinstance(skill, str) or not skill:
        raise invalid("skills", "スキルIDが空です。", "a skill id is empty.")
    if isinstance(level, bool) or not isinstance(level, int) or not MIN_LEVEL <= level <= MAX_LEVEL:
        raise invalid(
            "skills",
            f"スキル {skill} のレベル {level!r} は1〜10の整数ではありません。",
            f"level {level!r} of skill {skill} is not a whole number from 1 to 10.",
        )


def _alternative(skills: Mapping[str, int]) -> Alternative:
    for skill, level in skills.items():
        _check_level(skill, level)
    return tuple(sorted(skills.items()))


class Need:
    """Which agents may take a call: any one of ``alternatives`` (empty tuple: nobody).

    Immutable and hashable (the hash is kept: needs key the engine's call groups).
    """

    __slots__ = ("_hash", "alternatives", "text")

    alternatives: tuple[Alternative, ...]
    text: str
    _hash: int

    def __init__(self, alternatives: tuple[Alternative, ...]) -> None:
        object.__setattr__(self, "alternatives", alternatives)
        object.__setattr__(self, "_hash", hash(alternatives))
        object.__setattr__(self, "text", _describe(alternatives))

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Need is immutable")

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Need):
            return NotImplemented
        return self._hash == other._hash and self.alternatives == other.alternatives

    def __repr__(self) -> str:
        return f"Need({self.alternatives!r})"

    @classmethod
    def all_of(cls, skills: Mapping[str, int] | None = None) -> Need:
        """Agents holding every one of ``skills`` at or above the level given."""
        return cls((_alternative(skills or {}),))

    @classmethod
    def any_agent(cls) -> Need:
        """Every agent is eligible."""
        return cls(((),))

    @classmethod
    def any_of(cls, *alternatives: Mapping[str, int]) -> Need:
        """Agents matching at least one of ``alternatives``."""
        if not alternatives:
            raise invalid("skills", "条件が一つもありません。", "no alternative given.")
        return cls(tuple(dict.fromkeys(_alternative(a) for a in alternatives)))

    @classmethod
    def from_rows(cls, rows: Iterable[Mapping[str, Any]]) -> Need:
        """From the store's queue ``skills`` column: ``[{skill_id, min_level}]``, all required."""
        skills: dict[str, int] = {}
        for row in rows:
            skill, level = row.get("skill_id"), row.get("min_level", MIN_LEVEL)
            _check_level(skill, level)  # type: ignore[arg-type]
            assert isinstance(skill, str)
            skills[skill] = max(level, skills.get(skill, MIN_LEVEL))
        return cls.all_of(skills)

    def satisfied_by(self, skills: Mapping[str, int]) -> bool:
        """True if an agent with ``skills`` (skill id → level) is eligible."""
        return any(fits(skills, alt) for alt in self.alternatives)

    def combined(self, extra: Mapping[str, int]) -> Need:
        """Every alternative also requires ``extra`` (the higher level wins)."""
        if not extra:
            return self
        out = []
        for alt in self.alternatives:
            merged = dict(alt)
            for skill, level in extra.items():
                _check_level(skill, level)
                merged[skill] = max(level, merged.get(skill, 0))
            out.append(tuple(sorted(merged.items())))
        return Need(tuple(dict.fromkeys(out)))

    def lowered(self, by: int) -> Need:
        """Every minimum level lowered by ``by`` (never below 1)."""
        if by <= 0:
            return self
        return Need(
            tuple(
                dict.fromkeys(
                    tuple((s, max(MIN_LEVEL, lv - by)) for s, lv in alt)
                    for alt in self.alternatives
                )
            )
        )

    def without(self, skills: Iterable[str]) -> Need:
        """The same need with ``skills`` no longer required."""
        drop = set(skills)
        if not drop:
            return self
        return Need(
            tuple(
                dict.fromkeys(
                    tuple((s, lv) for s, lv in alt if s not in drop) for alt in self.alternatives
                )
            )
        )

    def widened(self, alternatives: Iterable[Alternative]) -> Need:
        """The same need, or any of ``alternatives``."""
        return Need(tuple(dict.fromkeys((*self.alternatives, *alternatives))))

    def skills(self) -> set[str]:
        """Every skill any alternative mentions."""
        return {s for alt in self.alternatives for s, _ in alt}

    def __str__(self) -> str:
        return self.text


def fits(skills: Mapping[str, int], alt: Alternative) -> bool:
    """True if ``skills`` meet every (skill, minimum level) of one alternative."""
    get = skills.get
    return all(get(skill, 0) >= level for skill, level in alt)


def _describe(alternatives: tuple[Alternative, ...]) -> str:
    if not alternatives:
        return "nobody"
    parts = [
        " and ".join(f"{s}>={lv}" for s, lv in alt) if alt else "any agent" for alt in alternatives
    ]
    return " or ".join(f"({p})" if len(alternatives) > 1 else p for p in parts)


class TargetKind(StrEnum):
    """Where an overflowing caller goes."""

    QUEUE = "queue"
    VOICEMAIL = "voicemail"
    CALLBACK = "callback"
    TRANSFER = "transfer"
    HANGUP = "hangup"


@dataclass(frozen=True, slots=True)
class OverflowTarget:
    """An overflow destination; ``ref`` names the queue, mailbox or number where one is needed."""

    kind: TargetKind
    ref: str | None = None

    def __post_init__(self) -> None:
        if self.kind in (TargetKind.QUEUE, TargetKind.TRANSFER) and not self.ref:
            raise invalid(
                "overflow",
                f"あふれ先「{self.kind}」には宛先(ref)が必要です。",
                f"overflow target {self.kind} needs a ref.",
            )

    def __str__(self) -> str:
        return f"{self.kind}:{self.ref}" if self.ref else str(self.kind)


@dataclass(frozen=True, slots=True)
class EscalationStep:
    """After ``after_seconds`` in the queue, relax what the call needs, in this order.

    ``replace`` sets a new need outright; ``lower_levels_by`` lowers every minimum level;
    ``drop_skills`` stops requiring some skills; ``also_accept`` adds alternatives (widen);
    ``raise_priority_by`` moves the caller ahead of later, lower-priority callers.
    """

    after_seconds: float
    replace: Need | None = None
    lower_levels_by: int = 0
    drop_skills: tuple[str, ...] = ()
    also_accept: tuple[Alternative, ...] = ()
    raise_priority_by: int = 0

    def apply(self, need: Need) -> Need:
        """The need after this step."""
        out = self.replace if self.replace is not None else need
        return out.lowered(self.lower_levels_by).without(self.drop_skills).widened(self.also_accept)


def _finite(name: str, value: float | None, *, positive: bool = False) -> None:
    if value is None:
        return
    if not math.isfinite(value) or value < 0 or (positive and value == 0):
        raise invalid(
            name,
            f"{name} は{'正' if positive else '0以上'}の秒数にしてください。",
            f"{name} must be a {'positive' if positive else 'non-negative'} number of seconds.",
        )


@dataclass(frozen=True, slots=True)
class QueueConfig:
    """A queue's routing settings (the store's Queue row plus routing options).

    Defaults follow the store: priority 5, wrap-up 30 s, overflow after 600 s, at most 50
    callers, service level 20 s. With no overflow target, callers overflow to voicemail.
    """

    queue_id: str
    need: Need = field(default_factory=Need.any_agent)
    priority: int = 5
    wrap_up_seconds: float = 30.0
    max_wrap_up_extension_seconds: float | None = 600.0
    max_wait_seconds: float | None = 600.0
    max_length: int | None = 50
    service_level_seconds: float = 20.0
    ring_timeout_seconds: float = 20.0
    escalation: tuple[EscalationStep, ...] = ()
    overflow_target: OverflowTarget = field(
        default_factory=lambda: OverflowTarget(TargetKind.VOICEMAIL)
    )
    overflow_ewt_seconds: float | None = None
    announce_first_seconds: float | None = 30.0
    announce_every_seconds: float | None = 60.0
    announce_position: bool = True
    announce_ewt: bool = True
    callback_offer_ewt_seconds: float | None = None
    callback_offer_after_seconds: float | None = None
    default_handle_seconds: float = 180.0

    def __post_init__(self) -> None:
        if not isinstance(self.queue_id, str) or not self.queue_id:
            raise invalid("queue_id", "キューIDが空です。", "the queue id is empty.")
        _finite("wrap_up_seconds", self.wrap_up_seconds)
        _finite("max_wrap_up_extension_seconds", self.max_wrap_up_extension_seconds)
        _finite("max_wait_seconds", self.max_wait_seconds, positive=True)
        _finite("service_level_seconds", self.service_level_seconds)
        _finite("ring_timeout_seconds", self.ring_timeout_seconds, positive=True)
        _finite("overflow_ewt_seconds", self.overflow_ewt_seconds)
        _finite("announce_first_seconds", self.announce_first_seconds)
        _finite("announce_every_seconds", self.announce_every_seconds, positive=True)
        _finite("callback_offer_ewt_seconds", self.callback_offer_ewt_seconds)
        _finite("callback_offer_after_seconds", self.callback_offer_after_seconds)
        _finite("default_handle_seconds", self.default_handle_seconds, positive=True)
        if self.max_length is not None and self.max_length < 1:
            raise invalid(
                "max_length", "最大待ち呼数は1以上にしてください。", "max_length must be >= 1."
            )
        previous = 0.0
        for step in self.escalation:
            _finite("escalation.after_seconds", step.after_seconds, positive=True)
            if step.after_seconds <= previous:
                raise invalid(
                    "escalation",
                    "エスカレーションの秒数は昇順にしてください。",
                    "escalation steps must come in increasing after_seconds.",
                )
            previous = step.after_seconds
        if (
            self.overflow_target.kind is TargetKind.QUEUE
            and self.overflow_target.ref == self.queue_id
        ):
            raise invalid(
                "overflow",
                "あふれ先に同じキューは指定できません。",
                "a queue cannot overflow to itself.",
            )

    def need_at_step(self, base: Need, step: int) -> tuple[Need, int]:
        """The need and the priority boost after the first ``step`` escalation steps."""
        need, boost = base, 0
        for s in self.escalation[:step]:
            need = s.apply(need)
            boost += s.raise_priority_by
        return need, boost


def skills_from_rows(rows: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """An agent's skills from ``[{skill_id, level}]`` rows (the store's AgentSkill)."""
    out: dict[str, int] = {}
    for row in rows:
        skill, level = row.get("skill_id"), row.get("level")
        _check_level(skill, level)  # type: ignore[arg-type]
        out[skill] = level  # type: ignore[index,assignment]
    return out


def check_skills(skills: Mapping[str, int]) -> dict[str, int]:
    """A validated copy of an agent's (or a call's) skills: skill id → level 1–10."""
    for skill, level in skills.items():
        _check_level(skill, level)
    return dict(skills)


def check_reason(reason: str) -> str:
    """A break or pause reason code: 1–64 characters, no surrounding spaces."""
    if not isinstance(reason, str) or not reason.strip() or len(reason) > 64:
        raise invalid(
            "reason",
            "理由コードは1〜64文字にしてください。",
            "a reason code must be 1 to 64 characters.",
        )
    return reason.strip()
