"""The relay's repository (node/store.py) and its migrations, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import secrets
import subprocess
import threading

import pytest
import test_node_support as support
from conftest import hongbao_popen
from sqlalchemy import inspect
from test_node_support import (
    NOW_MS,
    ManualClock,
    Person,
    PgSchema,
    envelope,
    postgres_base,
)

from messaging.envelope import Envelope
from messaging.errors import StaleBundle
from node import db
from node.errors import QuotaExceeded
from node.lanes import CONTACT, REQUEST, RequestsFull, pass_hash
from node.store import RelayStore

# shared fixtures, from tests/test_node_support.py
db_url = support.db_url
pg_url = support.pg_url
sqlite_template = support.sqlite_template


TABLES = {
    "identities",
    "envelopes",
    "mailbox_usage",
    "challenges",
    "relay_secrets",
    "signed_prekeys",
    "one_time_prekeys",
    "request_usage",
    "delivery_passes",
    "alembic_version",
}
BOB = Person.make(1).address
CAROL = Person.make(2).address


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


PASS = b"p" * 16  # Bob's and Carol's delivery pass: posts presenting it are their contacts'


@pytest.fixture
def store(db_url, clock):
    engine = db.make_engine(db_url)
    store = RelayStore(
        engine,
        clock,
        quota_messages=5,
        quota_bytes=4096,
        requests={"quota_messages": 3, "quota_bytes": 3000, "max_ttl_s": 3600, "disk_cap": 20_000},
    )
    for mailbox in (BOB, CAROL):
        store.set_passes(mailbox, [pass_hash(PASS)], NOW_MS)
    yield store
    engine.dispose()


def as_contact(store: RelayStore, batch: list[Envelope], now: int):
    """Post in the contact lane (with the recipients' delivery pass)."""
    return store.post_envelopes(batch, now, [PASS] * len(batch))


# -- migrations ------------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_alembic_upgrade_on_an_empty_database_creates_the_schema(backend, tmp_path):
    from alembic import command

    schema = PgSchema(postgres_base()) if backend == "postgres" else None
    url = schema.url if schema else f"sqlite:///{tmp_path / 'empty.sqlite'}"
    engine = db.make_engine(url)
    try:
        assert set(inspect(engine).get_table_names()) == set()
        db.migrate(url)
        assert set(inspect(engine).get_table_names()) == TABLES
        assert db.current_revision(url) == "0003"
        indexes = {i["name"] for i in inspect(engine).get_indexes("envelopes")}
        assert {"ix_envelopes_mailbox_seq", "ix_envelopes_expires_at"} <= indexes
        db.migrate(url)  # again: nothing to do
        with engine.connect() as connection:
            command.downgrade(db.alembic_config(connection), "base")
            connection.commit()
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    finally:
        engine.dispose()
        if schema:
            schema.drop()


# -- identities ------------------------------------------------------------------------------------


def test_publish_identity_created_unchanged_updated_and_refuses_older(store):
    bob = Person.make(1)
    assert store.get_identity(bob.address) is None
    assert store.publish_identity(bob.bundle()) == "created"
    assert store.publish_identity(bob.bundle()) == "unchanged"
    assert store.get_identity(bob.address) == bob.bundle()
    assert store.publish_identity(bob.bundle(version=2)) == "updated"
    with pytest.raises(StaleBundle):
        store.publish_identity(bob.bundle(version=1))
    assert store.get_identity(bob.address.lower()).version == 2
    assert store.identity_key(bob.address) == bob.keys.ed25519_public


# -- envelopes ---------------------------------------------------------------------------------


def test_a_batch_is_idempotent_by_message_id(store):
    first, second = envelope(BOB), envelope(CAROL)
    accepted = store.post_envelopes([first, second, first], NOW_MS)
    assert [(a.id, a.duplicate) for a in accepted] == [
        (first.id.hex(), False),
        (second.id.hex(), False),
        (first.id.hex(), True),
    ]
    assert accepted[0].seq == accepted[2].seq < accepted[1].seq
    assert accepted[1] == (second.id.hex(), accepted[1].seq, False)  # plain (id_hex, seq, duplicate) tuples
    again = store.post_envelopes([second, first], NOW_MS + 5)  # a retry after a lost answer
    assert [(a.seq, a.duplicate) for a in again] == [(accepted[1].seq, True), (accepted[0].seq, True)]
    stored = store.fetch(BOB, 0, 100, NOW_MS)
    assert [s.envelope for s in stored] == [first]  # stored once
    assert store.counts()["envelopes"] == 2


def test_seqs_only_grow_even_after_the_newest_is_deleted(store):
    first = envelope(BOB)
    seq = store.post_envelopes([first], NOW_MS)[0].seq
    assert store.ack(BOB, [first.id.hex()]) == 1
    assert store.post_envelopes([envelope(BOB)], NOW_MS)[0].seq > seq  # a reader at `seq` misses nothing
    assert store.latest_seq(BOB) > seq


def test_fetch_after_a_cursor_with_a_limit_unexpired_only(store, clock):
    short = envelope(BOB, ttl=60)
    posted = [envelope(BOB), short, envelope(BOB), envelope(CAROL)]
    seqs = [a.seq for a in store.post_envelopes(posted, NOW_MS)]
    page = store.fetch(BOB, 0, 2, NOW_MS)
    assert [s.seq for s in page] == seqs[:2] and page[1].envelope == short
    assert [s.seq for s in store.fetch(BOB, seqs[1], 10, NOW_MS)] == [seqs[2]]
    later = NOW_MS + 61_000
    assert [s.seq for s in store.fetch(BOB, 0, 10, later)] == [seqs[0], seqs[2]]  # the expired one is hidden
    assert store.sweep(later) == 1  # and swept
    assert store.counts()["envelopes"] == 3


def test_ack_deletes_only_the_mailbox_own_envelopes(store):
    mine, theirs = envelope(BOB), envelope(CAROL)
    store.post_envelopes([mine, theirs], NOW_MS)
    assert store.ack(BOB, [theirs.id.hex()]) == 0
    assert store.ack(BOB, [mine.id.hex(), theirs.id.hex(), "00" * 16]) == 1
    assert store.fetch(CAROL, 0, 10, NOW_MS)[0].envelope == theirs
    assert store.fetch(BOB, 0, 10, NOW_MS) == []


def test_quota_by_count_refuses_the_whole_batch(store):
    as_contact(store, [envelope(BOB) for _ in range(4)], NOW_MS)
    with pytest.raises(QuotaExceeded) as refused:
        as_contact(store, [envelope(CAROL), envelope(BOB), envelope(BOB)], NOW_MS)
    assert refused.value.mailbox == BOB
    assert store.fetch(CAROL, 0, 10, NOW_MS) == []  # nothing of that batch was stored
    as_contact(store, [envelope(BOB)], NOW_MS)  # exactly the quota (5) fits
    assert len(store.fetch(BOB, 0, 10, NOW_MS)) == 5


def test_quota_by_bytes_and_expired_envelopes_free_room(store):
    as_contact(store, [envelope(BOB, size=2048, ttl=10), envelope(BOB, size=2048)], NOW_MS)
    with pytest.raises(QuotaExceeded):
        as_contact(store, [envelope(BOB, size=256)], NOW_MS)
    as_contact(store, [envelope(BOB, size=256)], NOW_MS + 11_000)  # the first expired: room again, before any sweep
    assert sum(len(s.envelope.ciphertext) for s in store.fetch(BOB, 0, 10, NOW_MS + 11_000)) == 2048 + 256


def test_acked_and_swept_envelopes_leave_the_quota(store):
    batch = [envelope(BOB, ttl=10) for _ in range(5)]
    as_contact(store, batch, NOW_MS)
    with pytest.raises(QuotaExceeded):
        as_contact(store, [envelope(BOB)], NOW_MS)
    store.ack(BOB, [batch[0].id.hex()])
    as_contact(store, [envelope(BOB)], NOW_MS)
    assert store.sweep(NOW_MS + 10_000) == 4
    as_contact(store, [envelope(BOB) for _ in range(4)], NOW_MS + 10_000)


# -- the request lane (node/lanes.py) ----------------------------------------------------------


def test_a_stranger_flood_evicts_only_older_requests_never_a_contacts_mail(store):
    """Finding 1: a full mailbox used to refuse everyone (507). Now strangers' mail (no
    pass) has its own small lane that keeps the newest; contacts' mail is untouched."""
    from_alice = as_contact(store, [envelope(BOB)], NOW_MS)
    flood = [envelope(BOB, size=64) for _ in range(50)]
    for item in flood:
        store.post_envelopes([item], NOW_MS)  # never refused
    from_alice += as_contact(store, [envelope(BOB)], NOW_MS)  # still gets through
    held = store.fetch(BOB, 0, 100, NOW_MS)
    ids = [s.envelope.id.hex() for s in held]
    assert [a.id for a in from_alice] == [i for i in ids if i in {a.id for a in from_alice}]
    assert set(ids) - {a.id for a in from_alice} == {e.id.hex() for e in flood[-3:]}  # the newest 3 requests
    assert store.request_usage(BOB) == (3, 3 * 64) and store.request_usage() == (3, 3 * 64)


def test_request_lane_bytes_quota_evicts_by_size_and_ttl_is_capped(store):
    big = [envelope(BOB, size=1400, ttl=7200) for _ in range(3)]
    for item in big:
        store.post_envelopes([item], NOW_MS)
    held = store.fetch(BOB, 0, 10, NOW_MS)
    assert [s.envelope.id for s in held] == [e.id for e in big[1:]]  # 3 x 1400 > 3000: the oldest went
    assert {s.envelope.ttl for s in held} == {3600}  # a request lives at most max_ttl
    assert store.fetch(BOB, 0, 10, NOW_MS + 3_601_000) == []


def test_lanes_follow_the_pass_and_a_revoked_pass_is_a_request(store):
    posted = store.post_batch([envelope(BOB), envelope(BOB), envelope(CAROL)], NOW_MS, [PASS, b"x" * 16, None])
    assert list(posted.lanes.values()) == [CONTACT, REQUEST, REQUEST]
    store.set_passes(BOB, [], NOW_MS)  # Bob blocked someone: the old pass is void
    assert list(store.post_batch([envelope(BOB)], NOW_MS, [PASS]).lanes.values()) == [REQUEST]


def test_acks_and_sweeps_give_request_room_back_and_the_disk_cap_holds(store):
    first = [envelope(BOB, size=1000, ttl=10) for _ in range(2)]
    store.post_envelopes(first, NOW_MS)
    store.ack(BOB, [first[0].id.hex()])
    assert store.request_usage(BOB) == (1, 1000)
    assert store.sweep(NOW_MS + 10_000) == 1
    assert store.request_usage() == (0, 0)
    # 20,000 bytes for every mailbox's requests together: a batch going past it is refused, whole
    mailboxes = ["0x" + secrets.token_hex(20) for _ in range(6)]
    for mailbox in mailboxes:
        store.post_envelopes([envelope(mailbox, size=1000) for _ in range(3)], NOW_MS)
    with pytest.raises(RequestsFull):
        store.post_envelopes([envelope(CAROL, size=1000), envelope(CAROL, size=1000), envelope(BOB)], NOW_MS)
    assert store.fetch(CAROL, 0, 10, NOW_MS) == []
    as_contact(store, [envelope(CAROL, size=1000)], NOW_MS)  # contacts are not strangers
    store.post_envelopes([envelope(mailboxes[0], size=1000)], NOW_MS)  # evicts its own oldest: no growth, accepted


def test_concurrent_writers_leave_no_gap_behind_a_reader(store):
    """Readers resume after the last seq they saw: seqs must become visible in order."""
    store.quota_messages = 10_000
    store.quota_bytes = 10**9
    posted: list[str] = []
    seen: list[str] = []
    done = threading.Event()

    def write(n: int) -> None:
        for _ in range(n):
            batch = [envelope(BOB, size=64) for _ in range(3)]
            as_contact(store, batch, NOW_MS)
            posted.extend(e.id.hex() for e in batch)

    def read() -> None:
        cursor = 0
        while True:
            finished = done.is_set()
            page = store.fetch(BOB, cursor, 1000, NOW_MS)
            seen.extend(s.envelope.id.hex() for s in page)
            cursor = page[-1].seq if page else cursor
            if finished and not page:
                return

    writers = [threading.Thread(target=write, args=(20,)) for _ in range(4)]
    reader = threading.Thread(target=read)
    reader.start()
    for w in writers:
        w.start()
    for w in writers:
        w.join()
    done.set()
    reader.join()
    assert len(seen) == len(set(seen)) == 240
    assert set(seen) == set(posted)


# -- challenges and secrets ----------------------------------------------------------------------


def test_a_challenge_is_used_once_by_its_mailbox_before_it_expires(store):
    nonce = store.new_challenge(BOB, NOW_MS, ttl=120)
    assert len(nonce) == 64
    assert store.use_challenge(nonce, CAROL, NOW_MS) is False
    assert store.use_challenge(nonce, BOB, NOW_MS) is True
    assert store.use_challenge(nonce, BOB, NOW_MS) is False  # replayed
    late = store.new_challenge(BOB, NOW_MS, ttl=120)
    assert store.use_challenge(late, BOB, NOW_MS + 120_000) is False  # expired
    assert store.use_challenge("ab" * 32, BOB, NOW_MS) is False  # unknown
    store.sweep(NOW_MS + 120_000)


def test_the_secret_is_made_once_and_shared(db_url, clock):
    engines = [db.make_engine(db_url) for _ in range(4)]
    values: list[bytes] = []
    try:
        threads = [
            threading.Thread(target=lambda e=e: values.append(RelayStore(e, clock).secret("token"))) for e in engines
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        for e in engines:
            e.dispose()
    assert len(values) == 4 and len(set(values)) == 1 and len(values[0]) == 32


def test_a_migration_from_empty_to_head_is_one_transaction(tmp_path):
    """What lets relays migrating together take turns on SQLite: every revision in the one
    transaction that holds the write lock. Alembic would commit after each (it takes SQLite's
    DDL for non-transactional), and a relay waiting for the lock then ran the next revision
    again ("table signed_prekeys already exists", seen under load)."""
    from sqlalchemy import Engine, event

    url = f"sqlite:///{tmp_path / 'fresh.sqlite'}"
    commits = []

    def committed(connection) -> None:
        commits.append(connection)

    event.listen(Engine, "commit", committed)
    try:
        db.migrate(url)
    finally:
        event.remove(Engine, "commit", committed)
    assert len(commits) == 1 and db.current_revision(url) == "0003"


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_relays_migrating_together_take_turns(backend, tmp_path):
    """Processes (as relays are): Alembic's context is global, so not threads. Three
    `hongbao node migrate` at once (forked from the test zygote: no interpreter start each)."""
    schema = PgSchema(postgres_base()) if backend == "postgres" else None
    url = schema.url if schema else f"sqlite:///{tmp_path / 'fresh.sqlite'}"
    env = {**os.environ, "HONGBAO_HOME": str(tmp_path / "home"), "HONGBAO_RELAY_DB_URL": url}
    try:
        options = {"env": env, "stdin": subprocess.DEVNULL, "stdout": subprocess.PIPE, "stderr": subprocess.PIPE}
        runs = [hongbao_popen(["node", "migrate", "--json"], text=True, **options) for _ in range(3)]
        for run in runs:
            out, err = run.communicate(timeout=60)
            assert run.returncode == 0 and '"revision": "0003"' in out, err
        assert db.current_revision(url) == "0003"
    finally:
        if schema:
            schema.drop()
