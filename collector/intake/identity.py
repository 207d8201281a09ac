"""The collector's own secrets: TLS certificate, Ed25519 signing key, session secret."""

from __future__ import annotations

import hashlib
import ipaddress
import secrets
import socket
from datetime import timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from hostpatrol.shared.clock import system_now
from hostpatrol.shared.keys import (
    check_private_mode,
    generate,
    load_private_key,
    save_private_key,
    write_private_atomic,
)

CERT_DAYS = 825


def make_self_signed(cert_path: Path, key_path: Path, hosts: list[str]) -> None:
    """Write a self-signed ECDSA P-256 certificate for ``hosts`` (names and IPs)."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = system_now()  # OpenSSL judges the validity by the kernel's clock
    names: list[x509.GeneralName] = []
    for h in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(h)))
        except ValueError:
            names.append(x509.DNSName(h))
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hostpatrol collector"),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, socket.gethostname()[:64])])
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject).issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=CERT_DAYS))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    write_private_atomic(key_path, key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    cert_path.parent.mkdir(parents=True, exist_ok=True)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def fingerprint(cert_path: Path) -> str:
    """``sha256:HEX`` of the certificate's DER bytes, as agents pin it."""
    cert = x509.load_pem_x509_certificate(Path(cert_path).read_bytes())
    return "sha256:" + hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


def ensure_signing_key(path: Path) -> None:
    """Create the collector's Ed25519 signing key unless it exists."""
    if not path.exists():
        save_private_key(path, generate())


def load_signing_key(path: Path):  # noqa: ANN201 - Ed25519PrivateKey
    """The collector's signing key (mode checked)."""
    return load_private_key(path)


def ensure_secret(path: Path) -> bytes:
    """A random secret stored 0600 (the Flask session key); created on first use."""
    if not path.exists():
        write_private_atomic(path, secrets.token_bytes(32))
    check_private_mode(path)
    return path.read_bytes()
