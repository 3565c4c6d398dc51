"""Caller identity: P-Asserted-Identity, P-Preferred-Identity (RFC 3325), Privacy (RFC 3323).

Koe trusts identity only from carriers' trunks; phones' PAI/PPI are removed at the
edge (``strip_untrusted_identity``) and Koe asserts the identity itself.
"""

from __future__ import annotations

from collections.abc import Iterable

from koe.sip.headers import NameAddr
from koe.sip.message import SipMessage

PRIVACY_VALUES = ("header", "session", "user", "none", "critical", "id", "history")


def asserted_identities(msg: SipMessage) -> list[NameAddr]:
    """The P-Asserted-Identity values (at most one sip/sips and one tel, RFC 3325 §9.1)."""
    return msg._name_addrs("p-asserted-identity")


def preferred_identities(msg: SipMessage) -> list[NameAddr]:
    """The P-Preferred-Identity values (RFC 3325 §9.2)."""
    return msg._name_addrs("p-preferred-identity")


def privacy(msg: SipMessage) -> set[str]:
    """The Privacy values (RFC 3323 §4.2), lower case; ``;``-separated, also across lines."""
    out: set[str] = set()
    for value in msg.headers.get_all("privacy"):
        out.update(part.strip().lower() for part in value.split(";") if part.strip())
    return out


def is_withheld(msg: SipMessage) -> bool:
    """Whether the caller asked to withhold their number (Privacy id/user/header, anonymous)."""
    if privacy(msg) & {"id", "user", "header"}:
        return True
    uri = msg.from_.uri
    return (
        getattr(uri, "user", None) == "anonymous" or getattr(uri, "host", "") == "anonymous.invalid"
    )


def strip_untrusted_identity(msg: SipMessage) -> None:
    """Remove PAI and PPI from a message that came from an untrusted source (RFC 3325 §5)."""
    msg.headers.remove("p-asserted-identity")
    msg.headers.remove("p-preferred-identity")


def assert_identity(
    msg: SipMessage, identities: Iterable[str], privacy_values: Iterable[str] = ()
) -> None:
    """Set P-Asserted-Identity values and, when given, Privacy (RFC 3325 §9.1, RFC 3323 §4.2)."""
    msg.headers.remove("p-asserted-identity")
    for identity in identities:
        msg.headers.add("P-Asserted-Identity", identity)
    values = [v for v in privacy_values if v]
    for value in values:
        if value.lower() not in PRIVACY_VALUES:
            raise ValueError(f"unknown Privacy value {value!r}")
    if values:
        msg.headers.set("Privacy", ";".join(values))
