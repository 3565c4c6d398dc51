"""Agents in and out as CSV with a header row, the way Japanese offices write it.

Decoding: a UTF-8 BOM means UTF-8; bytes that are valid UTF-8 are UTF-8; anything else is
cp932 (Windows-31J: Shift_JIS plus the NEC/IBM extensions ①, ㈱, 髙, ～ that strict
Shift_JIS rejects). Bytes that are neither are an error naming the line. Lines are
physical lines of the file, the header being line 1.

Import is all or nothing: every row is checked (columns, extension, login, skills and
levels, duplicates inside the file and against the tenant, the user-license limit for the
whole batch), every problem is reported with its line, and rows are created in one
transaction only when there is none.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import unicodedata
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from koe.core.domain import Role
from koe.core.errors import FieldError, KoeError, ValidationFailed
from koe.identity.passwords import MAX_LENGTH, MIN_LENGTH
from koe.licensing.rules import Holdings
from koe.tenancy.service import Batch, DirectoryService, View
from koe.tenancy.standard import new_password

ENCODINGS = ("utf-8-sig", "utf-8", "cp932")
COLUMNS = ("login", "display_name", "extension", "email", "role", "skills", "password", "language")
REQUIRED = ("login", "display_name", "extension")
EXPORT_COLUMNS = ("login", "display_name", "extension", "email", "role", "skills")
MAX_REPORTED = 100
MAX_ROWS = 10_000

# Header names as offices write them; compared after NFKC, case folding and trimming.
ALIASES: dict[str, str] = {
    "login": "login",
    "loginid": "login",
    "login_id": "login",
    "user": "login",
    "username": "login",
    "ログイン": "login",
    "ログインid": "login",
    "ユーザーid": "login",
    "display_name": "display_name",
    "name": "display_name",
    "氏名": "display_name",
    "名前": "display_name",
    "表示名": "display_name",
    "extension": "extension",
    "ext": "extension",
    "内線": "extension",
    "内線番号": "extension",
    "email": "email",
    "e-mail": "email",
    "mail": "email",
    "メール": "email",
    "メールアドレス": "email",
    "role": "role",
    "役割": "role",
    "権限": "role",
    "skills": "skills",
    "skill": "skills",
    "スキル": "skills",
    "password": "password",
    "パスワード": "password",
    "language": "language",
    "lang": "language",
    "言語": "language",
}
ROLES: dict[str, Role] = {
    "agent": Role.AGENT,
    "エージェント": Role.AGENT,
    "オペレーター": Role.AGENT,
    "supervisor": Role.SUPERVISOR,
    "sv": Role.SUPERVISOR,
    "スーパーバイザー": Role.SUPERVISOR,
}
_EXTENSION = re.compile(r"^[0-9]{2,8}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_PRIVATE_USE = re.compile(r"[\ue000-\uf8ff]")
_SKILL_SEPARATORS = re.compile(r"[;|、；｜]")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_LIMITS = {"login": 100, "display_name": 100, "email": 254}


# ---- decoding ----


@dataclass(frozen=True, slots=True)
class Decoded:
    """The text of a CSV file and the encoding it was read with."""

    text: str
    encoding: str


def _line_of(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def _looks_like_utf8(data: bytes) -> bool:
    """More valid multibyte UTF-8 characters than broken spans: UTF-8 with damage, not cp932.

    Japanese text in cp932 breaks UTF-8 at nearly every full-width character (their lead
    bytes are UTF-8 continuation bytes), so it has at least as many broken spans as
    characters that happen to read as UTF-8.
    """
    text = data.decode("utf-8", errors="replace")
    broken = text.count("\ufffd")
    valid = sum(1 for c in text if ord(c) >= 0x80) - broken
    return valid > broken


def _undecodable(data: bytes, offset: int, encoding: str) -> ValidationFailed:
    line = _line_of(data, offset)
    shown = data[offset : offset + 4].hex(" ")
    ja = (
        f"CSVの{line}行目に文字として読めないバイト ({shown}) があります"
        f"({encoding} として読み込み中)。UTF-8 か Shift_JIS (cp932) で保存し直してください。"
    )
    en = (
        f"Line {line} of the CSV has bytes that are not text ({shown}) when read as "
        f"{encoding}. Save it again as UTF-8 or Shift_JIS (cp932)."
    )
    return ValidationFailed(
        "csv_encoding",
        ja,
        en,
        [FieldError(f"line {line}", "csv_encoding", ja, en)],
        {"line": line, "offset": offset, "encoding": encoding},
    )


def decode_csv(data: bytes) -> Decoded:
    """Decode CSV bytes: UTF-8 with BOM, UTF-8, or cp932; broken bytes name their line."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise ValidationFailed(
            "csv_encoding",
            "UTF-16 のファイルは読み込めません。「CSV UTF-8」か「CSV」で保存してください。",
            "UTF-16 files are not supported. Save as 'CSV UTF-8' or 'CSV'.",
        )
    if data.startswith(codecs.BOM_UTF8):
        try:
            decoded = Decoded(data[len(codecs.BOM_UTF8) :].decode("utf-8"), "utf-8-sig")
        except UnicodeDecodeError as err:
            raise _undecodable(data, err.start + len(codecs.BOM_UTF8), "UTF-8") from err
    else:
        try:
            decoded = Decoded(data.decode("utf-8"), "utf-8")
        except UnicodeDecodeError as utf8_error:
            if _looks_like_utf8(data):
                raise _undecodable(data, utf8_error.start, "UTF-8") from utf8_error
            try:
                decoded = Decoded(data.decode("cp932"), "cp932")
            except UnicodeDecodeError as err:
                raise _undecodable(data, err.start, "Shift_JIS (cp932)") from err
    _check_characters(decoded, data)
    return decoded


