"""Request and response models of the back office: contracts (R3.*) and billing (R4.*).

Same rules as ``koe.api.schemas``: requests forbid unknown fields and bound every string,
number and list; amounts are whole yen; months are ``YYYY-MM``; instants carry their offset.
"""

from __future__ import annotations

import base64
import binascii
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BeforeValidator,
    Field,
    StringConstraints,
    create_model,
)
from pydantic_core import PydanticCustomError

from koe.api.schemas import (
    ContactCreate,
    Document,
    Input,
    Label,
    Note500,
    Output,
    PhoneText,
    TenantCreate,
    Text200,
    Text300,
    _no_control,
)
from koe.billing.credits import Cause
from koe.billing.tariff import Item
from koe.contracts.rules import (
    DocumentKind,
    PauseReason,
    RejectReason,
    SuspensionReason,
    TerminationGround,
)
from koe.core.domain import AddOn
from koe.core.months import parse_month

MAX_YEN = 100_000_000_000
MAX_DOCUMENT_FILE_BYTES = 5 * 1024 * 1024

Yen = Annotated[int, Field(ge=1, le=MAX_YEN)]
Yen0 = Annotated[int, Field(ge=0, le=MAX_YEN)]
Count = Annotated[int, Field(ge=0, le=10_000_000)]


def _real_month(value: str) -> str:
    parse_month(value)  # year 0000 matches the pattern but is no month
    return value


Month = Annotated[
    str,
    StringConstraints(pattern=r"^[0-9]{4}-(0[1-9]|1[0-2])$", max_length=7),
    AfterValidator(_real_month),
]
Note1000 = Annotated[str, StringConstraints(max_length=1000), AfterValidator(_no_control)]
Text = Annotated[str, StringConstraints(max_length=300), AfterValidator(_no_control)]
# Restriction details share a 500-character column with the article and reason codes.
Detail = Annotated[str, StringConstraints(max_length=400), AfterValidator(_no_control)]
ServiceName = Literal["basic", "recording_delivery", "transcription"]
ChangeKind = Literal[
    "add_licenses",
    "remove_licenses",
    "content",
    "service_line",
    "address",
    "billing",
    "contacts",
    "name",
    "succession",
]


def _base64(value: Any) -> bytes:
    if not isinstance(value, str):
        raise PydanticCustomError("invalid_base64", "a base64 string is expected")
    if len(value) > MAX_DOCUMENT_FILE_BYTES * 4 // 3 + 4:
        raise PydanticCustomError("document_too_large", "file larger than 5 MiB")
    try:
        data = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as err:
        raise PydanticCustomError("invalid_base64", "not valid base64") from err
    if not data:
        raise PydanticCustomError("invalid_base64", "the file is empty")
    return data


FileContent = Annotated[bytes, BeforeValidator(_base64)]

# ---- applications and review (Art. 9–11) ----

_NOT_APPLIED = {"status", "service_start_date", "service_end_date", "contacts"}
ApplicantCompany: type[Input] = create_model(  # the R3.1 company fields of TenantCreate
    "ApplicantCompany",
    __base__=Input,
    **{
        name: (info.annotation, info)
        for name, info in TenantCreate.model_fields.items()
        if name not in _NOT_APPLIED
    },  # type: ignore[call-overload]
)


class RequestedIn(Input):
    """What the applicant asks for: licenses and add-ons (R3.1)."""

    lines: Annotated[int, Field(ge=0, le=10_000)] = 0
    seats: Annotated[int, Field(ge=0, le=10_000)] = 0
    admins: Annotated[int, Field(ge=0, le=10_000)] = 0
    additional_users: Annotated[int, Field(ge=0, le=10_000)] = 0
    recording_delivery: bool = False
    transcription_units: Annotated[int, Field(ge=0, le=1000)] = 0


