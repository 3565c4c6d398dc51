"""Client of rtpengine's ng control protocol over UDP (cookie + space + bencoded dict).

Requests are retransmitted on an exponential schedule until answered (rtpengine caches
replies by cookie, so a retransmission never runs a command twice); a request that gets
no answer within ``timeout`` raises ``MediaUnavailable``. Replies with
``result: error`` raise ``MediaError`` with rtpengine's reason.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from typing import Any

from koe.core.errors import KoeError
from koe.core.ids import new_token
from koe.media.bencode import BencodeError, decode, encode

log = logging.getLogger(__name__)

RECEIVE_BUFFER = 4 * 1024 * 1024  # big ng replies (query, list) need it
FIRST_RETRY = 0.25


class MediaError(KoeError):
    """rtpengine refused a command."""

    status = 502


class MediaUnavailable(KoeError):
    """rtpengine did not answer in time."""

    status = 503


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, client: NgClient) -> None:
        self.client = client

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        self.client._on_reply(data)

    def error_received(self, exc: Exception) -> None:
        log.debug("ng socket error: %s", exc)


class NgClient:
    """One rtpengine's control channel."""

    def __init__(self, host: str, port: int, *, timeout: float = 2.0) -> None:
        self.address = (host, port)
        self.timeout = timeout
        self._transport: asyncio.DatagramTransport | None = None
        self._pending: dict[bytes, asyncio.Future[dict[str, Any]]] = {}
        self.requests = 0
        self.retransmissions = 0

    def __repr__(self) -> str:
        return f"<NgClient {self.address[0]}:{self.address[1]}>"

    async def start(self) -> None:
        """Open the UDP socket."""
        loop = asyncio.get_running_loop()
        family = socket.AF_INET6 if ":" in self.address[0] else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
        sock.setblocking(False)
        sock.bind(
            ("::1" if family == socket.AF_INET6 else "127.0.0.1", 0)
            if self.address[0] in ("127.0.0.1", "::1")
            else ("", 0)
        )
        transport, _ = await loop.create_datagram_endpoint(lambda: _Protocol(self), sock=sock)
        self._transport = transport

    async def stop(self) -> None:
        """Close the socket; pending requests fail."""
        if self._transport is not None:
            self._transport.close()
            self._transport = None
        for future in self._pending.values():
            if not future.done():
                future.set_exception(self._unavailable("client stopped"))
        self._pending.clear()

    def _unavailable(self, why: str) -> MediaUnavailable:
        return MediaUnavailable(
            "media_unavailable",
            f"メディアサーバー {self.address[0]}:{self.address[1]} が応答しません({why})。",
            f"Media server {self.address[0]}:{self.address[1]} is not answering ({why}).",
        )

    def _on_reply(self, data: bytes) -> None:
        cookie, _, body = data.partition(b" ")
        future = self._pending.pop(cookie, None)
        if future is None or future.done():
            return
        try:
            reply = decode(body)
        except BencodeError as err:
            future.set_exception(err)
            return
        if not isinstance(reply, dict):
            future.set_exception(MediaError("media_bad_reply", "不正な応答です。", "Bad reply."))
            return
        future.set_result(reply)

    async def request(self, command: str, **params: Any) -> dict[str, Any]:
        """Send one command; the reply dict (``result`` ok/pong), or raise."""
        if self._transport is None:
            raise self._unavailable("not started")
        message: dict[str, Any] = {"command": command}
        message.update({k.replace("_", "-"): v for k, v in params.items() if v is not None})
        cookie = new_token(9).encode()
        packet = cookie + b" " + encode(message)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[cookie] = future
        self.requests += 1
        deadline = asyncio.get_running_loop().time() + self.timeout
        wait = FIRST_RETRY
        try:
            while True:
                self._transport.sendto(packet, self.address)
                remaining = deadline - asyncio.get_running_loop().time()
                if remaining <= 0:
                    raise self._unavailable(f"{command} timed out")
                try:
                    reply = await asyncio.wait_for(asyncio.shield(future), min(wait, remaining))
                    break
                except TimeoutError:
                    self.retransmissions += 1
                    wait *= 2
        finally:
            self._pending.pop(cookie, None)
        if reply.get("result") == "error":
            reason = str(reply.get("error-reason", "unknown"))
            raise MediaError(
                "media_command_failed",
                f"メディアサーバーが {command} を拒否しました: {reason}",
                f"Media server refused {command}: {reason}",
                details={"reason": reason},
            )
        return reply

    # ---- the commands Koe uses ----

    async def ping(self) -> bool:
        """True when rtpengine answers pong."""
        return (await self.request("ping")).get("result") == "pong"

    async def offer(
        self, call_id: str, from_tag: str, sdp: bytes, **options: Any
    ) -> dict[str, Any]:
        """Anchor an SDP offer; the reply's ``sdp`` is what to send on."""
        return await self.request("offer", call_id=call_id, from_tag=from_tag, sdp=sdp, **options)

    async def answer(
        self, call_id: str, from_tag: str, to_tag: str, sdp: bytes, **options: Any
    ) -> dict[str, Any]:
        """Anchor the SDP answer."""
        return await self.request(
            "answer", call_id=call_id, from_tag=from_tag, to_tag=to_tag, sdp=sdp, **options
        )

    async def delete(
        self, call_id: str, from_tag: str | None = None, **options: Any
    ) -> dict[str, Any]:
        """Tear a call (or one branch) down at once."""
        return await self.request(
            "delete", call_id=call_id, from_tag=from_tag, delete_delay=0, **options
        )

    async def query(self, call_id: str) -> dict[str, Any]:
        """Statistics and state of a call."""
        return await self.request("query", call_id=call_id)

    async def list_calls(self, limit: int = 1000) -> list[str]:
        """Call-IDs rtpengine holds."""
        reply = await self.request("list", limit=limit)
        return [str(c) for c in reply.get("calls", [])]

    async def play_media(
        self, call_id: str, from_tag: str, file: str, **options: Any
    ) -> dict[str, Any]:
        """Play a file to the participant ``from_tag``; the reply has its ``duration`` (ms)."""
        return await self.request(
            "play media", call_id=call_id, from_tag=from_tag, file=file, **options
        )

    async def stop_media(self, call_id: str, from_tag: str) -> dict[str, Any]:
        """Stop what plays to ``from_tag``."""
        return await self.request("stop media", call_id=call_id, from_tag=from_tag)

    async def block_media(self, call_id: str, from_tag: str) -> dict[str, Any]:
        """Stop relaying ``from_tag``'s media (hold)."""
        return await self.request("block media", call_id=call_id, from_tag=from_tag)

    async def unblock_media(self, call_id: str, from_tag: str) -> dict[str, Any]:
        """Relay ``from_tag``'s media again."""
        return await self.request("unblock media", call_id=call_id, from_tag=from_tag)

    async def play_dtmf(
        self, call_id: str, from_tag: str, code: str, duration_ms: int = 100
    ) -> dict[str, Any]:
        """Inject a DTMF digit towards ``from_tag`` (needs ``inject DTMF`` at offer/answer)."""
        return await self.request(
            "play DTMF", call_id=call_id, from_tag=from_tag, code=code, duration=duration_ms
        )

    async def start_recording(self, call_id: str, **options: Any) -> dict[str, Any]:
        """Start recording the call (pcap method here)."""
        return await self.request("start recording", call_id=call_id, **options)

    async def stop_recording(self, call_id: str) -> dict[str, Any]:
        """Stop recording the call."""
        return await self.request("stop recording", call_id=call_id)
