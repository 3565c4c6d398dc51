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
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
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
    # ACD options beyond the columns (escalation, overflow, announcements): koe.flows.queues.
    routing: Mapped[dict[str, Any]] = mapped_column(default=dict)


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


class CallFlowVersion(TenantScoped, Base):
    """A saved version of a call flow: editing adds one, a rollback copies an old one forward."""

    __tablename__ = "call_flow_versions"
    __table_args__ = (UniqueConstraint("flow_id", "version"),)

    flow_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("call_flows.id", ondelete="CASCADE"), index=True
    )
    version: Mapped[int] = mapped_column(Integer)
    document: Mapped[dict[str, Any]] = mapped_column(default=dict)
    note: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime]


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


# ---- contracts (R3.*) ----


class ContractApplication(TenantScoped, Base):
    """An application for the service (Art. 9) and its review (Art. 10, 11)."""

    __tablename__ = "contract_applications"

    status: Mapped[str] = mapped_column(String(20), default="submitted")
    submitted_by: Mapped[str] = mapped_column(String(140))
    sales_agent: Mapped[str | None] = mapped_column(String(200))
    submitted_on: Mapped[date] = mapped_column(Date)
    requested: Mapped[dict[str, Any]] = mapped_column(default=dict)
    usage_breakdown: Mapped[str] = mapped_column(Text, default="")
    go_live_date: Mapped[date | None] = mapped_column(Date)
    uses_operator_numbers: Mapped[bool] = mapped_column(Boolean, default=False)
    anti_social_attested: Mapped[bool] = mapped_column(Boolean, default=False)
    custom_setup_yen: Mapped[int | None] = mapped_column(Integer)
    reviewed_by: Mapped[str | None] = mapped_column(String(140))
    reviewed_at: Mapped[datetime | None]
    reject_reason: Mapped[str | None] = mapped_column(String(40))
    reject_note: Mapped[str | None] = mapped_column(String(1000))
    service_start_date: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime]


class IdentityDocument(TenantScoped, Base):
    """An identity-verification document attached to an application (Art. 9-2)."""

    __tablename__ = "identity_documents"

    application_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("contract_applications.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(30))
    issued_on: Mapped[date] = mapped_column(Date)
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(100), default="application/pdf")
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime]


class ContractChange(TenantScoped, Base):
    """A dated change request (Art. 12-14, 33, 37) and what became of it."""

    __tablename__ = "contract_changes"

    kind: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(20), default="requested")
    filed_on: Mapped[date] = mapped_column(Date)
    effective_on: Mapped[date] = mapped_column(Date)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    decided_at: Mapped[datetime | None]
    refuse_reason: Mapped[str | None] = mapped_column(String(40))
    applied_at: Mapped[datetime | None]
    created_at: Mapped[datetime]


class Notice(TenantScoped, Base):
    """A notice given to a tenant, kept as proof: what, to whom, when, how (R3.*)."""

    __tablename__ = "notices"

    kind: Mapped[str] = mapped_column(String(40))
    article: Mapped[str] = mapped_column(String(40), default="")
    subject_ja: Mapped[str] = mapped_column(String(300))
    subject_en: Mapped[str] = mapped_column(String(300))
    body_ja: Mapped[str] = mapped_column(Text)
    body_en: Mapped[str] = mapped_column(Text)
    recipients: Mapped[list[Any]] = mapped_column(default=list)
    channels: Mapped[list[Any]] = mapped_column(default=list)
    delivery: Mapped[dict[str, Any]] = mapped_column(default=dict)
    written: Mapped[bool] = mapped_column(Boolean, default=False)
    related_id: Mapped[str | None] = mapped_column(String(36))
    sent_at: Mapped[datetime]


class NoticeDelivery(TenantScoped, Base):
    """A notice sent by e-mail to one contact: queued, retried with back-off, delivered or
    failed, with the times (the proof of Art. 20, 38, 48 written notices sent by e-mail)."""

    __tablename__ = "notice_deliveries"
    __table_args__ = (Index("ix_notice_deliveries_due", "status", "next_attempt_at"),)

    notice_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("notices.id", ondelete="CASCADE"), index=True
    )
    channel: Mapped[str] = mapped_column(String(20), default="email")
    contact_kind: Mapped[str] = mapped_column(String(20), default="")
    name: Mapped[str] = mapped_column(String(100), default="")
    address: Mapped[str] = mapped_column(String(254))
    status: Mapped[str] = mapped_column(String(20), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    last_attempt_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    failed_at: Mapped[datetime | None]
    last_error: Mapped[str] = mapped_column(String(500), default="")
    message_id: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime]


class Abolition(IdMixin, Base):
    """The operator abolishing an add-on (Art. 38) or the whole service (Art. 48)."""

    __tablename__ = "abolitions"

    scope: Mapped[str] = mapped_column(String(20))
    addon: Mapped[AddOn | None] = mapped_column(_enum(AddOn, "addon_kind"))
    announced_on: Mapped[date] = mapped_column(Date)
    effective_on: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime]


