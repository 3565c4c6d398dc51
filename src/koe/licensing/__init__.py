"""License rules as code (R2.1, R2.2): pure functions and live counters, no I/O."""
