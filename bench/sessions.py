"""Forward-secret sessions: the Double Ratchet per message, X3DH per session, format 2
envelopes next to format 1, and the cost of saving a session. A benchmark, not a test.

    .venv/bin/python -m bench.sessions             # the table
    .venv/bin/python -m bench.sessions --profile   # where the time goes (cProfile)

Pure CPU, no network, no clock reads inside the measured code. Every rate is the best of
3 runs (bench/timing.py).

Where the time goes (cProfile once, 2,000 messages and the setup rows; see --profile):

* A message (encrypt + decrypt, one chain) is mostly the libraries' bookkeeping, not the
  cryptography. `DoubleRatchet.decrypt_message` deep-copies the Diffie-Hellman ratchet
  before every decryption (so a failure leaves the state untouched): `copy.deepcopy` is
  ~36% of the time. Then the HMAC chain steps, the AEAD's HKDF and its tag (~18%;
  `cryptography` objects built per key, `default_backend()` looked up 10 times a
  message), AES-CBC of the 1 KiB both ways (~15%), and the sender's ratchet public key
  derived again for every header (`X25519PrivateKey.from_private_bytes`, ~11%). The
  async API costs little (`run` drives each coroutine with one `send`).
* A DH ratchet step (the direction changes) adds an X25519 key generation, two DH
  computations and two root-chain HKDFs: turning every message more than halves the rate.
* Session setup is dominated by x3dh recomputing public keys (~75% of it with 100
  one-time prekeys held: ~250 derivations per accept): `PreKeyPair.pub` derives the
  X25519 public key from the private one on every access (libxeddsa, ~0.1 ms) and one
  accept walks every one-time prekey held two to three times (`bundle` for the
  associated data, the lookup of the one named, then `delete_pre_key`). So accepting a
  first message costs O(one-time prekeys held): ~3 ms with one, ~15 ms at
  ONE_TIME_TARGET (100), ~45 ms at 300, and it grows with every claimed-but-never-used
  prekey (they are never forgotten). The same walk runs for a first message naming a
  one-time prekey not held, before AgreementFailed: anyone who can send Bob a first
  message makes him pay it.
* Saving: `to_bytes` goes through pydantic (`model_dump_json`, `json.loads`, then
  `json.dumps` again) and `from_bytes` through pydantic validation; both are linear in
  the skipped keys kept, and the library's JSON writes key bytes as \\u00XX escapes
  (~5 bytes of JSON per byte of key): 1,000 skipped keys make a ~300 KB session.
"""

from __future__ import annotations

import cProfile
import itertools
import os
import pstats
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.timing import print_table, rate
from messaging import envelope, identity, prekeys
from messaging.keys import MessagingKeys
from messaging.payloads import Text
from messaging.ratchet import (
    MAX_SKIP,
    ONE_TIME_TARGET,
    PeerSessions,
    PrekeyState,
    Session,
)

ALICE_KEY = bytes.fromhex("ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80")
BOB_KEY = bytes.fromhex("59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d")
ISSUED_AT = 1_767_225_600  # 2026-01-01T00:00:00Z
NOW_S = ISSUED_AT + 60
NOW_MS = NOW_S * 1000
KIB = b"x" * 1024
CONTEXT = b"c" * 90  # about what a format 2 envelope binds (head, flags, no header)


class Pair:
    """Alice and Bob with one session, Alice having started it."""

    def __init__(self, one_time_held: int = 1) -> None:
        self.alice_keys = MessagingKeys.from_account_key(ALICE_KEY)
        self.bob_keys = MessagingKeys.from_account_key(BOB_KEY)
        self.alice = identity.make_bundle(ALICE_KEY, ISSUED_AT, keys=self.alice_keys)
        self.bob = identity.make_bundle(BOB_KEY, ISSUED_AT, keys=self.bob_keys)
        self.bob_prekeys = PrekeyState.create(self.bob_keys)
        one_time = self.bob_prekeys.new_one_time(one_time_held)[0]
        claimed = prekeys.verify_bundle(
            self.bob_prekeys.bundle(self.bob.address, one_time.key), self.bob.address, self.bob.ed25519
        )
        self.alice_sessions = PeerSessions([Session.initiate(self.alice_keys, claimed, now_s=NOW_S)])
        self.bob_sessions = PeerSessions()
        first = self.alice_sessions.current.encrypt(b"hello", CONTEXT)
        self.bob_sessions.decrypt(
            self.bob_prekeys, self.alice_keys.ed25519_public, self.alice_sessions.current.header, first, CONTEXT
        )
        reply = self.bob_sessions.current.encrypt(b"hi", CONTEXT)
        self.alice_sessions.decrypt(
            None, self.bob_keys.ed25519_public, None, reply, CONTEXT
        )  # no X3DH header: no prekeys needed

    def alice_to_bob(self, plaintext: bytes = KIB) -> None:
        message = self.alice_sessions.current.encrypt(plaintext, CONTEXT)
        assert (
            self.bob_sessions.decrypt(self.bob_prekeys, self.alice_keys.ed25519_public, None, message, CONTEXT)[0]
            is not None
        )

    def bob_to_alice(self, plaintext: bytes = KIB) -> None:
        message = self.bob_sessions.current.encrypt(plaintext, CONTEXT)
        assert self.alice_sessions.decrypt(None, self.bob_keys.ed25519_public, None, message, CONTEXT)[0] is not None


