"""E-mail delivery of notices over SMTP (R3.*: "e-mail via SMTP and in the Suite").

Every notice is stored first (``Notice``) with one ``NoticeDelivery`` per contact that has an
e-mail address, queued. ``NoticeMailer.send_due`` sends what is due over SMTP (the standard
library's smtplib, in a worker thread), one message per contact, and records each outcome
with its time:

- accepted by the server → ``delivered`` (``delivered_at``, ``message_id``);
- a temporary failure (no connection, TLS or login failure, a 4xx reply) → ``retry`` at the
  next step of the back-off (1 min, 5 min, 30 min, 2 h, 6 h, 24 h), then ``failed``;
- a permanent refusal (a 5xx reply, an address that cannot be written) → ``failed`` at once.

The message is Japanese first, then English, in UTF-8 (base64 body, RFC 2047 encoded
subject and names), with the notice number, article and time, so that the stored e-mail
serves as the written notice where the terms require one (Art. 20, 38, 48).

A running process sends as soon as a notice is stored (``on_event`` on
``contracts.notice_stored``) and retries when the next retry falls due; ``koe notices send``
does the same from the command line (e.g. from cron).
"""

from __future__ import annotations

import asyncio
import logging
import smtplib
import ssl
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid, parseaddr
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from koe.core.clock import JST, Clock
from koe.core.errors import Conflict, not_found
from koe.core.events import Event
from koe.core.settings import Settings
from koe.store.db import Database
from koe.store.models import Notice, NoticeDelivery
from koe.tenancy.service import row_view

log = logging.getLogger(__name__)

# Waits before the 2nd, 3rd, ... attempt; after the last one a delivery has failed for good.
BACKOFF: tuple[timedelta, ...] = (
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=6),
    timedelta(hours=24),
)
BATCH = 50
# A claimed delivery whose sender died is due again after this long.
LEASE = timedelta(minutes=10)
PENDING = ("queued", "retry", "sending")


def retry_delay(attempts: int) -> timedelta | None:
    """How long to wait after ``attempts`` failed attempts; None once they are used up."""
    return BACKOFF[attempts - 1] if 1 <= attempts <= len(BACKOFF) else None


def queue_emails(notice: Notice, now: datetime) -> list[NoticeDelivery]:
    """One queued e-mail delivery per recipient of ``notice`` that has an address."""
    return [
        NoticeDelivery(
            tenant_id=notice.tenant_id,
            notice_id=notice.id,
            channel="email",
            contact_kind=str(r.get("kind") or ""),
            name=str(r.get("name") or "")[:100],
            address=str(r["email"])[:254],
            status="queued",
            attempts=0,
            next_attempt_at=now,
            last_error="",
            message_id="",
            created_at=now,
        )
        for r in notice.recipients
        if r.get("email")
    ]


def _sender_domain(sender: str) -> str:
    return parseaddr(sender)[1].rpartition("@")[2] or "localhost"


