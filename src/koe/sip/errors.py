"""Errors raised by the SIP stack; parse errors carry the status code to answer with."""

from __future__ import annotations

from koe.core.errors import KoeError


class SipError(KoeError):
    """Root of the SIP stack's own errors."""

    def __init__(self, code: str, message_en: str, message_ja: str | None = None) -> None:
        super().__init__(code, message_ja or f"SIPエラー: {message_en}", message_en)


class SipParseError(SipError):
    """A message that is not valid SIP (RFC 3261 §25); ``status_code`` is the answer to send."""

    def __init__(self, message_en: str, status_code: int = 400) -> None:
        super().__init__("sip_parse_error", message_en, f"SIPメッセージが不正です: {message_en}")
        self.status_code = status_code
        self.reason = message_en
        self.partial: object | None = None


class SipTransportError(SipError):
    """A message could not be sent (no route, connection refused or closed)."""

    def __init__(self, message_en: str) -> None:
        super().__init__(
            "sip_transport_error", message_en, f"SIPの送信に失敗しました: {message_en}"
        )


class SipTimeoutError(SipError):
    """A client transaction ended without a final response (Timer B or F, RFC 3261 §17.1)."""

    def __init__(self, message_en: str) -> None:
        super().__init__("sip_timeout", message_en, f"SIPの応答がありません: {message_en}")


class SipTransactionError(SipError):
    """A transaction was used after it ended (a second final response, for instance)."""

    def __init__(self, message_en: str) -> None:
        super().__init__(
            "sip_transaction_error", message_en, f"SIPトランザクションの誤用: {message_en}"
        )
