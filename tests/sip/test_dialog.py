"""Dialog features: 100rel/PRACK, UPDATE, INFO, REFER + NOTIFY, late offer, session timers,
identity headers, and the carrier-style call of issue 3 with its "10 minutes" run scaled down.
"""

from __future__ import annotations

import asyncio

from koe.sip.auth import Credentials, DigestServer
from koe.sip.dialog import Dialog, DialogState, parse_refer_to
from koe.sip.identity import (
    assert_identity,
    asserted_identities,
    is_withheld,
    privacy,
    strip_untrusted_identity,
)
from koe.sip.message import SipMessage, SipRequest
from koe.sip.ua import IncomingRequest, RequestHandler
from tests.sip.conftest import CAPTURES
from tests.sip.helpers import SDP, answer_invites, running, until, uri_of


def answer_then(in_dialog: RequestHandler) -> RequestHandler:
    """A UAS handler that answers 200 with SDP and gives the dialog ``in_dialog``."""

    def uas(inreq: IncomingRequest) -> None:
        inreq.respond(200, body=SDP)
        assert inreq.dialog is not None
        inreq.dialog.handler = in_dialog

    return uas


async def test_reliable_provisional_prack_then_answer() -> None:
    pracked: list[int] = []

    async def uas(inreq: IncomingRequest) -> None:
        inreq.respond(183, body=SDP, reliable=True)
        assert inreq.dialog is not None
        prack = await inreq.dialog.wait_prack()
        pracked.append(int((prack.headers.get("RAck") or "0").split()[0]))
        inreq.respond(200, body=SDP)

    async with running(uas) as koe, running() as carrier:
        call = carrier.invite(uri_of(koe), from_="<sip:050@carrier>", body=SDP, reliable=True)
        response = await call.send()
        assert response.status == 200
        assert pracked == [1]
        assert call.provisional[0].headers.get("RSeq") == "1"
        assert call.dialog is not None
        await call.dialog.bye()


async def test_update_info_options_in_dialog() -> None:
    seen: list[str] = []

    def in_dialog(inreq: IncomingRequest) -> None:
        seen.append(inreq.method)
        assert inreq.dialog is not None
        inreq.dialog.default_request(inreq)

    async with running(answer_then(in_dialog)) as koe, running() as phone:
        call = phone.invite(uri_of(koe), from_="<sip:1001@koe.test>", body=SDP)
        await call.send()
        dialog = call.dialog
        assert dialog is not None
        assert (await dialog.update(SDP)).status == 200
        assert (await dialog.info(b"Signal=5\r\nDuration=160\r\n")).status == 200
        assert (await dialog.request("OPTIONS", content_type=None)).status == 200
        assert seen == ["UPDATE", "INFO", "OPTIONS"]
        await dialog.bye()


async def test_blind_transfer_with_refer_and_sipfrag_notify() -> None:
    notifies: list[bytes] = []
    targets: list[str] = []

    def koe_side(inreq: IncomingRequest) -> None:
        assert inreq.dialog is not None
        if inreq.method == "REFER":
            targets.append(str(parse_refer_to(inreq.request).uri))
            inreq.respond(202)
            dialog = inreq.dialog
            inreq.stack.spawn(_report(dialog))
        else:
            inreq.dialog.default_request(inreq)

    async def _report(dialog: Dialog) -> None:
        await dialog.notify_refer("SIP/2.0 100 Trying", final=False)
        await dialog.notify_refer("SIP/2.0 200 OK", final=True)

    def phone_side(inreq: IncomingRequest) -> None:
        if inreq.method == "NOTIFY":
            notifies.append(inreq.request.body)
        assert inreq.dialog is not None
        inreq.dialog.default_request(inreq)

    async with running(answer_then(koe_side)) as koe, running() as phone:
        call = phone.invite(uri_of(koe), from_="<sip:1001@koe.test>", body=SDP)
        await call.send()
        assert call.dialog is not None
        call.dialog.handler = phone_side
        assert (await call.dialog.refer("<sip:1002@koe.test>")).status == 202
        await until(lambda: len(notifies) == 2)
        assert targets == ["sip:1002@koe.test"]
        assert notifies == [b"SIP/2.0 100 Trying\r\n", b"SIP/2.0 200 OK\r\n"]
        await call.dialog.bye()


async def test_late_offer_answer_in_ack() -> None:
    async with running(answer_invites) as koe, running() as trunk:
        call = trunk.invite(uri_of(koe), from_="<sip:050@carrier>")  # no SDP: late offer
        response = await call.send(auto_ack=False)
        assert response.body == SDP  # the offer
        assert call.dialog is not None
        call.dialog.ack(SDP.replace(b"40000", b"40002"))
        uas_dialog = next(iter(koe.dialogs.values()))
        ack = await asyncio.wait_for(uas_dialog.acked, 2)
        assert b"40002" in ack.body
        await call.dialog.bye()


async def test_session_timer_refreshed_by_uac() -> None:
    async with running(answer_invites, min_se=1) as koe, running(min_se=1) as phone:
        call = phone.invite(
            uri_of(koe),
            from_="<sip:1001@koe.test>",
            body=SDP,
            session_expires=1,
            headers=[("Session-Expires", "1;refresher=uac")],
        )
        call.session_expires = None  # the explicit header above asks for refresher=uac
        response = await call.send()
        assert response.headers.get("Session-Expires") == "1;refresher=uac"
        assert call.dialog is not None
        assert call.dialog.we_refresh
        await asyncio.sleep(1.3)
        assert call.dialog.refreshes >= 2
        assert call.dialog.state is DialogState.CONFIRMED
        await call.dialog.bye()


