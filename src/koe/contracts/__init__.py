"""Contracts: applications, review, changes, restrictions, cancellation, notices (R3.*)."""
