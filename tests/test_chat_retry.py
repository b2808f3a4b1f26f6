"""A message sent while the relay is down is stored pending and posted by the next send or
receive (`Messenger.flush_pending`), once: a real relay process on SQLite, stopped and
started again on the same port and database; the library API, not the CLI."""

from __future__ import annotations

import pytest
from conftest import ANVIL_KEYS
from test_relay_e2e import Relay, sqlite_url

from messaging import payloads
from messaging.chat import Messenger
from messaging.client import RelayUnreachable

pytestmark = pytest.mark.slow


def test_pending_message_is_flushed_once_after_the_relay_returns(tmp_path):
    relay = Relay(tmp_path / "relay", sqlite_url(tmp_path)).start()
    try:
        alice = Messenger.open(tmp_path / "alice", bytes.fromhex(ANVIL_KEYS[0]), relay_url=relay.url)
        bob = Messenger.open(tmp_path / "bob", bytes.fromhex(ANVIL_KEYS[1]), relay_url=relay.url)
        with alice, bob:
            alice.publish()
            bob.publish()
            alice.bundle_for(bob.address)  # Bob's key is pinned (as `contacts add` does)

            relay.stop()
            with pytest.raises(RelayUnreachable):
                alice.send(bob.address, payloads.Text("sent while the relay was down"))
            [pending] = alice.store.messages(bob.address)
            assert pending.state == "pending"
            assert [(c.recipient, c.envelope_id) for c in alice.store.pending_copies()] == [(bob.address, pending.id)]
            assert alice.flush_pending() == 0  # still down: quietly nothing
            assert alice.store.delivery(pending.id) == {bob.address: "pending"}

            relay.start()  # same port, same database
            alice.receive()  # flushes first
            assert alice.store.delivery(pending.id) == {bob.address: "sent"}
            assert alice.store.pending_copies() == []
            assert alice.flush_pending() == 0

            got = bob.receive()
            assert [(m.id, m.payload.body, m.timestamp_ms) for m in got] == [
                (pending.id, "sent while the relay was down", pending.timestamp_ms)
            ]
            assert list(bob.receive()) == []  # exactly once
            assert [m.id for m in bob.store.messages(alice.address)] == [pending.id]

            alice.receive()  # Bob's delivered receipt
            assert alice.store.delivery(pending.id) == {bob.address: "delivered"}
    finally:
        relay.stop()
