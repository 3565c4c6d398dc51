"""Two real stacks over loopback: calls, CANCEL, retransmissions, re-INVITE, overload."""

from __future__ import annotations

import asyncio

import pytest

from koe.sip.dialog import DialogState, sdp_direction, with_direction
from koe.sip.message import SipMessage, SipRequest
from koe.sip.transaction import make_response
from koe.sip.ua import IncomingRequest
from tests.sip.helpers import SDP, answer_invites, running, until, uri_of


@pytest.mark.parametrize("transport", ["UDP", "TCP"])
async def test_call_setup_and_bye(transport: str) -> None:
    async with (
        running(answer_invites, transports=(transport,)) as uas,
        running(transports=(transport,)) as uac,
    ):
        call = uac.invite(uri_of(uas, transport), from_="<sip:alice@example.com>", body=SDP)
        response = await call.send()
        assert response.status == 200
        assert [r.status for r in call.provisional] == [180]
        assert call.dialog is not None
        assert call.dialog.state is DialogState.CONFIRMED
        await until(
            lambda: len(uas.dialogs) == 1 and all(d.acked.done() for d in uas.dialogs.values())
        )
        bye = await call.dialog.bye()
        assert bye is not None
        assert bye.status == 200
        await until(lambda: not uas.dialogs)
        assert uac.counters.messages_out["INVITE"] == 1
        assert uas.counters.messages_in["ACK"] == 1


async def test_options_and_unknown_method() -> None:
    async with running() as uas, running() as uac:
        for method, status in (("OPTIONS", 200), ("FOO", 501), ("SUBSCRIBE", 501)):
            req = uac.build_request(
                method, uri_of(uas), from_="<sip:a@example.com>;tag=1", to="<sip:koe@example.com>"
            )
            response = await uac.send_request(req)
            assert response.status == status, method


async def test_cancel_before_answer_gives_200_and_487() -> None:
    seen: list[IncomingRequest] = []

    async def ring_forever(inreq: IncomingRequest) -> None:
        seen.append(inreq)
        inreq.respond(180)
        await inreq.wait_cancelled()

    async with running(ring_forever) as uas, running() as uac:
        call = uac.invite(uri_of(uas), from_="<sip:alice@example.com>", body=SDP)
        call.on_provisional = lambda _r: call.cancel()
        response = await call.send()
        assert response.status == 487
        assert call.cancel_response is not None
        await until(lambda: call.cancel_response is not None and call.cancel_response.status == 200)
        assert seen[0].cancelled


async def test_2xx_retransmitted_until_ack() -> None:
    """Drop the UAC's ACK: the UAS must repeat its 200 OK, then BYE after 64*T1."""
    async with running(answer_invites) as uas, running() as uac:
        uac.transport.send = _drop_acks(uac.transport.send)  # type: ignore[method-assign]
        call = uac.invite(uri_of(uas), from_="<sip:alice@example.com>", body=SDP)
        assert (await call.send()).status == 200
        await until(lambda: uas.counters.retransmissions >= 3, limit=3)
        await until(lambda: uas.counters.messages_out["BYE"] == 1, limit=6)


def _drop_acks(send):  # type: ignore[no-untyped-def]
    def wrapper(msg, dest, flow=None):  # type: ignore[no-untyped-def]
        if getattr(msg, "method", "") == "ACK":
            return None
        return send(msg, dest, flow)

    return wrapper


async def test_reinvite_hold_and_unhold() -> None:
    async with running(answer_invites) as uas, running() as uac:
        call = uac.invite(uri_of(uas), from_="<sip:alice@example.com>", body=SDP)
        await call.send()
        assert call.dialog is not None
        hold = await call.dialog.reinvite(with_direction(SDP, "sendonly"))
        assert hold.status == 200
        uas_dialog = next(iter(uas.dialogs.values()))
        assert sdp_direction(uas_dialog.remote_sdp) == "sendonly"
        unhold = await call.dialog.reinvite(with_direction(SDP, "sendrecv"))
        assert unhold.status == 200
        assert sdp_direction(uas_dialog.remote_sdp) == "sendrecv"
        await call.dialog.bye()


async def test_overload_answers_503_with_retry_after() -> None:
    async with running(answer_invites, max_request_rate=2.0) as uas, running() as uac:
        statuses = []
        for _ in range(6):
            req = uac.build_request(
                "OPTIONS", uri_of(uas), from_="<sip:a@example.com>;tag=1", to="<sip:koe@x>"
            )
            statuses.append((await uac.send_request(req)).status)
        assert 503 in statuses
        assert uas.counters.overload_rejections >= 1


