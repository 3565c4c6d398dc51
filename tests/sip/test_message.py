"""Message parse/serialize (RFC 3261 §7, §20, §25): round trips, accessors, precise errors."""

from __future__ import annotations

import pytest

from koe.sip.errors import SipParseError
from koe.sip.headers import parse_name_addr, parse_via_list
from koe.sip.message import SipMessage, SipRequest, SipResponse
from koe.sip.uri import AbsoluteUri, SipUri, TelUri, parse_uri
from tests.sip.conftest import CAPTURES


def _req(text: str) -> SipRequest:
    msg = SipMessage.parse(text.replace("\n", "\r\n").encode())
    assert isinstance(msg, SipRequest)
    return msg


BASIC = """OPTIONS sip:koe@127.0.0.1 SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK1;rport
f: "Alice \\"A\\"" <sip:alice@example.com>;tag=a1
t: sip:koe@example.com
i: abc@1
CSeq: 7 OPTIONS
Max-Forwards: 70
l: 0

"""


@pytest.mark.parametrize("path", sorted(CAPTURES.glob("*.sip")), ids=lambda p: p.stem)
def test_captured_messages_round_trip(path: object) -> None:
    data = path.read_bytes()  # type: ignore[attr-defined]
    msg = SipMessage.parse(data)
    msg.validate()
    assert bytes(msg) == data


def test_compact_forms_and_accessors() -> None:
    msg = _req(BASIC)
    assert msg.method == "OPTIONS"
    assert msg.call_id == "abc@1"
    assert msg.cseq.seq == 7
    assert msg.cseq.method == "OPTIONS"
    assert msg.from_.display == '"Alice \\"A\\""'
    assert msg.from_.tag == "a1"
    assert msg.to.tag is None
    assert isinstance(msg.to.uri, SipUri)
    assert msg.to.uri.user == "koe"
    assert msg.top_via.branch == "z9hG4bK1"
    assert msg.top_via.wants_rport
    assert msg.top_via.port == 5061
    assert msg.max_forwards == 70
    assert msg.headers.get("Content-Length") == "0"


def test_folding_is_undone_but_raw_bytes_kept() -> None:
    text = "OPTIONS sip:a@b SIP/2.0\nSubject: one\n two\n\tthree\nl: 0\n\n"
    msg = _req(text)
    assert msg.headers.get("subject") == "one two three"
    assert bytes(msg) == text.replace("\n", "\r\n").encode()


def test_multi_value_headers_across_lines() -> None:
    text = (
        "INVITE sip:a@b SIP/2.0\n"
        "Via: SIP/2.0/UDP h1;branch=z9hG4bK1, SIP/2.0/TCP h2:5070;branch=x\n"
        "v: SIP/2.0/TLS [2001:db8::1]:5061;branch=y\n"
        'Route: <sip:p1;lr>, "x,y" <sip:p2;lr>\nRoute: <sip:p3;lr>\nl: 0\n\n'
    )
    msg = _req(text)
    vias = msg.vias
    assert [v.transport for v in vias] == ["UDP", "TCP", "TLS"]
    assert vias[2].host == "[2001:db8::1]"
    assert vias[2].port == 5061
    assert [str(r.uri) for r in msg.routes] == ["sip:p1;lr", "sip:p2;lr", "sip:p3;lr"]
    assert msg.headers.values("route")[1] == '"x,y" <sip:p2;lr>'


def test_modify_and_serialize() -> None:
    msg = _req(BASIC)
    msg.headers.set("Max-Forwards", "69")
    msg.headers.add("Via", "SIP/2.0/UDP proxy;branch=z9hG4bKp", first=True)
    msg.set_body(b"hello", "text/plain")
    again = SipMessage.parse(bytes(msg))
    assert again.top_via.host == "proxy"
    assert again.max_forwards == 69
    assert again.body == b"hello"
    assert again.content_type == "text/plain"


def test_response_parse_and_empty_reason() -> None:
    msg = SipMessage.parse(b"SIP/2.0 100 \r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nl: 0\r\n\r\n")
    assert isinstance(msg, SipResponse)
    assert msg.status == 100
    assert msg.reason == ""
    assert repr(msg) == "<SipResponse 100 >"


def test_body_cut_at_content_length_on_datagrams() -> None:
    msg = SipMessage.parse(b"OPTIONS sip:a@b SIP/2.0\r\nl: 3\r\n\r\nabcdef")
    assert msg.body == b"abc"


def test_missing_content_length_on_stream_fails() -> None:
    with pytest.raises(SipParseError, match="Content-Length is mandatory on stream transports"):
        SipMessage.parse(b"OPTIONS sip:a@b SIP/2.0\r\nCSeq: 1 OPTIONS\r\n\r\n", stream=True)


