"""A client for the Hongbao relay (node/): publish and fetch identity bundles, post sealed
envelopes, authenticate as a mailbox, fetch / acknowledge / stream its envelopes, upload
its X3DH prekeys and claim a peer's.

The relay is never trusted: every bundle it returns is verified here (signature and the
address that was asked for), every envelope it returns is parsed and checked to be for
the mailbox that asked, in increasing `seq` order, and every claimed prekey bundle is
checked against the identity key the caller verified. What a relay can still do is withhold
or delay messages; it cannot forge, read or redirect them.

Sync requests share one keep-alive `httpx.Client`. `stream()` is an async iterator over a
WebSocket (the `websockets` library) that reconnects with back-off and resumes after the
last `seq` it yielded, so a dropped connection causes neither gaps nor duplicates.

Delivery passes (node/lanes.py): `pass_for(mailbox)` gives the pass a recipient handed us
in the encrypted chat, if any; `send` presents it next to each envelope so the relay puts
it in that mailbox's contact lane (a stranger's mail goes to its small request lane).
`register_passes` tells the relay the hashes of our own mailbox's passes.

Posting is idempotent by message id (the relay stores an id once and answers the existing
`seq` with `duplicate: true`), so `send` retries a batch after a connection error or a
5xx without creating duplicates, even if the first attempt was committed and only its
answer was lost.

Errors are one-line `MessagingError`s:
    RelayUnreachable                   connection refused / reset / timed out (after retries)
    RelayRejected(status, code, msg)   any other refusal; its subclasses:
        AuthFailed                     401 / 403, a bad challenge signature, a refused token
        QuotaExceeded                  507: the recipient's mailbox is full
        RateLimited(retry_after)       429
    RelayProtocolError                 the relay answered something that is not the protocol
Plus BundleInvalid / StaleBundle (messaging.errors) for a bundle that fails verification,
and PrekeyBundleInvalid (messaging.prekeys) for a claimed prekey bundle that does.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
import random
import ssl
import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import httpx

from wallet import address as addr
from wallet.errors import WalletError

from .envelope import Envelope
from .errors import BundleInvalid, EnvelopeError, MessagingError, StaleBundle
from .identity import Bundle, supersedes, verify_bundle
from .keys import MessagingKeys
from .prekeys import (
    MAX_UPLOAD,
    OneTimePrekey,
    PrekeyBundle,
    PrekeyBundleInvalid,
    SignedPrekey,
    check_one_time,
    check_signed,
    parse_bundle,
    parse_signed,
)
from .prekeys import verify_bundle as verify_prekeys

AUTH_DOMAIN = b"hongbao-relay-auth-v1\0"


@functools.cache
def tls_context() -> ssl.SSLContext:
    """The certificate store httpx would load for every client (certifi's bundle), loaded once
    per process: ~40 ms a client otherwise, paid by every command even for a plain-http relay."""
    import certifi

    return ssl.create_default_context(cafile=certifi.where())


MAX_BATCH = 500  # envelopes per POST /v1/messages (the relay's max_batch)
MAX_BATCH_BYTES = 16 * 1024 * 1024  # ciphertext bytes per POST, so 500 x 64 KiB is split
MAX_PAGE = 1000  # GET /v1/mailbox limit
TOKEN_MARGIN_MS = 30_000  # renew a token this long before it expires (or at 3/4 of a short one)


# -- errors ------------------------------------------------------------------------------


class RelayUnreachable(MessagingError):
    """The relay could not be reached (refused, reset, timed out), after retries."""


class RelayProtocolError(MessagingError):
    """The relay answered something that is not the protocol (bad JSON, wrong mailbox, ...)."""


class RelayRejected(MessagingError):
    """The relay refused the request: HTTP `status`, its error `code` and `message`."""

    def __init__(self, status: int, code: str, message: str, *, url: str = "") -> None:
        where = f" ({url})" if url else ""
        message = " ".join(str(message).split())  # one line, whatever the relay sent
        super().__init__(f"the relay refused{where}: HTTP {status} {code}: {message}")
        self.status = status
        self.code = code
        self.relay_message = message


class AuthFailed(RelayRejected):
    """401 (no / bad / expired token, bad signature, used nonce) or 403 (another mailbox)."""


class QuotaExceeded(RelayRejected):
    """507: the recipient's mailbox is full; nothing of that batch was stored."""


class RateLimited(RelayRejected):
    """429: too many requests; `retry_after` seconds to wait (None if the relay did not say)."""

    def __init__(
        self, status: int, code: str, message: str, *, url: str = "", retry_after: float | None = None
    ) -> None:
        super().__init__(status, code, message, url=url)
        self.retry_after = retry_after


# -- results -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Accepted:
    id: bytes
    seq: int
    duplicate: bool
    lane: str | None = None  # "contact" or "request" (node/lanes.py); None from an older relay


@dataclass(frozen=True, slots=True)
class PrekeyStatus:
    """What the relay holds of a mailbox's prekeys: replenish when `one_time` runs low."""

    one_time: int
    signed_prekey: SignedPrekey | None


@dataclass(frozen=True, slots=True)
class Token:
    address: str
    token: str
    expires_at: int  # unix ms
    renew_at: int  # unix ms: asked for again from then on


def _ms(value: Any) -> int:
    """A timestamp from the relay as unix ms (tolerates seconds: anything before 2001 in ms)."""
    number = int(value)
    return number * 1000 if number < 10**12 else number


def _now_ms() -> int:
    return int(time.time() * 1000)


def _error_of(response: httpx.Response) -> tuple[str, str]:
    """(code, message) from {"error": {"code", "message"}}, FastAPI's {"detail"}, or the text."""
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError):
        text = response.text.strip().splitlines()
        return (response.reason_phrase or "error").lower().replace(" ", "_"), (
            text[0][:200] if text else response.reason_phrase
        )
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        error = body["error"]
        return str(error.get("code", "error")), str(error.get("message", ""))[:500]
    if isinstance(body, dict) and "detail" in body:
        detail = body["detail"]
        if isinstance(detail, list) and detail and isinstance(detail[0], dict):
            first = detail[0]
            where = ".".join(str(p) for p in first.get("loc", []))
            return "invalid", f"{where}: {first.get('msg', '')}"[:500]
        return "error", str(detail)[:500]
    return "error", str(body)[:200]


