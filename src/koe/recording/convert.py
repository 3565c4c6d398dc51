"""rtpengine pcap recordings to WAV: stereo (caller left, agent right) and a mono mix.

rtpengine's pcap method writes every RTP packet it *receives* on a call, with the sender
as source and rtpengine's own port as destination, plus a metadata file holding the SDP
it produced for the offer and for the answer. Packets sent to the port of the answer SDP
come from the offerer (the caller's leg); packets sent to the port of the offer SDP come
from the answerer (the agent's leg). Each stream is placed on the time line by arrival
time of its first packet and by RTP timestamp after that, so legs stay aligned and gaps
become silence. Telephone-events (RFC 4733) are not audio and are left out.
"""

from __future__ import annotations

import array
import hashlib
import re
import struct
import wave
from dataclasses import dataclass, field
from pathlib import Path

from koe.core.errors import KoeError
from koe.recording import g711

RATE = 8000
_PCAP_MAGIC = {
    b"\xd4\xc3\xb2\xa1": ("<", 1e-6),
    b"\xa1\xb2\xc3\xd4": (">", 1e-6),
    b"\x4d\x3c\xb2\xa1": ("<", 1e-9),
    b"\xa1\xb2\x3c\x4d": (">", 1e-9),
}
_LINK_OFFSETS = {1: 14, 101: 0, 113: 16, 228: 0}
CODECS = {0: g711.ULAW, 8: g711.ALAW}
MAX_SECONDS = 6 * 3600


class RecordingError(KoeError):
    """A recording that cannot be converted."""

    status = 422


def _error(code: str, ja: str, en: str) -> RecordingError:
    return RecordingError(code, ja, en)


@dataclass
class Packet:
    """One RTP packet as rtpengine received it."""

    arrival: float
    src: tuple[str, int]
    dst_port: int
    payload_type: int
    seq: int
    timestamp: int
    ssrc: int
    payload: bytes


def read_pcap(data: bytes) -> list[Packet]:
    """The RTP packets of a classic pcap file (Ethernet, raw IP or Linux cooked capture)."""
    if len(data) < 24 or data[:4] not in _PCAP_MAGIC:
        raise _error("recording_not_pcap", "pcap ファイルではありません。", "Not a pcap file.")
    order, unit = _PCAP_MAGIC[data[:4]]
    link = struct.unpack(order + "I", data[20:24])[0]
    if link not in _LINK_OFFSETS:
        raise _error(
            "recording_link_type",
            f"未対応のリンク種別 {link} です。",
            f"Unsupported pcap link type {link}.",
        )
    offset = _LINK_OFFSETS[link]
    packets: list[Packet] = []
    pos = 24
    while pos + 16 <= len(data):
        sec, frac, incl, _orig = struct.unpack(order + "IIII", data[pos : pos + 16])
        frame = data[pos + 16 : pos + 16 + incl]
        pos += 16 + incl
        ip = frame[offset:]
        if len(ip) < 28 or ip[0] >> 4 != 4 or ip[9] != 17:  # IPv4 + UDP only here
            continue
        ihl = (ip[0] & 0x0F) * 4
        udp = ip[ihl:]
        if len(udp) < 8 + 12:
            continue
        sport, dport = struct.unpack("!HH", udp[:4])
        rtp = udp[8:]
        if rtp[0] >> 6 != 2:
            continue
        csrc = (rtp[0] & 0x0F) * 4
        header = 12 + csrc
        if rtp[0] & 0x10 and len(rtp) >= header + 4:  # header extension
            header += 4 + struct.unpack("!H", rtp[header + 2 : header + 4])[0] * 4
        payload = rtp[header:]
        if rtp[0] & 0x20 and payload:  # padding
            payload = payload[: -payload[-1]]
        seq, ts, ssrc = struct.unpack("!HII", rtp[2:12])
        packets.append(
            Packet(
                sec + frac * unit,
                (".".join(map(str, ip[12:16])), sport),
                dport,
                rtp[1] & 0x7F,
                seq,
                ts,
                ssrc,
                payload,
            )
        )
    return packets


_SDP_BLOCK = re.compile(r"SDP mode: (offer|answer)\s*\n(.*?)(?=\n\S[^\n=]*:|\Z)", re.S)


