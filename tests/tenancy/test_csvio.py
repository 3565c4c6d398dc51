"""CSV import and export of agents: Japanese office encodings, line-exact errors, all or nothing."""

from __future__ import annotations

import codecs
import csv
import io
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from koe.app import Koe
from koe.core.domain import LicenseKind
from koe.core.errors import ValidationFailed
from koe.tenancy.csvio import (
    COLUMNS,
    Problems,
    Row,
    check_row,
    decode_csv,
    encode_csv,
    export_agents,
    import_agents,
)

HEADER = "login,display_name,extension,email,role,skills\r\n"


async def _tenant(koe: Koe, code: str = "acme", seats: int = 60) -> str:
    view = await koe.tenants.create(
        {
            "code": code,
            "company_name": "株式会社アクメ",
            "representative_name": "山田 太郎",
            "address": "東京都千代田区丸の内1-1-1",
            "phone": "03-1234-5678",
        },
        licenses={LicenseKind.SEAT: seats, LicenseKind.LINE: 5, LicenseKind.ADMIN: 1},
    )
    for name in ("受付", "ｻﾎﾟｰﾄ"):
        await koe.directory.create(view["id"], "skills", {"name": name})
    return str(view["id"])


async def _agents(koe: Koe, tenant_id: str) -> list[dict[str, Any]]:
    views, _total = await koe.directory.page(tenant_id, "agents", limit=500)
    return views


def _office_rows(count: int, bad_line: int | None = None) -> str:
    """``count`` agent rows as a Japanese office writes them; ``bad_line`` gets a bad extension."""
    lines = [HEADER]
    for i in range(1, count + 1):
        line = i + 1  # the header is line 1
        extension = "12a" if line == bad_line else str(1000 + i)
        name = f"㈱髙橋商事 ﾀﾅｶ ﾀﾛｳ{i}号①～"
        lines.append(
            f"user{i:03d},{name},{extension},user{i}@example.jp,agent,受付:{1 + i % 10};ｻﾎﾟｰﾄ:3\r\n"
        )
    return "".join(lines)


def test_the_office_file_is_not_strict_shift_jis() -> None:
    text = _office_rows(3)
    with pytest.raises(UnicodeEncodeError):
        text.encode("shift_jis")
    decoded = decode_csv(text.encode("cp932"))
    assert (decoded.encoding, decoded.text) == ("cp932", text)


async def test_cp932_file_with_one_bad_row_imports_nothing_then_all(koe: Koe) -> None:
    tid = await _tenant(koe)
    bad = _office_rows(60, bad_line=57).encode("cp932")

    with pytest.raises(ValidationFailed) as err:
        await import_agents(koe.directory, tid, bad)
    assert err.value.code == "csv_invalid"
    assert "line 57;" in err.value.message_en
    assert "57 行目" in err.value.message_ja
    assert err.value.details["lines"] == [57]
    assert [f.field for f in err.value.fields] == ["line 57.extension"]
    assert await _agents(koe, tid) == []

    fixed = _office_rows(60).encode("cp932")
    result = await import_agents(koe.directory, tid, fixed)
    assert result.encoding == "cp932"
    agents = await _agents(koe, tid)
    assert len(agents) == len(result.created) == 60
    names = {a["login"]: a["display_name"] for a in agents}
    assert names["user057"] == "㈱髙橋商事 ﾀﾅｶ ﾀﾛｳ57号①～"
    assert {len(a["skills"]) for a in agents} == {2}
    assert len(result.passwords) == 60  # none in the file: generated, shown once


@pytest.mark.parametrize("bom", [True, False])
async def test_utf8_with_or_without_bom(koe: Koe, bom: bool) -> None:
    tid = await _tenant(koe)
    sql = "x';DROP--,\"Robert'); DELETE FROM agents; --\",2005,,,\r\n"
    text = _office_rows(3) + "u4,🎧 絵文字さん,2004,,supervisor,\r\n" + sql
    data = (codecs.BOM_UTF8 if bom else b"") + text.encode("utf-8")
    result = await import_agents(koe.directory, tid, data)
    assert result.encoding == ("utf-8-sig" if bom else "utf-8")
    agents = {a["login"]: a for a in await _agents(koe, tid)}
    assert agents["u4"]["display_name"] == "🎧 絵文字さん"
    assert agents["u4"]["role"] == "supervisor"
    assert agents["user001"]["display_name"] == "㈱髙橋商事 ﾀﾅｶ ﾀﾛｳ1号①～"
    quoted = agents["x';DROP--"]  # SQL metacharacters are just text
    assert quoted["display_name"] == "Robert'); DELETE FROM agents; --"
    assert len(agents) == 5


