"""Event types the ACD publishes (catalogue for AgentBar and Suite over WebSocket, and CDRs).

Every event carries ``tenant_id`` and ``at``; ``data`` holds the fields listed here.
"""

from __future__ import annotations

AGENT_STATE_CHANGED = "agent.state_changed"
"""agent_id, old, new, event, reason (break or no-answer reason), call_id, queue_id."""

AGENT_BREAK_REQUESTED = "agent.break_requested"
"""agent_id, reason: the agent goes on break when the current call's work ends."""

AGENT_LOGIN_REFUSED = "agent.login_refused"
"""agent_id, code, allowed, in_use: a login refused for want of a seat license (R2.2)."""

AGENT_SKILLS_CHANGED = "agent.skills_changed"
"""agent_id, skills."""

QUEUE_CONFIGURED = "queue.configured"
"""queue_id."""

QUEUE_REMOVED = "queue.removed"
"""queue_id."""

CALL_ENTERED = "queue.call_entered"
"""call_id, queue_id, priority, callback, from_queue (after an overflow)."""

CALL_QUEUED = "queue.call_queued"
"""call_id, queue_id, position, ewt_seconds: no eligible agent was free, the caller waits."""

CALL_OFFERED = "queue.call_offered"
"""call_id, queue_id, agent_id, wait_seconds, trigger."""

CALL_REQUEUED = "queue.call_requeued"
"""call_id, queue_id, agent_id, reason: back at the original place after a failed offer."""

CALL_ESCALATED = "queue.call_escalated"
"""call_id, queue_id, step, need, priority."""

CALL_ANSWERED = "queue.call_answered"
"""call_id, queue_id, agent_id, wait_seconds, total_wait_seconds."""

CALL_ABANDONED = "queue.call_abandoned"
"""call_id, queue_id, wait_seconds (time to abandon in this queue), total_wait_seconds."""

CALL_OVERFLOWED = "queue.call_overflowed"
"""call_id, queue_id, target, reason ("timeout", "ewt", "queue_full"), wait_seconds."""

CALLBACK_REQUESTED = "queue.callback_requested"
"""call_id, queue_id, position: the caller hung up and keeps their place."""

CALL_HELD = "queue.call_held"
"""call_id, agent_id."""

CALL_RESUMED = "queue.call_resumed"
"""call_id, agent_id."""

CALL_ENDED = "queue.call_ended"
"""For the CDR: call_id, queue_id, agent_id, wait_seconds, total_wait_seconds,
talk_seconds, hold_seconds, agent_lost."""
