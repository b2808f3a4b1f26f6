"""Two lanes into every mailbox, so contacts' mail gets through whatever strangers post.

A mailbox owner registers the SHA-256 of one or a few random *delivery passes* with the
relay (PUT /v1/mailbox/passes, with the mailbox's token) and gives the pass to the people
they accept, inside the end-to-end encrypted chat. An envelope presenting a registered
pass (`"pass"` next to it in POST /v1/messages) goes to the **contact lane**: the
mailbox's normal quota, refused with 507 when full. Every other envelope goes to the
**request lane**: at most `request_quota_messages` / `request_quota_bytes` per mailbox,
where a new request evicts the oldest ones instead of being refused; paid for from a
budget per client address (429 beyond); TTL shortened to `request_max_ttl`; and all
mailboxes' requests together stay under `request_disk_cap` (507 beyond). Requests into
one mailbox also share a budget (`request_mailbox_rate`): however many addresses a
flooder posts from, the owner's stream carries at most that many strangers' envelopes a
second next to their contacts' mail.

One pass is shared by all of a mailbox's contacts, so the relay learns that an envelope
comes from *a* contact, never which one (the idea of Signal's "unidentified access"
key); blocking someone rotates the pass (a new one to everyone else), which revokes it.

Everything here runs inside the batch's transaction (node/batch.py), on the driver's
cursor, after the mailboxes' locks are taken.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from .errors import RelayError

CONTACT = 0
REQUEST = 1
LANES = {CONTACT: "contact", REQUEST: "request"}
TOTAL = "*"  # the request_usage row holding every mailbox's requests together
PASS_BYTES = 16

# mailbox, id, ciphertext, size, created_at, expires_at, lane
Row = tuple[str, str, bytes, int, int, int, int]
Charge = Callable[[dict[str, int]], None]  # request cost units by mailbox: raises RateLimited when over budget


class RequestsFull(RelayError):
    """507: the relay holds as many strangers' requests as it is willing to, for now."""

    status = 507
    code = "requests_full"

    def __init__(self) -> None:
        super().__init__(
            "this relay's storage for message requests (mail without a delivery pass) is full; "
            "retry later, or ask the recipient for their delivery pass"
        )


def tally(rows: list[Row]) -> dict[str, list[int]]:
    """[envelopes, bytes] per mailbox."""
    added: dict[str, list[int]] = {}
    for row in rows:
        usage = added.setdefault(row[0], [0, 0])
        usage[0] += 1
        usage[1] += row[3]
    return added


def pass_hash(value: bytes) -> str:
    """What the relay stores of a delivery pass: SHA-256, hex."""
    return hashlib.sha256(value).hexdigest()


