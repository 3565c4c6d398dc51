"""pcap → WAV conversion of real rtpengine recordings: each side in its own channel."""

from __future__ import annotations

import asyncio
import itertools
import math
import os
import signal
import socket
import wave
from pathlib import Path

import pytest

from koe.media.process import RtpEngineProcess
from koe.recording import g711
from koe.recording.convert import RecordingError, convert, read_pcap, sdp_ports
from tests.media.rtp import engine_config, media_port, rtp_packet, sdp


def test_g711_known_values() -> None:
    assert g711.ULAW[0xFF] == 0
    assert g711.ULAW[0x00] == -32124
    assert g711.ULAW[0x80] == 32124
    assert g711.ALAW[0xD5] == 8
    assert g711.ALAW[0x55] == -8
    for sample in (-30000, -1000, -1, 0, 1, 1000, 30000):
        decoded = g711.ULAW[g711.encode_ulaw(sample)]
        assert abs(decoded - sample) <= max(16, abs(sample) // 16)


def tone(freq: float, n: int, start: int) -> bytes:
    return bytes(
        g711.encode_ulaw(int(8000 * math.sin(2 * math.pi * freq * (start + i) / 8000)))
        for i in range(n)
    )


def dominant_frequency(samples: list[int]) -> float:
    crossings = sum(1 for a, b in itertools.pairwise(samples) if a < 0 <= b)
    return crossings * 8000 / len(samples)


def _udp() -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    return s


async def _record(tmp: Path, call_id: str, *, kill: bool = False) -> tuple[Path, dict[str, int]]:
    """Record 1 s of a call through a real rtpengine, paced in real time."""
    engine = RtpEngineProcess(engine_config(recording_dir=tmp / "rec"))
    await engine.start()
    caller, agent = _udp(), _udp()
    try:
        offer = await engine.client.offer(
            call_id, "caller", sdp(caller.getsockname()[1]), flags=["record call"]
        )
        answer = await engine.client.answer(
            call_id, "caller", "agent", sdp(agent.getsockname()[1], session=2)
        )
        to_agent, to_caller = media_port(answer["sdp"]), media_port(offer["sdp"])
        ports = {"offer": to_caller, "answer": to_agent}
        loop = asyncio.get_running_loop()
        start = loop.time()
        for i in range(50):  # 1 s each way: 440 Hz caller, 1000 Hz agent from 0.3 s on
            caller.sendto(
                rtp_packet(i, i * 160, 11, tone(440, 160, i * 160)), ("127.0.0.1", to_agent)
            )
            if i >= 15:
                agent.sendto(
                    rtp_packet(i, i * 160, 22, tone(1000, 160, i * 160)), ("127.0.0.1", to_caller)
                )
            await asyncio.sleep(max(0.0, start + (i + 1) * 0.02 - loop.time()))
        await asyncio.sleep(0.2)
        if kill:
            assert engine.pid is not None
            os.kill(engine.pid, signal.SIGKILL)
            await asyncio.sleep(0.2)
        else:
            await engine.client.delete(call_id)
            await asyncio.sleep(0.2)
    finally:
        caller.close()
        agent.close()
        await engine.stop()
    pcap = next((tmp / "rec" / "pcaps").glob(f"{call_id}-*.pcap"))
    if not kill:
        meta = next((tmp / "rec" / "metadata").glob(f"rtpengine-meta-{call_id}-*"))
        assert sdp_ports(meta.read_text()) == ports  # rtpengine's own record agrees
    return pcap, ports


def _channels(path: Path) -> tuple[list[int], list[int]]:
    with wave.open(str(path)) as w:
        assert (w.getnchannels(), w.getframerate(), w.getsampwidth()) == (2, 8000, 2)
        import array

        frames = array.array("h", w.readframes(w.getnframes()))
    return list(frames[0::2]), list(frames[1::2])


async def test_each_side_lands_in_its_own_channel(tmp_path: Path) -> None:
    pcap, ports = await _record(tmp_path, "rec-stereo")
    result = convert(pcap, tmp_path / "out", "call1", ports=ports)
    left, right = _channels(result.stereo)
    assert result.caller_packets == 50
    assert result.agent_packets == 35
    assert 900 <= result.duration_ms <= 1300
    assert dominant_frequency(left[:7000]) == pytest.approx(440, rel=0.05)
    assert dominant_frequency(right[3200:7200]) == pytest.approx(1000, rel=0.05)
    # The agent's first 0.25 s is silence: the legs are aligned by arrival time.
    assert max(abs(s) for s in right[:2000]) < 50
    with wave.open(str(result.mono)) as w:
        assert w.getnchannels() == 1
    assert len(result.sha256) == 64


async def test_recording_survives_a_killed_media_server(tmp_path: Path) -> None:
    pcap, ports = await _record(tmp_path, "rec-killed", kill=True)
    result = convert(pcap, tmp_path / "out", "killed", ports=ports)
    left, right = _channels(result.stereo)
    # What rtpengine had flushed to disk before SIGKILL is converted (its stdio buffer,
    # a few packets, dies with it).
    assert result.caller_packets >= 25
    assert dominant_frequency(left[:3000]) == pytest.approx(440, rel=0.05)
    assert dominant_frequency(right[3200:4800]) == pytest.approx(1000, rel=0.05)


def test_not_a_pcap_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(RecordingError, match="Not a pcap file"):
        read_pcap(b"hello world, definitely not a capture")
    with pytest.raises(RecordingError, match="offer and answer"):
        sdp_ports("SDP mode: offer\n\nv=0\nm=audio 4000 RTP/AVP 0\n")
