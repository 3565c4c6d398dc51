"""The ``koe`` command in-process: every command, its errors, and its output."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from koe.__main__ import WIRING
from koe.cli.main import app
from koe.store.migrate import head
from tests.tenancy.test_csvio import _office_rows

TENANT = [
    "--code", "acme",
    "--company-name", "株式会社アクメ",
    "--company-name-kana", "カブシキガイシャアクメ",
    "--representative", "山田 太郎",
    "--postal-code", "100-0005",
    "--address", "東京都千代田区丸の内1-1-1",
    "--phone", "０３－１２３４－５６７８",
    "--fax", "03-1234-5679",
    "--billing-name", "アクメ経理部",
    "--billing-postal-code", "100-0005",
    "--billing-address", "東京都千代田区丸の内1-1-2",
    "--contract-name", "契約 花子", "--contract-email", "keiyaku@example.jp",
    "--technical-name", "技術 次郎", "--technical-phone", "050-1111-2222",
    "--emergency-name", "緊急 三郎", "--emergency-phone", "090-1234-5678",
    "--billing-contact-name", "請求 四郎", "--billing-contact-department", "経理部",
]  # fmt: skip


class Cli:
    """Runs ``koe`` with a private data directory and database."""

    def __init__(self, data_dir: Path, database_url: str | None) -> None:
        self.data_dir = data_dir
        self.database_url = database_url
        self.runner = CliRunner()

    def __call__(self, *args: str, code: int = 0, lang: str = "en", stdin: Any = None) -> Any:
        base = ["--data-dir", str(self.data_dir), "--lang", lang]
        if self.database_url:
            base += ["--database-url", self.database_url]
        result = self.runner.invoke(
            app,
            [*base, *args],
            obj=WIRING,
            prog_name="koe",
            input=stdin,
            env={"KOE_CONFIG": str(self.data_dir / "none.toml"), "KOE_HTTP_PORT": None},
        )
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        assert result.exit_code == code, result.output
        return result


@pytest.fixture
def cli(database_url: str, tmp_path: Path) -> Cli:
    """The CLI on a fresh, migrated database (SQLite and PostgreSQL)."""
    return Cli(tmp_path / "var", database_url)


@pytest.fixture
def bare(tmp_path: Path) -> Cli:
    """The CLI on an empty data directory (SQLite inside it)."""
    return Cli(tmp_path / "var", None)


def _commands(group: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    yield path
    for name, command in getattr(group, "commands", {}).items():
        yield from _commands(command, (*path, name))


def test_every_command_has_help(bare: Cli) -> None:
    paths = list(_commands(typer.main.get_command(app)))
    assert {p[:2] for p in paths if p} >= {
        ("up",), ("serve",), ("migrate",), ("version",),
        ("tenant", "create"), ("tenant", "list"), ("tenant", "show"), ("user", "add"),
        ("import", "agents"), ("export", "agents"), ("operator", "add"),
    }  # fmt: skip
    for path in paths:
        result = bare(*path, "--help")
        assert "Usage: koe" in result.output


def test_version(bare: Cli) -> None:
    assert bare("version").output.strip() == "koe 0.1.0"
    assert bare("--version").output.strip() == "koe 0.1.0"


def test_migrate_first_then_everything_else(bare: Cli) -> None:
    result = bare("tenant", "list", code=1)
    assert result.stderr.startswith("error[database_not_migrated]: The database is not up to date")
    ja = bare("tenant", "list", code=1, lang="ja")
    assert ja.stderr.startswith("error[database_not_migrated]: データベースが最新ではありません")
    assert f"revision {head()}." in bare("migrate").output
    assert f"revision {head()}." in bare("migrate").output  # again: nothing to do
    assert bare("tenant", "list").output.split() == ["code", "company", "status", "phone"]


def test_usage_errors_are_reported_like_the_others(bare: Cli) -> None:
    result = bare("tenant", "create", "--code", "x", code=2)
    assert "error[usage]: Missing option '--company-name'." in result.stderr
    assert "Try 'koe tenant create --help' for help." in result.stderr
    assert "error[usage]: No such command 'nope'." in bare("nope", code=2).stderr
    assert "error[usage]:" in bare("--lang", "fr", "version", code=2).stderr


def test_bad_settings_are_a_clear_error(bare: Cli) -> None:
    (bare.data_dir).mkdir(parents=True)
    (bare.data_dir / "none.toml").write_text("http_port = 99999\n", encoding="utf-8")
    result = bare("migrate", code=1)
    assert result.stderr.startswith("error[invalid_settings]: Invalid settings: http_port")


def test_tenant_create_with_every_application_field(cli: Cli) -> None:
    out = cli("tenant", "create", *TENANT, "--lines", "2", "--seats", "3", "--admins", "1").output
    assert "Created tenant acme (株式会社アクメ)." in out
    shown = json.loads(cli("tenant", "show", "acme", "--json").output)
    tenant = shown["tenant"]
    assert tenant["phone"] == "+81312345678"
    assert tenant["fax"] == "+81312345679"
    assert tenant["company_name_kana"] == "カブシキガイシャアクメ"
    assert tenant["billing_address"] == "東京都千代田区丸の内1-1-2"
    assert tenant["status"] == "applied"
    contacts = {c["kind"]: c for c in shown["contacts"]}
    assert set(contacts) == {"contract", "technical", "emergency", "billing"}
    assert contacts["emergency"]["phone"] == "+819012345678"
    assert contacts["billing"]["department"] == "経理部"
    assert shown["licenses"]["seat"] == 3
    assert shown["counts"]["agents"] == 0

    text = cli("tenant", "show", "acme").output
    assert "03-1234-5678" in text
    assert "株式会社アクメ" in cli("tenant", "list").output
    assert cli("tenant", "list", "--q", "nothing-like-it").output.split()[4:] == []

    again = cli("--lang", "ja", "tenant", "create", *TENANT, code=1, lang="ja")
    assert again.stderr.startswith("error[duplicate]: code 'acme' はすでに使われています。")
    missing = cli("tenant", "show", "nobody", code=1)
    assert missing.stderr.strip() == "error[not_found]: Tenant not found."


def test_bad_input_leaves_no_tenant(cli: Cli) -> None:
    bad_phone = [a if a != "０３－１２３４－５６７８" else "03-12" for a in TENANT]
    assert "error[invalid_phone_number]" in cli("tenant", "create", *bad_phone, code=1).stderr
    long_name = [a if a != "株式会社アクメ" else "株" * 201 for a in TENANT]
    result = cli("tenant", "create", *long_name, code=1)
    assert "error[too_long]" in result.stderr
    assert "company_name: At most 200 characters (201 given)." in result.stderr
    quote = [a if a != "acme" else "acme'; DROP TABLE tenants; --" for a in TENANT]
    assert "error[invalid_tenant_code]" in cli("tenant", "create", *quote, code=1).stderr
    assert "acme" not in cli("tenant", "list").output


def test_tenant_create_standard(cli: Cli) -> None:
    result = cli(
        "tenant", "create", *TENANT, "--standard", "--ivr-template", "support_callback",
        "--number", "050-1234-0001", "--number", "050-1234-0002", "--status", "active",
        "--addon", "recording_delivery",
    )  # fmt: skip
    out = result.output
    assert "Standard initial setup done" in out
    assert "050-1234-0001  代表着信" in out
    assert "050-1234-0002  直通着信" in out
    logins = [line.split()[0] for line in out.splitlines()[-7:]]
    assert logins == [
        "admin",
        "supervisor01",
        "agent01",
        "agent02",
        "agent03",
        "agent04",
        "agent05",
    ]
    shown = json.loads(cli("tenant", "show", "acme", "--json").output)
    assert shown["tenant"]["status"] == "active"
    assert shown["tenant"]["service_start_date"].endswith("-01")
    assert shown["counts"] == {
        "users": 7, "agents": 6, "skills": 3, "queues": 3, "numbers": 2, "flows": 2,
        "ivrs": 1, "hours": 1,
    }  # fmt: skip
    lic = shown["licenses"]
    assert (lic["line"], lic["seat"], lic["admin"]) == (5, 6, 1)

    over = cli("tenant", "create", *TENANT, "--code", "big", "--standard", "--seats", "7", code=1)
    assert "error[invalid_standard_setup]" in over.stderr


def test_users_agents_and_licenses(cli: Cli) -> None:
    cli("tenant", "create", *TENANT, "--standard", "--number", "050-1234-0001")
    added = cli(
        "user", "add", "-t", "acme", "--login", "boss", "--name", "上司", "--role", "tenant_admin"
    ).output
    assert "Added user boss (tenant_admin)." in added
    assert "Password (shown only this once): " in added
    seventh = [
        "user", "add", "-t", "acme", "--login", "agent06", "--name", "七人目",
        "--extension", "107", "--skill", "受付:7",
    ]  # fmt: skip
    refused = cli(*seventh, code=1)
    assert refused.stderr.startswith("error[license_users_exceeded]: User limit reached")
    ja = cli(*seventh, code=1, lang="ja")
    assert ja.stderr.startswith("error[license_users_exceeded]: ユーザー数の上限")

    assert "error[unknown_skill]" in cli(*seventh[:-1], "営業:3", code=1).stderr
    assert "error[usage]" in cli(*seventh[:-1], "受付", code=2).stderr
    duplicate = cli("user", "add", "-t", "acme", "--login", "x", "--name", "x",
                    "--extension", "101", code=1)  # fmt: skip
    assert "error[duplicate]: extension '101' is already in use." in duplicate.stderr

    long_name = cli("user", "add", "-t", "acme", "--login", "l", "--name", "名" * 101, code=1)
    assert "  - name: At most 100 characters (101 given)." in long_name.stderr
    long_login = cli("user", "add", "-t", "acme", "--login", "l" * 101, "--name", "x",
                     "--extension", "120", code=1)  # fmt: skip
    assert "  - login: At most 100 characters (101 given)." in long_login.stderr

    reset = cli("user", "password", "-t", "acme", "--login", "agent01", "--password", "s3cret-pass")
    assert "Password of agent01 set." in reset.output
    short = cli("user", "password", "-t", "acme", "--login", "agent01", "--password", "x", code=1)
    assert short.stderr.startswith("error[password_policy]")

    operator = cli("operator", "add", "--login", "ops", "--name", "運営 太郎").output
    assert "Added operator staff ops (operator_admin)." in operator
    assert (
        "error[duplicate]" in cli("operator", "add", "--login", "ops", "--name", "x", code=1).stderr
    )


def test_import_and_export_agents(cli: Cli, tmp_path: Path) -> None:
    cli("tenant", "create", *TENANT, "--seats", "60", "--lines", "5", "--admins", "1")
    bad = tmp_path / "agents-bad.csv"
    bad.write_bytes(_office_rows(60, bad_line=57).encode("cp932"))
    refused = cli("import", "agents", str(bad), "--tenant", "acme", "--create-skills", code=1)
    assert refused.stderr.splitlines() == [
        "error[csv_invalid]: The CSV has errors on line 57; nothing was imported.",
        "  - line 57.extension: Line 57 (extension): Extensions are 2 to 8 digits ('12a').",
    ]
    ja = cli("import", "agents", str(bad), "-t", "acme", "--create-skills", code=1, lang="ja")
    assert ja.stderr.startswith("error[csv_invalid]: CSVの 57 行目に誤りがあります。")
    assert json.loads(cli("tenant", "show", "acme", "--json").output)["counts"]["agents"] == 0

    good = tmp_path / "agents.csv"
    good.write_bytes(_office_rows(60).encode("cp932"))
    cli("import", "agents", str(good), "-t", "acme", "--create-skills", "--dry-run")
    passwords = tmp_path / "passwords.txt"
    done = cli(
        "import", "agents", str(good), "-t", "acme", "--create-skills",
        "--passwords-out", str(passwords),
    ).output  # fmt: skip
    assert "Imported 60 agents (cp932)." in done
    assert "Skills created: 受付, ｻﾎﾟｰﾄ" in done
    assert passwords.stat().st_mode & 0o777 == 0o600
    assert len(passwords.read_text(encoding="utf-8").splitlines()) == 61

    exported = tmp_path / "out.csv"
    cli("export", "agents", "-t", "acme", "-o", str(exported), "--encoding", "cp932")
    text = exported.read_bytes().decode("cp932")
    assert text.startswith("login,display_name,extension,email,role,skills\r\n")
    assert "user057,㈱髙橋商事 ﾀﾅｶ ﾀﾛｳ57号①～,1057," in text
    stdout = cli("export", "agents", "-t", "acme").stdout_bytes
    assert stdout.startswith(b"\xef\xbb\xbflogin,")

    stdin = cli("import", "agents", "-", "-t", "acme", code=1, stdin=stdout)
    assert "is already in use" in stdin.stderr
    missing = cli("import", "agents", str(tmp_path / "nope.csv"), "-t", "acme", code=1)
    assert missing.stderr.startswith("error[file_unreadable]")


def test_up_without_serving_creates_the_demo_once(bare: Cli) -> None:
    first = bare("up", "--no-serve").output
    assert "Demo logins (tenant / login / password):  (just created)" in first
    assert "Koe is at https://127.0.0.1:8443/" in first
    stored = json.loads((bare.data_dir / "demo-logins.json").read_text(encoding="utf-8"))
    assert (bare.data_dir / "demo-logins.json").stat().st_mode & 0o777 == 0o600
    logins = {(x["tenant"], x["login"]) for x in stored["logins"]}
    assert {(None, "operator"), ("demo", "admin"), ("demo", "supervisor01")} <= logins
    admin = next(x for x in stored["logins"] if x["login"] == "admin")
    assert f"demo    admin         {admin['password']}" in first
    assert (bare.data_dir / "tls" / "ca.crt").is_file()

    second = bare("up", "--no-serve").output
    assert "just created" not in second
    assert admin["password"] in second
    shown = json.loads(bare("tenant", "show", "demo", "--json").output)
    assert shown["tenant"]["status"] == "active"
    assert shown["counts"]["agents"] == 6
