"""Request and response models of the HTTP API.

Requests forbid unknown fields, bound every string and number, and refuse control characters
and unpaired surrogates (they would break the database or a CSV export later). Updates
(``PATCH``) take any subset of fields; ``null`` only where the column may be empty.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable
from datetime import date, datetime
from typing import Annotated, Any, ClassVar, Generic, Literal, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    computed_field,
    create_model,
    field_validator,
)
from pydantic_core import PydanticCustomError

from koe.core.phone import to_domestic
from koe.tenancy.templates import TEMPLATES

# ---- building blocks ----

_ALLOWED_CONTROLS = frozenset("\t\n\r")


def _no_control(value: str) -> str:
    for ch in value:
        if unicodedata.category(ch) in ("Cc", "Cs") and ch not in _ALLOWED_CONTROLS:
            raise PydanticCustomError("invalid_characters", "control characters are not allowed")
    return value


def _single_line(value: str) -> str:
    if any(ch in _ALLOWED_CONTROLS for ch in value):
        raise PydanticCustomError("invalid_characters", "control characters are not allowed")
    return _no_control(value)


def _nfkc(value: Any) -> Any:
    return unicodedata.normalize("NFKC", value) if isinstance(value, str) else value


_LINE = AfterValidator(_single_line)
_TRIM = {"strip_whitespace": True}

Name = Annotated[str, StringConstraints(**_TRIM, min_length=1, max_length=100), _LINE]
Label = Annotated[str, StringConstraints(**_TRIM, max_length=100), _LINE]
Login = Annotated[str, StringConstraints(**_TRIM, min_length=1, max_length=100), _LINE]
Text200 = Annotated[str, StringConstraints(**_TRIM, min_length=1, max_length=200), _LINE]
Text300 = Annotated[str, StringConstraints(**_TRIM, min_length=1, max_length=300), _LINE]
Note500 = Annotated[str, StringConstraints(max_length=500), AfterValidator(_no_control)]
Search = Annotated[str, StringConstraints(min_length=1, max_length=100), _LINE]
Password = Annotated[
    str, StringConstraints(min_length=8, max_length=256), AfterValidator(_no_control)
]
Id = Annotated[str, StringConstraints(max_length=36, pattern=r"^[A-Za-z0-9-]{1,36}$")]
Language = Literal["ja", "en"]
TenantRole = Literal["tenant_admin", "supervisor", "agent"]
AgentRole = Literal["agent", "supervisor"]
Level = Annotated[int, Field(ge=1, le=10)]
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _email(value: str) -> str:
    if not _EMAIL.match(value):
        raise PydanticCustomError("invalid_email", "not a valid e-mail address")
    return value


Email = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=254), AfterValidator(_email)
]
PhoneText = Annotated[str, StringConstraints(max_length=30), AfterValidator(_single_line)]
Extension = Annotated[
    str, BeforeValidator(_nfkc), StringConstraints(strip_whitespace=True, max_length=8)
]
HHMM = Annotated[str, StringConstraints(pattern=r"^([01][0-9]|2[0-4]):[0-5][0-9]$")]
Span = tuple[HHMM, HHMM]
DaySpans = Annotated[list[Span], Field(max_length=10)]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]

MAX_DOCUMENT_BYTES = 64 * 1024
MAX_DOCUMENT_DEPTH = 12


def _check_document(value: dict[str, Any]) -> dict[str, Any]:
    def walk(node: Any, depth: int) -> None:
        if depth > MAX_DOCUMENT_DEPTH:
            raise PydanticCustomError("document_too_large", "document nested too deeply")
        if isinstance(node, str):
            _no_control(node)
        elif isinstance(node, dict):
            for key, child in node.items():
                walk(key, depth + 1)
                walk(child, depth + 1)
        elif isinstance(node, list):
            for child in node:
                walk(child, depth + 1)

    walk(value, 0)
    if len(json.dumps(value, ensure_ascii=False).encode()) > MAX_DOCUMENT_BYTES:
        raise PydanticCustomError("document_too_large", "document larger than 64 KiB")
    return value


Document = Annotated[dict[str, Any], AfterValidator(_check_document)]


def _timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as err:
        raise PydanticCustomError("invalid_timezone", "unknown time zone") from err
    return value


TimeZone = Annotated[str, StringConstraints(max_length=40), AfterValidator(_timezone)]


def _template(value: str) -> str:
    if value not in TEMPLATES:
        raise PydanticCustomError("invalid_template", "unknown IVR template")
    return value


Template = Annotated[str, StringConstraints(max_length=40), AfterValidator(_template)]


class Input(BaseModel):
    """A request body: unknown fields are an error."""

    model_config = ConfigDict(extra="forbid")


class Patch(Input):
    """A partial update: only the fields sent change; ``null`` only where allowed."""

    NULLABLE: ClassVar[frozenset[str]] = frozenset()

    @field_validator("*", mode="before")
    @classmethod
    def _not_null(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None and info.field_name not in cls.NULLABLE:
            raise PydanticCustomError("not_nullable", "cannot be null")
        return value


def patch_of(
    create: type[Input], *, exclude: Iterable[str] = (), nullable: Iterable[str] = ()
) -> type[Patch]:
    """The update model of ``create``: any subset of its fields, with the same constraints."""
    fields: dict[str, Any] = {}
    for name, info in create.model_fields.items():
        if name in exclude:
            continue
        kind: Any = (
            Annotated[(info.annotation, *info.metadata)] if info.metadata else info.annotation
        )
        fields[name] = (kind | None, None)
    model = create_model(create.__name__ + "Patch", __base__=Patch, **fields)
    model.NULLABLE = frozenset(nullable)
    return model


class Output(BaseModel):
    """A response body."""

    model_config = ConfigDict(extra="ignore")


T = TypeVar("T")


class PageOut(BaseModel, Generic[T]):
    """One page of a list and the total that matched."""

    items: list[T]
    total: int
    offset: int
    limit: int


class ListQuery(BaseModel):
    """Paging and search, common to every list."""

    model_config = ConfigDict(extra="forbid")

    offset: int = Field(0, ge=0, le=1_000_000)
    limit: int = Field(50, ge=1, le=500)
    q: Search | None = None


# ---- users ----


class UserCreate(Input):
    """A new user of the tenant."""

    login: Login
    name: Name
    email: Email | None = None
    role: TenantRole = "agent"
    password: Password
    language: Language = "ja"
    active: bool = True


class UserUpdate(patch_of(UserCreate, nullable={"email"})):  # type: ignore[misc]
    """Changes to a user."""


class UserOut(Output):
    """A user (never the password)."""

    id: str
    tenant_id: str
    login: str
    name: str
    email: str | None
    role: str
    language: str
    active: bool
    created_at: datetime


class UserQuery(ListQuery):
    """Filters on users."""

    role: TenantRole | None = None
    active: bool | None = None


# ---- agents ----


class AgentSkillIn(Input):
    """An agent's level in one skill."""

    skill_id: Id
    level: Level


