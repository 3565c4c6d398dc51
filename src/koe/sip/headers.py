"""Header names and typed header values (RFC 3261 §7.3, §20, §25.1): Via, name-addr, CSeq."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from functools import lru_cache

from koe.sip.errors import SipParseError
from koe.sip.uri import Params, SipUri, Uri, parse_host_port, parse_uri

# RFC 3261 §7.3.3 compact forms, plus those of later RFCs (3265, 3515, 3892, 4028, 4474, 3841).
COMPACT_FORMS = {
    "i": "call-id",
    "m": "contact",
    "e": "content-encoding",
    "l": "content-length",
    "c": "content-type",
    "f": "from",
    "s": "subject",
    "k": "supported",
    "t": "to",
    "v": "via",
    "o": "event",
    "r": "refer-to",
    "b": "referred-by",
    "u": "allow-events",
    "x": "session-expires",
    "y": "identity",
    "n": "identity-info",
    "a": "accept-contact",
    "j": "reject-contact",
    "d": "request-disposition",
}

_KNOWN_NAMES = (
    "Via",
    "Call-ID",
    "CSeq",
    "From",
    "To",
    "Contact",
    "Max-Forwards",
    "Content-Length",
    "Content-Type",
    "Route",
    "Record-Route",
    "Path",
    "Allow",
    "Supported",
    "Require",
    "Proxy-Require",
    "Unsupported",
    "Accept",
    "Accept-Encoding",
    "Accept-Language",
    "Expires",
    "Min-Expires",
    "WWW-Authenticate",
    "Authorization",
    "Proxy-Authenticate",
    "Proxy-Authorization",
    "Authentication-Info",
    "RSeq",
    "RAck",
    "Session-Expires",
    "Min-SE",
    "Event",
    "Subscription-State",
    "Refer-To",
    "Referred-By",
    "Replaces",
    "P-Asserted-Identity",
    "P-Preferred-Identity",
    "Privacy",
    "Retry-After",
    "Reason",
    "User-Agent",
    "Server",
    "Subject",
    "Date",
    "Timestamp",
    "Warning",
    "Content-Encoding",
    "Content-Disposition",
    "Organization",
    "Priority",
    "Allow-Events",
    "Identity",
    "Identity-Info",
    "In-Reply-To",
    "Reply-To",
    "Call-Info",
    "Alert-Info",
    "Error-Info",
    "MIME-Version",
    "Content-Language",
)
_CANONICAL = {name.lower(): name for name in _KNOWN_NAMES}


def header_key(name: str) -> str:
    """The lookup key for a header name: lower case, compact forms expanded (RFC 3261 §7.3.3)."""
    low = name.lower()
    return COMPACT_FORMS.get(low, low)


def canonical_name(key: str) -> str:
    """The usual spelling of a header for ``key`` (``call-id`` → ``Call-ID``)."""
    return _CANONICAL.get(key) or "-".join(p.capitalize() for p in key.split("-"))


_TCHARS = r"A-Za-z0-9\-.!%*_+`'~"
TOKEN = re.compile(rf"[{_TCHARS}]+\Z")
_QUOTED = r'"(?:[^"\\\r\n]|\\[^\r\n])*"'
_PARAM = re.compile(
    rf"[ \t]*;[ \t]*([{_TCHARS}]+)"
    rf"(?:[ \t]*=[ \t]*({_QUOTED}|\[[0-9A-Fa-f:.]+\]|[{_TCHARS}:/\[\]]+))?[ \t]*"
)
_NAME_ADDR = re.compile(
    rf"[ \t]*(?:({_QUOTED})|((?:[{_TCHARS}]+(?:[ \t]+[{_TCHARS}]+)*)?))"
    r"[ \t]*<([^\s<>]*)>[ \t]*"
)
_ADDR_SPEC = re.compile(r"[ \t]*([^\s;,<>\"]+)[ \t]*")
_VIA = re.compile(
    rf"[ \t]*([{_TCHARS}]+)[ \t]*/[ \t]*([{_TCHARS}]+)[ \t]*/[ \t]*([{_TCHARS}]+)"
    r"[ \t]+(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-.]+)(?:[ \t]*:[ \t]*([0-9]+))?[ \t]*"
)
_COMMA = re.compile(r"[ \t]*,[ \t]*")
_SIMPLE_PARAMS = re.compile(rf"(?:;[{_TCHARS}]+(?:=[{_TCHARS}:]+)?)+(?:,|\Z)")


def unquote(value: str) -> str:
    """The content of a quoted-string with its backslash escapes undone (RFC 3261 §25.1)."""
    if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
        return re.sub(r"\\(.)", r"\1", value[1:-1])
    return value


def quote(value: str) -> str:
    """``value`` as a quoted-string."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def parse_params(text: str, pos: int, where: str) -> tuple[Params, int]:
    """Parse ``*( SEMI generic-param )`` from ``pos``; returns the params and the end position."""
    if text.startswith(";", pos) and _SIMPLE_PARAMS.match(text, pos):
        # Fast path for the usual ``;a=b;c`` up to the end or a comma: no spaces, no quotes.
        end = text.find(",", pos)
        end = len(text) if end < 0 else end
        out: list[tuple[str, str | None]] = []
        for item in text[pos + 1 : end].split(";"):
            name, eq, value = item.partition("=")
            out.append((name, value if eq else None))
        return tuple(out), end
    out = []
    match = _PARAM.match
    while pos < len(text) and text[pos] in " \t;":
        m = match(text, pos)
        if m is None:
            if text[pos:].strip() == "":
                return tuple(out), len(text)
            raise SipParseError(f"malformed parameter in {where}: {text[pos:]!r}")
        out.append((m.group(1), m.group(2)))
        pos = m.end()
    return tuple(out), pos