async def test_session_expires_without_refresh_ends_call() -> None:
    async with running(answer_invites, min_se=1) as koe, running(min_se=1) as phone:
        call = phone.invite(
            uri_of(koe),
            from_="<sip:1001@koe.test>",
            body=SDP,
            headers=[("Session-Expires", "1;refresher=uac")],
        )
        await call.send()
        assert call.dialog is not None
        call.dialog.stop_timers()  # a broken refresher: never refreshes
        uas_dialog = next(iter(koe.dialogs.values()))
        assert await asyncio.wait_for(uas_dialog.terminated, 3) == "local bye"
        await until(lambda: call.dialog is not None and call.dialog.state is DialogState.TERMINATED)


async def test_session_interval_too_small_gets_422_and_retry() -> None:
    async with running(answer_invites, min_se=2) as koe, running(min_se=1) as phone:
        call = phone.invite(uri_of(koe), from_="<sip:1@x>", body=SDP, session_expires=1)
        response = await call.send()
        assert response.status == 200
        assert response.headers.get("Session-Expires") == "2;refresher=uas"
        assert call.dialog is not None
        await call.dialog.bye()


def test_identity_headers() -> None:
    msg = SipMessage.parse((CAPTURES / "carrier-invite-100rel.sip").read_bytes())
    assert isinstance(msg, SipRequest)
    assert [str(i.uri) for i in asserted_identities(msg)] == ["tel:+81501234567"]
    assert privacy(msg) == {"id"}
    assert is_withheld(msg)
    strip_untrusted_identity(msg)
    assert asserted_identities(msg) == []
    assert_identity(msg, ["<sip:+81312345678@koe.test;user=phone>"], ["id", "critical"])
    assert msg.headers.get("Privacy") == "id;critical"
    assert str(asserted_identities(msg)[0].uri) == "sip:+81312345678@koe.test;user=phone"


async def test_carrier_call_with_100rel_timer_pai_and_407_stays_up() -> None:
    """Issue 3's carrier case, with the 10 minutes scaled: Session-Expires 1 s, run 3.5 s.

    ``Require: 100rel``, ``Session-Expires: 1;refresher=uas`` (90 in the field), PAI with
    ``Privacy: id``, challenged by a 407 without qop: Koe (UAS) must PRACK-handle, refresh
    the session itself as refresher, and keep the call up across many intervals.
    """
    digest = DigestServer("koe.test", lambda r, u: "trunkpw", algorithms=("MD5",), qop=False)
    identities: list[str] = []

    async def koe_uas(inreq: IncomingRequest) -> None:
        check = digest.check(inreq.request.headers.get("proxy-authorization"), "INVITE")
        if not check.ok:
            inreq.respond(407, headers=[("Proxy-Authenticate", digest.challenges()[0])])
            return
        identities.extend(str(i.uri) for i in asserted_identities(inreq.request))
        assert privacy(inreq.request) == {"id"}
        inreq.respond(183, body=SDP, reliable=True)
        assert inreq.dialog is not None
        await inreq.dialog.wait_prack()
        inreq.respond(200, body=SDP)

    async with running(koe_uas, min_se=1) as koe, running(min_se=1) as carrier:
        call = carrier.invite(
            uri_of(koe, user="0312345678"),
            from_="<sip:0501234567@carrier.test;user=phone>",
            body=SDP,
            reliable=True,
            credentials=Credentials("trunk", "trunkpw"),
            headers=[
                ("P-Asserted-Identity", "<tel:+81501234567>"),
                ("Privacy", "id"),
                ("Session-Expires", "1;refresher=uas"),
                ("Min-SE", "1"),
            ],
        )
        response = await call.send()
        assert response.status == 200
        assert response.headers.get("Session-Expires") == "1;refresher=uas"
        assert identities == ["tel:+81501234567"]
        koe_dialog = next(iter(koe.dialogs.values()))
        assert koe_dialog.we_refresh
        await asyncio.sleep(3.5)
        assert koe_dialog.refreshes >= 6
        assert koe_dialog.state is DialogState.CONFIRMED
        assert call.dialog is not None
        assert call.dialog.state is DialogState.CONFIRMED
        await call.dialog.bye()


async def test_reinvite_glare_gets_491() -> None:
    """Both sides send a re-INVITE at once: the one that arrives while ours is out gets 491."""

    async def slow_reinvite(inreq: IncomingRequest) -> None:
        assert inreq.dialog is not None
        await asyncio.sleep(0.3)
        inreq.dialog.default_request(inreq)

    async with running(answer_then(slow_reinvite)) as koe, running() as phone:
        call = phone.invite(uri_of(koe), from_="<sip:1@x>", body=SDP)
        await call.send()
        assert call.dialog is not None
        koe_dialog = next(iter(koe.dialogs.values()))
        await koe_dialog.acked
        ours = asyncio.ensure_future(call.dialog.reinvite(SDP))
        await asyncio.sleep(0.05)
        theirs = await koe_dialog.reinvite(SDP)
        assert theirs.status == 491
        assert (await ours).status == 200
        await call.dialog.bye()


async def test_invite_with_preloaded_route() -> None:
    async with running(answer_invites) as koe, running() as phone:
        host, port = koe.local_address("UDP")
        call = phone.invite(
            "sip:1002@far.example", from_="<sip:1@x>", body=SDP, routes=[f"<sip:{host}:{port};lr>"]
        )
        assert (await call.send()).status == 200
        assert call.request is not None
        assert call.request.headers.get("Route") == f"<sip:{host}:{port};lr>"
        assert call.dialog is not None
        await call.dialog.bye()
