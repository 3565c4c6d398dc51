"""The indexes that keep routing decisions far from a scan of every agent or every call.

- :class:`IdleIndex`: available agents as sorted idle tickets (a ticket is handed out when an
  agent becomes available, so a lower ticket means idle for longer), one sorted list per
  (skill, level) and one for everybody. "Longest-idle agent with skill s at level ≥ l" is
  the smallest head among at most ten lists; several skills are checked by walking the
  rarest skill's agents in idle order.
- :class:`CallGroup`: waiting calls of one queue that need the same thing, in a heap by
  rank (queue priority, caller priority, arrival). An agent who becomes available only
  looks at the heads of the groups they are eligible for; that list is cached per agent
  and grows as groups appear.
"""

from __future__ import annotations

import heapq
from bisect import bisect_left, insort
from collections.abc import Iterable, Iterator
from itertools import islice
from typing import TYPE_CHECKING

from koe.routing.agents import AgentRecord
from koe.routing.model import MAX_LEVEL, Alternative, Need, fits

if TYPE_CHECKING:
    from koe.routing.calls import CallRecord

_LEVELS = MAX_LEVEL + 1


class IdleIndex:
    """Available agents, by skill and level, in idle order."""

    __slots__ = ("agents", "all", "by_skill")

    def __init__(self) -> None:
        self.all: list[int] = []
        self.by_skill: dict[str, list[list[int]]] = {}
        self.agents: dict[int, AgentRecord] = {}

    def __len__(self) -> int:
        return len(self.all)

    def __contains__(self, agent: AgentRecord) -> bool:
        return self.agents.get(agent.idle_ticket) is agent

    def add(self, agent: AgentRecord) -> None:
        """Index ``agent`` under its current idle ticket."""
        ticket = agent.idle_ticket
        self.agents[ticket] = agent
        insort(self.all, ticket)
        by_skill = self.by_skill
        for skill, level in agent.skills.items():
            levels = by_skill.get(skill)
            if levels is None:
                levels = by_skill[skill] = [[] for _ in range(_LEVELS)]
            insort(levels[level], ticket)

    def remove(self, agent: AgentRecord) -> None:
        """Take ``agent`` out of the index (it must be in it)."""
        ticket = agent.idle_ticket
        del self.agents[ticket]
        _drop(self.all, ticket)
        by_skill = self.by_skill
        for skill, level in agent.skills.items():
            _drop(by_skill[skill][level], ticket)

    def first(self, need: Need) -> AgentRecord | None:
        """The longest-idle available agent eligible for ``need``."""
        best: int | None = None
        for alt in need.alternatives:
            ticket = self._first(alt)
            if ticket is not None and (best is None or ticket < best):
                best = ticket
        return None if best is None else self.agents[best]

    def _first(self, alt: Alternative) -> int | None:
        if not alt:
            return self.all[0] if self.all else None
        if len(alt) == 1:
            skill, level = alt[0]
            levels = self.by_skill.get(skill)
            if levels is None:
                return None
            best: int | None = None
            for tickets in levels[level:]:
                if tickets and (best is None or tickets[0] < best):
                    best = tickets[0]
            return best
        return next(self._walk(alt), None)

    def _driver(self, alt: Alternative) -> tuple[list[list[int]], int]:
        """The non-empty ticket lists of the rarest requirement of ``alt``, and their size."""
        driver: list[list[int]] = []
        fewest = -1
        by_skill = self.by_skill
        for skill, level in alt:
            levels = by_skill.get(skill)
            if levels is None:
                return [], 0
            lists = [t for t in levels[level:] if t]
            count = sum(map(len, lists))
            if count == 0:
                return [], 0
            if fewest < 0 or count < fewest:
                driver, fewest = lists, count
        return driver, fewest

    def top(self, need: Need, k: int) -> list[AgentRecord]:
        """The ``k`` longest-idle available agents eligible for ``need``, longest idle first."""
        alts = need.alternatives
        if len(alts) == 1:
            tickets = self._top(alts[0], k)
        else:
            tickets = sorted({t for alt in alts for t in self._top(alt, k)})[:k]
        agents = self.agents
        return [agents[t] for t in tickets]

    def _top(self, alt: Alternative, k: int) -> list[int]:
        if not alt:
            return self.all[:k]
        driver, count = self._driver(alt)
        if count == 0:
            return []
        # Heads of the driver's lists, merged: cheap slices and one small sort.
        m = k if len(alt) == 1 else 4 * k
        if len(driver) == 1:
            cand = driver[0][:m]
        else:
            cand = []
            for tickets in driver:
                cand.extend(tickets[:m])
            cand.sort()
            del cand[m:]
        if len(alt) == 1:
            return cand
        out = list(islice(self._fitting(cand, alt), k))
        if len(out) < k and count > m:
            # Too few among the heads: walk them all (rare: the other skills are scarce).
            out = list(islice(self._walk(alt), k))
        return out

    def _fitting(self, tickets: Iterable[int], alt: Alternative) -> Iterator[int]:
        agents = self.agents
        for ticket in tickets:
            if fits(agents[ticket].skills, alt):
                yield ticket

    def _walk(self, alt: Alternative) -> Iterator[int]:
        """Tickets of agents eligible for ``alt``, in idle order."""
        if not alt:
            yield from self.all
            return
        driver, count = self._driver(alt)
        if count == 0:
            return
        tickets = driver[0] if len(driver) == 1 else heapq.merge(*driver)
        yield from tickets if len(alt) == 1 else self._fitting(tickets, alt)

    def eligible(self, need: Need) -> Iterator[AgentRecord]:
        """Every available agent eligible for ``need``, longest idle first."""
        walks = [self._walk(alt) for alt in need.alternatives]
        merged = walks[0] if len(walks) == 1 else heapq.merge(*walks)
        last = -1
        agents = self.agents
        for ticket in merged:
            if ticket != last:
                last = ticket
                yield agents[ticket]

    def count(self, need: Need) -> int | None:
        """How many available agents fit ``need`` when that is cheap to say (one skill)."""
        if len(need.alternatives) != 1:
            return None
        alt = need.alternatives[0]
        if not alt:
            return len(self.all)
        if len(alt) > 1:
            return None
        levels = self.by_skill.get(alt[0][0])
        return 0 if levels is None else sum(map(len, levels[alt[0][1] :]))


def _drop(tickets: list[int], ticket: int) -> None:
    i = bisect_left(tickets, ticket)
    del tickets[i]


class CallGroup:
    """Waiting calls of one queue with the same need, best rank first."""

    __slots__ = ("heap", "live", "need", "queue_id")

    def __init__(self, queue_id: str, need: Need) -> None:
        self.queue_id = queue_id
        self.need = need
        self.heap: list[tuple[tuple[int, int, int], int, str]] = []
        """(rank, token, call id): ids only, so the collector need not track the entries."""
        self.live = 0

    def push(self, call: CallRecord) -> None:
        """Add ``call``, which must already name this group and carry a fresh token."""
        heapq.heappush(self.heap, (call.rank, call.token, call.call_id))
        self.live += 1

    def head(self, calls: dict[str, CallRecord]) -> CallRecord | None:
        """The best waiting call, dropping entries of calls that have left the group."""
        heap = self.heap
        while heap:
            _, token, call_id = heap[0]
            call = calls.get(call_id)
            if call is not None and call.group is self and call.token == token:
                return call
            heapq.heappop(heap)
        return None
