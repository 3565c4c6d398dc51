"""Koe: an open-source, multi-tenant cloud contact center."""

__version__ = "0.1.0"
