"""Messaging errors. Each failure to open an envelope has its own class, so callers (and
tests) can tell a replay from a forgery from a message meant for someone else."""

from wallet.errors import WalletError


class MessagingError(WalletError):
    """Base class: a one-line, user-facing message, never containing key material."""


class BundleInvalid(MessagingError):
    """The identity bundle is malformed or its signature does not recover to its address."""


class StaleBundle(MessagingError):
    """An older bundle offered in place of a newer one already known."""


class PayloadError(MessagingError):
    """A payload is malformed for its type."""


class EnvelopeError(MessagingError):
    """Opening an envelope failed; the subclass says why."""


class UnknownVersion(EnvelopeError):
    pass


class Oversize(EnvelopeError):
    pass


class NotForMe(EnvelopeError):
    pass


class Tampered(EnvelopeError):
    """Decryption, padding or structure failed: the ciphertext was altered or is garbage."""


class Replay(EnvelopeError):
    pass


class OutsideWindow(EnvelopeError):
    """The sender's timestamp is too far in the past or the future."""


class SenderUnknown(EnvelopeError):
    """No verified bundle for the sender is known, and the envelope carried none."""


class SenderMismatch(EnvelopeError):
    """The bundle offered for the sender belongs to another address or other keys."""


class BadSignature(EnvelopeError):
    pass
