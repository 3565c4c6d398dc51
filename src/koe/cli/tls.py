"""TLS from the first run (R5.7): a local CA and a server certificate, made with ``cryptography``.

On first start ``koe up``/``koe serve`` create ``<data_dir>/tls/ca.{crt,key}`` and
``server.{crt,key}`` for localhost, 127.0.0.1, ::1 and the configured host. Later starts
reuse them; the server certificate alone is reissued from the same CA when it nears its
end or no longer covers the names, so a CA the user trusted once stays trusted. Key files
are written with mode 0600. A certificate configured in the settings is used as it is.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from koe.cli.runtime import write_file
from koe.core.errors import KoeError
from koe.core.settings import Settings

CA_DAYS = 3650
SERVER_DAYS = 397  # browsers refuse longer-lived server certificates
RENEW_BEFORE = timedelta(days=30)
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOSTNAME = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})*$")
_WILDCARD_HOSTS = ("", "0.0.0.0", "::")  # noqa: S104 - recognised, not bound

Name = x509.DNSName | x509.IPAddress


class TlsError(KoeError):
    """Certificates that cannot be made or used."""

    status = 500


@dataclass(frozen=True, slots=True)
class TlsFiles:
    """Where the server's certificate and key are, and the CA to trust (None if configured)."""

    cert: Path
    key: Path
    ca_cert: Path | None
    created: bool


def server_names(settings: Settings) -> list[Name]:
    """The names the server certificate covers: loopback, the bind host, the public URL's."""
    names: list[str] = ["localhost", "127.0.0.1", "::1", settings.http_host]
    if settings.public_url:
        names.append(urlsplit(settings.public_url).hostname or "")
    if settings.http_host in _WILDCARD_HOSTS:
        names.append(socket.gethostname())
    result: list[Name] = []
    for name in names:
        if name in _WILDCARD_HOSTS:
            continue
        try:
            entry: Name = x509.IPAddress(ipaddress.ip_address(name.strip("[]")))
        except ValueError:
            if not _HOSTNAME.match(name):
                continue
            entry = x509.DNSName(name.lower())
        if entry not in result:
            result.append(entry)
    return result


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _key_usage(*, signs_certificates: bool) -> x509.KeyUsage:
    """A CA signs certificates; a server signs its TLS handshakes."""
    return x509.KeyUsage(
        digital_signature=not signs_certificates,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=signs_certificates,
        crl_sign=signs_certificates,
        encipher_only=False,
        decipher_only=False,
    )


def _new_ca(now: datetime) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Koe local CA"),
            x509.NameAttribute(NameOID.COMMON_NAME, f"Koe local CA {socket.gethostname()}"[:64]),
        ]
    )
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(signs_certificates=True), critical=True)
        .add_extension(ski, critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def _new_server(
    ca: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey, names: list[Name], now: datetime
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    first = names[0].value
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, str(first))])
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(min(now + timedelta(days=SERVER_DAYS), ca.not_valid_after_utc))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(signs_certificates=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return cert, key


def _load_pair(
    cert_path: Path, key_path: Path
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None:
    """A certificate and its EC key from PEM files, or None if absent, unreadable or mismatched."""
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError):
        return None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.public_key() != cert.public_key():
        return None
    return cert, key


def _fresh(cert: x509.Certificate, now: datetime) -> bool:
    return cert.not_valid_before_utc <= now and now + RENEW_BEFORE < cert.not_valid_after_utc


def _server_ok(
    cert: x509.Certificate, ca: x509.Certificate, names: list[Name], now: datetime
) -> bool:
    try:
        cert.verify_directly_issued_by(ca)
        covered = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (InvalidSignature, ValueError, TypeError, x509.ExtensionNotFound):
        return False
    return _fresh(cert, now) and all(n in covered for n in names)


def ensure_certificates(settings: Settings, now: datetime | None = None) -> TlsFiles:
    """The certificate and key to serve HTTPS with, made or renewed as needed."""
    now = now or datetime.now(UTC)
    if settings.tls_cert or settings.tls_key:
        if not (settings.tls_cert and settings.tls_key):
            raise TlsError(
                "tls_config",
                "tls_cert と tls_key は両方指定してください。",
                "Set both tls_cert and tls_key, or neither.",
            )
        for path in (settings.tls_cert, settings.tls_key):
            if not path.is_file():
                raise TlsError(
                    "tls_config",
                    f"証明書ファイル {path} がありません。",
                    f"Certificate file {path} does not exist.",
                )
        return TlsFiles(settings.tls_cert, settings.tls_key, None, created=False)
    cert_path, key_path = settings.cert_paths()
    tls_dir = cert_path.parent
    try:
        tls_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        return _ensure_local(tls_dir, cert_path, key_path, server_names(settings), now)
    except OSError as err:
        raise TlsError(
            "tls_files",
            f"証明書を {tls_dir} に作成できません: {err.strerror}",
            f"Cannot create certificates in {tls_dir}: {err.strerror}",
        ) from err


def _ensure_local(
    tls_dir: Path, cert_path: Path, key_path: Path, names: list[Name], now: datetime
) -> TlsFiles:
    ca_cert_path, ca_key_path = tls_dir / "ca.crt", tls_dir / "ca.key"
    created = False
    ca_pair = _load_pair(ca_cert_path, ca_key_path)
    if ca_pair is None or not _fresh(ca_pair[0], now):
        ca_pair = _new_ca(now)
        write_file(ca_key_path, _key_pem(ca_pair[1]), 0o600)
        write_file(ca_cert_path, ca_pair[0].public_bytes(serialization.Encoding.PEM), 0o644)
        created = True
    ca, ca_key = ca_pair
    server = _load_pair(cert_path, key_path)
    if server is None or not _server_ok(server[0], ca, names, now):
        cert, key = _new_server(ca, ca_key, names, now)
        write_file(key_path, _key_pem(key), 0o600)
        write_file(cert_path, cert.public_bytes(serialization.Encoding.PEM), 0o644)
        created = True
    return TlsFiles(cert_path, key_path, ca_cert_path, created)
