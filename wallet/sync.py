"""Find incoming ETH and ERC-20 transfers to our addresses and store them in the history.

What is found: block transactions whose `to` is ours with a non-zero value and a
successful receipt (plain ETH), and `Transfer(address,address,uint256)` logs of any
contract whose recipient topic is ours (ERC-20). ERC-721 Transfers (the same event
signature, but the token id indexed as a 4th topic and no data) come back from the same
query; they are kept apart, in the history's nft_transfers table (`hongbao nft list` asks
the chain which of those tokens are still ours), never counted as token amounts. Not found: ETH sent to us by contracts (internal transfers need
trace APIs that public RPCs rarely offer). Zero-amount transfers are skipped: they move
nothing and are the usual tool of address-poisoning spam.

Cursors are per address, key "sync:<EIP-55 address>", holding the last block fully
scanned for it. So adding an account, or syncing one wallet and then all of them, never
rescans what other addresses already covered: each run starts at the lowest cursor + 1,
looks for an address once its own start is reached, and moves the cursors of the
addresses it covered forward with each batch, in the batch's transaction. Rows are
idempotent by (chain, hash, log index), so overlapping scans never duplicate anything.

ETH a recorded contract pays us (a red packet share someone else submitted, a refund) has
no Transfer log: `events` names such contracts, the event topics that carry the payee as
their second indexed topic, and the decoder that reads them (wallet/moves.py), and those
logs are scanned too.

Reorgs: the newest `confirmations` blocks are left for a later run (default 12, but 0 on
the local chain id 31337, where anvil does not reorganise on its own).
"""

from __future__ import annotations

from collections.abc import Callable, Container, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from . import address as addr
from . import erc721
from . import moves as moves_mod
from .errors import WalletError
from .history import ETH_LOG_INDEX, History, Incoming, NftTransfer
from .rpc import Rpc, to_int

TRANSFER_TOPIC = moves_mod.TRANSFER_TOPIC
LOGS_RANGE_CAP = 2_000  # blocks per eth_getLogs: many providers refuse wider ranges
LOCAL_CHAIN_ID = 31337
DEFAULT_CONFIRMATIONS = 12
CURSOR_PREFIX = "sync:"

Progress = Callable[[int, int], None]


class SyncError(WalletError):
    pass


@dataclass(frozen=True, slots=True)
class Events:
    """A recorded contract's events that pay someone named in topic 2."""

    contract: str
    topics: tuple[str, ...]
    decoder: moves_mod.Decoder


@dataclass(frozen=True, slots=True)
class SyncResult:
    from_block: int
    to_block: int  # < from_block when there was nothing new to scan
    found: list[Incoming] = field(default_factory=list)  # new rows only
    nfts: list[NftTransfer] = field(default_factory=list)  # ERC-721 Transfers to us in the range

    @property
    def blocks(self) -> int:
        return max(0, self.to_block - self.from_block + 1)


def default_confirmations(chain_id: int) -> int:
    return 0 if chain_id == LOCAL_CHAIN_ID else DEFAULT_CONFIRMATIONS


def cursor_key(address: str) -> str:
    return CURSOR_PREFIX + addr.to_checksum(address)


# -- pure logic: ranges and parsing -----------------------------------------------------------


def ranges(first: int, last: int, size: int) -> list[tuple[int, int]]:
    """[first, last] cut into inclusive pieces of at most `size` blocks."""
    if size < 1:
        raise ValueError("size must be >= 1")
    return [(lo, min(lo + size - 1, last)) for lo in range(first, last + 1, size)]


def address_topic(address: str) -> str:
    return "0x" + "0" * 24 + address.lower().removeprefix("0x")


def eth_candidates(chain_id: int, block: dict[str, Any], wanted: Container[str]) -> list[Incoming]:
    """Value-carrying transactions of `block` to an address in `wanted` (lowercase). Their
    receipts still need checking: a reverted one moved nothing."""
    number = to_int(block["number"])
    found = []
    for tx in block["transactions"]:
        to = tx.get("to")
        if to is None:
            continue
        if to.lower() not in wanted:
            continue
        value = to_int(tx["value"])
        if value == 0:
            continue
        found.append(
            Incoming(
                chain_id,
                tx["hash"].lower(),
                ETH_LOG_INDEX,
                number,
                addr.to_checksum(tx["from"]),
                addr.to_checksum(to),
                None,
                value,
                to_int(block["timestamp"]),
            )
        )
    return found


