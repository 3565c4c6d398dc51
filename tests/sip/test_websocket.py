"""SIP over WebSocket (RFC 7118): a minimal RFC 6455 client registers and is called back."""

from __future__ import annotations

import asyncio
import base64
import os
import struct

from koe.sip.message import SipMessage, SipRequest, SipResponse
from koe.sip.registrar import Registrar
from koe.sip.websocket import OP_PING, OP_PONG, OP_TEXT, accept_key, encode_frame
from tests.sip.helpers import SDP, running, until


class WsPhone:
    """A WebSocket SIP client speaking RFC 6455 by hand (masked frames)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def connect(cls, host: str, port: int, protocol: str = "sip") -> tuple[WsPhone, str]:
        reader, writer = await asyncio.open_connection(host, port)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(
            (
                f"GET / HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                f"Sec-WebSocket-Protocol: {protocol}\r\nSec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        head = (await reader.readuntil(b"\r\n\r\n")).decode()
        assert head.startswith("HTTP/1.1 101") or protocol != "sip", head
        if head.startswith("HTTP/1.1 101"):
            assert f"Sec-WebSocket-Accept: {accept_key(key)}" in head
        return cls(reader, writer), head

    def send(self, data: bytes, opcode: int = OP_TEXT) -> None:
        self.writer.write(encode_frame(opcode, data, mask=os.urandom(4)))

    async def receive(self) -> tuple[int, bytes]:
        first = await self.reader.readexactly(2)
        size = first[1] & 0x7F
        if size == 126:
            size = struct.unpack("!H", await self.reader.readexactly(2))[0]
        elif size == 127:
            size = struct.unpack("!Q", await self.reader.readexactly(8))[0]
        return first[0] & 0x0F, await self.reader.readexactly(size)


async def test_register_over_websocket_and_get_called_back() -> None:
    registrar = Registrar(lambda domain: "tenant-1")
    async with running(registrar.handle, transports=("WS",)) as koe:
        host, port = koe.local_address("WS")
        phone, _ = await WsPhone.connect(host, port)
        phone.send(
            b"REGISTER sip:koe.test SIP/2.0\r\n"
            b"Via: SIP/2.0/WS df7jal23ls0d.invalid;branch=z9hG4bKasudf\r\n"
            b"From: <sip:1001@koe.test>;tag=ws1\r\nTo: <sip:1001@koe.test>\r\n"
            b"Call-ID: ws-reg-1\r\nCSeq: 1 REGISTER\r\nMax-Forwards: 70\r\n"
            b"Contact: <sip:1001@df7jal23ls0d.invalid;transport=ws>\r\n\r\n"  # no Content-Length
        )
        opcode, data = await phone.receive()
        response = SipMessage.parse(data)
        assert opcode == OP_TEXT
        assert isinstance(response, SipResponse)
        assert response.status == 200
        assert "received=127.0.0.1" in (response.headers.get("Via") or "")
        binding = registrar.lookup("tenant-1", "sip:1001@koe.test")[0]
        dest = binding.destination()
        assert dest is not None
        assert dest.transport == "WS"
        call = koe.invite(binding.uri, from_="<sip:koe@koe.test>", body=SDP, dest=dest)
        answer = asyncio.ensure_future(call.send())
        _, data = await phone.receive()
        invite = SipMessage.parse(data)
        assert isinstance(invite, SipRequest)
        assert invite.method == "INVITE"
        assert invite.top_via.transport == "WS"
        ok = SipResponse(200)
        for name in ("via", "from", "call-id", "cseq"):
            ok.headers.add(name, invite.headers.get(name) or "")
        ok.headers.add("To", f"{invite.headers.get('to')};tag=wsphone")
        ok.headers.add("Contact", "<sip:1001@df7jal23ls0d.invalid;transport=ws>")
        ok.set_body(SDP, "application/sdp")
        phone.send(bytes(ok))
        assert (await answer).status == 200
        _, data = await phone.receive()
        ack = SipMessage.parse(data)
        assert isinstance(ack, SipRequest)
        assert ack.method == "ACK"
        phone.send(b"hello", OP_PING)
        assert await phone.receive() == (OP_PONG, b"hello")
        phone.writer.close()
        assert call.dialog is not None
        call.dialog.terminate("test over")
        await until(lambda: not koe.transport._all)


async def test_websocket_without_sip_subprotocol_is_refused() -> None:
    async with running(transports=("WS",)) as koe:
        host, port = koe.local_address("WS")
        phone, head = await WsPhone.connect(host, port, protocol="chat")
        assert head.startswith("HTTP/1.1 400")
        phone.writer.close()
