"""``koe tenant``, ``koe user`` and ``koe operator``: the operator's administration commands."""

from __future__ import annotations

import json
from datetime import date
from enum import StrEnum
from typing import Annotated, Any

import typer

from koe.cli.runtime import CliError, Services, run, say, state, table
from koe.core.clock import jst_today
from koe.core.domain import (
    OPERATOR_ROLES,
    TENANT_ROLES,
    AddOn,
    ContractStatus,
    LicenseKind,
    Role,
)
from koe.core.phone import to_domestic
from koe.tenancy.standard import (
    ADMINS,
    DEFAULT_SKILLS,
    DEFAULT_TEMPLATE,
    LINES,
    SEATS,
    StandardResult,
    StandardSetup,
    new_password,
    provision_standard,
)
from koe.tenancy.templates import TEMPLATES

tenant_app = typer.Typer(help="Create, list and show tenants.", no_args_is_help=True)
user_app = typer.Typer(help="Add tenant users and reset their passwords.", no_args_is_help=True)
operator_app = typer.Typer(help="Operator staff accounts.", no_args_is_help=True)

CONTACT_KINDS = ("contract", "technical", "emergency", "billing")
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]
TenantOption = Annotated[str, typer.Option("--tenant", "-t", help="Tenant code.")]
EmailOption = Annotated[str | None, typer.Option(help="Email address.")]
PasswordOption = Annotated[
    str | None, typer.Option(help="Password (default: generated and printed once).")
]


def _choice(value: str, allowed: tuple[StrEnum, ...], option: str) -> str:
    """``value`` if it is one of ``allowed``, else a usage error listing them."""
    names = [a.value for a in allowed]
    if value not in names:
        raise typer.BadParameter(f"{value!r} is not one of {', '.join(names)}", param_hint=option)
    return value


def _one_time_password(lang: str, given: str | None, secret: str) -> None:
    """Print a generated password once (never one the operator typed)."""
    if given is None:
        say(
            lang,
            f"パスワード(この一度だけ表示): {secret}",
            f"Password (shown only this once): {secret}",
        )


def _opt(help_text: str) -> Any:
    return typer.Option(help=help_text)


def _contact(
    kind: str, name: str | None, department: str | None, email: str | None, phone: str | None
) -> dict[str, Any] | None:
    if not any((name, department, email, phone)):
        return None
    if not name:
        raise CliError(
            "contact_name_required",
            f"{kind} 連絡先には --{kind}-name が必要です。",
            f"The {kind} contact needs --{kind}-name.",
        )
    return {"kind": kind, "name": name, "department": department, "email": email, "phone": phone}


def _print_standard(lang: str, result: StandardResult) -> None:
    say(
        lang,
        "標準初期設定を行いました: ライセンス(外線・シート・管理機能)、エージェント、"
        "番号計画、IVR、着信フロー2本、スキル3つ。",
        "Standard initial setup done: licenses (lines, seats, admin), agents, number plan, "
        "IVR, 2 inbound flows, skills with queues.",
    )
    flows = {f["id"]: f["name"] for f in result.flows}
    typer.echo(
        table(
            ["number", "flow"],
            [[to_domestic(n["e164"]), flows.get(n["flow_id"], "")] for n in result.numbers],
        )
    )
    unassigned = [
        f["name"] for f in result.flows if f["id"] not in {n["flow_id"] for n in result.numbers}
    ]
    if unassigned:
        say(
            lang,
            f"番号のないフロー: {', '.join(unassigned)}(番号はあとから追加できます)",
            f"Flows without a number yet: {', '.join(unassigned)} (add a number later).",
        )
    say(
        lang,
        "ログイン(パスワードはこの一度だけ表示されます。今すぐ控えてください):",
        "Logins (passwords are shown only this once; store them now):",
    )
    typer.echo(
        table(
            ["login", "password", "role", "extension"],
            [[c.login, c.password, c.role.value, c.extension or ""] for c in result.credentials],
        )
    )