async def test_session_timer_refreshed_by_uas() -> None:
    async with running(answer_invites, min_se=1) as uas, running(min_se=1) as uac:
        call = uac.invite(uri_of(uas), from_="<sip:alice@example.com>", body=SDP, session_expires=1)
        response = await call.send()
        assert response.headers.get("Session-Expires") == "1;refresher=uas"
        assert call.dialog is not None
        await asyncio.sleep(1.6)
        uas_dialog = next(iter(uas.dialogs.values()))
        assert uas_dialog.refreshes >= 2
        assert call.dialog.state is DialogState.CONFIRMED
        await call.dialog.bye()


async def test_overload_counts_unanswered_requests_not_completed_ones() -> None:
    answered: list[IncomingRequest] = []
    waiting: list[IncomingRequest] = []

    async def handler(inreq: IncomingRequest) -> None:
        if inreq.request.to.uri.user == "slow":  # type: ignore[union-attr]
            waiting.append(inreq)
            await inreq.wait_cancelled()
        else:
            answered.append(inreq)
            inreq.respond(200)

    async with running(handler, max_pending_requests=2) as uas, running() as uac:
        for _ in range(5):  # completed transactions linger (Timer J) but are not "pending"
            req = uac.build_request("OPTIONS", uri_of(uas), from_="<sip:a@x>;tag=f", to="<sip:k@x>")
            assert (await uac.send_request(req)).status == 200
        calls = [
            uac.invite(uri_of(uas, user="slow"), from_="<sip:a@x>", to="<sip:slow@x>", body=SDP)
            for _ in range(3)
        ]
        for call in calls[:2]:
            uac.spawn(call.send())
        await until(lambda: len(waiting) == 2)
        assert (await calls[2].send()).status == 503
        for call in calls[:2]:
            call.cancel()
        await until(lambda: uas.layer.pending == 0)


async def test_answer_after_cancel_is_dropped() -> None:
    """The handler answers 200 after CANCEL got 487: nothing more is sent, no dialog stays."""

    async def late(inreq: IncomingRequest) -> None:
        inreq.respond(180)
        await inreq.wait_cancelled()
        inreq.respond(200, body=SDP)

    async with running(late) as uas, running() as uac:
        call = uac.invite(uri_of(uas), from_="<sip:alice@example.com>", body=SDP)
        call.on_provisional = lambda _r: call.cancel()
        assert (await call.send()).status == 487
        await asyncio.sleep(0.2)
        assert uas.counters.messages_out["2xx"] == 1  # the 200 to the CANCEL only
        assert not uas.dialogs


class _ForkingProxy(asyncio.DatagramProtocol):
    """Answers an INVITE twice, as two forks behind a proxy would: 200 with tag a, then b."""

    def __init__(self) -> None:
        self.transport: asyncio.DatagramTransport | None = None
        self.seen: list[tuple[str, str | None]] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        msg = SipMessage.parse(data)
        if not isinstance(msg, SipRequest):
            return
        assert self.transport is not None
        self.seen.append((msg.method, msg.to.tag))
        host, port = self.transport.get_extra_info("sockname")[:2]
        tags = ("fork-a", "fork-b") if msg.method == "INVITE" else (None,)
        for tag in tags:
            if msg.method == "ACK":
                return
            response = make_response(msg, 200, None, tag)
            response.headers.add("Contact", f"<sip:fork@{host}:{port}>")
            if msg.method == "INVITE":
                response.set_body(SDP, "application/sdp")
            self.transport.sendto(bytes(response), addr)


async def test_second_2xx_from_a_fork_is_acked_and_ended() -> None:
    loop = asyncio.get_running_loop()
    transport, proxy = await loop.create_datagram_endpoint(
        _ForkingProxy, local_addr=("127.0.0.1", 0)
    )
    try:
        async with running() as uac:
            port = transport.get_extra_info("sockname")[1]
            call = uac.invite(f"sip:koe@127.0.0.1:{port}", from_="<sip:a@x>", body=SDP)
            response = await call.send()
            assert response.to.tag == "fork-a"
            await until(lambda: ("BYE", "fork-b") in proxy.seen)
            assert ("ACK", "fork-a") in proxy.seen
            assert ("ACK", "fork-b") in proxy.seen
            assert call.dialog is not None
            assert call.dialog.active
            await call.dialog.bye()
    finally:
        transport.close()
