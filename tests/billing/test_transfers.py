"""Bank transfer CSV and half-width-kana payer matching (R4.4, telephony-japan.md)."""

from __future__ import annotations

from datetime import date

import pytest

from koe.billing.transfers import (
    TransferFileError,
    names_match,
    normalize_payer,
    parse_transfers,
    short_by_bank_fee,
)
from koe.core.money import Money


def test_half_width_payer_with_legal_form_matches_company_kana() -> None:
    # ｶ)ｺｴｼﾖｳｼﾞ (bank form: no small kana, ｶ) = 株式会社 before the name)
    assert names_match("ｶ)ｺｴｼﾖｳｼﾞ", "カブシキガイシャ コエショウジ")
    assert names_match("ｺｴｼﾖｳｼﾞ(ｶ", "コエショウジ株式会社")
    assert names_match("ﾕ)ﾔﾏﾀﾞｼｮｳﾃﾝ", "ユウゲンガイシャヤマダショウテン")
    assert not names_match("ｶ)ｺｴｼﾖｳｶｲ", "カブシキガイシャ コエショウジ")


def test_normalisation_is_stable() -> None:
    assert (
        normalize_payer("ｶ)ｺｰﾙ ｾﾝﾀｰ")
        == normalize_payer("コール・センター株式会社")
        == "コールセンター"
    )


def test_truncated_payer_names_match_by_prefix() -> None:
    assert names_match("ｶ)ｺｴｺﾐﾕﾆｹｰｼ", "カブシキガイシャコエコミュニケーションズ")


def test_short_by_bank_fee() -> None:
    assert short_by_bank_fee(Money(66_000), Money(65_560))  # 440 yen fee
    assert not short_by_bank_fee(Money(66_000), Money(65_000))
    assert not short_by_bank_fee(Money(66_000), Money(66_000))


def test_parse_cp932_bank_csv() -> None:
    text = '取引日,入金額,振込依頼人名,摘要\n2026/12/10,"66,000",ｶ)ｺｴｼﾖｳｼﾞ,振込\n\n'
    rows = parse_transfers(text.encode("cp932"))
    assert len(rows) == 1
    assert rows[0].received_on == date(2026, 12, 10)
    assert rows[0].amount == Money(66_000)
    assert rows[0].payer == "ｶ)ｺｴｼﾖｳｼﾞ"
    assert rows[0].line == 2


def test_parse_utf8_bom_english_headers() -> None:
    text = "\ufeffdate,amount,payer\n20261210,1000,ｺｴ\n"
    rows = parse_transfers(text.encode("utf-8"))
    assert rows[0].amount == Money(1_000)


def test_bad_rows_name_their_line() -> None:
    with pytest.raises(TransferFileError, match="line 2"):
        parse_transfers(b"date,amount,payer\nyesterday,10,x\n")
    with pytest.raises(TransferFileError, match="missing columns"):
        parse_transfers(b"a,b\n1,2\n")