def _logged(chain_id: int, log: dict[str, Any], move: moves_mod.Move, timestamps: dict[int, int]) -> Incoming:
    number = to_int(log["blockNumber"])
    return Incoming(
        chain_id,
        log["transactionHash"].lower(),
        to_int(log["logIndex"]),
        number,
        move.from_,
        move.to,
        move.token,
        move.amount,
        timestamps[number],
    )


def _to_wanted(
    logs: Iterable[dict[str, Any]],
    is_kind: Callable[[dict[str, Any]], bool],
    parse: Callable[[dict[str, Any]], Any],
    wanted: Container[str],
) -> Iterator[tuple[dict[str, Any], Any]]:
    """(log, what it moved) for the logs of one kind (not removed by a reorg) whose `to` is in `wanted`."""
    for log in logs:
        if log.get("removed") or not is_kind(log):
            continue
        moved = parse(log)
        if moved.to.lower() in wanted:
            yield log, moved


def token_transfers(
    chain_id: int, logs: Iterable[dict[str, Any]], wanted: Container[str], timestamps: dict[int, int]
) -> list[Incoming]:
    """ERC-20 Transfer logs to an address in `wanted` (lowercase), with their blocks' timestamps
    (ERC-721's Transfer indexes a 4th topic and has no data: not ERC-20 shaped)."""
    return [
        _logged(chain_id, log, move, timestamps)
        for log, move in _to_wanted(logs, moves_mod.is_erc20_transfer, moves_mod.erc20_transfer, wanted)
        if move.amount
    ]


def nft_transfers(
    chain_id: int, logs: Iterable[dict[str, Any]], wanted: Container[str], timestamps: dict[int, int]
) -> list[NftTransfer]:
    """ERC-721 Transfer logs (4 topics, no data) to an address in `wanted` (lowercase)."""
    found = []
    for log, moved in _to_wanted(logs, erc721.is_transfer, erc721.transfer_log, wanted):
        number = to_int(log["blockNumber"])
        found.append(
            NftTransfer(
                chain_id,
                log["transactionHash"].lower(),
                to_int(log["logIndex"]),
                number,
                moved.contract,
                moved.token_id,
                moved.from_,
                moved.to,
                timestamps[number],
            )
        )
    return found


def succeeded(receipt: dict[str, Any]) -> bool:
    # pre-Byzantium receipts have no status field; treat them as successful
    return to_int(receipt.get("status", "0x1")) == 1


# -- I/O: the sync loop -----------------------------------------------------------------------


def sync(
    rpc: Rpc,
    history: History,
    chain_id: int,
    addresses: Iterable[str],
    *,
    tokens: Iterable[str] | None = None,
    start_block: int | None = None,
    to_block: int | None = None,
    batch: int = 200,
    progress: Progress | None = None,
    confirmations: int | None = None,
    lookback: int | None = None,
    events: Iterable[Events] = (),
) -> SyncResult:
    """Scan from each address's cursor (or `start_block`) to the head minus `confirmations`.

    `tokens`: only these token contracts (None: any contract). `batch`: blocks per round
    trip. `lookback`: where an address with no cursor starts, in blocks before the safe
    head (None: block 0). Each batch is committed with its cursors, so an interrupted
    sync resumes where it stopped.
    """
    wanted_addresses = sorted({addr.to_checksum(a) for a in addresses})
    if not wanted_addresses:
        raise ValueError("no addresses to sync")
    if confirmations is None:
        confirmations = default_confirmations(chain_id)
    head = to_int(rpc.call("eth_blockNumber"))
    end = head - confirmations if to_block is None else min(to_block, head - confirmations)

    starts: dict[str, int] = {}
    for a in wanted_addresses:
        if start_block is not None:
            starts[a] = start_block
        else:
            cursor = history.get_cursor(chain_id, cursor_key(a))
            starts[a] = cursor + 1 if cursor is not None else (0 if lookback is None else max(0, end - lookback + 1))
    first = min(starts.values())
    if first > end:
        return SyncResult(first, end)

    contracts = None if tokens is None else sorted({a.lower() for a in tokens})
    watched = list(events)
    total = end - first + 1
    found: list[Incoming] = []
    nfts: list[NftTransfer] = []
    for lo, hi in ranges(first, end, batch):
        active = [a for a, s in starts.items() if s <= hi]  # whose scan has begun by this batch's end
        rows, nft_rows = _scan(rpc, chain_id, lo, hi, {a.lower() for a in active}, contracts, watched)
        found += history.save_batch(chain_id, [cursor_key(a) for a in active], rows, hi, nft_rows)
        nfts += nft_rows
        if progress is not None:
            progress(hi - first + 1, total)
    return SyncResult(first, end, found, nfts)