# ---- billing (R4.*) ----


class TariffVersion(IdMixin, Base):
    """A version of the price list, in force from ``effective_from`` (R2.4, Art. 21-3)."""

    __tablename__ = "tariff_versions"

    effective_from: Mapped[date] = mapped_column(Date, unique=True)
    announced_on: Mapped[date] = mapped_column(Date)
    prices: Mapped[dict[str, Any]] = mapped_column(default=dict)
    note: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime]


class TaxRateVersion(IdMixin, Base):
    """A consumption tax rate in force from ``effective_from`` (R4.2, cfg)."""

    __tablename__ = "tax_rates"

    effective_from: Mapped[date] = mapped_column(Date, unique=True)
    rate: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[datetime]


class BillingIssuer(IdMixin, Base):
    """The operator as invoice issuer (qualified invoice: name and T-number), by date."""

    __tablename__ = "billing_issuers"

    effective_from: Mapped[date] = mapped_column(Date, unique=True)
    name: Mapped[str] = mapped_column(String(200))
    registration_number: Mapped[str] = mapped_column(String(14))
    address: Mapped[str] = mapped_column(String(300), default="")
    phone: Mapped[str] = mapped_column(String(30), default="")
    bank_account: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime]


class PriceQuote(TenantScoped, Base):
    """An individual quote: this tenant's price for one item (Art. 21-5)."""

    __tablename__ = "price_quotes"

    item: Mapped[str] = mapped_column(String(32))
    unit_price_yen: Mapped[int] = mapped_column(Integer)
    effective_from: Mapped[date] = mapped_column(Date)
    effective_to: Mapped[date | None] = mapped_column(Date)
    reference: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime]


class OneOffCharge(TenantScoped, Base):
    """A charge billed once: setup fees, Art. 25 surcharges, Art. 22-8 costs (R4.3)."""

    __tablename__ = "one_off_charges"

    item: Mapped[str] = mapped_column(String(32))
    amount_yen: Mapped[int] = mapped_column(Integer)
    taxable: Mapped[bool] = mapped_column(Boolean, default=True)
    service_month: Mapped[date] = mapped_column(Date)
    description: Mapped[str] = mapped_column(String(300), default="")
    invoice_id: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("invoices.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime]


class CarrierCharge(TenantScoped, Base):
    """Call charges from a carrier's statement for one number and month (Tariff 3, R2.5)."""

    __tablename__ = "carrier_charges"
    __table_args__ = (Index("ix_carrier_charges_open", "usage_month", "invoice_id"),)

    carrier: Mapped[str] = mapped_column(String(60))
    usage_month: Mapped[date] = mapped_column(Date)
    number: Mapped[str] = mapped_column(String(20), default="")
    calls: Mapped[int] = mapped_column(Integer, default=0)
    seconds: Mapped[int] = mapped_column(Integer, default=0)
    amount_yen: Mapped[int] = mapped_column(Integer)
    statement_ref: Mapped[str] = mapped_column(String(100), default="")
    reconciliation: Mapped[dict[str, Any]] = mapped_column(default=dict)
    invoice_id: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("invoices.id", ondelete="SET NULL")
    )
    imported_at: Mapped[datetime]


class Invoice(TenantScoped, Base):
    """A qualified invoice or a credit note; never edited once issued (R4.2)."""

    __tablename__ = "invoices"
    __table_args__ = (UniqueConstraint("tenant_id", "month", "kind", "seq"),)

    number: Mapped[str] = mapped_column(String(60), unique=True)
    kind: Mapped[str] = mapped_column(String(20), default="invoice")
    status: Mapped[str] = mapped_column(String(20), default="issued")
    month: Mapped[date] = mapped_column(Date, index=True)
    seq: Mapped[int] = mapped_column(Integer, default=1)
    issued_on: Mapped[date] = mapped_column(Date)
    due_on: Mapped[date] = mapped_column(Date)
    recipient: Mapped[dict[str, Any]] = mapped_column(default=dict)
    issuer: Mapped[dict[str, Any]] = mapped_column(default=dict)
    subtotal_yen: Mapped[int] = mapped_column(Integer)
    tax_yen: Mapped[int] = mapped_column(Integer)
    total_yen: Mapped[int] = mapped_column(Integer)
    tax_breakdown: Mapped[list[Any]] = mapped_column(default=list)
    corrects_id: Mapped[str | None] = mapped_column(String(36))
    note: Mapped[str] = mapped_column(String(500), default="")
    run_id: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[datetime]


