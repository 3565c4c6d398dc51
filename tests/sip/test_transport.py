"""Transports: TLS, IPv6, CRLF keep-alive, connection reuse, rport/received, size limits."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest

from koe.sip.message import SipMessage, SipRequest, SipResponse
from koe.sip.transport import Flow, response_destination, stamp_via
from koe.sip.ua import IncomingRequest
from tests.sip.helpers import SDP, answer_invites, running, tls_contexts, until, uri_of


async def test_tls_call_and_reuse_of_the_phones_connection(tmp_path: Path) -> None:
    server_ctx, client_ctx = tls_contexts(tmp_path)
    async with (
        running(answer_invites, transports=("TLS",), tls_context=server_ctx) as koe,
        running(
            answer_invites,
            transports=("TLS",),
            tls_context=server_ctx,
            client_ssl_context=client_ctx,
        ) as phone,
    ):
        # The phone calls Koe over TLS; Koe's BYE must reuse the phone's own connection.
        call = phone.invite(uri_of(koe, "TLS"), from_="<sips:1001@koe.test>", body=SDP)
        assert (await call.send()).status == 200
        await until(lambda: len(koe.dialogs) == 1)
        koe_dialog = next(iter(koe.dialogs.values()))
        await koe_dialog.acked
        assert len(koe.transport._all) == 1
        bye = await koe_dialog.bye()
        assert bye is not None
        assert bye.status == 200
        assert len(koe.transport._all) == 1  # no new connection toward the phone's Contact
        assert call.dialog is not None
        await until(lambda: not phone.dialogs)


async def test_ipv6_udp_and_tcp() -> None:
    for transport in ("UDP", "TCP"):
        async with (
            running(answer_invites, transports=(transport,), host="::1") as uas,
            running(transports=(transport,), host="::1") as uac,
        ):
            host, port = uas.local_address(transport)
            assert host == "[::1]"
            suffix = "" if transport == "UDP" else ";transport=tcp"
            call = uac.invite(f"sip:koe@[::1]:{port}{suffix}", from_="<sip:a@[::1]>", body=SDP)
            assert (await call.send()).status == 200
            assert call.dialog is not None
            await call.dialog.bye()


async def test_crlf_keepalive_ping_gets_pong() -> None:
    async with running(transports=("TCP",)) as stack:
        host, port = stack.local_address("TCP")
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(b"\r\n\r\n")
        assert await asyncio.wait_for(reader.readexactly(2), 2) == b"\r\n"
        writer.close()


async def test_oversized_stream_message_closes_connection() -> None:
    async with running(transports=("TCP",)) as stack:
        host, port = stack.local_address("TCP")
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(b"OPTIONS sip:a@b SIP/2.0\r\nX: " + b"a" * 70000)
        assert await asyncio.wait_for(reader.read(), 2) == b""
        writer.close()


def test_rport_and_received_are_stamped() -> None:
    req = SipMessage.parse(
        b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bK1;rport\r\n"
        b"Content-Length: 0\r\n\r\n"
    )
    assert isinstance(req, SipRequest)
    stamp_via(req, Flow("UDP", ("127.0.0.1", 5060), ("203.0.113.9", 40123)))
    via = req.top_via
    assert via.received == "203.0.113.9"
    assert via.rport == 40123
    response = SipResponse(200)
    response.headers.add("Via", str(via))
    dest = response_destination(response)
    assert (dest.host, dest.port) == ("203.0.113.9", 40123)


def test_response_to_via_without_port_goes_to_5060() -> None:
    response = SipResponse(200)
    response.headers.add("Via", "SIP/2.0/UDP 192.0.2.4;branch=z9hG4bK1;received=192.0.2.9")
    dest = response_destination(response)
    assert (dest.host, dest.port) == ("192.0.2.9", 5060)


async def test_merged_request_gets_482() -> None:
    async def slow(inreq: IncomingRequest) -> None:
        await asyncio.sleep(0.3)
        inreq.respond(486)

    async with running(slow) as uas:
        host, port = uas.local_address("UDP")
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", 0))
        sock.setblocking(False)
        loop = asyncio.get_running_loop()
        base = (
            "INVITE sip:koe@127.0.0.1 SIP/2.0\r\n"
            "Via: SIP/2.0/UDP 127.0.0.1:{p};branch={b};rport\r\n"
            "From: <sip:a@x>;tag=m1\r\nTo: <sip:koe@x>\r\nCall-ID: merged@x\r\nCSeq: 1 INVITE\r\n"
            "Content-Length: 0\r\n\r\n"
        )
        me = sock.getsockname()[1]
        for branch in ("z9hG4bKpath1", "z9hG4bKpath2"):
            sock.sendto(base.format(p=me, b=branch).encode(), (host, port))
        statuses = []
        end = loop.time() + 2
        while loop.time() < end and 482 not in statuses:
            try:
                data = await asyncio.wait_for(loop.sock_recv(sock, 65535), 0.5)
            except TimeoutError:
                break
            msg = SipMessage.parse(data)
            if isinstance(msg, SipResponse):
                statuses.append(msg.status)
        sock.close()
        assert 482 in statuses
        await asyncio.sleep(0.35)


@pytest.mark.parametrize("transport", ["UDP", "TCP"])
async def test_message_trace_file(transport: str, tmp_path: Path) -> None:
    trace = tmp_path / "sip.trace"
    async with (
        running(transports=(transport,), trace_path=trace) as uas,
        running(transports=(transport,)) as uac,
    ):
        req = uac.build_request(
            "OPTIONS",
            uri_of(uas, transport),
            from_="<sip:a@x>;tag=1",
            to="<sip:koe@x>",
            transport=transport,
        )
        assert (await uac.send_request(req)).status == 200
    text = trace.read_text()
    assert "<< " in text
    assert ">> " in text
    assert "OPTIONS sip:koe@" in text
    assert "SIP/2.0 200 OK" in text


async def test_koe_pings_its_own_connections() -> None:
    """With crlf_keepalive, Koe sends CRLFCRLF on connections it opened and gets pongs."""
    async with (
        running(transports=("TCP",)) as server,
        running(transports=("TCP",), crlf_keepalive=0.2) as client,
    ):
        req = client.build_request(
            "OPTIONS",
            uri_of(server, "TCP"),
            from_="<sip:a@x>;tag=1",
            to="<sip:koe@x>",
            transport="TCP",
        )
        assert (await client.send_request(req)).status == 200
        conn = next(iter(client.transport._all))
        await until(lambda: conn.pongs >= 2, limit=3)
