"""The chat service of one account: the local store, the relay, and the rules between them.

`Messenger` is what commands (and other packages, e.g. red packets) use to talk: resolve a
contact or group, send (sealed per recipient), receive (open, store, apply receipts and
group changes, acknowledge), publish our identity bundle. The CLI only parses and renders.

Trust: a peer's bundle is pinned on first contact (verified by the client, never trusted
from the relay); before each send the relay is asked again, and a newer bundle with other
keys is recorded as a key change that blocks sending until the user confirms it
(`hongbao contacts verify NAME --confirm`).

No I/O beyond the store, the relay client and (for the relay URL) config.toml.
"""

from __future__ import annotations

import contextlib
import dataclasses
import re
import time
import unicodedata
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

from nacl.exceptions import CryptoError

from wallet import address as addr
from wallet import config as config_mod

from . import consent as consent_mod
from . import envelope as env
from . import groups as groups_mod
from . import payloads
from .client import RateLimited, RelayClient, RelayProtocolError, RelayRejected, RelayUnreachable
from .errors import (
    AgreementFailed,
    BundleInvalid,
    MessagingError,
    PayloadError,
    Replay,
    StaleBundle,
)
from .identity import MAX_VERSION as MAX_BUNDLE_VERSION
from .identity import Bundle, fingerprint, make_bundle, same_keys
from .keys import MessagingKeys, store_key
from .prekeys import PrekeyBundleInvalid
from .session_store import Write, all_of
from .sessions import SessionKeeper
from .store import (
    GROUP_PREFIX,
    BundleChange,
    KeyChangeUnconfirmed,
    MessageStore,
    StoredMessage,
    path_for,
)

RELAY_SECTION = "messaging"  # config.toml: [messaging] relay = "http://127.0.0.1:8787"
RELAY_KEY = "relay"
_ADDRESS = re.compile(r"^(0x)?[0-9a-fA-F]{40}\Z")
_SILENT = (payloads.Receipt.TYPE, payloads.DeliveryPass.TYPE)
UPKEEP_MS = 10 * 60 * 1000  # how often a long `watch` checks its prekeys at the relay
# A peer's own fault (unusable keys, forged prekeys): in a group, that member is left out.
_PEER_FAULTS = (BundleInvalid, PrekeyBundleInvalid, AgreementFailed)
DOWNGRADE_FLAG = (
    "⚠ not forward-secret: sent signed only (format 1) although you share a session; "
    "anyone holding their messaging key could have written it"
)


# -- configuration -----------------------------------------------------------------------


def configured_relay(home: Path) -> str | None:
    """The relay URL from config.toml's [messaging] section, or None."""
    section = config_mod.load(home).extra.get(RELAY_SECTION)
    url = section.get(RELAY_KEY) if isinstance(section, dict) else None
    return str(url) if url else None


def save_relay(home: Path, url: str) -> None:
    """Set [messaging] relay in config.toml, keeping every other section."""
    config = config_mod.load(home)
    section = dict(config.extra.get(RELAY_SECTION) or {})
    section[RELAY_KEY] = url.rstrip("/")
    config.extra[RELAY_SECTION] = section
    config_mod.save(home, config)


# -- results -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Target:
    kind: str  # "direct" | "group"
    conversation: str  # peer address or group:<id>
    recipients: list[str]  # everyone who gets an envelope (never us)
    name: str | None = None  # contact or group name, for display


@dataclass(frozen=True, slots=True)
class SentMessage:
    conversation: str
    message_id: str  # our stored message (32 hex); a direct message's envelope id
    envelope_ids: dict[str, str]  # recipient -> the envelope id they got (receipts name it)
    stored: StoredMessage
    first_contact: dict[str, str] = field(default_factory=dict)  # recipient -> fingerprint, pinned just now
    state: str = "sent"
    skipped: dict[str, str] = field(default_factory=dict)  # group members left out (unusable keys): why


class Received(list[StoredMessage]):
    """The new messages stored by `receive` (receipts left out), oldest first, plus counts."""

    def __init__(
        self,
        messages: Iterable[StoredMessage] = (),
        *,
        failures: int = 0,
        errors: list[str] | None = None,
        receipts: int = 0,
        acked: int = 0,
    ) -> None:
        super().__init__(messages)
        self.failures = failures  # envelopes that could not be opened or stored (acked anyway)
        self.errors = errors or []  # why, one line each
        self.receipts = receipts  # receipts applied to our outgoing messages
        self.acked = acked
        self.healed: list[str] = []  # peers offered a new session (theirs could not be opened)
        self.blocked = 0  # envelopes from blocked senders (or declined groups), dropped unread


