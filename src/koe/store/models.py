"""The data model. Every tenant-scoped table carries ``tenant_id`` (see ``TenantScoped``)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    Enum,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from koe.core.domain import AddOn, ContractStatus, LicenseKind, RestrictionKind, Role
from koe.store.base import Base, IdMixin, TenantScoped


def _enum(kind: type[Any], name: str) -> Enum:
    return Enum(
        kind,
        name=name,
        native_enum=False,
        values_callable=lambda e: [m.value for m in e],
        length=32,
    )


class Tenant(IdMixin, Base):
    """A contracting company (R3.1) and its contract status."""

    __tablename__ = "tenants"

    code: Mapped[str] = mapped_column(String(40), unique=True)
    company_name: Mapped[str] = mapped_column(String(200))
    company_name_kana: Mapped[str | None] = mapped_column(String(200))
    representative_name: Mapped[str] = mapped_column(String(100))
    postal_code: Mapped[str | None] = mapped_column(String(10))
    address: Mapped[str] = mapped_column(String(300))
    phone: Mapped[str] = mapped_column(String(20))
    fax: Mapped[str | None] = mapped_column(String(20))
    billing_name: Mapped[str | None] = mapped_column(String(200))
    billing_postal_code: Mapped[str | None] = mapped_column(String(10))
    billing_address: Mapped[str | None] = mapped_column(String(300))
    status: Mapped[ContractStatus] = mapped_column(
        _enum(ContractStatus, "contract_status"), default=ContractStatus.APPLIED
    )
    service_start_date: Mapped[date | None] = mapped_column(Date)
    service_end_date: Mapped[date | None] = mapped_column(Date)
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime]


class TenantContact(TenantScoped, Base):
    """Contract, technical, emergency or billing contact of a tenant (R3.1)."""

    __tablename__ = "tenant_contacts"
    __table_args__ = (
        CheckConstraint("kind IN ('contract','technical','emergency','billing')", name="kind"),
    )

    kind: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(100))
    department: Mapped[str | None] = mapped_column(String(100))
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(20))


class TenantRestriction(TenantScoped, Base):
    """A dated restriction; several may overlap (R3.6, R3.7)."""

    __tablename__ = "tenant_restrictions"

    kind: Mapped[RestrictionKind] = mapped_column(_enum(RestrictionKind, "restriction_kind"))
    addon: Mapped[AddOn | None] = mapped_column(_enum(AddOn, "addon_kind"))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime | None]
    reason: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime]
    lifted_at: Mapped[datetime | None]


class LicenseHolding(TenantScoped, Base):
    """A quantity of one license kind held over a date range (R2.1)."""

    __tablename__ = "license_holdings"
    __table_args__ = (CheckConstraint("quantity > 0", name="quantity_positive"),)

    kind: Mapped[LicenseKind] = mapped_column(_enum(LicenseKind, "license_kind"))
    quantity: Mapped[int] = mapped_column(Integer)
    effective_from: Mapped[date] = mapped_column(Date)
    effective_to: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime]


class AddOnSubscription(TenantScoped, Base):
    """An add-on subscription (R1.3, R3.9); ``units`` are transcription plan units."""

    __tablename__ = "addon_subscriptions"

    addon: Mapped[AddOn] = mapped_column(_enum(AddOn, "addon_kind"))
    units: Mapped[int] = mapped_column(Integer, default=1)
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime]


class OperatorUser(IdMixin, Base):
    """A member of the operator's staff (no tenant)."""

    __tablename__ = "operator_users"

    login: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str | None] = mapped_column(String(254))
    role: Mapped[Role] = mapped_column(_enum(Role, "role"))
    password_hash: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]


class User(TenantScoped, Base):
    """A person of a tenant: admin, supervisor or agent."""

    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("tenant_id", "login"),)

    login: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str | None] = mapped_column(String(254))
    role: Mapped[Role] = mapped_column(_enum(Role, "role"))
    password_hash: Mapped[str] = mapped_column(String(200))
    language: Mapped[str] = mapped_column(String(5), default="ja")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]


class Skill(TenantScoped, Base):
    """A skill agents have at a level and queues require."""

    __tablename__ = "skills"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(String(500), default="")


class Agent(TenantScoped, Base):
    """The call-taking profile of a user: extension and skills."""

    __tablename__ = "agents"
    __table_args__ = (UniqueConstraint("tenant_id", "extension"), UniqueConstraint("user_id"))

    user_id: Mapped[str] = mapped_column(String(36), ForeignKey("users.id", ondelete="CASCADE"))
    extension: Mapped[str] = mapped_column(String(10))
    display_name: Mapped[str] = mapped_column(String(100))


