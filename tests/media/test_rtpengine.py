"""Koe's ng client against a real rtpengine child: relay, restart, DTMF events."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
from collections.abc import AsyncIterator

import pytest

from koe.media.ng import MediaError
from koe.media.process import RtpEngineProcess
from tests.media.rtp import dtmf_event, engine_config, free_udp_port, media_port, rtp_packet, sdp


@pytest.fixture
async def engine() -> AsyncIterator[RtpEngineProcess]:
    process = RtpEngineProcess(engine_config())
    await process.start()
    try:
        yield process
    finally:
        await process.stop()


def _udp() -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.setblocking(False)
    return s


async def _recv(sock: socket.socket, timeout: float = 2.0) -> bytes:
    loop = asyncio.get_running_loop()
    return await asyncio.wait_for(loop.sock_recv(sock, 2048), timeout)


async def _bridge(
    engine: RtpEngineProcess,
    call_id: str,
    caller: socket.socket,
    callee: socket.socket,
    **options: object,
) -> tuple[int, int]:
    """Offer from caller, answer from callee; returns (port caller sends to, callee sends to)."""
    ng = engine.client
    offer = await ng.offer(call_id, "caller-tag", sdp(caller.getsockname()[1]), **options)
    answer = await ng.answer(
        call_id, "caller-tag", "callee-tag", sdp(callee.getsockname()[1], session=2), **options
    )
    return media_port(answer["sdp"]), media_port(offer["sdp"])


async def test_ping_and_unknown_call_error(engine: RtpEngineProcess) -> None:
    assert await engine.client.ping()
    with pytest.raises(MediaError) as info:
        await engine.client.query("no-such-call")
    assert info.value.code == "media_command_failed"
    assert "Unknown call-id" in info.value.message_en


async def test_audio_is_relayed_both_ways(engine: RtpEngineProcess) -> None:
    caller, callee = _udp(), _udp()
    with caller, callee:
        to_callee, to_caller = await _bridge(engine, "relay-1", caller, callee)
        for seq in range(5):
            caller.sendto(
                rtp_packet(seq, seq * 160, 0x1234, b"\xaa" * 160), ("127.0.0.1", to_callee)
            )
            got = await _recv(callee)
            assert got[12:] == b"\xaa" * 160
            callee.sendto(
                rtp_packet(seq, seq * 160, 0x5678, b"\x55" * 160), ("127.0.0.1", to_caller)
            )
            back = await _recv(caller)
            assert back[12:] == b"\x55" * 160
        stats = await engine.client.query("relay-1")
        assert stats["result"] == "ok"
        assert "relay-1" in await engine.client.list_calls()
        await engine.client.delete("relay-1")
        assert "relay-1" not in await engine.client.list_calls()


async def test_block_media_holds_one_direction(engine: RtpEngineProcess) -> None:
    caller, callee = _udp(), _udp()
    with caller, callee:
        to_callee, _ = await _bridge(engine, "hold-1", caller, callee)
        await engine.client.block_media("hold-1", "caller-tag")
        caller.sendto(rtp_packet(1, 160, 1, b"\x01" * 160), ("127.0.0.1", to_callee))
        with pytest.raises(TimeoutError):
            await _recv(callee, timeout=0.5)
        await engine.client.unblock_media("hold-1", "caller-tag")
        caller.sendto(rtp_packet(2, 320, 1, b"\x02" * 160), ("127.0.0.1", to_callee))
        assert (await _recv(callee))[12:] == b"\x02" * 160
        await engine.client.delete("hold-1")


async def test_child_killed_is_restarted(engine: RtpEngineProcess) -> None:
    pid = engine.pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    for _ in range(100):
        if engine.restarts == 1 and engine.pid not in (None, pid):
            break
        await asyncio.sleep(0.05)
    assert engine.restarts == 1
    assert await engine.client.ping()


async def test_dtmf_from_caller_is_reported() -> None:
    listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    listener.bind(("127.0.0.1", free_udp_port()))
    listener.setblocking(False)
    process = RtpEngineProcess(engine_config(dtmf_log_dest=listener.getsockname()))
    await process.start()
    caller, callee = _udp(), _udp()
    try:
        with caller, callee, listener:
            to_callee, _ = await _bridge(process, "dtmf-1", caller, callee)
            seq, ts = 0, 0
            for _ in range(3):  # a little audio first, so the stream is established
                caller.sendto(rtp_packet(seq, ts, 7, b"\xff" * 160), ("127.0.0.1", to_callee))
                seq, ts = seq + 1, ts + 160
                await asyncio.sleep(0.02)
            for step in range(1, 8):  # digit 5, 7 updates then three end packets
                end = step >= 5
                payload = dtmf_event(5, end, step * 160)
                caller.sendto(
                    rtp_packet(seq, ts, 7, payload, pt=101, marker=step == 1),
                    ("127.0.0.1", to_callee),
                )
                seq += 1
                await asyncio.sleep(0.02)
            report = json.loads(await _recv(listener, timeout=3))
            assert report["callid"] == "dtmf-1"
            assert str(report["event"]) == "5"
            assert report["source_tag"] == "caller-tag"
            await process.client.delete("dtmf-1")
    finally:
        await process.stop()