def _scan(
    rpc: Rpc,
    chain_id: int,
    lo: int,
    hi: int,
    wanted: set[str],
    contracts: list[str] | None,
    watched: Sequence[Events] = (),
) -> tuple[list[Incoming], list[NftTransfer]]:
    """Blocks lo..hi and their Transfer logs (and watched events) in one round trip, then
    the candidates' receipts. ERC-20 and ETH rows, and ERC-721 Transfers apart."""
    calls: list[tuple[str, list[Any]]] = [("eth_getBlockByNumber", [hex(n), True]) for n in range(lo, hi + 1)]
    payees = [address_topic(a) for a in sorted(wanted)]
    topics = [TRANSFER_TOPIC, None, payees]
    spans = ranges(lo, hi, LOGS_RANGE_CAP)
    for log_lo, log_hi in spans:
        log_filter: dict[str, Any] = {"fromBlock": hex(log_lo), "toBlock": hex(log_hi), "topics": topics}
        if contracts is not None:
            log_filter["address"] = contracts
        calls.append(("eth_getLogs", [log_filter]))
    for watch in watched:
        for log_lo, log_hi in spans:
            event_filter = {
                "fromBlock": hex(log_lo),
                "toBlock": hex(log_hi),
                "address": watch.contract,
                "topics": [list(watch.topics), None, payees],
            }
            calls.append(("eth_getLogs", [event_filter]))
    replies = rpc.batch(calls)
    count = hi - lo + 1
    blocks = replies[:count]
    log_lists = replies[count : count + len(spans)]
    event_lists = replies[count + len(spans) :]

    timestamps: dict[int, int] = {}
    candidates: list[Incoming] = []
    for number, block in zip(range(lo, hi + 1), blocks, strict=True):
        if block is None:
            raise SyncError(
                f"the RPC at {rpc.url} has no block {number} (still syncing, or the chain was reset); run the sync again later"
            )
        timestamps[number] = to_int(block["timestamp"])
        if block["transactions"]:
            candidates += eth_candidates(chain_id, block, wanted)
    if candidates:
        receipts = rpc.batch([("eth_getTransactionReceipt", [c.hash]) for c in candidates])
        for c, receipt in zip(candidates, receipts, strict=True):
            if receipt is None:  # skipping it would move the cursor past it for good
                raise SyncError(
                    f"the RPC at {rpc.url} has no receipt for {c.hash} in block {c.block} (a lagging or pruned node?); run the sync again later"
                )
        candidates = [c for c, receipt in zip(candidates, receipts, strict=True) if succeeded(receipt)]
    logs = [log for log_list in log_lists for log in (log_list or [])]
    found = candidates + token_transfers(chain_id, logs, wanted, timestamps)
    for index, watch in enumerate(watched):
        for event_list in event_lists[index * len(spans) : (index + 1) * len(spans)]:
            found += contract_payments(chain_id, watch, event_list or [], logs, wanted, timestamps)
    return found, nft_transfers(chain_id, logs, wanted, timestamps)


def contract_payments(
    chain_id: int,
    watch: Events,
    events: Iterable[dict[str, Any]],
    transfers: list[dict[str, Any]],
    wanted: Container[str],
    timestamps: dict[int, int],
) -> list[Incoming]:
    """ETH a watched contract paid to an address in `wanted`, as its decoder reads the
    events (with the same transaction's Transfer logs, so a token payout is not counted
    twice). Logs from any other contract are ignored."""
    found = []
    for log in events:
        if log.get("removed") or addr.to_checksum(log.get("address") or "0x" + "00" * 20) != addr.to_checksum(
            watch.contract
        ):
            continue
        same_tx = [t for t in transfers if t.get("transactionHash") == log.get("transactionHash")]
        found += [
            _logged(chain_id, log, move, timestamps)
            for move in watch.decoder(log, [log, *same_tx])
            if move.token is None and move.to.lower() in wanted
        ]
    return found