class AgentCreate(Input):
    """A new agent (creates its user as well)."""

    login: Login
    password: Password
    display_name: Name
    extension: Extension
    role: AgentRole = "agent"
    email: Email | None = None
    language: Language = "ja"
    active: bool = True
    skills: list[AgentSkillIn] = Field(default_factory=list, max_length=100)


class AgentUpdate(patch_of(AgentCreate, exclude={"login", "language"}, nullable={"email"})):  # type: ignore[misc]
    """Changes to an agent."""


class AgentSkillOut(Output):
    """An agent's level in one skill."""

    skill_id: str
    level: int


class AgentOut(Output):
    """An agent and its user's login details."""

    id: str
    tenant_id: str
    user_id: str
    extension: str
    display_name: str
    login: str
    role: str
    email: str | None
    active: bool
    skills: list[AgentSkillOut]


class AgentQuery(ListQuery):
    """Filters on agents."""

    extension: Extension | None = None


# ---- skills ----


class SkillCreate(Input):
    """A new skill."""

    name: Name
    description: Note500 = ""


class SkillUpdate(patch_of(SkillCreate)):  # type: ignore[misc]
    """Changes to a skill."""


class SkillOut(Output):
    """A skill."""

    id: str
    tenant_id: str
    name: str
    description: str


# ---- queues ----


class QueueSkillIn(Input):
    """A skill a queue requires, at a minimum level."""

    skill_id: Id
    min_level: Level = 1


class QueueCreate(Input):
    """A new queue."""

    name: Name
    priority: Annotated[int, Field(ge=1, le=10)] = 5
    skills: list[QueueSkillIn] = Field(default_factory=list, max_length=50)
    wrap_up_seconds: Annotated[int, Field(ge=0, le=3600)] = 30
    max_wait_seconds: Annotated[int, Field(ge=1, le=86400)] = 600
    max_length: Annotated[int, Field(ge=1, le=10000)] = 50
    service_level_seconds: Annotated[int, Field(ge=1, le=3600)] = 20


class QueueUpdate(patch_of(QueueCreate)):  # type: ignore[misc]
    """Changes to a queue."""


class QueueOut(Output):
    """A queue."""

    id: str
    tenant_id: str
    name: str
    priority: int
    skills: list[dict[str, Any]]
    wrap_up_seconds: int
    max_wait_seconds: int
    max_length: int
    service_level_seconds: int


# ---- numbers ----

NumberKind = Literal["did", "toll_free"]


