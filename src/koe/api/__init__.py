"""HTTP API (FastAPI): thin handlers — auth, tenant, schema, one service call, render."""