def sdp_ports(metadata: str) -> dict[str, int]:
    """The audio port of rtpengine's offer SDP and answer SDP in a metadata file."""
    ports: dict[str, int] = {}
    for mode, block in _SDP_BLOCK.findall(metadata):
        match = re.search(r"^m=audio (\d+)", block, re.M)
        if match and mode not in ports:
            ports[mode] = int(match.group(1))
    if set(ports) != {"offer", "answer"}:
        raise _error(
            "recording_metadata",
            "メタデータに offer/answer の SDP がありません。",
            "The metadata lacks the offer and answer SDP.",
        )
    return ports


@dataclass
class Track:
    """Decoded samples of one side placed on the call's time line."""

    samples: array.array[int] = field(default_factory=lambda: array.array("h"))

    def place(self, start: int, pcm: array.array[int]) -> None:
        """Write ``pcm`` at sample offset ``start``, growing with silence as needed."""
        end = start + len(pcm)
        if end > MAX_SECONDS * RATE or start < 0:
            return
        if end > len(self.samples):
            self.samples.extend(array.array("h", bytes(2 * (end - len(self.samples)))))
        self.samples[start:end] = pcm


def _track(packets: list[Packet], origin: float) -> Track:
    """Place one direction's packets; a new SSRC re-anchors on its arrival time."""
    track = Track()
    anchors: dict[int, tuple[int, int]] = {}  # ssrc -> (first rtp ts, sample offset)
    for p in sorted(packets, key=lambda p: p.arrival):
        table = CODECS.get(p.payload_type)
        if table is None:
            continue  # telephone-event, comfort noise, unknown codecs
        if p.ssrc not in anchors:
            anchors[p.ssrc] = (p.timestamp, round((p.arrival - origin) * RATE))
        first_ts, offset = anchors[p.ssrc]
        delta = (p.timestamp - first_ts) & 0xFFFFFFFF
        if delta > 0x7FFFFFFF:
            continue  # older than the first packet of its stream
        track.place(offset + delta, g711.decode(p.payload, table))
    return track


@dataclass(frozen=True, slots=True)
class Converted:
    """The files made from one recording."""

    stereo: Path
    mono: Path
    duration_ms: int
    sha256: str
    caller_packets: int
    agent_packets: int


def _write(path: Path, channels: int, frames: bytes) -> None:
    tmp = path.with_suffix(".part")
    with wave.open(str(tmp), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(frames)
    tmp.replace(path)  # readers never see a half-written file


def convert(
    pcap: Path,
    out_dir: Path,
    name: str,
    *,
    ports: dict[str, int] | None = None,
    metadata: Path | None = None,
) -> Converted:
    """Convert one rtpengine pcap recording into ``name``-stereo.wav and ``name``-mono.wav.

    ``ports`` are rtpengine's audio ports of its offer and answer SDP, as call control saw
    them at set-up (so a call cut by a crash, whose metadata file was never written, still
    converts); without them they are read from rtpengine's ``metadata`` file.
    """
    packets = read_pcap(pcap.read_bytes())
    if ports is None:
        if metadata is None:
            raise _error(
                "recording_metadata",
                "SDP のポート情報がありません。",
                "Neither the SDP ports nor the metadata file were given.",
            )
        ports = sdp_ports(metadata.read_text(encoding="utf-8", errors="replace"))
    caller = [p for p in packets if p.dst_port == ports["answer"]]
    agent = [p for p in packets if p.dst_port == ports["offer"]]
    if not caller and not agent:
        raise _error("recording_empty", "録音に音声がありません。", "The recording holds no audio.")
    origin = min(p.arrival for p in caller + agent)
    left, right = _track(caller, origin).samples, _track(agent, origin).samples
    length = max(len(left), len(right))
    for track in (left, right):
        track.extend(array.array("h", bytes(2 * (length - len(track)))))
    stereo = array.array("h", bytes(4 * length))
    stereo[0::2], stereo[1::2] = left, right
    mono = array.array(
        "h", (max(-32768, min(32767, a + b)) for a, b in zip(left, right, strict=True))
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    stereo_path, mono_path = out_dir / f"{name}-stereo.wav", out_dir / f"{name}-mono.wav"
    _write(stereo_path, 2, stereo.tobytes())
    _write(mono_path, 1, mono.tobytes())
    digest = hashlib.sha256(stereo_path.read_bytes()).hexdigest()
    return Converted(stereo_path, mono_path, length * 1000 // RATE, digest, len(caller), len(agent))