def cost(size: int) -> int:
    """A request envelope's price in budget units: 1 per started 4 KiB of ciphertext."""
    return max(1, -(-size // 4096))


class RequestLane:
    def __init__(
        self,
        sql: Callable[[str], str],
        quota_messages: int = 500,
        quota_bytes: int = 16 * 1024 * 1024,
        max_ttl_s: int = 7 * 24 * 3600,
        disk_cap: int = 1024 * 1024 * 1024,
    ) -> None:
        self._sql = sql
        self.quota_messages = quota_messages
        self.quota_bytes = quota_bytes
        self.max_ttl_ms = max_ttl_s * 1000
        self.disk_cap = disk_cap
        self._upserts: dict[int, str] = {}

    def assign(self, cursor: Any, rows: list[Row], hashes: dict[str, str]) -> list[Row]:
        """Each row in its lane: CONTACT if it presented a pass registered for its mailbox
        (`hashes`: id -> the presented pass's hash); requests get their TTL capped."""
        valid: set[tuple[str, str]] = set()
        if hashes:
            mailboxes = sorted({row[0] for row in rows if row[1] in hashes})
            marks = ",".join(["?"] * len(mailboxes))
            query = f"SELECT mailbox, hash FROM delivery_passes WHERE mailbox IN ({marks})"  # noqa: S608  placeholders only
            cursor.execute(self._sql(query), mailboxes)
            valid = {(mailbox, digest) for mailbox, digest in cursor.fetchall()}
        placed = []
        for row in rows:
            digest = hashes.get(row[1])
            if digest is not None and (row[0], digest) in valid:
                placed.append((*row[:6], CONTACT))
            else:
                placed.append((*row[:5], min(row[5], row[4] + self.max_ttl_ms), REQUEST))
        return placed

    def _upsert(self, n: int) -> str:
        sql = self._upserts.get(n)
        if sql is None:
            values = ",".join(["(?,?,?)"] * n)
            sql = self._upserts[n] = self._sql(
                f"INSERT INTO request_usage (mailbox, messages, bytes) VALUES {values} ON CONFLICT (mailbox) DO UPDATE "  # noqa: S608
                "SET messages = request_usage.messages + excluded.messages, bytes = request_usage.bytes + excluded.bytes "
                "RETURNING mailbox, messages, bytes"
            )
        return sql

    def count_in(self, cursor: Any, stored: list[Row]) -> list[str]:
        """Add new requests to their mailboxes' request lanes and to the relay-wide total
        (one statement, the total's row last: no lock cycles on PostgreSQL), evict each
        lane's oldest beyond its quota; RequestsFull if the total grew past the disk cap.
        The mailboxes written to."""
        added = tally(stored)
        mailboxes = sorted(added)
        net_messages = sum(n for n, _ in added.values())
        net_bytes = sum(b for _, b in added.values())
        values = [v for m in mailboxes for v in (m, *added[m])]
        cursor.execute(self._upsert(len(mailboxes) + 1), [*values, TOTAL, net_messages, net_bytes])
        total_bytes = 0
        evicted, freed = 0, 0
        for mailbox, messages, size in cursor.fetchall():
            if mailbox == TOTAL:
                total_bytes = size
            elif messages > self.quota_messages or size > self.quota_bytes:
                count, gone = self._evict(cursor, mailbox, messages, size)
                evicted, freed = evicted + count, freed + gone
        if evicted:
            cursor.execute(
                self._sql("UPDATE request_usage SET messages = messages - ?, bytes = bytes - ? WHERE mailbox = ?"),
                (evicted, freed, TOTAL),
            )
        if net_bytes - freed > 0 and total_bytes - freed > self.disk_cap:
            raise RequestsFull()  # rolls back the whole batch
        return mailboxes

    def _evict(self, cursor: Any, mailbox: str, messages: int, size: int) -> tuple[int, int]:
        """Delete the mailbox's oldest requests until its lane is within quota."""
        want = max(messages - self.quota_messages, 1)
        while True:
            cursor.execute(
                self._sql("SELECT seq, size FROM envelopes WHERE mailbox = ? AND lane = 1 ORDER BY seq LIMIT ?"),
                (mailbox, want + 16),
            )
            oldest = cursor.fetchall()
            count, freed, cutoff = 0, 0, None
            for seq, length in oldest:
                if messages - count <= self.quota_messages and size - freed <= self.quota_bytes:
                    break
                count, freed, cutoff = count + 1, freed + length, seq
            over = messages - count > self.quota_messages or size - freed > self.quota_bytes
            if not over or len(oldest) < want + 16:
                break
            want *= 4  # by bytes, more rows must go than the count alone said
        if cutoff is None:
            return 0, 0
        cursor.execute(
            self._sql("DELETE FROM envelopes WHERE mailbox = ? AND lane = 1 AND seq <= ?"), (mailbox, cutoff)
        )
        cursor.execute(
            self._sql("UPDATE request_usage SET messages = messages - ?, bytes = bytes - ? WHERE mailbox = ?"),
            (count, freed, mailbox),
        )
        return count, freed
