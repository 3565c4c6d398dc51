"""Tenant and directory services: the only code that changes tenants and their objects.

Every method takes ``tenant_id`` first (after ``self``); objects of another tenant answer
"not found". Services validate domain rules (licenses R2.1, uniqueness, same-tenant
references) and publish events after the commit.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import String

from koe.core.clock import JST, Clock, jst_today
from koe.core.domain import (
    TENANT_ROLES,
    AddOn,
    ContractStatus,
    LicenseKind,
    RestrictionKind,
    Role,
)
from koe.core.errors import Conflict, FieldError, ValidationFailed, not_found
from koe.core.events import Event, EventBus
from koe.core.phone import to_e164
from koe.identity.passwords import hash_password
from koe.licensing.rules import Holdings, check_named_users, holdings_on
from koe.store.base import TenantScoped
from koe.store.db import Database
from koe.store.models import (
    AddOnSubscription,
    Agent,
    AgentSkill,
    AuthSession,
    BusinessHours,
    CallFlow,
    CallFlowVersion,
    IvrMenu,
    LicenseHolding,
    PhoneNumber,
    Queue,
    Skill,
    Tenant,
    TenantContact,
    TenantRestriction,
    User,
)
from koe.tenancy.flowdoc import validate_flow, validate_ivr
from koe.tenancy.repository import Page, TenantRepository
from koe.tenancy.restrictions import Allowance, allowance
from koe.tenancy.settings import TenantSettings
from koe.tenancy.settings import apply as apply_settings
from koe.tenancy.settings import resolve as resolve_settings

log = logging.getLogger(__name__)

View = dict[str, Any]
_CODE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{1,38}[a-z0-9])$")
_EXTENSION = re.compile(r"^[0-9]{2,8}$")
_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HHMM = re.compile(r"^([01][0-9]|2[0-4]):[0-5][0-9]$")


def _field_error(field: str, code: str, ja: str, en: str) -> ValidationFailed:
    return ValidationFailed(code, ja, en, [FieldError(field, code, ja, en)])


def _duplicate(field: str, value: Any) -> Conflict:
    return Conflict(
        "duplicate",
        f"{field} {value!r} はすでに使われています。",
        f"{field} {value!r} is already in use.",
        [FieldError(field, "duplicate", "すでに使われています。", "Already in use.")],
    )


def _number(raw: str) -> str:
    """``raw`` in E.164; an unreadable number names the ``number`` field."""
    try:
        return to_e164(raw)
    except ValidationFailed as err:
        raise ValidationFailed(
            err.code,
            err.message_ja,
            err.message_en,
            [FieldError("number", err.code, err.message_ja, err.message_en)],
        ) from err


def _iso(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def row_view(row: Any, *, exclude: Sequence[str] = ()) -> View:
    """A JSON-ready dict of a row's columns."""
    return {
        c.key: _iso(getattr(row, c.key))
        for c in row.__table__.columns
        if c.key not in exclude and c.key != "password_hash"
    }


@dataclass(frozen=True, slots=True)
class Resource:
    """A directory resource: its repository, list filters and search column."""

    name: str
    repo: TenantRepository[Any]
    filters: tuple[str, ...] = ()
    search: str | None = None
    order_by: str = "id"


REPOS: dict[str, TenantRepository[Any]] = {
    "users": TenantRepository(User, "ユーザー", "User"),
    "agents": TenantRepository(Agent, "エージェント", "Agent"),
    "skills": TenantRepository(Skill, "スキル", "Skill"),
    "queues": TenantRepository(Queue, "キュー", "Queue"),
    "numbers": TenantRepository(PhoneNumber, "電話番号", "Phone number"),
    "flows": TenantRepository(CallFlow, "着信フロー", "Call flow"),
    "ivrs": TenantRepository(IvrMenu, "IVR", "IVR menu"),
    "hours": TenantRepository(BusinessHours, "営業時間", "Business hours"),
    "contacts": TenantRepository(TenantContact, "連絡先", "Contact"),
    "licenses": TenantRepository(LicenseHolding, "ライセンス", "License"),
    "addons": TenantRepository(AddOnSubscription, "付加機能", "Add-on"),
}

RESOURCES: dict[str, Resource] = {
    "users": Resource("users", REPOS["users"], ("role", "active"), "login", "login"),
    "agents": Resource("agents", REPOS["agents"], ("extension",), "display_name", "extension"),
    "skills": Resource("skills", REPOS["skills"], (), "name", "name"),
    "queues": Resource("queues", REPOS["queues"], (), "name", "name"),
    "numbers": Resource("numbers", REPOS["numbers"], ("flow_id",), "e164", "e164"),
    "flows": Resource("flows", REPOS["flows"], (), "name", "name"),
    "ivrs": Resource("ivrs", REPOS["ivrs"], ("template",), "name", "name"),
    "hours": Resource("hours", REPOS["hours"], (), "name", "name"),
    "contacts": Resource("contacts", REPOS["contacts"], ("kind",), "name", "kind"),
}

# Read-only to the directory API: the operator records them through TenantService.
HOLDINGS: dict[str, Resource] = {
    "licenses": Resource("licenses", REPOS["licenses"], ("kind",), None, "effective_from"),
    "addons": Resource("addons", REPOS["addons"], ("addon",), None, "starts_on"),
}


