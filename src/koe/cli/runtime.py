"""What every command shares: settings, language, errors, running services, printing tables."""

from __future__ import annotations

import asyncio
import os
import sys
import tomllib
import unicodedata
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

import pydantic
import typer
from alembic.script import ScriptDirectory
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError

from koe.billing.service import BillingService
from koe.contracts.mailer import NoticeMailer
from koe.core.clock import Clock
from koe.core.errors import KoeError
from koe.core.settings import Settings, load_settings
from koe.identity.sessions import AuthService
from koe.store.migrate import alembic_config, current
from koe.tenancy.service import DirectoryService, TenantService

T = TypeVar("T")


class Services(Protocol):
    """What the commands need from the composition root (``koe.app.Koe`` fits)."""

    @property
    def settings(self) -> Settings: ...
    @property
    def clock(self) -> Clock: ...
    @property
    def tenants(self) -> TenantService: ...
    @property
    def directory(self) -> DirectoryService: ...
    @property
    def auth(self) -> AuthService: ...
    @property
    def billing(self) -> BillingService: ...
    @property
    def notices(self) -> NoticeMailer: ...
    async def close(self) -> None:
        """Release what the services hold."""


@dataclass(frozen=True, slots=True)
class Wiring:
    """How the composition root builds services and the HTTP app (injected by ``koe.__main__``).

    The command line sits beside the API in the layer map, so it imports neither; the
    launcher hands both in.
    """

    build: Callable[[Settings], Services]
    create_api: Callable[[Any], Any]


class CliError(KoeError):
    """A problem the command line reports itself (settings, files, database state)."""

    status = 400


def detect_lang(argv: Sequence[str] = ()) -> str:
    """``--lang`` on the command line, else ``$KOE_LANG``, else the locale: "ja" or "en"."""
    for i, arg in enumerate(argv):
        if arg.startswith("--lang="):
            return "ja" if arg.split("=", 1)[1].startswith("ja") else "en"
        if arg == "--lang" and i + 1 < len(argv):
            return "ja" if argv[i + 1].startswith("ja") else "en"
    for var in ("KOE_LANG", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(var)
        if value:
            return "ja" if value.lower().startswith("ja") else "en"
    return "en"


def report(err: KoeError, lang: str) -> None:
    """Print ``error[code]: message`` and one line per field problem to stderr."""
    typer.echo(f"error[{err.code}]: {err.message(lang)}", err=True)
    for problem in err.fields:
        typer.echo(f"  - {problem.field}: {problem.message(lang)}", err=True)


@dataclass(slots=True)
class CliState:
    """Options of the root command, shared by every subcommand."""

    config: Path | None = None
    data_dir: Path | None = None
    database_url: str | None = None
    lang: str = "en"
    wiring: Wiring | None = None

    def settings(self, **overrides: Any) -> Settings:
        """Server settings: file < environment < these options."""
        try:
            return load_settings(
                self.config,
                data_dir=self.data_dir,
                database_url=self.database_url,
                **overrides,
            )
        except pydantic.ValidationError as err:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in err.errors()
            )
            raise CliError(
                "invalid_settings",
                f"設定が正しくありません: {problems}",
                f"Invalid settings: {problems}",
            ) from err
        except (tomllib.TOMLDecodeError, OSError, UnicodeDecodeError) as err:
            raise CliError(
                "invalid_settings",
                f"設定ファイルを読めません: {err}",
                f"Cannot read the settings file: {err}",
            ) from err


def state(ctx: typer.Context) -> CliState:
    """The root command's state (a fresh default when a command runs on its own)."""
    obj = ctx.find_root().obj
    if isinstance(obj, CliState):
        return obj
    fresh = CliState(lang=detect_lang(sys.argv[1:]))
    ctx.find_root().obj = fresh
    return fresh


def safe_url(url: str) -> str:
    """A database URL fit for printing (no password)."""
    return make_url(url).render_as_string(hide_password=True)


def _database_error(err: Exception, url: str) -> CliError:
    detail = str(getattr(err, "orig", err)).strip().splitlines()[0][:300]
    return CliError(
        "database_unavailable",
        f"データベース {safe_url(url)} を使えません: {detail}",
        f"Cannot use the database {safe_url(url)}: {detail}",
    )


def head_revision(url: str) -> str | None:
    """The newest migration Koe knows."""
    return ScriptDirectory.from_config(alembic_config(url)).get_current_head()


def require_migrated(url: str) -> None:
    """Refuse to work on a database that is missing or not at the newest migration."""
    parsed = make_url(url)
    sqlite_file = parsed.database if parsed.drivername.startswith("sqlite") else None
    try:
        at = None if sqlite_file and not Path(sqlite_file).exists() else current(url)
    except (OperationalError, DBAPIError) as err:
        raise _database_error(err, url) from err
    if at != head_revision(url):
        raise CliError(
            "database_not_migrated",
            f"データベースが最新ではありません(現在 {at or 'なし'})。"
            "`koe migrate` か `koe up` を実行してください。",
            f"The database is not up to date (at {at or 'nothing'}). "
            "Run `koe migrate` or `koe up`.",
        )


def run(st: CliState, settings: Settings, work: Callable[[Services], Awaitable[T]]) -> T:
    """Build the services for ``settings`` on a migrated database, run ``work``, close them."""
    url = settings.resolved_database_url()
    require_migrated(url)
    build = wiring(st).build

    async def go() -> T:
        services = build(settings)
        try:
            return await work(services)
        finally:
            await services.close()

    try:
        return asyncio.run(go())
    except (OperationalError, DBAPIError) as err:
        raise _database_error(err, url) from err


def wiring(st: CliState) -> Wiring:
    """The composition root's wiring, or a clear error when the CLI was started without it."""
    if st.wiring is None:
        raise CliError(
            "not_wired",
            "koe コマンドは `koe` か `python -m koe` で起動してください。",
            "Start the command line as `koe` or `python -m koe`.",
        )
    return st.wiring


# ---- output ----


def write_file(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Write ``path`` atomically, created with ``mode`` (secrets never readable by others)."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.write(fd, data)
        os.fchmod(fd, mode)
    finally:
        os.close(fd)
    tmp.replace(path)


def width(text: str) -> int:
    """Columns ``text`` takes in a terminal (full-width characters take two)."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain text table aligned for Japanese and Latin text alike."""
    cells = [[str(h) for h in headers]] + [["" if v is None else str(v) for v in r] for r in rows]
    widths = [max(width(row[i]) for row in cells) for i in range(len(headers))]
    lines = []
    for row in cells:
        padded = [v + " " * (widths[i] - width(v)) for i, v in enumerate(row)]
        lines.append("  ".join(padded).rstrip())
    return "\n".join(lines)


def say(lang: str, ja: str, en: str) -> None:
    """Print a message in the user's language."""
    typer.echo(ja if lang == "ja" else en)