@pytest.mark.parametrize(
    ("data", "message", "status"),
    [
        (b"OPTIONS sip:a@b SIP/3.0\r\nl: 0\r\n\r\n", "unsupported SIP version 'SIP/3.0'", 505),
        (b"OPTIONS  sip:a@b SIP/2.0\r\n\r\n", "malformed request line", 400),
        (b"OPTIONS sip:a@b SIP/2.0\r\nNoColon\r\n\r\n", "header line without a colon", 400),
        (b"OPTIONS sip:a@b SIP/2.0\r\nl: 10\r\n\r\nabc", "Content-Length 10 exceeds the 3", 400),
        (b"OPTIONS sip:a@b SIP/2.0\r\nl: 1\r\nl: 2\r\n\r\nab", "conflicting Content-Length", 400),
        (b"SIP/2.0 2000 OK\r\n\r\n", "malformed status code '2000'", 400),
        (b"O@S sip:a@b SIP/2.0\r\n\r\n", "malformed method 'O@S'", 400),
        (b"\r\n\r\n", "empty message", 400),
    ],
)
def test_parse_errors_are_precise(data: bytes, message: str, status: int) -> None:
    with pytest.raises(SipParseError) as info:
        SipMessage.parse(data)
    assert message in info.value.reason
    assert info.value.status_code == status
    assert info.value.code == "sip_parse_error"


def test_validate_errors_are_precise() -> None:
    msg = _req("OPTIONS sip:a@b SIP/2.0\nVia: SIP/2.0/UDP h\nCall-ID: x\nl: 0\n\n")
    with pytest.raises(SipParseError, match="missing From header"):
        msg.validate()
    msg = _req(BASIC.replace("CSeq: 7 OPTIONS", "CSeq: 4294967296 OPTIONS"))
    with pytest.raises(SipParseError, match=r"CSeq number 4294967296 is larger than 2\*\*32-1"):
        msg.validate()


def test_uris() -> None:
    uri = parse_uri("sips:alice:secret@[2001:db8::1]:5061;transport=tcp;lr?Subject=hi&X=y")
    assert isinstance(uri, SipUri)
    assert (uri.scheme, uri.user, uri.password, uri.host, uri.port) == (
        "sips",
        "alice",
        "secret",
        "[2001:db8::1]",
        5061,
    )
    assert uri.transport == "tcp"
    assert uri.has_param("lr")
    assert uri.param("lr") is None
    assert uri.headers == (("Subject", "hi"), ("X", "y"))
    assert str(uri) == "sips:alice:secret@[2001:db8::1]:5061;transport=tcp;lr?Subject=hi&X=y"
    semi = parse_uri("sip:user;par=u%40example.net@example.com")
    assert isinstance(semi, SipUri)
    assert semi.user == "user;par=u%40example.net"
    tel = parse_uri("tel:+81-3-1234-5678;phone-context=+81")
    assert isinstance(tel, TelUri)
    assert tel.param("phone-context") == "+81"
    assert isinstance(parse_uri("urn:service:sos"), AbsoluteUri)
    with pytest.raises(SipParseError, match="malformed port in URI host 'h:99999'"):
        parse_uri("sip:h:99999")
    with pytest.raises(SipParseError, match="illegal character in URI"):
        parse_uri("sip:a b@h")


def test_name_addr_forms() -> None:
    plain = parse_name_addr("sip:+19725552222@gw1.example.net;unknownparam")
    assert not plain.bracketed
    assert plain.param("unknownparam") is None
    assert isinstance(plain.uri, SipUri)
    assert not plain.uri.params
    bracketed = parse_name_addr("<sip:u@h;unknownparam>;expires=60")
    assert isinstance(bracketed.uri, SipUri)
    assert bracketed.uri.has_param("unknownparam")
    assert bracketed.param("expires") == "60"
    assert parse_name_addr("caller<sip:c@example.com>;tag=3").display == "caller"
    with pytest.raises(SipParseError, match="malformed To"):
        parse_name_addr('"open <sip:a@b>', "To")


def test_via_parsing_rejects_empty_params() -> None:
    with pytest.raises(SipParseError, match="malformed parameter in Via"):
        parse_via_list("SIP/2.0/UDP 192.0.2.15;;,;,,")
    via = parse_via_list("SIP / 2.0 / udp host ; branch = z9hG4bKx ; received=1.2.3.4")[0]
    assert via.transport == "UDP"
    assert via.branch == "z9hG4bKx"
    assert via.received == "1.2.3.4"
    assert via.port is None