def _retry_after(response: httpx.Response) -> float | None:
    return _retry_after_header(response.headers.get("retry-after"))


def _retry_after_header(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date: rare enough to treat as "unknown"


def _raise_for(response: httpx.Response, what: str) -> None:
    status = response.status_code
    if status < 400:
        return
    code, message = _error_of(response)
    url = f"{response.request.method} {response.request.url.path}" if response.request else what
    if status in (401, 403):
        raise AuthFailed(status, code, message, url=url)
    if status == 429:
        raise RateLimited(status, code, message, url=url, retry_after=_retry_after(response))
    if status == 507:
        raise QuotaExceeded(status, code, message, url=url)
    raise RelayRejected(status, code, message, url=url)


def _retryable(status: int) -> bool:
    return status >= 500 and status != 507 and status != 501


def _parse_envelope(item: Any, mailbox: str, after: int) -> tuple[int, Envelope]:
    if not isinstance(item, dict) or isinstance(item.get("seq"), bool) or not isinstance(item.get("seq"), int):
        raise RelayProtocolError("the relay returned an envelope without an integer seq")
    seq = item["seq"]
    if seq <= after:
        raise RelayProtocolError(f"the relay returned seq {seq}, not after {after} as asked (out of order or replayed)")
    try:
        envelope = Envelope.from_json(item)
    except EnvelopeError as error:
        raise RelayProtocolError(f"the relay returned a malformed envelope at seq {seq}: {error}") from None
    if envelope.to.lower() != mailbox.lower():
        raise RelayProtocolError(f"the relay returned an envelope for {envelope.to} in the mailbox of {mailbox}")
    return seq, envelope


def _checked_address(address: str) -> str:
    try:
        return addr.parse(address)
    except WalletError as error:
        raise MessagingError(str(error)) from None


def challenge_text(address: str, nonce: bytes) -> bytes:
    """What a mailbox's Ed25519 messaging key signs to get a token (node/auth.py)."""
    return AUTH_DOMAIN + bytes.fromhex(address[2:]) + nonce


# -- the client --------------------------------------------------------------------------


class RelayClient:
    """One relay, one keep-alive connection pool. `clock()` returns unix ms (token expiry).

    `retries` is how many times a failed idempotent request is tried again (connection
    errors, 5xx other than 507), sleeping `backoff`, doubling up to `max_backoff`
    (with jitter). A 429 is waited out and retried when its Retry-After is at most
    `max_rate_wait` seconds; otherwise RateLimited is raised. `refused_retries` caps the
    retries of a refused connection (nothing listens: the relay is down, not restarting
    mid-request), so an interactive caller that keeps the request for later hears it at once.
    """

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 10.0,
        clock: Callable[[], int] = _now_ms,
        retries: int = 4,
        refused_retries: int | None = None,
        backoff: float = 0.05,
        max_backoff: float = 2.0,
        max_rate_wait: float = 5.0,
        batch_size: int = MAX_BATCH,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise MessagingError(f"relay URL {base_url!r} must be http:// or https://")
        if not 1 <= batch_size <= MAX_BATCH:
            raise ValueError(f"batch_size must be 1..{MAX_BATCH}")
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.clock = clock
        self.retries = retries
        self.refused_retries = retries if refused_retries is None else min(retries, refused_retries)
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.max_rate_wait = max_rate_wait
        self.batch_size = batch_size
        self._sleep = sleep
        self._http = httpx.Client(
            base_url=self.base_url,
            timeout=timeout,
            transport=transport,
            verify=tls_context(),
            headers={"User-Agent": "hongbao-relay-client/1", "Accept": "application/json"},
            limits=httpx.Limits(max_keepalive_connections=4, keepalive_expiry=30.0),
        )
        self._tokens: dict[str, Token] = {}
        self.pass_for: Callable[[str], bytes | None] = lambda _mailbox: None  # a recipient's delivery pass
        self._identities: dict[str, MessagingKeys] = {}
        self._current: str | None = None  # the mailbox fetch/ack/stream act on by default

    def __repr__(self) -> str:
        return f"RelayClient({self.base_url!r})"

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> RelayClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- transport ---------------------------------------------------------------------

    def _delay(self, attempt: int) -> float:
        base = min(self.max_backoff, self.backoff * (2.0**attempt))
        return base * (0.5 + random.random() / 2)  # noqa: S311  retry jitter, not a secret

    def _request(self, method: str, path: str, *, retry: bool = True, **kwargs: Any) -> httpx.Response:
        """One request. With `retry`, tried again on connection errors and 5xx (not 507).
        A 429 with a short Retry-After is waited out and retried in any case: the relay
        refused it before doing anything, so even a one-shot request may be sent again."""
        attempts = self.retries + 1
        what = f"{method} {path}"
        refused = 0
        for attempt in range(attempts):
            last = attempt == attempts - 1
            try:
                response = self._http.request(method, path, **kwargs)
            except httpx.TransportError as error:  # connect, read, write, timeouts, protocol
                refused += isinstance(error, httpx.ConnectError)
                if last or not retry or refused > self.refused_retries:
                    reason = _transport_reason(error)
                    raise RelayUnreachable(f"cannot reach the relay at {self.base_url} ({reason}) for {what}") from None
                self._sleep(self._delay(attempt))
                continue
            if response.status_code == 429 and not last:
                wait = _retry_after(response)
                if wait is not None and wait <= self.max_rate_wait:
                    self._sleep(wait + random.random() * 0.05)  # noqa: S311  jitter
                    continue
            if retry and _retryable(response.status_code) and not last:
                self._sleep(self._delay(attempt))
                continue
            _raise_for(response, what)
            return response
        raise AssertionError("unreachable")  # pragma: no cover

    @staticmethod
    def _json(response: httpx.Response) -> Any:
        try:
            return response.json()
        except (json.JSONDecodeError, UnicodeDecodeError, ValueError):
            raise RelayProtocolError(
                f"the relay did not answer JSON for {response.request.method} {response.request.url.path}"
            ) from None

    # -- health ------------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        body = self._json(self._request("GET", "/healthz", retry=False))
        if not isinstance(body, dict):
            raise RelayProtocolError("the relay's /healthz answer is not a JSON object")
        return body

    # -- identities --------------------------------------------------------------------

    def publish_bundle(self, bundle: Bundle) -> str:
        """PUT the bundle; "created", "updated" or "unchanged" (as the relay says).
        StaleBundle if the relay holds a newer one."""
        verify_bundle(bundle)  # never publish something the relay (and every peer) would refuse
        try:
            response = self._request("PUT", f"/v1/identities/{bundle.address}", json=bundle.to_json())
        except RelayRejected as error:
            if error.status == 409:
                raise StaleBundle(
                    f"the relay holds a newer identity bundle for {bundle.address} than version {bundle.version}"
                ) from None
            raise
        body = self._json(response)
        status = body.get("status") or body.get("result") if isinstance(body, dict) else None
        if isinstance(status, str) and status in ("created", "updated", "unchanged"):
            return status
        return "created" if response.status_code == 201 else "updated"

    def get_bundle(self, address: str, *, known: Bundle | None = None, verify: bool = True) -> Bundle | None:
        """The address's bundle, verified here (signature, and that it is for `address`);
        None if none is published. With `known` (a bundle verified earlier), an older one
        from the relay (a rollback) raises StaleBundle. `verify=False` only parses it (to
        learn the version of one that no longer verifies, e.g. in the old signed form)."""
        wanted = _checked_address(address)
        try:
            response = self._request("GET", f"/v1/identities/{wanted}")
        except RelayRejected as error:
            if error.status == 404:
                return None
            raise
        parsed = Bundle.from_json(self._json(response))
        bundle = verify_bundle(parsed) if verify else parsed
        if bundle.address != wanted:
            raise BundleInvalid(f"the relay answered a bundle for {bundle.address} when asked for {wanted}")
        if known is not None:
            supersedes(bundle, known)  # StaleBundle if older than what we already trust
        return bundle

    # -- posting -----------------------------------------------------------------------

    def _batches(self, envelopes: Sequence[Envelope]) -> Iterable[Sequence[Envelope]]:
        start, size = 0, 0
        for i, envelope in enumerate(envelopes):
            length = len(envelope.ciphertext)
            if i > start and (i - start >= self.batch_size or size + length > MAX_BATCH_BYTES):
                yield envelopes[start:i]
                start, size = i, 0
            size += length
        if start < len(envelopes):
            yield envelopes[start:]

    def send(self, envelopes: Iterable[Envelope]) -> list[Accepted]:
        """Post envelopes (batches of up to 500), in order; one Accepted per envelope.
        Retried on connection errors and 5xx: the relay deduplicates by message id."""
        envelopes = list(envelopes)
        accepted: list[Accepted] = []
        for batch in self._batches(envelopes):
            response = self._request("POST", "/v1/messages", json={"envelopes": [self._posted(e) for e in batch]})
            body = self._json(response)
            try:
                by_id = {str(a["id"]).lower(): a for a in body["accepted"]}
                for envelope in batch:
                    item = by_id[envelope.id.hex()]
                    lane = item.get("lane")
                    accepted.append(
                        Accepted(
                            envelope.id,
                            int(item["seq"]),
                            bool(item["duplicate"]),
                            lane if lane in ("contact", "request") else None,
                        )
                    )
            except (KeyError, TypeError, ValueError):
                raise RelayProtocolError(
                    "the relay's answer to POST /v1/messages does not list every envelope as accepted"
                ) from None
        return accepted

    def _posted(self, envelope: Envelope) -> dict[str, Any]:
        item = envelope.to_json()
        given = self.pass_for(envelope.to)
        if given is not None:
            item["pass"] = given.hex()
        return item

    def register_passes(self, passes: Sequence[bytes], *, address: str | None = None) -> int:
        """Replace the relay's delivery passes for our mailbox (authenticate first): only
        their SHA-256 leaves this machine. [] revokes them all. How many it holds now."""
        mailbox = self._mailbox(address)
        hashes = [hashlib.sha256(p).hexdigest() for p in passes]
        body = self._json(self._authed(mailbox, "PUT", "/v1/mailbox/passes", json={"passes": hashes}))
        count = body.get("passes") if isinstance(body, dict) else None
        if not isinstance(count, int) or isinstance(count, bool):
            raise RelayProtocolError("the relay's answer to PUT /v1/mailbox/passes has no count")
        return count

    # -- authentication ----------------------------------------------------------------

    def authenticate(self, address: str, keys: MessagingKeys, *, force: bool = False) -> str:
        """A bearer token for `address`'s mailbox, proving control of its messaging key
        (the Ed25519 key of its published bundle). Cached until shortly before it expires.
        The address becomes the default mailbox of fetch / ack / stream."""
        address = _checked_address(address)
        self._identities[address] = keys
        self._current = address
        cached = self._tokens.get(address)
        if cached is not None and not force and self.clock() < cached.renew_at:
            return cached.token
        self._tokens.pop(address, None)
        for attempt in range(self.retries + 1):
            try:
                return self._new_token(address, keys).token
            except RelayUnreachable:
                # the token request is not retried by itself (a retry would present a used
                # nonce if only the answer was lost): start over with a new challenge
                if attempt == self.retries:
                    raise
                self._sleep(self._delay(attempt))
        raise AssertionError("unreachable")  # pragma: no cover

    def _new_token(self, address: str, keys: MessagingKeys) -> Token:
        try:
            body = self._json(self._request("POST", "/v1/auth/challenge", json={"address": address}))
        except RelayRejected as error:
            if error.status == 404:
                raise AuthFailed(
                    404, error.code, f"no identity is published for {address} on this relay: publish its bundle first"
                ) from None
            raise
        try:
            nonce = bytes.fromhex(str(body["nonce"]))
        except (KeyError, TypeError, ValueError):
            raise RelayProtocolError("the relay's challenge has no hex nonce") from None
        if len(nonce) != 32:
            raise RelayProtocolError(f"the relay's challenge nonce is {len(nonce)} bytes, not 32")
        signature = keys.signing_key.sign(challenge_text(address, nonce)).signature.hex()
        # Not retried on its own: a retry of a token request whose answer was lost would
        # present a used nonce; authenticate() starts over with a new challenge instead.
        body = self._json(
            self._request(
                "POST",
                "/v1/auth/token",
                retry=False,
                json={"address": address, "nonce": nonce.hex(), "signature": signature},
            )
        )
        try:
            token, expires_at = str(body["token"]), _ms(body["expires_at"])
        except (KeyError, TypeError, ValueError):
            raise RelayProtocolError("the relay's token answer lacks token or expires_at") from None
        now = self.clock()
        lifetime = max(0, expires_at - now)
        renew_at = expires_at - min(TOKEN_MARGIN_MS, lifetime // 4)
        entry = Token(address, token, expires_at, renew_at)
        self._tokens[address] = entry
        return entry

    def _mailbox(self, address: str | None) -> str:
        mailbox = _checked_address(address) if address else self._current
        if mailbox is None:
            raise AuthFailed(401, "not_authenticated", "call authenticate(address, keys) before reading a mailbox")
        if mailbox not in self._identities:
            raise AuthFailed(
                401, "not_authenticated", f"not authenticated as {mailbox}: call authenticate(address, keys)"
            )
        return mailbox

    def _token(self, mailbox: str) -> str:
        return self.authenticate(mailbox, self._identities[mailbox])

    def _authed(self, mailbox: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """A request with the mailbox's token; on a 401 (expired, rotated key), once more with a fresh one."""
        for attempt in (0, 1):
            headers = {"Authorization": f"Bearer {self._token(mailbox)}"}
            try:
                return self._request(method, path, headers=headers, **kwargs)
            except AuthFailed as error:
                if error.status != 401 or attempt == 1:
                    raise
                self._tokens.pop(mailbox, None)
        raise AssertionError("unreachable")  # pragma: no cover

    # -- the mailbox -------------------------------------------------------------------

    def fetch(self, after: int = 0, limit: int = 100, *, address: str | None = None) -> list[tuple[int, Envelope]]:
        """Envelopes of the mailbox with seq > after, in seq order (at most `limit`, 1..1000)."""
        if not 1 <= limit <= MAX_PAGE:
            raise ValueError(f"limit must be 1..{MAX_PAGE}")
        mailbox = self._mailbox(address)
        body = self._json(self._authed(mailbox, "GET", "/v1/mailbox", params={"after": after, "limit": limit}))
        items = body.get("envelopes") if isinstance(body, dict) else None
        if not isinstance(items, list) or len(items) > limit:
            raise RelayProtocolError("the relay's mailbox answer has no envelope list (or more than asked)")
        result: list[tuple[int, Envelope]] = []
        last = after
        for item in items:
            seq, envelope = _parse_envelope(item, mailbox, last)
            result.append((seq, envelope))
            last = seq
        return result

    def fetch_all(
        self, after: int = 0, *, page: int = MAX_PAGE, address: str | None = None
    ) -> list[tuple[int, Envelope]]:
        """Every envelope after `after`, page by page."""
        result: list[tuple[int, Envelope]] = []
        while True:
            chunk = self.fetch(after, page, address=address)
            result.extend(chunk)
            if len(chunk) < page:
                return result
            after = chunk[-1][0]

    def ack(self, ids: Iterable[bytes | str], *, address: str | None = None) -> int:
        """Delete these envelopes (message ids) from the mailbox; how many were deleted."""
        mailbox = self._mailbox(address)
        hexes = [i.hex() if isinstance(i, bytes) else str(i) for i in ids]
        deleted = 0
        for start in range(0, len(hexes), MAX_PAGE):
            body = self._json(
                self._authed(mailbox, "POST", "/v1/mailbox/ack", json={"ids": hexes[start : start + MAX_PAGE]})
            )
            try:
                deleted += int(body["deleted"])
            except (KeyError, TypeError, ValueError):
                raise RelayProtocolError("the relay's ack answer has no deleted count") from None
        return deleted

    # -- prekeys (X3DH) ------------------------------------------------------------------

    def publish_prekeys(
        self, address: str, signed: SignedPrekey | None, one_time: Sequence[OneTimePrekey], *, replace: bool = False
    ) -> PrekeyStatus:
        """Upload the mailbox's prekeys (authenticate(address, keys) first): `signed`
        replaces the relay's signed prekey; one-time prekeys go in requests of MAX_UPLOAD
        (with `replace`, the first request deletes the ones the relay held).
        Each request is retried like a send (the relay skips keys it holds already); a
        refusal (422 beyond the relay's MAX_STORED) leaves earlier requests' keys stored.
        PrekeyBundleInvalid, before anything is sent, for a key not signed by our key."""
        mailbox = self._mailbox(address)
        identity_key = self._identities[mailbox].ed25519_public
        if signed is not None:
            check_signed(identity_key, signed)  # the relay would refuse it: say so here
        one_time = [check_one_time(identity_key, p) for p in one_time]
        if signed is None and not one_time and not replace:
            return self.prekey_status(mailbox)
        status = None
        for start in range(0, max(len(one_time), 1), MAX_UPLOAD):
            body = {
                "signed_prekey": signed.to_json() if signed is not None and start == 0 else None,
                "one_time_prekeys": [p.to_json() for p in one_time[start : start + MAX_UPLOAD]],
                "replace_one_time": replace and start == 0,
            }
            status = self._prekey_status(mailbox, self._authed(mailbox, "PUT", f"/v1/prekeys/{mailbox}", json=body))
        assert status is not None  # noqa: S101  the loop runs at least once; narrows the type
        return status

    def prekey_status(self, address: str | None = None) -> PrekeyStatus:
        """How many one-time prekeys the relay has left for the mailbox, and its signed prekey."""
        mailbox = self._mailbox(address)
        return self._prekey_status(mailbox, self._authed(mailbox, "GET", f"/v1/prekeys/{mailbox}"))

    def _prekey_status(self, mailbox: str, response: httpx.Response) -> PrekeyStatus:
        body = self._json(response)
        count = body.get("one_time") if isinstance(body, dict) else None
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            raise RelayProtocolError("the relay's prekey status has no one_time count")
        signed = body.get("signed_prekey")
        try:
            # ours: checked anyway, so a caller deciding whether to rotate sees only real keys
            signed = (
                None if signed is None else check_signed(self._identities[mailbox].ed25519_public, parse_signed(signed))
            )
        except PrekeyBundleInvalid as error:
            raise RelayProtocolError(f"the relay's prekey status for {mailbox}: {error}") from None
        return PrekeyStatus(count, signed)

    def claim_prekeys(self, address: str, identity_ed25519: bytes) -> PrekeyBundle | None:
        """Claim a prekey bundle of `address` to start a session with it: None if it has
        published none. The bundle is verified against `identity_ed25519`, which must come
        from `address`'s verified identity bundle, never from this answer; otherwise
        PrekeyBundleInvalid. Each claim takes a one-time prekey (None in the bundle once
        they ran out); a retry after a lost answer takes another, which costs only a key."""
        wanted = _checked_address(address)
        try:
            response = self._request("POST", f"/v1/prekeys/{wanted}/claim")
        except RelayRejected as error:
            if error.status == 404:
                return None
            raise
        return verify_prekeys(parse_bundle(self._json(response)), wanted, identity_ed25519)

    # -- streaming ---------------------------------------------------------------------

    def stream_url(self, after: int) -> str:
        parts = urlsplit(self.base_url)
        scheme = "wss" if parts.scheme == "https" else "ws"
        return urlunsplit((scheme, parts.netloc, parts.path + "/v1/stream", urlencode({"after": after}), ""))

    async def stream(
        self,
        after: int = 0,
        *,
        address: str | None = None,
        max_backoff: float = 5.0,
        max_failures: int | None = None,
        open_timeout: float | None = None,
        on_connect: Callable[[int], None] | None = None,
    ) -> AsyncIterator[tuple[int, Envelope]]:
        """Yield (seq, Envelope) for every envelope after `after`, then each new one as it
        arrives, forever. On a dropped connection or a relay restart: reconnect with
        back-off (doubling to `max_backoff`, jittered) and resume after the last seq
        yielded, so there are neither gaps nor duplicates. `max_failures` consecutive
        failed connection attempts raise RelayUnreachable (None: never give up).
        `on_connect(after)` is called each time a connection is open (tests, UIs).
        A refused token is renewed once; refused again, AuthFailed is raised."""
        from websockets.asyncio.client import connect
        from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

        mailbox = self._mailbox(address)
        last = after
        failures = 0
        auth_refusals = 0
        while True:
            try:
                token = await asyncio.to_thread(self._token, mailbox)
            except RateLimited as error:
                await asyncio.sleep(error.retry_after if error.retry_after is not None else max_backoff)
                continue
            except RelayUnreachable:
                failures += 1
                if max_failures is not None and failures >= max_failures:
                    raise
                await asyncio.sleep(min(max_backoff, self.backoff * 2**failures) * (0.5 + random.random() / 2))  # noqa: S311  jitter
                continue
            try:
                async with connect(
                    self.stream_url(last),
                    additional_headers={"Authorization": f"Bearer {token}"},
                    open_timeout=open_timeout or self.timeout,
                    max_size=2**20 * 4,
                    ping_interval=20,
                    ping_timeout=20,
                ) as socket:
                    failures = 0
                    auth_refusals = 0  # the relay took this token: a later 4401 is an expiry or a rotation
                    if on_connect is not None:
                        on_connect(last)
                    async for raw in socket:
                        try:
                            item = json.loads(raw)
                        except (json.JSONDecodeError, UnicodeDecodeError):
                            raise RelayProtocolError("the relay sent a stream frame that is not JSON") from None
                        if isinstance(item, dict) and "seq" not in item and isinstance(item.get("error"), dict):
                            refusal = item["error"]
                            kind, message = str(refusal.get("code", "error")), str(refusal.get("message", ""))
                            if kind in ("unauthorized", "token_expired", "invalid_token", "forbidden"):
                                raise AuthFailed(401 if kind != "forbidden" else 403, kind, message)
                            raise RelayRejected(400, kind, message, url="WS /v1/stream")
                        if not isinstance(item, dict) or "seq" not in item:
                            continue  # keep-alives or notices this client does not know
                        if isinstance(item["seq"], int) and not isinstance(item["seq"], bool) and item["seq"] <= last:
                            continue  # already yielded (a relay resending after a race): no duplicates
                        seq, envelope = _parse_envelope(item, mailbox, last)
                        last = seq
                        yield seq, envelope
                    code = socket.close_code
                    if code in _WS_REFUSALS:
                        raise _ws_refusal(code, socket.close_reason or "")
            except InvalidStatus as error:
                status = error.response.status_code
                if status in (401, 403):
                    auth_refusals += 1
                    self._tokens.pop(mailbox, None)
                    if status == 403 or auth_refusals > 1:
                        raise AuthFailed(
                            status,
                            "forbidden" if status == 403 else "unauthorized",
                            f"the relay refused the stream of {mailbox}",
                        ) from None
                    continue
                if status == 429:
                    wait = _retry_after_header(error.response.headers.get("retry-after"))
                    await asyncio.sleep(wait if wait is not None else max_backoff)
                    continue
                if status < 500:
                    raise RelayRejected(
                        status,
                        "ws_refused",
                        f"the relay refused the WebSocket upgrade (HTTP {status})",
                        url="WS /v1/stream",
                    ) from None
                failures += 1
            except AuthFailed as error:
                if error.status == 401 and auth_refusals == 0:
                    auth_refusals += 1
                    self._tokens.pop(mailbox, None)
                    continue
                raise
            except (TimeoutError, ConnectionClosed, InvalidHandshake, OSError) as error:
                received = getattr(error, "rcvd", None)  # a ConnectionClosed's close frame, if any
                code = getattr(received, "code", None)
                if code in _WS_REFUSALS:
                    failure = _ws_refusal(code, getattr(received, "reason", ""))
                    if isinstance(failure, AuthFailed) and failure.status == 401 and auth_refusals == 0:
                        auth_refusals += 1
                        self._tokens.pop(mailbox, None)
                        continue
                    raise failure from None
                failures += 1
            else:
                failures += 1  # the relay closed cleanly (a restart): reconnect
            if max_failures is not None and failures >= max_failures:
                raise RelayUnreachable(
                    f"cannot reach the relay stream at {self.stream_url(last)} after {failures} attempts"
                )
            await asyncio.sleep(min(max_backoff, self.backoff * 2 ** min(failures, 16)) * (0.5 + random.random() / 2))  # noqa: S311  jitter


_WS_REFUSALS = (1008, 4401, 4403)  # policy violation; the relay's 4000 + HTTP status for 401 / 403


def _ws_refusal(code: int, reason: str) -> RelayRejected:
    if code == 1008:
        return RelayRejected(
            400, "policy_violation", reason or "the relay closed the stream (policy violation)", url="WS /v1/stream"
        )
    status = 403 if code == 4403 else 401
    return AuthFailed(
        status,
        "forbidden" if status == 403 else "unauthorized",
        reason or f"the relay closed the stream (code {code})",
        url="WS /v1/stream",
    )


def _transport_reason(error: httpx.TransportError) -> str:
    if isinstance(error, httpx.ConnectError):
        return "connection refused" if "refused" in str(error).lower() else "cannot connect"
    if isinstance(error, httpx.TimeoutException):
        return "timed out"
    if isinstance(error, httpx.RemoteProtocolError):
        return "connection dropped"
    return error.__class__.__name__
