"""Koe's asyncio SIP stack (RFC 3261 and friends): messages, transports, transactions, dialogs.

The names most callers need are re-exported here; see docs/sip.md for the map.
"""

from koe.sip.auth import Credentials, DigestServer
from koe.sip.dialog import Dialog, DialogState
from koe.sip.errors import SipError, SipParseError, SipTimeoutError, SipTransportError
from koe.sip.message import SipMessage, SipRequest, SipResponse
from koe.sip.registrar import Binding, Registrar
from koe.sip.transaction import Timers
from koe.sip.ua import ClientInvite, IncomingRequest, SipConfig, SipStack
from koe.sip.uri import AbsoluteUri, SipUri, TelUri, parse_uri

__all__ = [
    "AbsoluteUri",
    "Binding",
    "ClientInvite",
    "Credentials",
    "Dialog",
    "DialogState",
    "DigestServer",
    "IncomingRequest",
    "Registrar",
    "SipConfig",
    "SipError",
    "SipMessage",
    "SipParseError",
    "SipRequest",
    "SipResponse",
    "SipStack",
    "SipTimeoutError",
    "SipTransportError",
    "SipUri",
    "TelUri",
    "Timers",
    "parse_uri",
]
