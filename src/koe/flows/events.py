"""Events the flow engine and the ACD service publish (besides the routing engine's own).

The ACD publishes every event of ``koe.routing.events`` unchanged, in order. Each event
carries ``tenant_id`` and ``at``; ``data`` holds the fields listed here.
"""

from __future__ import annotations

FLOW_STARTED = "flow.started"
"""call_id, number, flow_id, version."""

FLOW_FINISHED = "flow.finished"
"""call_id, flow_id, version, steps, outcome ("answered", "abandoned", "voicemail",
"callback", "transferred", "hangup", "step_limit", "caller_gone")."""

NUMBER_UNALLOCATED = "flow.number_unallocated"
"""call_id, number, reason ("unknown_number" or "no_flow")."""

VOICEMAIL_RECORDED = "voicemail.recorded"
"""call_id, mailbox, path (under the data dir), seconds, caller (None when withheld)."""

CALLBACK_KEPT = "callback.kept"
"""call_id, queue_id: a callback request keeps (or takes) a place in the queue."""

CALLBACK_COMPLETED = "callback.completed"
"""call_id, queue_id, agent_id: the customer was reached."""

CALLBACK_FAILED = "callback.failed"
"""call_id, queue_id, agent_id, reason, attempts, retrying (bool)."""
