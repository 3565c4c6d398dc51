"""Digest both ways (RFC 2617, RFC 8760): MD5 and SHA-256, qop=auth and none, expiry, replay."""

from __future__ import annotations

import pytest

from koe.sip.auth import (
    Credentials,
    DigestServer,
    answer_challenge,
    digest_response,
    parse_auth_header,
    trusted_source,
)
from koe.sip.errors import SipParseError
from tests.sip.helpers import running, uri_of
from tests.sip.peers import TestServer


def test_rfc2617_example_response() -> None:
    # RFC 2617 §3.5 (HTTP example), qop=auth, MD5.
    response = digest_response(
        algorithm="MD5",
        username="Mufasa",
        realm="testrealm@host.com",
        password="Circle Of Life",
        method="GET",
        uri="/dir/index.html",
        nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093",
        qop="auth",
        nc="00000001",
        cnonce="0a4f113b",
    )
    assert response == "6629fae49393a05397450978507c4ef1"


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize("algorithm", ["MD5", "SHA-256"])
@pytest.mark.parametrize("qop", [True, False])
def test_server_accepts_answer_then_refuses_replay(algorithm: str, qop: bool) -> None:
    clock = _Clock()
    server = DigestServer(
        "koe.test", lambda r, u: "pw", algorithms=(algorithm,), qop=qop, clock=clock
    )
    challenge = server.challenges()[0]
    answer = answer_challenge(challenge, Credentials("1001", "pw"), "REGISTER", "sip:koe.test")
    assert server.check(answer, "REGISTER").ok
    replay = server.check(answer, "REGISTER")
    assert replay.ok is (not qop)  # with qop the nonce count must grow (replay protection)
    if qop:
        assert replay.reason == "replayed nonce count"
    wrong = answer_challenge(challenge, Credentials("1001", "nope"), "REGISTER", "sip:koe.test")
    assert server.check(wrong, "REGISTER").reason == "wrong password"
    clock.now += 301
    fresh = answer_challenge(challenge, Credentials("1001", "pw"), "REGISTER", "sip:koe.test", nc=2)
    expired = server.check(fresh, "REGISTER")
    assert expired.stale
    assert "stale=TRUE" in server.challenges(stale=True)[0]


def test_forged_nonce_and_unknown_scheme() -> None:
    server = DigestServer("koe.test", lambda r, u: "pw")
    forged = 'Digest username="1001", realm="koe.test", nonce="bm9wZQ==", uri="sip:x", response="0"'
    assert server.check(forged, "REGISTER").reason == "unknown nonce"
    assert server.check("Basic dXNlcjpwdw==", "REGISTER").reason == "unsupported scheme Basic"
    with pytest.raises(SipParseError, match="unsupported authentication scheme 'Basic'"):
        answer_challenge('Basic realm="x"', Credentials("a", "b"), "INVITE", "sip:x")


def test_parse_auth_header_with_quoted_commas() -> None:
    scheme, params = parse_auth_header('Digest realm="a,b", nonce="n\\"x", qop="auth,auth-int"')
    assert scheme == "Digest"
    assert params == {"realm": "a,b", "nonce": 'n"x', "qop": "auth,auth-int"}


async def test_client_answers_401_and_407_once() -> None:
    server = TestServer(algorithms=("SHA-256", "MD5"))
    async with running(server.handle) as koe, running() as client:
        register = client.build_request(
            "REGISTER",
            "sip:koe.test",
            from_="<sip:1001@koe.test>;tag=r1",
            to="<sip:1001@koe.test>",
            contact=client.contact_for(None),
        )
        dest = await client.resolve(client_uri(koe))
        ok = await client.send_request(register, dest, credentials=Credentials("1001", "pw1001"))
        assert ok.status == 200
        assert server.registrar.lookup("tenant-1", "sip:1001@koe.test")
        bad = await client.send_request(
            client.build_request(
                "REGISTER",
                "sip:koe.test",
                from_="<sip:1001@koe.test>;tag=r2",
                to="<sip:1001@koe.test>",
            ),
            dest,
            credentials=Credentials("1001", "wrong"),
        )
        assert bad.status == 401  # one retry, no loop
        assert koe.counters.messages_in["REGISTER"] == 4
        call = client.invite(
            uri_of(koe, user="auth"),
            from_="<sip:1001@koe.test>",
            credentials=Credentials("sipp", "secret"),
        )
        assert (await call.send()).status == 200
        assert call.dialog is not None
        await call.dialog.bye()


def client_uri(stack):  # type: ignore[no-untyped-def]
    from koe.sip.uri import parse_uri

    return parse_uri(uri_of(stack))


def test_trunks_trusted_by_source_address() -> None:
    networks = ["203.0.113.0/28", "2001:db8:5::/48"]
    assert trusted_source("203.0.113.9", networks)
    assert trusted_source("[2001:db8:5::1]", networks)
    assert not trusted_source("203.0.113.99", networks)
    assert not trusted_source("not-an-ip", networks)
