"""ACD: agent states, skills-based routing, queues, EWT and metrics. Pure logic, no I/O."""
