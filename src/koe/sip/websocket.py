"""SIP over WebSocket (RFC 7118), server side, for third-party WebRTC softphones.

The HTTP upgrade and the framing follow RFC 6455 (no extensions); each WebSocket message
carries exactly one SIP message (RFC 7118 §5), so no Content-Length framing is needed.
Only the server side exists: Koe answers phones' WS/WSS connections and reuses them
for requests to those phones; it does not open WebSocket connections itself.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import struct

from koe.sip.errors import SipTransportError
from koe.sip.transport import StreamConnection, TransportLayer

log = logging.getLogger(__name__)

WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 §1.3
OP_CONTINUATION, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
MAX_HANDSHAKE = 8192


def accept_key(key: str) -> str:
    """``Sec-WebSocket-Accept`` for a client's ``Sec-WebSocket-Key`` (RFC 6455 §4.2.2)."""
    digest = hashlib.sha1((key + WS_GUID).encode(), usedforsecurity=False).digest()
    return base64.b64encode(digest).decode()


def encode_frame(opcode: int, payload: bytes, mask: bytes | None = None) -> bytes:
    """One final frame; servers send unmasked frames, clients masked ones (RFC 6455 §5.2)."""
    head = bytes([0x80 | opcode])
    mask_bit = 0x80 if mask is not None else 0
    size = len(payload)
    if size < 126:
        head += bytes([mask_bit | size])
    elif size < 65536:
        head += bytes([mask_bit | 126]) + struct.pack("!H", size)
    else:
        head += bytes([mask_bit | 127]) + struct.pack("!Q", size)
    if mask is None:
        return head + payload
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


class WebSocketConnection(StreamConnection):
    """A WS or WSS connection from a phone: upgrade, then one SIP message per WS message."""

    def __init__(self, layer: TransportLayer, transport_name: str) -> None:
        super().__init__(layer, transport_name, outbound=False)
        self.upgraded = False
        self._fragments = bytearray()

    def data_received(self, data: bytes) -> None:
        """Handshake first, then frames."""
        self.last_activity = self._now()
        self.buffer += data
        if not self.upgraded and not self._handshake():
            return
        while self.buffer and self.transport is not None and not self.transport.is_closing():
            if not self._frame():
                break
        if len(self.buffer) > self.layer.max_message_size + 16:
            log.warning("sip websocket frame over the size limit from %s", self.peer)
            self.close()

    def _now(self) -> float:
        return asyncio.get_running_loop().time()

    def _handshake(self) -> bool:
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(self.buffer) > MAX_HANDSHAKE:
                self._refuse("400 Bad Request")
            return False
        head = bytes(self.buffer[:end]).decode("latin-1")
        del self.buffer[: end + 4]
        lines = head.split("\r\n")
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        protocols = [
            p.strip().lower() for p in headers.get("sec-websocket-protocol", "").split(",")
        ]
        if (
            not lines[0].startswith("GET ")
            or headers.get("upgrade", "").lower() != "websocket"
            or "sec-websocket-key" not in headers
            or headers.get("sec-websocket-version") != "13"
        ):
            self._refuse("400 Bad Request")
            return False
        if "sip" not in protocols:  # RFC 7118 §4.1: the "sip" subprotocol is required
            self._refuse("400 Bad Request")
            return False
        response = (
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Accept: {accept_key(headers['sec-websocket-key'])}\r\n"
            "Sec-WebSocket-Protocol: sip\r\n\r\n"
        )
        assert self.transport is not None
        self.transport.write(response.encode())
        self.upgraded = True
        return True

    def _refuse(self, status: str) -> None:
        if self.transport is not None:
            self.transport.write(f"HTTP/1.1 {status}\r\nContent-Length: 0\r\n\r\n".encode())
        self.close()

    def _frame(self) -> bool:
        buf = self.buffer
        if len(buf) < 2:
            return False
        fin, opcode = buf[0] & 0x80, buf[0] & 0x0F
        masked, size = buf[1] & 0x80, buf[1] & 0x7F
        at = 2
        if size == 126:
            if len(buf) < 4:
                return False
            size, at = struct.unpack("!H", bytes(buf[2:4]))[0], 4
        elif size == 127:
            if len(buf) < 10:
                return False
            size, at = struct.unpack("!Q", bytes(buf[2:10]))[0], 10
        if not masked:  # RFC 6455 §5.1: a client's frames are always masked
            self.close()
            return False
        if size > self.layer.max_message_size:
            log.warning("sip websocket message of %d bytes from %s refused", size, self.peer)
            self.close()
            return False
        if len(buf) < at + 4 + size:
            return False
        mask = bytes(buf[at : at + 4])
        raw = bytes(buf[at + 4 : at + 4 + size])
        del buf[: at + 4 + size]
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(raw))
        if opcode == OP_PING:
            self._write_frame(OP_PONG, payload)
        elif opcode == OP_CLOSE:
            self._write_frame(OP_CLOSE, payload[:2])
            self.close()
            return False
        elif opcode in (OP_TEXT, OP_BINARY, OP_CONTINUATION):
            self._fragments += payload
            if len(self._fragments) > self.layer.max_message_size:
                self.close()
                return False
            if fin:
                message = bytes(self._fragments)
                self._fragments.clear()
                assert self.flow is not None
                if message.strip(b"\r\n"):
                    self.layer._received(message, self.flow, stream=False)
        return True

    def _write_frame(self, opcode: int, payload: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(encode_frame(opcode, payload))

    def send(self, data: bytes) -> None:
        """Send one SIP message as one WebSocket message (text when it is UTF-8)."""
        if not self.upgraded or self.transport is None or self.transport.is_closing():
            raise SipTransportError(f"websocket to {self.peer} is not open")
        self.last_activity = self._now()
        try:
            data.decode("utf-8")
            opcode = OP_TEXT
        except UnicodeDecodeError:
            opcode = OP_BINARY
        self.transport.write(encode_frame(opcode, data))
