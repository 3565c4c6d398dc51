"""Carrier trunks: outbound registration refresh and back-off, OPTIONS keep-alive events."""

from __future__ import annotations

from koe.core.events import Event, EventBus
from koe.sip.auth import Credentials
from koe.sip.message import SipMessage, SipRequest
from koe.sip.transaction import Timers
from koe.sip.trunk import OptionsKeepalive, OutboundRegistration, TrunkRegistration, dialled_number
from koe.sip.ua import SipConfig, SipStack
from tests.sip.helpers import FAST, free_port, running, until, uri_of
from tests.sip.peers import TestServer

QUICK = Timers(t1=0.01, t2=0.08, t4=0.1)  # Timer F = 0.64 s: timeouts come quickly


async def test_registration_refreshes_and_backs_off() -> None:
    server = TestServer(algorithms=("MD5",))
    bus = EventBus()
    events: list[Event] = []

    async def record(event: Event) -> None:
        events.append(event)

    bus.subscribe(record)
    async with running(server.handle) as carrier, running(timers=QUICK) as koe:
        host, port = carrier.local_address("UDP")
        config = TrunkRegistration(
            name="ngn-1",
            registrar=f"sip:{host}:{port}",
            aor="sip:1001@koe.test",
            credentials=Credentials("1001", "pw1001"),
            expires=2,
            retry_min=0.2,
            retry_max=0.4,
            tenant_id="tenant-1",
        )
        reg = OutboundRegistration(koe, config, publish=bus.publish)
        await reg.start()
        try:
            await until(lambda: reg.registered)
            first = carrier.counters.messages_in["REGISTER"]
            await until(lambda: carrier.counters.messages_in["REGISTER"] >= first + 2, limit=4)
            assert reg.granted == 2
            assert server.registrar.lookup("tenant-1", "sip:1001@koe.test")
        finally:
            await reg.stop()
        assert not server.registrar.lookup("tenant-1", "sip:1001@koe.test")
        assert [e.type for e in events] == ["sip.trunk.registered", "sip.trunk.unregistered"]
        # A registrar that does not answer: failures grow, retries keep going with back-off.
        dead = TrunkRegistration(
            name="dead",
            registrar=f"sip:127.0.0.1:{free_port()}",
            aor="sip:1@koe.test",
            retry_min=0.1,
            retry_max=0.2,
        )
        reg2 = OutboundRegistration(koe, dead)
        await reg2.start()
        await until(lambda: reg2.failures >= 2, limit=15)
        await reg2.stop(unregister=False)
        assert not reg2.registered


async def test_options_keepalive_up_then_down() -> None:
    bus = EventBus()
    events: list[tuple[str, str]] = []

    async def record(event: Event) -> None:
        events.append((event.type, event.data["peer"]))

    bus.subscribe(record)
    async with running(timers=QUICK) as koe:
        phone = SipStack(SipConfig(listen=[("UDP", "127.0.0.1", 0)], timers=FAST))
        await phone.start()
        keep = OptionsKeepalive(koe, interval=0.2, failures_to_down=1, publish=bus.publish)
        keep.watch("phone-1001", uri_of(phone))
        await keep.start()
        try:
            await until(lambda: keep.up.get("phone-1001") is True)
            await phone.stop()  # the phone goes away: OPTIONS time out (Timer F)
            await until(lambda: keep.up.get("phone-1001") is False, limit=10)
        finally:
            await keep.stop()
    assert events == [("sip.peer.up", "phone-1001"), ("sip.peer.down", "phone-1001")]


def test_dialled_number_on_registration_trunks() -> None:
    msg = SipMessage.parse(
        b"INVITE sip:0501234567@192.0.2.1:5060 SIP/2.0\r\nTo: <sip:0312345678@ngn.example>\r\n"
        b"Content-Length: 0\r\n\r\n"
    )
    assert isinstance(msg, SipRequest)
    assert dialled_number(msg, registration_trunk=True) == "0312345678"
    assert dialled_number(msg, registration_trunk=False) == "0501234567"
