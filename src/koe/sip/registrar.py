"""Registrar (RFC 3261 §10.3) for agents' phones: per-tenant domains, digest, NAT-aware bindings.

Bindings remember the flow a REGISTER came over, so requests to a phone behind NAT go
back to its public address or over its own TCP/TLS connection (RFC 5626 style), and
the Path values a front end (Kamailio) added (RFC 3327).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from koe.sip.auth import DigestServer
from koe.sip.errors import SipParseError
from koe.sip.headers import NameAddr
from koe.sip.transport import Destination, Flow, bare_host
from koe.sip.ua import IncomingRequest
from koe.sip.uri import SipUri

log = logging.getLogger(__name__)

DEFAULT_EXPIRES = 3600
MIN_EXPIRES = 60
MAX_EXPIRES = 7200
MAX_BINDINGS_PER_AOR = 10
SWEEP_INTERVAL = 60.0

TenantLookup = Callable[[str], str | None]
"""``domain -> tenant_id`` or None when no tenant serves that domain."""
AuthLookup = Callable[[str, str], DigestServer | None]
"""``(tenant_id, domain) -> DigestServer`` (None: that tenant does not authenticate)."""


@dataclass
class Binding:
    """One contact bound to an address of record (RFC 3261 §10.3 step 7)."""

    tenant_id: str
    aor: str
    contact: NameAddr
    expires_at: float
    call_id: str
    cseq: int
    q: float = 1.0
    flow: Flow | None = None
    path: list[str] = field(default_factory=list)
    instance: str | None = None
    reg_id: str | None = None

    @property
    def uri(self) -> SipUri:
        """The contact URI."""
        return self.contact.sip_uri

    def expires_in(self, now: float) -> int:
        """Seconds left."""
        return max(0, int(self.expires_at - now + 0.5))

    def destination(self, nat_fix: bool = True) -> Destination | None:
        """Where to send requests for this binding: its flow when behind NAT or on a stream.

        Returns None when the contact URI itself should be resolved (no NAT, UDP).
        """
        flow = self.flow
        if flow is None or self.path:
            return None
        if flow.connection is not None:
            if flow.connection.transport is not None and not flow.connection.transport.is_closing():
                return flow.destination
            return None
        moved = (
            bare_host(self.uri.host) != flow.remote[0] or (self.uri.port or 5060) != flow.remote[1]
        )
        if nat_fix and moved:
            return flow.destination
        return None


class Registrar:
    """Handles REGISTER for the domains that ``tenant_for_domain`` knows."""

    def __init__(
        self,
        tenant_for_domain: TenantLookup,
        *,
        auth: AuthLookup | None = None,
        min_expires: int = MIN_EXPIRES,
        max_expires: int = MAX_EXPIRES,
        default_expires: int = DEFAULT_EXPIRES,
        max_bindings: int = MAX_BINDINGS_PER_AOR,
        clock: Callable[[], float] = time.monotonic,
        on_change: Callable[[str, str, list[Binding]], None] | None = None,
    ) -> None:
        self.tenant_for_domain = tenant_for_domain
        self.auth = auth
        self.min_expires = min_expires
        self.max_expires = max_expires
        self.default_expires = default_expires
        self.max_bindings = max_bindings
        self.clock = clock
        self.on_change = on_change
        self._bindings: dict[tuple[str, str], list[Binding]] = {}
        self._last_sweep = clock()

    def lookup(self, tenant_id: str, aor: str) -> list[Binding]:
        """Live bindings of ``aor`` in ``tenant_id``, highest q first."""
        key = (tenant_id, aor)
        now = self.clock()
        live = [b for b in self._bindings.get(key, []) if b.expires_at > now]
        if live:
            self._bindings[key] = live
        else:
            self._bindings.pop(key, None)
        return sorted(live, key=lambda b: -b.q)

    def sweep(self) -> int:
        """Drop expired bindings everywhere; returns how many went."""
        now = self.clock()
        gone = 0
        for key in list(self._bindings):
            before = len(self._bindings[key])
            self._bindings[key] = [b for b in self._bindings[key] if b.expires_at > now]
            gone += before - len(self._bindings[key])
            if not self._bindings[key]:
                del self._bindings[key]
        return gone

    def handle(self, inreq: IncomingRequest) -> None:
        """Process one REGISTER (RFC 3261 §10.3 steps 1–8) and answer it."""
        if self.clock() - self._last_sweep > SWEEP_INTERVAL:
            self._last_sweep = self.clock()
            self.sweep()  # AORs nobody looks up any more must not pile up
        req = inreq.request
        uri = req.uri
        if not isinstance(uri, SipUri):
            inreq.respond(416)
            return
        domain = uri.host.lower()
        tenant = self.tenant_for_domain(domain)
        if tenant is None:
            inreq.respond(404, "Domain Not Served")
            return
        to = req.to
        if not isinstance(to.uri, SipUri):
            inreq.respond(400, "AOR Is Not A SIP URI")
            return
        aor = to.uri.aor
        server = self.auth(tenant, domain) if self.auth is not None else None
        if server is not None:
            result = server.check(req.headers.get("authorization"), "REGISTER")
            if not result.ok:
                challenges = server.challenges(stale=result.stale)
                inreq.respond(401, headers=[("WWW-Authenticate", c) for c in challenges])
                return
            if result.username != to.uri.user:
                inreq.respond(403, "Not Allowed To Register This AOR")
                return
        try:
            self._update(inreq, tenant, aor)
        except SipParseError as err:
            inreq.respond(err.status_code, headers=[("Warning", f'399 koe "{err.reason}"')])

    def _update(self, inreq: IncomingRequest, tenant: str, aor: str) -> None:
        req = inreq.request
        now = self.clock()
        key = (tenant, aor)
        header_expires = req.expires
        raw_contacts = req.headers.get_all("contact")
        current = self.lookup(tenant, aor)
        call_id = req.call_id
        cseq = req.cseq.seq
        if any(v.strip() == "*" for v in raw_contacts):
            if len(raw_contacts) != 1 or header_expires != 0:
                raise SipParseError("Contact: * needs Expires: 0 and no other Contact")
            for b in current:
                if b.call_id == call_id and cseq <= b.cseq:
                    raise SipParseError("REGISTER CSeq out of order", 500)
            self._bindings.pop(key, None)
            self._changed(tenant, aor, [])
            self._answer(inreq, [])
            return
        paths = [str(p) for p in req.paths] if "path" in req.options("supported") else []
        changed = False
        for contact in req.contacts:
            if not isinstance(contact.uri, SipUri):
                raise SipParseError(f"Contact URI scheme {contact.uri.scheme} is not sip or sips")
            expires = _contact_expires(contact, header_expires, self.default_expires)
            if 0 < expires < self.min_expires:
                inreq.respond(423, headers=[("Min-Expires", str(self.min_expires))])
                return
            expires = min(expires, self.max_expires)
            instance = contact.param("+sip.instance")
            reg_id = contact.param("reg-id")
            match = [
                b
                for b in current
                if str(b.uri) == str(contact.uri)
                or (instance is not None and b.instance == instance and b.reg_id == reg_id)
            ]
            for old in match:
                if old.call_id == call_id and cseq <= old.cseq:
                    raise SipParseError("REGISTER CSeq out of order", 500)
                current.remove(old)
            if expires == 0:
                changed = True
                continue
            q_text = contact.param("q")
            current.append(
                Binding(
                    tenant,
                    aor,
                    NameAddr(contact.uri),
                    now + expires,
                    call_id,
                    cseq,
                    q=float(q_text) if q_text and _is_q(q_text) else 1.0,
                    flow=inreq.flow,
                    path=paths,
                    instance=instance,
                    reg_id=reg_id,
                )
            )
            changed = True
        current = current[-self.max_bindings :]
        if current:
            self._bindings[key] = current
        else:
            self._bindings.pop(key, None)
        if changed:
            self._changed(tenant, aor, current)
        self._answer(inreq, current, paths)

    def _changed(self, tenant: str, aor: str, bindings: list[Binding]) -> None:
        log.info("sip registration tenant=%s aor=%s contacts=%d", tenant, aor, len(bindings))
        if self.on_change is not None:
            self.on_change(tenant, aor, bindings)

    def _answer(
        self, inreq: IncomingRequest, bindings: list[Binding], paths: list[str] | None = None
    ) -> None:
        now = self.clock()
        headers = [("Contact", f"<{b.uri}>;expires={b.expires_in(now)}") for b in bindings]
        headers += [("Path", p) for p in paths or []]
        headers.append(("Date", time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime())))
        inreq.respond(200, headers=headers)


def _is_q(text: str) -> bool:
    try:
        return 0.0 <= float(text) <= 1.0
    except ValueError:
        return False


def _contact_expires(contact: NameAddr, header: int | None, default: int) -> int:
    value = contact.param("expires")
    if value is not None:
        if not value.isdigit():
            raise SipParseError(f"malformed Contact expires {value!r}")
        return min(int(value), 2**32 - 1)
    return header if header is not None else default
