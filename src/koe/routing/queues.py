"""A queue's live state: its settings, callers in order, agents by state, statistics."""

from __future__ import annotations

from koe.routing.agents import STAFFED, STATE_INDEX, AgentState
from koe.routing.calls import CallRecord, Rank
from koe.routing.index import CallGroup
from koe.routing.metrics import QueueStats
from koe.routing.model import Need, QueueConfig

_STAFFED_ORDER = (AgentState.AVAILABLE, AgentState.RESERVED, AgentState.ON_CALL, AgentState.WRAP_UP)
_A, _R, _O, _W = (STATE_INDEX[s] for s in _STAFFED_ORDER)
assert set(_STAFFED_ORDER) == STAFFED


class QueueState:
    """One queue of one tenant as the engine holds it."""

    __slots__ = ("calls", "config", "counts", "groups", "keys", "queue_id", "stats", "steps")

    def __init__(self, config: QueueConfig, samples: int) -> None:
        self.queue_id = config.queue_id
        self.config = config
        self.calls: dict[str, CallRecord] = {}
        """Callers in the queue (waiting, ringing or kept callbacks), in order of entry."""
        self.keys: list[Rank] = []
        """Ranks of the waiting callers, sorted: the position of a caller is a bisection."""
        self.counts = [0] * len(AgentState)
        """Agents meeting the queue's base need, by state."""
        self.groups: dict[Need, CallGroup] = {}
        self.stats = QueueStats(config.service_level_seconds, samples)
        self.steps: dict[tuple[Need, int], tuple[Need, int]] = {}
        """Cache of (base need, escalation step) -> (need, priority boost); cleared on change."""

    def need_at(self, base: Need, step: int) -> tuple[Need, int]:
        """What a call with ``base`` needs after ``step`` escalation steps, and its boost."""
        key = (base, step)
        found = self.steps.get(key)
        if found is None:
            if len(self.steps) > 1024:
                self.steps.clear()
            found = self.steps[key] = self.config.need_at_step(base, step)
        return found

    def staffed(self) -> int:
        """Agents of this queue who work the queues now (available, ringing, busy)."""
        c = self.counts
        return c[_A] + c[_R] + c[_O] + c[_W]

    def ewt(self, position: int) -> float | None:
        """Estimated wait at ``position``: position × recent AHT ÷ staffed agents.

        None when no agent of the queue is staffed (the wait has no bound).
        """
        staffed = self.staffed()
        if staffed == 0:
            return None
        return position * self.stats.aht(self.config.default_handle_seconds) / staffed