@tenant_app.command("create")
def tenant_create(
    ctx: typer.Context,
    code: Annotated[str, typer.Option(help="Tenant code: 3-40 of a-z, 0-9 and '-'.")],
    company_name: Annotated[str, typer.Option(help="Company name (会社名).")],
    representative: Annotated[str, typer.Option(help="Representative's name (代表者名).")],
    address: Annotated[str, typer.Option(help="Address (住所).")],
    phone: Annotated[str, typer.Option(help="Phone number, any common Japanese form.")],
    company_name_kana: Annotated[str | None, _opt("Company name in kana (フリガナ).")] = None,
    postal_code: Annotated[str | None, _opt("Postal code (郵便番号).")] = None,
    fax: Annotated[str | None, _opt("Fax number.")] = None,
    billing_name: Annotated[str | None, _opt("Billing addressee (請求先名).")] = None,
    billing_postal_code: Annotated[str | None, _opt("Billing postal code.")] = None,
    billing_address: Annotated[str | None, _opt("Billing address (請求先住所).")] = None,
    contract_name: Annotated[str | None, _opt("Contract contact: name.")] = None,
    contract_department: Annotated[str | None, _opt("Contract contact: department.")] = None,
    contract_email: Annotated[str | None, _opt("Contract contact: email.")] = None,
    contract_phone: Annotated[str | None, _opt("Contract contact: phone.")] = None,
    technical_name: Annotated[str | None, _opt("Technical contact: name.")] = None,
    technical_department: Annotated[str | None, _opt("Technical contact: department.")] = None,
    technical_email: Annotated[str | None, _opt("Technical contact: email.")] = None,
    technical_phone: Annotated[str | None, _opt("Technical contact: phone.")] = None,
    emergency_name: Annotated[str | None, _opt("Emergency contact: name.")] = None,
    emergency_department: Annotated[str | None, _opt("Emergency contact: department.")] = None,
    emergency_email: Annotated[str | None, _opt("Emergency contact: email.")] = None,
    emergency_phone: Annotated[str | None, _opt("Emergency contact: phone.")] = None,
    billing_contact_name: Annotated[str | None, _opt("Billing contact: name.")] = None,
    billing_contact_department: Annotated[str | None, _opt("Billing contact: department.")] = None,
    billing_contact_email: Annotated[str | None, _opt("Billing contact: email.")] = None,
    billing_contact_phone: Annotated[str | None, _opt("Billing contact: phone.")] = None,
    lines: Annotated[
        int | None, _opt(f"External line licenses (default 0; {LINES} with --standard).")
    ] = None,
    seats: Annotated[
        int | None, _opt(f"Seat licenses (default 0; {SEATS} with --standard).")
    ] = None,
    admins: Annotated[
        int | None, _opt(f"Admin licenses (default 0; {ADMINS} with --standard).")
    ] = None,
    additional_users: Annotated[int, _opt("Additional user licenses.")] = 0,
    addon: Annotated[
        list[AddOn] | None,
        _opt("Add-on to subscribe (repeatable): recording_delivery, transcription."),
    ] = None,
    transcription_units: Annotated[
        int, _opt("Transcription plan units of 1,000 minutes a month.")
    ] = 1,
    status: Annotated[
        str, _opt("Contract status: applied, or active (service starts this month).")
    ] = "applied",
    standard: Annotated[
        bool,
        typer.Option(
            "--standard",
            help="Standard initial setup (R2.3): licenses, admin, agents, number plan, IVR, "
            "2 inbound flows, 3 skills with queues.",
        ),
    ] = False,
    ivr_template: Annotated[
        str, _opt(f"IVR template for --standard: {', '.join(TEMPLATES)}.")
    ] = DEFAULT_TEMPLATE,
    number: Annotated[
        list[str] | None,
        _opt(
            "DID for --standard (repeatable; default: --phone). 1st: main flow, 2nd: direct line."
        ),
    ] = None,
    skill: Annotated[
        list[str] | None,
        _opt(f"Skill for --standard (up to 3; default: {', '.join(DEFAULT_SKILLS)})."),
    ] = None,
    first_extension: Annotated[int, _opt("First agent extension for --standard.")] = 101,
    as_json: JsonOption = False,
) -> None:
    """Register a tenant with its application details (R3.1), optionally fully set up."""
    st = state(ctx)
    data: dict[str, Any] = {
        "code": code,
        "company_name": company_name,
        "company_name_kana": company_name_kana,
        "representative_name": representative,
        "postal_code": postal_code,
        "address": address,
        "phone": phone,
        "fax": fax,
        "billing_name": billing_name,
        "billing_postal_code": billing_postal_code,
        "billing_address": billing_address,
        "status": ContractStatus(
            _choice(status, (ContractStatus.APPLIED, ContractStatus.ACTIVE), "--status")
        ),
    }
    data = {k: v for k, v in data.items() if v is not None}
    contacts = [
        c
        for c in (
            _contact(
                "contract", contract_name, contract_department, contract_email, contract_phone
            ),
            _contact(
                "technical", technical_name, technical_department, technical_email, technical_phone
            ),
            _contact(
                "emergency", emergency_name, emergency_department, emergency_email, emergency_phone
            ),
            _contact(
                "billing",
                billing_contact_name,
                billing_contact_department,
                billing_contact_email,
                billing_contact_phone,
            ),
        )
        if c is not None
    ]
    default = (LINES, SEATS, ADMINS) if standard else (0, 0, 0)
    quantities = {
        LicenseKind.LINE: default[0] if lines is None else lines,
        LicenseKind.SEAT: default[1] if seats is None else seats,
        LicenseKind.ADMIN: default[2] if admins is None else admins,
    }
    addons = list(dict.fromkeys(addon or []))
    if addons and not any(quantities.values()):
        raise CliError(
            "addon_requires_basic",
            "付加機能は基本機能(外線・シート・管理機能ライセンス)の契約が必要です。",
            "Add-ons require the basic service (line, seat or admin licenses).",
        )

    async def work(koe: Services) -> tuple[dict[str, Any], StandardResult | None]:
        if status == ContractStatus.ACTIVE:
            today = jst_today(koe.clock)
            data["service_start_date"] = date(today.year, today.month, 1)
        result: StandardResult | None = None
        if standard:
            setup = StandardSetup(
                ivr_template=ivr_template,
                skills=tuple(skill) if skill else DEFAULT_SKILLS,
                numbers=tuple(number or ()),
                lines=quantities[LicenseKind.LINE],
                seats=quantities[LicenseKind.SEAT],
                admins=quantities[LicenseKind.ADMIN],
                first_extension=first_extension,
            )
            result = await provision_standard(koe.tenants, data, contacts, setup)
            tenant = result.tenant
        else:
            if number or skill:
                raise CliError(
                    "standard_only",
                    "--number と --skill は --standard と一緒に使います。",
                    "--number and --skill go with --standard.",
                )
            tenant = await koe.tenants.create(data, contacts, licenses=quantities)
        if additional_users:
            await koe.tenants.add_license(
                tenant["id"], LicenseKind.ADDITIONAL_USER, additional_users
            )
        for item in addons:
            units = transcription_units if item is AddOn.TRANSCRIPTION else 1
            await koe.tenants.subscribe_addon(tenant["id"], item, units)
        return tenant, result

    tenant, result = run(st, st.settings(), work)
    if as_json:
        payload: dict[str, Any] = {"tenant": tenant}
        if result is not None:
            payload["logins"] = [
                {
                    "login": c.login,
                    "password": c.password,
                    "role": c.role.value,
                    "extension": c.extension,
                }
                for c in result.credentials
            ]
        typer.echo(json.dumps(payload, ensure_ascii=False, indent=2, default=str))
        return
    say(
        st.lang,
        f"テナント {tenant['code']}({tenant['company_name']})を作成しました。",
        f"Created tenant {tenant['code']} ({tenant['company_name']}).",
    )
    if result is not None:
        _print_standard(st.lang, result)