class NumberCreate(Input):
    """A DID for the tenant, in any common Japanese form (full-width digits too)."""

    number: PhoneText
    label: Label = ""
    flow_id: Id | None = None
    kind: NumberKind = "did"


class NumberUpdate(patch_of(NumberCreate, nullable={"flow_id"})):  # type: ignore[misc]
    """Changes to a number."""


class NumberOut(Output):
    """A number: stored in E.164, shown in the domestic form too."""

    id: str
    tenant_id: str
    e164: str
    label: str
    flow_id: str | None
    kind: str

    @computed_field  # type: ignore[prop-decorator]
    @property
    def number(self) -> str:
        """The domestic display form (03-1234-5678)."""
        return to_domestic(self.e164)


class NumberQuery(ListQuery):
    """Filters on numbers."""

    flow_id: Id | None = None


# ---- flows and IVRs ----


class FlowCreate(Input):
    """A new inbound call flow."""

    name: Name
    description: Note500 = ""
    document: Document


class FlowUpdate(patch_of(FlowCreate)):  # type: ignore[misc]
    """Changes to a flow (a new document bumps its version)."""


class FlowOut(Output):
    """An inbound call flow."""

    id: str
    tenant_id: str
    name: str
    description: str
    version: int
    document: dict[str, Any]


class IvrCreate(Input):
    """A new IVR menu built from a template."""

    name: Name
    template: Template
    document: Document


class IvrUpdate(patch_of(IvrCreate)):  # type: ignore[misc]
    """Changes to an IVR menu."""


class IvrOut(Output):
    """An IVR menu."""

    id: str
    tenant_id: str
    name: str
    template: str
    document: dict[str, Any]


class IvrQuery(ListQuery):
    """Filters on IVR menus."""

    template: Template | None = None


# ---- business hours ----


class SpecialDay(Input):
    """A date with its own hours (no spans: closed)."""

    date: date
    spans: DaySpans = Field(default_factory=list)
    note: Label = ""


class HoursCreate(Input):
    """A new business-hours calendar."""

    name: Name
    timezone: TimeZone = "Asia/Tokyo"
    weekly: dict[Weekday, DaySpans] = Field(default_factory=dict)
    special_days: list[SpecialDay] = Field(default_factory=list, max_length=400)
    closed_on_public_holidays: bool = True


class HoursUpdate(patch_of(HoursCreate)):  # type: ignore[misc]
    """Changes to a business-hours calendar."""


class HoursOut(Output):
    """A business-hours calendar."""

    id: str
    tenant_id: str
    name: str
    timezone: str
    weekly: dict[str, Any]
    special_days: list[Any]
    closed_on_public_holidays: bool


# ---- contacts ----

ContactKind = Literal["contract", "technical", "emergency", "billing"]


class ContactCreate(Input):
    """A contract, technical, emergency or billing contact of the tenant (R3.1)."""

    kind: ContactKind
    name: Name
    department: Label | None = None
    email: Email | None = None
    phone: Annotated[str, StringConstraints(max_length=20), AfterValidator(_single_line)] | None = (
        None
    )


class ContactUpdate(patch_of(ContactCreate, nullable={"department", "email", "phone"})):  # type: ignore[misc]
    """Changes to a contact."""


class ContactOut(Output):
    """A tenant contact."""

    id: str
    tenant_id: str
    kind: str
    name: str
    department: str | None
    email: str | None
    phone: str | None


class ContactQuery(ListQuery):
    """Filters on contacts."""

    kind: ContactKind | None = None


# ---- licenses and add-ons ----

LicenseKindName = Literal["line", "seat", "admin", "additional_user"]
AddOnName = Literal["recording_delivery", "transcription"]


class LicenseBuy(Input):
    """Licenses bought for a tenant (operator)."""

    kind: LicenseKindName
    quantity: Annotated[int, Field(ge=1, le=10000)]
    effective_from: date | None = None
    effective_to: date | None = None


class LicenseOut(Output):
    """A license holding over a date range."""

    id: str
    tenant_id: str
    kind: str
    quantity: int
    effective_from: date
    effective_to: date | None
    created_at: datetime


class LicenseQuery(ListQuery):
    """Filters on license holdings."""

    kind: LicenseKindName | None = None


class LicenseUsageOut(Output):
    """Licenses in force today and the named users counted against them."""

    line: int
    seat: int
    admin: int
    additional_user: int
    named_users_allowed: int
    named_users_in_use: int


class AddOnSubscribe(Input):
    """An add-on subscription (operator)."""

    addon: AddOnName
    units: Annotated[int, Field(ge=1, le=1000)] = 1
    starts_on: date | None = None


class AddOnOut(Output):
    """An add-on subscription."""

    id: str
    tenant_id: str
    addon: str
    units: int
    starts_on: date
    ends_on: date | None
    created_at: datetime


