"""The exception tree of hostpatrol.shared: one base, translated at each boundary."""


class SharedError(Exception):
    """Base of every error raised by hostpatrol.shared."""


class KeyFileError(SharedError):
    """A key file is missing, unreadable, malformed or too open."""


class JWSError(SharedError):
    """A JWS could not be parsed or verified."""


class MalformedJWS(JWSError):
    """The token is not a well-formed JWS compact serialization."""


class UnsupportedAlgorithm(JWSError):
    """The JWS header names an algorithm other than EdDSA."""


class BadSignature(JWSError):
    """The signature does not verify with the expected key."""


class SchemaError(SharedError):
    """A document does not match its schema; ``path`` says where."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path
        self.message = message


class WireValueError(SchemaError, ValueError):
    """A decoded JSON value beyond the wire's limits (64-bit integers, finite numbers, valid
    Unicode); ``path`` says where. A ValueError too: callers that refuse any bad JSON
    refuse it with the rest."""