def ratchet_rows() -> list[tuple[str, str, str]]:
    rows = []
    pair = Pair()
    rows.append(
        (
            "ratchet encrypt+decrypt, 1 KiB, one direction (one chain)",
            f"{rate(2000, lambda i: pair.alice_to_bob()):,.0f} /s",
            "",
        )
    )
    for every in (100, 10, 1):
        pair = Pair()

        def alternating(i: int, every: int = every, pair: Pair = pair) -> None:
            (pair.alice_to_bob if (i // every) % 2 == 0 else pair.bob_to_alice)()

        what = "a DH ratchet step each" if every == 1 else f"a DH ratchet step every {every}"
        rows.append(
            (
                f"ratchet encrypt+decrypt, 1 KiB, direction turning every {every} ({what})",
                f"{rate(2000, alternating):,.0f} /s",
                "",
            )
        )
    return rows


def setup_rows() -> list[tuple[str, str, str]]:
    """X3DH on both sides and the first message, with Bob holding `held` one-time prekeys
    (each run gets its own copy of Bob's state, so the number held stays the same)."""
    rows = []
    alice_keys = MessagingKeys.from_account_key(ALICE_KEY)
    bob_keys = MessagingKeys.from_account_key(BOB_KEY)
    bob = identity.make_bundle(BOB_KEY, ISSUED_AT, keys=bob_keys)
    for held, count in ((1, 300), (ONE_TIME_TARGET, 60), (3 * ONE_TIME_TARGET, 20)):
        base = PrekeyState.create(bob_keys)
        one_time = base.new_one_time(held)
        saved = base.to_bytes()
        bundles = [base.bundle(bob.address, one_time[i % held].key).to_json() for i in range(min(held, count))]
        states = iter([PrekeyState.from_bytes(bob_keys, saved) for _ in range(3 * count)])
        wire = itertools.cycle(bundles)

        def setup(_i: int, states=states, wire=wire) -> None:
            state = next(states)
            claimed = prekeys.verify_bundle(prekeys.parse_bundle(next(wire)), bob.address, bob.ed25519)
            session = Session.initiate(alice_keys, claimed, now_s=NOW_S)
            first = session.encrypt(KIB, CONTEXT)
            plaintext, started = PeerSessions().decrypt(
                state, alice_keys.ed25519_public, session.header, first, CONTEXT
            )
            assert started and plaintext == KIB

        rows.append(
            (
                f"session setup: claim check + X3DH both sides + first 1 KiB message, Bob holding {held} one-time prekey{'s' if held > 1 else ''}",
                f"{rate(count, setup):,.0f} /s",
                "",
            )
        )
    return rows


def envelope_rows() -> list[tuple[str, str, str]]:
    rows = []
    pair = Pair()
    known = {pair.alice.address: pair.alice, pair.bob.address: pair.bob}
    payload = Text("x" * 1024)

    def open_as(me: identity.Bundle, keys: MessagingKeys, sessions: PeerSessions, state: PrekeyState | None):
        def decrypt(_sender, sender_identity, header, message, context):
            return sessions.decrypt(state, sender_identity, header, message, context)[0]

        def opened(sealed: envelope.Envelope) -> envelope.Opened:
            return envelope.open_envelope(
                sealed,
                me.address,
                keys,
                now_ms=NOW_MS,
                known_bundle=known.get,
                seen=set().__contains__,
                decrypt=decrypt,
            )

        return opened

    open_bob = open_as(pair.bob, pair.bob_keys, pair.bob_sessions, pair.bob_prekeys)
    open_alice = open_as(pair.alice, pair.alice_keys, pair.alice_sessions, None)

    def format_1(_i: int) -> None:
        sealed = envelope.seal(pair.alice.address, pair.alice_keys, pair.bob, payload, now_ms=NOW_MS)
        assert open_bob(sealed).format == 1

    def format_2_from_alice() -> None:
        sealed = envelope.seal_session(
            pair.alice.address, pair.alice_keys, pair.bob, payload, pair.alice_sessions.current, now_ms=NOW_MS
        )
        assert open_bob(sealed).format == 2

    def format_2_from_bob() -> None:
        sealed = envelope.seal_session(
            pair.bob.address, pair.bob_keys, pair.alice, payload, pair.bob_sessions.current, now_ms=NOW_MS
        )
        assert open_alice(sealed).format == 2

    format_1(0)
    format_2_from_alice()
    size_1 = len(envelope.seal(pair.alice.address, pair.alice_keys, pair.bob, payload, now_ms=NOW_MS).ciphertext)
    rows.append(
        (
            f"envelope format 1 (signed) seal+open, 1 KiB text ({size_1:,} B ciphertext)",
            f"{rate(3000, format_1):,.0f} /s",
            ">= 5,000 /s (issue #5)",
        )
    )
    rows.append(
        (
            "envelope format 2 (session) seal+open, 1 KiB text, one direction",
            f"{rate(3000, lambda i: format_2_from_alice()):,.0f} /s",
            "",
        )
    )
    rows.append(
        (
            "envelope format 2 (session) seal+open, 1 KiB text, direction turning every message",
            f"{rate(3000, lambda i: (format_2_from_alice if i % 2 == 0 else format_2_from_bob)()):,.0f} /s",
            "",
        )
    )
    return rows


def persistence_rows() -> list[tuple[str, str, str]]:
    rows = []
    typical = Pair()
    for _ in range(3):
        typical.alice_to_bob()
        typical.bob_to_alice()
    worst = Pair()  # MAX_SKIPPED_KEYS (1,000) skipped keys kept: two chains of MAX_SKIP lost messages
    for _ in range(2):
        for _lost in range(MAX_SKIP):
            worst.alice_sessions.current.encrypt(b"lost", CONTEXT)
        worst.alice_to_bob()
        worst.bob_to_alice()
    prekey_state = PrekeyState.create(typical.bob_keys)
    prekey_state.new_one_time(ONE_TIME_TARGET)
    for label, sessions in (
        ("a session with no skipped keys", typical.bob_sessions),
        ("a session with 1,000 skipped keys", worst.bob_sessions),
    ):
        stored = sessions.to_bytes()
        assert PeerSessions.from_bytes(stored).to_bytes() == stored
        count = 1000 if len(stored) < 10_000 else 100
        rows.append(
            (
                f"PeerSessions.to_bytes, {label} ({len(stored):,} B)",
                f"{rate(count, lambda i, sessions=sessions: sessions.to_bytes()):,.0f} /s",
                "",
            )
        )
        rows.append(
            (
                f"PeerSessions.from_bytes, {label}",
                f"{rate(count, lambda i, stored=stored: PeerSessions.from_bytes(stored)):,.0f} /s",
                "",
            )
        )
    stored = prekey_state.to_bytes()
    keys = typical.bob_keys
    rows.append(
        (
            f"PrekeyState.to_bytes + from_bytes, {ONE_TIME_TARGET} one-time prekeys ({len(stored):,} B)",
            f"{rate(300, lambda i: PrekeyState.from_bytes(keys, prekey_state.to_bytes())):,.0f} /s",
            "",
        )
    )
    return rows


def profile() -> None:
    pair = Pair()
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(2000):
        pair.alice_to_bob()
    profiler.disable()
    print("== ratchet encrypt+decrypt, 1 KiB, one chain (2,000 messages)")
    pstats.Stats(profiler).sort_stats("tottime").print_stats(12)
    setup_rows_profiler = cProfile.Profile()
    setup_rows_profiler.enable()
    setup_rows()
    setup_rows_profiler.disable()
    print("== session setup")
    pstats.Stats(setup_rows_profiler).sort_stats("tottime").print_stats(12)


def main() -> None:
    if "--profile" in sys.argv[1:]:
        profile()
        return
    rows = ratchet_rows() + setup_rows() + envelope_rows() + persistence_rows()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print_table(
        "bench/sessions.py",
        rows,
        f"{os.cpu_count()} CPUs, 1-min load average {load:.1f} at the end (a busy machine lowers every rate)",
    )


if __name__ == "__main__":
    main()