class AddOnQuery(ListQuery):
    """Filters on add-on subscriptions."""

    addon: AddOnName | None = None


# ---- tenants (operator) ----

TenantStatus = Literal["applied", "active", "ended"]
_TENANT_OPTIONAL = {
    "company_name_kana",
    "postal_code",
    "fax",
    "billing_name",
    "billing_postal_code",
    "billing_address",
    "service_start_date",
    "service_end_date",
}
PostalCode = Annotated[str, StringConstraints(max_length=10, pattern=r"^[0-9]{3}-?[0-9]{4}$")]


class TenantCreate(Input):
    """A contracting company (R3.1)."""

    code: Annotated[str, StringConstraints(min_length=3, max_length=40)]
    company_name: Text200
    company_name_kana: Text200 | None = None
    representative_name: Name
    postal_code: PostalCode | None = None
    address: Text300
    phone: PhoneText
    fax: PhoneText | None = None
    billing_name: Text200 | None = None
    billing_postal_code: PostalCode | None = None
    billing_address: Text300 | None = None
    status: TenantStatus = "applied"
    service_start_date: date | None = None
    service_end_date: date | None = None
    contacts: list[ContactCreate] = Field(default_factory=list, max_length=20)


class TenantUpdate(patch_of(TenantCreate, exclude={"code", "contacts"}, nullable=_TENANT_OPTIONAL)):  # type: ignore[misc]
    """Changes to a tenant (its code never changes)."""


OperatorRole = Literal["operator_admin", "operator_staff"]


class StaffCreate(Input):
    """A new member of the operator's staff."""

    login: Login
    name: Name
    email: Email | None = None
    role: OperatorRole = "operator_staff"
    password: Password


class StaffUpdate(Patch):
    """Changes to a staff member; a new password, role or deactivation ends their sessions."""

    NULLABLE: ClassVar[frozenset[str]] = frozenset({"email"})

    name: Name | None = None
    email: Email | None = None
    role: OperatorRole | None = None
    active: bool | None = None
    password: Password | None = None


class StaffOut(Output):
    """A member of the operator's staff (never the password)."""

    id: str
    login: str
    name: str
    email: str | None
    role: str
    active: bool
    created_at: datetime


class TenantOut(Output):
    """A tenant."""

    id: str
    code: str
    company_name: str
    company_name_kana: str | None
    representative_name: str
    postal_code: str | None
    address: str
    phone: str
    fax: str | None
    billing_name: str | None
    billing_postal_code: str | None
    billing_address: str | None
    status: str
    service_start_date: date | None
    service_end_date: date | None
    settings: dict[str, Any]
    created_at: datetime


# ---- authentication ----


class LoginIn(Input):
    """Credentials; ``tenant`` is the tenant code (omit it for operator staff)."""

    tenant: Annotated[str, StringConstraints(min_length=1, max_length=40)] | None = None
    login: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    password: Annotated[str, StringConstraints(min_length=1, max_length=256)]
    device_id: (
        Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{8,64}$", max_length=64)] | None
    ) = None
    device_label: Label = ""
    takeover: bool = False

    @field_validator("tenant", "login", "password")
    @classmethod
    def _clean(cls, value: str | None) -> str | None:
        return None if value is None else _no_control(value)


class LoginOut(Output):
    """A new session. Send ``token`` as ``Authorization: Bearer <token>``."""

    token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105
    expires_at: datetime
    role: str
    tenant_id: str | None
    user_id: str
    device_id: str
    released_devices: list[str]


class PasswordChange(Input):
    """The caller's new password (their other sessions end)."""

    current_password: Annotated[str, StringConstraints(min_length=1, max_length=256)]
    new_password: Password


class RevokedOut(Output):
    """How many sessions were ended."""

    revoked_sessions: int


class AgentProfile(Output):
    """The caller's agent profile."""

    id: str
    extension: str
    display_name: str


class MeOut(Output):
    """The caller."""

    id: str
    login: str
    name: str
    email: str | None
    role: str
    language: str
    tenant_id: str | None
    tenant_code: str | None
    agent: AgentProfile | None
    device_id: str
    session_expires_at: datetime


class DeviceOut(Output):
    """An admin PC holding an admin license."""

    device_id: str
    label: str
    since: datetime
    last_seen: datetime
    current: bool


class DevicesOut(Output):
    """Admin licenses and the admin PCs in use."""

    licenses: int
    in_use: list[DeviceOut]


class ErrorField(BaseModel):
    """One field's problem."""

    field: str
    code: str
    message: str


class ErrorOut(BaseModel):
    """Every error: a stable code, a message in the caller's language, per-field details."""

    code: str
    message: str
    fields: list[ErrorField]
    details: dict[str, Any] | None = None
