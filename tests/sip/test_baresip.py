"""baresip against Koe: register over TLS with digest, receive and place calls, hold, transfer."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from koe.sip.dialog import Dialog, parse_refer_to, sdp_direction, with_direction
from koe.sip.ua import IncomingRequest, SipStack
from tests.sip.helpers import SDP, free_port, running, tls_contexts, until
from tests.sip.peers import Baresip, TestServer

pytestmark = pytest.mark.peers


class _Pbx(TestServer):
    """TestServer plus what a phone does in a dialog: hold re-INVITEs and REFER."""

    def __init__(self) -> None:
        super().__init__(algorithms=("MD5",))
        self.refer_to: list[str] = []
        self.dialogs: list[Dialog] = []

    async def handle(self, inreq: IncomingRequest) -> None:
        await super().handle(inreq)
        if inreq.dialog is not None and inreq.dialog not in self.dialogs:
            self.dialogs.append(inreq.dialog)

    def in_dialog(self, inreq: IncomingRequest) -> None:
        if inreq.method == "REFER":
            self.refer_to.append(str(parse_refer_to(inreq.request).uri))
            inreq.respond(202)
            assert inreq.dialog is not None
            inreq.stack.spawn(inreq.dialog.notify_refer("SIP/2.0 200 OK", final=True))
            return
        super().in_dialog(inreq)


async def _registered_phone(tmp_path: Path, koe: SipStack, pbx: _Pbx, cafile: Path) -> Baresip:
    host, port = koe.local_address("TLS")
    account = (
        f'<sip:1001@koe.test>;auth_pass=pw1001;outbound="sip:{host}:{port};transport=tls"'
        ";regint=60;answermode=auto"
    )
    phone = Baresip(tmp_path, sip_port=free_port(), account=account, cafile=cafile)
    await phone.start(free_port())
    await until(lambda: bool(pbx.registrar.lookup("tenant-1", "sip:1001@koe.test")), limit=10)
    return phone


@contextlib.asynccontextmanager
async def _koe_and_phone(tmp_path: Path) -> AsyncIterator[tuple[SipStack, _Pbx, Baresip]]:
    """Koe listening on TLS and a baresip registered to it with digest."""
    server_ctx, client_ctx = tls_contexts(tmp_path)
    pbx = _Pbx()
    async with running(
        pbx.handle, transports=("TLS",), tls_context=server_ctx, client_ssl_context=client_ctx
    ) as koe:
        phone = await _registered_phone(tmp_path, koe, pbx, tmp_path / "cert.pem")
        try:
            yield koe, pbx, phone
        finally:
            await phone.stop()


async def test_register_tls_receive_call_hold_and_transfer(tmp_path: Path) -> None:
    async with _koe_and_phone(tmp_path) as (koe, pbx, phone):
        binding = pbx.registrar.lookup("tenant-1", "sip:1001@koe.test")[0]
        assert binding.flow is not None
        assert binding.flow.transport == "TLS"
        dest = binding.destination()
        assert dest is not None  # the phone's own TLS connection
        call = koe.invite(binding.uri, from_="<sip:0312345678@koe.test>", body=SDP, dest=dest)
        response = await call.send()
        assert response.status == 200
        assert call.dialog is not None
        call.dialog.handler = pbx.in_dialog
        hold = await call.dialog.reinvite(with_direction(SDP, "sendonly"))
        assert hold.status == 200
        assert sdp_direction(hold.body) == "recvonly"  # baresip accepts being held
        unhold = await call.dialog.reinvite(with_direction(SDP, "sendrecv"))
        assert unhold.status == 200
        assert sdp_direction(unhold.body) == "sendrecv"
        await phone.command("hold")  # and the phone holds Koe
        await until(lambda: pbx.directions[-1:] == ["sendonly"], limit=5)
        await phone.command("resume")
        await until(lambda: pbx.directions[-1:] == ["sendrecv"], limit=5)
        await phone.command("transfer", "sip:1002@koe.test")
        await until(lambda: pbx.refer_to == ["sip:1002@koe.test"], limit=5)
        await until(lambda: not call.dialog or not call.dialog.active, limit=10)


async def test_register_tls_and_place_call(tmp_path: Path) -> None:
    async with _koe_and_phone(tmp_path) as (_koe, pbx, phone):
        await phone.command("dial", "sip:service@koe.test")
        await until(lambda: pbx.calls == 1, limit=10)
        await until(lambda: any(d.acked.done() for d in pbx.dialogs), limit=5)
        dialog = pbx.dialogs[0]
        assert sdp_direction(dialog.remote_sdp) == "sendrecv"
        await phone.command("hangup")
        await until(lambda: not dialog.active, limit=10)
        assert await dialog.terminated == "bye"
