"""Ed25519 key generation, storage (0600, refused when too open) and key ids."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import stat
import sys
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from .errors import KeyFileError


def b64url(data: bytes) -> str:
    """Base64url without padding (RFC 7515 §2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Strict base64url decoding without padding; raises ValueError."""
    if not isinstance(text, str) or "=" in text:
        msg = "not unpadded base64url"
        raise ValueError(msg)
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError) as e:  # binascii.Error is a ValueError
        msg = "not base64url"
        raise ValueError(msg) from e
    if b64url(raw) != text:
        msg = "non-canonical base64url"
        raise ValueError(msg)
    return raw


def generate() -> Ed25519PrivateKey:
    """A fresh Ed25519 private key."""
    return Ed25519PrivateKey.generate()


def public_raw(key: Ed25519PublicKey) -> bytes:
    """The 32 raw bytes of a public key."""
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_b64(key: Ed25519PublicKey) -> str:
    """The public key as unpadded base64url of its raw bytes (the JWK ``x``)."""
    return b64url(public_raw(key))


def public_from_b64(text: str) -> Ed25519PublicKey:
    """Parse a public key given as base64url raw bytes; raises KeyFileError."""
    try:
        raw = b64url_decode(text)
    except ValueError as e:
        msg = f"public key is not base64url: {e}"
        raise KeyFileError(msg) from e
    if len(raw) != 32:
        msg = f"public key must be 32 bytes, got {len(raw)}"
        raise KeyFileError(msg)
    return Ed25519PublicKey.from_public_bytes(raw)


def public_jwk(key: Ed25519PublicKey) -> dict[str, str]:
    """The public key as an OKP JWK (RFC 8037)."""
    return {"kty": "OKP", "crv": "Ed25519", "x": public_b64(key)}


def key_id(key: Ed25519PublicKey) -> str:
    """The RFC 7638 JWK thumbprint (SHA-256, base64url) used as ``kid``."""
    canonical = json.dumps(public_jwk(key), sort_keys=True, separators=(",", ":"))
    return b64url(hashlib.sha256(canonical.encode("ascii")).digest())


def write_private_atomic(path: Path, data: bytes) -> None:
    """Write secret bytes to ``path`` with mode 0600: temp file, fsync, rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_BINARY", 0),
                 0o600)
    try:
        if hasattr(os, "fchmod") and sys.platform != "win32":
            os.fchmod(fd, 0o600)
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    if sys.platform == "win32":
        return  # a directory cannot be opened for fsync there; NTFS journals the rename
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def save_private_key(path: Path, key: Ed25519PrivateKey) -> None:
    """Store a private key as PKCS#8 PEM, mode 0600."""
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    write_private_atomic(Path(path), pem)


def check_private_mode(path: Path) -> None:
    """Refuse a secret file that group or others may read or write (POSIX mode bits).

    Windows has no such bits (``st_mode`` says 0o666 for every writable file): there the
    state directory's ACL, set by ``install --windows``, keeps the key to SYSTEM and
    Administrators.
    """
    try:
        st = os.stat(path)
    except FileNotFoundError as e:
        msg = f"{path}: key file not found"
        raise KeyFileError(msg) from e
    if sys.platform != "win32" and st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        msg = (
            f"{path}: key file mode is {stat.S_IMODE(st.st_mode):04o}; it must not be "
            f"readable by group or others (run: chmod 600 {path})"
        )
        raise KeyFileError(msg)


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """Load a private key written by :func:`save_private_key`, checking its mode."""
    path = Path(path)
    check_private_mode(path)
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as e:
        msg = f"{path}: cannot read private key: {e}"
        raise KeyFileError(msg) from e
    if not isinstance(key, Ed25519PrivateKey):
        msg = f"{path}: not an Ed25519 private key"
        raise KeyFileError(msg)
    return key
