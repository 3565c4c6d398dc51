"""A Koe stack run inside a network namespace by test_nat.py: the server or a phone.

Usage: ``python -m tests.sip.nat_agent server HOST CERTDIR`` or
``python -m tests.sip.nat_agent phone HOST SERVER TRANSPORT CERTDIR``. It talks to the
test over stdin/stdout lines (``READY``, ``REGISTERED``, ``call NAME`` → ``CALL 200``).
"""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path

from koe.sip.auth import Credentials
from koe.sip.registrar import Registrar
from koe.sip.trunk import OptionsKeepalive
from koe.sip.ua import IncomingRequest, SipConfig, SipStack
from tests.sip.helpers import SDP, tls_contexts
from tests.sip.peers import TestServer

KEEPALIVE_INTERVAL = 1.0  # NAT keep-alive; the test's NAT forgets idle UDP mappings after 3 s


def say(text: str) -> None:
    """One line to the test."""
    print(text, flush=True)


async def lines() -> asyncio.StreamReader:
    """stdin as an asyncio stream."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    return reader


async def server(host: str, certdir: Path) -> None:
    """Registrar + NAT keep-alive; on ``call USER`` it calls that user's binding."""
    server_ctx, _ = tls_contexts(certdir)
    pbx = TestServer()
    registrar: Registrar = pbx.registrar
    config = SipConfig(listen=[("UDP", host, 5060), ("TLS", host, 5061)], tls_context=server_ctx)
    stack = SipStack(config, pbx.handle)
    await stack.start()
    keepalive = OptionsKeepalive(stack, interval=KEEPALIVE_INTERVAL, failures_to_down=3)

    def watch(tenant: str, aor: str, bindings: list) -> None:  # type: ignore[type-arg]
        for b in bindings:
            if b.flow is not None and b.flow.transport == "UDP":
                keepalive.watch(aor, str(b.uri), dest=b.destination())

    registrar.on_change = watch
    await keepalive.start()
    say("READY")
    reader = await lines()
    try:
        while line := (await reader.readline()).decode().strip():
            user = line.split()[1]
            binding = registrar.lookup("tenant-1", f"sip:{user}@koe.test")[0]
            call = stack.invite(
                binding.uri, from_="<sip:0312345678@koe.test>", body=SDP, dest=binding.destination()
            )
            response = await call.send()
            say(f"CALL {response.status} {binding.flow.transport if binding.flow else '-'}")
            if call.dialog is not None:
                await call.dialog.bye()
    finally:
        await keepalive.stop()
        await stack.stop()


async def phone(host: str, server_host: str, transport: str, certdir: Path) -> None:
    """Register 1001 (UDP) or 1002 (TLS) and answer calls."""
    server_ctx, client_ctx = tls_contexts(certdir)
    user = "1001" if transport == "UDP" else "1002"
    config = SipConfig(
        listen=[(transport, host, 5062)],
        tls_context=server_ctx,
        client_ssl_context=client_ctx,
        contact_user=user,
    )
    calls: list[str] = []

    def answer(inreq: IncomingRequest) -> None:
        if inreq.method == "INVITE":
            calls.append(inreq.request.call_id)
            inreq.respond(200, body=SDP)
        else:
            inreq.stack.default_handler(inreq)

    stack = SipStack(config, answer)
    await stack.start()
    try:
        port = 5060 if transport == "UDP" else 5061
        suffix = "" if transport == "UDP" else ";transport=tls"
        registrar_uri = f"sip:{server_host}:{port}{suffix}"
        from koe.sip.uri import parse_uri

        dest = await stack.resolve(parse_uri(registrar_uri))
        request = stack.build_request(
            "REGISTER",
            "sip:koe.test",
            from_=f"<sip:{user}@koe.test>;tag=p{user}",
            to=f"<sip:{user}@koe.test>",
            transport=transport,
            dest_host=server_host,
            contact=stack.contact_for(None, transport, server_host),
            headers=[("Expires", "3600")],
        )
        response = await stack.send_request(
            request, dest, credentials=Credentials(user, f"pw{user}")
        )
        say(f"REGISTERED {response.status}")
        reader = await lines()
        await reader.readline()  # the test says when to stop
        say(f"CALLS {len(calls)}")
    finally:
        await stack.stop()


def main() -> None:
    """Entry point."""
    role = sys.argv[1]
    logging.basicConfig(level=logging.INFO, format=f"{role} %(name)s %(message)s")
    if role == "server":
        asyncio.run(server(sys.argv[2], Path(sys.argv[3])))
    else:
        asyncio.run(phone(sys.argv[2], sys.argv[3], sys.argv[4], Path(sys.argv[5])))


if __name__ == "__main__":
    main()
