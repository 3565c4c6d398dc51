"""Migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from koe.store.db import sync_url
from koe.store.migrate import current, head
from koe.store.models import TENANT_SCOPED_MODELS, Base


def test_migrated_schema_matches_models(database_url: str) -> None:
    engine = create_engine(sync_url(database_url))
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert diff == []
        assert current(database_url) == head()
    finally:
        engine.dispose()


def test_every_tenant_scoped_table_has_indexed_tenant_id(database_url: str) -> None:
    engine = create_engine(sync_url(database_url))
    try:
        inspector = inspect(engine)
        for model in TENANT_SCOPED_MODELS:
            table = model.__tablename__  # type: ignore[attr-defined]
            columns = {c["name"]: c for c in inspector.get_columns(table)}
            assert "tenant_id" in columns, table
            assert columns["tenant_id"]["nullable"] is False, table
            fks = inspector.get_foreign_keys(table)
            assert any(fk["referred_table"] == "tenants" for fk in fks), table
    finally:
        engine.dispose()


def test_every_model_with_tenant_id_is_listed_as_tenant_scoped() -> None:
    listed = {m.__tablename__ for m in TENANT_SCOPED_MODELS}  # type: ignore[attr-defined]
    with_tenant = {
        t.name
        for t in Base.metadata.sorted_tables
        if "tenant_id" in t.c and t.name not in ("auth_sessions", "audit_log")
    }
    assert with_tenant == listed
