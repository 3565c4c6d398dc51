"""``koe up`` and ``koe serve`` as real processes: HTTPS on loopback with the generated CA."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from koe.__main__ import WIRING
from koe.core.settings import Settings

STARTUP_SECONDS = 60


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Koe:
    """A ``python -m koe`` process with a private data directory, port and log files."""

    def __init__(self, tmp: Path, *args: str, tls: bool = True) -> None:
        self.tmp = tmp
        self.port = _free_port()
        self.scheme = "https" if tls else "http"
        env = os.environ | {
            "KOE_CONFIG": str(tmp / "none.toml"),
            "KOE_DATA_DIR": str(tmp / "var"),
            "KOE_HTTP_PORT": str(self.port),
            "KOE_TLS": "true" if tls else "false",
            "KOE_LANG": "en",
        }
        env.pop("KOE_DATABASE_URL", None)
        self.out = (tmp / f"{args[0]}-{self.port}.out").open("w+b")
        self.err = (tmp / f"{args[0]}-{self.port}.err").open("w+b")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "koe", *args], env=env, stdout=self.out, stderr=self.err
        )

    @property
    def ca(self) -> Path:
        return self.tmp / "var" / "tls" / "ca.crt"

    def output(self) -> str:
        self.out.seek(0)
        return self.out.read().decode("utf-8")

    def logs(self) -> str:
        self.err.seek(0)
        return self.output() + self.err.read().decode("utf-8", "replace")

    def url(self, host: str = "127.0.0.1") -> str:
        return f"{self.scheme}://{host}:{self.port}/healthz"

    def wait_until_serving(self) -> httpx.Response:
        """The first answer to /healthz, trusting only the generated CA (or plain HTTP)."""
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            if self.proc.poll() is not None:
                pytest.fail(f"koe exited with {self.proc.returncode}:\n{self.logs()}")
            try:
                verify = _trusting(self.ca) if self.scheme == "https" else False
                return httpx.get(self.url(), verify=verify, timeout=5)
            except (httpx.ConnectError, FileNotFoundError):
                if time.monotonic() > deadline:
                    pytest.fail(f"koe did not answer within {STARTUP_SECONDS} s:\n{self.logs()}")
                time.sleep(0.2)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=20)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            self.out.close()
            self.err.close()


@pytest.fixture
def started(tmp_path: Path) -> Iterator[list[Koe]]:
    """Processes a test starts; any still running afterwards is stopped."""
    procs: list[Koe] = []
    yield procs
    for proc in procs:
        if proc.proc.poll() is None:
            proc.stop()


def _trusting(ca: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(ca))


def test_up_then_serve_answer_https_with_the_generated_ca(
    tmp_path: Path, started: list[Koe]
) -> None:
    up = Koe(tmp_path, "up")
    started.append(up)
    response = up.wait_until_serving()
    assert response.json() == {"status": "ok"}
    assert httpx.get(up.url("localhost"), verify=_trusting(up.ca), timeout=5).status_code == 200
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.get(up.url(), verify=ssl.create_default_context(), timeout=5)
    printed = up.output()
    assert f"Koe is at https://127.0.0.1:{up.port}/" in printed
    assert f"CA certificate (trust it once in your browser or OS): {up.ca}" in printed
    assert up.stop() == 0, up.logs()

    logins = json.loads((tmp_path / "var" / "demo-logins.json").read_text(encoding="utf-8"))
    admin = next(x for x in logins["logins"] if x["login"] == "admin")
    assert f"demo    admin         {admin['password']}" in printed
    assert _demo_admin_logs_in(tmp_path / "var", admin["password"])

    ca_before, cert_before = (
        up.ca.read_bytes(),
        (tmp_path / "var" / "tls" / "server.crt").read_bytes(),
    )
    serve = Koe(tmp_path, "serve")
    started.append(serve)
    assert serve.wait_until_serving().status_code == 200
    assert serve.stop() == 0, serve.logs()
    assert up.ca.read_bytes() == ca_before
    assert (tmp_path / "var" / "tls" / "server.crt").read_bytes() == cert_before


def _demo_admin_logs_in(data_dir: Path, password: str) -> bool:
    async def login() -> bool:
        koe = WIRING.build(Settings(data_dir=data_dir, tls=False))
        try:
            result = await koe.auth.login(
                tenant_code="demo",
                login="admin",
                password=password,
                source="127.0.0.1",
                device_id="test-pc-0001",
            )
            return bool(result.token)
        finally:
            await koe.close()

    return asyncio.run(login())


def test_plain_http_only_when_configured(tmp_path: Path, started: list[Koe]) -> None:
    migrate = subprocess.run(
        [sys.executable, "-m", "koe", "--data-dir", str(tmp_path / "var"), "migrate"],
        env=os.environ | {"KOE_CONFIG": str(tmp_path / "none.toml")},
        capture_output=True,
        check=False,
        timeout=60,
    )
    assert migrate.returncode == 0, migrate.stderr
    plain = Koe(tmp_path, "serve", tls=False)
    started.append(plain)
    assert plain.wait_until_serving().status_code == 200
    assert "serving plain HTTP" in plain.output()
    assert not (tmp_path / "var" / "tls").exists()
    assert plain.stop() == 0, plain.logs()
