"""Watching what we created: new claims and deadlines, for `hongbao chat watch`."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from wallet import address as addr
from wallet import atomic
from wallet.chain import Chain
from wallet.rpc import Rpc, to_int

from . import redpacket as rp
from .flows import PacketError, chain_time, id_hex, parse_id
from .packet_keeper import Keeper, Kept

# -- watching what we created: claims and deadlines (`hongbao chat watch`) --------------------

WATCH_FILE = "packets-watch.json"  # beside packets.json: how far each packet's claims were reported
EXPIRY_WARNING = 3_600  # warn about packets expiring within the next hour


@dataclass(frozen=True, slots=True)
class ClaimNews:
    """Someone claimed from a packet of mine: `claimed` shares of `shares` are gone with it."""

    kept: Kept
    recipient: str
    amount: int
    tx_hash: str
    block: int
    claimed: int
    shares: int


@dataclass(frozen=True, slots=True)
class DeadlineNews:
    """A packet of mine expiring soon with shares left (`expiring`), or expired with
    something left to refund (`expired`)."""

    kind: str  # expiring | expired
    kept: Kept
    state: rp.PacketState
    now: int

    @property
    def seconds_left(self) -> int:
        return self.state.expiry - self.now


def my_packets(keeper: Keeper, chain_id: int, creator: str) -> list[Kept]:
    """The mined packets `creator` made from this home on chain `chain_id`."""
    creator = addr.parse(creator)
    return [k for k in keeper.all() if k.chain_id == chain_id and k.creator == creator and k.block is not None]


def new_claims(
    rpc: Rpc, packets: Iterable[Kept], states: dict[str, rp.PacketState], through: dict[str, int], head: int
) -> list[ClaimNews]:
    """PacketClaimed events of `packets` in blocks after `through[id]` (default: the packet's
    creation block - 1) up to `head`, oldest first. One eth_getLogs per contract.
    `claimed` counts from the state read (shares - shares_left), back from the newest claim."""
    found: list[ClaimNews] = []
    by_contract: dict[str, list[Kept]] = {}
    since: dict[str, int] = {}  # packet id -> the block its news starts after
    for kept in packets:
        if kept.block is None:  # not mined (yet): nothing can be claimed
            continue
        after = through.get(kept.packet_id, kept.block - 1)
        if kept.packet_id in states and after < head:
            since[kept.packet_id] = after
            by_contract.setdefault(kept.contract, []).append(kept)
    for contract, group in by_contract.items():
        start = min(since[k.packet_id] for k in group) + 1
        logs = rpc.call(
            "eth_getLogs",
            {
                "address": contract,
                "topics": ["0x" + rp.CLAIMED_TOPIC.hex(), [k.packet_id for k in group]],
                "fromBlock": hex(start),
                "toBlock": hex(head),
            },
        )
        for kept in group:
            after = since[kept.packet_id]
            mine: list[tuple[rp.Claimed, dict[str, Any]]] = []
            for log in logs:
                event = rp.parse_log(log, contract)
                if (
                    isinstance(event, rp.Claimed)
                    and id_hex(event.id) == kept.packet_id
                    and to_int(log["blockNumber"]) > after
                ):
                    mine.append((event, log))
            mine.sort(key=lambda pair: (to_int(pair[1]["blockNumber"]), to_int(pair[1].get("logIndex") or 0)))
            state = states[kept.packet_id]
            claimed_now = state.shares - state.shares_left
            for n, (event, log) in enumerate(mine):
                found.append(
                    ClaimNews(
                        kept,
                        event.recipient,
                        event.amount,
                        log["transactionHash"],
                        to_int(log["blockNumber"]),
                        max(1, claimed_now - (len(mine) - 1 - n)),
                        state.shares,
                    )
                )
    return sorted(found, key=lambda news: news.block)


def deadlines(
    packets: Iterable[Kept], states: dict[str, rp.PacketState], now: int, within: int = EXPIRY_WARNING
) -> list[DeadlineNews]:
    """Packets expiring within `within` seconds with shares left, and expired ones not
    refunded with something left (shares or gas deposit): what the creator should act on."""
    result = []
    for kept in packets:
        state = states.get(kept.packet_id)
        if state is None or state.refunded:
            continue
        if now >= state.expiry and (state.remaining or state.deposit):
            result.append(DeadlineNews("expired", kept, state, now))
        elif now < state.expiry <= now + within and state.shares_left:
            result.append(DeadlineNews("expiring", kept, state, now))
    return result


class PacketWatch:
    """Polls the chain for what changed in the packets `creator` made (the Keeper's), and
    remembers how far claims were reported in WATCH_FILE (0600, atomic, beside the Keeper's
    file) so that neither a live view nor `--once` run twice repeats a claim. Packets that
    can change no more (refunded; or exhausted with no deposit left) are marked done and
    not read again. Deadlines are told on every `poll`: the caller decides how often."""

    def __init__(self, keeper: Keeper, creator: str) -> None:
        self.keeper, self.creator = keeper, addr.parse(creator)
        self.path = keeper.path.with_name(WATCH_FILE)

    def _load(self) -> dict[str, Any]:
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {"version": 1, "packets": {}}
        except (ValueError, UnicodeDecodeError):
            raw = None
        if not isinstance(raw, dict) or not isinstance(raw.get("packets"), dict):
            raise PacketError(f"{self.path} is damaged; delete it to go on (claims already shown may be shown again)")
        return raw

    def poll(
        self, chain: Chain, *, now: int | None = None, within: int = EXPIRY_WARNING
    ) -> tuple[list[ClaimNews], list[DeadlineNews]]:
        packets = my_packets(self.keeper, chain.chain_id, self.creator)
        if not packets:
            return [], []
        seen = self._load()["packets"]
        live = [k for k in packets if not (seen.get(k.packet_id) or {}).get("done")]
        states = {
            k.packet_id: s
            for k in live
            if (s := rp.read_packet(chain.rpc, k.contract, parse_id(k.packet_id))) is not None
        }
        # the head after the states: every claim a state counts is in a block <= head, so a
        # packet marked done has had all its claims reported
        head = to_int(chain.rpc.call("eth_blockNumber"))
        through = {
            pid: entry["through"]
            for pid, entry in seen.items()
            if isinstance(entry, dict) and isinstance(entry.get("through"), int)
        }
        claims = new_claims(chain.rpc, live, states, through, head)
        told = deadlines(live, states, chain_time(chain) if now is None else now, within)
        updates = {
            pid: {"through": head, "done": s.refunded or (s.shares_left == 0 and s.deposit == 0)}
            for pid, s in states.items()
        }
        if any(seen.get(pid) != entry for pid, entry in updates.items()):
            with self.keeper._locked():
                data = self._load()
                data["packets"].update(updates)
                atomic.write_bytes(self.path, json.dumps(data, indent=1, sort_keys=True).encode("utf-8"))
        return claims, told
