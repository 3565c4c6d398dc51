"""Certificates from the first run: a local CA, a server certificate, reuse and renewal."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509

from koe.cli.tls import TlsError, ensure_certificates
from koe.core.settings import Settings


def _san(path: Path) -> set[str]:
    cert = x509.load_pem_x509_certificate(path.read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return {str(n.value) for n in names}


def _serial(path: Path) -> int:
    return x509.load_pem_x509_certificate(path.read_bytes()).serial_number


def test_first_run_makes_a_ca_and_a_server_certificate(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, http_host="koe.example.jp")
    files = ensure_certificates(settings)
    assert files.created
    assert files.ca_cert == tmp_path / "tls" / "ca.crt"
    assert (files.cert, files.key) == (
        tmp_path / "tls" / "server.crt",
        tmp_path / "tls" / "server.key",
    )
    for key in (files.key, tmp_path / "tls" / "ca.key"):
        assert key.stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "tls").stat().st_mode & 0o777 == 0o700
    assert _san(files.cert) == {"localhost", "127.0.0.1", "::1", "koe.example.jp"}
    ca = x509.load_pem_x509_certificate(files.ca_cert.read_bytes())
    server = x509.load_pem_x509_certificate(files.cert.read_bytes())
    server.verify_directly_issued_by(ca)
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert not server.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    lifetime = server.not_valid_after_utc - server.not_valid_before_utc
    assert lifetime <= timedelta(days=398)


def test_later_runs_reuse_and_renew_from_the_same_ca(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    first = ensure_certificates(settings)
    ca_serial, server_serial = _serial(tmp_path / "tls" / "ca.crt"), _serial(first.cert)

    again = ensure_certificates(settings)
    assert not again.created
    assert _serial(again.cert) == server_serial

    # A new bind address: the server certificate is reissued, the trusted CA stays.
    moved = ensure_certificates(Settings(data_dir=tmp_path, http_host="192.0.2.10"))
    assert moved.created
    assert "192.0.2.10" in _san(moved.cert)
    assert _serial(tmp_path / "tls" / "ca.crt") == ca_serial
    assert _serial(moved.cert) != server_serial

    # Near its end, the server certificate is renewed, again from the same CA.
    later = datetime.now(UTC) + timedelta(days=380)
    renewed = ensure_certificates(Settings(data_dir=tmp_path, http_host="192.0.2.10"), now=later)
    assert renewed.created
    assert _serial(tmp_path / "tls" / "ca.crt") == ca_serial

    # A damaged key is replaced rather than served.
    renewed.key.write_text("not a key", encoding="utf-8")
    repaired = ensure_certificates(Settings(data_dir=tmp_path, http_host="192.0.2.10"))
    assert repaired.created
    assert repaired.key.read_text(encoding="utf-8").startswith("-----BEGIN PRIVATE KEY-----")


def test_wildcard_bind_adds_this_host_and_public_url(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path, http_host="0.0.0.0", public_url="https://cc.example.jp:8443/"
    )
    names = _san(ensure_certificates(settings).cert)
    assert {"localhost", "127.0.0.1", "::1", "cc.example.jp"} <= names
    assert "0.0.0.0" not in names
    assert "::" not in names


def test_a_configured_certificate_is_used_as_it_is(tmp_path: Path) -> None:
    own = ensure_certificates(Settings(data_dir=tmp_path / "elsewhere"))
    settings = Settings(data_dir=tmp_path, tls_cert=own.cert, tls_key=own.key)
    files = ensure_certificates(settings)
    assert (files.cert, files.key, files.ca_cert, files.created) == (own.cert, own.key, None, False)
    assert not (tmp_path / "tls").exists()

    with pytest.raises(TlsError) as half:
        ensure_certificates(Settings(data_dir=tmp_path, tls_cert=own.cert))
    assert half.value.code == "tls_config"
    with pytest.raises(TlsError) as missing:
        ensure_certificates(
            Settings(data_dir=tmp_path, tls_cert=tmp_path / "no.crt", tls_key=own.key)
        )
    assert "no.crt" in missing.value.message_en