@pytest.mark.parametrize(
    ("data", "line"),
    [
        # UTF-8 (with and without BOM) with a character cut short on line 3.
        (codecs.BOM_UTF8 + f"{HEADER}a,山田,101\r\nb,佐".encode() + b"\xe8\x97,102\r\n", 3),
        (HEADER.encode() + "a,山田,101,,,\r\n".encode() + b"b,\xe4\xb8,102,,,\r\n", 3),
        # cp932 with an incomplete double-byte character on line 4.
        (HEADER.encode() + "a,山田,101\r\nb,佐藤,102\r\n".encode("cp932") + b"c,\x81 ,103\r\n", 4),
        # Bytes cp932 leaves unassigned (decoded only to private-use code points).
        (HEADER.encode() + "a,山田,101\r\n".encode("cp932") + b"b,\xa0\xfd,102\r\n", 3),
        # A control character.
        (HEADER.encode() + b"a,x\x01y,101\r\n", 2),
    ],
)
async def test_broken_bytes_are_a_clear_error_naming_the_line(
    koe: Koe, data: bytes, line: int
) -> None:
    tid = await _tenant(koe)
    with pytest.raises(ValidationFailed) as err:
        await import_agents(koe.directory, tid, data)
    assert err.value.code == "csv_encoding"
    assert err.value.details["line"] == line
    assert f"Line {line} " in err.value.message_en
    assert f"{line}行目" in err.value.message_ja
    assert await _agents(koe, tid) == []


def test_utf16_is_refused_with_advice() -> None:
    with pytest.raises(ValidationFailed) as err:
        decode_csv(codecs.BOM_UTF16_LE + HEADER.encode("utf-16-le"))
    assert "CSV UTF-8" in err.value.message_en


async def test_every_problem_is_reported_by_line(koe: Koe) -> None:
    tid = await _tenant(koe, seats=10)
    await koe.directory.create(
        tid,
        "agents",
        {"login": "taken", "display_name": "既存", "extension": "500", "password": "p" * 10},
    )
    text = (
        "ログインID,氏名,内線番号,メールアドレス,役割,スキル,パスワード\r\n"
        "ok1,一郎,101,,,受付:5,\r\n"  # 2: fine
        "taken,二郎,102,,,,\r\n"  # 3: login in use
        "ok3,三郎,500,,,,\r\n"  # 4: extension in use
        "ok4,四郎,101,,,,\r\n"  # 5: extension also on line 2
        "ok5,五郎,１０５,,,営業:5,\r\n"  # 6: unknown skill (full-width extension is fine)
        "ok6,六郎,106,,,受付:11,\r\n"  # 7: level out of range
        "ok7,,107,not-an-email,boss,,short\r\n"  # 8: name, email, role, password
        "\r\n"  # 9: blank lines are skipped
        ",,,,,,\r\n"  # 10: so are rows of empty cells
        'ok8,"改行を\r\n含む名前",1,,,,\r\n'  # 11-12: bad extension, reported on line 11
        "ok1,九郎,109,,,,,extra\r\n"  # 13: login on line 2, and a value beyond the header
    )
    with pytest.raises(ValidationFailed) as err:
        await import_agents(koe.directory, tid, text.encode("cp932"))
    fields = [f.field for f in err.value.fields]
    assert fields == [
        "line 3.login",
        "line 4.extension",
        "line 5.extension",
        "line 6.skills",
        "line 7.skills",
        "line 8.display_name",
        "line 8.email",
        "line 8.role",
        "line 8.password",
        "line 11.extension",
        "line 13",
        "line 13.login",
    ]
    assert err.value.details["lines"] == [3, 4, 5, 6, 7, 8, 11, 13]
    messages = {f.field: f.message_en for f in err.value.fields}
    assert messages["line 5.extension"] == "Line 5 (extension): '101' is also on line 2."
    assert "already in use" in messages["line 3.login"]
    assert len(await _agents(koe, tid)) == 1


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("", "line 1"),
        ("login,display_name\r\n", "line 1.extension"),
        ("login,display_name,extension,shoe_size\r\n", "line 1.shoe_size"),
        ("login,login,display_name,extension\r\n", "line 1.login"),
        (HEADER, "line 2"),
        (HEADER + 'a,b,1\r\nc,"unclosed,101\r\nd,e,2\r\n', "line 3"),
    ],
)
async def test_header_and_syntax_problems(koe: Koe, text: str, field: str) -> None:
    tid = await _tenant(koe)
    with pytest.raises(ValidationFailed) as err:
        await import_agents(koe.directory, tid, text.encode())
    assert field in [f.field for f in err.value.fields]


async def test_the_license_limit_holds_for_the_whole_batch(koe: Koe) -> None:
    tid = await _tenant(koe, seats=6)
    await koe.tenants.add_license(tid, LicenseKind.ADDITIONAL_USER, 1)
    with pytest.raises(ValidationFailed) as err:
        await import_agents(koe.directory, tid, _office_rows(9).encode("cp932"))
    assert err.value.details["lines"] == [9]  # rows 1-7 fit (6 seats + 1 user), line 9 is 8th
    assert err.value.fields[0].code == "license_users_exceeded"
    assert await _agents(koe, tid) == []
    await import_agents(koe.directory, tid, _office_rows(7).encode("cp932"))
    assert len(await _agents(koe, tid)) == 7


