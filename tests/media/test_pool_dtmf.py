"""Engine pool (health checks with real rtpengines) and DTMF de-duplication."""

from __future__ import annotations

import asyncio
import json

import pytest

from koe.core.errors import KoeError
from koe.media.dtmf import DtmfDeduplicator, DtmfDigit, DtmfListener, parse_report
from koe.media.ng import NgClient
from koe.media.pool import EnginePool
from koe.media.process import RtpEngineProcess
from tests.media.rtp import engine_config, free_udp_port


async def test_pool_spreads_calls_and_avoids_a_dead_engine() -> None:
    engines = [RtpEngineProcess(engine_config()), RtpEngineProcess(engine_config())]
    for e in engines:
        await e.start()
    dead_port = free_udp_port()  # nothing answers there
    clients = [NgClient("127.0.0.1", e.config.ng_port, timeout=0.3) for e in engines]
    clients.append(NgClient("127.0.0.1", dead_port, timeout=0.3))
    pool = EnginePool(clients, interval=60, down_after=1)
    try:
        await pool.start()
        assert [m.up for m in pool.members] == [True, True, False]
        chosen = [pool.engine_for(f"call-{i}") for i in range(4)]
        assert {c.address[1] for c in chosen} == {e.config.ng_port for e in engines}
        assert pool.engine_for("call-0") is chosen[0]  # a call keeps its engine
        await engines[0].stop()
        await pool.check_all()
        assert pool.members[0].up is False
        assert pool.engine_for("call-new").address[1] == engines[1].config.ng_port
        await engines[1].stop()
        await pool.check_all()
        with pytest.raises(KoeError, match="No media server"):
            pool.engine_for("call-none")
    finally:
        await pool.stop()
        for e in engines:
            await e.stop()


def _digit(d: str, at: float, source: str) -> DtmfDigit:
    return DtmfDigit("c1", "caller", d, at, source)


def test_same_key_from_two_sources_counts_once() -> None:
    dedup = DtmfDeduplicator(window=0.3)
    assert dedup.accept(_digit("5", 1.00, "rfc4733"))
    assert not dedup.accept(_digit("5", 1.10, "info"))  # the same press, signalled twice
    assert dedup.accept(_digit("5", 1.50, "rfc4733"))  # a second press
    assert dedup.accept(_digit("5", 1.55, "rfc4733"))  # same source: a real repeat
    assert dedup.accept(_digit("6", 1.56, "info"))


def test_parse_report_reads_rtpengine_json_and_rejects_junk() -> None:
    data = json.dumps({"callid": "x", "source_tag": "t", "event": 11}).encode()
    digit = parse_report(data, 2.0)
    assert digit is not None
    assert (digit.digit, digit.call_id, digit.tag) == ("#", "x", "t")
    assert parse_report(b"not json", 0) is None
    assert parse_report(json.dumps({"callid": "x", "event": 99}).encode(), 0) is None


async def test_listener_delivers_digits_and_counts_malformed() -> None:
    got: list[DtmfDigit] = []
    listener = DtmfListener("127.0.0.1", 0, got.append)
    await listener.start()
    try:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            asyncio.DatagramProtocol, remote_addr=listener.bound
        )
        transport.sendto(json.dumps({"callid": "c", "source_tag": "a", "event": 1}).encode())
        transport.sendto(b"{broken")
        for _ in range(50):
            if got and listener.malformed:
                break
            await asyncio.sleep(0.01)
        transport.close()
        assert [d.digit for d in got] == ["1"]
        assert listener.malformed == 1
    finally:
        await listener.stop()