class InvoiceLine(TenantScoped, Base):
    """One line of an invoice: tax-exclusive amount at its rate (None: outside tax)."""

    __tablename__ = "invoice_lines"
    __table_args__ = (Index("ix_invoice_lines_billed", "tenant_id", "item", "service_month"),)

    invoice_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("invoices.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer)
    item: Mapped[str] = mapped_column(String(32))
    description_ja: Mapped[str] = mapped_column(String(300))
    description_en: Mapped[str] = mapped_column(String(300))
    service_month: Mapped[date | None] = mapped_column(Date)
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price_yen: Mapped[int | None] = mapped_column(Integer)
    amount_yen: Mapped[int] = mapped_column(Integer)
    tax_rate: Mapped[str | None] = mapped_column(String(10))
    due_on: Mapped[date] = mapped_column(Date)
    source: Mapped[str] = mapped_column(String(120))


class Payment(TenantScoped, Base):
    """Money received from a tenant (transfer, API) or settled by offset (Art. 27)."""

    __tablename__ = "payments"

    method: Mapped[str] = mapped_column(String(20))
    received_on: Mapped[date] = mapped_column(Date)
    amount_yen: Mapped[int] = mapped_column(Integer)
    payer_name: Mapped[str] = mapped_column(String(200), default="")
    reference: Mapped[str] = mapped_column(String(200), default="")
    unapplied_yen: Mapped[int] = mapped_column(Integer, default=0)
    flags: Mapped[list[Any]] = mapped_column(default=list)
    statement: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime]


class PaymentAllocation(TenantScoped, Base):
    """How much of a payment went to an invoice's interest and principal (R4.4)."""

    __tablename__ = "payment_allocations"

    payment_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("payments.id", ondelete="CASCADE"), index=True
    )
    invoice_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("invoices.id", ondelete="CASCADE"), index=True
    )
    on: Mapped[date] = mapped_column(Date)
    to_interest_yen: Mapped[int] = mapped_column(Integer, default=0)
    to_principal_yen: Mapped[int] = mapped_column(Integer, default=0)


class UnmatchedTransfer(IdMixin, Base):
    """A bank credit no tenant could be matched to; the operator resolves it."""

    __tablename__ = "unmatched_transfers"

    received_on: Mapped[date] = mapped_column(Date)
    amount_yen: Mapped[int] = mapped_column(Integer)
    payer_name: Mapped[str] = mapped_column(String(200))
    reference: Mapped[str] = mapped_column(String(200), default="")
    reason: Mapped[str] = mapped_column(String(200), default="")
    resolved_payment_id: Mapped[str | None] = mapped_column(String(36))
    imported_at: Mapped[datetime]


class Outage(TenantScoped, Base):
    """A total outage of some services of a tenant and its credit (R4.7)."""

    __tablename__ = "outages"

    services: Mapped[list[Any]] = mapped_column(default=list)
    cause: Mapped[str] = mapped_column(String(30))
    started_at: Mapped[datetime]
    learned_at: Mapped[datetime]
    ended_at: Mapped[datetime]
    month: Mapped[date] = mapped_column(Date)
    description: Mapped[str] = mapped_column(String(1000), default="")
    rule: Mapped[str | None] = mapped_column(String(20))
    monthly_fee_yen: Mapped[int] = mapped_column(Integer, default=0)
    waiver_yen: Mapped[int] = mapped_column(Integer, default=0)
    damages_yen: Mapped[int] = mapped_column(Integer, default=0)
    applied_yen: Mapped[int] = mapped_column(Integer, default=0)
    explanation: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime]


class BillingRun(IdMixin, Base):
    """One monthly run: when, and what it made."""

    __tablename__ = "billing_runs"

    month: Mapped[date] = mapped_column(Date, index=True)
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    tenants: Mapped[int] = mapped_column(Integer, default=0)
    invoices: Mapped[int] = mapped_column(Integer, default=0)
    credit_notes: Mapped[int] = mapped_column(Integer, default=0)


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
    CallFlowVersion,
    IvrMenu,
    PhoneNumber,
    ContractApplication,
    IdentityDocument,
    ContractChange,
    Notice,
    NoticeDelivery,
    PriceQuote,
    OneOffCharge,
    CarrierCharge,
    Invoice,
    InvoiceLine,
    Payment,
    PaymentAllocation,
    Outage,
)

__all__ = [
    "TENANT_SCOPED_MODELS",
    "Abolition",
    "AddOnSubscription",
    "Agent",
    "AgentSkill",
    "AuditEntry",
    "AuthSession",
    "Base",
    "BillingIssuer",
    "BillingRun",
    "BusinessHours",
    "CallFlow",
    "CallFlowVersion",
    "CarrierCharge",
    "ContractApplication",
    "ContractChange",
    "IdentityDocument",
    "Invoice",
    "InvoiceLine",
    "IvrMenu",
    "LicenseHolding",
    "LoginThrottle",
    "Notice",
    "NoticeDelivery",
    "OneOffCharge",
    "OperatorUser",
    "Outage",
    "Payment",
    "PaymentAllocation",
    "PhoneNumber",
    "PriceQuote",
    "Queue",
    "Skill",
    "TariffVersion",
    "TaxRateVersion",
    "Tenant",
    "TenantContact",
    "TenantRestriction",
    "UnmatchedTransfer",
    "User",
]