def _check_characters(decoded: Decoded, data: bytes) -> None:
    """Control characters and private-use (外字) code points are broken input, not text."""
    for pattern, what_ja, what_en in (
        (_CONTROL, "制御文字", "a control character"),
        (_PRIVATE_USE, "外字(私用領域の文字)", "a user-defined (private use) character"),
    ):
        match = pattern.search(decoded.text)
        if match is None:
            continue
        line = decoded.text.count("\n", 0, match.start()) + 1
        code = f"U+{ord(match.group()):04X}"
        ja = f"CSVの{line}行目に{what_ja} {code} があります。"
        en = f"Line {line} of the CSV contains {what_en} {code}."
        raise ValidationFailed(
            "csv_encoding",
            ja,
            en,
            [FieldError(f"line {line}", "csv_encoding", ja, en)],
            {"line": line, "encoding": decoded.encoding},
        )


# ---- parsing and row checks ----


@dataclass(slots=True)
class Row:
    """One data row: its first physical line and its values by column."""

    line: int
    values: dict[str, str]


@dataclass(slots=True)
class AgentRow:
    """A checked agent row, ready to create."""

    line: int
    login: str
    display_name: str
    extension: str
    role: Role
    skills: list[tuple[str, int]]
    email: str | None
    password: str | None
    language: str


@dataclass(slots=True)
class Problems:
    """Problems found so far, by line."""

    items: list[tuple[int, str, str, str, str]] = field(default_factory=list)

    def add(self, line: int, column: str, code: str, ja: str, en: str) -> None:
        """Record a problem on ``line`` in ``column``."""
        self.items.append((line, column, code, ja, en))

    def raise_if_any(self) -> None:
        """Raise one ValidationFailed listing every problem, by line."""
        if not self.items:
            return
        items = sorted(self.items, key=lambda p: p[0])
        lines = sorted({p[0] for p in items})
        shown = ", ".join(str(n) for n in lines[:20]) + (" …" if len(lines) > 20 else "")
        fields = [
            FieldError(
                f"line {line}.{column}" if column else f"line {line}",
                code,
                f"{line}行目" + (f" ({column})" if column else "") + f": {ja}",
                f"Line {line}" + (f" ({column})" if column else "") + f": {en}",
            )
            for line, column, code, ja, en in items[:MAX_REPORTED]
        ]
        more = len(items) - len(fields)
        raise ValidationFailed(
            "csv_invalid",
            f"CSVの {shown} 行目に誤りがあります。何も取り込んでいません。"
            + (f"(ほか{more}件)" if more > 0 else ""),
            f"The CSV has errors on line {shown}; nothing was imported."
            + (f" ({more} more)" if more > 0 else ""),
            fields,
            {"lines": lines},
        )


