"""The hot path of RelayStore.post_envelopes, on the raw DB-API connection.

Measured on SQLite: one envelope per transaction took ~420 us through SQLAlchemy Core and
~170 us with the same statements on the driver's cursor (statement execution events,
result wrappers and pool bookkeeping, four times per batch). So this one path speaks SQL
directly, written once for both drivers (sqlite3 "?" and psycopg "%s" placeholders);
everything else in the store goes through SQLAlchemy.

One transaction per batch:
  PostgreSQL only: advisory locks on the batch's mailboxes, in key order (see store.py)
  only if some envelope presents a delivery pass: SELECT the passes of those mailboxes
    (node/lanes.py: which lane each envelope goes to); charge the request lane's
    envelopes to the client's budget (RateLimited, before anything is written)
  INSERT ... VALUES (...), (...) ON CONFLICT (id) DO NOTHING RETURNING id, seq
  SELECT the seqs of the ids that were already there
  UPSERT mailbox_usage RETURNING the new totals (contact lane); over quota -> drop that
    mailbox's expired envelopes; still over -> QuotaExceeded and ROLLBACK
  UPSERT request_usage (request lane): over quota -> evict that mailbox's oldest
    requests; then the relay-wide total: over the disk cap -> RequestsFull and ROLLBACK
  SELECT each mailbox's newest seq before this batch (so a stream that has read up to
    it can be handed the batch without reading the database again; see push.py)
  PostgreSQL only: pg_notify per mailbox (delivered at COMMIT)
  COMMIT
"""

from __future__ import annotations

import threading
from contextlib import AbstractContextManager
from typing import Any

from sqlalchemy import Engine

from .errors import QuotaExceeded
from .lanes import CONTACT, Charge, RequestLane, Row, cost, tally

NOTIFY_CHANNEL = "hongbao_mail"


def lock_key(mailbox: str) -> int:
    """A mailbox's advisory-lock key: its first 8 address bytes as a signed bigint."""
    return int.from_bytes(bytes.fromhex(mailbox[2:18]), "big", signed=True)


