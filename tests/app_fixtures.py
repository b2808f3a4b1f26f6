"""A home for the app's tests and bench: a store filled in-process with fixed keys, clock
and contents (contacts, a group, a stranger's request, red packets in each festival
theme, a payment, a payment request), so screens are the same on every run."""

from __future__ import annotations

import hashlib
from pathlib import Path

from messaging import payloads
from messaging.chat import Messenger
from messaging.envelope import Opened
from messaging.identity import make_bundle

T0 = 1_767_225_600_000  # 2026-01-01 00:00 UTC
ME_KEY = bytes.fromhex("ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80")
THEMES = ("classic", "spring-festival", "mid-autumn", "wedding", "birthday", "thanks")


def peer_key(n: int) -> bytes:
    return hashlib.sha256(b"hongbao app peer %d" % n).digest()


class Clock:
    """The store's clock, set to each message's time as it is added (activity order)."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> int:
        return self.now


def incoming(m: Messenger, key: bytes, n: int, payload: payloads.Payload, at: int) -> None:
    m.store.clock.now = at  # type: ignore[attr-defined]
    bundle = make_bundle(key, T0 // 1000)
    mid = hashlib.sha256(b"in %d %d" % (n, at)).digest()[:16]
    m.store.add_incoming(Opened(bundle.address, m.address, mid, at, payload, bundle, True))


def outgoing(m: Messenger, to: str, n: int, payload: payloads.Payload, at: int, state: str = "read") -> None:
    m.store.clock.now = at  # type: ignore[attr-defined]
    mid = hashlib.sha256(b"out %d %d" % (n, at)).digest()[:16]
    stored = m.store.add_outgoing(to, mid, payload, at)
    if state != "pending":
        m.store.mark_sent(stored.id)
    if state in ("delivered", "read"):
        m.store.apply_receipt(payloads.Receipt(state, (stored.id,)), to)


def showcase(home: Path) -> Messenger:
    """Alice's home (the ANVIL account 0 key) with a few of everything; clock fixed."""
    m = Messenger.open(home, ME_KEY, clock=Clock())
    names = ["bob", "carol", "dave"]
    peers = [make_bundle(peer_key(i), T0 // 1000).address for i in range(3)]
    for i, name in enumerate(names):
        incoming(m, peer_key(i), 0, payloads.Text(f"hi, it is {name}"), T0 + i)  # pins their bundle
        m.store.add_contact(peers[i], name)
    bob = peers[0]
    outgoing(m, bob, 1, payloads.Text("你好 Bob! 新年快乐 🎉"), T0 + 60_000)
    for n, theme in enumerate(THEMES):
        packet = payloads.RedPacket(
            31337,
            "0x" + "11" * 20,
            "0x" + f"{n:064x}",
            "恭喜发财" if n % 2 else "",
            theme,
            claim_key="0x" + "22" * 32,
            total=str(10**17 * (n + 1)),
            shares=3,
        )
        incoming(m, peer_key(0), 10 + n, packet, T0 + 120_000 + n * 1000)
    incoming(
        m,
        peer_key(0),
        20,
        payloads.Payment(31337, "0x" + "ab" * 32, str(5 * 10**16), note="dinner [red]x[/]"),
        T0 + 200_000,
    )
    incoming(m, peer_key(0), 21, payloads.PaymentRequest("7e" * 16, 31337, str(2 * 10**16), note="taxi"), T0 + 210_000)
    incoming(m, peer_key(0), 22, payloads.Text("hostile: \x1b[2J[bold]not bold[/] \u202eevil"), T0 + 220_000)
    outgoing(m, bob, 23, payloads.Text("delivered, not read yet"), T0 + 230_000, "delivered")
    outgoing(m, bob, 24, payloads.Text("queued while the relay was down"), T0 + 240_000, "pending")
    incoming(m, peer_key(9), 30, payloads.Text("a stranger writes"), T0 + 100_000)  # a message request
    return m


def crowd(home: Path, conversations: int = 50, messages: int = 10_000) -> str:
    """The bench's home: `conversations` contacts and `messages` texts spread over them."""
    m = Messenger.open(home, ME_KEY, clock=Clock())
    try:
        keys = [peer_key(100 + i) for i in range(conversations)]
        addresses = []
        for i, key in enumerate(keys):
            incoming(m, key, 0, payloads.Text("hello"), T0 + i)
            addresses.append(make_bundle(key, T0 // 1000).address)
            m.store.add_contact(addresses[-1], f"friend{i:02d}")
        for n in range(messages - conversations):
            i = n % conversations
            at = T0 + 1000 * (n + conversations)
            if n % 2:
                incoming(m, keys[i], n + 1, payloads.Text(f"message {n} 你好"), at)
            else:
                outgoing(m, addresses[i], n + 1, payloads.Text(f"reply {n}"), at, "sent")
        return m.address
    finally:
        m.close()
