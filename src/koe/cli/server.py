"""``koe up`` and ``koe serve``: migrate, seed the demo tenant, make certificates, serve HTTPS."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
import uvicorn
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError

from koe.cli.runtime import (
    CliError,
    Services,
    Wiring,
    require_migrated,
    run,
    safe_url,
    say,
    state,
    table,
    wiring,
    write_file,
)
from koe.cli.tls import TlsFiles, ensure_certificates
from koe.core.clock import jst_today
from koe.core.domain import ContractStatus, Role
from koe.core.errors import Conflict, NotFound
from koe.core.settings import Settings
from koe.store.migrate import upgrade
from koe.tenancy.standard import StandardSetup, new_password, provision_standard

DEMO_CODE = "demo"
DEMO_FILE = "demo-logins.json"
DEMO_APPLICATION: dict[str, Any] = {
    "code": DEMO_CODE,
    "company_name": "デモ株式会社",
    "company_name_kana": "デモカブシキガイシャ",
    "representative_name": "声 太郎",
    "postal_code": "100-0001",
    "address": "東京都千代田区千代田1-1",
    "phone": "03-0000-0000",
    "billing_name": "デモ株式会社 経理部",
}
# 050-0000-xxxx is not issued to anyone, so the demo never holds a real tenant's DID.
DEMO_NUMBERS = ("050-0000-0001", "050-0000-0002")
OPERATOR_LOGIN = "operator"
_LOOPBACK_HOSTS = ("", "0.0.0.0", "::", "localhost")  # noqa: S104 - recognised, not bound

HostOption = Annotated[
    str | None, typer.Option("--host", help="Address to listen on (default: settings.http_host).")
]
PortOption = Annotated[
    int | None, typer.Option("--port", help="Port to listen on (default: settings.http_port).")
]


@dataclass(frozen=True, slots=True)
class DemoLogin:
    """One demo login: tenant code (None for operator staff), login, password, role."""

    tenant: str | None
    login: str
    password: str
    role: str
    extension: str | None = None


def migrate_database(url: str) -> None:
    """Bring the database up to the newest migration, reporting connection problems clearly."""
    parsed = make_url(url)
    if parsed.drivername.startswith("sqlite") and parsed.database not in (None, "", ":memory:"):
        # The data directory holds password hashes and keys: private to the service's user.
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        upgrade(url)
    except (OperationalError, DBAPIError) as err:
        detail = str(getattr(err, "orig", err)).strip().splitlines()[0][:300]
        raise CliError(
            "database_unavailable",
            f"データベース {safe_url(url)} を使えません: {detail}",
            f"Cannot use the database {safe_url(url)}: {detail}",
        ) from err


def base_url(settings: Settings) -> str:
    """The URL people open: the public URL, or this host and port."""
    if settings.public_url:
        return settings.public_url
    scheme = "https" if settings.tls else "http"
    host = settings.http_host
    if host in _LOOPBACK_HOSTS:
        host = "localhost" if host == "localhost" else "127.0.0.1"
    with contextlib.suppress(ValueError):
        if ipaddress.ip_address(host).version == 6:
            host = f"[{host}]"
    return f"{scheme}://{host}:{settings.http_port}/"


# ---- the demo tenant ----


def _demo_path(settings: Settings) -> Path:
    return settings.data_dir / DEMO_FILE


def _store_demo(path: Path, logins: list[DemoLogin]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = json.dumps({"logins": [asdict(x) for x in logins]}, ensure_ascii=False, indent=2)
    write_file(path, data.encode("utf-8"))


def load_demo(settings: Settings) -> list[DemoLogin]:
    """The demo logins stored by the first ``koe up`` (empty if none are stored)."""
    path = _demo_path(settings)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return [DemoLogin(**x) for x in raw["logins"]]
    except (OSError, ValueError, KeyError, TypeError):
        return []


async def ensure_demo(koe: Services) -> tuple[list[DemoLogin], bool]:
    """Create the demo tenant (standard setup) and an operator admin if absent; their logins."""
    settings = koe.settings
    try:
        await koe.tenants.by_code(DEMO_CODE)
    except NotFound:
        pass
    else:
        return load_demo(settings), False
    today = jst_today(koe.clock)
    application = DEMO_APPLICATION | {
        "status": ContractStatus.ACTIVE,
        "service_start_date": date(today.year, today.month, 1),
    }
    result = await provision_standard(
        koe.tenants, application, setup=StandardSetup(numbers=DEMO_NUMBERS)
    )
    logins = [
        DemoLogin(DEMO_CODE, c.login, c.password, c.role.value, c.extension)
        for c in result.credentials
    ]
    password = new_password()
    with contextlib.suppress(Conflict):  # an operator of that name exists already: keep it
        await koe.auth.add_operator_user(
            OPERATOR_LOGIN, "運営管理者", password, Role.OPERATOR_ADMIN
        )
        logins.insert(0, DemoLogin(None, OPERATOR_LOGIN, password, Role.OPERATOR_ADMIN.value))
    _store_demo(_demo_path(settings), logins)
    return logins, True


def print_demo(lang: str, settings: Settings, logins: list[DemoLogin], created: bool) -> None:
    """The demo logins, with where they are stored."""
    path = _demo_path(settings).resolve()
    if not logins:
        say(
            lang,
            f"デモテナント '{DEMO_CODE}' はありますが、パスワードが {path} に保存されていません。"
            f"再設定: koe user password --tenant {DEMO_CODE} --login admin",
            f"The demo tenant '{DEMO_CODE}' exists but no passwords are stored in {path}. "
            f"Reset one with: koe user password --tenant {DEMO_CODE} --login admin",
        )
        return
    say(
        lang,
        "デモのログイン(テナント / ログイン / パスワード):"
        + ("  ※新しく作成しました" if created else ""),
        "Demo logins (tenant / login / password):" + ("  (just created)" if created else ""),
    )
    rows = [
        [
            x.tenant or "-",
            x.login,
            x.password,
            x.role + (f" ext {x.extension}" if x.extension else ""),
        ]
        for x in logins
    ]
    typer.echo(table(["tenant", "login", "password", "role"], rows))
    say(lang, f"保存先: {path} (mode 0600)", f"Stored in {path} (mode 0600).")


# ---- serving ----


class _Server(uvicorn.Server):
    """uvicorn that, stopped by a signal, returns to us instead of re-raising the signal."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        with super().capture_signals():
            try:
                yield
            finally:
                # Handled by a graceful shutdown already; the caller closes Koe and exits 0.
                self._captured_signals.clear()


