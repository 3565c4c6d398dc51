"""Tenants and their directory: users, agents, skills, queues, numbers, flows, IVRs, hours."""