def build_message(
    notice: Notice, delivery: NoticeDelivery, sender: str, now: datetime
) -> EmailMessage:
    """The e-mail of ``notice`` to one contact: Japanese, then English, UTF-8."""
    msg = EmailMessage(policy=SMTP)
    msg["From"] = sender
    msg["To"] = Address(display_name=delivery.name, addr_spec=delivery.address)
    msg["Subject"] = f"{notice.subject_ja} / {notice.subject_en}"
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = make_msgid(idstring=delivery.id, domain=_sender_domain(sender))
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Koe-Notice"] = notice.id
    sent = f"{notice.sent_at.astimezone(JST):%Y-%m-%d %H:%M}"
    article_ja = f"根拠条項: 約款第{notice.article}条\n" if notice.article else ""
    article_en = f"Article: {notice.article}\n" if notice.article else ""
    written_ja = "本メールは約款に定める書面による通知です。\n" if notice.written else ""
    written_en = "This e-mail is the written notice the terms require.\n" if notice.written else ""
    msg.set_content(
        f"{delivery.name} 様\n\n{notice.subject_ja}\n\n{notice.body_ja}\n\n"
        f"通知番号: {notice.id}\n{article_ja}通知日時: {sent}(日本時間)\n{written_ja}"
        "\n----- English -----\n\n"
        f"{notice.subject_en}\n\n{notice.body_en}\n\n"
        f"Notice number: {notice.id}\n{article_en}Given on: {sent} JST\n{written_en}",
        charset="utf-8",
        cte="base64",
    )
    return msg


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the server said to one message."""

    delivered: bool
    temporary: bool = False
    error: str = ""


@dataclass
class SendReport:
    """One pass over the due deliveries."""

    delivered: int = 0
    retrying: int = 0
    failed: int = 0
    deliveries: list[dict[str, Any]] = field(default_factory=list)

    @property
    def attempted(self) -> int:
        """How many messages this pass tried to send."""
        return self.delivered + self.retrying + self.failed


def _refusal(code: int, text: Any) -> Outcome:
    detail = text.decode(errors="replace") if isinstance(text, bytes) else str(text)
    return Outcome(False, temporary=400 <= code < 500, error=f"{code} {detail}"[:500])


class SmtpTransport:
    """Sends messages through one SMTP connection per batch (blocking: run it in a thread)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def _connect(self) -> smtplib.SMTP:
        st = self.settings
        local = _sender_domain(st.smtp_sender)
        smtp: smtplib.SMTP
        if st.smtp_security == "ssl":
            smtp = smtplib.SMTP_SSL(
                st.smtp_host,
                st.smtp_port,
                local_hostname=local,
                timeout=st.smtp_timeout_seconds,
                context=ssl.create_default_context(),
            )
        else:
            smtp = smtplib.SMTP(
                st.smtp_host, st.smtp_port, local_hostname=local, timeout=st.smtp_timeout_seconds
            )
            if st.smtp_security == "starttls":
                smtp.starttls(context=ssl.create_default_context())
        if st.smtp_username:
            password = st.secrets.smtp_password
            smtp.login(st.smtp_username, password.get_secret_value() if password else "")
        return smtp

    def send(self, messages: Sequence[tuple[str, EmailMessage]]) -> dict[str, Outcome]:
        """Send each (key, message); the outcome of every key."""
        try:
            smtp = self._connect()
        except (OSError, smtplib.SMTPException) as err:
            failure = Outcome(False, temporary=True, error=f"connect: {err}"[:500])
            return {key: failure for key, _ in messages}
        out: dict[str, Outcome] = {}
        with smtp:
            for key, msg in messages:
                try:
                    refused = smtp.send_message(msg)
                except smtplib.SMTPRecipientsRefused as err:
                    code, text = next(iter(err.recipients.values()))
                    out[key] = _refusal(code, text)
                except smtplib.SMTPResponseException as err:
                    out[key] = _refusal(err.smtp_code, err.smtp_error)
                    if isinstance(err, smtplib.SMTPSenderRefused) or err.smtp_code == 421:
                        break
                except (OSError, smtplib.SMTPException) as err:
                    out[key] = Outcome(False, temporary=True, error=str(err)[:500])
                    break
                else:
                    out[key] = (
                        Outcome(True) if not refused else _refusal(*next(iter(refused.values())))
                    )
        for key, _ in messages:  # not tried: the connection was lost
            out.setdefault(key, Outcome(False, temporary=True, error="connection lost"))
        return out


def _summary(deliveries: Sequence[NoticeDelivery]) -> dict[str, Any]:
    states = {d.status for d in deliveries}
    if states & set(PENDING):
        email = "retrying" if "retry" in states else "queued"
    elif states == {"delivered"}:
        email = "delivered"
    elif "delivered" in states:
        email = "partly_failed"
    else:
        email = "failed"
    delivered = [d.delivered_at for d in deliveries if d.delivered_at is not None]
    return {
        "email": email,
        "email_delivered_at": max(delivered).isoformat() if delivered else None,
        "email_deliveries": {
            "delivered": sum(d.status == "delivered" for d in deliveries),
            "failed": sum(d.status == "failed" for d in deliveries),
            "pending": sum(d.status in PENDING for d in deliveries),
        },
    }


