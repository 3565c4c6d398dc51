"""The shipped prompt set and validation of tenants' uploads."""

from __future__ import annotations

import io
import wave
from pathlib import Path

import pytest

from koe.core.errors import ValidationFailed
from koe.media.prompts import (
    CATALOG,
    LANGUAGES,
    MUSIC_ON_HOLD,
    RATES,
    PromptLibrary,
    default_path,
    validate_wav,
)


def _wav(rate: int = 8000, seconds: float = 1.0, channels: int = 1, width: int = 2) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(b"\x01\x00" * int(rate * seconds) * channels * (width // 2 or 1))
    return buf.getvalue()


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("rate", RATES)
def test_every_catalog_prompt_ships_in_both_languages_and_rates(language: str, rate: int) -> None:
    for prompt_id in CATALOG:
        info = validate_wav(default_path(prompt_id, language, rate).read_bytes())
        assert info.rate == rate
        assert 500 <= info.duration_ms <= 20_000, prompt_id
    moh = validate_wav(default_path(MUSIC_ON_HOLD, language, rate).read_bytes())
    assert moh.duration_ms == 8000


def test_upload_overrides_the_default_for_that_tenant_only(tmp_path: Path) -> None:
    library = PromptLibrary(tmp_path)
    info = library.upload("tenant-a", "welcome", "ja", _wav(16000, 2.5))
    assert (info.rate, info.duration_ms) == (16000, 2500)
    assert (
        library.path("tenant-a", "welcome", "ja").parent == tmp_path / "prompts" / "tenant-a" / "ja"
    )
    assert library.path("tenant-b", "welcome", "ja") == default_path("welcome", "ja")


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"RIFF\x00\x00not a wave", "prompt_not_wav"),
        (_wav(44100), "prompt_rate"),
        (_wav(8000, channels=2), "prompt_format"),
        (_wav(8000, seconds=301), "prompt_length"),
        (b"\x00" * (10 * 1024 * 1024 + 1), "prompt_too_large"),
    ],
)
def test_bad_uploads_are_refused_with_a_code(tmp_path: Path, data: bytes, code: str) -> None:
    with pytest.raises(ValidationFailed) as info:
        PromptLibrary(tmp_path).upload("t", "welcome", "ja", data)
    assert info.value.code == code
    assert not (tmp_path / "prompts" / "t" / "ja" / "welcome.wav").exists()


def test_prompt_ids_cannot_escape_the_tenant_folder(tmp_path: Path) -> None:
    with pytest.raises(ValidationFailed):
        PromptLibrary(tmp_path).upload("t", "../../etc/passwd", "ja", _wav())