def _spec(resource: str) -> Resource:
    return RESOURCES.get(resource) or HOLDINGS[resource]


class DirectoryService:
    """Create, read, update and delete a tenant's directory objects."""

    def __init__(self, db: Database, clock: Clock, bus: EventBus) -> None:
        self.db = db
        self.clock = clock
        self.bus = bus

    # ---- generic entry points (the API calls these) ----

    async def page(
        self,
        tenant_id: str,
        resource: str,
        *,
        filters: Mapping[str, Any] | None = None,
        q: str | None = None,
        offset: int = 0,
        limit: int = 50,
    ) -> tuple[list[View], int]:
        """A page of ``resource`` objects of ``tenant_id`` and the total that matched."""
        spec = _spec(resource)
        unknown = set(filters or {}) - set(spec.filters)
        if unknown:
            raise _field_error(
                sorted(unknown)[0],
                "unknown_filter",
                f"絞り込み条件 {sorted(unknown)} は使えません。使える条件: {list(spec.filters)}",
                f"Cannot filter on {sorted(unknown)}; allowed: {list(spec.filters)}",
            )
        async with self.db.transaction() as s:
            page: Page[Any] = await spec.repo.list(
                tenant_id,
                s,
                filters=filters,
                search=(spec.search, q) if q and spec.search else None,
                offset=offset,
                limit=limit,
                order_by=spec.order_by,
            )
            views = [await self._view(s, tenant_id, resource, row) for row in page.items]
            return views, page.total

    async def get(self, tenant_id: str, resource: str, object_id: str) -> View:
        """One object of ``tenant_id``."""
        async with self.db.transaction() as s:
            row = await _spec(resource).repo.get(tenant_id, s, object_id)
            return await self._view(s, tenant_id, resource, row)

    async def create(self, tenant_id: str, resource: str, data: Mapping[str, Any]) -> View:
        """Create an object; domain rules checked, event published after the commit."""
        creator = self._creators()[resource]
        check_input_lengths(resource, data)
        async with self.db.transaction() as s:
            await self._lock_tenant(s, tenant_id)
            row = await creator(s, tenant_id, dict(data))
            await self._flush(s)
            view = await self._view(s, tenant_id, resource, row)
        await self._publish(f"{resource}.created", tenant_id, view)
        return view

    async def update(
        self, tenant_id: str, resource: str, object_id: str, data: Mapping[str, Any]
    ) -> View:
        """Change an object's fields."""
        async with self.db.transaction() as s:
            await self._lock_tenant(s, tenant_id)
            row = await RESOURCES[resource].repo.get(tenant_id, s, object_id)
            updater = self._updaters().get(resource, self._update_plain)
            await updater(s, tenant_id, row, dict(data))
            await self._flush(s)
            view = await self._view(s, tenant_id, resource, row)
        await self._publish(f"{resource}.updated", tenant_id, view)
        return view

    async def delete(self, tenant_id: str, resource: str, object_id: str) -> None:
        """Delete an object (an agent takes its user with it)."""
        async with self.db.transaction() as s:
            row = await RESOURCES[resource].repo.get(tenant_id, s, object_id)
            if resource == "agents":
                user = await REPOS["users"].get(tenant_id, s, row.user_id)
                await s.delete(user)
            await s.delete(row)
            await self._flush(s)
        await self._publish(f"{resource}.deleted", tenant_id, {"id": object_id})

    @asynccontextmanager
    async def batch(self, tenant_id: str) -> AsyncIterator[Batch]:
        """Several changes to ``tenant_id`` in one transaction: all or none; events after it."""
        async with self.db.transaction() as s:
            await self._lock_tenant(s, tenant_id)
            batch = Batch(self, s, tenant_id)
            yield batch
        await batch.publish()

    # ---- helpers ----

    async def _lock_tenant(self, s: AsyncSession, tenant_id: str) -> Tenant:
        """Serialise writers of one tenant (license counts must not race)."""
        stmt = select(Tenant).where(Tenant.id == tenant_id)
        if self.db.dialect == "postgresql":
            stmt = stmt.with_for_update()
        else:
            # SQLite has no row locks and reads outside a transaction until the first write:
            # a no-op write takes the database write lock, held until the commit.
            await s.execute(update(Tenant).where(Tenant.id == tenant_id).values(code=Tenant.code))
        tenant = (await s.execute(stmt)).scalar_one_or_none()
        if tenant is None:
            raise not_found("テナント", "Tenant")
        return tenant

    async def _flush(self, s: AsyncSession) -> None:
        try:
            await s.flush()
        except IntegrityError as err:
            raise Conflict(
                "integrity_conflict",
                "ほかのデータと矛盾するため保存できません(重複または参照中)。",
                "Cannot save: it conflicts with other data (duplicate or still referenced).",
            ) from err

    async def _publish(self, kind: str, tenant_id: str, data: View) -> None:
        await self.bus.publish(Event(kind, tenant_id, self.clock.now(), data))

    async def holdings(self, tenant_id: str, s: AsyncSession, day: date | None = None) -> Holdings:
        """License quantities of ``tenant_id`` in force on ``day`` (JST today by default)."""
        rows = (await s.execute(REPOS["licenses"].scoped(tenant_id))).scalars().all()
        return holdings_on(rows, day or jst_today(self.clock))

    async def named_users(self, tenant_id: str, s: AsyncSession) -> int:
        """Active users that need a user license (agents and supervisors, R2.1)."""
        stmt = (
            select(func.count())
            .select_from(User)
            .where(
                User.tenant_id == tenant_id,
                User.active.is_(True),
                User.role.in_([Role.AGENT, Role.SUPERVISOR]),
            )
        )
        return int((await s.execute(stmt)).scalar_one())

    async def _check_user_license(self, s: AsyncSession, tenant_id: str) -> None:
        check_named_users(await self.holdings(tenant_id, s), await self.named_users(tenant_id, s))

    async def _ensure_refs(
        self, s: AsyncSession, tenant_id: str, refs: Mapping[str, Sequence[str]], field: str
    ) -> None:
        """Every referenced id must be an object of the same tenant."""
        for resource, ids in refs.items():
            repo = REPOS[resource]
            for object_id in set(ids):
                if await repo.find(tenant_id, s, id=object_id) is None:
                    raise _field_error(
                        field,
                        "unknown_reference",
                        f"{repo.label_ja} {object_id!r} はこのテナントにありません。",
                        f"{repo.label_en} {object_id!r} does not exist in this tenant.",
                    )

    async def _view(self, s: AsyncSession, tenant_id: str, resource: str, row: Any) -> View:
        view = row_view(row)
        if resource == "agents":
            user = await REPOS["users"].get(tenant_id, s, row.user_id)
            view |= {
                "login": user.login,
                "role": user.role.value,
                "email": user.email,
                "active": user.active,
            }
            skills = (
                (
                    await s.execute(
                        select(AgentSkill)
                        .where(AgentSkill.tenant_id == tenant_id, AgentSkill.agent_id == row.id)
                        .order_by(AgentSkill.skill_id)
                    )
                )
                .scalars()
                .all()
            )
            view["skills"] = [{"skill_id": k.skill_id, "level": k.level} for k in skills]
        return view

    def _creators(
        self,
    ) -> dict[str, Callable[[AsyncSession, str, dict[str, Any]], Awaitable[Any]]]:
        return {
            "users": self._create_user,
            "agents": self._create_agent,
            "skills": self._create_plain(Skill, unique=("name",)),
            "queues": self._create_queue,
            "numbers": self._create_number,
            "flows": self._create_flow,
            "ivrs": self._create_ivr,
            "hours": self._create_hours,
            "contacts": self._create_plain(TenantContact),
        }

    def _updaters(
        self,
    ) -> dict[str, Callable[[AsyncSession, str, Any, dict[str, Any]], Awaitable[None]]]:
        return {
            "users": self._update_user,
            "agents": self._update_agent,
            "queues": self._update_queue,
            "numbers": self._update_number,
            "flows": self._update_flow,
            "ivrs": self._update_ivr,
            "hours": self._update_hours,
        }

    def _create_plain(
        self, model: type[TenantScoped], unique: tuple[str, ...] = ()
    ) -> Callable[[AsyncSession, str, dict[str, Any]], Awaitable[Any]]:
        resource = next(n for n, r in REPOS.items() if r.model is model)

        async def create(s: AsyncSession, tenant_id: str, data: dict[str, Any]) -> Any:
            for field in unique:
                if await REPOS[resource].find(tenant_id, s, **{field: data[field]}):
                    raise _duplicate(field, data[field])
            return REPOS[resource].add(tenant_id, s, model(**data))

        return create

    async def _update_plain(
        self, s: AsyncSession, tenant_id: str, row: Any, data: dict[str, Any]
    ) -> None:
        table = row.__table__
        for field, value in data.items():
            unique = any(
                field in {c.name for c in con.columns} and len(con.columns) <= 2
                for con in table.constraints
                if con.__class__.__name__ == "UniqueConstraint"
            )
            if unique and value != getattr(row, field):
                repo = next(r for r in REPOS.values() if r.model is type(row))
                if await repo.find(tenant_id, s, **{field: value}):
                    raise _duplicate(field, value)
            setattr(row, field, value)

    # ---- users and agents ----

    async def _new_user(self, s: AsyncSession, tenant_id: str, data: dict[str, Any]) -> User:
        role = Role(data.get("role", Role.AGENT))
        if role not in TENANT_ROLES:
            raise _field_error(
                "role",
                "invalid_role",
                "テナントのユーザーに使えない役割です。",
                "Not a tenant role.",
            )
        if await REPOS["users"].find(tenant_id, s, login=data["login"]):
            raise _duplicate("login", data["login"])
        if role.is_named_user:
            await self._check_user_license(s, tenant_id)
        user = User(
            login=data["login"],
            name=data["name"],
            email=data.get("email"),
            role=role,
            password_hash=hash_password(data["password"]),
            language=data.get("language", "ja"),
            active=data.get("active", True),
            created_at=self.clock.now(),
        )
        REPOS["users"].add(tenant_id, s, user)
        return user

    async def _create_user(self, s: AsyncSession, tenant_id: str, data: dict[str, Any]) -> User:
        return await self._new_user(s, tenant_id, data)

    async def _update_user(
        self, s: AsyncSession, tenant_id: str, row: User, data: dict[str, Any]
    ) -> None:
        if "password" in data:
            row.password_hash = hash_password(data.pop("password"))
            # A password set by an admin ends the user's sessions everywhere.
            await s.execute(
                update(AuthSession)
                .where(AuthSession.user_id == row.id, AuthSession.revoked_at.is_(None))
                .values(revoked_at=self.clock.now(), revoked_reason="password_changed")
            )
        if "role" in data:
            data["role"] = Role(data["role"])
            if data["role"] not in TENANT_ROLES:
                raise _field_error(
                    "role",
                    "invalid_role",
                    "テナントのユーザーに使えない役割です。",
                    "Not a tenant role.",
                )
        becomes_named = Role(data.get("role", row.role)).is_named_user and data.get(
            "active", row.active
        )
        if becomes_named and not (row.role.is_named_user and row.active):
            await self._check_user_license(s, tenant_id)
        await self._update_plain(s, tenant_id, row, data)

    async def _set_agent_skills(
        self, s: AsyncSession, tenant_id: str, agent: Agent, skills: list[dict[str, Any]]
    ) -> None:
        seen: set[str] = set()
        for entry in skills:
            if entry["skill_id"] in seen:
                raise _field_error(
                    "skills",
                    "duplicate_skill",
                    "同じスキルが2回指定されています。",
                    "The same skill is listed twice.",
                )
            seen.add(entry["skill_id"])
        await self._ensure_refs(s, tenant_id, {"skills": list(seen)}, "skills")
        existing = (
            (
                await s.execute(
                    select(AgentSkill).where(
                        AgentSkill.tenant_id == tenant_id, AgentSkill.agent_id == agent.id
                    )
                )
            )
            .scalars()
            .all()
        )
        for old in existing:
            await s.delete(old)
        await s.flush()
        for entry in skills:
            s.add(
                AgentSkill(
                    tenant_id=tenant_id,
                    agent_id=agent.id,
                    skill_id=entry["skill_id"],
                    level=entry["level"],
                )
            )

    async def _check_extension(self, s: AsyncSession, tenant_id: str, extension: str) -> None:
        if not _EXTENSION.match(extension):
            raise _field_error(
                "extension",
                "invalid_extension",
                "内線番号は2〜8桁の数字です。",
                "Extensions are 2 to 8 digits.",
            )
        if await REPOS["agents"].find(tenant_id, s, extension=extension):
            raise _duplicate("extension", extension)

    async def _create_agent(self, s: AsyncSession, tenant_id: str, data: dict[str, Any]) -> Agent:
        role = Role(data.get("role", Role.AGENT))
        if not role.is_named_user:
            raise _field_error(
                "role",
                "invalid_role",
                "エージェントの役割は agent か supervisor です。",
                "An agent's role is agent or supervisor.",
            )
        await self._check_extension(s, tenant_id, data["extension"])
        user = await self._new_user(
            s, tenant_id, data | {"role": role, "name": data["display_name"]}
        )
        await s.flush()
        agent = Agent(
            user_id=user.id, extension=data["extension"], display_name=data["display_name"]
        )
        REPOS["agents"].add(tenant_id, s, agent)
        await s.flush()
        await self._set_agent_skills(s, tenant_id, agent, data.get("skills", []))
        return agent

    async def _update_agent(
        self, s: AsyncSession, tenant_id: str, row: Agent, data: dict[str, Any]
    ) -> None:
        if "extension" in data and data["extension"] != row.extension:
            await self._check_extension(s, tenant_id, data["extension"])
            row.extension = data["extension"]
        if "display_name" in data:
            row.display_name = data["display_name"]
        if "skills" in data:
            await self._set_agent_skills(s, tenant_id, row, data["skills"])
        user_fields: dict[str, Any] = {
            k: data[k] for k in ("password", "email", "active", "role") if k in data
        }
        if "display_name" in data:
            user_fields["name"] = data["display_name"]
        if user_fields:
            user = await REPOS["users"].get(tenant_id, s, row.user_id)
            await self._update_user(s, tenant_id, user, user_fields)

    # ---- queues ----

    async def _check_queue_skills(
        self, s: AsyncSession, tenant_id: str, skills: list[dict[str, Any]]
    ) -> None:
        await self._ensure_refs(s, tenant_id, {"skills": [k["skill_id"] for k in skills]}, "skills")

    async def _create_queue(self, s: AsyncSession, tenant_id: str, data: dict[str, Any]) -> Queue:
        if await REPOS["queues"].find(tenant_id, s, name=data["name"]):
            raise _duplicate("name", data["name"])
        await self._check_queue_skills(s, tenant_id, data.get("skills", []))
        row = Queue(**data)
        REPOS["queues"].add(tenant_id, s, row)
        return row

    async def _update_queue(
        self, s: AsyncSession, tenant_id: str, row: Queue, data: dict[str, Any]
    ) -> None:
        if "skills" in data:
            await self._check_queue_skills(s, tenant_id, data["skills"])
        await self._update_plain(s, tenant_id, row, data)

    # ---- numbers (unique in the whole installation) ----

    async def _check_number(self, s: AsyncSession, tenant_id: str, e164: str) -> None:
        taken = (
            await s.execute(select(PhoneNumber.tenant_id).where(PhoneNumber.e164 == e164))
        ).scalar_one_or_none()
        if taken is not None:
            # Same message whoever holds it: never reveal another tenant's numbers.
            raise _duplicate("number", e164)

    async def _number_flow(self, s: AsyncSession, tenant_id: str, data: dict[str, Any]) -> None:
        if data.get("flow_id"):
            await self._ensure_refs(s, tenant_id, {"flows": [data["flow_id"]]}, "flow_id")

    async def _create_number(
        self, s: AsyncSession, tenant_id: str, data: dict[str, Any]
    ) -> PhoneNumber:
        e164 = _number(data.pop("number"))
        await self._check_number(s, tenant_id, e164)
        await self._number_flow(s, tenant_id, data)
        row = PhoneNumber(e164=e164, **data)
        REPOS["numbers"].add(tenant_id, s, row)
        return row

    async def _update_number(
        self, s: AsyncSession, tenant_id: str, row: PhoneNumber, data: dict[str, Any]
    ) -> None:
        if "number" in data:
            e164 = _number(data.pop("number"))
            if e164 != row.e164:
                await self._check_number(s, tenant_id, e164)
                row.e164 = e164
        await self._number_flow(s, tenant_id, data)
        await self._update_plain(s, tenant_id, row, data)

    # ---- flows and IVRs ----

    async def _create_flow(self, s: AsyncSession, tenant_id: str, data: dict[str, Any]) -> CallFlow:
        if await REPOS["flows"].find(tenant_id, s, name=data["name"]):
            raise _duplicate("name", data["name"])
        await self._ensure_refs(s, tenant_id, validate_flow(data["document"]), "document")
        row = CallFlow(version=1, **data)
        REPOS["flows"].add(tenant_id, s, row)
        await self._keep_flow_version(s, tenant_id, row)
        return row

    async def _update_flow(
        self, s: AsyncSession, tenant_id: str, row: CallFlow, data: dict[str, Any]
    ) -> None:
        note = data.pop("version_note", "")
        if "document" in data:
            await self._ensure_refs(s, tenant_id, validate_flow(data["document"]), "document")
            row.version += 1
        await self._update_plain(s, tenant_id, row, data)
        if "document" in data:
            await self._keep_flow_version(s, tenant_id, row, note)

    async def _keep_flow_version(
        self, s: AsyncSession, tenant_id: str, row: CallFlow, note: str = ""
    ) -> None:
        """Record the flow's document as its current version (history for rollback)."""
        await s.flush()
        s.add(
            CallFlowVersion(
                tenant_id=tenant_id,
                flow_id=row.id,
                version=row.version,
                document=row.document,
                note=note,
                created_at=self.clock.now(),
            )
        )

    async def _create_ivr(self, s: AsyncSession, tenant_id: str, data: dict[str, Any]) -> IvrMenu:
        if await REPOS["ivrs"].find(tenant_id, s, name=data["name"]):
            raise _duplicate("name", data["name"])
        await self._ensure_refs(s, tenant_id, validate_ivr(data["document"]), "document")
        row = IvrMenu(**data)
        REPOS["ivrs"].add(tenant_id, s, row)
        return row

    async def _update_ivr(
        self, s: AsyncSession, tenant_id: str, row: IvrMenu, data: dict[str, Any]
    ) -> None:
        if "document" in data:
            await self._ensure_refs(s, tenant_id, validate_ivr(data["document"]), "document")
        await self._update_plain(s, tenant_id, row, data)

    # ---- business hours ----

    @staticmethod
    def _check_weekly(weekly: Mapping[str, Any]) -> None:
        for day, spans in weekly.items():
            if day not in _WEEKDAYS:
                raise _field_error(
                    f"weekly.{day}",
                    "invalid_weekday",
                    f"曜日 {day!r} は不明です({', '.join(_WEEKDAYS)})。",
                    f"Unknown weekday {day!r} (use {', '.join(_WEEKDAYS)}).",
                )
            if not isinstance(spans, list):
                raise _field_error(
                    f"weekly.{day}",
                    "invalid_hours",
                    "時間帯の一覧が必要です。",
                    "A list of time spans is required.",
                )
            for span in spans:
                if (
                    not isinstance(span, list | tuple)
                    or len(span) != 2
                    or not all(isinstance(t, str) and _HHMM.match(t) for t in span)
                    or span[0] >= span[1]
                ):
                    raise _field_error(
                        f"weekly.{day}",
                        "invalid_hours",
                        '時間帯は ["HH:MM", "HH:MM"](開始<終了)です。',
                        'Spans are ["HH:MM", "HH:MM"] with start < end.',
                    )

    async def _create_hours(
        self, s: AsyncSession, tenant_id: str, data: dict[str, Any]
    ) -> BusinessHours:
        if await REPOS["hours"].find(tenant_id, s, name=data["name"]):
            raise _duplicate("name", data["name"])
        self._check_weekly(data.get("weekly", {}))
        row = BusinessHours(**data)
        REPOS["hours"].add(tenant_id, s, row)
        return row

    async def _update_hours(
        self, s: AsyncSession, tenant_id: str, row: BusinessHours, data: dict[str, Any]
    ) -> None:
        if "weekly" in data:
            self._check_weekly(data["weekly"])
        await self._update_plain(s, tenant_id, row, data)