class AgentSkill(TenantScoped, Base):
    """An agent's level (1–10) in one skill."""

    __tablename__ = "agent_skills"
    __table_args__ = (
        UniqueConstraint("agent_id", "skill_id"),
        CheckConstraint("level BETWEEN 1 AND 10", name="level_range"),
    )

    agent_id: Mapped[str] = mapped_column(String(36), ForeignKey("agents.id", ondelete="CASCADE"))
    skill_id: Mapped[str] = mapped_column(String(36), ForeignKey("skills.id", ondelete="CASCADE"))
    level: Mapped[int] = mapped_column(Integer)


class Queue(TenantScoped, Base):
    """A call queue; ``skills`` lists ``{skill_id, min_level}`` requirements."""

    __tablename__ = "queues"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    name: Mapped[str] = mapped_column(String(100))
    priority: Mapped[int] = mapped_column(Integer, default=5)
    skills: Mapped[list[Any]] = mapped_column(default=list)
    wrap_up_seconds: Mapped[int] = mapped_column(Integer, default=30)
    max_wait_seconds: Mapped[int] = mapped_column(Integer, default=600)
    max_length: Mapped[int] = mapped_column(Integer, default=50)
    service_level_seconds: Mapped[int] = mapped_column(Integer, default=20)


class BusinessHours(TenantScoped, Base):
    """A business-hours calendar: weekly schedule, holidays, special days."""

    __tablename__ = "business_hours"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    name: Mapped[str] = mapped_column(String(100))
    timezone: Mapped[str] = mapped_column(String(40), default="Asia/Tokyo")
    weekly: Mapped[dict[str, Any]] = mapped_column(default=dict)
    special_days: Mapped[list[Any]] = mapped_column(default=list)
    closed_on_public_holidays: Mapped[bool] = mapped_column(Boolean, default=True)


class CallFlow(TenantScoped, Base):
    """An inbound call flow: a validated JSON graph of nodes (engine: koe.flows)."""

    __tablename__ = "call_flows"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(String(500), default="")
    version: Mapped[int] = mapped_column(Integer, default=1)
    document: Mapped[dict[str, Any]] = mapped_column(default=dict)


class IvrMenu(TenantScoped, Base):
    """An IVR menu built from a template: prompt, DTMF choices, timeout and default route."""

    __tablename__ = "ivr_menus"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    name: Mapped[str] = mapped_column(String(100))
    template: Mapped[str] = mapped_column(String(40))
    document: Mapped[dict[str, Any]] = mapped_column(default=dict)


class PhoneNumber(TenantScoped, Base):
    """A DID in E.164, unique in the whole installation, mapped to an inbound flow."""

    __tablename__ = "phone_numbers"

    e164: Mapped[str] = mapped_column(String(16), unique=True)
    label: Mapped[str] = mapped_column(String(100), default="")
    flow_id: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("call_flows.id", ondelete="SET NULL")
    )
    kind: Mapped[str] = mapped_column(String(20), default="did")


class AuthSession(IdMixin, Base):
    """A login session; only the token's hash is stored."""

    __tablename__ = "auth_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    tenant_id: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    operator_user_id: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("operator_users.id", ondelete="CASCADE")
    )
    role: Mapped[Role] = mapped_column(_enum(Role, "role"))
    device_id: Mapped[str] = mapped_column(String(64))
    device_label: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    revoked_reason: Mapped[str | None] = mapped_column(String(40))


class LoginThrottle(Base):
    """Failed-login counters per login key (tenant + login, and source address)."""

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    window_started_at: Mapped[datetime]
    locked_until: Mapped[datetime | None]


class AuditEntry(IdMixin, Base):
    """Who did what (R6.1 access logging starts here)."""

    __tablename__ = "audit_log"

    tenant_id: Mapped[str | None] = mapped_column(String(36), index=True)
    actor: Mapped[str] = mapped_column(String(140))
    action: Mapped[str] = mapped_column(String(60))
    target: Mapped[str] = mapped_column(String(140), default="")
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    at: Mapped[datetime]


TENANT_SCOPED_MODELS: tuple[type[TenantScoped], ...] = (
    TenantContact,
    TenantRestriction,
    LicenseHolding,
    AddOnSubscription,
    User,
    Skill,
    Agent,
    AgentSkill,
    Queue,
    BusinessHours,
    CallFlow,
    IvrMenu,
    PhoneNumber,
)

__all__ = [
    "TENANT_SCOPED_MODELS",
    "AddOnSubscription",
    "Agent",
    "AgentSkill",
    "AuditEntry",
    "AuthSession",
    "Base",
    "BusinessHours",
    "CallFlow",
    "IvrMenu",
    "LicenseHolding",
    "LoginThrottle",
    "OperatorUser",
    "PhoneNumber",
    "Queue",
    "Skill",
    "Tenant",
    "TenantContact",
    "TenantRestriction",
    "User",
]
