"""HTTP Digest authentication for SIP (RFC 3261 §22, RFC 2617, RFC 8760): both directions.

Client side answers 401/407 challenges (MD5 or SHA-256, qop=auth or none). Server
side issues self-verifying nonces (HMAC over a timestamp: expiry without state),
checks responses, and refuses replays by tracking the nonce count per nonce.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import re
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from koe.sip.errors import SipParseError
from koe.sip.headers import quote, unquote

ALGORITHMS = {"MD5": hashlib.md5, "SHA-256": hashlib.sha256}
_AUTH_PARAM = re.compile(
    r'\s*([A-Za-z0-9\-_.]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^\s,]+)\s*(?:,|$)', re.DOTALL
)


def _h(algorithm: str, text: str) -> str:
    hasher = ALGORITHMS[algorithm.upper().removesuffix("-SESS")]
    return hasher(text.encode("utf-8", "surrogateescape")).hexdigest()


def parse_auth_header(value: str) -> tuple[str, dict[str, str]]:
    """Split ``Digest a=b, c="d"`` into the scheme and unquoted parameters (RFC 2617 §3.2)."""
    scheme, _, rest = value.strip().partition(" ")
    params: dict[str, str] = {}
    pos = 0
    rest = rest.strip()
    while pos < len(rest):
        m = _AUTH_PARAM.match(rest, pos)
        if m is None:
            raise SipParseError(f"malformed {scheme} credentials near {rest[pos : pos + 30]!r}")
        params[m.group(1).lower()] = unquote(m.group(2))
        pos = m.end()
    return scheme, params


def digest_response(
    *,
    algorithm: str,
    username: str,
    realm: str,
    password: str | None,
    method: str,
    uri: str,
    nonce: str,
    qop: str | None,
    nc: str,
    cnonce: str,
    ha1: str | None = None,
) -> str:
    """The ``response`` value (RFC 2617 §3.2.2.1, RFC 8760 §2.4)."""
    if ha1 is None:
        ha1 = _h(algorithm, f"{username}:{realm}:{password}")
    if algorithm.upper().endswith("-SESS"):
        ha1 = _h(algorithm, f"{ha1}:{nonce}:{cnonce}")
    ha2 = _h(algorithm, f"{method}:{uri}")
    if qop:
        return _h(algorithm, f"{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}")
    return _h(algorithm, f"{ha1}:{nonce}:{ha2}")


@dataclass(frozen=True, slots=True)
class Credentials:
    """A username and password for one realm (or any realm when ``realm`` is None)."""

    username: str
    password: str
    realm: str | None = None


def answer_challenge(challenge: str, creds: Credentials, method: str, uri: str, nc: int = 1) -> str:
    """The Authorization/Proxy-Authorization value answering one challenge (RFC 2617 §3.2.2)."""
    scheme, params = parse_auth_header(challenge)
    if scheme.lower() != "digest":
        raise SipParseError(f"unsupported authentication scheme {scheme!r}", 401)
    algorithm = params.get("algorithm", "MD5")
    if algorithm.upper().removesuffix("-SESS") not in ALGORITHMS:
        raise SipParseError(f"unsupported digest algorithm {algorithm!r}", 401)
    realm = params.get("realm", "")
    nonce = params.get("nonce", "")
    offered = [q.strip() for q in params.get("qop", "").split(",") if q.strip()]
    qop = "auth" if "auth" in offered else None
    if offered and qop is None:
        raise SipParseError(f"unsupported qop {params['qop']!r}", 401)
    cnonce = secrets.token_hex(8)
    nc_text = f"{nc:08x}"
    response = digest_response(
        algorithm=algorithm,
        username=creds.username,
        realm=realm,
        password=creds.password,
        method=method,
        uri=uri,
        nonce=nonce,
        qop=qop,
        nc=nc_text,
        cnonce=cnonce,
    )
    parts = [
        f"username={quote(creds.username)}",
        f"realm={quote(realm)}",
        f"nonce={quote(nonce)}",
        f"uri={quote(uri)}",
        f"response={quote(response)}",
        f"algorithm={algorithm}",
    ]
    if "opaque" in params:
        parts.append(f"opaque={quote(params['opaque'])}")
    if qop:
        parts += [f"qop={qop}", f"nc={nc_text}", f"cnonce={quote(cnonce)}"]
    return "Digest " + ", ".join(parts)


PasswordLookup = Callable[[str, str], str | None]
"""``(realm, username) -> password`` or None when the user does not exist."""


@dataclass(frozen=True, slots=True)
class AuthResult:
    """Outcome of checking credentials: ``ok``, the user, or the challenge to send."""

    ok: bool
    username: str | None = None
    stale: bool = False
    reason: str = ""


class DigestServer:
    """Challenges and verifies digest credentials for one realm (RFC 3261 §22.1, §22.4)."""

    def __init__(
        self,
        realm: str,
        lookup: PasswordLookup,
        *,
        algorithms: tuple[str, ...] = ("SHA-256", "MD5"),
        qop: bool = True,
        nonce_lifetime: float = 300.0,
        clock: Callable[[], float] = time.time,
        max_nonces: int = 100_000,
    ) -> None:
        self.realm = realm
        self.lookup = lookup
        self.algorithms = algorithms
        self.qop = qop
        self.nonce_lifetime = nonce_lifetime
        self.clock = clock
        self.max_nonces = max_nonces
        self._secret = secrets.token_bytes(32)
        self._seen: dict[str, int] = {}  # nonce -> highest nonce count seen (replay protection)

    def _nonce(self) -> str:
        stamp = f"{self.clock():.3f}:{secrets.token_hex(6)}"
        mac = hmac.new(self._secret, stamp.encode(), hashlib.sha256).hexdigest()[:24]
        return base64.b64encode(f"{stamp}:{mac}".encode()).decode()

    def _nonce_age(self, nonce: str) -> float | None:
        """Seconds since ``nonce`` was issued, or None if we did not issue it."""
        try:
            stamp_text, rand, mac = base64.b64decode(nonce, validate=True).decode().split(":")
        except (ValueError, UnicodeDecodeError):
            return None
        stamp = f"{stamp_text}:{rand}"
        good = hmac.new(self._secret, stamp.encode(), hashlib.sha256).hexdigest()[:24]
        if not hmac.compare_digest(good, mac):
            return None
        return self.clock() - float(stamp_text)

    def challenges(self, stale: bool = False) -> list[str]:
        """WWW-Authenticate/Proxy-Authenticate values, strongest algorithm first (RFC 8760 §2.4)."""
        nonce = self._nonce()
        out = []
        for algorithm in self.algorithms:
            parts = [
                f"realm={quote(self.realm)}",
                f"nonce={quote(nonce)}",
                f"algorithm={algorithm}",
            ]
            if self.qop:
                parts.append('qop="auth"')
            if stale:
                parts.append("stale=TRUE")
            out.append("Digest " + ", ".join(parts))
        return out

    def check(self, header: str | None, method: str) -> AuthResult:
        """Verify one Authorization value for ``method``; never raises on bad input."""
        if not header:
            return AuthResult(False, reason="no credentials")
        try:
            scheme, params = parse_auth_header(header)
        except SipParseError as err:
            return AuthResult(False, reason=err.reason)
        if scheme.lower() != "digest":
            return AuthResult(False, reason=f"unsupported scheme {scheme}")
        username = params.get("username", "")
        nonce = params.get("nonce", "")
        algorithm = params.get("algorithm", "MD5").upper()
        if params.get("realm") != self.realm or algorithm not in self.algorithms:
            return AuthResult(False, username, reason="wrong realm or algorithm")
        age = self._nonce_age(nonce)
        if age is None:
            return AuthResult(False, username, reason="unknown nonce")
        password = self.lookup(self.realm, username)
        if password is None:
            return AuthResult(False, username, reason="unknown user")
        qop = params.get("qop")
        if self.qop and qop != "auth":
            return AuthResult(False, username, reason="qop=auth required")
        nc = params.get("nc", "")
        expected = digest_response(
            algorithm=algorithm,
            username=username,
            realm=self.realm,
            password=password,
            method=method,
            uri=params.get("uri", ""),
            nonce=nonce,
            qop=qop,
            nc=nc,
            cnonce=params.get("cnonce", ""),
        )
        if not hmac.compare_digest(expected, params.get("response", "")):
            return AuthResult(False, username, reason="wrong password")
        if age > self.nonce_lifetime:
            return AuthResult(False, username, stale=True, reason="nonce expired")
        count = int(nc, 16) if qop and re.fullmatch(r"[0-9a-fA-F]{8}", nc) else 0
        if qop:
            if count <= self._seen.get(nonce, 0):
                return AuthResult(False, username, reason="replayed nonce count")
            self._remember(nonce, count)
        return AuthResult(True, username)

    def _remember(self, nonce: str, count: int) -> None:
        if len(self._seen) >= self.max_nonces:
            for old in list(self._seen)[: self.max_nonces // 10]:
                del self._seen[old]
        self._seen[nonce] = count


def trusted_source(address: str, networks: Iterable[str]) -> bool:
    """Whether ``address`` lies in one of ``networks``: carriers' trunks are trusted by source
    address (their closed network) instead of digest."""
    try:
        ip = ipaddress.ip_address(address.strip("[]"))
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(net, strict=False) for net in networks)
