"""Transaction timers (RFC 3261 §17) on short clocks: A/B, E/F with T2 cap, G/H, and RFC 6026."""

from __future__ import annotations

import asyncio
import socket

from koe.sip.message import SipMessage, SipResponse
from koe.sip.transaction import Timers
from koe.sip.ua import IncomingRequest
from tests.sip.helpers import SDP, running, until

QUICK = Timers(t1=0.01, t2=0.08, t4=0.05)  # Timer B/F/H = 64*T1 = 0.64 s


class _Silent(asyncio.DatagramProtocol):
    """A peer that only listens: counts what arrives."""

    def __init__(self) -> None:
        self.got: list[SipMessage] = []

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.got.append(SipMessage.parse(data))


async def _silent_peer() -> tuple[asyncio.DatagramTransport, _Silent, int]:
    loop = asyncio.get_running_loop()
    transport, peer = await loop.create_datagram_endpoint(_Silent, local_addr=("127.0.0.1", 0))
    return transport, peer, transport.get_extra_info("sockname")[1]


async def test_invite_timer_a_doubles_and_timer_b_gives_408() -> None:
    transport, peer, port = await _silent_peer()
    try:
        async with running(timers=QUICK) as uac:
            call = uac.invite(f"sip:x@127.0.0.1:{port}", from_="<sip:a@x>", body=SDP)
            response = await call.send()
            assert response.status == 408
            # Timer A: 10, 20, 40, 80, 160, 320 ms apart, within Timer B's 640 ms (the last
            # one may fall after B on a busy machine).
            assert uac.counters.retransmissions in (5, 6)
            assert len(peer.got) == uac.counters.retransmissions + 1
            assert uac.counters.transaction_timeouts == 1
    finally:
        transport.close()


async def test_non_invite_timer_e_is_capped_at_t2() -> None:
    transport, peer, port = await _silent_peer()
    try:
        async with running(timers=QUICK) as uac:
            req = uac.build_request(
                "OPTIONS", f"sip:x@127.0.0.1:{port}", from_="<sip:a@x>;tag=1", to="<sip:x@y>"
            )
            assert (await uac.send_request(req)).status == 408
            # Timer E: 10, 20, 40, 80, then every 80 ms (T2) until 640 ms: 4 + 6 = 10 resends.
            assert 9 <= len(peer.got) - 1 <= 11
    finally:
        transport.close()


async def test_server_timer_g_repeats_final_until_timer_h() -> None:
    def busy(inreq: IncomingRequest) -> None:
        inreq.respond(486)

    async with running(busy, timers=QUICK) as uas:
        host, port = uas.local_address("UDP")
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", 0))
        sock.setblocking(False)
        me = sock.getsockname()[1]
        invite = (
            f"INVITE sip:koe@{host} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{me};branch=z9hG4bKg1\r\n"
            "From: <sip:a@x>;tag=g\r\nTo: <sip:koe@x>\r\nCall-ID: timer-g@x\r\nCSeq: 1 INVITE\r\n"
            "Content-Length: 0\r\n\r\n"
        )
        sock.sendto(invite.encode(), (host, port))
        await until(lambda: uas.counters.transaction_timeouts == 1, limit=3)  # Timer H
        finals = []
        while True:
            try:
                data = sock.recv(65535)
            except BlockingIOError:
                break
            msg = SipMessage.parse(data)
            if isinstance(msg, SipResponse) and msg.status == 486:
                finals.append(msg)
        sock.close()
        # Timer G: 10, 20, 40, 80, 80, ... ms (capped at T2) until Timer H at 640 ms.
        assert 8 <= len(finals) <= 12
        assert uas.counters.retransmissions == len(finals) - 1


async def test_invite_retransmission_after_2xx_is_absorbed() -> None:
    """RFC 6026 §7.1: in Accepted, a retransmitted INVITE is not a new request."""
    seen: list[str] = []

    def answer(inreq: IncomingRequest) -> None:
        seen.append(inreq.method)
        inreq.respond(200, body=SDP)

    async with running(answer, timers=QUICK) as uas:
        host, port = uas.local_address("UDP")
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", 0))
        me = sock.getsockname()[1]
        invite = (
            f"INVITE sip:koe@{host} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{me};branch=z9hG4bKa1\r\n"
            "From: <sip:a@x>;tag=a\r\nTo: <sip:koe@x>\r\nCall-ID: accepted@x\r\nCSeq: 1 INVITE\r\n"
            "Content-Length: 0\r\n\r\n"
        ).encode()
        for _ in range(3):
            sock.sendto(invite, (host, port))
            await asyncio.sleep(0.02)
        sock.close()
        assert seen == ["INVITE"]
        await until(lambda: not uas.dialogs, limit=3)  # no ACK: BYE after 64*T1, dialog gone
