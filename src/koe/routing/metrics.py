"""Queue and agent figures: real-time service level, handle times, 15-minute interval buckets.

Definitions (the same in Suite, the API and the reports):

- Each figure falls in the 15-minute interval (aligned to the quarter hour) in which it
  happened: ``offered`` when a call enters the queue, ``answered`` and ASA when it is
  answered, ``abandoned`` when the caller hangs up while waiting or ringing, AHT when the
  after-call work ends.
- Service level = calls answered within T ÷ (answered + abandoned or overflowed after
  waiting longer than T). Callers who leave within T count neither way.
- AHT = (talk + hold + after-call work) ÷ handled calls; talk excludes hold.
- Occupancy = busy ÷ staffed agent time, where busy is ringing, on a call or in after-call
  work, and staffed is busy plus available (breaks and no-answer pauses are excluded).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime

INTERVAL_SECONDS = 900
WINDOWS = (900, 1800, 3600)


def interval_start(t: float) -> float:
    """The start of the 15-minute interval holding ``t`` (epoch seconds)."""
    return t - t % INTERVAL_SECONDS


class Interval:
    """Counters for one 15-minute interval (a queue's, an agent's or the tenant's)."""

    __slots__ = (
        "abandon_wait_max",
        "abandon_wait_total",
        "abandoned",
        "acw",
        "answer_wait_total",
        "answered",
        "answered_within",
        "busy",
        "handled",
        "hold",
        "offered",
        "overflowed",
        "queues",
        "sl_counted",
        "staffed",
        "talk",
    )

    def __init__(self) -> None:
        self.offered = 0
        self.answered = 0
        self.answered_within = 0
        self.sl_counted = 0
        self.answer_wait_total = 0.0
        self.abandoned = 0
        self.abandon_wait_total = 0.0
        self.abandon_wait_max = 0.0
        self.overflowed = 0
        self.handled = 0
        self.talk = 0.0
        self.hold = 0.0
        self.acw = 0.0
        self.staffed = 0.0
        self.busy = 0.0
        self.queues: frozenset[str] = frozenset()
        """For an agent's interval: the queues the agent belonged to while staffed in it."""


IntervalMap = dict[float, Interval]


def bucket(intervals: IntervalMap, t: float) -> Interval:
    """The interval of ``intervals`` that holds ``t``, created when missing."""
    start = t - t % INTERVAL_SECONDS
    found = intervals.get(start)
    if found is None:
        found = intervals[start] = Interval()
    return found


def accrue(
    intervals: IntervalMap, start: float, end: float, busy: bool, queues: frozenset[str]
) -> None:
    """Add an agent's staffed (and busy) time from ``start`` to ``end``, split by interval."""
    while start < end:
        edge = start - start % INTERVAL_SECONDS + INTERVAL_SECONDS
        stop = end if end < edge else edge
        spent = stop - start
        b = bucket(intervals, start)
        b.staffed += spent
        if busy:
            b.busy += spent
        if b.queues is not queues:
            b.queues = queues if not b.queues or b.queues == queues else b.queues | queues
        start = stop


AgentTime = dict[float, list[float]]
"""Interval start -> [staffed seconds, busy seconds], summed over agents."""


def agent_time(
    agents: list[IntervalMap], queue_id: str | None, before: float | None = None
) -> AgentTime:
    """Sum agents' time by interval: all of it, or that of agents in ``queue_id`` then."""
    out: AgentTime = {}
    for intervals in agents:
        for start, b in intervals.items():
            if before is not None and start + INTERVAL_SECONDS > before:
                continue
            if queue_id is None or queue_id in b.queues:
                acc = out.get(start)
                if acc is None:
                    acc = out[start] = [0.0, 0.0]
                acc[0] += b.staffed
                acc[1] += b.busy
    return out


class QueueStats:
    """A queue's live statistics: recent handle times, service-level window, intervals."""

    __slots__ = ("handle_sum", "handle_times", "intervals", "recent", "sl_seconds")

    def __init__(self, sl_seconds: float, samples: int) -> None:
        self.sl_seconds = sl_seconds
        self.handle_times: deque[float] = deque(maxlen=samples)
        self.handle_sum = 0.0
        self.recent: deque[list[float]] = deque()
        """Per-minute [start, good, counted] for the service-level windows (last hour)."""
        self.intervals: IntervalMap = {}

    def aht(self, default: float) -> float:
        """Mean handle time of the recent calls, or ``default`` before there are any."""
        n = len(self.handle_times)
        return self.handle_sum / n if n else default

    def _sl(self, now: float, good: bool) -> None:
        recent = self.recent
        minute = now - now % 60
        if recent and recent[-1][0] == minute:
            last = recent[-1]
        else:
            last = [minute, 0, 0]
            recent.append(last)
            horizon = now - WINDOWS[-1] - 60
            while recent[0][0] < horizon:
                recent.popleft()
        last[1] += good
        last[2] += 1

    def offered(self, now: float) -> None:
        """A call entered the queue."""
        bucket(self.intervals, now).offered += 1

    def answered(self, now: float, wait: float) -> None:
        """A call was answered after ``wait`` seconds in the queue."""
        b = bucket(self.intervals, now)
        b.answered += 1
        b.answer_wait_total += wait
        b.sl_counted += 1
        within = wait <= self.sl_seconds
        if within:
            b.answered_within += 1
        self._sl(now, within)

    def left(self, now: float, wait: float, *, abandoned: bool) -> None:
        """A caller abandoned (or overflowed) after ``wait`` seconds."""
        b = bucket(self.intervals, now)
        if abandoned:
            b.abandoned += 1
            b.abandon_wait_total += wait
            b.abandon_wait_max = max(b.abandon_wait_max, wait)
        else:
            b.overflowed += 1
        if wait > self.sl_seconds:
            b.sl_counted += 1
            self._sl(now, False)

    def handled(self, now: float, talk: float, hold: float, acw: float) -> None:
        """A call's handling ended (after-call work included)."""
        b = bucket(self.intervals, now)
        b.handled += 1
        b.talk += talk
        b.hold += hold
        b.acw += acw
        total = talk + hold + acw
        times = self.handle_times
        if len(times) == times.maxlen:
            self.handle_sum -= times[0]
        times.append(total)
        self.handle_sum += total

    def service_level(self, now: float, window: float) -> float | None:
        """Service level over the last ``window`` seconds in whole minutes (0–1).

        The current minute counts, and the minutes before it until ``window`` is covered.
        None when no call counted.
        """
        since = now - now % 60 - window + 60
        good = total = 0.0
        for minute, ok, counted in reversed(self.recent):
            if minute < since:
                break
            good += ok
            total += counted
        return good / total if total else None


def _ratio(num: float, den: float) -> float | None:
    return num / den if den else None


@dataclass(frozen=True, slots=True)
class IntervalFigures:
    """One 15-minute interval of a queue, an agent or the whole tenant."""

    start: datetime
    offered: int
    answered: int
    answered_within_sl: int
    abandoned: int
    abandon_wait_avg_seconds: float | None
    abandon_wait_max_seconds: float
    overflowed: int
    asa_seconds: float | None
    handled: int
    talk_seconds: float
    hold_seconds: float
    acw_seconds: float
    aht_seconds: float | None
    service_level: float | None
    staffed_seconds: float
    busy_seconds: float
    occupancy: float | None

    @classmethod
    def of(cls, start: float, b: Interval, time: list[float] | None = None) -> IntervalFigures:
        """The figures of counters ``b`` (agent time from ``time`` if given) at ``start``."""
        staffed, busy = time if time is not None else (b.staffed, b.busy)
        return cls(
            start=datetime.fromtimestamp(start, UTC),
            offered=b.offered,
            answered=b.answered,
            answered_within_sl=b.answered_within,
            abandoned=b.abandoned,
            abandon_wait_avg_seconds=_ratio(b.abandon_wait_total, b.abandoned),
            abandon_wait_max_seconds=b.abandon_wait_max,
            overflowed=b.overflowed,
            asa_seconds=_ratio(b.answer_wait_total, b.answered),
            handled=b.handled,
            talk_seconds=b.talk,
            hold_seconds=b.hold,
            acw_seconds=b.acw,
            aht_seconds=_ratio(b.talk + b.hold + b.acw, b.handled),
            service_level=_ratio(b.answered_within, b.sl_counted),
            staffed_seconds=staffed,
            busy_seconds=busy,
            occupancy=_ratio(busy, staffed),
        )


def figures(
    intervals: IntervalMap, before: float | None = None, time: AgentTime | None = None
) -> list[IntervalFigures]:
    """The intervals in time order (with agent time from ``time`` when given).

    With ``before``, only the intervals that ended by then.
    """
    starts = set(intervals) | set(time or ())
    empty = Interval()
    return [
        IntervalFigures.of(
            start, intervals.get(start, empty), time.get(start, [0.0, 0.0]) if time else None
        )
        for start in sorted(starts)
        if before is None or start + INTERVAL_SECONDS <= before
    ]


def take(
    intervals: IntervalMap, before: float, time: AgentTime | None = None
) -> list[IntervalFigures]:
    """Remove and return the intervals that ended by ``before``."""
    out = figures(intervals, before, time)
    for f in out:
        intervals.pop(f.start.timestamp(), None)
    return out