def _after_value(text: str, pos: int, where: str, many: bool) -> int:
    """Check what follows one value: the end, or (for lists) a comma and another value."""
    if pos >= len(text):
        return pos
    if many:
        m = _COMMA.match(text, pos)
        if m is not None and m.end() < len(text):
            return m.end()
    raise SipParseError(f"unexpected text in {where}: {text[pos:]!r}")


def find_param(params: Params, name: str) -> str | None:
    """The value of ``name`` in ``params`` (case-insensitive), or None."""
    low = name.lower()
    for key, value in params:
        if key.lower() == low:
            return value
    return None


def has_param(params: Params, name: str) -> bool:
    """Whether ``name`` is among ``params``."""
    low = name.lower()
    return any(key.lower() == low for key, _ in params)


def set_param(params: Params, name: str, value: str | None) -> Params:
    """``params`` with ``name`` set to ``value``, replacing any earlier value."""
    low = name.lower()
    if any(k.lower() == low for k, _ in params):
        return tuple((k, value) if k.lower() == low else (k, v) for k, v in params)
    return (*params, (name, value))


def format_params(params: Params) -> str:
    """``;name=value`` text for ``params``."""
    return "".join(f";{k}" if v is None else f";{k}={v}" for k, v in params)


@dataclass(frozen=True, slots=True)
class NameAddr:
    """A From/To/Contact/Route value: display name, URI and header parameters (RFC 3261 §20.10)."""

    uri: Uri
    display: str | None = None
    params: Params = ()
    bracketed: bool = True

    @property
    def tag(self) -> str | None:
        """The ``tag`` parameter (RFC 3261 §19.3)."""
        return find_param(self.params, "tag")

    def param(self, name: str) -> str | None:
        """The value of header parameter ``name``, or None."""
        return find_param(self.params, name)

    def with_param(self, name: str, value: str | None) -> NameAddr:
        """A copy with header parameter ``name`` set."""
        return replace(self, params=set_param(self.params, name, value))

    @property
    def sip_uri(self) -> SipUri:
        """The URI, which must be sip or sips (416 otherwise)."""
        if not isinstance(self.uri, SipUri):
            raise SipParseError(f"unsupported URI scheme {self.uri.scheme!r}", 416)
        return self.uri

    def __str__(self) -> str:
        display = f"{self.display} " if self.display else ""
        return f"{display}<{self.uri}>{format_params(self.params)}"


def _name_addr_at(text: str, pos: int, where: str) -> tuple[NameAddr, int]:
    m = _NAME_ADDR.match(text, pos)
    if m is not None:
        display = m.group(1) or (m.group(2) or None)
        uri = parse_uri(m.group(3))
        params, pos = parse_params(text, m.end(), where)
        return NameAddr(uri, display, params, True), pos
    m = _ADDR_SPEC.match(text, pos)
    if m is None:
        raise SipParseError(f"malformed {where}: {text!r}")
    raw = m.group(1)
    if "?" in raw:
        raise SipParseError(f"{where} URI with headers must be enclosed in <>: {raw!r}")
    uri = parse_uri(raw)
    params, pos = parse_params(text, m.end(), where)
    return NameAddr(uri, None, params, False), pos


@lru_cache(maxsize=4096)
def parse_name_addr(text: str, where: str = "name-addr") -> NameAddr:
    """Parse one ``name-addr`` or ``addr-spec`` with header parameters (From, To, PAI)."""
    value, pos = _name_addr_at(text, 0, where)
    _after_value(text, pos, where, many=False)
    return value


@lru_cache(maxsize=4096)
def parse_name_addr_list(text: str, where: str = "Contact") -> tuple[NameAddr, ...]:
    """Parse a comma-separated list of name-addrs (Contact, Route, Record-Route, Path)."""
    out: list[NameAddr] = []
    pos = 0
    while True:
        value, pos = _name_addr_at(text, pos, where)
        out.append(value)
        if pos >= len(text):
            return tuple(out)
        pos = _after_value(text, pos, where, many=True)