class DocumentUpload(Input):
    """An identity document (Art. 9-2): kind, issue date and the file, base64."""

    kind: DocumentKind
    issued_on: date
    filename: Text200
    content_type: Literal["application/pdf", "image/jpeg", "image/png"] = "application/pdf"
    content_base64: FileContent


class ApplicationIn(Input):
    """An application with every field of R3.1, filed by staff or a sales agent."""

    company: ApplicantCompany
    contacts: list[ContactCreate] = Field(min_length=1, max_length=20)
    requested: RequestedIn
    go_live_date: date
    usage_breakdown: Note1000 = ""
    sales_agent: Text200 | None = None
    uses_operator_numbers: bool = False
    anti_social_attested: bool
    documents: list[DocumentUpload] = Field(default_factory=list, max_length=6)
    custom_setup_yen: Yen | None = None


class AcceptIn(Input):
    """Accept an application; ``go_live`` overrides the go-live date applied for."""

    go_live: date | None = None


class RejectIn(Input):
    """Reject an application for a reason of Art. 10-1."""

    reason: RejectReason
    note: Note500 = ""


class DocumentOut(Output):
    """An attached identity document (its content is never sent back)."""

    id: str
    kind: str
    issued_on: date
    filename: str
    content_type: str
    sha256: str


class ApplicationOut(Output):
    """An application and its review."""

    id: str
    tenant_id: str
    status: str
    submitted_by: str
    sales_agent: str | None
    submitted_on: date
    requested: dict[str, Any]
    usage_breakdown: str
    go_live_date: date | None
    uses_operator_numbers: bool
    anti_social_attested: bool
    custom_setup_yen: int | None
    reviewed_by: str | None
    reviewed_at: datetime | None
    reject_reason: str | None
    reject_note: str | None
    service_start_date: date | None
    created_at: datetime
    documents: list[DocumentOut] = Field(default_factory=list)


class ApplicationQuery(Input):
    """Filter applications by status."""

    status: Literal["submitted", "accepted", "rejected"] | None = None


# ---- changes (Art. 12–14) ----


class ChangeIn(Input):
    """A dated change request; its lead time is checked against ``filed_on`` (today)."""

    kind: ChangeKind
    effective_on: date
    payload: Document = Field(default_factory=dict)
    filed_on: date | None = None


class RefuseIn(Input):
    """Refuse a change for a reason of Art. 10-1 (Art. 12-5)."""

    reason: RejectReason


class ChangeOut(Output):
    """A change request and what became of it."""

    id: str
    tenant_id: str
    kind: str
    status: str
    filed_on: date
    effective_on: date
    payload: dict[str, Any]
    decided_at: datetime | None
    refuse_reason: str | None
    applied_at: datetime | None
    created_at: datetime


# ---- restrictions (Art. 16–18, 34–36), cancellation, termination ----


class SuspensionIn(Input):
    """Suspend for ≤ 6 months (Art. 16-1), or until paid for unpaid fees (16-2)."""

    reason: SuspensionReason
    starts_at: AwareDatetime
    ends_at: AwareDatetime | None = None
    until_paid: bool = False
    addon: AddOn | None = None
    detail: Detail = ""


class PauseIn(Input):
    """A planned pause (Art. 17; an add-on: Art. 35)."""

    reason: PauseReason
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    addon: AddOn | None = None
    detail: Detail = ""


class InterruptionIn(Input):
    """An interruption at the tenant's request (Art. 18; an add-on: Art. 36)."""

    starts_at: AwareDatetime
    ends_at: AwareDatetime | None = None
    addon: AddOn | None = None


class RestrictionOut(Output):
    """A dated restriction."""

    id: str
    tenant_id: str
    kind: str
    addon: str | None
    starts_at: datetime
    ends_at: datetime | None
    lifted_at: datetime | None
    reason: str
    created_at: datetime


class ActiveRestrictionOut(Output):
    """A restriction in force."""

    kind: str
    addon: str | None
    reason: str
    until: datetime | None