@tenant_app.command("list")
def tenant_list(
    ctx: typer.Context,
    q: Annotated[str | None, typer.Option("--q", help="Filter by code or company name.")] = None,
    as_json: JsonOption = False,
) -> None:
    """List tenants."""
    st = state(ctx)

    async def work(koe: Services) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        while True:
            page, total = await koe.tenants.list(q=q, offset=len(rows), limit=500)
            rows += page
            if not page or len(rows) >= total:
                return rows

    tenants = run(st, st.settings(), work)
    if as_json:
        typer.echo(json.dumps(tenants, ensure_ascii=False, indent=2, default=str))
        return
    typer.echo(
        table(
            ["code", "company", "status", "phone"],
            [[t["code"], t["company_name"], t["status"], to_domestic(t["phone"])] for t in tenants],
        )
    )


RESOURCES_SHOWN = ("users", "agents", "skills", "queues", "numbers", "flows", "ivrs", "hours")


@tenant_app.command("show")
def tenant_show(
    ctx: typer.Context,
    code: Annotated[str, typer.Argument(help="Tenant code.")],
    as_json: JsonOption = False,
) -> None:
    """Show a tenant: details, contacts, licenses in force, directory counts, number plan."""
    st = state(ctx)

    async def work(koe: Services) -> dict[str, Any]:
        tenant = await koe.tenants.by_code(code)
        tid = tenant["id"]
        counts = {r: (await koe.directory.page(tid, r, limit=1))[1] for r in RESOURCES_SHOWN}
        contacts, _ = await koe.directory.page(tid, "contacts", limit=500)
        numbers, _ = await koe.directory.page(tid, "numbers", limit=500)
        flows, _ = await koe.directory.page(tid, "flows", limit=500)
        names = {f["id"]: f["name"] for f in flows}
        return {
            "tenant": tenant,
            "contacts": contacts,
            "licenses": await koe.tenants.license_usage(tid),
            "counts": counts,
            "numbers": [
                {"number": n["e164"], "flow": names.get(n["flow_id"] or "")} for n in numbers
            ],
        }

    info = run(st, st.settings(), work)
    if as_json:
        typer.echo(json.dumps(info, ensure_ascii=False, indent=2, default=str))
        return
    tenant = info["tenant"]
    typer.echo(
        table(
            ["field", "value"],
            [
                [k, to_domestic(v) if k in ("phone", "fax") else v]
                for k, v in tenant.items()
                if k not in ("id", "settings") and v not in (None, "")
            ],
        )
    )
    if info["contacts"]:
        typer.echo()
        typer.echo(
            table(
                ["contact", "name", "department", "email", "phone"],
                [
                    [
                        c["kind"],
                        c["name"],
                        c["department"],
                        c["email"],
                        c["phone"] and to_domestic(c["phone"]),
                    ]
                    for c in info["contacts"]
                ],
            )
        )
    typer.echo()
    lic = info["licenses"]
    typer.echo(
        table(
            ["lines", "seats", "admin", "additional users", "named users"],
            [
                [
                    lic["line"],
                    lic["seat"],
                    lic["admin"],
                    lic["additional_user"],
                    f"{lic['named_users_in_use']}/{lic['named_users_allowed']}",
                ]
            ],
        )
    )
    typer.echo()
    typer.echo(table(list(info["counts"]), [list(info["counts"].values())]))
    if info["numbers"]:
        typer.echo()
        typer.echo(
            table(
                ["number", "flow"],
                [[to_domestic(n["number"]), n["flow"] or "-"] for n in info["numbers"]],
            )
        )