def _header_name(raw: str) -> str:
    text = unicodedata.normalize("NFKC", raw).strip().casefold().replace(" ", "_")
    return ALIASES.get(text, ALIASES.get(text.replace("_", ""), ""))


def _unescape(value: str) -> str:
    """Undo the spreadsheet-formula guard of ``export`` ('=… is written as '=…)."""
    if len(value) > 1 and value[0] == "'" and value[1].startswith(_FORMULA_START):
        return value[1:]
    return value


def parse_rows(text: str, problems: Problems) -> Iterator[Row]:
    """The data rows under the header, with their line numbers; header problems recorded."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
    except csv.Error as err:
        problems.add(1, "", "csv_syntax", f"CSVの形式が不正です: {err}", f"Malformed CSV: {err}")
        return
    if header is None or not any(h.strip() for h in header):
        problems.add(
            1,
            "",
            "csv_no_header",
            f"1行目に見出し行が必要です(例: {','.join(COLUMNS[:3])})。",
            f"Line 1 must be a header row (e.g. {','.join(COLUMNS[:3])}).",
        )
        return
    names = [_header_name(h) for h in header]
    for raw, name in zip(header, names, strict=True):
        if not name:
            problems.add(
                1,
                raw,
                "csv_unknown_column",
                f"見出し {raw!r} は不明です。使える見出し: {', '.join(COLUMNS)}",
                f"Unknown column {raw!r}. Columns: {', '.join(COLUMNS)}",
            )
    for name in {n for n in names if n and names.count(n) > 1}:
        problems.add(
            1, name, "csv_duplicate_column", "見出しが重複しています。", "Duplicate column."
        )
    for name in REQUIRED:
        if name not in names:
            problems.add(
                1, name, "csv_missing_column", "必須の列がありません。", "Required column missing."
            )
    if problems.items:
        return
    line = reader.line_num
    try:
        for cells in reader:
            first, line = line + 1, reader.line_num
            if not any(c.strip() for c in cells):
                continue  # blank lines and rows of empty cells, as spreadsheets leave them
            extra = [c for c in cells[len(names) :] if c.strip()]
            if extra:
                problems.add(
                    first,
                    "",
                    "csv_extra_values",
                    f"見出しより多い値があります({len(cells)}個、見出しは{len(names)}個)。",
                    f"More values than columns ({len(cells)} values, {len(names)} columns).",
                )
            padded = cells + [""] * (len(names) - len(cells))
            values = {n: _unescape(v.strip()) for n, v in zip(names, padded, strict=False)}
            yield Row(first, values)
    except csv.Error as err:
        problems.add(
            line + 1,
            "",
            "csv_syntax",
            f"この行から始まる項目の形式が不正です(引用符の閉じ忘れなど): {err}",
            f"Malformed record starting on this line (an unclosed quote?): {err}",
        )


def _text_ok(row: Row, column: str, problems: Problems, *, required: bool) -> str:
    value = row.values.get(column, "")
    if not value:
        if required:
            problems.add(row.line, column, "required", "値が必要です。", "A value is required.")
        return ""
    limit = _LIMITS.get(column)
    if limit is not None and len(value) > limit:
        problems.add(
            row.line,
            column,
            "too_long",
            f"{limit}文字以内にしてください({len(value)}文字)。",
            f"At most {limit} characters ({len(value)} given).",
        )
    return value


def _skills(row: Row, problems: Problems) -> list[tuple[str, int]]:
    cell = row.values.get("skills", "")
    result: list[tuple[str, int]] = []
    for part in (p.strip() for p in _SKILL_SEPARATORS.split(cell)):
        if not part:
            continue
        # Only the level and the colon are normalised: skill names stay as the tenant wrote them.
        name, sep, level_text = part.replace("：", ":").rpartition(":")
        name = name.strip()
        level_text = unicodedata.normalize("NFKC", level_text).strip()
        if not sep or not name or not level_text.isdigit() or not 1 <= int(level_text) <= 10:
            problems.add(
                row.line,
                "skills",
                "invalid_skill_level",
                f"{part!r}: スキルは「名前:レベル」で、レベルは1〜10です(例: 受付:5;請求:3)。",
                f"{part!r}: skills are 'name:level' with a level 1-10 (e.g. sales:5;billing:3).",
            )
            continue
        if any(name == n for n, _ in result):
            problems.add(
                row.line,
                "skills",
                "duplicate_skill",
                f"スキル {name!r} が2回指定されています。",
                f"Skill {name!r} is listed twice.",
            )
            continue
        result.append((name, int(level_text)))
    return result


def check_row(row: Row, problems: Problems) -> AgentRow:
    """Check one row on its own (no database): formats, lengths, roles, skill levels."""
    login = _text_ok(row, "login", problems, required=True)
    if login and re.search(r"\s", login):
        problems.add(
            row.line, "login", "invalid_login", "空白は使えません。", "Spaces are not allowed."
        )
    display_name = _text_ok(row, "display_name", problems, required=True)
    extension = unicodedata.normalize("NFKC", row.values.get("extension", ""))
    if not extension:
        problems.add(row.line, "extension", "required", "値が必要です。", "A value is required.")
    elif not _EXTENSION.match(extension):
        problems.add(
            row.line,
            "extension",
            "invalid_extension",
            f"内線番号は2〜8桁の数字です({extension!r})。",
            f"Extensions are 2 to 8 digits ({extension!r}).",
        )
    email = _text_ok(row, "email", problems, required=False)
    if email and not _EMAIL.match(email):
        problems.add(
            row.line,
            "email",
            "invalid_email",
            f"メールアドレスの形式が不正です({email!r})。",
            f"Not an email address ({email!r}).",
        )
    role_text = unicodedata.normalize("NFKC", row.values.get("role", "")).casefold()
    role = ROLES.get(role_text or "agent")
    if role is None:
        problems.add(
            row.line,
            "role",
            "invalid_role",
            f"役割は agent か supervisor です({role_text!r})。",
            f"The role is agent or supervisor ({role_text!r}).",
        )
    password = row.values.get("password", "")
    if password and not MIN_LENGTH <= len(password) <= MAX_LENGTH:
        problems.add(
            row.line,
            "password",
            "password_policy",
            f"パスワードは{MIN_LENGTH}〜{MAX_LENGTH}文字です(空欄なら自動生成)。",
            f"Passwords are {MIN_LENGTH} to {MAX_LENGTH} characters (leave empty to generate).",
        )
    language = row.values.get("language", "").casefold() or "ja"
    if language not in ("ja", "en"):
        problems.add(
            row.line, "language", "invalid_language", "言語は ja か en です。", "Use ja or en."
        )
    return AgentRow(
        row.line,
        login,
        display_name,
        extension,
        role or Role.AGENT,
        _skills(row, problems),
        email or None,
        password or None,
        language,
    )


def check_batch(
    rows: Sequence[AgentRow],
    problems: Problems,
    *,
    logins: set[str],
    extensions: set[str],
    skills: set[str],
    create_skills: bool,
    holdings: Holdings,
    named_users: int,
) -> None:
    """Check rows against each other and the tenant: duplicates, skills, user licenses."""
    seen_logins: dict[str, int] = {}
    seen_extensions: dict[str, int] = {}
    for row in rows:
        for column, value, seen, existing in (
            ("login", row.login, seen_logins, logins),
            ("extension", row.extension, seen_extensions, extensions),
        ):
            if not value:
                continue
            if value in existing:
                problems.add(
                    row.line,
                    column,
                    "duplicate",
                    f"{value!r} はすでに登録されています。",
                    f"{value!r} is already in use.",
                )
            elif value in seen:
                problems.add(
                    row.line,
                    column,
                    "duplicate",
                    f"{value!r} は{seen[value]}行目と重複しています。",
                    f"{value!r} is also on line {seen[value]}.",
                )
            else:
                seen[value] = row.line
        if not create_skills:
            for name, _level in row.skills:
                if name not in skills:
                    problems.add(
                        row.line,
                        "skills",
                        "unknown_skill",
                        f"スキル {name!r} はありません(先に作成するか --create-skills)。",
                        f"No skill {name!r} (create it first, or use --create-skills).",
                    )
    named = [r for r in rows if r.role.is_named_user]
    allowed = holdings.named_users
    if named_users + len(named) > allowed:
        first_over = named[max(allowed - named_users, 0)]
        problems.add(
            first_over.line,
            "",
            "license_users_exceeded",
            f"ユーザー数の上限 {allowed} 名(シート{holdings.seat} + 追加ユーザー"
            f"{holdings.additional_user})を超えます: 登録済み {named_users} 名 + このファイル "
            f"{len(named)} 名。この行から超過します。追加ユーザーライセンスをご購入ください。",
            f"User limit {allowed} (seats {holdings.seat} + additional users "
            f"{holdings.additional_user}) exceeded: {named_users} existing + {len(named)} in "
            "this file; the excess starts on this line. Buy additional user licenses.",
        )


# ---- import ----


@dataclass(slots=True)
class ImportResult:
    """What an import created, and passwords generated for rows that had none (shown once)."""

    encoding: str
    created: list[View] = field(default_factory=list)
    passwords: list[tuple[str, str]] = field(default_factory=list)
    skills_created: list[str] = field(default_factory=list)
    dry_run: bool = False


def _at_line(err: KoeError, line: int) -> KoeError:
    """The same error, told about the CSV line it came from."""
    fields = [
        FieldError(
            f"line {line}.{f.field}",
            f.code,
            f"{line}行目: {f.message_ja}",
            f"Line {line}: {f.message_en}",
        )
        for f in err.fields
    ] or [FieldError(f"line {line}", err.code, err.message_ja, err.message_en)]
    return type(err)(
        err.code,
        f"CSVの{line}行目: {err.message_ja} 何も取り込んでいません。",
        f"CSV line {line}: {err.message_en} Nothing was imported.",
        fields,
        {**err.details, "line": line},
    )


async def _create_all(
    batch: Batch, rows: Sequence[AgentRow], skill_ids: dict[str, str], result: ImportResult
) -> None:
    missing = sorted({n for r in rows for n, _ in r.skills} - set(skill_ids))
    for name in missing:
        skill_ids[name] = (await batch.create("skills", {"name": name}))["id"]
        result.skills_created.append(name)
    for row in rows:
        password = row.password
        if password is None:
            password = new_password()
            result.passwords.append((row.login, password))
        data: dict[str, Any] = {
            "login": row.login,
            "display_name": row.display_name,
            "extension": row.extension,
            "role": row.role,
            "email": row.email,
            "password": password,
            "language": row.language,
            "skills": [{"skill_id": skill_ids[n], "level": lv} for n, lv in row.skills],
        }
        try:
            result.created.append(await batch.create("agents", data))
        except KoeError as err:
            raise _at_line(err, row.line) from err


async def import_agents(
    directory: DirectoryService,
    tenant_id: str,
    data: bytes,
    *,
    create_skills: bool = False,
    dry_run: bool = False,
) -> ImportResult:
    """Create the agents of a CSV file: all rows or, if any row is wrong, none."""
    decoded = decode_csv(data)
    problems = Problems()
    rows = [check_row(r, problems) for r in parse_rows(decoded.text, problems)]
    if not rows and not problems.items:
        problems.add(2, "", "csv_empty", "データ行がありません。", "The file has no data rows.")
    if len(rows) > MAX_ROWS:
        problems.add(
            rows[MAX_ROWS].line,
            "",
            "csv_too_many_rows",
            f"一度に取り込めるのは{MAX_ROWS}行までです。",
            f"At most {MAX_ROWS} rows per import.",
        )
    result = ImportResult(decoded.encoding, dry_run=dry_run)
    async with directory.batch(tenant_id) as batch:
        skill_ids = {s["name"]: s["id"] for s in await batch.rows("skills")}
        check_batch(
            rows,
            problems,
            logins={u["login"] for u in await batch.rows("users")},
            extensions={a["extension"] for a in await batch.rows("agents")},
            skills=set(skill_ids),
            create_skills=create_skills,
            holdings=await batch.holdings(),
            named_users=await batch.named_users(),
        )
        problems.raise_if_any()
        if not dry_run:
            await _create_all(batch, rows, skill_ids, result)
    return result


# ---- export ----


def _guard_formula(value: str) -> str:
    """Keep spreadsheets from running a cell as a formula (CSV injection)."""
    return "'" + value if value.startswith(_FORMULA_START) else value


async def _all_views(directory: DirectoryService, tenant_id: str, resource: str) -> list[View]:
    views: list[View] = []
    while True:
        page, total = await directory.page(tenant_id, resource, offset=len(views), limit=500)
        views += page
        if not page or len(views) >= total:
            return views


def agent_records(agents: Sequence[View], skills: Mapping[str, str]) -> list[list[str]]:
    """CSV records (header first) for ``agents``; ``skills`` maps skill ids to names."""
    records = [list(EXPORT_COLUMNS)]
    for agent in sorted(agents, key=lambda a: (len(a["extension"]), a["extension"])):
        cells = {
            "login": agent["login"],
            "display_name": agent["display_name"],
            "extension": agent["extension"],
            "email": agent.get("email") or "",
            "role": agent["role"],
            "skills": ";".join(
                sorted(f"{skills[k['skill_id']]}:{k['level']}" for k in agent["skills"])
            ),
        }
        records.append([_guard_formula(str(cells[c])) for c in EXPORT_COLUMNS])
    return records


def encode_csv(records: Sequence[Sequence[str]], encoding: str = "utf-8-sig") -> bytes:
    """CSV bytes (CRLF lines, as Excel writes) in ``encoding``; unencodable text names its line."""
    if encoding not in ENCODINGS:
        raise ValidationFailed(
            "csv_encoding",
            f"出力の文字コードは {', '.join(ENCODINGS)} のいずれかです。",
            f"The output encoding is one of {', '.join(ENCODINGS)}.",
        )
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    chunks: list[bytes] = [codecs.BOM_UTF8] if encoding == "utf-8-sig" else []
    for line, record in enumerate(records, start=1):
        out.seek(0)
        out.truncate()
        writer.writerow(record)
        try:
            chunks.append(out.getvalue().encode("utf-8" if encoding == "utf-8-sig" else encoding))
        except UnicodeEncodeError as err:
            char = err.object[err.start : err.end]
            raise ValidationFailed(
                "csv_unencodable",
                f"{line}行目の文字 {char!r} は {encoding} で表せません。UTF-8 で出力してください。",
                f"Line {line}: {char!r} cannot be written in {encoding}; export as UTF-8.",
                [FieldError(f"line {line}", "csv_unencodable", char, char)],
                {"line": line},
            ) from err
    return b"".join(chunks)


async def export_agents(
    directory: DirectoryService, tenant_id: str, encoding: str = "utf-8-sig"
) -> bytes:
    """The tenant's agents as CSV (the import format, without passwords)."""
    skills = {s["id"]: s["name"] for s in await _all_views(directory, tenant_id, "skills")}
    agents = await _all_views(directory, tenant_id, "agents")
    return encode_csv(agent_records(agents, skills), encoding)
