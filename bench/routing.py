"""Routing benchmark: the ACD engine alone under a contact center's worth of load.

10,000 logged-in agents with 2–6 of 200 skills (popular skills are held by many, rare
ones by few; levels 1–10), 200 queues (one or two skills with minimum levels, escalation
after 60 s and 120 s, overflow after 600 s), and 5,000 callers kept waiting. Virtual time
(a frozen clock moved by the simulation): calls end after exponential handle times, the
agent is ready again at once, a new caller arrives for each one served, timers run every
virtual second.

A decision is one engine call that routes: a caller entering a queue (``enqueue``: to the
longest-idle eligible agent, or to wait) or an agent becoming available (``ready``: the
best-ranked waiting call across their queues, or idle). Latency is the wall time of that
call; the rate divides decisions by all the time spent in the engine (answers, hang-ups
and timer runs included). One process, one core.
"""

from __future__ import annotations

import gc
import heapq
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from koe.core.clock import FrozenClock
from koe.routing.actions import Offer
from koe.routing.engine import RoutingEngine
from koe.routing.model import EscalationStep, Need, QueueConfig

AGENTS = 10_000
SKILLS = 200
QUEUES = 200
WAITING = 5_000
MEASURED = int(os.environ.get("ROUTING_DECISIONS", "200000"))
AHT = 180.0
TENANT = "bench"


