"""The relay's repository: identities, envelopes, auth challenges, secrets; X3DH prekeys
in node/prekey_store.py (`store.prekeys`), sharing this store's write transaction.

Sync SQLAlchemy Core (no ORM object per envelope); posting a batch goes through
node/batch.py on the driver's cursor: one multi-row INSERT ... ON CONFLICT (id) DO NOTHING
RETURNING in one transaction, on SQLite and PostgreSQL alike. Times are unix
milliseconds, given by the caller (or by the clock passed in).

Cursor order: a reader resumes a mailbox after the last seq it saw, so one mailbox's seqs
must become visible in increasing order. SQLite has one writer at a time, which gives
that for free; on PostgreSQL sequence values are handed out before commit, so a batch
first takes a transaction-scoped advisory lock per mailbox it writes to (in a fixed
order: no deadlocks). The same lock makes the quota check exact under concurrency.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Literal, NamedTuple

from sqlalchemy import Connection, Engine, Table, bindparam, delete, func, select, text, update
from sqlalchemy.dialects import postgresql, sqlite

from messaging.envelope import VERSION, Envelope
from messaging.identity import Bundle, supersedes
from wallet.address import to_checksum

from .batch import NOTIFY_CHANNEL, BatchWriter
from .clock import Clock
from .db import IMMEDIATE
from .lanes import CONTACT, TOTAL, Charge, pass_hash
from .models import challenges, delivery_passes, envelopes, identities, mailbox_usage, relay_secrets, request_usage
from .prekey_store import PrekeyStore, wipe

SWEEP_CHUNK = 5000

PublishResult = Literal["created", "updated", "unchanged"]


@dataclass(frozen=True, slots=True)
class StoredEnvelope:
    seq: int
    envelope: Envelope


class Accepted(NamedTuple):
    """(id_hex, seq, duplicate)"""

    id: str
    seq: int
    duplicate: bool


@dataclass(frozen=True, slots=True)
class Delivery:
    """A committed batch's new envelopes for one mailbox, and the mailbox's newest seq
    before them (0: none): a reader that has seen up to `before` misses nothing by
    taking `stored` as they are."""

    mailbox: str
    before: int
    stored: list[StoredEnvelope]


@dataclass(frozen=True, slots=True)
class Posted:
    accepted: list[Accepted]
    deliveries: list[Delivery]
    lanes: dict[str, int] = field(default_factory=dict)  # id -> lanes.CONTACT or lanes.REQUEST


class RelayStore:
    def __init__(
        self,
        engine: Engine,
        clock: Clock,
        *,
        quota_messages: int = 10_000,
        quota_bytes: int = 256 * 1024 * 1024,
        requests: dict[str, int] | None = None,
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.postgres = engine.dialect.name == "postgresql"
        self._insert = postgresql.insert if self.postgres else sqlite.insert
        self._writer = engine if self.postgres else engine.execution_options(**IMMEDIATE)
        # SQLite has one writer per file: queue our threads here instead of in its busy
        # handler (which sleeps in steps of milliseconds).
        self._write_lock: contextlib.AbstractContextManager = (
            contextlib.nullcontext() if self.postgres else threading.Lock()
        )
        self._secrets: dict[str, bytes] = {}
        self._batches = BatchWriter(engine, self._write_lock, quota_messages, quota_bytes, requests)
        self.prekeys = PrekeyStore(engine, self._write, self._insert)

    @property
    def quota_messages(self) -> int:
        return self._batches.quota_messages

    @quota_messages.setter
    def quota_messages(self, value: int) -> None:
        self._batches.quota_messages = value

    @property
    def requests(self):  # the request lane's quotas (node/lanes.py)
        return self._batches.requests

    @property
    def quota_bytes(self) -> int:
        return self._batches.quota_bytes

    @quota_bytes.setter
    def quota_bytes(self, value: int) -> None:
        self._batches.quota_bytes = value

    @contextlib.contextmanager
    def _write(self) -> Iterator[Connection]:
        with self._write_lock, self._writer.begin() as connection:
            yield connection

    def ping(self) -> None:
        with self.engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    # -- identities ----------------------------------------------------------------------

    def publish_identity(self, bundle: Bundle) -> PublishResult:
        """Store a bundle the caller verified. StaleBundle if a newer one is stored. On
        PostgreSQL an update is NOTIFYed, so every relay's streams re-check their tokens.
        A new Ed25519 key deletes the address's prekeys, in the same transaction."""
        values = {
            "address": bundle.address,
            "bundle": bundle.to_bytes().decode(),
            "version": bundle.version,
            "issued_at": bundle.issued_at,
            "ed25519": bundle.ed25519.hex(),
            "updated_at": self.clock(),
        }
        with self._write() as connection:
            created = connection.execute(
                self._insert(identities)
                .values(values)
                .on_conflict_do_nothing(index_elements=["address"])
                .returning(identities.c.address)
            )
            if created.first() is not None:  # (RETURNING: rowcount is not reliable across drivers here)
                supersedes(bundle, None)  # a first version is bounded too (BundleInvalid: rolled back)
                return "created"
            stored = Bundle.from_bytes(
                connection.execute(
                    select(identities.c.bundle).where(identities.c.address == bundle.address).with_for_update()
                )
                .scalar_one()
                .encode()
            )
            if not supersedes(bundle, stored):
                return "unchanged"
            connection.execute(update(identities).where(identities.c.address == bundle.address).values(values))
            if stored.ed25519 != bundle.ed25519:
                wipe(connection, bundle.address)  # prekeys signed by the old key: void with it
            if self.postgres:
                connection.execute(
                    text("SELECT pg_notify(:channel, :mailbox)"), {"channel": NOTIFY_CHANNEL, "mailbox": bundle.address}
                )
            return "updated"

    def get_identity(self, address: str) -> Bundle | None:
        with self.engine.connect() as connection:
            stored = connection.execute(
                select(identities.c.bundle).where(identities.c.address == to_checksum(address))
            ).scalar()
        return None if stored is None else Bundle.from_bytes(stored.encode())

    def identity_key(self, address: str) -> bytes | None:
        """The Ed25519 messaging key of the address's current bundle (auth checks)."""
        with self.engine.connect() as connection:
            key = connection.execute(select(identities.c.ed25519).where(identities.c.address == address)).scalar()
        return None if key is None else bytes.fromhex(key)

    # -- envelopes -----------------------------------------------------------------------

    def post_envelopes(
        self, batch: list[Envelope], now: int, passes: list[bytes | None] | None = None
    ) -> list[Accepted]:
        """Store a batch in one transaction. A message id already stored (or repeated in
        the batch) is not stored again: its existing seq comes back with duplicate=True.
        `passes[i]`: the delivery pass presented with batch[i] (node/lanes.py), if any.
        QuotaExceeded (and nothing stored) if a mailbox's contact lane would go over its quota."""
        return self.post_batch(batch, now, passes).accepted

    def post_batch(
        self, batch: list[Envelope], now: int, passes: list[bytes | None] | None = None, charge: Charge | None = None
    ) -> Posted:
        """post_envelopes, plus what was new per mailbox (for pushing it to streams) and
        each envelope's lane; `charge` is called with the request lane's envelopes and bytes."""
        if not batch:
            return Posted([], [])
        rows: dict[str, tuple] = {}
        hashes: dict[str, str] = {}
        for index, envelope in enumerate(batch):
            key = envelope.id.hex()
            presented = passes[index] if passes is not None else None
            if presented is not None and key not in hashes:
                hashes[key] = pass_hash(presented)
            if key not in rows:
                rows[key] = (
                    to_checksum(envelope.to),
                    key,
                    envelope.ciphertext,
                    len(envelope.ciphertext),
                    now,
                    now + envelope.ttl * 1000,
                    CONTACT,
                )
        seqs, new, before, lanes = self._batches.write(list(rows.values()), now, hashes, charge)
        accepted = []
        fresh_by_mailbox: dict[str, list[StoredEnvelope]] = {}
        for envelope in batch:
            key = envelope.id.hex()
            fresh = key in new
            new.discard(key)  # a second copy in the same batch is a duplicate
            accepted.append(Accepted(key, seqs[key], not fresh))
            if fresh:
                mailbox = rows[key][0]
                stored = (
                    envelope
                    if envelope.to == mailbox
                    else Envelope(mailbox, envelope.id, envelope.ciphertext, envelope.ttl, envelope.version)
                )
                fresh_by_mailbox.setdefault(mailbox, []).append(StoredEnvelope(seqs[key], stored))
        deliveries = [
            Delivery(m, before.get(m, 0), sorted(items, key=lambda s: s.seq)) for m, items in fresh_by_mailbox.items()
        ]
        return Posted(accepted, deliveries, lanes)

    @staticmethod
    def _count_out(connection: Connection, deleted: Iterable[tuple[str, int, int]]) -> None:
        """Take deleted envelopes (mailbox, size, lane) out of their lanes' usage: the
        mailboxes' rows in order, the requests' relay-wide total last (lock order)."""
        removed: tuple[dict[str, list[int]], dict[str, list[int]]] = ({}, {})
        for mailbox, size, lane in deleted:
            usage = removed[0 if lane == CONTACT else 1].setdefault(mailbox, [0, 0])
            usage[0] += 1
            usage[1] += size
        contact, requests = removed
        if requests:
            requests[TOTAL] = [sum(n for n, _ in requests.values()), sum(b for _, b in requests.values())]
        tables: tuple[tuple[Table, dict[str, list[int]]], ...] = ((mailbox_usage, contact), (request_usage, requests))
        for table, lane_usage in tables:
            if lane_usage:
                connection.execute(
                    update(table)
                    .where(table.c.mailbox == bindparam("m"))
                    .values(messages=table.c.messages - bindparam("n"), bytes=table.c.bytes - bindparam("b")),
                    [
                        {"m": m, "n": n, "b": b}
                        for m, (n, b) in sorted(lane_usage.items(), key=lambda i: (i[0] == TOTAL, i[0]))
                    ],
                )

    def fetch(self, mailbox: str, after_seq: int, limit: int, now: int) -> list[StoredEnvelope]:
        """Unexpired envelopes of a mailbox after a cursor, by seq."""
        query = (
            select(
                envelopes.c.seq, envelopes.c.id, envelopes.c.ciphertext, envelopes.c.created_at, envelopes.c.expires_at
            )
            .where(envelopes.c.mailbox == mailbox, envelopes.c.seq > after_seq, envelopes.c.expires_at > now)
            .order_by(envelopes.c.seq)
            .limit(limit)
        )
        with self.engine.connect() as connection:
            rows = connection.execute(query).all()
        return [
            StoredEnvelope(seq, Envelope(mailbox, bytes.fromhex(id_), ct, (expires - created) // 1000, VERSION))
            for seq, id_, ct, created, expires in rows
        ]

    def ack(self, mailbox: str, ids: Iterable[str]) -> int:
        """Delete envelopes of this mailbox by message id (hex); others' are untouched."""
        wanted = sorted({i.lower() for i in ids})
        if not wanted:
            return 0
        with self._write() as connection:
            sizes = connection.execute(
                delete(envelopes)
                .where(envelopes.c.mailbox == mailbox, envelopes.c.id.in_(wanted))
                .returning(envelopes.c.size, envelopes.c.lane)
            ).all()
            self._count_out(connection, [(mailbox, size, lane) for size, lane in sizes])
        return len(sizes)

    def sweep(self, now: int) -> int:
        """Delete expired envelopes (in chunks, so writers are not held up) and
        challenges; the number of envelopes deleted."""
        swept = 0
        chunk = select(envelopes.c.seq).where(envelopes.c.expires_at <= now).limit(SWEEP_CHUNK).scalar_subquery()
        while True:
            with self._write() as connection:
                deleted = connection.execute(
                    delete(envelopes)
                    .where(envelopes.c.seq.in_(chunk))
                    .returning(envelopes.c.mailbox, envelopes.c.size, envelopes.c.lane)
                ).all()
                self._count_out(connection, [tuple(row) for row in deleted])
            swept += len(deleted)
            if len(deleted) < SWEEP_CHUNK:
                break
        with self._write() as connection:
            connection.execute(delete(challenges).where(challenges.c.expires_at <= now))
            connection.execute(delete(mailbox_usage).where(mailbox_usage.c.messages <= 0))
            connection.execute(
                delete(request_usage).where(request_usage.c.messages <= 0, request_usage.c.mailbox != TOTAL)
            )
        return swept

    def latest_seq(self, mailbox: str) -> int | None:
        with self.engine.connect() as connection:
            return connection.execute(select(func.max(envelopes.c.seq)).where(envelopes.c.mailbox == mailbox)).scalar()

    def counts(self) -> dict[str, int]:
        with self.engine.connect() as connection:
            stored, size = connection.execute(
                select(func.count(), func.coalesce(func.sum(envelopes.c.size), 0)).select_from(envelopes)
            ).one()
            published = connection.execute(select(func.count()).select_from(identities)).scalar_one()
        return {"envelopes": stored, "bytes": int(size), "identities": published}

    def set_passes(self, mailbox: str, hashes: list[str], now: int) -> int:
        """Replace the mailbox's delivery passes (SHA-256 hex each); how many it has now."""
        wanted = sorted({h.lower() for h in hashes})
        with self._write() as connection:
            connection.execute(delete(delivery_passes).where(delivery_passes.c.mailbox == mailbox))
            if wanted:
                connection.execute(
                    delivery_passes.insert(), [{"mailbox": mailbox, "hash": h, "created_at": now} for h in wanted]
                )
        return len(wanted)

    def request_usage(self, mailbox: str = TOTAL) -> tuple[int, int]:
        """(envelopes, bytes) in a mailbox's request lane, or (default) in all of them."""
        with self.engine.connect() as connection:
            row = connection.execute(
                select(request_usage.c.messages, request_usage.c.bytes).where(request_usage.c.mailbox == mailbox)
            ).first()
        return (0, 0) if row is None else (int(row[0]), int(row[1]))

    # -- auth challenges and secrets ---------------------------------------------------------

    def new_challenge(self, mailbox: str, now: int, ttl: int) -> str:
        """A fresh nonce (hex of 32 random bytes) for the mailbox, valid `ttl` seconds."""
        nonce = secrets.token_bytes(32).hex()
        with self._write() as connection:
            connection.execute(
                challenges.insert().values(nonce=nonce, mailbox=mailbox, expires_at=now + ttl * 1000, used=False)
            )
        return nonce

    def use_challenge(self, nonce: str, mailbox: str, now: int) -> bool:
        """Spend a nonce: True once, if it is unused, unexpired and the mailbox's."""
        with self._write() as connection:
            spent = connection.execute(
                update(challenges)
                .where(
                    challenges.c.nonce == nonce.lower(),
                    challenges.c.mailbox == mailbox,
                    challenges.c.used.is_(False),
                    challenges.c.expires_at > now,
                )
                .values(used=True)
                .returning(challenges.c.nonce)
            )
            return spent.first() is not None

    def secret(self, name: str) -> bytes:
        """A random 32-byte value shared by every relay on this database, made once."""
        if name not in self._secrets:
            with self._write() as connection:
                connection.execute(
                    self._insert(relay_secrets)
                    .values(name=name, value=os.urandom(32))
                    .on_conflict_do_nothing(index_elements=["name"])
                )
                self._secrets[name] = connection.execute(
                    select(relay_secrets.c.value).where(relay_secrets.c.name == name)
                ).scalar_one()
        return self._secrets[name]