def _parse_skill(text: str) -> tuple[str, int]:
    name, sep, level = text.replace("：", ":").rpartition(":")
    if not sep or not name.strip() or not level.strip().isdigit():
        raise typer.BadParameter(f"{text!r}: use NAME:LEVEL (level 1-10)", param_hint="--skill")
    return name.strip(), int(level)


@user_app.command("add")
def user_add(
    ctx: typer.Context,
    tenant: TenantOption,
    login: Annotated[str, typer.Option(help="Login name (unique in the tenant).")],
    name: Annotated[str, typer.Option(help="Display name.")],
    role: Annotated[str, typer.Option(help="tenant_admin, supervisor or agent.")] = "agent",
    email: EmailOption = None,
    password: PasswordOption = None,
    extension: Annotated[
        str | None, typer.Option(help="Extension: makes the user an agent (agent/supervisor).")
    ] = None,
    skill: Annotated[
        list[str] | None, typer.Option(help="Agent skill as NAME:LEVEL (repeatable).")
    ] = None,
    language: Annotated[str, typer.Option(help="ja or en.")] = "ja",
) -> None:
    """Add a user to a tenant; with --extension also its agent profile (licenses checked)."""
    st = state(ctx)
    skills = [_parse_skill(s) for s in skill or []]
    secret = password or new_password()
    data: dict[str, Any] = {
        "login": login,
        "email": email,
        "role": Role(_choice(role, TENANT_ROLES, "--role")),
        "password": secret,
        "language": language,
    }

    async def work(koe: Services) -> dict[str, Any]:
        tid = (await koe.tenants.by_code(tenant))["id"]
        if extension is None:
            if skills:
                raise CliError(
                    "skills_need_extension",
                    "--skill は --extension(エージェント)と一緒に使います。",
                    "--skill needs --extension (an agent).",
                )
            return await koe.directory.create(tid, "users", data | {"name": name})
        known, _ = await koe.directory.page(tid, "skills", limit=500)
        ids = {s["name"]: s["id"] for s in known}
        missing = [n for n, _ in skills if n not in ids]
        if missing:
            raise CliError(
                "unknown_skill",
                f"スキル {', '.join(missing)} はありません。",
                f"No skill {', '.join(missing)} in this tenant.",
            )
        return await koe.directory.create(
            tid,
            "agents",
            data
            | {
                "display_name": name,
                "extension": extension,
                "skills": [{"skill_id": ids[n], "level": lv} for n, lv in skills],
            },
        )

    view = run(st, st.settings(), work)
    say(
        st.lang,
        f"ユーザー {view['login']}({view['role']})を追加しました。",
        f"Added user {view['login']} ({view['role']}).",
    )
    _one_time_password(st.lang, password, secret)


