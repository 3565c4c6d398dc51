"""Helpers for SIP tests: stacks on loopback with fast timers, a tiny UAS, polling."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
import ssl
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from koe.sip.transaction import Timers
from koe.sip.ua import IncomingRequest, RequestHandler, SipConfig, SipStack

FAST = Timers(t1=0.05, t2=0.4, t4=0.5)
NAT_SERVER = "10.77.1.1"  # the Koe server's address in test_nat.py's namespaces
SDP = (
    b"v=0\r\no=koe 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    b"m=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
)


def free_port(host: str = "127.0.0.1") -> int:
    """A port free now for both UDP and TCP on loopback (for peers run as subprocesses)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    for _ in range(50):
        with socket.socket(family, socket.SOCK_DGRAM) as udp:
            udp.bind((host, 0))
            port = int(udp.getsockname()[1])
            with socket.socket(family, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind((host, port))
                except OSError:
                    continue
                return port
    raise RuntimeError("no free port")


@contextlib.asynccontextmanager
async def running(
    handler: RequestHandler | None = None,
    *,
    transports: tuple[str, ...] = ("UDP",),
    host: str = "127.0.0.1",
    timers: Timers = FAST,
    **config: Any,
) -> AsyncIterator[SipStack]:
    """A started stack listening on ``transports`` at ``host`` (ephemeral ports); stopped after."""
    listen = [(t, host, 0) for t in transports]
    stack = SipStack(SipConfig(listen=listen, timers=timers, **config), handler)
    await stack.start()
    try:
        yield stack
    finally:
        await stack.stop()


def uri_of(stack: SipStack, transport: str = "UDP", user: str = "koe") -> str:
    """A SIP URI reaching ``stack`` over ``transport``."""
    host, port = stack.local_address(transport)
    suffix = "" if transport == "UDP" else f";transport={transport.lower()}"
    scheme = "sips" if transport == "TLS" else "sip"
    return f"{scheme}:{user}@{host}:{port}{suffix}"


async def answer_invites(inreq: IncomingRequest) -> None:
    """A UAS handler: 180, then 200 with SDP; OPTIONS 200; others via the default."""
    if inreq.method == "INVITE":
        inreq.respond(180)
        inreq.respond(200, body=SDP)
    else:
        inreq.stack.default_handler(inreq)


async def until(predicate: Callable[[], bool], limit: float = 5.0) -> None:
    """Poll ``predicate`` until true (bounded)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + limit
    while not predicate():
        if loop.time() > end:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.01)


def tls_contexts(folder: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A self-signed certificate for loopback and the NAT test hosts: (server, client) contexts.

    The files in ``folder`` are reused when present, so processes can share one certificate.
    """
    cert_path = folder / "cert.pem"
    key_path = folder / "key.pem"
    if not cert_path.exists():
        _write_certificate(cert_path, key_path)
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert_path, key_path)
    client = ssl.create_default_context(cafile=str(cert_path))
    return server, client


def _write_certificate(cert_path: Path, key_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "koe-test")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName("localhost"),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                    x509.IPAddress(ipaddress.ip_address("::1")),
                    x509.IPAddress(ipaddress.ip_address(NAT_SERVER)),
                ]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
