"""Suite-wide guards: loopback-only sockets and no background task left running."""

from __future__ import annotations

import asyncio
import ipaddress
import os
import socket
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

# Network namespaces made by the tests themselves (issue 3's NAT tests) use this range.
_TEST_NETS = [ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128")]
_extra = os.environ.get("KOE_TEST_EXTRA_NETS", "")
_TEST_NETS += [ipaddress.ip_network(n) for n in _extra.split(",") if n]


def _allowed(address: Any) -> bool:
    if not isinstance(address, tuple):
        return True  # AF_UNIX paths and the like
    host = address[0]
    if host in ("localhost", "", "::", "0.0.0.0"):
        return host in ("localhost", "")
    try:
        ip = ipaddress.ip_address(host.split("%")[0])
    except ValueError:
        return False
    return any(ip in net for net in _TEST_NETS)


class NonLoopbackSocketError(RuntimeError):
    """A test tried to reach or bind something that is not loopback."""


_orig_connect = socket.socket.connect
_orig_connect_ex = socket.socket.connect_ex
_orig_bind = socket.socket.bind
_orig_sendto = socket.socket.sendto


def _guard(address: Any) -> None:
    if not _allowed(address):
        raise NonLoopbackSocketError(f"tests may only use loopback addresses, not {address!r}")


def _connect(self: socket.socket, address: Any) -> None:
    _guard(address)
    _orig_connect(self, address)


def _connect_ex(self: socket.socket, address: Any) -> int:
    _guard(address)
    return _orig_connect_ex(self, address)


def _bind(self: socket.socket, address: Any) -> None:
    _guard(address)
    _orig_bind(self, address)


def _sendto(self: socket.socket, data: Any, *args: Any) -> int:
    _guard(args[-1])
    return _orig_sendto(self, data, *args)  # type: ignore[arg-type]


@pytest.fixture(autouse=True, scope="session")
def _loopback_only() -> Iterator[None]:
    socket.socket.connect = _connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _connect_ex  # type: ignore[method-assign]
    socket.socket.bind = _bind  # type: ignore[method-assign]
    socket.socket.sendto = _sendto  # type: ignore[method-assign,assignment]
    yield
    socket.socket.connect = _orig_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _orig_connect_ex  # type: ignore[method-assign]
    socket.socket.bind = _orig_bind  # type: ignore[method-assign]
    socket.socket.sendto = _orig_sendto  # type: ignore[method-assign]


@pytest.fixture(autouse=True)
async def _no_leftover_tasks() -> AsyncIterator[None]:
    yield
    me = asyncio.current_task()
    for _ in range(3):
        left = [t for t in asyncio.all_tasks() if t is not me and not t.done()]
        if not left:
            return
        await asyncio.sleep(0.01)
    names = ", ".join(repr(t.get_coro()) for t in left)
    for t in left:
        t.cancel()
    pytest.fail(f"test left {len(left)} task(s) running: {names}")


# ---- databases: every store-backed test runs on SQLite and on PostgreSQL ----

import itertools  # noqa: E402
import shutil  # noqa: E402
import uuid  # noqa: E402
from datetime import UTC, datetime  # noqa: E402
from pathlib import Path  # noqa: E402

import psycopg  # noqa: E402

from koe.app import Koe, build  # noqa: E402
from koe.core.clock import FrozenClock  # noqa: E402
from koe.core.settings import Settings  # noqa: E402
from koe.store.migrate import upgrade  # noqa: E402
from tests.pg import PostgresServer, external_url  # noqa: E402

_db_counter = itertools.count()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer | str]:
    """The session's PostgreSQL: an external URL, or a private server started here."""
    url = external_url()
    if url:
        yield url
        return
    server = PostgresServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _admin_url(server: PostgresServer | str) -> str:
    return server.replace("+psycopg", "") if isinstance(server, str) else server.admin_url()


def _create_database(server: PostgresServer | str, name: str, template: str | None = None) -> str:
    """CREATE DATABASE on the session's server (from ``template`` if given); its URL."""
    if isinstance(server, PostgresServer):
        return server.create_database(name, template=template)
    clause = f' TEMPLATE "{template}"' if template else ""
    with psycopg.connect(_admin_url(server), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"{clause}')
    return f"{server.rsplit('/', 1)[0]}/{name}"


@pytest.fixture(scope="session")
def _postgres_template(postgres_server: PostgresServer | str) -> str:
    """A migrated database that every PostgreSQL test database is copied from."""
    name = f"koe_template_{uuid.uuid4().hex[:8]}"
    upgrade(_create_database(postgres_server, name))
    return name


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file that every SQLite test database is copied from."""
    path = tmp_path_factory.mktemp("template") / "koe.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, migrated, empty database URL: SQLite file or PostgreSQL database."""
    if request.param == "sqlite":
        path = tmp_path / "koe.db"
        shutil.copyfile(request.getfixturevalue("_sqlite_template"), path)
        return f"sqlite:///{path}"
    server = request.getfixturevalue("postgres_server")
    template = request.getfixturevalue("_postgres_template")
    name = f"koe_test_{next(_db_counter)}_{uuid.uuid4().hex[:8]}"
    return _create_database(server, name, template)


@pytest.fixture
def clock() -> FrozenClock:
    """A frozen clock at 2026-11-24 10:00 JST (01:00 UTC)."""
    return FrozenClock(datetime(2026, 11, 24, 1, 0, tzinfo=UTC))


@pytest.fixture
async def koe(database_url: str, clock: FrozenClock, tmp_path: Path) -> AsyncIterator[Koe]:
    """A fully wired Koe on a fresh database, closed after the test."""
    settings = Settings(data_dir=tmp_path / "var", database_url=database_url, tls=False)
    app = build(settings, clock=clock)
    try:
        yield app
    finally:
        await app.close()
