"""The relay's X3DH prekeys (formats and checks: messaging/prekeys.py): one signed prekey
per address, replaced by each upload that carries one, and up to MAX_STORED one-time
prekeys, each handed out once, oldest first, and deleted as it is claimed.

The routes verify every signature before calling here; this module makes it stick:

* every write runs in the store's write transaction (one writer at a time on SQLite);
* on PostgreSQL every write for an address first locks its identity row: uploads and
  identity re-publishing take it FOR UPDATE, claims FOR SHARE. So uploads of one address
  take turns (the MAX_STORED check is exact), a new identity key cannot slip between an
  upload's key check and its insert, and a claim reads one identity's keys. Claims share
  that lock and take the oldest one-time prekey no other claim holds (FOR UPDATE SKIP
  LOCKED): two claims never get the same key, and neither waits for the other.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from typing import NamedTuple

from sqlalchemy import Connection, delete, func, select

from messaging.prekeys import MAX_STORED, OneTimePrekey, SignedPrekey

from .errors import Conflict, Invalid, NotFound
from .models import identities, one_time_prekeys, signed_prekeys

WriteTransaction = Callable[[], contextlib.AbstractContextManager[Connection]]


class PrekeyStatus(NamedTuple):
    one_time: int  # one-time prekeys left
    signed: SignedPrekey | None


class Claimed(NamedTuple):
    identity_key: bytes  # the Ed25519 key of the address's current identity bundle
    signed: SignedPrekey
    one_time: OneTimePrekey | None  # None: they ran out


def wipe(connection: Connection, address: str) -> None:
    """Delete an address's prekeys (in the caller's transaction): its identity key changed,
    so they are signed by a key nobody should trust for it any more."""
    connection.execute(delete(one_time_prekeys).where(one_time_prekeys.c.address == address))
    connection.execute(delete(signed_prekeys).where(signed_prekeys.c.address == address))


class PrekeyStore:
    def __init__(self, engine, write: WriteTransaction, insert) -> None:
        self.engine = engine
        self._write = write
        self._insert = insert  # the dialect's insert (ON CONFLICT)

    @staticmethod
    def _signed(connection: Connection, address: str) -> SignedPrekey | None:
        row = connection.execute(
            select(signed_prekeys.c.key, signed_prekeys.c.signature, signed_prekeys.c.created_at).where(
                signed_prekeys.c.address == address
            )
        ).first()
        return (
            None if row is None else SignedPrekey(bytes.fromhex(row.key), bytes.fromhex(row.signature), row.created_at)
        )

    @classmethod
    def _status(cls, connection: Connection, address: str) -> PrekeyStatus:
        count = connection.execute(
            select(func.count()).select_from(one_time_prekeys).where(one_time_prekeys.c.address == address)
        ).scalar_one()
        return PrekeyStatus(count, cls._signed(connection, address))

    def status(self, address: str) -> PrekeyStatus:
        with self.engine.connect() as connection:
            return self._status(connection, address)

    def put(
        self,
        address: str,
        identity_key: bytes,
        signed: SignedPrekey | None,
        one_time: Sequence[OneTimePrekey],
        now_ms: int,
        *,
        replace: bool = False,
    ) -> PrekeyStatus:
        """Store prekeys the caller verified against `identity_key`: replace the signed
        prekey (if given), add the one-time prekeys not already stored (a retry adds
        nothing; with `replace`, the stored ones are deleted first, in the same transaction). NotFound without an identity; Conflict if the identity key is no longer
        `identity_key`; Invalid (nothing stored) beyond MAX_STORED one-time prekeys."""
        with self._write() as connection:
            current = connection.execute(
                select(identities.c.ed25519).where(identities.c.address == address).with_for_update()
            ).scalar()
            if current is None:
                raise NotFound(
                    f"no identity is published for {address}; publish one first (PUT /v1/identities/{address})"
                )
            if current != identity_key.hex():
                raise Conflict(
                    f"the identity key of {address} changed during this upload; sign the prekeys with the new key",
                    code="identity_changed",
                )
            if signed is not None:
                values = {
                    "key": signed.key.hex(),
                    "signature": signed.signature.hex(),
                    "created_at": signed.created_at,
                    "updated_at": now_ms,
                }
                upsert = self._insert(signed_prekeys).values(address=address, **values)
                connection.execute(upsert.on_conflict_do_update(index_elements=["address"], set_=values))
            if replace:
                connection.execute(delete(one_time_prekeys).where(one_time_prekeys.c.address == address))
            if one_time:
                rows = [{"address": address, "key": p.key.hex(), "signature": p.signature.hex()} for p in one_time]
                connection.execute(
                    self._insert(one_time_prekeys).on_conflict_do_nothing(index_elements=["address", "key"]), rows
                )
            status = self._status(connection, address)
            if status.one_time > MAX_STORED:  # raising rolls the whole upload back
                raise Invalid(
                    f"the relay holds at most {MAX_STORED} one-time prekeys per address; this upload would make it {status.one_time}; nothing was stored",
                    code="too_many_prekeys",
                )
            return status

    def claim(self, address: str, *, one_time: bool = True) -> Claimed | None:
        """Take (delete) the address's oldest one-time prekey (unless `one_time` is False),
        with its signed prekey and identity key; None if it has no signed prekey."""
        oldest = (
            select(one_time_prekeys.c.seq)
            .where(one_time_prekeys.c.address == address)
            .order_by(one_time_prekeys.c.seq)
            .limit(1)
            .with_for_update(skip_locked=True)  # PostgreSQL; SQLite's writers take turns anyway
            .scalar_subquery()
        )
        take = (
            delete(one_time_prekeys)
            .where(one_time_prekeys.c.seq == oldest)
            .returning(one_time_prekeys.c.key, one_time_prekeys.c.signature)
        )
        with self._write() as connection:
            identity = connection.execute(
                select(identities.c.ed25519).where(identities.c.address == address).with_for_update(read=True)
            ).scalar()
            if identity is None:
                return None
            signed = self._signed(connection, address)
            if signed is None:
                return None
            taken = connection.execute(take).first() if one_time else None
        prekey = None if taken is None else OneTimePrekey(bytes.fromhex(taken.key), bytes.fromhex(taken.signature))
        return Claimed(bytes.fromhex(identity), signed, prekey)
