"""Vocabulary shared by every layer: roles, license kinds, add-ons, contract states."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """What a person may do. Operator roles have no tenant; the others belong to one."""

    OPERATOR_ADMIN = "operator_admin"
    OPERATOR_STAFF = "operator_staff"
    TENANT_ADMIN = "tenant_admin"
    SUPERVISOR = "supervisor"
    AGENT = "agent"

    @property
    def is_operator(self) -> bool:
        """True for the operator's own staff."""
        return self in (Role.OPERATOR_ADMIN, Role.OPERATOR_STAFF)

    @property
    def is_named_user(self) -> bool:
        """Agents and supervisors need a user license; admin-only accounts do not (R2.1)."""
        return self in (Role.AGENT, Role.SUPERVISOR)


TENANT_ROLES = (Role.TENANT_ADMIN, Role.SUPERVISOR, Role.AGENT)
OPERATOR_ROLES = (Role.OPERATOR_ADMIN, Role.OPERATOR_STAFF)


class LicenseKind(StrEnum):
    """The four basic licenses of Tariff 1 (R2.1)."""

    LINE = "line"
    SEAT = "seat"
    ADMIN = "admin"
    ADDITIONAL_USER = "additional_user"


class AddOn(StrEnum):
    """Add-on functions (R1.3)."""

    RECORDING_DELIVERY = "recording_delivery"
    TRANSCRIPTION = "transcription"


class ContractStatus(StrEnum):
    """Where a tenant's contract stands (R3.*)."""

    APPLIED = "applied"
    ACTIVE = "active"
    ENDED = "ended"


class RestrictionKind(StrEnum):
    """Dated restrictions on a tenant; they may overlap (R3.6, R3.7, R3.9)."""

    SUSPENSION = "suspension"  # Art. 16, by the operator
    PAUSE = "pause"  # Art. 17, maintenance / congestion / carrier outage
    INTERRUPTION = "interruption"  # Art. 18, at the tenant's request
    SCHEDULED_CANCELLATION = "scheduled_cancellation"  # Art. 19, effective at a month end
    ADDON_SUSPENSION = "addon_suspension"  # one add-on only
    ADDON_CANCELLATION = "addon_cancellation"  # Art. 35, an add-on cancelled for good
