"""The one place that renders errors: ``{code, message, fields}`` in Japanese or English.

Every ``KoeError`` keeps its stable code and HTTP status; request validation errors become
422 ``invalid_request`` with one entry per field (location joined by dots); a body that is not
JSON is 400 ``malformed_json``; anything unexpected is 500 ``internal_error`` with no detail.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from koe.core.errors import Conflict, FieldError, KoeError, ValidationFailed

log = logging.getLogger(__name__)

LANGUAGES = ("ja", "en")


def language(accept_language: str | None) -> str:
    """``en`` when the client prefers English to Japanese, else ``ja`` (the default)."""
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate((accept_language or "").split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        primary = tag.strip().lower().split("-")[0]
        if primary not in LANGUAGES:
            continue
        q = 1.0
        name, _, value = params.strip().partition("=")
        if name.strip() == "q":
            try:
                q = float(value)
            except ValueError:
                q = 0.0
        if math.isfinite(q) and q > 0:
            ranked.append((q, -position, primary))
    return max(ranked)[2] if ranked else "ja"


def request_language(request: Request) -> str:
    """The language to answer ``request`` in."""
    return language(request.headers.get("accept-language"))


def render(err: KoeError, lang: str) -> dict[str, Any]:
    """The JSON body of ``err``."""
    body: dict[str, Any] = {
        "code": err.code,
        "message": err.message(lang),
        "fields": [
            {"field": f.field, "code": f.code, "message": f.message(lang)} for f in err.fields
        ],
    }
    if err.details:
        body["details"] = dict(err.details)
    return body


def error_response(err: KoeError, lang: str, status: int | None = None) -> JSONResponse:
    """``err`` as a response with its status and the headers its kind calls for."""
    status = status or err.status
    headers: dict[str, str] = {"Content-Language": lang}
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    retry = err.details.get("retry_after") if err.details else None
    if status == 429 and isinstance(retry, int):
        headers["Retry-After"] = str(retry)
    return JSONResponse(render(err, lang), status_code=status, headers=headers)


# ---- request validation (pydantic) ----

_NOUNS: dict[str, tuple[str, str]] = {
    "string": ("文字列", "a string"),
    "int": ("整数", "an integer"),
    "float": ("数値", "a number"),
    "decimal": ("数値", "a number"),
    "bool": ("true か false", "true or false"),
    "dict": ("オブジェクト", "an object"),
    "model": ("オブジェクト", "an object"),
    "list": ("配列", "an array"),
    "tuple": ("配列", "an array"),
    "date": ("日付 (YYYY-MM-DD)", "a date (YYYY-MM-DD)"),
    "datetime": ("日時", "a date and time"),
}
_TYPE_PREFIXES = tuple(_NOUNS)
_SIZES = {
    "string_too_long": (
        "too_long", "max_length", "{}文字以内にしてください。", "At most {} characters."
    ),
    "too_long": ("too_long", "max_length", "{}件以内にしてください。", "At most {} items."),
    "string_too_short": (
        "too_short", "min_length", "{}文字以上にしてください。", "At least {} character(s)."
    ),
    "too_short": ("too_short", "min_length", "{}件以上にしてください。", "At least {} item(s)."),
}  # fmt: skip
_RANGE = {
    "greater_than_equal": ("ge", "{}以上にしてください。", "Must be at least {}."),
    "greater_than": ("gt", "{}より大きくしてください。", "Must be greater than {}."),
    "less_than_equal": ("le", "{}以下にしてください。", "Must be at most {}."),
    "less_than": ("lt", "{}未満にしてください。", "Must be less than {}."),
}


# Values with a written form (dates, times, ids): a wrong spelling is a format error.
_FORMATTED = ("date", "time", "uuid", "url", "decimal")
_WRONG_TYPE = frozenset({"int_from_float", "is_instance_of", "finite_number", "none_required"})


def _field_name(loc: Sequence[Any]) -> str:
    parts = list(loc)
    if parts and parts[0] in ("body", "query", "path"):
        parts = parts[1:]
    return ".".join(str(p) for p in parts) or "body"


def _wrong_type(kind: str) -> tuple[str, str, str]:
    prefix = next((p for p in _TYPE_PREFIXES if kind.startswith(p)), "")
    ja, en = _NOUNS.get(prefix, ("正しい型", "the right type"))
    return "wrong_type", f"{ja}で指定してください。", f"Must be {en}."


def _translate(error: Mapping[str, Any]) -> tuple[str, str, str]:
    """(code, ja, en) for one pydantic error."""
    kind = str(error.get("type", ""))
    ctx: Mapping[str, Any] = error.get("ctx") or {}
    if kind == "missing":
        return "required", "必須項目です。", "This field is required."
    if kind == "extra_forbidden":
        return "unknown_field", "不明な項目です。", "Unknown field."
    if kind in _SIZES:
        code, key, ja, en = _SIZES[kind]
        return code, ja.format(ctx.get(key)), en.format(ctx.get(key))
    if kind == "int_parsing_size":  # more digits than any integer Koe stores
        return "out_of_range", "数値が大きすぎます。", "The number is too large."
    if kind in _RANGE:
        key, ja, en = _RANGE[kind]
        return "out_of_range", ja.format(ctx.get(key)), en.format(ctx.get(key))
    if kind in ("literal_error", "enum"):
        expected = ctx.get("expected", "")
        return (
            "invalid_choice",
            f"次のいずれかを指定してください: {expected}",
            f"Must be one of: {expected}",
        )
    if kind == "string_pattern_mismatch" or (
        kind.startswith(_FORMATTED) and not kind.endswith("_type")
    ):
        return "invalid_format", "形式が正しくありません。", "Invalid format."
    if kind in ("string_unicode", "string_not_ascii"):  # e.g. an unpaired surrogate
        kind = "invalid_characters"
    if kind in _CUSTOM:
        return (kind, *_CUSTOM[kind])
    if kind.endswith(("_type", "_parsing")) or kind in _WRONG_TYPE:
        return _wrong_type(kind)
    message = str(error.get("msg", "Invalid value."))
    return "invalid_value", f"値が正しくありません({message})。", message


# Codes raised by the API's own validators (koe.api.schemas): ja, en.
_CUSTOM: dict[str, tuple[str, str]] = {
    "invalid_characters": (
        "制御文字などの使えない文字が含まれています。",
        "Contains characters that are not allowed (control characters).",
    ),
    "not_nullable": ("null にはできません。", "Cannot be null."),
    "invalid_email": ("メールアドレスの形式が正しくありません。", "Not a valid e-mail address."),
    "invalid_timezone": ("不明なタイムゾーンです。", "Unknown time zone."),
    "document_too_large": (
        "ドキュメントが大きすぎるか、入れ子が深すぎます。",
        "The document is too large or too deeply nested.",
    ),
    "invalid_template": ("不明なテンプレートです。", "Unknown template."),
    "invalid_base64": (
        "ファイルの内容は base64 で指定してください。",
        "The file content must be base64.",
    ),
}


def validation_error(errors: Sequence[Mapping[str, Any]]) -> KoeError:
    """A ``KoeError`` for pydantic ``errors``: 400 malformed JSON, or 422 with every field."""
    if any(e.get("type") == "json_invalid" for e in errors):
        code, ja, en = _HTTP_CODES[400]
        return KoeError(code, ja, en)
    fields = []
    for error in errors:
        code, ja, en = _translate(error)
        fields.append(FieldError(_field_name(error.get("loc", ())), code, ja, en))
    return ValidationFailed(
        "invalid_request",
        f"入力内容に誤りがあります({len(fields)}件)。",
        f"The request is invalid ({len(fields)} problem(s)).",
        fields,
    )


# ---- handlers ----


async def _on_koe_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, KoeError)
    return error_response(exc, request_language(request))


async def _on_integrity_error(request: Request, exc: Exception) -> JSONResponse:
    # A unique or foreign-key rule the service did not check first: still a clear 409, and
    # the transaction has rolled back, so nothing changed.
    log.warning("integrity conflict %s %s: %s", request.method, request.url.path, exc)
    conflict = Conflict(
        "integrity_conflict",
        "ほかのデータと矛盾するため保存できません(重複または参照中)。",
        "Cannot save: it conflicts with other data (duplicate or still referenced).",
    )
    return error_response(conflict, request_language(request))


async def _on_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return error_response(validation_error(exc.errors()), request_language(request))


_HTTP_CODES = {
    # FastAPI's only 400: a JSON body it cannot decode (e.g. not UTF-8).
    400: (
        "malformed_json",
        "リクエスト本文が正しいJSONではありません。",
        "The request body is not valid JSON.",
    ),
    404: ("not_found", "見つかりません。", "Not found."),
    405: ("method_not_allowed", "このメソッドは使えません。", "Method not allowed."),
    413: (
        "request_too_large",
        "リクエスト本文が大きすぎます。",
        "The request body is too large.",
    ),
}


async def _on_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code, ja, en = _HTTP_CODES.get(
        exc.status_code,
        ("http_error", "リクエストを処理できません。", "Cannot process the request."),
    )
    response = error_response(KoeError(code, ja, en), request_language(request), exc.status_code)
    response.headers.update(exc.headers or {})
    return response


class _BodyTooLarge(StarletteHTTPException):
    """The request body went over the limit while it was read (rendered like any 413)."""

    def __init__(self) -> None:
        super().__init__(413)


class Guard:
    """ASGI middleware: bodies over the limit (``larger`` for upload paths) get 413 before any
    work; an unhandled exception is logged and answered 500, with no traceback leaving the
    server."""

    def __init__(
        self, app: ASGIApp, max_body_bytes: int, larger: Mapping[str, int] | None = None
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.larger = dict(larger or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        lang = language(headers.get("accept-language"))
        limit = self.larger.get(scope.get("path", ""), self.max_body_bytes)
        length = headers.get("content-length", "")
        if length.isdigit() and int(length) > limit:
            code, ja, en = _HTTP_CODES[413]
            await error_response(KoeError(code, ja, en), lang, 413)(scope, receive, send)
            return
        started = False
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit:
                raise _BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except Exception:
            log.exception("unhandled error %s %s", scope.get("method"), scope.get("path"))
            if started:
                raise
            err = KoeError(
                "internal_error",
                "内部エラーが発生しました。時間をおいてもう一度お試しください。",
                "An internal error occurred. Please try again later.",
            )
            await error_response(err, lang, 500)(scope, receive, send)


def install(app: FastAPI, max_body_bytes: int, larger: Mapping[str, int] | None = None) -> None:
    """Register the error handlers and the guard middleware on ``app``."""
    app.add_exception_handler(KoeError, _on_koe_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(IntegrityError, _on_integrity_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_middleware(Guard, max_body_bytes=max_body_bytes, larger=larger)