class AllowanceOut(Output):
    """What the tenant may do now, and the restrictions in force."""

    inbound_calls: bool
    outbound_calls: bool
    agent_login: bool
    admin_login: bool
    addons: list[str]
    active: list[ActiveRestrictionOut]


class CancellationIn(Input):
    """Cancel at a month end, filed ≥ 1 month ahead (Art. 19)."""

    leave_on: date
    filed_on: date | None = None


class TerminationIn(Input):
    """Terminate on an Art. 20 ground with written notice in advance."""

    ground: TerminationGround
    effective_on: date
    noticed_on: date | None = None
    emergency: bool = False
    setup_cost_yen: Yen | None = None
    detail: Note500 = ""


class ContractEndOut(Output):
    """The last day of the service."""

    tenant_id: str
    service_end_date: date


# ---- add-ons (Art. 33–38), abolition (Art. 48), tariff (Art. 21) ----


class AddOnApplyIn(Input):
    """Apply for an add-on ≥ 1 month ahead (Art. 33)."""

    addon: AddOn
    starts_on: date
    units: Annotated[int, Field(ge=1, le=1000)] = 1
    filed_on: date | None = None


class AddOnCancelIn(Input):
    """Cancel an add-on at a month end with ≥ 1 month notice (Art. 37); for good (37-4)."""

    addon: AddOn
    leave_on: date
    filed_on: date | None = None


class AbolitionIn(Input):
    """Abolish the service with ≥ 6 months written notice (Art. 48)."""

    effective_on: date
    announced_on: date | None = None


class AddOnAbolitionIn(AbolitionIn):
    """Abolish an add-on at a month end with ≥ 3 months written notice (Art. 38)."""

    addon: AddOn


class AbolitionOut(Output):
    """An abolition and the tenants notified."""

    effective_on: date
    addon: str | None = None
    tenants: list[str]


class TariffIn(Input):
    """A new tariff version, announced ≥ 3 months ahead (Art. 21-3)."""

    effective_from: date
    prices: dict[Item, Yen0] = Field(min_length=1, max_length=len(Item))
    note: Note500 = ""
    announced_on: date | None = None


class TariffOut(Output):
    """A tariff version."""

    id: str
    effective_from: date
    announced_on: date
    prices: dict[str, int]
    note: str
    created_at: datetime


class QuoteIn(Input):
    """An individual quote: this tenant's unit price for one item (Art. 21-5)."""

    item: Item
    unit_price_yen: Yen0
    effective_from: date
    effective_to: date | None = None
    reference: Label = ""


class QuoteOut(Output):
    """An individual quote."""

    id: str
    tenant_id: str
    item: str
    unit_price_yen: int
    effective_from: date
    effective_to: date | None
    reference: str
    created_at: datetime


# ---- billing configuration and charges ----


class IssuerIn(Input):
    """The operator as qualified-invoice issuer from a date."""

    name: Text200
    registration_number: Annotated[str, StringConstraints(pattern=r"^T[0-9]{13}$")]
    effective_from: date
    address: Text = ""
    phone: Annotated[str, StringConstraints(max_length=30), AfterValidator(_no_control)] = ""
    bank_account: Text = ""


class IssuerOut(Output):
    """An issuer version."""

    id: str
    effective_from: date
    name: str
    registration_number: str
    address: str
    phone: str
    bank_account: str


class TaxRateIn(Input):
    """A consumption tax rate from a date (0.10 = 10 %)."""

    effective_from: date
    rate: Annotated[Decimal, Field(ge=0, lt=1, max_digits=6, decimal_places=4)]


class TaxRateOut(Output):
    """A tax rate version."""

    id: str
    effective_from: date
    rate: str


class OneOffIn(Input):
    """A charge billed once on the invoice of ``month`` (or the next one run)."""

    item: Item
    amount_yen: Yen
    month: Month
    description: Text = ""