def certificates(lang: str, settings: Settings) -> TlsFiles | None:
    """Make or reuse the certificates (None when plain HTTP is configured)."""
    if not settings.tls:
        say(
            lang,
            "注意: tls = false のため HTTP(暗号化なし)で待ち受けます。",
            "Warning: tls = false, serving plain HTTP without encryption.",
        )
        return None
    files = ensure_certificates(settings)
    if files.ca_cert is not None:
        say(
            lang,
            f"CA証明書(ブラウザやOSで一度信頼してください): {files.ca_cert.resolve()}"
            + ("  ※新しく作成しました" if files.created else ""),
            f"CA certificate (trust it once in your browser or OS): {files.ca_cert.resolve()}"
            + ("  (just created)" if files.created else ""),
        )
    return files


def serve_forever(wired: Wiring, settings: Settings, tls: TlsFiles | None) -> None:
    """Serve the API until SIGINT or SIGTERM, then close everything."""

    async def go() -> None:
        koe = wired.build(settings)
        try:
            config = uvicorn.Config(
                wired.create_api(koe),
                host=settings.http_host,
                port=settings.http_port,
                ssl_certfile=str(tls.cert) if tls else None,
                ssl_keyfile=str(tls.key) if tls else None,
                log_level=settings.log_level.lower(),
                server_header=False,
                lifespan="on",
            )
            server = _Server(config)
            with contextlib.suppress(SystemExit):  # uvicorn exits when it cannot bind
                await server.serve()
            if not server.started:
                raise CliError(
                    "serve_failed",
                    f"{settings.http_host}:{settings.http_port} で待ち受けできませんでした"
                    "(使用中のポート?)。",
                    f"Could not listen on {settings.http_host}:{settings.http_port} "
                    "(port in use?).",
                )
        finally:
            await koe.close()

    asyncio.run(go())


def serve(ctx: typer.Context, host: HostOption = None, port: PortOption = None) -> None:
    """Serve the API over HTTPS (plain HTTP only when settings.tls is false)."""
    st = state(ctx)
    settings = st.settings(http_host=host, http_port=port)
    require_migrated(settings.resolved_database_url())
    tls = certificates(st.lang, settings)
    say(st.lang, f"Koe: {base_url(settings)}", f"Koe: {base_url(settings)}")
    serve_forever(wiring(st), settings, tls)


def up(
    ctx: typer.Context,
    host: HostOption = None,
    port: PortOption = None,
    no_serve: Annotated[
        bool, typer.Option("--no-serve", help="Set up and print the logins, but do not serve.")
    ] = False,
) -> None:
    """Set up and run: migrate, create the demo tenant, make certificates, serve HTTPS."""
    st = state(ctx)
    settings = st.settings(http_host=host, http_port=port)
    url = settings.resolved_database_url()
    migrate_database(url)
    logins, created = run(st, settings, ensure_demo)
    tls = certificates(st.lang, settings)
    print_demo(st.lang, settings, logins, created)
    say(
        st.lang,
        f"Koe の URL: {base_url(settings)}  (API: {base_url(settings)}docs)",
        f"Koe is at {base_url(settings)}  (API: {base_url(settings)}docs)",
    )
    if not no_serve:
        serve_forever(wiring(st), settings, tls)