class Batch:
    """Changes to one tenant's directory that commit together (``DirectoryService.batch``)."""

    def __init__(self, directory: DirectoryService, session: AsyncSession, tenant_id: str) -> None:
        self.directory = directory
        self.session = session
        self.tenant_id = tenant_id
        self._events: list[tuple[str, View]] = []

    async def create(self, resource: str, data: Mapping[str, Any]) -> View:
        """Create an object like ``DirectoryService.create``, inside this batch's transaction."""
        d, s = self.directory, self.session
        check_input_lengths(resource, data)
        row = await d._creators()[resource](s, self.tenant_id, dict(data))
        await d._flush(s)
        view = await d._view(s, self.tenant_id, resource, row)
        self._events.append((f"{resource}.created", view))
        return view

    async def rows(self, resource: str) -> list[View]:
        """Every ``resource`` object of the tenant (plain columns), as this batch sees them."""
        repo = REPOS[resource]
        result = await self.session.execute(repo.scoped(self.tenant_id))
        return [row_view(r) for r in result.scalars().all()]

    async def holdings(self) -> Holdings:
        """License quantities in force today."""
        return await self.directory.holdings(self.tenant_id, self.session)

    async def named_users(self) -> int:
        """Active users that need a user license."""
        return await self.directory.named_users(self.tenant_id, self.session)

    async def publish(self) -> None:
        """Publish the events of the committed changes (called after the commit)."""
        for kind, view in self._events:
            await self.directory._publish(kind, self.tenant_id, view)
        self._events.clear()