async def test_create_skills_and_dry_run(koe: Koe) -> None:
    tid = await _tenant(koe)
    data = (HEADER + "a,一,101,,,新スキル:4;受付:2\r\n").encode()
    with pytest.raises(ValidationFailed) as err:
        await import_agents(koe.directory, tid, data)
    assert err.value.fields[0].code == "unknown_skill"
    dry = await import_agents(koe.directory, tid, data, create_skills=True, dry_run=True)
    assert dry.created == []
    assert await _agents(koe, tid) == []
    result = await import_agents(koe.directory, tid, data, create_skills=True)
    assert result.skills_created == ["新スキル"]
    skills, _ = await koe.directory.page(tid, "skills")
    assert sorted(s["name"] for s in skills) == sorted(["受付", "ｻﾎﾟｰﾄ", "新スキル"])


async def test_export_then_import_elsewhere(koe: Koe) -> None:
    tid = await _tenant(koe)
    text = _office_rows(5) + 'evil,=HYPERLINK("x"),2000,,,\r\n'
    await import_agents(koe.directory, tid, text.encode())

    utf8 = await export_agents(koe.directory, tid)
    assert utf8.startswith(codecs.BOM_UTF8)
    records = list(csv.reader(io.StringIO(utf8.decode("utf-8-sig"), newline="")))
    assert records[0] == ["login", "display_name", "extension", "email", "role", "skills"]
    assert records[1] == [
        "user001", "㈱髙橋商事 ﾀﾅｶ ﾀﾛｳ1号①～", "1001", "user1@example.jp", "agent",
        "受付:2;ｻﾎﾟｰﾄ:3",
    ]  # fmt: skip
    assert records[-1][1] == '\'=HYPERLINK("x")'  # a spreadsheet must not run it
    assert b"\r\n" in utf8

    sjis = await export_agents(koe.directory, tid, "cp932")
    assert decode_csv(sjis).encoding == "cp932"
    assert decode_csv(sjis).text == utf8.decode("utf-8-sig")

    other = await _tenant(koe, code="other")
    await import_agents(koe.directory, other, sjis)
    copied = {a["login"]: a["display_name"] for a in await _agents(koe, other)}
    assert copied["evil"] == '=HYPERLINK("x")'
    assert copied["user003"] == "㈱髙橋商事 ﾀﾅｶ ﾀﾛｳ3号①～"


def test_cp932_export_names_the_line_it_cannot_write() -> None:
    with pytest.raises(ValidationFailed) as err:
        encode_csv([["login", "display_name"], ["a", "吉"], ["b", "𠮷野家"]], "cp932")
    assert err.value.details["line"] == 3
    assert "𠮷" in err.value.message_ja


# ---- properties of the validators ----

_OFFICE_TEXT = st.text(
    alphabet=st.sampled_from("abcXYZ019 -_.@①②㈱㈲髙﨑～ｱｲｳﾃｽﾄﾞﾟあいうアイウ漢字表示〒№"),
    max_size=30,
)


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(names=st.lists(_OFFICE_TEXT, min_size=1, max_size=5))
def test_property_cp932_office_text_reads_back_exactly(names: list[str]) -> None:
    text = HEADER + "".join(f"u{i},あ{n},{100 + i},,,\r\n" for i, n in enumerate(names))
    decoded = decode_csv(text.encode("cp932"))
    assert (decoded.encoding, decoded.text) == ("cp932", text)


@settings(max_examples=200)
@given(
    body=st.text(
        alphabet=st.characters(
            blacklist_categories=("Cs", "Co", "Cc"), blacklist_characters="\ufeff"
        ),
        max_size=40,
    ),
    bom=st.booleans(),
)
def test_property_utf8_reads_back_exactly(body: str, bom: bool) -> None:
    data = (codecs.BOM_UTF8 if bom else b"") + (HEADER + body).encode("utf-8")
    assert decode_csv(data).text == HEADER + body


@settings(max_examples=300)
@given(data=st.binary(max_size=64))
def test_property_any_bytes_decode_or_fail_precisely(data: bytes) -> None:
    codes = set()
    try:
        decode_csv(data)
    except ValidationFailed as err:
        codes.add(err.code)
    assert codes <= {"csv_encoding"}


@settings(max_examples=300)
@given(values=st.dictionaries(st.sampled_from(COLUMNS), st.text(max_size=12)))
def test_property_row_checks_only_report_problems(values: dict[str, str]) -> None:
    problems = Problems()
    row = check_row(Row(2, values), problems)
    if not problems.items:
        assert row.login
        assert row.display_name
        assert row.extension.isascii()
        assert row.extension.isdigit()
        assert all(1 <= level <= 10 for _name, level in row.skills)
    assert all(p[0] == 2 for p in problems.items)
