"""``koe import agents`` and ``koe export agents``: CSV with a header row, all or nothing."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from koe.cli.runtime import CliError, Services, run, say, state, table, write_file
from koe.tenancy.csvio import COLUMNS, ImportResult, export_agents, import_agents

import_app = typer.Typer(
    help="Import CSV files (header row; UTF-8, BOM or cp932).", no_args_is_help=True
)
export_app = typer.Typer(help="Export CSV files.", no_args_is_help=True)


class Encoding(StrEnum):
    """Encodings an export can be written in."""

    UTF8 = "utf-8"  # with BOM, so Excel reads it as UTF-8
    UTF8_NO_BOM = "utf-8-nobom"
    CP932 = "cp932"
    SHIFT_JIS = "shift_jis"  # written as cp932 (Windows-31J), what Japanese offices mean by it


_CODECS = {
    Encoding.UTF8: "utf-8-sig",
    Encoding.UTF8_NO_BOM: "utf-8",
    Encoding.CP932: "cp932",
    Encoding.SHIFT_JIS: "cp932",
}


def _read(path: Path) -> bytes:
    try:
        return sys.stdin.buffer.read() if str(path) == "-" else path.read_bytes()
    except OSError as err:
        raise CliError(
            "file_unreadable",
            f"ファイル {path} を読めません: {err.strerror}",
            f"Cannot read {path}: {err.strerror}",
        ) from err


@import_app.command("agents")
def import_agents_command(
    ctx: typer.Context,
    file: Annotated[
        Path, typer.Argument(help=f"CSV file ('-' for stdin). Columns: {', '.join(COLUMNS)}.")
    ],
    tenant: Annotated[str, typer.Option("--tenant", "-t", help="Tenant code.")],
    create_skills: Annotated[
        bool,
        typer.Option("--create-skills", help="Create skills the file names that do not exist."),
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Check every row, create nothing.")
    ] = False,
    passwords_out: Annotated[
        Path | None,
        typer.Option(
            help="Write generated passwords to this file (mode 0600) instead of printing."
        ),
    ] = None,
) -> None:
    """Import agents from CSV: every row checked, errors by line, nothing half-imported.

    Columns: login, display_name, extension (required); email, role (agent or supervisor),
    skills ("name:level;name:level", levels 1-10), password (empty: generated), language.
    Japanese headers (ログインID, 氏名, 内線番号, …) are understood too.
    """
    st = state(ctx)
    data = _read(file)

    async def work(koe: Services) -> ImportResult:
        tid = (await koe.tenants.by_code(tenant))["id"]
        return await import_agents(
            koe.directory, tid, data, create_skills=create_skills, dry_run=dry_run
        )

    result = run(st, st.settings(), work)
    rows = len(result.created)
    if dry_run:
        say(
            st.lang,
            f"問題はありません({result.encoding})。--dry-run のため何も作成していません。",
            f"No problems found ({result.encoding}); nothing created (--dry-run).",
        )
        return
    say(
        st.lang,
        f"{rows} 名のエージェントを取り込みました({result.encoding})。",
        f"Imported {rows} agents ({result.encoding}).",
    )
    if result.skills_created:
        say(
            st.lang,
            f"作成したスキル: {', '.join(result.skills_created)}",
            f"Skills created: {', '.join(result.skills_created)}",
        )
    if not result.passwords:
        return
    listing = table(["login", "password"], result.passwords)
    if passwords_out is not None:
        write_file(passwords_out, (listing + "\n").encode("utf-8"))
        say(
            st.lang,
            f"生成したパスワードを {passwords_out} に書き出しました(mode 0600)。",
            f"Generated passwords written to {passwords_out} (mode 0600).",
        )
        return
    say(
        st.lang,
        "生成したパスワード(この一度だけ表示):",
        "Generated passwords (shown only this once):",
    )
    typer.echo(listing)


@export_app.command("agents")
def export_agents_command(
    ctx: typer.Context,
    tenant: Annotated[str, typer.Option("--tenant", "-t", help="Tenant code.")],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File to write (default: stdout).")
    ] = None,
    encoding: Annotated[
        Encoding,
        typer.Option(help="utf-8 (with BOM, for Excel), utf-8-nobom, or cp932 (Shift_JIS)."),
    ] = Encoding.UTF8,
) -> None:
    """Export a tenant's agents as CSV in the import format (without passwords)."""
    st = state(ctx)

    async def work(koe: Services) -> bytes:
        tid = (await koe.tenants.by_code(tenant))["id"]
        return await export_agents(koe.directory, tid, _CODECS[encoding])

    data = run(st, st.settings(), work)
    if output is None:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    try:
        output.write_bytes(data)
    except OSError as err:
        raise CliError(
            "file_unwritable",
            f"{output} に書き込めません: {err.strerror}",
            f"Cannot write {output}: {err.strerror}",
        ) from err
    say(st.lang, f"{output} に書き出しました。", f"Wrote {output}.")
