"""Tenant-scoped repository: every method takes ``tenant_id`` first, and only sees that tenant."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from koe.core.errors import ValidationFailed, not_found
from koe.store.base import TenantScoped

M = TypeVar("M", bound=TenantScoped)

MAX_PAGE = 500


@dataclass(frozen=True, slots=True)
class Page(Generic[M]):
    """One page of results and the total that matched."""

    items: Sequence[M]
    total: int
    offset: int
    limit: int


class TenantRepository(Generic[M]):
    """Queries on one tenant-scoped model; another tenant's row answers 'not found'."""

    def __init__(self, model: type[M], label_ja: str, label_en: str) -> None:
        self.model = model
        self.label_ja = label_ja
        self.label_en = label_en

    def scoped(self, tenant_id: str) -> Select[M]:
        """SELECT of this tenant's rows only."""
        return select(self.model).where(self.model.tenant_id == tenant_id)

    async def get(self, tenant_id: str, session: AsyncSession, object_id: str) -> M:
        """The row ``object_id`` of ``tenant_id``, or NotFound."""
        row = (
            await session.execute(self.scoped(tenant_id).where(self.model.id == object_id))
        ).scalar_one_or_none()
        if row is None:
            raise not_found(self.label_ja, self.label_en)
        return row

    async def find(self, tenant_id: str, session: AsyncSession, **equals: Any) -> M | None:
        """The one row of ``tenant_id`` matching ``equals``, or None."""
        stmt = self.scoped(tenant_id)
        for name, value in equals.items():
            stmt = stmt.where(getattr(self.model, name) == value)
        return (await session.execute(stmt)).scalars().first()

    async def list(
        self,
        tenant_id: str,
        session: AsyncSession,
        *,
        filters: Mapping[str, Any] | None = None,
        search: tuple[str, str] | None = None,
        offset: int = 0,
        limit: int = 50,
        order_by: str = "id",
    ) -> Page[M]:
        """A page of this tenant's rows, filtered by equality and an optional substring."""
        if offset < 0 or not 1 <= limit <= MAX_PAGE:
            raise ValidationFailed(
                "invalid_paging",
                f"offset は0以上、limit は1〜{MAX_PAGE}にしてください。",
                f"offset must be >= 0 and limit between 1 and {MAX_PAGE}.",
            )
        stmt = self.scoped(tenant_id)
        for name, value in (filters or {}).items():
            stmt = stmt.where(getattr(self.model, name) == value)
        if search is not None:
            column, needle = search
            escaped = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            stmt = stmt.where(getattr(self.model, column).like(f"%{escaped}%", escape="\\"))
        total = (
            await session.execute(select(func.count()).select_from(stmt.subquery()))
        ).scalar_one()
        rows = (
            (
                await session.execute(
                    stmt.order_by(getattr(self.model, order_by), self.model.id)
                    .offset(offset)
                    .limit(limit)
                )
            )
            .scalars()
            .all()
        )
        return Page(items=rows, total=total, offset=offset, limit=limit)

    async def count(self, tenant_id: str, session: AsyncSession, **equals: Any) -> int:
        """How many rows of ``tenant_id`` match ``equals``."""
        stmt = select(func.count()).select_from(self.model).where(self.model.tenant_id == tenant_id)
        for name, value in equals.items():
            stmt = stmt.where(getattr(self.model, name) == value)
        return int((await session.execute(stmt)).scalar_one())

    def add(self, tenant_id: str, session: AsyncSession, row: M) -> M:
        """Stage ``row`` as belonging to ``tenant_id``."""
        row.tenant_id = tenant_id
        session.add(row)
        return row

    async def delete(self, tenant_id: str, session: AsyncSession, object_id: str) -> None:
        """Delete the row ``object_id`` of ``tenant_id`` (NotFound if absent)."""
        row = await self.get(tenant_id, session, object_id)
        await session.delete(row)