class SurchargeIn(Input):
    """Art. 25: the evaded fees and twice them as a surcharge."""

    evaded_yen: Yen
    month: Month
    description: Text = ""


class OneOffOut(Output):
    """A one-off charge."""

    id: str
    tenant_id: str
    item: str
    amount_yen: int
    taxable: bool
    service_month: date
    description: str
    invoice_id: str | None
    created_at: datetime


class CarrierRowIn(Input):
    """One statement line: calls of one tenant number in one month (Tariff 3)."""

    number: PhoneText
    usage_month: Month
    amount_yen: Yen0
    calls: Count = 0
    seconds: Count = 0
    reference: Label = ""


class CarrierStatementIn(Input):
    """A carrier's statement; ``cdr_counts`` maps ``+81…|YYYY-MM`` to Koe's call count."""

    carrier: Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=1, max_length=60),
        AfterValidator(_no_control),
    ]
    rows: list[CarrierRowIn] = Field(min_length=1, max_length=20_000)
    cdr_counts: dict[Annotated[str, StringConstraints(max_length=40)], Count] | None = Field(
        default=None, max_length=20_000
    )


class CarrierImportOut(Output):
    """What an import recorded, and what it could not."""

    imported: list[dict[str, Any]]
    unknown_numbers: list[dict[str, Any]]
    mismatches: list[dict[str, Any]]


class RunIn(Input):
    """The month to bill."""

    month: Month


class RunOut(Output):
    """What a monthly run did (running it again creates nothing new)."""

    month: str
    tenants: int
    invoices: int
    credit_notes: int
    skipped: int
    billed_yen: int
    seconds: float
    invoice_ids: list[str]


# ---- invoices ----


class InvoiceLineOut(Output):
    """One line: tax-exclusive amount at its rate (none: outside tax)."""

    position: int
    item: str
    description_ja: str
    description_en: str
    service_month: date | None
    quantity: int
    unit_price_yen: int | None
    amount_yen: int
    tax_rate: str | None
    due_on: date


class InvoiceOut(Output):
    """A qualified invoice or a credit note, with its lines."""

    id: str
    tenant_id: str
    number: str
    kind: str
    status: str
    month: date
    issued_on: date
    due_on: date
    recipient: dict[str, Any]
    issuer: dict[str, Any]
    subtotal_yen: int
    tax_yen: int
    total_yen: int
    tax_breakdown: list[dict[str, Any]]
    corrects_id: str | None
    note: str
    created_at: datetime
    lines: list[InvoiceLineOut]


class InvoiceQuery(Input):
    """Filter invoices by month; page through them."""

    month: Month | None = None
    offset: int = Field(0, ge=0, le=1_000_000)
    limit: int = Field(50, ge=1, le=500)


class PdfQuery(Input):
    """The language of the PDF."""

    lang: Literal["ja", "en"] = "ja"


class MonthQuery(Input):
    """The month to export."""

    month: Month


class AsOfQuery(Input):
    """The day to compute balances on (today by default)."""

    as_of: date | None = None


class CorrectionIn(Input):
    """Why the invoice is corrected (credit note + new invoice)."""

    reason: Text300


class CorrectionOut(Output):
    """The credit note and the new invoice."""

    credit_note_id: str
    invoice_id: str
    reason: str


# ---- payments ----


class PaymentIn(Input):
    """Money received from the tenant."""

    amount_yen: Yen
    received_on: date
    payer_name: Label = ""
    reference: Label = ""


class OffsetIn(Input):
    """Art. 27: set off what the operator owes the tenant."""

    amount_yen: Yen
    on: date
    operator_debt: Text200


class AllocationOut(Output):
    """How much of a payment went to an invoice's interest and principal."""

    invoice_id: str
    on: date
    to_interest_yen: int
    to_principal_yen: int


