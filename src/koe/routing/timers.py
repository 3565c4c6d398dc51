"""The engine's timers: FIFO lanes for fixed delays, a heap for everything else.

Most ACD timers are a fixed delay after "now" (ring timeout, wrap-up, escalation steps,
overflow, announcements), so within one delay they come due in the order they were set:
a deque per delay gives O(1) set and pop with good locality, where one big heap of
100,000 entries costs a cache-missing O(log n) per pop. Timers that do not fit a lane in
order go to the heap. Entries are never removed early: each carries a token its owner
checks when it fires.
"""

from __future__ import annotations

import heapq
import itertools
from collections import deque

Entry = tuple[float, int, int, str, str, int]
"""(deadline, sequence, kind, tenant id, owner id, token).

Only ids, no objects: the collector stops tracking such tuples, which keeps its passes short
with 100,000 timers pending. The owner is looked up when the timer fires."""

MAX_LANES = 32


class Timers:
    """Timers in deadline order (ties in the order they were set)."""

    __slots__ = ("_heap", "_lanes", "_seq")

    def __init__(self) -> None:
        self._heap: list[Entry] = []
        self._lanes: dict[float, deque[Entry]] = {}
        self._seq = itertools.count()

    def __len__(self) -> int:
        return len(self._heap) + sum(map(len, self._lanes.values()))

    def after(
        self, now: float, delay: float, kind: int, tenant_id: str, owner: str, token: int
    ) -> None:
        """Fire ``delay`` seconds after ``now``."""
        entry = (now + delay, next(self._seq), kind, tenant_id, owner, token)
        lane = self._lanes.get(delay)
        if lane is None:
            if len(self._lanes) >= MAX_LANES:
                heapq.heappush(self._heap, entry)
                return
            lane = self._lanes[delay] = deque()
        if lane and lane[-1][0] > entry[0]:
            heapq.heappush(self._heap, entry)  # the clock went back: keep the lane in order
        else:
            lane.append(entry)

    def at(self, deadline: float, kind: int, tenant_id: str, owner: str, token: int) -> None:
        """Fire at ``deadline``."""
        heapq.heappush(self._heap, (deadline, next(self._seq), kind, tenant_id, owner, token))

    def due(self, now: float) -> list[Entry]:
        """Remove and return every timer due by ``now``, in deadline order."""
        out: list[Entry] = []
        for lane in self._lanes.values():
            while lane and lane[0][0] <= now:
                out.append(lane.popleft())
        heap = self._heap
        while heap and heap[0][0] <= now:
            out.append(heapq.heappop(heap))
        out.sort()
        return out

    def pop(self, now: float) -> Entry | None:
        """The earliest timer if it is due by ``now`` (removed), else None."""
        heap = self._heap
        best = heap[0] if heap else None
        source: deque[Entry] | None = None
        for lane in self._lanes.values():
            if lane and (best is None or lane[0] < best):
                best = lane[0]
                source = lane
        if best is None or best[0] > now:
            return None
        if source is None:
            return heapq.heappop(heap)
        return source.popleft()

    def next_deadline(self) -> float | None:
        """The earliest deadline, None when nothing is set."""
        heads = [lane[0][0] for lane in self._lanes.values() if lane]
        if self._heap:
            heads.append(self._heap[0][0])
        return min(heads) if heads else None