class BatchWriter:
    def __init__(
        self,
        engine: Engine,
        write_lock: AbstractContextManager | threading.Lock,
        quota_messages: int,
        quota_bytes: int,
        requests: dict[str, int] | None = None,
    ) -> None:
        self.engine = engine
        self.postgres = engine.dialect.name == "postgresql"
        self.write_lock = write_lock
        self.quota_messages = quota_messages
        self.quota_bytes = quota_bytes
        self._statements: dict[tuple[str, int], str] = {}
        self.requests = RequestLane(self._sql, **(requests or {}))

    def _sql(self, text: str) -> str:
        return text.replace("?", "%s") if self.postgres else text

    def _cached(self, kind: str, n: int) -> str:
        """The statement for n rows (n <= the batch limit, so the cache stays small)."""
        key = (kind, n)
        sql = self._statements.get(key)
        if sql is None:
            if kind == "insert":
                values = ",".join(["(?,?,?,?,?,?,?)"] * n)
                sql = f"INSERT INTO envelopes (mailbox, id, ciphertext, size, created_at, expires_at, lane) VALUES {values} ON CONFLICT (id) DO NOTHING RETURNING id, seq"  # noqa: S608  placeholders only
            elif kind == "select":
                sql = f"SELECT id, seq FROM envelopes WHERE id IN ({','.join(['?'] * n)})"  # noqa: S608
            elif kind == "before":  # one index seek per mailbox: every older row of theirs is below our first seq
                values = ",".join(["(?)"] * n)
                sql = f"WITH m(mailbox) AS (VALUES {values}) SELECT m.mailbox, (SELECT max(e.seq) FROM envelopes e WHERE e.mailbox = m.mailbox AND e.seq < ?) FROM m"  # noqa: S608
            else:
                values = ",".join(["(?,?,?)"] * n)
                sql = (
                    f"INSERT INTO mailbox_usage (mailbox, messages, bytes) VALUES {values} ON CONFLICT (mailbox) DO UPDATE "  # noqa: S608
                    "SET messages = mailbox_usage.messages + excluded.messages, bytes = mailbox_usage.bytes + excluded.bytes "
                    "RETURNING mailbox, messages, bytes"
                )
            sql = self._statements[key] = self._sql(sql)
        return sql

    def write(
        self, rows: list[Row], now: int, hashes: dict[str, str] | None = None, charge: Charge | None = None
    ) -> tuple[dict[str, int], set[str], dict[str, int], dict[str, int]]:
        """Store rows (distinct ids; lanes are assigned here from `hashes`, id -> the hash
        of the pass it presented) in one transaction: the seq of every id, the ids new here,
        for each mailbox given new rows its newest seq before them (0: none), and each id's
        lane."""
        with self.write_lock:
            connection = self.engine.raw_connection()
            cursor = connection.cursor()
            try:
                if self.postgres:
                    keys = sorted({lock_key(row[0]) for row in rows})
                    cursor.execute(
                        "SELECT pg_advisory_xact_lock(k) FROM unnest(%s::bigint[]) WITH ORDINALITY AS t(k, i) ORDER BY i",
                        (keys,),
                    )
                else:
                    cursor.execute("BEGIN IMMEDIATE")  # take the write lock now, not at the first write
                rows = self.requests.assign(cursor, rows, hashes or {})
                if charge is not None:
                    requests: dict[str, int] = {}
                    for row in rows:
                        if row[6] != CONTACT:
                            requests[row[0]] = requests.get(row[0], 0) + cost(row[3])
                    if requests:
                        charge(requests)
                seqs, new = self._insert_new(cursor, rows)
                before: dict[str, int] = {}
                if new:
                    fresh = [row for row in rows if row[1] in new]
                    contact = [row for row in fresh if row[6] == CONTACT]
                    requested = [row for row in fresh if row[6] != CONTACT]
                    written = set(self._count_in(cursor, contact, now)) if contact else set()
                    if requested:
                        written.update(self.requests.count_in(cursor, requested))
                    mailboxes = sorted(written)
                    cursor.execute(self._cached("before", len(mailboxes)), [*mailboxes, min(seqs[key] for key in new)])
                    before = {mailbox: seq or 0 for mailbox, seq in cursor.fetchall()}
                    if self.postgres:
                        cursor.execute(
                            "SELECT pg_notify(%s, m) FROM unnest(%s::text[]) AS m", (NOTIFY_CHANNEL, mailboxes)
                        )
                connection.commit()
            except BaseException:
                connection.rollback()
                raise
            finally:
                cursor.close()
                connection.close()  # back to the pool
        return seqs, new, before, {row[1]: row[6] for row in rows}

    def _insert_new(self, cursor: Any, rows: list[Row]) -> tuple[dict[str, int], set[str]]:
        seqs: dict[str, int] = {}
        new: set[str] = set()
        pending = rows
        for _ in range(3):  # an existing copy may be deleted (acked) between our INSERT and SELECT
            cursor.execute(self._cached("insert", len(pending)), [value for row in pending for value in row])
            inserted = dict(cursor.fetchall())
            seqs.update(inserted)
            new.update(inserted)
            missing = [row for row in pending if row[1] not in inserted]
            if not missing:
                return seqs, new
            cursor.execute(self._cached("select", len(missing)), [row[1] for row in missing])
            seqs.update(cursor.fetchall())
            pending = [row for row in missing if row[1] not in seqs]
            if not pending:
                return seqs, new
        raise RuntimeError("message ids kept vanishing while being stored")

    def _count_in(self, cursor: Any, stored: list[Row], now: int) -> list[str]:
        """Add new envelopes to their mailboxes' usage; QuotaExceeded if one goes over
        (after dropping that mailbox's expired envelopes the sweeper has not reached)."""
        added = tally(stored)
        mailboxes = sorted(added)
        cursor.execute(self._cached("usage", len(mailboxes)), [value for m in mailboxes for value in (m, *added[m])])
        for mailbox, messages, size in sorted(cursor.fetchall()):
            if messages <= self.quota_messages and size <= self.quota_bytes:
                continue
            cursor.execute(
                self._sql("DELETE FROM envelopes WHERE mailbox = ? AND lane = 0 AND expires_at <= ? RETURNING size"),
                (mailbox, now),
            )
            freed = [r[0] for r in cursor.fetchall()]
            if not freed or messages - len(freed) > self.quota_messages or size - sum(freed) > self.quota_bytes:
                raise QuotaExceeded(mailbox)  # rolls back the whole batch
            cursor.execute(
                self._sql("UPDATE mailbox_usage SET messages = messages - ?, bytes = bytes - ? WHERE mailbox = ?"),
                (len(freed), sum(freed), mailbox),
            )
        return mailboxes
