"""The suite's own guards work: non-loopback sockets are refused."""

from __future__ import annotations

import socket

import pytest

from tests.conftest import NonLoopbackSocketError


def test_connect_to_public_address_is_refused() -> None:
    with (
        socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s,
        pytest.raises(NonLoopbackSocketError, match="loopback"),
    ):
        s.connect(("192.0.2.1", 80))


def test_bind_to_wildcard_is_refused() -> None:
    with (
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s,
        pytest.raises(NonLoopbackSocketError),
    ):
        s.bind(("0.0.0.0", 0))


def test_loopback_is_allowed() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        assert s.getsockname()[0] == "127.0.0.1"
