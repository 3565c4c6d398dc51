"""The ``koe`` command: ``up``, ``serve``, ``migrate``, tenants, users, CSV import/export,
billing and notices."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from koe.cli import accounts, billing, server, transfer
from koe.cli.runtime import CliState, Wiring, detect_lang, report, safe_url, say, state
from koe.core.errors import KoeError
from koe.store.migrate import current


def _base(name: str) -> type[Exception]:
    """click's exception class ``name`` (typer ships its own copy of click in newer versions)."""
    found: type[Exception] = next(c for c in typer.BadParameter.__mro__ if c.__name__ == name)
    return found


_UsageError = _base("UsageError")
_ClickException = _base("ClickException")


def _usage_error(usage: Any, lang: str) -> int:
    """Print a usage error with the command's usage line and where to find help."""
    if usage.ctx is not None:
        typer.echo(usage.ctx.get_usage(), err=True)
        hint = f"{usage.ctx.command_path} --help"
        typer.echo(f"詳しくは '{hint}'" if lang == "ja" else f"Try '{hint}' for help.", err=True)
    prefix = "使い方が正しくありません: " if lang == "ja" else ""
    typer.echo(f"error[usage]: {prefix}{usage.format_message()}", err=True)
    return 2


class KoeGroup(TyperGroup):
    """Root command that reports every error as ``error[code]: message`` (ja or en)."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        """Run the command; errors become one line per problem and a non-zero exit status."""
        argv = list(sys.argv[1:] if args is None else args)
        lang = detect_lang(argv)
        try:
            rv = super().main(
                argv,
                prog_name,
                complete_var,
                standalone_mode=False,
                windows_expand_args=windows_expand_args,
                **extra,
            )
            code = rv if isinstance(rv, int) else 0
        except KoeError as err:
            report(err, lang)
            code = 1
        except _UsageError as err:
            usage: Any = err
            if type(err).__name__ == "NoArgsIsHelpError":  # a bare `koe` or `koe tenant`
                typer.echo(usage.format_message())
                code = 0
            else:
                code = _usage_error(usage, lang)
        except _ClickException as err:
            other: Any = err
            typer.echo(f"error[{type(err).__name__.lower()}]: {other.format_message()}", err=True)
            code = other.exit_code
        except typer.Abort:
            typer.echo(
                "error[aborted]: " + ("中断しました。" if lang == "ja" else "Aborted."), err=True
            )
            code = 1
        if standalone_mode:
            sys.exit(code)
        return code


app = typer.Typer(
    cls=KoeGroup,
    help="Koe: an open-source multi-tenant cloud contact center.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
app.add_typer(accounts.tenant_app, name="tenant")
app.add_typer(accounts.user_app, name="user")
app.add_typer(accounts.operator_app, name="operator")
app.add_typer(transfer.import_app, name="import")
app.add_typer(transfer.export_app, name="export")
app.add_typer(billing.billing_app, name="billing")
app.add_typer(billing.notices_app, name="notices")
app.command("up")(server.up)
app.command("serve")(server.serve)


def _version() -> str:
    try:
        return version("koe")
    except PackageNotFoundError:  # running from a source tree without installing
        import koe

        return str(getattr(koe, "__version__", "unknown"))


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"koe {_version()}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option(help="Settings file (default: $KOE_CONFIG or ./koe.toml).", dir_okay=False),
    ] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option(help="Data directory: database, certificates, demo logins (default var/)."),
    ] = None,
    database_url: Annotated[
        str | None,
        typer.Option(help="Database URL (default: SQLite in the data directory)."),
    ] = None,
    lang: Annotated[
        str | None,
        typer.Option(help="Language of messages: ja or en (default: $KOE_LANG or $LANG)."),
    ] = None,
    show_version: Annotated[
        bool,
        typer.Option(
            "--version", help="Print the version and exit.", callback=_show_version, is_eager=True
        ),
    ] = False,
) -> None:
    """Koe: an open-source multi-tenant cloud contact center."""
    resolved = detect_lang([f"--lang={lang}"] if lang else [])
    if lang is not None and lang not in ("ja", "en"):
        raise typer.BadParameter("use ja or en", param_hint="--lang")
    wired = ctx.obj if isinstance(ctx.obj, Wiring) else None
    ctx.obj = CliState(config, data_dir, database_url, resolved, wired)


@app.command("version")
def version_command() -> None:
    """Print the version of Koe."""
    typer.echo(f"koe {_version()}")


@app.command("migrate")
def migrate(ctx: typer.Context) -> None:
    """Create or upgrade the database schema to the newest version."""
    st = state(ctx)
    settings = st.settings()
    url = settings.resolved_database_url()
    server.migrate_database(url)
    say(
        st.lang,
        f"データベース {safe_url(url)} はリビジョン {current(url)} です。",
        f"Database {safe_url(url)} is at revision {current(url)}.",
    )


def main(wired: Wiring, argv: Sequence[str] | None = None) -> None:
    """Run the ``koe`` command with the composition root's wiring (see ``koe.__main__``)."""
    app(args=argv, obj=wired)
