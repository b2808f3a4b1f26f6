"""What this home created: claim keys of our packets, encrypted, in HONGBAO_HOME/packets.json."""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wallet import address as addr
from wallet import atomic
from wallet.config import Token

from .flows import PacketError, Plan, id_hex, plan_create

if TYPE_CHECKING:
    from nacl.secret import SecretBox

KEEPER_FILE = "packets.json"
_KEEPER_LABEL = b"hongbao/redpacket/v1/claim-keys"


# -- what we created: HONGBAO_HOME/packets.json ---------------------------------------------


@dataclass(frozen=True, slots=True)
class Kept:
    """A packet this home created. Everything but the claim key is public on chain anyway."""

    packet_id: str
    chain_id: int
    contract: str
    creator: str
    nonce: str
    open: bool
    total: str
    shares: int
    token: str | None
    greeting: str
    theme: str
    recipients: tuple[str, ...]
    to: str | None
    created_at: int
    sealed_key: str  # hex: SecretBox under a key derived from the creator's account key
    tx: str | None = None
    block: int | None = None
    split: tuple[str, ...] = ()  # a lucky draw's amounts per slot (base units, decimal)
    random: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            name: (list(value) if isinstance(value, tuple) else value)
            for name in self.__slots__
            for value in [getattr(self, name)]
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Kept:
        return cls(**{**data, "recipients": tuple(data.get("recipients", ())), "split": tuple(data.get("split", ()))})


def _box(account_key: bytes) -> SecretBox:
    from nacl.secret import SecretBox

    return SecretBox(hashlib.blake2b(_KEEPER_LABEL, key=account_key, digest_size=32).digest())


class Keeper:
    """The packets this home created, in one JSON file (0600, atomic writes, a lock around
    read-modify-write). Claim keys are sealed (XSalsa20-Poly1305) under a key derived from
    the creator's account key and bound to the packet id, so the file alone claims nothing;
    the creator's unlocked wallet reopens them (to authorize a late member, re-send, or show
    an open packet's code again). Written before the create is broadcast, so a crash between
    the two never loses a claim key."""

    def __init__(self, home: Path) -> None:
        self.path = Path(home) / KEEPER_FILE

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        from wallet.transfers import nonce_lock

        with nonce_lock(self.path.with_name(KEEPER_FILE + ".lock")):
            yield

    def _load(self) -> dict[str, Any]:
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {"version": 1, "packets": {}}
        except (ValueError, UnicodeDecodeError):
            raise PacketError(
                f"{self.path} is damaged (not JSON); move it away to go on (its packets stay on chain)"
            ) from None
        if not isinstance(raw, dict) or not isinstance(raw.get("packets"), dict):
            raise PacketError(f"{self.path} is damaged; move it away to go on (its packets stay on chain)")
        return raw

    def _save(self, data: dict[str, Any]) -> None:
        atomic.write_bytes(self.path, json.dumps(data, ensure_ascii=False, indent=1, sort_keys=True).encode("utf-8"))

    def remember(self, plan: Plan, account_key: bytes, *, to: str | None = None, now: int | None = None) -> Kept:
        if addr.from_private_key(account_key) != plan.creator:
            raise PacketError("the account key does not belong to the packet's creator")
        sealed = _box(account_key).encrypt(plan.packet_id + plan.claim_key)
        kept = Kept(
            id_hex(plan.packet_id),
            plan.chain_id,
            plan.contract,
            plan.creator,
            "0x" + plan.params.nonce.hex(),
            plan.open,
            str(plan.params.total),
            plan.params.shares,
            plan.token.address if plan.token else None,
            plan.greeting,
            plan.theme,
            plan.recipients,
            to,
            int(now if now is not None else time.time()),
            bytes(sealed).hex(),
            split=tuple(str(a) for a in plan.split.amounts) if plan.split else (),
            random=plan.params.random,
        )
        with self._locked():
            data = self._load()
            data["packets"][kept.packet_id] = kept.to_json()
            self._save(data)
        return kept

    def mined(self, packet_id: bytes, tx: str, block: int) -> None:
        with self._locked():
            data = self._load()
            entry = data["packets"].get(id_hex(packet_id))
            if entry is not None:
                entry.update(tx=tx, block=block)
                self._save(data)

    def forget(self, packet_id: bytes) -> None:
        """Drop a packet whose create never made it on chain."""
        with self._locked():
            data = self._load()
            if data["packets"].pop(id_hex(packet_id), None) is not None:
                self._save(data)

    def all(self) -> list[Kept]:
        entries = []
        for value in self._load()["packets"].values():
            with contextlib.suppress(TypeError, KeyError):
                entries.append(Kept.from_json(value))
        return sorted(entries, key=lambda k: (k.created_at, k.packet_id))

    def get(self, packet_id: bytes) -> Kept | None:
        value = self._load()["packets"].get(id_hex(packet_id))
        return Kept.from_json(value) if value else None

    def find(self, prefix: str) -> list[Kept]:
        """Packets whose id starts with `prefix` (with or without 0x)."""
        wanted = prefix.strip().lower().removeprefix("0x")
        return [k for k in self.all() if k.packet_id[2:].startswith(wanted)]

    @staticmethod
    def claim_key(kept: Kept, account_key: bytes) -> bytes:
        from nacl.exceptions import CryptoError

        try:
            plain = _box(account_key).decrypt(bytes.fromhex(kept.sealed_key))
        except (CryptoError, ValueError):
            raise PacketError(
                f"the claim key of packet {kept.packet_id[:10]}... does not open with {addr.from_private_key(account_key)}'s key"
            ) from None
        if plain[:32] != bytes.fromhex(kept.packet_id[2:]):
            raise PacketError(
                f"the claim key stored for packet {kept.packet_id[:10]}... belongs to another packet; {KEEPER_FILE} was altered"
            )
        return plain[32:]

    def plan(self, kept: Kept, account_key: bytes, token: Token | None = None) -> Plan:
        """The plan back from a kept record (to sign an authorization again)."""
        key = self.claim_key(kept, account_key)
        nonce = bytes.fromhex(kept.nonce[2:])
        plan = plan_create(
            kept.chain_id,
            kept.contract,
            kept.creator,
            total=int(kept.total),
            shares=kept.shares,
            duration=1,
            open=kept.open,
            token=token,
            greeting=kept.greeting,
            theme=kept.theme,
            recipients=kept.recipients,
            nonce=nonce,
            claim_key=key,
            random=kept.random,
            amounts=[int(a) for a in kept.split] if kept.random else None,
        )
        if id_hex(plan.packet_id) != kept.packet_id:
            raise PacketError(
                f"the record of packet {kept.packet_id[:10]}... in {KEEPER_FILE} does not match its id; it was altered"
            )
        return plan
