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
from datetime import UTC, datetime, timedelta
from pathlib import Path

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
    state = {"calls": 0, "n": 0}

    def start(offers: list[object], now: float) -> None:
        for action in offers:
            if isinstance(action, Offer):
                engine.answered(TENANT, action.call_id)
                state["n"] += 1
                end = now + rng.expovariate(1.0 / AHT)
                heapq.heappush(ends, (end, state["n"], action.call_id, action.agent_id))

    def pick() -> tuple[str, str, int]:
        state["calls"] += 1
        q = rng.choices(queue_ids, popularity)[0]
        return f"c{state['calls']}", q, 1 if rng.random() < 0.05 else 0

    def arrive() -> list[object]:
        call_id, q, prio = pick()
        return list(engine.enqueue(TENANT, call_id, q, priority=prio))

    # Fill: every agent busy, then 5,000 callers waiting.
    now = clock.now().timestamp()
    while True:
        offers = arrive()
        start(offers, now)
        if state["calls"] % 1000 == 0 and _waiting(engine, queue_ids) >= WAITING:
            break
    engine.take_events()
    gc.collect()
    gc.freeze()

    latencies: list[int] = []
    engine_ns = 0
    decisions = 0
    next_tick = now + 1.0
    perf = time.perf_counter_ns
    wall = perf()
    waiting = _waiting(engine, queue_ids)
    while decisions < MEASURED:
        end, _, call_id, agent_id = heapq.heappop(ends)
        while next_tick <= end:
            clock.set(datetime.fromtimestamp(next_tick, UTC))
            t0 = perf()
            out = engine.tick()
            start(out, next_tick)
            engine_ns += perf() - t0
            next_tick += 1.0
        clock.set(datetime.fromtimestamp(end, UTC))
        t0 = perf()
        engine.call_ended(TENANT, call_id)
        t1 = perf()
        out = engine.ready(TENANT, agent_id)
        t2 = perf()
        start(out, end)
        t3 = perf()
        latencies.append(t2 - t1)
        engine_ns += t3 - t0
        decisions += 1
        if not out:
            waiting = _waiting(engine, queue_ids) if decisions % 500 == 0 else waiting
        if waiting < WAITING or rng.random() < 0.5:
            call_id, q, prio = pick()
            t0 = perf()
            offers = engine.enqueue(TENANT, call_id, q, priority=prio)
            t1 = perf()
            start(offers, end)
            engine_ns += perf() - t0
            latencies.append(t1 - t0)
            decisions += 1
        if decisions % 2000 < 2:
            waiting = _waiting(engine, queue_ids)
            engine.take_events()
    wall = perf() - wall
    engine.take_events()

    lat = sorted(latencies)
    p50 = lat[len(lat) // 2] / 1e6
    p99 = lat[int(len(lat) * 0.99)] / 1e6
    p999 = lat[int(len(lat) * 0.999)] / 1e6
    rate = decisions / (engine_ns / 1e9)
    print(f"agents={AGENTS} skills={SKILLS} queues={QUEUES} waiting_target={WAITING}")
    print(f"waiting_at_end={_waiting(engine, queue_ids)} decisions={decisions}")
    print(f"virtual_time={timedelta(seconds=round(clock.now().timestamp() - now))}")
    print(f"wall={wall / 1e9:.1f}s engine={engine_ns / 1e9:.1f}s")
    print(
        f"latency_ms p50={p50:.4f} p99={p99:.4f} p99.9={p999:.4f} "
        f"max={lat[-1] / 1e6:.3f} mean={statistics.fmean(lat) / 1e6:.4f}"
    )
    print(f"routing_p50: {p50:.3f} ms")
    print(f"routing_p99: {p99:.3f} ms")
    print(f"routing_rate: {rate:.0f} decisions/s")


def _waiting(engine: RoutingEngine, queue_ids: list[str]) -> int:
    return sum(engine.realtime(TENANT, q).waiting for q in queue_ids)


if __name__ == "__main__":
    main()