def check_lengths(model: type[Any], values: Mapping[str, Any]) -> None:
    """Refuse text longer than its column (PostgreSQL would fail, SQLite would store it)."""
    errors: list[FieldError] = []
    for name, value in values.items():
        column = model.__table__.c.get(name)
        if column is None or not isinstance(column.type, String) or not isinstance(value, str):
            continue
        limit = column.type.length
        if limit is not None and len(value) > limit:
            errors.append(
                FieldError(
                    name,
                    "too_long",
                    f"{limit}文字以内にしてください({len(value)}文字)。",
                    f"At most {limit} characters ({len(value)} given).",
                )
            )
    if errors:
        names = ", ".join(e.field for e in errors)
        raise ValidationFailed(
            "too_long", f"長すぎる項目があります: {names}", f"Too long: {names}", errors
        )


def check_input_lengths(resource: str, data: Mapping[str, Any]) -> None:
    """``check_lengths`` for a directory resource (an agent carries its user's fields too)."""
    check_lengths(REPOS[resource].model, data)
    if resource == "agents":
        check_lengths(User, {k: v for k, v in data.items() if k in ("login", "email")})


class TenantService:
    """The operator's side: tenants, their licenses and add-ons."""

    def __init__(self, db: Database, clock: Clock, bus: EventBus) -> None:
        self.db = db
        self.clock = clock
        self.bus = bus

    async def create(
        self,
        data: Mapping[str, Any],
        contacts: Sequence[Mapping[str, Any]] = (),
        *,
        licenses: Mapping[LicenseKind, int] | None = None,
        setup: Callable[[Batch], Awaitable[None]] | None = None,
    ) -> View:
        """Register a tenant with its R3.1 details, contacts and requested licenses.

        ``setup`` fills the new tenant's directory in the same transaction, so a failure
        anywhere leaves nothing behind (the standard initial setup uses it).
        """
        values = dict(data)
        if not _CODE.match(values["code"]):
            raise _field_error(
                "code",
                "invalid_tenant_code",
                "テナントコードは英小文字・数字・ハイフンの3〜40文字です。",
                "Tenant codes are 3-40 lowercase letters, digits and hyphens.",
            )
        for field in ("phone", "fax"):
            if values.get(field):
                values[field] = to_e164(values[field])
        check_lengths(Tenant, values)
        contact_rows = []
        for contact in contacts:
            contact_values = dict(contact)
            if contact_values.get("phone"):
                contact_values["phone"] = to_e164(contact_values["phone"])
            check_lengths(TenantContact, contact_values)
            contact_rows.append(contact_values)
        for kind, quantity in (licenses or {}).items():
            if quantity < 0:
                raise _field_error(
                    kind.value, "invalid_quantity", "数量は0以上です。", "Quantity must be >= 0."
                )
        today = jst_today(self.clock)
        batch: Batch | None = None
        async with self.db.transaction() as s:
            if (await s.execute(select(Tenant).where(Tenant.code == values["code"]))).first():
                raise _duplicate("code", values["code"])
            tenant = Tenant(created_at=self.clock.now(), **values)
            s.add(tenant)
            await s.flush()
            for contact_values in contact_rows:
                s.add(TenantContact(tenant_id=tenant.id, **contact_values))
            for kind, quantity in (licenses or {}).items():
                if quantity:
                    s.add(
                        LicenseHolding(
                            tenant_id=tenant.id,
                            kind=LicenseKind(kind),
                            quantity=quantity,
                            effective_from=today,
                            created_at=self.clock.now(),
                        )
                    )
            await s.flush()
            if setup is not None:
                batch = Batch(DirectoryService(self.db, self.clock, self.bus), s, tenant.id)
                await setup(batch)
            view = row_view(tenant)
        await self.bus.publish(Event("tenant.created", tenant.id, self.clock.now(), view))
        if batch is not None:
            await batch.publish()
        return view

    async def list(
        self, *, q: str | None = None, offset: int = 0, limit: int = 50
    ) -> tuple[list[View], int]:
        """Tenants (operator only)."""
        stmt = select(Tenant)
        if q:
            stmt = stmt.where(
                Tenant.company_name.contains(q, autoescape=True)
                | Tenant.code.contains(q, autoescape=True)
            )
        async with self.db.transaction() as s:
            total = (
                await s.execute(select(func.count()).select_from(stmt.subquery()))
            ).scalar_one()
            rows = (
                (await s.execute(stmt.order_by(Tenant.code).offset(offset).limit(limit)))
                .scalars()
                .all()
            )
            return [row_view(r) for r in rows], int(total)

    async def get(self, tenant_id: str) -> View:
        """One tenant."""
        async with self.db.transaction() as s:
            tenant = await s.get(Tenant, tenant_id)
            if tenant is None:
                raise not_found("テナント", "Tenant")
            return row_view(tenant)

    async def by_code(self, code: str) -> View:
        """The tenant with ``code``."""
        async with self.db.transaction() as s:
            tenant = (
                await s.execute(select(Tenant).where(Tenant.code == code))
            ).scalar_one_or_none()
            if tenant is None:
                raise not_found("テナント", "Tenant")
            return row_view(tenant)

    async def update(self, tenant_id: str, data: Mapping[str, Any]) -> View:
        """Change a tenant's details (not its code)."""
        values = dict(data)
        for field in ("phone", "fax"):
            if values.get(field):
                values[field] = to_e164(values[field])
        async with self.db.transaction() as s:
            tenant = await s.get(Tenant, tenant_id)
            if tenant is None:
                raise not_found("テナント", "Tenant")
            for field, value in values.items():
                setattr(tenant, field, ContractStatus(value) if field == "status" else value)
            view = row_view(tenant)
        await self.bus.publish(Event("tenant.updated", tenant_id, self.clock.now(), view))
        return view

    async def add_license(
        self,
        tenant_id: str,
        kind: LicenseKind,
        quantity: int,
        effective_from: date | None = None,
        effective_to: date | None = None,
    ) -> View:
        """Record ``quantity`` more licenses of ``kind`` from ``effective_from`` (default today)."""
        if quantity <= 0:
            raise _field_error(
                "quantity", "invalid_quantity", "数量は1以上です。", "Quantity must be at least 1."
            )
        start = effective_from or jst_today(self.clock)
        if effective_to is not None and effective_to < start:
            raise _field_error(
                "effective_to",
                "invalid_period",
                "終了日が開始日より前です。",
                "effective_to is before effective_from.",
            )
        async with self.db.transaction() as s:
            if await s.get(Tenant, tenant_id) is None:
                raise not_found("テナント", "Tenant")
            row = LicenseHolding(
                tenant_id=tenant_id,
                kind=LicenseKind(kind),
                quantity=quantity,
                effective_from=start,
                effective_to=effective_to,
                created_at=self.clock.now(),
            )
            s.add(row)
            await s.flush()
            view = row_view(row)
        await self.bus.publish(Event("licenses.changed", tenant_id, self.clock.now(), view))
        return view

    async def holdings(self, tenant_id: str, day: date | None = None) -> Holdings:
        """License quantities in force on ``day`` (JST today by default)."""
        async with self.db.transaction() as s:
            rows = (await s.execute(REPOS["licenses"].scoped(tenant_id))).scalars().all()
            return holdings_on(rows, day or jst_today(self.clock))

    async def subscribe_addon(
        self, tenant_id: str, addon: AddOn, units: int = 1, starts_on: date | None = None
    ) -> View:
        """Subscribe an add-on; it needs the basic service and can never return once cancelled."""
        async with self.db.transaction() as s:
            holdings = await DirectoryService(self.db, self.clock, self.bus).holdings(tenant_id, s)
            if holdings.line + holdings.seat + holdings.admin == 0:
                raise Conflict(
                    "addon_requires_basic",
                    "付加機能は基本機能の契約が必要です。",
                    "Add-ons require the basic service (Art. 5-2, 33-2).",
                )
            previous = (
                (
                    await s.execute(
                        REPOS["addons"]
                        .scoped(tenant_id)
                        .where(
                            AddOnSubscription.addon == AddOn(addon),
                            AddOnSubscription.ends_on.is_not(None),
                        )
                    )
                )
                .scalars()
                .first()
            )
            if previous is not None:
                raise Conflict(
                    "addon_resubscribe_forbidden",
                    "一度解約した付加機能は再契約できません(第35条)。",
                    "An add-on once cancelled cannot be subscribed again (Art. 35).",
                )
            row = AddOnSubscription(
                tenant_id=tenant_id,
                addon=AddOn(addon),
                units=units,
                starts_on=starts_on or jst_today(self.clock),
                created_at=self.clock.now(),
            )
            s.add(row)
            await s.flush()
            view = row_view(row)
        await self.bus.publish(Event("addons.changed", tenant_id, self.clock.now(), view))
        return view

    async def add_restriction(
        self,
        tenant_id: str,
        kind: RestrictionKind,
        starts_at: datetime,
        ends_at: datetime | None = None,
        *,
        reason: str = "",
        addon: AddOn | None = None,
    ) -> View:
        """Record a dated restriction (suspension, pause, interruption, …: R3.6–R3.9)."""
        kind = RestrictionKind(kind)
        addon_kinds = (RestrictionKind.ADDON_SUSPENSION, RestrictionKind.ADDON_CANCELLATION)
        if (kind in addon_kinds) != (addon is not None):
            raise _field_error(
                "addon",
                "restriction_addon",
                "付加機能の制限には addon が必要で、それ以外には不要です。",
                "Add-on restrictions need 'addon'; others must not have one.",
            )
        if ends_at is not None and ends_at <= starts_at:
            raise _field_error(
                "ends_at",
                "invalid_period",
                "終了が開始より前です。",
                "ends_at must be after starts_at.",
            )
        async with self.db.transaction() as s:
            if await s.get(Tenant, tenant_id) is None:
                raise not_found("テナント", "Tenant")
            row = TenantRestriction(
                tenant_id=tenant_id,
                kind=kind,
                addon=addon,
                starts_at=starts_at,
                ends_at=ends_at,
                reason=reason,
                created_at=self.clock.now(),
            )
            s.add(row)
            await s.flush()
            view = row_view(row)
        await self.bus.publish(Event("restrictions.changed", tenant_id, self.clock.now(), view))
        return view

    async def lift_restriction(self, tenant_id: str, restriction_id: str) -> View:
        """End a restriction now (the record stays, with when it was lifted)."""
        async with self.db.transaction() as s:
            row = (
                await s.execute(
                    select(TenantRestriction).where(
                        TenantRestriction.tenant_id == tenant_id,
                        TenantRestriction.id == restriction_id,
                    )
                )
            ).scalar_one_or_none()
            if row is None:
                raise not_found("制限", "Restriction")
            row.lifted_at = self.clock.now()
            view = row_view(row)
        await self.bus.publish(Event("restrictions.changed", tenant_id, self.clock.now(), view))
        return view

    async def allowance(self, tenant_id: str, at: datetime | None = None) -> Allowance:
        """What the tenant may do at ``at`` (now by default), from all its dated records."""
        moment = at or self.clock.now()
        async with self.db.transaction() as s:
            tenant = await s.get(Tenant, tenant_id)
            if tenant is None:
                raise not_found("テナント", "Tenant")
            restrictions = (
                (
                    await s.execute(
                        select(TenantRestriction).where(TenantRestriction.tenant_id == tenant_id)
                    )
                )
                .scalars()
                .all()
            )
            subscriptions = (await s.execute(REPOS["addons"].scoped(tenant_id))).scalars().all()
        return allowance(
            tenant.status, restrictions, subscriptions, moment, moment.astimezone(JST).date()
        )

    async def delete(self, tenant_id: str) -> None:
        """Remove a tenant that is not in service, with everything it owns."""
        async with self.db.transaction() as s:
            tenant = await s.get(Tenant, tenant_id)
            if tenant is None:
                raise not_found("テナント", "Tenant")
            if tenant.status is ContractStatus.ACTIVE:
                raise Conflict(
                    "tenant_active",
                    "利用中のテナントは削除できません。先に契約を終了してください。",
                    "An active tenant cannot be deleted; end its contract first.",
                )
            await s.delete(tenant)
        await self.bus.publish(Event("tenant.deleted", tenant_id, self.clock.now(), {}))

    async def license_usage(self, tenant_id: str) -> View:
        """Licenses in force today and the named users counted against them (R2.1)."""
        directory = DirectoryService(self.db, self.clock, self.bus)
        async with self.db.transaction() as s:
            if await s.get(Tenant, tenant_id) is None:
                raise not_found("テナント", "Tenant")
            holdings = await directory.holdings(tenant_id, s)
            return {
                "line": holdings.line,
                "seat": holdings.seat,
                "admin": holdings.admin,
                "additional_user": holdings.additional_user,
                "named_users_allowed": holdings.named_users,
                "named_users_in_use": await directory.named_users(tenant_id, s),
            }

    async def settings(self, tenant_id: str) -> TenantSettings:
        """The tenant's effective settings (stored values over defaults)."""
        async with self.db.transaction() as s:
            tenant = await s.get(Tenant, tenant_id)
            if tenant is None:
                raise not_found("テナント", "Tenant")
            return resolve_settings(tenant.settings or {})

    async def update_settings(self, tenant_id: str, changes: Mapping[str, Any]) -> TenantSettings:
        """Validate and store changed settings; publishes ``settings.changed``."""
        async with self.db.transaction() as s:
            tenant = await s.get(Tenant, tenant_id)
            if tenant is None:
                raise not_found("テナント", "Tenant")
            updated = apply_settings(tenant.settings or {}, dict(changes))
            tenant.settings = updated.model_dump()
        await self.bus.publish(
            Event("settings.changed", tenant_id, self.clock.now(), updated.model_dump())
        )
        return updated
