"""A real SMTP server on loopback (aiosmtpd) that keeps what it receives, for notice tests."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from koe.app import Koe


@dataclass
class Received:
    """One message as the server got it: envelope and raw bytes."""

    mail_from: str
    rcpt_tos: list[str]
    raw: bytes

    def parsed(self) -> EmailMessage:
        """The message parsed (headers decoded)."""
        msg = message_from_bytes(self.raw, policy=policy.default)
        assert isinstance(msg, EmailMessage)
        return msg

    def header_line(self, name: str) -> str:
        """The raw, undecoded header (folded lines joined)."""
        head = self.raw.split(b"\r\n\r\n", 1)[0].decode("ascii")
        unfolded = head.replace("\r\n ", " ").replace("\r\n\t", " ")
        for line in unfolded.split("\r\n"):
            key, _, value = line.partition(":")
            if key.lower() == name.lower():
                return value.strip()
        raise KeyError(name)


@dataclass
class Inbox:
    """The server's handler: ``refuse`` maps an address to the reply RCPT TO gets."""

    messages: list[Received] = field(default_factory=list)
    refuse: dict[str, str] = field(default_factory=dict)
    port: int = 0

    async def handle_RCPT(  # noqa: N802 (aiosmtpd's hook name)
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.messages.append(
            Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.content)
        )
        return "250 Message accepted for delivery"


def free_port() -> int:
    """A TCP port on loopback that nothing listens on (now)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def smtp_server() -> Iterator[Inbox]:
    """A real SMTP server on 127.0.0.1 (plain SMTP, as on a loopback relay)."""
    inbox = Inbox(port=free_port())
    controller = Controller(inbox, hostname="127.0.0.1", port=inbox.port)
    controller.start()
    try:
        yield inbox
    finally:
        controller.stop()


async def tenant_with_contacts(koe: Koe, contacts: list[dict[str, Any]]) -> str:
    """Tenant ``acme`` with ``contacts``; its id."""
    view = await koe.tenants.create(
        {
            "code": "acme",
            "company_name": "株式会社アクメ",
            "representative_name": "山田 太郎",
            "address": "東京都渋谷区1-1",
            "phone": "03-1111-2222",
        },
        contacts,
    )
    return str(view["id"])
