"""A private PostgreSQL server for the test session, on loopback, started and stopped here.

Uses ``$KOE_TEST_POSTGRES_URL`` when set (an existing server). Otherwise it runs the
Debian PostgreSQL binaries (installed by ``./koe test``) in a temporary directory, as the
``postgres`` user when the tests run as root (PostgreSQL refuses to run as root).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg


def _bin_dir() -> Path | None:
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).resolve().parent
    root = Path("/usr/lib/postgresql")
    versions = sorted(root.glob("*/bin/pg_ctl")) if root.exists() else []
    return versions[-1].parent if versions else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PostgresServer:
    """One throwaway cluster; ``url(db)`` gives a SQLAlchemy URL for a database in it."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="koe-pg-"))
        self.data = self.dir / "data"
        self.as_root = os.geteuid() == 0
        self.bin = _bin_dir()
        self._started = False

    def _run(self, *args: str) -> None:
        cmd = list(args)
        if self.as_root:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        subprocess.run(cmd, check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        """initdb and start on 127.0.0.1:<free port> with trust auth."""
        if self.bin is None:
            raise RuntimeError("PostgreSQL is not installed (./koe test installs it)")
        if self.as_root:
            shutil.chown(self.dir, "postgres", "postgres")
        self._run(
            str(self.bin / "initdb"),
            "-D",
            str(self.data),
            "-A",
            "trust",
            "-U",
            "koe",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
        )
        opts = (
            f"-c listen_addresses=127.0.0.1 -c port={self.port} "
            f"-c unix_socket_directories={self.dir} -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        self._run(
            str(self.bin / "pg_ctl"),
            "-D",
            str(self.data),
            "-o",
            opts,
            "-l",
            str(self.dir / "log"),
            "-w",
            "-t",
            "60",
            "start",
        )
        self._started = True

    def stop(self) -> None:
        """Stop the server and remove its files."""
        if self._started:
            self._run(
                str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop"
            )
        shutil.rmtree(self.dir, ignore_errors=True)

    def admin_url(self) -> str:
        """A libpq URL to the maintenance database."""
        return f"postgresql://koe@127.0.0.1:{self.port}/postgres"

    def create_database(self, name: str, template: str | None = None) -> str:
        """A new database (a copy of ``template`` if given); its SQLAlchemy URL."""
        clause = f' TEMPLATE "{template}"' if template else ""
        deadline = time.monotonic() + 30
        while True:
            try:
                with psycopg.connect(self.admin_url(), autocommit=True) as conn:
                    conn.execute(f'CREATE DATABASE "{name}"{clause}')
                break
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        return f"postgresql+psycopg://koe@127.0.0.1:{self.port}/{name}"


def external_url() -> str | None:
    """An existing server's URL from the environment, if given."""
    return os.environ.get("KOE_TEST_POSTGRES_URL")
