"""The standard initial setup (R2.3): what the one-off setup fee buys, in one transaction.

Within 5 lines / 6 seats / 1 admin: the license holdings, a tenant admin, agent registration
(one agent per seat, with extensions and skill levels), a number plan (DIDs mapped to
inbound flows), an IVR built from a template, 2 inbound call flows and 3 skills with a
queue each. This is a package, not a product limit: the tenant adds more afterwards.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from koe.core.domain import LicenseKind, Role
from koe.core.errors import FieldError, ValidationFailed
from koe.core.phone import to_e164
from koe.tenancy.service import Batch, TenantService, View
from koe.tenancy.templates import TEMPLATES, build_ivr

LINES = 5
SEATS = 6
ADMINS = 1
MAX_SKILLS = 3
DEFAULT_SKILLS = ("受付", "サポート", "請求")
DEFAULT_TEMPLATE = "hours_menu"
MAIN_FLOW = "代表着信"
DIRECT_FLOW = "直通着信"
WEEKDAY_HOURS = {day: [["09:00", "18:00"]] for day in ("mon", "tue", "wed", "thu", "fri")}
_CLOSED_PROMPT = {
    "ja": "お電話ありがとうございます。ただいま営業時間外です。"
    "発信音の後にご用件をお話しください。",
    "en": "Thank you for calling. We are closed now. Please leave a message after the tone.",
}


def _invalid(field_name: str, ja: str, en: str) -> ValidationFailed:
    return ValidationFailed(
        "invalid_standard_setup", ja, en, [FieldError(field_name, "invalid", ja, en)]
    )


def new_password() -> str:
    """A random password to hand out once (16 URL-safe characters)."""
    return secrets.token_urlsafe(12)


@dataclass(frozen=True, slots=True)
class StandardSetup:
    """Choices for the standard setup; defaults give the full 5 / 6 / 1 package."""

    ivr_template: str = DEFAULT_TEMPLATE
    skills: Sequence[str] = DEFAULT_SKILLS
    numbers: Sequence[str] = ()
    lines: int = LINES
    seats: int = SEATS
    admins: int = ADMINS
    first_extension: int = 101
    admin_login: str = "admin"

    def check(self) -> None:
        """Refuse choices outside the package (more is a custom setup, or added later)."""
        for name, value, limit in (
            ("lines", self.lines, LINES),
            ("seats", self.seats, SEATS),
            ("admins", self.admins, ADMINS),
        ):
            if not 1 <= value <= limit:
                raise _invalid(
                    name,
                    f"標準初期設定は {name} 1〜{limit} の範囲です({value} が指定されました)。"
                    "それを超える分はあとから追加するか、個別設定になります。",
                    f"The standard setup covers {name} 1 to {limit} ({value} given); "
                    "add more afterwards or order a custom setup.",
                )
        names = [s.strip() for s in self.skills]
        if not 1 <= len(names) <= MAX_SKILLS or len(set(names)) != len(names) or "" in names:
            raise _invalid(
                "skills",
                f"標準初期設定のスキルは重複のない1〜{MAX_SKILLS}個です。",
                f"The standard setup has 1 to {MAX_SKILLS} distinct, non-empty skills.",
            )
        if self.ivr_template not in TEMPLATES:
            build_ivr(self.ivr_template, ["-"], "-")  # raises the precise error
        if not 10 <= self.first_extension <= 99_999_999 - self.seats:
            raise _invalid(
                "first_extension",
                "先頭の内線番号は2〜8桁の数字です。",
                "The first extension must be a number of 2 to 8 digits.",
            )
        e164 = [to_e164(n) for n in self.numbers]
        if len(set(e164)) != len(e164):
            raise _invalid(
                "numbers",
                "同じ電話番号が2回指定されています。",
                "The same number is given twice.",
            )


@dataclass(frozen=True, slots=True)
class Credential:
    """A login created by the setup and its one-time password."""

    login: str
    role: Role
    password: str
    extension: str | None = None


@dataclass(slots=True)
class StandardResult:
    """What the standard setup created."""

    tenant: View
    credentials: list[Credential] = field(default_factory=list)
    skills: list[View] = field(default_factory=list)
    queues: list[View] = field(default_factory=list)
    agents: list[View] = field(default_factory=list)
    hours: list[View] = field(default_factory=list)
    ivrs: list[View] = field(default_factory=list)
    flows: list[View] = field(default_factory=list)
    numbers: list[View] = field(default_factory=list)


def _flow(hours_id: str, open_node: dict[str, Any]) -> dict[str, Any]:
    """Business hours → ``open_node``; closed, or when that gives up → voicemail."""
    return {
        "start": "hours",
        "nodes": {
            "hours": {
                "type": "business_hours",
                "calendar": hours_id,
                "open": "open",
                "closed": "closed",
            },
            "open": open_node | {"next": "voicemail"},
            "closed": {"type": "play", "prompt": _CLOSED_PROMPT, "next": "voicemail"},
            "voicemail": {"type": "voicemail", "next": "end"},
            "end": {"type": "hangup"},
        },
    }


def _seat_holder(index: int, seats: int) -> tuple[str, str, Role]:
    """Login, display name and role of the person on seat ``index``: a supervisor first."""
    if index == 0 and seats > 1:
        return "supervisor01", "スーパーバイザー1", Role.SUPERVISOR
    number = index if seats > 1 else 1
    return f"agent{number:02d}", f"エージェント{number}", Role.AGENT


def _level(role: Role, seat: int, skill: int, skills: int) -> int:
    """Skill levels: a supervisor 10 in all; an agent 8 in its main skill, 4 in the others."""
    if role is Role.SUPERVISOR:
        return 10
    return 8 if skill == seat % skills else 4


async def _fill(batch: Batch, setup: StandardSetup, company: str, result: StandardResult) -> None:
    """Create the directory of the package inside the tenant's creating transaction."""
    password = new_password()
    await batch.create(
        "users",
        {
            "login": setup.admin_login,
            "name": "管理者",
            "role": Role.TENANT_ADMIN,
            "password": password,
        },
    )
    result.credentials.append(Credential(setup.admin_login, Role.TENANT_ADMIN, password))
    names = [s.strip() for s in setup.skills]
    for name in names:
        skill = await batch.create("skills", {"name": name, "description": "標準初期設定"})
        result.skills.append(skill)
        result.queues.append(
            await batch.create(
                "queues", {"name": name, "skills": [{"skill_id": skill["id"], "min_level": 1}]}
            )
        )
    for i in range(setup.seats):
        login, display_name, role = _seat_holder(i, setup.seats)
        extension = str(setup.first_extension + i)
        levels = [
            {"skill_id": s["id"], "level": _level(role, i, j, len(names))}
            for j, s in enumerate(result.skills)
        ]
        password = new_password()
        result.agents.append(
            await batch.create(
                "agents",
                {
                    "login": login,
                    "display_name": display_name,
                    "extension": extension,
                    "role": role,
                    "password": password,
                    "skills": levels,
                },
            )
        )
        result.credentials.append(Credential(login, role, password, extension))
    hours = await batch.create(
        "hours", {"name": "営業時間", "weekly": WEEKDAY_HOURS, "closed_on_public_holidays": True}
    )
    result.hours.append(hours)
    queue_ids = [q["id"] for q in result.queues]
    ivr = await batch.create(
        "ivrs",
        {
            "name": "代表IVR",
            "template": setup.ivr_template,
            "document": build_ivr(setup.ivr_template, queue_ids, company),
        },
    )
    result.ivrs.append(ivr)
    direct_queue = queue_ids[1] if len(queue_ids) > 1 else queue_ids[0]
    for name, document in (
        (MAIN_FLOW, _flow(hours["id"], {"type": "ivr_menu", "ivr": ivr["id"]})),
        (DIRECT_FLOW, _flow(hours["id"], {"type": "queue", "queue": direct_queue})),
    ):
        result.flows.append(await batch.create("flows", {"name": name, "document": document}))
    for i, number in enumerate(setup.numbers):
        flow = result.flows[1] if i == 1 else result.flows[0]
        result.numbers.append(
            await batch.create(
                "numbers",
                {"number": number, "label": flow["name"], "flow_id": flow["id"]},
            )
        )


async def provision_standard(
    tenants: TenantService,
    data: Mapping[str, Any],
    contacts: Sequence[Mapping[str, Any]] = (),
    setup: StandardSetup | None = None,
) -> StandardResult:
    """Create a tenant with the standard initial setup; all of it or, on any error, nothing.

    The DIDs default to the tenant's own phone number. The first DID rings the main flow
    (business hours → IVR → queues), the second the direct line of the second skill's queue,
    any further DIDs the main flow. Generated passwords are returned once, never stored.
    """
    setup = setup or StandardSetup()
    if not setup.numbers and data.get("phone"):
        setup = replace(setup, numbers=[str(data["phone"])])
    setup.check()
    result = StandardResult(tenant={})

    async def fill(batch: Batch) -> None:
        await _fill(batch, setup, str(data.get("company_name", "")), result)

    licenses = {
        LicenseKind.LINE: setup.lines,
        LicenseKind.SEAT: setup.seats,
        LicenseKind.ADMIN: setup.admins,
    }
    result.tenant = await tenants.create(data, contacts, licenses=licenses, setup=fill)
    return result