@user_app.command("password")
def user_password(
    ctx: typer.Context,
    tenant: TenantOption,
    login: Annotated[str, typer.Option(help="Login name.")],
    password: PasswordOption = None,
) -> None:
    """Set a user's password (ends the user's sessions)."""
    st = state(ctx)
    secret = password or new_password()

    async def work(koe: Services) -> None:
        tid = (await koe.tenants.by_code(tenant))["id"]
        users, _ = await koe.directory.page(tid, "users", q=login, limit=500)
        match = [u for u in users if u["login"] == login]
        if not match:
            raise CliError(
                "not_found", f"ユーザー {login} が見つかりません。", f"User {login} not found."
            )
        await koe.directory.update(tid, "users", match[0]["id"], {"password": secret})

    run(st, st.settings(), work)
    say(st.lang, f"{login} のパスワードを設定しました。", f"Password of {login} set.")
    _one_time_password(st.lang, password, secret)


@operator_app.command("add")
def operator_add(
    ctx: typer.Context,
    login: Annotated[str, typer.Option(help="Login name of the operator staff member.")],
    name: Annotated[str, typer.Option(help="Name.")],
    role: Annotated[str, typer.Option(help="operator_admin or operator_staff.")] = "operator_admin",
    email: EmailOption = None,
    password: PasswordOption = None,
) -> None:
    """Add an operator staff account (logs in without a tenant code)."""
    st = state(ctx)
    secret = password or new_password()
    _choice(role, OPERATOR_ROLES, "--role")

    async def work(koe: Services) -> dict[str, Any]:
        return await koe.auth.add_operator_user(login, name, secret, Role(role), email)

    view = run(st, st.settings(), work)
    say(
        st.lang,
        f"運営スタッフ {view['login']}({view['role']})を追加しました。",
        f"Added operator staff {view['login']} ({view['role']}).",
    )
    _one_time_password(st.lang, password, secret)
