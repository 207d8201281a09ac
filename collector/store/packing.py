"""Evidence and result data as compact bytes, and back, byte for byte (pure functions).

A stored body is one format byte, then a zstd frame (with a trained dictionary when the
row names one). What the frame holds:

- ``JWS_PARTS``: a compact JWS whose three parts are canonical base64url (every JWS the
  collector accepts): the decoded header, signature and payload, each after its length
  as a varint. Base64 hides JSON's repetition from the compressor; decoding it first lets
  zstd and its dictionary see it, and re-encoding gives the received text back exactly.
- ``JWS_BOUND``: the same, the payload's quoted agent id and report id (``"<id>"``)
  replaced by ``"\\0A"`` and ``"\\0R"``: the row keeps both in its columns, and no
  JSON text holds a NUL byte, so the markers cannot be confused with the payload's own
  bytes (ids other than letters, digits and ``-`` are left in place).
- ``JWS_TEXT``: any other text, as received (a JWS the parts rule would not re-encode).
- ``JSON``: a check result's data as canonical JSON (sorted keys, no spaces).

Unpacking checks everything it reads and raises :class:`PackError` (never another
exception) on a body it cannot read back.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

import zstandard
from hostpatrol.shared.keys import b64url, b64url_decode

JWS_TEXT, JWS_PARTS, JSON, JWS_BOUND = 0, 1, 2, 3
_MARKS = (b'"\x00A"', b'"\x00R"')  # agent id, report id
_PLAIN_ID = re.compile(r"[A-Za-z0-9-]{1,64}")
LEVEL = 9  # a tenth fewer bytes than level 3 for 0.02 ms a heartbeat; 19 costs 0.4 ms
MAX_UNPACKED = 64 << 20  # no stored body opens to more than this


class PackError(ValueError):
    """A stored body that cannot be read back (corrupt, truncated, wrong dictionary)."""


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _read_varint(buf: bytes, pos: int) -> tuple[int, int]:
    n = shift = 0
    while True:
        if pos >= len(buf) or shift > 35:
            msg = "truncated length"
            raise PackError(msg)
        byte = buf[pos]
        pos += 1
        n |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return n, pos


def _bindable(ids: Sequence[str], payload: bytes) -> bool:
    return (len(ids) == 2 and all(_PLAIN_ID.fullmatch(i) for i in ids)
            and b"\x00" not in payload)


def jws_raw(jws: str, ids: Sequence[str] = ()) -> tuple[int, bytes]:
    """(format, uncompressed bytes) of a JWS as received; ``ids``: the row's (agent id,
    report id), left out of the bytes and put back by :func:`jws_from_raw`."""
    parts = jws.split(".")
    if len(parts) == 3:
        try:
            decoded = [b64url_decode(p) for p in parts]  # canonical, or ValueError
        except ValueError:
            decoded = None
        if decoded is not None:
            header, payload, signature = decoded
            fmt = JWS_PARTS
            if _bindable(ids, payload):
                fmt = JWS_BOUND
                for mark, value in zip(_MARKS, ids, strict=True):
                    payload = payload.replace(f'"{value}"'.encode("ascii"), mark)
            return fmt, b"".join(
                (_varint(len(header)), header, _varint(len(signature)), signature, payload))
    return JWS_TEXT, jws.encode("utf-8", "surrogatepass")


def jws_from_raw(fmt: int, raw: bytes, ids: Sequence[str] = ()) -> str:
    """The JWS text back from :func:`jws_raw`'s output (the same ``ids``)."""
    if fmt == JWS_TEXT:
        try:
            return raw.decode("utf-8", "surrogatepass")
        except UnicodeDecodeError as e:
            raise PackError(str(e)) from e
    if fmt not in (JWS_PARTS, JWS_BOUND):
        msg = f"format {fmt} is not evidence"
        raise PackError(msg)
    size, pos = _read_varint(raw, 0)
    header, pos = raw[pos:pos + size], pos + size
    size, pos = _read_varint(raw, pos)
    signature, pos = raw[pos:pos + size], pos + size
    if pos > len(raw):
        msg = "truncated JWS parts"
        raise PackError(msg)
    payload = raw[pos:]
    if fmt == JWS_BOUND:
        if len(ids) != 2:
            msg = "the row's agent and report ids are needed to read this evidence"
            raise PackError(msg)
        for mark, value in reversed(list(zip(_MARKS, ids, strict=True))):
            payload = payload.replace(mark, f'"{value}"'.encode("ascii"))
    return f"{b64url(header)}.{b64url(payload)}.{b64url(signature)}"


def data_raw(data: Any) -> bytes:
    """A result's data as canonical JSON bytes (equal data, equal bytes)."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def compress(fmt: int, raw: bytes, compressor: zstandard.ZstdCompressor) -> bytes:
    """One stored body: the format byte and the frame."""
    return bytes((fmt,)) + compressor.compress(raw)


def decompress(body: bytes, decompressor: zstandard.ZstdDecompressor) -> tuple[int, bytes]:
    """(format, uncompressed bytes) of a stored body; PackError when it does not open."""
    if not body:
        msg = "empty body"
        raise PackError(msg)
    try:
        return body[0], decompressor.decompress(bytes(body[1:]), max_output_size=MAX_UNPACKED)
    except zstandard.ZstdError as e:
        msg = f"zstd: {e}"
        raise PackError(msg) from e


def jws_of(body: bytes, decompressor: zstandard.ZstdDecompressor,
           ids: Sequence[str] = ()) -> str:
    """The JWS exactly as received from its stored body (``ids``: the row's agent id and
    report id)."""
    return jws_from_raw(*decompress(body, decompressor), ids)


def data_of(body: bytes, decompressor: zstandard.ZstdDecompressor) -> Any:
    """A result's data from its stored body."""
    fmt, raw = decompress(body, decompressor)
    if fmt != JSON:
        msg = f"format {fmt} is not result data"
        raise PackError(msg)
    try:
        return json.loads(raw)
    except ValueError as e:
        msg = f"not JSON: {e}"
        raise PackError(msg) from e


def load_dictionary(body: bytes, level: int = LEVEL) -> zstandard.ZstdCompressionDict:
    """Trained dictionary bytes, ready for both directions; PackError when zstd refuses them."""
    try:
        zdict = zstandard.ZstdCompressionDict(bytes(body))
        zdict.precompute_compress(level=level)
    except zstandard.ZstdError as e:
        msg = f"dictionary: {e}"
        raise PackError(msg) from e
    return zdict


def compressor(zdict: zstandard.ZstdCompressionDict | None,
               level: int = LEVEL) -> zstandard.ZstdCompressor:
    """A compressor with a loaded dictionary or none (not thread-safe: one per use)."""
    return zstandard.ZstdCompressor(level=level, dict_data=zdict, write_content_size=True,
                                    write_checksum=True, write_dict_id=False)


def decompressor(zdict: zstandard.ZstdCompressionDict | None) -> zstandard.ZstdDecompressor:
    """A decompressor with a loaded dictionary or none (not thread-safe: one per use)."""
    return zstandard.ZstdDecompressor(dict_data=zdict)


def train(samples: list[bytes], size: int) -> bytes:
    """A zstd dictionary of at most ``size`` bytes from ``samples``; PackError when zstd
    cannot train one from them (too few, too alike)."""
    try:
        return zstandard.train_dictionary(size, samples).as_bytes()
    except zstandard.ZstdError as e:
        msg = f"training: {e}"
        raise PackError(msg) from e
