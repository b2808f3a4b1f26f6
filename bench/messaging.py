"""Messaging throughput: envelopes sealed and opened, identity bundles made and verified.
A benchmark, not a test.

    .venv/bin/python bench/messaging.py

Pure CPU, no network and no clock reads inside the measured code (the timestamps are
fixed). Every rate is the best of 3 runs. Targets (issue #5, on the 2-core reference
machine): >= 5,000 seal+open/s of a 1 KiB text, >= 8,000 bundle verifications/s.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.timing import print_table, rate
from messaging import envelope, identity
from messaging.keys import MessagingKeys
from messaging.payloads import Text

SENDER_KEY = bytes.fromhex("ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80")
RECIPIENT_KEY = bytes.fromhex("59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d")
ISSUED_AT = 1_767_225_600  # 2026-01-01T00:00:00Z
NOW_MS = ISSUED_AT * 1000 + 60_000


def main() -> None:
    sender_keys = MessagingKeys.from_account_key(SENDER_KEY)
    recipient_keys = MessagingKeys.from_account_key(RECIPIENT_KEY)
    sender = identity.make_bundle(SENDER_KEY, ISSUED_AT)
    recipient = identity.make_bundle(RECIPIENT_KEY, ISSUED_AT)
    known = {sender.address: sender}

    def round_trip(payload, include=None):
        def once(_i: int) -> None:
            sealed = envelope.seal(
                sender.address, sender_keys, recipient, payload, now_ms=NOW_MS, include_bundle=include
            )
            opened = envelope.open_envelope(
                sealed,
                recipient.address,
                recipient_keys,
                now_ms=NOW_MS,
                known_bundle=known.get,
                seen=set().__contains__,
            )
            assert opened.payload is not None

        return once

    rows = []
    for label, size, count, target in (
        ("100 B", 100, 3000, ""),
        ("1 KiB", 1024, 3000, ">= 5,000 /s"),
        ("16 KiB", 16 * 1024, 1000, ""),
    ):
        payload = Text("x" * size)
        round_trip(payload)(0)  # imports and caches outside the timing
        ct = len(envelope.seal(sender.address, sender_keys, recipient, payload, now_ms=NOW_MS).ciphertext)
        rows.append(
            (
                f"seal+open, {label} text (known sender; {ct:,} B ciphertext)",
                f"{rate(count, round_trip(payload)):,.0f} /s",
                target,
            )
        )

    payload = Text("x" * 1024)
    rows.append(
        (
            "seal+open, 1 KiB text, first contact (bundle enclosed + verified)",
            f"{rate(2000, round_trip(payload, include=sender)):,.0f} /s",
            "",
        )
    )
    sealed = envelope.seal(sender.address, sender_keys, recipient, payload, now_ms=NOW_MS)
    rows.append(
        (
            "seal only, 1 KiB text",
            f"{rate(3000, lambda i: envelope.seal(sender.address, sender_keys, recipient, payload, now_ms=NOW_MS)):,.0f} /s",
            "",
        )
    )
    rows.append(
        (
            "open only, 1 KiB text",
            f"{rate(3000, lambda i: envelope.open_envelope(sealed, recipient.address, recipient_keys, now_ms=NOW_MS, known_bundle=known.get)):,.0f} /s",
            "",
        )
    )

    identity.verify_bundle(sender)
    rows.append(
        (
            "identity bundle verifications (EIP-712 recovery, key checks)",
            f"{rate(5000, lambda i: identity.verify_bundle(sender)):,.0f} /s",
            ">= 8,000 /s",
        )
    )
    wire = sender.to_bytes()
    rows.append(
        (
            "identity bundle parse + verify (from bytes)",
            f"{rate(5000, lambda i: identity.verify_bundle(identity.Bundle.from_bytes(wire))):,.0f} /s",
            "",
        )
    )
    rows.append(
        (
            "make_bundle (derive keys + sign)",
            f"{rate(2000, lambda i: identity.make_bundle(SENDER_KEY, ISSUED_AT + i)):,.0f} /s",
            "",
        )
    )
    rows.append(
        (
            "messaging keys from an account key (incl. public keys)",
            f"{rate(3000, lambda i: MessagingKeys.from_account_key(SENDER_KEY).ed25519_public):,.0f} /s",
            "",
        )
    )

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print_table(
        "bench/messaging.py",
        rows,
        f"{os.cpu_count()} CPUs, 1-min load average {load:.1f} at the end (a busy machine lowers every rate)",
    )


if __name__ == "__main__":
    main()
