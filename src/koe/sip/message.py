"""SIP requests and responses: parse and serialize without I/O (RFC 3261 §7, §20, §25).

Parsing is lazy: ``SipMessage.parse`` splits the header lines once and keeps each
line's raw text, so ``bytes(SipMessage.parse(x)) == x``; typed header values
(Via, CSeq, From, …) are parsed on access and cached by their text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import ClassVar

from koe.sip.errors import SipParseError
from koe.sip.headers import (
    TOKEN,
    CSeq,
    NameAddr,
    Via,
    canonical_name,
    header_key,
    parse_cseq,
    parse_name_addr,
    parse_name_addr_list,
    parse_tokens,
    parse_top_via,
    parse_via_list,
    split_list,
)
from koe.sip.uri import Uri, parse_uri

SIP_VERSION = "SIP/2.0"
CRLF = "\r\n"
_VERSION = re.compile(r"SIP/\d+\.\d+\Z", re.IGNORECASE)
_DATE = re.compile(
    r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} "
    r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} GMT\Z"
)
_HEADER_NAME = re.compile(r"[A-Za-z0-9\-.!%*_+`'~]+\Z")
SINGLE_HEADERS = frozenset(("call-id", "cseq", "from", "to", "max-forwards", "content-length"))

# RFC 3261 §21 and later RFCs: default reason phrases.
REASON_PHRASES = {
    100: "Trying",
    180: "Ringing",
    181: "Call Is Being Forwarded",
    182: "Queued",
    183: "Session Progress",
    199: "Early Dialog Terminated",
    200: "OK",
    202: "Accepted",
    204: "No Notification",
    300: "Multiple Choices",
    301: "Moved Permanently",
    302: "Moved Temporarily",
    305: "Use Proxy",
    380: "Alternative Service",
    400: "Bad Request",
    401: "Unauthorized",
    402: "Payment Required",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    406: "Not Acceptable",
    407: "Proxy Authentication Required",
    408: "Request Timeout",
    410: "Gone",
    413: "Request Entity Too Large",
    414: "Request-URI Too Long",
    415: "Unsupported Media Type",
    416: "Unsupported URI Scheme",
    420: "Bad Extension",
    421: "Extension Required",
    422: "Session Interval Too Small",
    423: "Interval Too Brief",
    480: "Temporarily Unavailable",
    481: "Call/Transaction Does Not Exist",
    482: "Loop Detected",
    483: "Too Many Hops",
    484: "Address Incomplete",
    485: "Ambiguous",
    486: "Busy Here",
    487: "Request Terminated",
    488: "Not Acceptable Here",
    489: "Bad Event",
    491: "Request Pending",
    493: "Undecipherable",
    500: "Server Internal Error",
    501: "Not Implemented",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Server Time-out",
    505: "Version Not Supported",
    513: "Message Too Large",
    580: "Precondition Failure",
    600: "Busy Everywhere",
    603: "Decline",
    604: "Does Not Exist Anywhere",
    606: "Not Acceptable",
}


def reason_phrase(status: int) -> str:
    """The default reason phrase for ``status``."""
    return REASON_PHRASES.get(status) or REASON_PHRASES.get(status // 100 * 100, "Unknown")


class Header:
    """One header line: name as written, value with folding undone, raw text if parsed."""

    __slots__ = ("key", "name", "raw", "value")

    def __init__(self, name: str, value: str, raw: str | None = None, key: str | None = None):
        self.name = name
        self.value = value
        self.raw = raw
        self.key = key or header_key(name)

    def __str__(self) -> str:
        return self.raw if self.raw is not None else f"{self.name}: {self.value}"

    def __repr__(self) -> str:
        return f"Header({self.name!r}, {self.value!r})"


class Headers:
    """The ordered header lines of a message, looked up by case-insensitive name."""

    __slots__ = ("_index", "_lines")

    def __init__(self, lines: list[Header] | None = None) -> None:
        self._lines = lines if lines is not None else []
        self._index: dict[str, list[Header]] | None = None

    def __iter__(self) -> Iterator[Header]:
        return iter(self._lines)

    def __len__(self) -> int:
        return len(self._lines)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name) is not None

    def _find(self, name: str) -> list[Header] | None:
        """The lines for ``name``, through an index built on first lookup."""
        index = self._index
        if index is None:
            index = {}
            for h in self._lines:
                same = index.get(h.key)
                if same is None:
                    index[h.key] = [h]
                else:
                    same.append(h)
            self._index = index
        key = _KEYS.get(name)
        if key is None:
            key = header_key(name)
            if len(_KEYS) < 2048 and _HEADER_NAME.match(name):
                _KEYS[name] = key
        return index.get(key)

    def drop_index(self) -> None:
        """Forget the lookup index (rebuilt on the next lookup): fewer objects held."""
        self._index = None

    def get(self, name: str) -> str | None:
        """The value of the first ``name`` header, or None."""
        found = self._find(name)
        return found[0].value if found else None

    def get_all(self, name: str) -> list[str]:
        """The value of every ``name`` header line, in order."""
        found = self._find(name)
        return [h.value for h in found] if found else []

    def values(self, name: str) -> list[str]:
        """Every comma-separated value of ``name`` across its lines (RFC 3261 §7.3.1)."""
        out: list[str] = []
        for value in self.get_all(name):
            out += split_list(value)
        return out

    def count(self, name: str) -> int:
        """How many ``name`` lines there are."""
        found = self._find(name)
        return len(found) if found else 0

    def add(self, name: str, value: str, *, first: bool = False) -> None:
        """Append a ``name`` line (or put it before the first line of the same name)."""
        self._index = None
        header = Header(name, value)
        if first:
            for i, h in enumerate(self._lines):
                if h.key == header.key:
                    self._lines.insert(i, header)
                    return
        self._lines.append(header)

    def set(self, name: str, value: str) -> None:
        """Replace every ``name`` line by one line holding ``value``."""
        self._index = None
        key = header_key(name)
        for i, h in enumerate(self._lines):
            if h.key == key:
                self._lines[i] = Header(name, value, None, key)
                self._lines[i + 1 :] = [x for x in self._lines[i + 1 :] if x.key != key]
                return
        self._lines.append(Header(name, value, None, key))

    def remove(self, name: str) -> None:
        """Drop every ``name`` line."""
        self._index = None
        key = header_key(name)
        self._lines = [h for h in self._lines if h.key != key]

    def pop_first(self, name: str) -> str | None:
        """Remove the first value of ``name`` (one comma-separated element) and return it."""
        self._index = None
        key = header_key(name)
        for i, h in enumerate(self._lines):
            if h.key == key:
                parts = split_list(h.value)
                if len(parts) <= 1:
                    del self._lines[i]
                else:
                    self._lines[i] = Header(h.name, ", ".join(parts[1:]), None, key)
                return parts[0] if parts else None
        return None

    def copy(self) -> Headers:
        """A shallow copy (header lines are immutable once made)."""
        return Headers(list(self._lines))


def _split_head(head: str) -> list[Header]:
    """Split header lines, undo folding (RFC 3261 §7.3.1) and index them by key."""
    lines: list[Header] = []
    for line in head.split(CRLF):
        if line[:1] in (" ", "\t"):
            if not lines:
                raise SipParseError("header continuation line before any header")
            last = lines[-1]
            cont = line.strip()
            last.raw = f"{last.raw}{CRLF}{line}"
            if cont:
                last.value = f"{last.value} {cont}" if last.value else cont
            continue
        colon = line.find(":")
        if colon <= 0:
            if not line:
                raise SipParseError("empty line inside the header section")
            raise SipParseError(f"header line without a colon: {line[:60]!r}")
        name = line[:colon]
        key = _KEYS.get(name)
        if key is None:
            name = name.rstrip()
            if not _HEADER_NAME.match(name):
                raise SipParseError(f"malformed header name {name[:60]!r}")
            key = header_key(name)
            if len(_KEYS) < 2048:  # header names repeat: remember checked ones (bounded)
                _KEYS[line[:colon]] = key
        else:
            name = name.rstrip()
        lines.append(Header(name, line[colon + 1 :].strip(), line, key))
    return lines


_KEYS: dict[str, str] = {}


def _content_length(headers: Headers) -> int | None:
    values = headers.get_all("content-length")
    if not values:
        return None
    if len(set(values)) > 1:
        raise SipParseError("conflicting Content-Length headers")
    text = values[0]
    if not text.isdigit() or not text.isascii():
        raise SipParseError(f"malformed Content-Length {text!r}")
    return int(text)


class SipMessage:
    """A SIP request or response: start line, headers and a body of bytes."""

    __slots__ = ("body", "headers")

    def __init__(self, headers: Headers | None = None, body: bytes = b"") -> None:
        self.headers = headers if headers is not None else Headers()
        self.body = body

    # -- wire format -------------------------------------------------------------------------

    @staticmethod
    def parse(data: bytes, *, stream: bool = False) -> SipRequest | SipResponse:
        """Parse one message; on datagrams the body is cut at Content-Length (RFC 3261 §18.3).

        With ``stream=True`` the caller has framed the message already and Content-Length
        is mandatory.
        """
        start_at = 0
        while data.startswith(b"\r\n", start_at):
            start_at += 2
        end = data.find(b"\r\n\r\n", start_at)
        if end < 0:
            if stream:
                raise SipParseError("message without the empty line that ends its headers")
            head_bytes, body_at = data[start_at:].rstrip(b"\r\n"), len(data)
        else:
            head_bytes, body_at = data[start_at:end], end + 4
        if not head_bytes:
            raise SipParseError("empty message")
        head = head_bytes.decode("utf-8", "surrogateescape")
        first_end = head.find(CRLF)
        start = head if first_end < 0 else head[:first_end]
        msg, deferred = _parse_start_line(start)
        try:
            msg.headers = Headers(_split_head(head[first_end + 2 :]) if first_end >= 0 else [])
            length = _content_length(msg.headers)
            if length is None:
                if stream:
                    raise SipParseError("Content-Length is mandatory on stream transports")
                msg.body = data[body_at:]
            else:
                if body_at + length > len(data):
                    raise SipParseError(
                        f"Content-Length {length} exceeds the {len(data) - body_at} body bytes"
                    )
                msg.body = data[body_at : body_at + length]
            if deferred is not None:
                raise deferred
        except SipParseError as err:
            err.partial = msg
            raise
        return msg

    def start_line(self) -> str:
        """The request line or status line."""
        raise NotImplementedError

    def __bytes__(self) -> bytes:
        parts = [self.start_line()]
        parts += [str(h) for h in self.headers]
        parts += ["", ""]
        return CRLF.join(parts).encode("utf-8", "surrogateescape") + self.body

    def set_body(self, body: bytes, content_type: str | None = None) -> None:
        """Set the body, its Content-Type (when given) and Content-Length."""
        self.body = body
        if content_type is not None:
            self.headers.set("Content-Type", content_type)
        elif not body:
            self.headers.remove("Content-Type")
        self.headers.set("Content-Length", str(len(body)))

    # -- typed header access (RFC 3261 §20) --------------------------------------------------

    def _one(self, name: str) -> str:
        value = self.headers.get(name)
        if value is None:
            raise SipParseError(f"missing {canonical_name(header_key(name))} header")
        return value

    @property
    def call_id(self) -> str:
        """The Call-ID (RFC 3261 §20.8)."""
        value = self._one("call-id")
        if not value or " " in value:
            raise SipParseError(f"malformed Call-ID {value!r}")
        return value

    @property
    def cseq(self) -> CSeq:
        """The CSeq (RFC 3261 §20.16)."""
        return parse_cseq(self._one("cseq"))

    @property
    def from_(self) -> NameAddr:
        """The From header (RFC 3261 §20.20)."""
        return parse_name_addr(self._one("from"), "From")

    @property
    def to(self) -> NameAddr:
        """The To header (RFC 3261 §20.39)."""
        return parse_name_addr(self._one("to"), "To")

    @property
    def top_via(self) -> Via:
        """The first Via value (RFC 3261 §20.42): the one a transaction matches on."""
        return parse_top_via(self._one("via"))

    @property
    def vias(self) -> list[Via]:
        """Every Via value, top first."""
        out: list[Via] = []
        for value in self.headers.get_all("via"):
            out += parse_via_list(value)
        return out

    def _name_addrs(self, name: str) -> list[NameAddr]:
        out: list[NameAddr] = []
        for value in self.headers.get_all(name):
            out += parse_name_addr_list(value, canonical_name(header_key(name)))
        return out

    @property
    def contacts(self) -> list[NameAddr]:
        """Contact values (RFC 3261 §20.10); ``Contact: *`` gives an empty list."""
        if self.headers.get("contact") == "*":
            return []
        return self._name_addrs("contact")

    @property
    def routes(self) -> list[NameAddr]:
        """Route values (RFC 3261 §20.34)."""
        return self._name_addrs("route")

    @property
    def record_routes(self) -> list[NameAddr]:
        """Record-Route values (RFC 3261 §20.30)."""
        return self._name_addrs("record-route")

    @property
    def paths(self) -> list[NameAddr]:
        """Path values (RFC 3327)."""
        return self._name_addrs("path")

    @property
    def max_forwards(self) -> int | None:
        """Max-Forwards (RFC 3261 §20.22), 0..255, or None when absent."""
        value = self.headers.get("max-forwards")
        if value is None:
            return None
        if not value.isdigit() or not value.isascii() or int(value) > 255:
            raise SipParseError(f"malformed Max-Forwards {value!r}")
        return int(value)

    @property
    def content_type(self) -> str | None:
        """The media type of the body, lower case, without parameters."""
        value = self.headers.get("content-type")
        return value.split(";", 1)[0].strip().lower() if value else None

    @property
    def expires(self) -> int | None:
        """The Expires header (RFC 3261 §20.19) as seconds, or None."""
        value = self.headers.get("expires")
        if value is None:
            return None
        if not value.isdigit() or not value.isascii():
            raise SipParseError(f"malformed Expires {value!r}")
        return min(int(value), 2**32 - 1)

    def options(self, name: str) -> list[str]:
        """Option tags of Supported/Require/Proxy-Require/Unsupported, lower case."""
        return [tag.lower() for value in self.headers.get_all(name) for tag in parse_tokens(value)]

    def validate(self) -> None:
        """Check the headers every message must carry (RFC 3261 §8.1.1) and parse them."""
        seen: set[str] = set()
        for h in self.headers:
            key = h.key
            if key in SINGLE_HEADERS:
                if key in seen:
                    raise SipParseError(f"more than one {canonical_name(key)} header")
                seen.add(key)
        _ = self.call_id, self.from_, self.to, self.cseq
        if not self.headers.get("via"):
            raise SipParseError("missing Via header")
        self.vias  # noqa: B018 - parsing checks every Via
        self.max_forwards  # noqa: B018
        date = self.headers.get("date")
        if date is not None and not _DATE.match(date):
            raise SipParseError(f"malformed Date {date!r}")


class SipRequest(SipMessage):
    """A SIP request (RFC 3261 §7.1)."""

    __slots__ = ("_uri", "method", "uri_text")
    is_request: ClassVar[bool] = True

    def __init__(
        self,
        method: str,
        uri: Uri | str,
        headers: Headers | None = None,
        body: bytes = b"",
    ) -> None:
        super().__init__(headers, body)
        self.method = method
        self.uri_text = str(uri)
        self._uri: Uri | None = None if isinstance(uri, str) else uri

    @property
    def uri(self) -> Uri:
        """The Request-URI, parsed on first access."""
        if self._uri is None:
            self._uri = parse_uri(self.uri_text)
        return self._uri

    @uri.setter
    def uri(self, value: Uri) -> None:
        """Set the Request-URI."""
        self._uri = value
        self.uri_text = str(value)

    def start_line(self) -> str:
        """``Method SP Request-URI SP SIP/2.0``."""
        return f"{self.method} {self.uri_text} {SIP_VERSION}"

    def validate(self) -> None:
        """As ``SipMessage.validate``, plus the Request-URI and CSeq method (RFC 3261 §8.2)."""
        super().validate()
        uri = self.uri
        if getattr(uri, "headers", ()):
            raise SipParseError("Request-URI must not carry headers")
        if self.cseq.method != self.method:
            raise SipParseError(f"CSeq method {self.cseq.method} does not match {self.method}")
        if self.headers.get("contact") not in (None, "*"):
            self.contacts  # noqa: B018 - parsing checks every Contact

    def __repr__(self) -> str:
        return f"<SipRequest {self.method} {self.uri_text}>"


class SipResponse(SipMessage):
    """A SIP response (RFC 3261 §7.2)."""

    __slots__ = ("reason", "status")
    is_request: ClassVar[bool] = False

    def __init__(
        self,
        status: int,
        reason: str | None = None,
        headers: Headers | None = None,
        body: bytes = b"",
    ) -> None:
        super().__init__(headers, body)
        self.status = status
        self.reason = reason_phrase(status) if reason is None else reason

    def start_line(self) -> str:
        """``SIP/2.0 SP Status-Code SP Reason-Phrase``."""
        return f"{SIP_VERSION} {self.status} {self.reason}"

    def __repr__(self) -> str:
        return f"<SipResponse {self.status} {self.reason}>"


def _parse_start_line(line: str) -> tuple[SipRequest | SipResponse, SipParseError | None]:
    if line.startswith("SIP/"):
        version, _, rest = line.partition(" ")
        code, _, reason = rest.partition(" ")
        if version != SIP_VERSION:
            raise SipParseError(f"unsupported SIP version {version!r}", 505)
        if len(code) != 3 or not code.isdigit() or not code.isascii() or code[0] not in "123456":
            raise SipParseError(f"malformed status code {code[:20]!r}")
        return SipResponse(int(code), reason), None
    parts = line.split(" ")
    if len(parts) != 3 or not all(parts):
        raise SipParseError(f"malformed request line {line[:80]!r}")
    method, uri, version = parts
    if not TOKEN.match(method):
        raise SipParseError(f"malformed method {method[:40]!r}")
    deferred = None
    if version != SIP_VERSION:
        if not _VERSION.match(version):
            raise SipParseError(f"malformed SIP version {version[:20]!r}")
        # Still answerable: the headers say where the 505 goes (RFC 3261 §21.5.6).
        deferred = SipParseError(f"unsupported SIP version {version!r}", 505)
    if uri.startswith("<") or ":" not in uri:
        deferred = SipParseError(f"malformed Request-URI {uri[:80]!r}")
    return SipRequest(method, uri), deferred


def make_headers(items: Iterable[tuple[str, str]]) -> Headers:
    """Headers from ``(name, value)`` pairs."""
    return Headers([Header(name, value) for name, value in items])
