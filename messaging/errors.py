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


# Sessions (messaging/ratchet.py). Here, not there, so that code handling them need not
# load the ratchet libraries.


class SessionError(EnvelopeError):
    """A ratchet message could not be opened (or a session not restored); the subclass says why."""


class NoSession(SessionError):
    """No session opens this message (never made, lost, reset, or too old)."""


class Duplicate(NoSession):
    """Its message key is gone: already opened, or it came after its skipped key was
    dropped. (The library cannot tell the two apart, so this is a failure, not a Replay:
    true repeats are caught earlier by their envelope id.)"""


class AgreementFailed(SessionError):
    """The X3DH header names prekeys we no longer hold, or does not check out."""