@dataclass(frozen=True, slots=True)
class Read:
    ids: list[str]  # incoming message ids newly marked read
    receipts_sent: bool  # False when the relay could not be reached (the marks stay)


def _locked_out(relay_url: str, current: Bundle | None) -> str:
    """Why we cannot publish our identity, in one line (issue 13, finding 6)."""
    held = f"version {current.version} with other keys than this wallet's" if current is not None else "another bundle"
    return (
        f"locked out: {relay_url} holds an identity for you at {held}, signed by your key (a bundle you were "
        "asked to sign elsewhere?) and no newer one can be published over it: nobody can message you there; "
        "ask its operator to remove it, or use another relay"
    )


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _with_group(payload: payloads.Payload, group_id: str) -> payloads.Payload:
    if isinstance(payload, payloads.Unknown):
        return payloads.Unknown(payload.type, {**payload.fields, "group_id": group_id})
    if isinstance(payload, (payloads.Text, payloads.RedPacket, payloads.Payment, payloads.PaymentRequest)):
        return dataclasses.replace(payload, group_id=group_id)
    return payload


# -- the service -------------------------------------------------------------------------


class Messenger:
    def __init__(
        self, account_key: bytes, store: MessageStore, relay_url: str | None, clock: Callable[[], int]
    ) -> None:
        self._account_key = account_key
        self.address = addr.from_private_key(account_key)
        self.keys = MessagingKeys.from_account_key(account_key)
        self.store = store
        self.clock = clock
        self.relay_url = relay_url
        self._relay: RelayClient | None = None
        self._bundle: Bundle | None = None  # ours, as published
        self.sessions = SessionKeeper(self.address, self.keys, store, lambda: self.relay)
        self.prekeys_at_relay: int | None = None  # one-time prekeys the relay holds for us, once published
        self.prekey_problem: str | None = None  # why they could not be published, if so
        self._maintained_at: int | None = None  # clock ms of the last prekey upkeep

    @classmethod
    def open(
        cls, home: Path, account_key: bytes, *, relay_url: str | None = None, clock: Callable[[], int] | None = None
    ) -> Messenger:
        clock = clock or _now_ms
        address = addr.from_private_key(account_key)
        store = MessageStore(path_for(home, address), store_key(account_key), address, clock)
        return cls(account_key, store, relay_url or configured_relay(home), clock)

    @property
    def relay(self) -> RelayClient:
        if self._relay is None:
            if not self.relay_url:
                raise MessagingError("no relay set: choose one with `hongbao relay use URL`")
            self._relay = RelayClient(self.relay_url, clock=self.clock, refused_retries=1)  # down: kept pending at once
            self._relay.pass_for = self.store.consent.their_pass  # their contact lane, if they gave us a pass
        return self._relay

    def close(self) -> None:
        if self._relay is not None:
            self._relay.close()
        self.store.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- our identity ----------------------------------------------------------------------

    @property
    def fingerprint(self) -> str:
        return fingerprint(Bundle(self.address, self.keys.x25519_public, self.keys.ed25519_public, 0, 1))

    def publish(self) -> str:
        """Make sure the relay holds a bundle with our keys ("created", "updated" or
        "unchanged") and enough of our prekeys (see sessions.py). Idempotent."""
        status = self._publish_bundle()
        self.relay.authenticate(self.address, self.keys)
        self._upkeep(force=True)
        self._register_pass()
        return status

    def _publish_bundle(self) -> str:
        return self._put_bundle()[1]

    def _put_bundle(self) -> tuple[Bundle, str]:
        """Publish our bundle unless the relay has our keys already: (ours, the relay's status).
        One that no longer verifies (the old signed form) is replaced by a new version."""
        try:
            current, usable = self.relay.get_bundle(self.address), True
        except BundleInvalid:
            current, usable = self.relay.get_bundle(self.address, verify=False), False
        mine = Bundle(self.address, self.keys.x25519_public, self.keys.ed25519_public, 0, 1)
        if current is not None and usable and same_keys(current, mine):
            self._bundle = current
            status = "unchanged"
        else:
            version = current.version + 1 if current is not None else 1
            if current is not None and not same_keys(current, mine) and version >= MAX_BUNDLE_VERSION:
                raise MessagingError(_locked_out(self.relay.base_url, current))
            bundle = make_bundle(self._account_key, self.clock() // 1000, version, self.keys)
            try:
                status = self.relay.publish_bundle(bundle)
            except (StaleBundle, BundleInvalid) as error:
                raise MessagingError(f"{_locked_out(self.relay.base_url, current)} (the relay says: {error})") from None
            self._bundle = bundle
        return self._bundle, status

    def protection(self, conversation: str) -> str:
        """How a conversation's messages are protected, in words (see sessions.py)."""
        if conversation.startswith(GROUP_PREFIX):
            group = self.store.group(conversation[len(GROUP_PREFIX) :])
            members = groups_mod.recipients(group, None, self.address) if group is not None else []
            secret = sum(self.sessions.forward_secret(m) for m in members)
            return f"pairwise sessions: forward-secret with {secret} of {len(members)} members"
        return self.sessions.protection(addr.parse(conversation))

    def _own_bundle(self) -> Bundle:
        if self._bundle is None:
            return self._put_bundle()[0]  # prekey upkeep is for commands that receive: a send need not wait for it
        return self._bundle

    # -- peers -----------------------------------------------------------------------------

    def bundle_for(self, address: str, *, refresh: bool = False) -> tuple[Bundle, BundleChange]:
        """The pinned bundle of `address`; if none (or with `refresh`), the relay's, verified
        here and recorded (NEW on first contact, KEY_CHANGED flags the contact). A relay
        offering an older bundle than the pinned one, or none, does not replace it."""
        address = addr.parse(address)
        known = self.store.known_bundle(address)
        if known is not None and not refresh:
            return known, BundleChange.UNCHANGED
        try:
            fetched = self.relay.get_bundle(address, known=known)
        except StaleBundle:
            fetched = None  # a rolled-back relay: keep what we trust
        if fetched is None:
            if known is not None:
                return known, BundleChange.UNCHANGED
            raise MessagingError(
                f"{address} has no messaging identity on {self.relay.base_url}: they have not used Hongbao chat there yet (they publish it with `hongbao relay use URL`)"
            )
        change = self.store.record_bundle(fetched)
        return self.store.known_bundle(address) or fetched, change

    def resolve(self, to: str) -> Target:
        """An address, a contact name, a group name or group:<id>."""
        text = to.strip() if isinstance(to, str) else ""
        if text.startswith(GROUP_PREFIX):
            group = self.store.group(text[len(GROUP_PREFIX) :].lower())
            if group is None:
                raise MessagingError(f"unknown group {text!r}: see `hongbao group list`")
            return self._group_target(group)
        if _ADDRESS.match(text):
            address = addr.parse(text)
            contact = self.store.contact(address)
            return Target("direct", address, [address], contact.name if contact else None)
        contact = self.store.contact(text) if text else None
        if contact is not None and contact.saved:  # my contacts' names come first
            return Target("direct", contact.address, [contact.address], contact.name)
        key = unicodedata.normalize("NFKC", text).casefold()
        groups = [g for g in self.groups() if unicodedata.normalize("NFKC", g.name).casefold() == key] if text else []
        mine = [g for g in groups if g.admin == self.address]
        named = mine or groups  # then groups I made, then the others I accepted
        if len(named) > 1:
            raise MessagingError(
                f"{len(named)} groups are named {text!r}: use " + " or ".join(f"group:{g.id}" for g in named)
            )
        if named:
            return self._group_target(named[0])
        raise MessagingError(f"unknown contact or group {text!r}: add it with `hongbao contacts add`")

    def _group_target(self, group: groups_mod.Group) -> Target:
        return Target("group", GROUP_PREFIX + group.id, groups_mod.recipients(group, None, self.address), group.name)

    def _member_address(self, member: str) -> str:
        """A member given as an address or a saved contact's name."""
        text = member.strip()
        if _ADDRESS.match(text):
            return addr.parse(text)
        contact = self.store.contact(text)
        if contact is None or not contact.saved:
            raise MessagingError(f"unknown contact {text!r}: add it with `hongbao contacts add`")
        return contact.address

    # -- sending ---------------------------------------------------------------------------

    def send(self, to: str, payload: payloads.Payload) -> SentMessage:
        """Send one payload to a contact or every member of a group."""
        return self.send_each(to, lambda _recipient, _index: payload)

    def send_each(self, to: str, make_payload: Callable[[str, int], payloads.Payload]) -> SentMessage:
        """Send a payload made for each recipient (`make_payload(address, index)`); the
        local copy keeps the first recipient's payload."""
        self._flush_quietly()  # older messages first
        target = self.resolve(to)
        group_id = target.conversation[len(GROUP_PREFIX) :] if target.kind == "group" else None
        items = []
        for index, recipient in enumerate(target.recipients):
            payload = make_payload(recipient, index)
            items.append((recipient, _with_group(payload, group_id) if group_id else payload))
        if not items:  # a group of one: only our own copy
            stored = make_payload(self.address, 0)
            items_stored = _with_group(stored, group_id) if group_id else stored
            return self._deliver(target.conversation, [], items_stored)
        return self._deliver(target.conversation, items, items[0][1])

    def _deliver(
        self,
        conversation: str,
        items: Sequence[tuple[str, payloads.Payload]],
        stored_payload: payloads.Payload,
        *,
        before_store: Callable[[], None] | None = None,
    ) -> SentMessage:
        """Seal each (recipient, payload) with its own id, store one outgoing message with a
        copy per recipient, post, mark sent. Nothing is sealed while any recipient's key
        change is unconfirmed. With the relay down, recipients already pinned are sealed to
        their pinned bundles and the message is stored pending before RelayUnreachable is
        raised: `flush_pending` posts it later. In a group, a member whose keys are
        unusable (a hostile or broken bundle or prekeys) is left out and named in
        `skipped`; anything else that fails stops the send before anything is stored
        (`before_store`, e.g. saving a group change, runs only once every copy is sealed)."""
        group = conversation.startswith(GROUP_PREFIX)
        first_contact: dict[str, str] = {}
        bundles: dict[str, Bundle] = {}
        skipped: dict[str, str] = {}
        unreachable: RelayUnreachable | None = None
        for recipient, _ in items:
            known = self.store.known_bundle(recipient)
            if unreachable is not None and known is not None:
                bundles[recipient] = known
                continue
            try:
                bundle, change = self.bundle_for(recipient, refresh=True)
            except _PEER_FAULTS as error:
                if not group:
                    raise
                skipped[recipient] = str(error)
                continue
            except RelayUnreachable as error:
                if known is None:
                    raise  # a first contact needs the relay: nothing stored
                bundle, change, unreachable = known, BundleChange.UNCHANGED, error
            bundles[recipient] = bundle
            if change is BundleChange.NEW:
                first_contact[recipient] = bundle.fingerprint
        for recipient in bundles:
            self._check_can_send(recipient)
        ours = None
        if items:
            try:
                ours = self._own_bundle()
            except RelayUnreachable as error:
                unreachable = error
        now = self.clock()
        ids = {recipient: env.new_message_id() for recipient, _ in items if recipient not in skipped}
        envelopes = []
        writes: list[Write] = []  # the advanced sessions, stored with the message: both or neither
        with self.sessions.lock():  # held until they are stored (no other process seals from the old state)
            if unreachable is None:  # else nothing is posted now: flush_pending seals later
                for recipient, payload in items:
                    if recipient in skipped:
                        continue
                    include = (
                        ours if recipient in first_contact or not self.store.messages(recipient, limit=1) else None
                    )
                    try:
                        envelopes.append(
                            self.sessions.seal(
                                bundles[recipient],
                                payload,
                                now_ms=now,
                                message_id=ids[recipient],
                                include_bundle=include,
                                writes=writes,
                            )
                        )
                    except _PEER_FAULTS as error:
                        if not group:
                            raise
                        skipped[recipient] = str(error)
                        del ids[recipient]
            if before_store is not None:
                before_store()
            copies = {recipient: message_id.hex() for recipient, message_id in ids.items()}
            message_id = (
                next(iter(ids.values()))
                if len(ids) == 1 and not conversation.startswith(GROUP_PREFIX)
                else env.new_message_id()
            )
            stored = self.store.add_outgoing(
                conversation,
                message_id,
                stored_payload,
                now,
                copies=copies,
                also=all_of(writes),
            )
        if unreachable is not None:
            raise unreachable  # stored pending: the next send or receive flushes it
        if envelopes:
            self.relay.send(envelopes)  # stays pending in the store if this fails
        self.store.mark_sent(message_id)
        for recipient, _ in items:  # writing to someone accepts them: they may answer in my contact lane
            self._accept_quietly(recipient)
        return SentMessage(stored.conversation, stored.id, copies, stored, first_contact, skipped=skipped)

    def flush_pending(self) -> int:
        """Post every outgoing copy still pending, sealed again from the stored payload to
        the recipient's current bundle with the same envelope id and timestamp (the relay
        deduplicates by id, the recipient ignores a replay: a retry of a post that did
        arrive is harmless), and mark it sent. Returns how many were sent. Stops quietly
        when the relay cannot be reached or rate-limits us; a copy whose recipient has an
        unconfirmed key change (or no bundle, or is older than a recipient accepts, or is
        refused by the relay) stays pending."""
        pending = self.store.pending_copies()
        if not pending:
            return 0
        sent = 0
        bundles: dict[str, Bundle | None] = {}
        try:
            ours = self._own_bundle()
            for copy in pending:
                if self.clock() - copy.timestamp_ms > env.MAX_AGE_MS - env.MAX_SKEW_MS:
                    continue  # the recipient would refuse it as stale
                if isinstance(copy.payload, payloads.RedPacket):
                    # Each member's packet message carries that member's own authorization,
                    # but the store keeps one recipient's version: `hongbao packet resend`
                    # rebuilds them from the creator's keeper instead.
                    continue
                if copy.recipient not in bundles:
                    try:
                        fetched, _change = self.bundle_for(copy.recipient, refresh=True)
                        self.store.check_can_send(copy.recipient)
                        bundles[copy.recipient] = fetched
                    except (RelayUnreachable, RateLimited):
                        raise
                    except MessagingError:  # a key change to confirm, no identity, ...
                        bundles[copy.recipient] = None
                bundle = bundles[copy.recipient]
                if bundle is None:
                    continue
                payload = self._retry_payload(copy.conversation, copy.recipient, copy.payload)
                try:
                    envelope = self.sessions.seal(
                        bundle,
                        payload,
                        now_ms=copy.timestamp_ms,
                        message_id=bytes.fromhex(copy.envelope_id),
                        include_bundle=ours,
                    )
                except (RelayUnreachable, RateLimited):
                    raise
                except MessagingError:  # a forged prekey bundle, a refused downgrade: left pending
                    continue
                try:
                    self.relay.send([envelope])
                except RateLimited:
                    raise
                except RelayRejected:
                    continue  # refused (too big, mailbox full, ...): left pending
                self.store.mark_sent(copy.message_id, to=copy.recipient)
                sent += 1
        except (RelayUnreachable, RateLimited):
            pass  # the rest stays pending
        return sent

    def _retry_payload(self, conversation: str, recipient: str, payload: payloads.Payload) -> payloads.Payload:
        """The payload a copy was sent with: the stored one, except that members a group
        change added got the whole group (as in `_control`)."""
        if isinstance(payload, payloads.GroupControl) and payload.op == "add" and recipient in payload.members:
            group = self.store.group(payload.group_id)
            if group is not None:
                return payloads.GroupControl("create", group.id, group.name, group.members)
        return payload

    def _flush_quietly(self) -> None:
        """Best effort before a send or receive: a failure must not stop them."""
        with contextlib.suppress(MessagingError):
            self.flush_pending()

    def _check_can_send(self, address: str) -> None:
        try:
            self.store.check_can_send(address)
        except KeyChangeUnconfirmed as error:
            contact = self.store.contact(address)
            who = contact.name if contact is not None and contact.name else address
            raised = KeyChangeUnconfirmed(f"{error}: `hongbao contacts verify {who} --confirm`")
            raised.address = address
            raise raised from None

    def _post_silent(
        self, to: str, payload: payloads.Payload, *, new_session: bool = False, include_bundle: Bundle | None = None
    ) -> bool:
        """Control traffic (receipts): to the pinned key, in the current session if any
        (receipts start no session unless asked), not stored. False if nothing was sent."""
        bundle = self.store.known_bundle(to)
        contact = self.store.contact(to)
        if bundle is None or contact is None or contact.key_changed:
            return False
        envelope = self.sessions.seal(
            bundle, payload, now_ms=self.clock(), new_session=new_session, include_bundle=include_bundle
        )
        if envelope is None:
            return False
        self.relay.send([envelope])
        return True

    def _heal(self, peer: str) -> None:
        """They write in a session we no longer have: an empty receipt in a new session
        (which their client adopts), so their next messages open again."""
        with contextlib.suppress(MessagingError):  # best effort: our next message to them starts the session anyway
            self._post_silent(peer, payloads.Receipt("delivered", ()), new_session=True)

    # -- groups ----------------------------------------------------------------------------

    def _group(self, group: str) -> groups_mod.Group:
        target = self.resolve(group)
        if target.kind != "group":
            raise MessagingError(f"{group!r} is a contact, not a group")
        found = self.store.group(target.conversation[len(GROUP_PREFIX) :])
        if found is None:  # deleted since it was resolved
            raise MessagingError(f"unknown group {group!r}: see `hongbao group list`")
        if found.admin != self.address:
            raise MessagingError(f"only the group's admin ({found.admin}) changes {found.name!r}")
        return found

    def _control(self, group: groups_mod.Group, control: payloads.GroupControl) -> tuple[groups_mod.Group, SentMessage]:
        """Apply a membership change locally, then tell everyone (new members get the whole group)."""
        updated = groups_mod.apply(None if control.op == "create" else group, control, self.address)
        recipients = groups_mod.recipients(updated, control, self.address)
        for recipient in recipients:  # fail before anything changes, not half-way
            with contextlib.suppress(*_PEER_FAULTS):  # left out by _deliver, and named
                self.bundle_for(recipient, refresh=True)
            self._check_can_send(recipient)
        added = set(control.members) if control.op == "add" else set()
        whole = payloads.GroupControl("create", updated.id, updated.name, updated.members)
        items = [(r, whole if r in added else control) for r in recipients]
        # Saved once every copy is sealed: a change that cannot be sent changes nothing here.
        sent = self._deliver(
            GROUP_PREFIX + updated.id, items, control, before_store=lambda: self.store.save_group(updated)
        )
        return updated, sent

    def create_group(self, name: str, members: list[str]) -> tuple[groups_mod.Group, SentMessage]:
        group, control = groups_mod.create(self.address, name, [self._member_address(m) for m in members])
        return self._control(group, control)

    def add_members(self, group: str, members: list[str]) -> tuple[groups_mod.Group, SentMessage]:
        current = self._group(group)
        new = [m for m in dict.fromkeys(self._member_address(m) for m in members) if m not in current.members]
        if not new:
            raise MessagingError(f"everyone named is already in {current.name!r}")
        return self._control(current, payloads.GroupControl("add", current.id, current.name, tuple(new)))

    def remove_members(self, group: str, members: list[str]) -> tuple[groups_mod.Group, SentMessage]:
        current = self._group(group)
        gone = [m for m in dict.fromkeys(self._member_address(m) for m in members) if m in current.members]
        if not gone:
            raise MessagingError(f"no one named is in {current.name!r}")
        return self._control(current, payloads.GroupControl("remove", current.id, current.name, tuple(gone)))

    def rename_group(self, group: str, name: str) -> tuple[groups_mod.Group, SentMessage]:
        current = self._group(group)
        return self._control(current, payloads.GroupControl("rename", current.id, name, ()))

    # -- receiving -------------------------------------------------------------------------

    def _handle(self, envelope: env.Envelope, result: Received) -> StoredMessage | None:
        """Open, store and apply one envelope; None for junk or a replay (counted in result)."""
        opening = self.sessions.opening()
        try:
            with self.sessions.lock():  # the ratchet state read, advanced and stored with the message as one step
                opened = env.open_envelope(
                    envelope,
                    self.address,
                    self.keys,
                    now_ms=self.clock(),
                    known_bundle=self.store.known_bundle,
                    seen=self.store.seen,
                    decrypt=opening.decrypt,
                )
                if self._unwanted(opened):
                    result.blocked += 1
                    return None
                if opened.format == env.VERSION and self.sessions.forward_secret(opened.sender):
                    # Signed only, from someone we share a session with: whoever holds their
                    # long-term messaging key could have written it. Shown with the message.
                    opening.writes.append(self.sessions.store.write_flag(opened.id.hex(), DOWNGRADE_FLAG))
                stored = self.store.add_incoming(opened, also=opening.commit)
        except Replay:
            return None  # stored before (or a ratchet duplicate): only the ack was missing
        except (MessagingError, CryptoError) as error:  # whatever a stranger sends is at most one failure
            result.failures += 1
            why = (
                error if isinstance(error, MessagingError) else f"a cryptographic check failed ({type(error).__name__})"
            )
            result.errors.append(f"message {envelope.id.hex()}: {why}")
            if opening.heal is not None and opening.heal not in result.healed:
                result.healed.append(opening.heal)
                self._heal(opening.heal)
            return None
        payload = stored.payload
        if isinstance(payload, payloads.Receipt):
            if self.store.apply_receipt(payload, stored.sender):
                result.receipts += 1
        elif isinstance(payload, payloads.DeliveryPass):
            self.store.consent.set_their_pass(stored.sender, bytes.fromhex(payload.key))
        elif isinstance(payload, payloads.GroupControl):
            current = self.store.group(payload.group_id)
            if payload.op == "create" and current is not None and current.admin == stored.sender:
                current = None  # re-added after a removal: the whole group again
            if current is None and not self.accepts(stored.sender):
                self.store.consent.set_group(payload.group_id, consent_mod.INVITED, stored.sender)  # until I say so
            try:
                self.store.save_group(groups_mod.apply(current, payload, stored.sender))
            except PayloadError as error:
                result.failures += 1
                result.errors.append(f"group change {stored.id} from {stored.sender} ignored: {error}")
        return stored

    def _delivered(self, messages: list[StoredMessage]) -> None:
        """Delivered receipts (as Signal, to requests too: read receipts wait for consent);
        accepted peers also get my delivery pass if they lack the current one."""
        by_sender: dict[str, list[str]] = {}
        for message in messages:
            if message.type not in _SILENT:
                by_sender.setdefault(message.sender, []).append(message.id)
        for sender, ids in by_sender.items():
            # Best effort, per sender: a stranger's full mailbox (507) or unusable key must
            # not stop the others' receipts, nor the receive that sends them.
            with contextlib.suppress(MessagingError):
                if self.accepts(sender):
                    self._give_pass(sender)
                for start in range(0, len(ids), 500):
                    self._post_silent(sender, payloads.Receipt("delivered", tuple(ids[start : start + 500])))

    def receive(self) -> Received:
        """Fetch the mailbox, store what opens, apply receipts and group changes, ack
        everything handled (junk too), send delivered receipts. RelayUnreachable leaves
        what was stored in place. Pending outgoing messages are posted first (best effort)."""
        self._flush_quietly()
        self._own_bundle()
        self.relay.authenticate(self.address, self.keys)
        self._upkeep()
        self._register_pass()
        result = Received()
        handled: list[bytes] = []
        try:
            for _seq, envelope in self.relay.fetch_all(0, address=self.address):
                stored = self._handle(envelope, result)
                handled.append(envelope.id)
                if stored is not None and stored.type not in _SILENT:
                    result.append(stored)
        finally:
            if handled:
                result.acked = self.relay.ack(handled, address=self.address)
        self._delivered(result)
        return result

    async def watch(
        self, *, on_connect: Callable[[int], None] | None = None, max_failures: int | None = None
    ) -> AsyncIterator[tuple[StoredMessage, Received]]:
        """Stream the mailbox: each envelope is handled and acked as it arrives; yields
        (new message, running counts). Receipts are applied, junk counted, neither yielded."""
        self._own_bundle()
        self.relay.authenticate(self.address, self.keys)
        self._upkeep()
        self._register_pass()
        counts = Received()
        async for _seq, envelope in self.relay.stream(
            0, address=self.address, on_connect=on_connect, max_failures=max_failures
        ):
            stored = self._handle(envelope, counts)
            self.relay.ack([envelope.id], address=self.address)
            counts.acked += 1
            self._upkeep()
            if stored is not None and stored.type not in _SILENT:
                self._delivered([stored])
                yield stored, counts

    def _upkeep(self, *, force: bool = False) -> None:
        """Prekey upkeep (sessions.maintain), best effort: on publishing, and in a long
        `watch` at most every UPKEEP_MS as first messages use them up. An older relay
        without prekeys, or one refusing them now, leaves chats working in format 1
        (peers see "signed, not forward-secret"); `prekey_problem` says why."""
        if not force and self._maintained_at is not None and self.clock() - self._maintained_at < UPKEEP_MS:
            return
        self._maintained_at = self.clock()
        try:
            self.prekeys_at_relay, self.prekey_problem = self.sessions.maintain(), None
        except (RelayRejected, RelayProtocolError, RelayUnreachable) as error:
            self.prekey_problem = str(error)

    def flags(self, messages: Iterable[StoredMessage]) -> dict[str, str]:
        """Warnings to show with these messages (message id -> text), e.g. DOWNGRADE_FLAG."""
        return self.sessions.store.flags([m.id for m in messages if m.direction == "in"])

    def mark_read(self, conversation: str) -> Read:
        """Mark a conversation read and send each sender a read receipt (best effort: if
        the relay is down the messages stay read and receipts_sent is False)."""
        from .client import RelayRejected, RelayUnreachable

        by_sender = self.store.mark_read_by_sender(conversation)
        sent = True
        for sender, ids in by_sender.items():
            if not self.accepts(sender):
                continue  # a message request gets no read receipt
            try:
                for start in range(0, len(ids), 500):
                    self._post_silent(sender, payloads.Receipt("read", tuple(ids[start : start + 500])))
            except (RelayUnreachable, RelayRejected, MessagingError):
                sent = False
        return Read([i for ids in by_sender.values() for i in ids], sent)

    # -- consent: requests, blocks, invitations, delivery passes (messaging/consent.py) -------

    def accepts(self, address: str) -> bool:
        """Whether `address` is someone I accepted: a saved contact, someone I wrote to, or
        `accept`ed; never while blocked."""
        state = self.store.consent.state(address)
        if state is not None:
            return state == consent_mod.ACCEPTED
        contact = self.store.contact(address)
        return contact is not None and contact.saved

    def _unwanted(self, opened: env.Opened) -> bool:
        """Mail dropped unread: from a blocked sender, or for a group I declined."""
        if self.store.consent.state(opened.sender) == consent_mod.BLOCKED:
            return True
        group_id = getattr(opened.payload, "group_id", None)
        return isinstance(group_id, str) and self.store.consent.group_state(group_id) == consent_mod.DECLINED

    def groups(self) -> list[groups_mod.Group]:
        """My groups: those I made, accepted, or was put in by someone I accept (never a
        pending invitation or a declined group)."""
        hidden = {consent_mod.INVITED, consent_mod.DECLINED}
        return [g for g in self.store.groups() if self.store.consent.group_state(g.id) not in hidden]

    def invitations(self) -> list[tuple[groups_mod.Group, str]]:
        """Groups strangers put me in, waiting for `accept_group` or `decline_group`: (group, inviter)."""
        found = []
        for group_id, inviter in self.store.consent.groups(consent_mod.INVITED):
            group = self.store.group(group_id)
            if group is not None:
                found.append((group, inviter))
        return found

    def _invitation(self, group_id: str) -> str:
        text = group_id.strip().lower().removeprefix(GROUP_PREFIX)
        if self.store.consent.group_state(text) != consent_mod.INVITED:
            raise MessagingError(f"no group invitation {group_id!r}: see `hongbao group invitations`")
        return text

    def accept_group(self, group_id: str) -> groups_mod.Group:
        found = self._invitation(group_id)
        self.store.consent.set_group(found, consent_mod.ACCEPTED, "")
        group = self.store.group(found)
        assert group is not None  # noqa: S101  an invitation is stored with its group
        return group

    def decline_group(self, group_id: str) -> None:
        """Its mail is dropped from now on; the admin is not told."""
        self.store.consent.set_group(self._invitation(group_id), consent_mod.DECLINED, "")

    def requests(self) -> list[str]:
        """Addresses that wrote to me and I have not accepted or blocked, newest first."""
        found = []
        for summary in self.store.conversations():
            if summary.is_group or not _ADDRESS.match(summary.id):
                continue
            if self.store.consent.state(summary.id) is None and not self.accepts(summary.id):
                found.append(summary.id)
        return found

    def accept(self, address: str) -> bool:
        """Accept (or unblock) `address`: their mail is theirs again, they get my delivery
        pass. False if the pass could not be given now (it is given with my next message)."""
        address = _checked(address)
        self.store.consent.set_state(address, consent_mod.ACCEPTED)
        return self._give_pass(address)

    def block(self, address: str) -> int:
        """Drop `address`'s mail from now on and rotate my delivery pass, so the one they
        hold stops working at the relay; everyone else I accept gets the new one. How many
        peers got it now (the rest get it with my next message or receipt)."""
        address = _checked(address)
        self.store.consent.set_state(address, consent_mod.BLOCKED)
        self.store.consent.rotate_pass()
        with contextlib.suppress(RelayUnreachable):  # else the next receive registers it
            self._register_pass()
        given = 0
        peers = set(self.store.consent.peers(consent_mod.ACCEPTED)) | {c.address for c in self.store.contacts()}
        for peer in sorted(peers - {address}):
            given += self.accepts(peer) and self._give_pass(peer)
        return given

    def _accept_quietly(self, address: str) -> None:
        if self.store.consent.state(address) is None:
            self.store.consent.set_state(address, consent_mod.ACCEPTED)
        if self.accepts(address):
            self._give_pass(address)

    def _register_pass(self) -> None:
        """Make sure the relay holds my current pass (best effort: an older relay has no
        lanes, and mail still flows)."""
        mine = self.store.consent.my_pass()
        where = f"{self.relay.base_url}|{consent_mod.pass_id(mine)}"
        if self.store.consent.registered() == where:
            return
        with contextlib.suppress(RelayRejected, RelayProtocolError):
            self.relay.authenticate(self.address, self.keys)
            self.relay.register_passes([mine], address=self.address)
            self.store.consent.set_registered(where)

    def _give_pass(self, address: str) -> bool:
        """Send `address` my current pass unless they have it (best effort)."""
        mine = self.store.consent.my_pass()
        current = consent_mod.pass_id(mine)
        if self.store.consent.given(address) == current:
            return True
        try:
            self._register_pass()
            # with our bundle: it may travel before they could open anything of ours
            if not self._post_silent(address, payloads.DeliveryPass(mine.hex()), include_bundle=self._own_bundle()):
                return False
        except MessagingError:
            return False
        self.store.consent.set_given(address, current)
        return True


def _checked(address: str) -> str:
    if not isinstance(address, str) or not _ADDRESS.match(address.strip()):
        raise MessagingError(f"{address!r} is not an address (0x and 40 hex digits)")
    return addr.parse(address.strip())


__all__ = ["RELAY_SECTION", "Messenger", "Read", "Received", "SentMessage", "Target", "configured_relay", "save_relay"]