def smtp_not_configured() -> Conflict:
    """E-mail cannot be sent before the SMTP settings are filled in."""
    return Conflict(
        "smtp_not_configured",
        "メール送信(SMTP)が設定されていません。設定ファイルに smtp_host と smtp_sender を"
        "指定してください。",
        "E-mail (SMTP) is not configured: set smtp_host and smtp_sender in the settings file.",
    )


class NoticeMailer:
    """Sends queued notice e-mails and keeps their delivery records."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        settings: Settings,
        transport: SmtpTransport | None = None,
    ) -> None:
        self.db = db
        self.clock = clock
        self.settings = settings
        self.transport = transport or SmtpTransport(settings)
        self._task: asyncio.Task[None] | None = None
        self._again = False
        self._retry: asyncio.TimerHandle | None = None

    @property
    def enabled(self) -> bool:
        """True when an SMTP server is configured."""
        return bool(self.settings.smtp_host)

    # ---- one pass ----

    async def send_due(self) -> SendReport:
        """Send every delivery that is due now; record delivered, retry or failed."""
        if not self.enabled:
            raise smtp_not_configured()
        report = SendReport()
        while True:
            claimed = await self._claim()
            if not claimed:
                return report
            now = self.clock.now()
            messages = []
            outcomes: dict[str, Outcome] = {}
            for delivery, notice in claimed:
                try:
                    msg = build_message(notice, delivery, self.settings.smtp_sender, now)
                except (ValueError, TypeError, IndexError) as err:  # an unwritable address
                    outcomes[delivery.id] = Outcome(False, error=f"invalid address: {err}"[:500])
                    continue
                messages.append((delivery.id, msg))
            if messages:
                outcomes.update(await asyncio.to_thread(self.transport.send, messages))
            ids = {key: str(msg["Message-ID"]) for key, msg in messages}
            await self._record(claimed, outcomes, ids, report)
            if len(claimed) < BATCH:
                return report

    async def _claim(self) -> list[tuple[NoticeDelivery, Notice]]:
        now = self.clock.now()
        async with self.db.transaction() as s:
            if self.db.dialect == "sqlite":
                # A write first takes SQLite's lock: two senders never claim the same rows.
                await s.execute(
                    update(NoticeDelivery).where(NoticeDelivery.id == "").values(status="queued")
                )
            stmt = (
                select(NoticeDelivery, Notice)
                .join(Notice, Notice.id == NoticeDelivery.notice_id)
                .where(
                    NoticeDelivery.status.in_(PENDING),
                    NoticeDelivery.next_attempt_at <= now,
                )
                .order_by(NoticeDelivery.next_attempt_at, NoticeDelivery.id)
                .limit(BATCH)
            )
            if self.db.dialect == "postgresql":
                stmt = stmt.with_for_update(skip_locked=True, of=NoticeDelivery)
            rows = [(d, n) for d, n in (await s.execute(stmt)).all()]
            for delivery, _ in rows:
                delivery.status = "sending"
                delivery.next_attempt_at = now + LEASE
        return rows

    async def _record(
        self,
        claimed: Sequence[tuple[NoticeDelivery, Notice]],
        outcomes: dict[str, Outcome],
        message_ids: dict[str, str],
        report: SendReport,
    ) -> None:
        now = self.clock.now()
        async with self.db.transaction() as s:
            for claimed_row, _ in claimed:
                delivery = await s.get(NoticeDelivery, claimed_row.id)
                if delivery is None:  # its notice was deleted meanwhile
                    continue
                outcome = outcomes[delivery.id]
                delivery.attempts += 1
                delivery.last_attempt_at = now
                delivery.last_error = outcome.error
                delay = retry_delay(delivery.attempts) if outcome.temporary else None
                if outcome.delivered:
                    delivery.status = "delivered"
                    delivery.delivered_at = now
                    delivery.next_attempt_at = None
                    delivery.message_id = message_ids.get(delivery.id, "")[:200]
                    report.delivered += 1
                elif delay is not None:
                    delivery.status = "retry"
                    delivery.next_attempt_at = now + delay
                    report.retrying += 1
                else:
                    delivery.status = "failed"
                    delivery.failed_at = now
                    delivery.next_attempt_at = None
                    report.failed += 1
                report.deliveries.append(
                    {
                        "id": delivery.id,
                        "notice_id": delivery.notice_id,
                        "address": delivery.address,
                        "status": delivery.status,
                        "attempts": delivery.attempts,
                        "error": delivery.last_error,
                    }
                )
                if not outcome.delivered:
                    log.warning(
                        "notice e-mail not delivered id=%s attempts=%d status=%s error=%s",
                        delivery.id,
                        delivery.attempts,
                        delivery.status,
                        outcome.error,
                    )
            await s.flush()
            for notice_id in {n.id for _, n in claimed}:
                await self._summarise(s, notice_id)

    async def _summarise(self, s: AsyncSession, notice_id: str) -> None:
        notice = await s.get(Notice, notice_id)
        if notice is None:
            return
        rows = (
            (await s.execute(select(NoticeDelivery).where(NoticeDelivery.notice_id == notice_id)))
            .scalars()
            .all()
        )
        notice.delivery = {**notice.delivery, **_summary(rows)}

    async def next_due(self) -> datetime | None:
        """When the next pending delivery falls due (None: nothing pending)."""
        async with self.db.transaction() as s:
            found: datetime | None = (
                await s.execute(
                    select(NoticeDelivery.next_attempt_at)
                    .where(NoticeDelivery.status.in_(PENDING))
                    .order_by(NoticeDelivery.next_attempt_at)
                    .limit(1)
                )
            ).scalar_one_or_none()
            return found

    async def deliveries(
        self, tenant_id: str, notice_id: str | None = None
    ) -> list[dict[str, Any]]:
        """The e-mail deliveries of ``tenant_id`` (of one notice: another tenant's is not
        found), oldest first."""
        async with self.db.transaction() as s:
            stmt = select(NoticeDelivery).where(NoticeDelivery.tenant_id == tenant_id)
            if notice_id is not None:
                owner = await s.get(Notice, notice_id)
                if owner is None or owner.tenant_id != tenant_id:
                    raise not_found("通知", "Notice")
                stmt = stmt.where(NoticeDelivery.notice_id == notice_id)
            rows = await s.execute(stmt.order_by(NoticeDelivery.created_at, NoticeDelivery.id))
            return [row_view(r) for r in rows.scalars()]

    # ---- in a running process ----

    async def on_event(self, event: Event) -> None:
        """Bus subscriber: send as soon as a notice is stored."""
        if event.type == "contracts.notice_stored":
            self.kick()

    def kick(self) -> None:
        """Start a sending pass in the background (one at a time); no SMTP, nothing to do."""
        if not self.enabled:
            return
        if self._task is not None and not self._task.done():
            self._again = True
            return
        self._task = asyncio.get_running_loop().create_task(self._run(), name="notice-mailer")

    async def _run(self) -> None:
        self._again = True
        while self._again:
            self._again = False
            try:
                await self.send_due()
            except Exception:
                log.exception("sending notice e-mails failed")
        try:
            due = await self.next_due()
        except Exception:
            log.exception("reading the next notice e-mail retry failed")
            return
        self._schedule(due)

    def _schedule(self, due: datetime | None) -> None:
        if self._retry is not None:
            self._retry.cancel()
            self._retry = None
        if due is None:
            return
        delay = max(1.0, (due - self.clock.now()).total_seconds())
        self._retry = asyncio.get_running_loop().call_later(delay, self.kick)

    async def wait_idle(self) -> None:
        """Wait for the pass in progress (and any it chained) to finish."""
        while self._task is not None and not self._task.done():
            await asyncio.shield(self._task)

    async def close(self) -> None:
        """Finish the pass in progress and stop scheduled retries."""
        await self.wait_idle()
        if self._retry is not None:
            self._retry.cancel()
            self._retry = None