class PaymentOut(Output):
    """A payment or offset and where it went; ``unapplied_yen`` is a credit balance."""

    id: str
    tenant_id: str
    method: str
    received_on: date
    amount_yen: int
    payer_name: str
    reference: str
    unapplied_yen: int
    flags: list[str]
    statement: dict[str, Any]
    created_at: datetime
    allocations: list[AllocationOut]


class PaymentRecordedOut(PaymentOut):
    """A payment just recorded; ``settled`` when nothing is left to pay."""

    settled: bool


class MatchedTransferOut(PaymentRecordedOut):
    """A CSV line recorded as a payment."""

    line: int


class TransferReportOut(Output):
    """A bank CSV import: matched lines became payments; importing again adds nothing."""

    rows: int
    matched: list[MatchedTransferOut]
    unmatched: list[dict[str, Any]]
    duplicates: int


class UnmatchedTransferOut(Output):
    """A bank credit no tenant could be matched to."""

    id: str
    received_on: date
    amount_yen: int
    payer_name: str
    reference: str
    reason: str
    resolved_payment_id: str | None
    imported_at: datetime


class OpenInvoiceOut(Output):
    """An open invoice: principal, interest (Art. 26) and days overdue."""

    invoice_id: str
    number: str
    due_on: date
    total_yen: int
    principal_outstanding_yen: int
    interest_accrued_yen: int
    interest_outstanding_yen: int
    days_overdue: int


class BalanceOut(Output):
    """What the tenant owes on a day."""

    as_of: date
    principal_outstanding_yen: int
    interest_outstanding_yen: int
    total_outstanding_yen: int
    invoices: list[OpenInvoiceOut]


class AgingRowOut(Output):
    """One tenant's receivables by days overdue."""

    tenant_id: str
    code: str
    current_yen: int
    overdue_1_30_yen: int = Field(validation_alias="1_30_yen")
    overdue_31_60_yen: int = Field(validation_alias="31_60_yen")
    overdue_61_90_yen: int = Field(validation_alias="61_90_yen")
    overdue_over_90_yen: int = Field(validation_alias="over_90_yen")
    interest_yen: int
    total_yen: int


class AgingOut(Output):
    """Accounts receivable aging."""

    as_of: date
    tenants: list[AgingRowOut]


# ---- outages (R4.7) ----


class OutageIn(Input):
    """A total outage of some services; the credit is computed from it."""

    services: list[ServiceName] = Field(min_length=1, max_length=3)
    cause: Cause
    started_at: AwareDatetime
    learned_at: AwareDatetime
    ended_at: AwareDatetime
    description: Note1000 = ""


class OutageOut(Output):
    """An outage and its credit: the waiver (Art. 22-6); damages shown, not added."""

    id: str
    tenant_id: str
    services: list[str]
    cause: str
    started_at: datetime
    learned_at: datetime
    ended_at: datetime
    month: date
    description: str
    rule: str | None
    monthly_fee_yen: int
    waiver_yen: int
    damages_yen: int
    applied_yen: int
    explanation: dict[str, Any]
    created_at: datetime


# ---- notices ----


class NoticeOut(Output):
    """A notice given to the tenant: what, to which contacts, when, by which channels."""

    id: str
    tenant_id: str
    kind: str
    article: str
    subject_ja: str
    subject_en: str
    body_ja: str
    body_en: str
    recipients: list[dict[str, Any]]
    channels: list[str]
    delivery: dict[str, Any]
    written: bool
    related_id: str | None
    sent_at: datetime


class NoticeDeliveryOut(Output):
    """An e-mail of a notice to one contact and its outcome."""

    id: str
    notice_id: str
    contact_kind: str
    name: str
    address: str
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    delivered_at: datetime | None
    failed_at: datetime | None
    last_error: str
    message_id: str


class SendReportOut(Output):
    """One pass of the notice mailer."""

    delivered: int
    retrying: int
    failed: int
    deliveries: list[dict[str, Any]]