@dataclass(frozen=True, slots=True)
class Via:
    """One Via value (RFC 3261 §20.42, RFC 3581 rport/received)."""

    transport: str
    host: str
    port: int | None = None
    params: Params = ()
    protocol: str = "SIP/2.0"

    @property
    def branch(self) -> str | None:
        """The transaction ``branch`` parameter (RFC 3261 §8.1.1.7)."""
        return find_param(self.params, "branch")

    @property
    def received(self) -> str | None:
        """The ``received`` parameter (RFC 3261 §18.2.1)."""
        return find_param(self.params, "received")

    @property
    def rport(self) -> int | None:
        """The filled-in ``rport`` value (RFC 3581 §4), or None when absent or empty."""
        value = find_param(self.params, "rport")
        return int(value) if value and value.isdigit() else None

    @property
    def wants_rport(self) -> bool:
        """Whether the client asked for ``rport`` (RFC 3581 §3)."""
        return has_param(self.params, "rport")

    @property
    def sent_by(self) -> str:
        """``host[:port]``."""
        return self.host if self.port is None else f"{self.host}:{self.port}"

    def param(self, name: str) -> str | None:
        """The value of parameter ``name``, or None."""
        return find_param(self.params, name)

    def with_param(self, name: str, value: str | None) -> Via:
        """A copy with parameter ``name`` set."""
        return replace(self, params=set_param(self.params, name, value))

    def __str__(self) -> str:
        return f"{self.protocol}/{self.transport} {self.sent_by}{format_params(self.params)}"


def _via_at(text: str, pos: int) -> tuple[Via, int]:
    m = _VIA.match(text, pos)
    if m is None:
        raise SipParseError(f"malformed Via: {text!r}")
    name, version, transport, host, port = m.groups()
    if name.upper() != "SIP":
        raise SipParseError(f"Via protocol is not SIP: {text!r}")
    if version != "2.0":
        raise SipParseError(f"Via protocol version {version!r} is not 2.0", 505)
    if port is not None:
        parse_host_port(f"{host}:{port}", "Via sent-by")
    else:
        parse_host_port(host, "Via sent-by")
    params, pos = parse_params(text, m.end(), "Via")
    for key, value in params:
        if key.lower() == "branch" and not value:
            raise SipParseError("Via branch parameter without a value")
    via = Via(transport.upper(), host, int(port) if port else None, params)
    return via, pos


@lru_cache(maxsize=4096)
def parse_via_list(text: str) -> tuple[Via, ...]:
    """Parse one Via header value, which may hold several comma-separated vias."""
    out: list[Via] = []
    pos = 0
    while True:
        via, pos = _via_at(text, pos)
        out.append(via)
        if pos >= len(text):
            return tuple(out)
        pos = _after_value(text, pos, "Via", many=True)


@lru_cache(maxsize=4096)
def parse_top_via(text: str) -> Via:
    """Parse only the first via of a Via header value (the one transaction matching needs)."""
    via, pos = _via_at(text, 0)
    if pos < len(text):
        _after_value(text, pos, "Via", many=True)
    return via


@dataclass(frozen=True, slots=True)
class CSeq:
    """A CSeq value: sequence number and method (RFC 3261 §20.16)."""

    seq: int
    method: str

    def __str__(self) -> str:
        return f"{self.seq} {self.method}"


@lru_cache(maxsize=4096)
def parse_cseq(text: str) -> CSeq:
    """Parse ``1*DIGIT LWS Method``; the number must fit in 32 bits."""
    number, _, method = text.partition(" ")
    method = method.strip()
    if not number.isdigit() or not number.isascii() or not TOKEN.match(method):
        raise SipParseError(f"malformed CSeq {text!r}")
    seq = int(number)
    if seq > 2**32 - 1:
        raise SipParseError(f"CSeq number {number} is larger than 2**32-1")
    return CSeq(seq, method)


def split_list(text: str) -> list[str]:
    """Split a comma-separated header value, minding quoted strings and ``<...>``."""
    if '"' not in text and "<" not in text:
        return [part.strip() for part in text.split(",") if part.strip()]
    out: list[str] = []
    start = 0
    depth = 0
    quoted = False
    i = 0
    while i < len(text):
        c = text[i]
        if quoted:
            if c == "\\":
                i += 1
            elif c == '"':
                quoted = False
        elif c == '"':
            quoted = True
        elif c == "<":
            depth += 1
        elif c == ">":
            depth = max(0, depth - 1)
        elif c == "," and depth == 0:
            out.append(text[start:i].strip())
            start = i + 1
        i += 1
    out.append(text[start:].strip())
    return [part for part in out if part]


def parse_tokens(text: str) -> list[str]:
    """A comma-separated list of tokens (Allow, Supported, Require), lower-cased for options."""
    return [part.strip() for part in text.split(",") if part.strip()]
