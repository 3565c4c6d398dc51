"""Registrar (RFC 3261 §10.3): bindings with expiry, per-tenant domains, Path, NAT flows."""

from __future__ import annotations

import secrets

from koe.sip.message import SipResponse
from koe.sip.registrar import Registrar
from koe.sip.ua import SipStack
from tests.sip.helpers import SDP, answer_invites, running, until, uri_of


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


DOMAINS = {"a.koe.test": "tenant-a", "b.koe.test": "tenant-b"}


async def _register(
    client: SipStack,
    registrar_stack: SipStack,
    domain: str,
    user: str,
    contacts: list[str],
    *,
    expires: int | None = None,
    cseq: int = 1,
    call_id: str | None = None,
    headers: list[tuple[str, str]] | None = None,
) -> SipResponse:
    extra = list(headers or [])
    if expires is not None:
        extra.append(("Expires", str(expires)))
    extra += [("Contact", c) for c in contacts]
    req = client.build_request(
        "REGISTER",
        f"sip:{domain}",
        from_=f"<sip:{user}@{domain}>;tag={secrets.token_hex(4)}",
        to=f"<sip:{user}@{domain}>",
        call_id=call_id or f"reg-{user}-{domain}",
        cseq=cseq,
        headers=extra,
    )
    from koe.sip.uri import parse_uri

    dest = await client.resolve(parse_uri(uri_of(registrar_stack)))
    return await client.send_request(req, dest)


async def test_bindings_expiry_tenants_and_removal() -> None:
    clock = _Clock()
    registrar = Registrar(DOMAINS.get, clock=clock, min_expires=60)
    async with running(registrar.handle) as koe, running() as phone:
        ok = await _register(
            phone,
            koe,
            "a.koe.test",
            "1001",
            ["<sip:1001@10.0.0.2:5060>;q=0.5", "<sip:1001@10.0.0.3>"],
        )
        assert ok.status == 200
        assert len(ok.contacts) == 2
        assert [b.q for b in registrar.lookup("tenant-a", "sip:1001@a.koe.test")] == [1.0, 0.5]
        assert registrar.lookup("tenant-b", "sip:1001@a.koe.test") == []
        other = await _register(phone, koe, "b.koe.test", "1001", ["<sip:1001@10.0.0.9>"])
        assert other.status == 200
        assert len(registrar.lookup("tenant-b", "sip:1001@b.koe.test")) == 1
        unknown = await _register(phone, koe, "c.koe.test", "1001", ["<sip:x@10.0.0.1>"])
        assert (unknown.status, unknown.reason) == (404, "Domain Not Served")
        brief = await _register(phone, koe, "a.koe.test", "1001", ["<sip:1@h>"], expires=5, cseq=2)
        assert brief.status == 423
        assert brief.headers.get("Min-Expires") == "60"
        stale = await _register(phone, koe, "a.koe.test", "1001", ["<sip:1001@10.0.0.3>"], cseq=1)
        assert stale.status == 500  # CSeq not above the stored one for this Call-ID
        clock.now += 3601
        assert registrar.lookup("tenant-a", "sip:1001@a.koe.test") == []
        await _register(phone, koe, "a.koe.test", "1001", ["<sip:1001@10.0.0.3>"], cseq=3)
        star = await _register(phone, koe, "a.koe.test", "1001", ["*"], expires=0, cseq=4)
        assert star.status == 200
        assert registrar.lookup("tenant-a", "sip:1001@a.koe.test") == []


async def test_path_is_stored_and_returned() -> None:
    registrar = Registrar(DOMAINS.get)
    async with running(registrar.handle) as koe, running() as phone:
        ok = await _register(
            phone,
            koe,
            "a.koe.test",
            "1002",
            ["<sip:1002@10.0.0.4>"],
            headers=[("Path", "<sip:edge.koe.test;lr>"), ("Supported", "path")],
        )
        assert ok.headers.get("Path") == "<sip:edge.koe.test;lr>"
        binding = registrar.lookup("tenant-a", "sip:1002@a.koe.test")[0]
        assert binding.path == ["<sip:edge.koe.test;lr>"]


async def test_call_to_phone_behind_nat_goes_to_its_source_address() -> None:
    """The phone registers a private Contact; Koe calls the address the REGISTER came from."""
    registrar = Registrar(DOMAINS.get, min_expires=1)
    async with running(registrar.handle) as koe, running(answer_invites) as phone:
        await _register(phone, koe, "a.koe.test", "1003", ["<sip:1003@192.168.1.20:5062>"])
        binding = registrar.lookup("tenant-a", "sip:1003@a.koe.test")[0]
        dest = binding.destination()
        assert dest is not None
        assert (dest.host, dest.port) == phone.local_address("UDP")
        call = koe.invite(binding.uri, from_="<sip:koe@a.koe.test>", body=SDP, dest=dest)
        assert (await call.send()).status == 200
        assert call.dialog is not None
        await until(lambda: len(phone.dialogs) == 1)
        await call.dialog.bye()
