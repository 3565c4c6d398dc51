"""SIP, SIPS and tel URIs (RFC 3261 §19.1, RFC 3966) and other absolute URIs, without I/O."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from functools import lru_cache

from koe.sip.errors import SipParseError

Params = tuple[tuple[str, str | None], ...]

_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+\-.]*\Z")
# user = 1*( unreserved / escaped / user-unreserved ), RFC 3261 §25.1
_USER = re.compile(r"(?:[A-Za-z0-9\-_.!~*'()&=+$,;?/]|%[0-9A-Fa-f]{2})+\Z")
_PASSWORD = re.compile(r"(?:[A-Za-z0-9\-_.!~*'()&=+$,]|%[0-9A-Fa-f]{2})*\Z")
_HOSTNAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9\-.]*[A-Za-z0-9])?\.?\Z")
_IPV6REF = re.compile(r"\[[0-9A-Fa-f:.]+\]\Z")
_PARAMCHARS = re.compile(r"(?:[A-Za-z0-9\-_.!~*'()\[\]/:&+$]|%[0-9A-Fa-f]{2})+\Z")
_HEADERCHARS = re.compile(r"(?:[A-Za-z0-9\-_.!~*'()\[\]/?:+$]|%[0-9A-Fa-f]{2})*\Z")
_TEL = re.compile(r"[0-9A-Fa-f*#+\-.()pPwW%]+\Z")


def _params(text: str, where: str) -> Params:
    out: list[tuple[str, str | None]] = []
    for item in text.split(";"):
        name, eq, value = item.partition("=")
        if not name or not _PARAMCHARS.match(name) or (eq and not _PARAMCHARS.match(value)):
            raise SipParseError(f"malformed {where} parameter {item!r}")
        out.append((name, value if eq else None))
    return tuple(out)


def _find(params: Params, name: str) -> tuple[bool, str | None]:
    low = name.lower()
    for key, value in params:
        if key.lower() == low:
            return True, value
    return False, None


def _format_params(params: Params) -> str:
    return "".join(f";{k}" if v is None else f";{k}={v}" for k, v in params)


@dataclass(frozen=True, slots=True)
class SipUri:
    """A ``sip:`` or ``sips:`` URI (RFC 3261 §19.1.1); immutable, change it with ``replace``."""

    scheme: str
    host: str
    user: str | None = None
    password: str | None = None
    port: int | None = None
    params: Params = ()
    headers: tuple[tuple[str, str], ...] = ()

    def param(self, name: str) -> str | None:
        """The value of URI parameter ``name`` (case-insensitive), or None."""
        return _find(self.params, name)[1]

    def has_param(self, name: str) -> bool:
        """Whether URI parameter ``name`` is present, with or without a value."""
        return _find(self.params, name)[0]

    def with_param(self, name: str, value: str | None = None) -> SipUri:
        """A copy with parameter ``name`` set to ``value`` (replacing any old value)."""
        rest = tuple(p for p in self.params if p[0].lower() != name.lower())
        return replace(self, params=(*rest, (name, value)))

    def without_param(self, name: str) -> SipUri:
        """A copy without parameter ``name``."""
        return replace(self, params=tuple(p for p in self.params if p[0].lower() != name.lower()))

    @property
    def secure(self) -> bool:
        """True for ``sips:`` URIs."""
        return self.scheme == "sips"

    @property
    def transport(self) -> str | None:
        """The ``transport`` parameter, lower case."""
        value = self.param("transport")
        return value.lower() if value else None

    @property
    def host_port(self) -> str:
        """``host[:port]`` as written in a Via sent-by."""
        return self.host if self.port is None else f"{self.host}:{self.port}"

    @property
    def aor(self) -> str:
        """The address of record form ``sip:user@host`` (RFC 3261 §10.3, lower-cased host)."""
        user = f"{self.user}@" if self.user is not None else ""
        return f"{'sip' if self.scheme == 'sips' else self.scheme}:{user}{self.host.lower()}"

    def __str__(self) -> str:
        out = [self.scheme, ":"]
        if self.user is not None:
            out.append(self.user)
            if self.password is not None:
                out += [":", self.password]
            out.append("@")
        out.append(self.host)
        if self.port is not None:
            out.append(f":{self.port}")
        out.append(_format_params(self.params))
        if self.headers:
            out.append("?" + "&".join(f"{k}={v}" for k, v in self.headers))
        return "".join(out)


@dataclass(frozen=True, slots=True)
class TelUri:
    """A ``tel:`` URI (RFC 3966): a telephone number with parameters."""

    number: str
    params: Params = ()

    scheme = "tel"

    def param(self, name: str) -> str | None:
        """The value of parameter ``name`` (case-insensitive), or None."""
        return _find(self.params, name)[1]

    def __str__(self) -> str:
        return f"tel:{self.number}{_format_params(self.params)}"


@dataclass(frozen=True, slots=True)
class AbsoluteUri:
    """Any other absolute URI (RFC 3986), kept opaque: parsed, but not routable by SIP."""

    scheme: str
    opaque: str

    def __str__(self) -> str:
        return f"{self.scheme}:{self.opaque}"


Uri = SipUri | TelUri | AbsoluteUri


def parse_host_port(text: str, where: str = "host") -> tuple[str, int | None]:
    """Split and check ``host[:port]`` (RFC 3261 §25.1 hostport); IPv6 references keep brackets."""
    if text.startswith("["):
        end = text.find("]")
        host, rest = text[: end + 1], text[end + 1 :]
        if end < 0 or not _IPV6REF.match(host):
            raise SipParseError(f"malformed IPv6 reference in {where} {text!r}")
    else:
        host, colon, port_text = text.partition(":")
        rest = colon + port_text
        if not _HOSTNAME.match(host):
            raise SipParseError(f"malformed {where} {text!r}")
    if not rest:
        return host, None
    digits = rest[1:]
    if rest[0] != ":" or not digits.isdigit() or not digits.isascii() or int(digits) > 65535:
        raise SipParseError(f"malformed port in {where} {text!r}")
    return host, int(digits)


@lru_cache(maxsize=4096)
def parse_uri(text: str) -> Uri:
    """Parse a URI: sip/sips fully (RFC 3261 §19.1), tel (RFC 3966), anything else opaquely."""
    scheme, colon, rest = text.partition(":")
    if not colon or not _SCHEME.match(scheme):
        raise SipParseError(f"not a URI: {text!r}")
    low = scheme.lower()
    if any(c in text for c in ' \t\r\n<>"'):
        raise SipParseError(f"illegal character in URI {text!r}")
    if low in ("sip", "sips"):
        return _parse_sip(low, rest, text)
    if low == "tel":
        number, _, ptext = rest.partition(";")
        if not _TEL.match(number):
            raise SipParseError(f"malformed tel URI {text!r}")
        return TelUri(number, _params(ptext, "tel URI") if ptext else ())
    if not rest:
        raise SipParseError(f"empty URI {text!r}")
    return AbsoluteUri(low, rest)


def _parse_sip(scheme: str, rest: str, text: str) -> SipUri:
    user: str | None = None
    password: str | None = None
    at = rest.rfind("@")
    if at >= 0:
        userinfo, rest = rest[:at], rest[at + 1 :]
        user, colon, pw = userinfo.partition(":")
        if not _USER.match(user):
            raise SipParseError(f"malformed user part in URI {text!r}")
        if colon:
            if not _PASSWORD.match(pw):
                raise SipParseError(f"malformed password in URI {text!r}")
            password = pw
    rest, qmark, htext = rest.partition("?")
    hostport, semi, ptext = rest.partition(";")
    if not hostport:
        raise SipParseError(f"URI without a host: {text!r}")
    host, port = parse_host_port(hostport, "URI host")
    params = _params(ptext, "URI") if semi else ()
    headers: list[tuple[str, str]] = []
    if qmark:
        for item in htext.split("&"):
            name, eq, value = item.partition("=")
            if not name or not eq or not _HEADERCHARS.match(name + value):
                raise SipParseError(f"malformed URI header {item!r} in {text!r}")
            headers.append((name, value))
    return SipUri(scheme, host, user, password, port, params, tuple(headers))


def parse_sip_uri(text: str) -> SipUri:
    """Parse a URI that must be sip or sips (416 Unsupported URI Scheme otherwise)."""
    uri = parse_uri(text)
    if not isinstance(uri, SipUri):
        raise SipParseError(f"unsupported URI scheme {uri.scheme!r}", 416)
    return uri