def main() -> None:
    """Build the load, run it, print the figures."""
    rng = random.Random(5)
    clock = FrozenClock(datetime(2026, 11, 24, 1, 0, tzinfo=UTC))
    engine = RoutingEngine(clock, presence_timeout=None)
    engine.set_seat_limit(TENANT, AGENTS)
    skills = [f"s{i:03d}" for i in range(SKILLS)]
    popularity = [1.0 / (i + 1) ** 0.6 for i in range(SKILLS)]

    for i in range(QUEUES):
        need = {skills[i]: rng.randint(1, 5)}
        if rng.random() < 0.25:
            need[rng.choices(skills, popularity)[0]] = rng.randint(1, 4)
        steps = (
            EscalationStep(60.0, lower_levels_by=2, raise_priority_by=1),
            EscalationStep(120.0, replace=Need.all_of({skills[i]: 1})),
        )
        engine.configure_queue(
            TENANT,
            QueueConfig(
                f"q{i:03d}",
                need=Need.all_of(need),
                priority=rng.choice((3, 5, 5, 7)),
                wrap_up_seconds=30.0,
                max_length=None,
                escalation=steps,
            ),
        )
    for i in range(AGENTS):
        count = rng.randint(2, 6)
        own = {s: rng.randint(1, 10) for s in rng.choices(skills, popularity, k=count)}
        engine.login(TENANT, f"a{i:05d}", own)
    engine.take_events()

    queue_ids = [f"q{i:03d}" for i in range(QUEUES)]
    ends: list[tuple[float, int, str, str]] = []  # (end time, n, call, agent)
    counters = {"calls": 0, "n": 0, "events": 0}
    wall_ns = [0]
    cpu_ns = [0]
    perf, cpu = time.perf_counter_ns, time.thread_time_ns

    def timed(fn: Callable[..., list[Any]], *args: Any, **kwargs: Any) -> tuple[list[Any], int]:
        """Run one engine call, then publish its events as call control would; time both."""
        c0 = cpu()
        w0 = perf()
        out = fn(*args, **kwargs)
        w1 = perf()
        events = engine.take_events()
        w2 = perf()
        cpu_ns[0] += cpu() - c0
        wall_ns[0] += w2 - w0
        counters["events"] += len(events)
        return out, w1 - w0

    def answer(actions: list[Any], now: float) -> None:
        for action in actions:
            if isinstance(action, Offer):
                timed(engine.answered, TENANT, action.call_id)
                counters["n"] += 1
                end = now + rng.expovariate(1.0 / AHT)
                heapq.heappush(ends, (end, counters["n"], action.call_id, action.agent_id))

    def pick() -> tuple[str, str, int]:
        counters["calls"] += 1
        q = rng.choices(queue_ids, popularity)[0]
        return f"c{counters['calls']}", q, 1 if rng.random() < 0.05 else 0

    # Fill: every agent busy, then 5,000 callers waiting.
    now = clock.now().timestamp()
    while True:
        call_id, q, prio = pick()
        answer(engine.enqueue(TENANT, call_id, q, priority=prio), now)
        if counters["calls"] % 1000 == 0 and _waiting(engine, queue_ids) >= WAITING:
            break
    engine.take_events()
    # As a long-running server does after start-up: keep the start-up heap out of collections.
    gc.collect()
    gc.freeze()
    wall_ns[0] = cpu_ns[0] = counters["events"] = 0
    made_before = engine.decisions_made

    latencies: list[int] = []
    decisions = 0
    next_tick = now + 1.0
    started = perf()
    waiting = _waiting(engine, queue_ids)
    while decisions < MEASURED:
        end, _, call_id, agent_id = heapq.heappop(ends)
        while next_tick <= end:
            clock.set(datetime.fromtimestamp(next_tick, UTC))
            answer(timed(engine.tick)[0], next_tick)
            next_tick += 1.0
        clock.set(datetime.fromtimestamp(end, UTC))
        timed(engine.call_ended, TENANT, call_id)
        out, took = timed(engine.ready, TENANT, agent_id)
        latencies.append(took)
        decisions += 1
        answer(out, end)
        if waiting < WAITING or rng.random() < 0.5:
            call_id, q, prio = pick()
            out, took = timed(engine.enqueue, TENANT, call_id, q, priority=prio)
            latencies.append(took)
            decisions += 1
            answer(out, end)
        if decisions % 2000 < 2:
            waiting = _waiting(engine, queue_ids)
    elapsed = perf() - started
    made = engine.decisions_made - made_before

    lat = sorted(latencies)
    p50 = lat[len(lat) // 2] / 1e6
    p99 = lat[int(len(lat) * 0.99)] / 1e6
    p999 = lat[int(len(lat) * 0.999)] / 1e6
    cpu_s, wall_s = cpu_ns[0] / 1e9, wall_ns[0] / 1e9
    print(f"agents={AGENTS} skills={SKILLS} queues={QUEUES} waiting_target={WAITING}")
    print(f"waiting_at_end={_waiting(engine, queue_ids)}")
    print(f"virtual_time={timedelta(seconds=round(clock.now().timestamp() - now))}")
    print(f"events_published={counters['events']}")
    print(
        f"decisions_timed={decisions} (enqueue: caller to agent or queue; ready: agent to caller)"
    )
    print(f"decisions_all={made} (also escalations, requeues and overflows run by timers)")
    print(
        f"time: bench_wall={elapsed / 1e9:.1f}s engine_wall={wall_s:.1f}s "
        f"engine_cpu={cpu_s:.1f}s (engine = every engine call: decisions, answers, "
        "hang-ups, timers, event draining)"
    )
    print(
        f"latency_ms (decisions_timed, wall) p50={p50:.4f} p99={p99:.4f} p99.9={p999:.4f} "
        f"max={lat[-1] / 1e6:.3f} mean={statistics.fmean(lat) / 1e6:.4f}"
    )
    print(f"rate_timed_cpu: {decisions / cpu_s:.0f} decisions/s")
    print(f"rate_all_wall: {made / wall_s:.0f} decisions/s (wall time on a shared machine)")
    print(f"routing_p50: {p50:.3f} ms")
    print(f"routing_p99: {p99:.3f} ms")
    print(f"routing_rate: {made / cpu_s:.0f} decisions/s")


def _waiting(engine: RoutingEngine, queue_ids: list[str]) -> int:
    return sum(engine.realtime(TENANT, q).waiting for q in queue_ids)


if __name__ == "__main__":
    main()
