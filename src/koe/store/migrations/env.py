"""Alembic environment: runs migrations on the URL given by koe.store.migrate."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool

from koe.store.db import install_sqlite_pragmas, sync_url
from koe.store.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    """Run migrations with a live connection."""
    url = config.get_main_option("sqlalchemy.url")
    assert url
    engine = create_engine(sync_url(url), poolclass=pool.NullPool)
    install_sqlite_pragmas(engine)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations_online()
