"""Certificates for mutual TLS between the platform and the bank (local CA, server, client).

``make_certs(DIR, now=…)`` writes:

- ``ca.pem`` / ``ca.key``: a local certificate authority (keep ``ca.key`` offline in real use);
- ``server.pem`` / ``server.key``: the bank's server certificate, for ``127.0.0.1`` and ``localhost``;
- ``client.pem`` / ``client.key``: the platform's client certificate, the only client the bank admits.

Keys are ECDSA P-256, written with mode 0600. A real bank issues the client certificate itself (or
pins the platform's); this CA only serves the sandbox bank and the tests.
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA = "ca"
SERVER = "server"
CLIENT = "client"


@dataclass(frozen=True)
class CertPaths:
    """Where the files of one certificate directory are."""

    directory: Path

    def cert(self, name: str) -> Path:
        return self.directory / f"{name}.pem"

    def key(self, name: str) -> Path:
        return self.directory / f"{name}.key"


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "huzhu sandbox"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)


def _issue(
    subject: str, key: ec.EllipticCurvePrivateKey, *, issuer: x509.Name, issuer_key: ec.EllipticCurvePrivateKey,
    now: datetime, days: int, ca: bool = False, server: bool = False,
) -> x509.Certificate:
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=0 if ca else None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                          data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                          encipher_only=False, decipher_only=False), critical=True)
    else:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False)
        usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    if server:
        builder = builder.add_extension(x509.SubjectAlternativeName([
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def make_certs(directory: str | os.PathLike[str], *, now: datetime, days: int = 397) -> CertPaths:
    """Create a CA, the bank's server certificate and the platform's client certificate in ``directory``."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    paths = CertPaths(Path(directory))
    paths.directory.mkdir(parents=True, exist_ok=True)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("huzhu sandbox custodian CA")
    ca_cert = _issue("huzhu sandbox custodian CA", ca_key, issuer=ca_name, issuer_key=ca_key, now=now,
                     days=days, ca=True)
    issued = {CA: (ca_key, ca_cert)}
    for name, subject, server in ((SERVER, "custodian bank (sandbox)", True), (CLIENT, "huzhu platform", False)):
        key = ec.generate_private_key(ec.SECP256R1())
        issued[name] = (key, _issue(subject, key, issuer=ca_name, issuer_key=ca_key, now=now, days=days,
                                    server=server))
    for name, (key, cert) in issued.items():
        _write_key(paths.key(name), key)
        paths.cert(name).write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return paths


def fingerprint_of_der(der: bytes) -> str:
    """SHA-256 of a certificate's DER bytes, lower-case hex (what the bank logs per instruction)."""
    return hashlib.sha256(der).hexdigest()


def fingerprint_of_pem(pem: str | bytes) -> str:
    data = pem.encode() if isinstance(pem, str) else pem
    return fingerprint_of_der(x509.load_pem_x509_certificate(data).public_bytes(serialization.Encoding.DER))
