"""Shared kernel: ids, clock, money, errors, phone numbers, events. Imports nothing else of Koe."""
