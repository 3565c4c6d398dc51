"""Notices by e-mail over real SMTP (aiosmtpd on loopback): one message per contact, Japanese
correctly encoded, delivery recorded with its time, failures retried with back-off."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from email.header import decode_header, make_header
from pathlib import Path

import pydantic
import pytest

from koe.app import Koe, build
from koe.contracts.mailer import BACKOFF, retry_delay
from koe.contracts.rules import SuspensionReason
from koe.core.clock import JST, FrozenClock
from koe.core.settings import Settings
from tests.contracts.smtp import Inbox, free_port, smtp_server, tenant_with_contacts

__all__ = ["smtp_server"]

SENDER = "Koe 運営事務局 <notices@koe.example>"
CONTACTS = [
    {"kind": "contract", "name": "契約 一郎", "email": "keiyaku@acme.example"},
    {"kind": "billing", "name": "経理 花子", "email": "keiri@acme.example"},
    {"kind": "emergency", "name": "緊急 三郎", "phone": "090-0000-0000"},
    {"kind": "technical", "name": "技術 二郎", "email": "gijutsu@acme.example"},
]


def _settings(database_url: str, tmp_path: Path, port: int) -> Settings:
    return Settings(
        data_dir=tmp_path / "var",
        database_url=database_url,
        tls=False,
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_security="none",
        smtp_sender=SENDER,
        smtp_timeout_seconds=5,
    )


@pytest.fixture
async def mailing(
    database_url: str, clock: FrozenClock, tmp_path: Path, smtp_server: Inbox
) -> AsyncIterator[Koe]:
    """A Koe whose notices go to the loopback SMTP server."""
    app = build(_settings(database_url, tmp_path, smtp_server.port), clock=clock)
    try:
        yield app
    finally:
        await app.close()


async def _tenant(koe: Koe) -> str:
    return await tenant_with_contacts(koe, CONTACTS)


async def _suspend(koe: Koe, tenant_id: str) -> None:
    await koe.contracts.suspend(
        tenant_id,
        SuspensionReason.BREACH,
        datetime(2026, 11, 25, 9, 0, tzinfo=JST),
        datetime(2026, 12, 25, 9, 0, tzinfo=JST),
        detail="第31条違反",
    )


async def test_a_stored_notice_reaches_each_contact_in_japanese(
    mailing: Koe, smtp_server: Inbox, clock: FrozenClock
) -> None:
    tenant_id = await _tenant(mailing)
    await _suspend(mailing, tenant_id)
    await mailing.notices.wait_idle()  # sent in the background as soon as it was stored

    got = {m.rcpt_tos[0]: m for m in smtp_server.messages}
    # contract and billing contacts (emergency has no address; technical gets no notices)
    assert sorted(got) == ["keiri@acme.example", "keiyaku@acme.example"]
    assert all(len(m.rcpt_tos) == 1 for m in smtp_server.messages)
    (notice,) = await mailing.contracts.notices(tenant_id)
    for address, name in (
        ("keiyaku@acme.example", "契約 一郎"),
        ("keiri@acme.example", "経理 花子"),
    ):
        received = got[address]
        assert received.mail_from == "notices@koe.example"
        raw_subject = received.header_line("Subject")
        assert raw_subject.isascii() and raw_subject.lower().startswith("=?utf-8?")
        assert str(make_header(decode_header(raw_subject))) == (
            "サービス提供停止のお知らせ / Service suspension"
        )
        msg = received.parsed()
        assert msg["Subject"] == "サービス提供停止のお知らせ / Service suspension"
        assert (msg["To"].addresses[0].display_name, msg["To"].addresses[0].addr_spec) == (
            name,
            address,
        )
        assert msg["From"].addresses[0].display_name == "Koe 運営事務局"
        assert msg["X-Koe-Notice"] == notice["id"]
        assert msg.get_content_type() == "text/plain"
        assert msg.get_content_charset() == "utf-8"
        assert msg["Content-Transfer-Encoding"] == "base64"
        body_bytes = base64.b64decode(msg.get_payload())
        text = body_bytes.decode("utf-8")
        assert text == msg.get_content()
        assert f"{name} 様" in text
        assert notice["body_ja"] in text and notice["body_en"] in text
        assert "第31条違反" in text and f"通知番号: {notice['id']}" in text
        assert "根拠条項: 約款第16条" in text

    deliveries = await mailing.notices.deliveries(tenant_id, notice["id"])
    assert {(d["address"], d["status"], d["attempts"]) for d in deliveries} == {
        ("keiyaku@acme.example", "delivered", 1),
        ("keiri@acme.example", "delivered", 1),
    }
    assert all(d["delivered_at"] == clock.now().isoformat() for d in deliveries)
    assert all(d["message_id"].endswith("@koe.example>") for d in deliveries)
    (notice,) = await mailing.contracts.notices(tenant_id)
    assert notice["delivery"]["email"] == "delivered"
    assert notice["delivery"]["email_delivered_at"] == clock.now().isoformat()
    # Nothing is sent twice.
    assert (await mailing.notices.send_due()).attempted == 0
    assert len(smtp_server.messages) == 2


async def test_temporary_refusals_are_retried_with_back_off_permanent_ones_fail(
    mailing: Koe, smtp_server: Inbox, clock: FrozenClock
) -> None:
    smtp_server.refuse = {
        "keiyaku@acme.example": "451 4.3.0 Mailbox busy, try later",
        "keiri@acme.example": "550 5.1.1 No such user",
    }
    tenant_id = await _tenant(mailing)
    await _suspend(mailing, tenant_id)
    await mailing.notices.wait_idle()
    assert smtp_server.messages == []
    first = clock.now()
    by_address = {d["address"]: d for d in await mailing.notices.deliveries(tenant_id)}
    busy, unknown = by_address["keiyaku@acme.example"], by_address["keiri@acme.example"]
    assert (busy["status"], busy["attempts"]) == ("retry", 1)
    assert busy["next_attempt_at"] == (first + BACKOFF[0]).isoformat()
    assert busy["last_error"].startswith("451 4.3.0 Mailbox busy")
    assert (unknown["status"], unknown["failed_at"], unknown["next_attempt_at"]) == (
        "failed",
        first.isoformat(),
        None,
    )
    (notice,) = await mailing.contracts.notices(tenant_id)
    assert notice["delivery"]["email"] == "retrying"

    assert (await mailing.notices.send_due()).attempted == 0  # not due before a minute
    clock.advance(BACKOFF[0])
    smtp_server.refuse = {}
    report = await mailing.notices.send_due()
    assert (report.delivered, report.retrying, report.failed) == (1, 0, 0)
    (message,) = smtp_server.messages
    assert message.rcpt_tos == ["keiyaku@acme.example"]
    busy = {d["address"]: d for d in await mailing.notices.deliveries(tenant_id)}[
        "keiyaku@acme.example"
    ]
    assert (busy["status"], busy["attempts"], busy["delivered_at"]) == (
        "delivered",
        2,
        clock.now().isoformat(),
    )
    (notice,) = await mailing.contracts.notices(tenant_id)
    assert notice["delivery"]["email"] == "partly_failed"
    assert notice["delivery"]["email_deliveries"] == {"delivered": 1, "failed": 1, "pending": 0}


async def test_an_unreachable_server_is_retried_until_the_back_off_is_used_up(
    database_url: str, clock: FrozenClock, tmp_path: Path
) -> None:
    koe = build(_settings(database_url, tmp_path, free_port()), clock=clock)  # nobody listens
    try:
        tenant_id = await _tenant(koe)
        await _suspend(koe, tenant_id)
        await koe.notices.wait_idle()  # attempt 1 failed
        for wait in BACKOFF:
            clock.advance(wait)
            await koe.notices.send_due()
        deliveries = await koe.notices.deliveries(tenant_id)
        assert {(d["status"], d["attempts"]) for d in deliveries} == {("failed", len(BACKOFF) + 1)}
        assert all(d["last_error"].startswith("connect: ") for d in deliveries)
        assert all(d["failed_at"] == clock.now().isoformat() for d in deliveries)
        assert (await koe.notices.send_due()).attempted == 0
    finally:
        await koe.close()


def test_back_off_steps_and_smtp_settings() -> None:
    assert [retry_delay(n) for n in (1, 2, 6, 7)] == [
        timedelta(minutes=1),
        timedelta(minutes=5),
        timedelta(hours=24),
        None,
    ]
    with pytest.raises(pydantic.ValidationError, match="smtp_sender"):
        Settings(smtp_host="mail.example")
    with pytest.raises(pydantic.ValidationError, match="starttls or ssl"):
        Settings(smtp_host="mail.example", smtp_sender="a@b.example", smtp_username="koe",
                 smtp_security="none")  # fmt: skip
    ok = Settings(smtp_host="mail.example", smtp_sender="a@b.example", smtp_username="koe")
    assert (ok.smtp_port, ok.smtp_security) == (587, "starttls")
    assert "smtp_password" not in ok.model_dump()
