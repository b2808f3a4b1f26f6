"""The local history: transactions we sent, transfers we received, and sync cursors.

One SQLite file, `<home>/history.sqlite`, for every network (each row carries its
chain_id). It is a local client cache, so `metadata.create_all` is the schema tool; WAL
mode lets `hongbao sync` write while another command reads. The file is created 0600
(SQLite gives the -wal/-shm files the same mode): it reveals which addresses are ours.

Amounts and fees are uint256, beyond SQLite's 64-bit INTEGER, so they are stored as
decimal strings and come back as exact ints. Every public method opens its own short
session; `save_batch` writes the found rows and the cursor in one transaction, so an
interrupted sync resumes without gaps or duplicates.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, cast

from sqlalchemy import CursorResult, Engine, Index, Result, String, Text, UniqueConstraint, func, or_, select, update
from sqlalchemy.dialects.sqlite import insert
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker
from sqlalchemy.types import TypeDecorator

from . import address as addr
from . import erc20
from . import moves as moves_mod
from .sqlite import open_engine

FILE = "history.sqlite"
UINT256_MAX = 2**256 - 1
STATUSES = ("pending", "confirmed", "failed", "replaced", "dropped")
KINDS = ("transfer", "token-transfer", "call", "speed-up", "cancel", "deploy")
ETH_LOG_INDEX = -1  # an incoming plain ETH transfer has no log


class Uint256(TypeDecorator[int]):
    """A uint256 as a decimal string: exact, unlike REAL, and unbounded, unlike INTEGER."""

    impl = String(78)
    cache_ok = True

    def process_bind_param(self, value: int | None, dialect: Any) -> str | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= UINT256_MAX:
            raise ValueError(f"not a uint256: {value!r}")
        return str(value)

    def process_result_value(self, value: str | None, dialect: Any) -> int | None:
        return None if value is None else int(value)


class Base(DeclarativeBase):
    pass


class SentRow(Base):
    __tablename__ = "sent"
    __table_args__ = (UniqueConstraint("chain_id", "hash"), Index("sent_by_sender", "chain_id", "sender", "nonce"))

    id: Mapped[int] = mapped_column(primary_key=True)
    chain_id: Mapped[int]
    hash: Mapped[str] = mapped_column(String(66))
    sender: Mapped[str] = mapped_column(String(42))
    nonce: Mapped[int]
    to: Mapped[str | None] = mapped_column(String(42))
    value: Mapped[int] = mapped_column(Uint256)
    data: Mapped[str] = mapped_column(Text)
    gas_limit: Mapped[int]
    max_fee_per_gas: Mapped[int | None] = mapped_column(Uint256)
    max_priority_fee_per_gas: Mapped[int | None] = mapped_column(Uint256)
    gas_price: Mapped[int | None] = mapped_column(Uint256)
    kind: Mapped[str] = mapped_column(String(16))
    token: Mapped[str | None] = mapped_column(String(42))
    token_amount: Mapped[int | None] = mapped_column(Uint256)
    replaces: Mapped[str | None] = mapped_column(String(66))
    raw: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[int]
    block: Mapped[int | None]
    gas_used: Mapped[int | None]
    effective_gas_price: Mapped[int | None] = mapped_column(Uint256)


class _TransferLog:
    """The columns of a Transfer log to one of our addresses (one row per chain, tx, log)."""

    id: Mapped[int] = mapped_column(primary_key=True)
    chain_id: Mapped[int]
    hash: Mapped[str] = mapped_column(String(66))
    log_index: Mapped[int]
    block: Mapped[int]
    from_: Mapped[str] = mapped_column("from", String(42))
    to: Mapped[str] = mapped_column(String(42))
    timestamp: Mapped[int]


class IncomingRow(_TransferLog, Base):
    __tablename__ = "incoming"
    __table_args__ = (
        UniqueConstraint("chain_id", "hash", "log_index"),
        Index("incoming_by_recipient", "chain_id", "to", "block"),
    )

    token: Mapped[str | None] = mapped_column(String(42))
    amount: Mapped[int] = mapped_column(Uint256)


class NftRow(_TransferLog, Base):
    """An ERC-721 Transfer log to one of our addresses (sync): where to look for a token we
    may hold. Whether we still hold it is asked of the chain (ownerOf), never read here."""

    __tablename__ = "nft_transfers"
    __table_args__ = (
        UniqueConstraint("chain_id", "hash", "log_index"),
        Index("nft_by_recipient", "chain_id", "to", "block"),
    )

    contract: Mapped[str] = mapped_column(String(42))
    token_id: Mapped[int] = mapped_column(Uint256)


class MinedRow(Base):
    """What the receipt of a transaction of ours said: its block's time (the one clock for
    everything on chain) and its logs (JSON), decoded when the history is shown."""

    __tablename__ = "mined"

    chain_id: Mapped[int] = mapped_column(primary_key=True)
    hash: Mapped[str] = mapped_column(String(66), primary_key=True)
    block: Mapped[int]
    timestamp: Mapped[int]
    logs: Mapped[str] = mapped_column(Text)


class TokenRow(Base):
    """Symbol and decimals a token contract reported (for tokens not in config.toml)."""

    __tablename__ = "tokens"

    chain_id: Mapped[int] = mapped_column(primary_key=True)
    address: Mapped[str] = mapped_column(String(42), primary_key=True)
    symbol: Mapped[str] = mapped_column(String(64))
    decimals: Mapped[int]


class CursorRow(Base):
    __tablename__ = "cursor"

    chain_id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    block: Mapped[int]


@dataclass(slots=True)
class SentTx:
    """A transaction we signed and broadcast. Statuses: pending; confirmed; failed (mined
    but reverted: its nonce is used); replaced (a speed-up/cancel with its nonce was
    mined); dropped (never mined: its nonce is free again)."""

    chain_id: int
    hash: str
    sender: str
    nonce: int
    to: str | None
    value: int
    data: str
    gas_limit: int
    max_fee_per_gas: int | None
    max_priority_fee_per_gas: int | None
    gas_price: int | None
    kind: str
    token: str | None
    token_amount: int | None
    replaces: str | None
    raw: str
    created_at: int  # unix seconds, from the caller's clock
    status: str = "pending"
    block: int | None = None
    gas_used: int | None = None
    effective_gas_price: int | None = None


@dataclass(frozen=True, slots=True)
class Incoming:
    """ETH (token None, log_index -1) or an ERC-20 Transfer log (token = the log's contract)."""

    chain_id: int
    hash: str
    log_index: int
    block: int
    from_: str
    to: str
    token: str | None
    amount: int
    timestamp: int  # the block's, unix seconds


@dataclass(frozen=True, slots=True)
class NftTransfer:
    """An ERC-721 Transfer log (4 topics: the token id indexed, no data) to one of our addresses."""

    chain_id: int
    hash: str
    log_index: int
    block: int
    contract: str
    token_id: int
    from_: str
    to: str
    timestamp: int  # the block's, unix seconds


_NFT_FIELDS = tuple(f.name for f in fields(NftTransfer))
_SENT_FIELDS = tuple(f.name for f in fields(SentTx))
_INCOMING_FIELDS = tuple(f.name for f in fields(Incoming))


def _sent(row: SentRow) -> SentTx:
    return SentTx(**{name: getattr(row, name) for name in _SENT_FIELDS})


def _incoming(row: IncomingRow) -> Incoming:
    return Incoming(**{name: getattr(row, name) for name in _INCOMING_FIELDS})


def _address(value: str | None) -> str | None:
    return None if value is None else addr.to_checksum(value)


def _hash(value: str | None) -> str | None:
    return None if value is None else value.lower()


def _one_row(result: Result[Any]) -> bool:
    """Whether an INSERT or UPDATE touched exactly one row. Session.execute is typed as
    returning the base Result; for these statements it is a CursorResult, which has rowcount."""
    return cast("CursorResult[Any]", result).rowcount == 1


def _sent_values(tx: SentTx) -> dict[str, Any]:
    if tx.kind not in KINDS:
        raise ValueError(f"unknown kind {tx.kind!r}")
    if tx.status not in STATUSES:
        raise ValueError(f"unknown status {tx.status!r}")
    values = {name: getattr(tx, name) for name in _SENT_FIELDS}
    values.update(
        hash=_hash(tx.hash),
        replaces=_hash(tx.replaces),
        sender=_address(tx.sender),
        to=_address(tx.to),
        token=_address(tx.token),
    )
    return values


def _incoming_values(item: Incoming) -> dict[str, Any]:
    values = {name: getattr(item, name) for name in _INCOMING_FIELDS}
    values.update(hash=_hash(item.hash), from_=_address(item.from_), to=_address(item.to), token=_address(item.token))
    return values


class History:
    def __init__(self, path_or_engine: Path | str | Engine) -> None:
        self.engine = path_or_engine if isinstance(path_or_engine, Engine) else open_engine(Path(path_or_engine))
        Base.metadata.create_all(self.engine)
        self._session = sessionmaker(self.engine, expire_on_commit=False)

    def close(self) -> None:
        self.engine.dispose()

    # -- sent transactions ---------------------------------------------------------------

    def record_sent(self, tx: SentTx) -> bool:
        """Store a broadcast transaction; False if (chain_id, hash) was already there."""
        values = _sent_values(tx)
        with self._session.begin() as session:
            result = session.execute(
                insert(SentRow).values(**values).on_conflict_do_nothing(index_elements=["chain_id", "hash"])
            )
            return _one_row(result)

    def set_status(
        self,
        chain_id: int,
        hash: str,
        status: str,
        *,
        block: int | None = None,
        gas_used: int | None = None,
        effective_gas_price: int | None = None,
    ) -> bool:
        """Update a sent transaction's status (and receipt facts); False if it is unknown."""
        if status not in STATUSES:
            raise ValueError(f"unknown status {status!r}")
        facts = {"block": block, "gas_used": gas_used, "effective_gas_price": effective_gas_price}
        changes: dict[str, Any] = {"status": status, **{name: v for name, v in facts.items() if v is not None}}
        with self._session.begin() as session:
            result = session.execute(
                update(SentRow).where(SentRow.chain_id == chain_id, SentRow.hash == hash.lower()).values(**changes)
            )
            return _one_row(result)

    def mark_replaced(self, chain_id: int, hash: str) -> bool:
        """The original of a speed-up/cancel whose replacement was mined."""
        return self.set_status(chain_id, hash, "replaced")

    def get_sent(self, chain_id: int, hash: str) -> SentTx | None:
        with self._session() as session:
            row = session.scalar(select(SentRow).where(SentRow.chain_id == chain_id, SentRow.hash == hash.lower()))
            return None if row is None else _sent(row)

    def pending(self, chain_id: int, sender: str) -> list[SentTx]:
        with self._session() as session:
            rows = session.scalars(
                select(SentRow)
                .where(SentRow.chain_id == chain_id, SentRow.sender == _address(sender), SentRow.status == "pending")
                .order_by(SentRow.nonce, SentRow.id)
            )
            return [_sent(r) for r in rows]

    def highest_nonce(self, chain_id: int, sender: str) -> int | None:
        """The highest nonce we used that the chain may still count (for the nonce manager).

        Only dropped transactions free their nonce: a failed one was mined (reverted), so
        its nonce is spent; a replaced one shares its nonce with its replacement.
        """
        with self._session() as session:
            return session.scalar(
                select(func.max(SentRow.nonce)).where(
                    SentRow.chain_id == chain_id, SentRow.sender == _address(sender), SentRow.status != "dropped"
                )
            )

    # -- incoming transfers and the sync cursor -------------------------------------------

    def add_incoming(self, item: Incoming) -> bool:
        """Store one incoming transfer; False if (chain_id, hash, log_index) was there."""
        with self._session.begin() as session:
            return self._insert_incoming(session, item)

    @staticmethod
    def _insert_incoming(session: Session, item: Incoming) -> bool:
        statement = (
            insert(IncomingRow)
            .values(**_incoming_values(item))
            .on_conflict_do_nothing(index_elements=["chain_id", "hash", "log_index"])
        )
        return _one_row(session.execute(statement))

    def incoming_by_hash(self, chain_id: int, hash: str) -> list[Incoming]:
        with self._session() as session:
            rows = session.scalars(
                select(IncomingRow)
                .where(IncomingRow.chain_id == chain_id, IncomingRow.hash == hash.lower())
                .order_by(IncomingRow.log_index)
            )
            return [_incoming(r) for r in rows]

    @staticmethod
    def _insert_nft(session: Session, item: NftTransfer) -> bool:
        values = {name: getattr(item, name) for name in _NFT_FIELDS}
        values.update(
            hash=_hash(item.hash), contract=_address(item.contract), from_=_address(item.from_), to=_address(item.to)
        )
        statement = (
            insert(NftRow).values(**values).on_conflict_do_nothing(index_elements=["chain_id", "hash", "log_index"])
        )
        return _one_row(session.execute(statement))

    def nft_transfers(self, chain_id: int, recipients: Iterable[str]) -> list[NftTransfer]:
        """ERC-721 Transfers sync found to any of `recipients`, oldest first."""
        wanted = sorted({addr.to_checksum(a) for a in recipients})
        with self._session() as session:
            rows = session.scalars(
                select(NftRow)
                .where(NftRow.chain_id == chain_id, NftRow.to.in_(wanted))
                .order_by(NftRow.block, NftRow.log_index)
            )
            return [NftTransfer(**{name: getattr(r, name) for name in _NFT_FIELDS}) for r in rows]

    def get_cursor(self, chain_id: int, key: str) -> int | None:
        """The last block fully synced for `key`, or None before the first sync."""
        with self._session() as session:
            return session.scalar(select(CursorRow.block).where(CursorRow.chain_id == chain_id, CursorRow.key == key))

    def set_cursor(self, chain_id: int, key: str, block: int) -> None:
        with self._session.begin() as session:
            self._advance_cursors(session, chain_id, [key], block, only_forward=False)

    @staticmethod
    def _advance_cursors(
        session: Session, chain_id: int, keys: Iterable[str], block: int, *, only_forward: bool
    ) -> None:
        for key in keys:
            statement = insert(CursorRow).values(chain_id=chain_id, key=key, block=block)
            where = CursorRow.block < block if only_forward else None
            session.execute(
                statement.on_conflict_do_update(index_elements=["chain_id", "key"], set_={"block": block}, where=where)
            )

    def save_batch(
        self,
        chain_id: int,
        key: str | Iterable[str],
        incoming: list[Incoming],
        cursor_block: int,
        nfts: Iterable[NftTransfer] = (),
    ) -> list[Incoming]:
        """Store found rows (and ERC-721 Transfers) and move the cursor(s) to `cursor_block`
        in one transaction.

        A cursor only moves forward, so re-scanning old blocks (`--from-block`) never
        makes the next sync redo what was already done. Returns the rows that were new.
        """
        keys = [key] if isinstance(key, str) else list(key)
        with self._session.begin() as session:
            new = [item for item in incoming if self._insert_incoming(session, item)]
            for nft in nfts:
                self._insert_nft(session, nft)
            self._advance_cursors(session, chain_id, keys, cursor_block, only_forward=True)
        return new

    # -- receipts' facts and token metadata -------------------------------------------------

    def record_mined(self, chain_id: int, hash: str, block: int, timestamp: int, logs: list[dict[str, Any]]) -> None:
        """The block time and the logs of a mined transaction of ours (idempotent)."""
        values = {"chain_id": chain_id, "hash": hash.lower(), "block": block, "timestamp": timestamp}
        statement = insert(MinedRow).values(**values, logs=json.dumps(logs, separators=(",", ":")))
        with self._session.begin() as session:
            session.execute(
                statement.on_conflict_do_update(
                    index_elements=["chain_id", "hash"],
                    set_={"block": block, "timestamp": timestamp, "logs": statement.excluded.logs},
                )
            )

    def mined(self, chain_id: int, hashes: Iterable[str]) -> dict[str, Mined]:
        wanted = sorted({h.lower() for h in hashes})
        with self._session() as session:
            rows = session.scalars(select(MinedRow).where(MinedRow.chain_id == chain_id, MinedRow.hash.in_(wanted)))
            return {r.hash: Mined(r.block, r.timestamp, json.loads(r.logs)) for r in rows}

    def record_token(self, chain_id: int, address: str, symbol: str, decimals: int) -> None:
        values = {"chain_id": chain_id, "address": addr.to_checksum(address), "symbol": symbol, "decimals": decimals}
        with self._session.begin() as session:
            session.execute(insert(TokenRow).values(**values).on_conflict_do_nothing())

    def tokens(self, chain_id: int) -> dict[str, tuple[str, int]]:
        """address -> (symbol, decimals), as the contracts reported them."""
        with self._session() as session:
            rows = session.scalars(select(TokenRow).where(TokenRow.chain_id == chain_id))
            return {r.address: (r.symbol, r.decimals) for r in rows}

    # -- the merged view -------------------------------------------------------------------

    def activity(
        self,
        chain_id: int,
        address: str | None = None,
        limit: int = 50,
        *,
        mine: Collection[str] | None = None,
        decoders: Mapping[str, moves_mod.Decoder] | None = None,
        hash: str | None = None,
    ) -> list[dict[str, Any]]:
        """One entry per transaction (or only transaction `hash`), newest first (by block
        time), as plain dicts.

        Seen from `mine` (the device's addresses; default: `address`, or else each sent
        transaction's sender and each transfer's recipient): `direction` is in, out, self,
        swap, call or other, `moves` what went in and out (exact ints), `amount`/`token`
        the main one. Mined transactions of ours are decoded from their recorded logs
        (ERC-20 Transfers, plus `decoders` for recorded contracts); `timestamp` is the
        block's time, or the sending device's clock while none is known (`clock`)."""
        if address is not None:
            address = _address(address)
        sent_query, incoming_query = _activity_queries(chain_id, address, hash)
        with self._session() as session:
            sent = session.scalars(sent_query.order_by(SentRow.created_at.desc(), SentRow.id.desc()).limit(limit)).all()
            received = session.scalars(
                incoming_query.order_by(
                    IncomingRow.timestamp.desc(), IncomingRow.block.desc(), IncomingRow.log_index.desc()
                ).limit(limit)
            ).all()
        facts = self.mined(chain_id, [r.hash for r in sent])
        mine_set = None if mine is None else {addr.to_checksum(a) for a in mine}
        if mine_set is None and address is not None:
            mine_set = {address}
        entries: dict[str, dict[str, Any]] = {}
        for row in sent:
            entries[row.hash] = _sent_entry(row, facts.get(row.hash), decoders, mine_set)
        by_hash: dict[str, list[IncomingRow]] = {}
        for item in received:
            by_hash.setdefault(item.hash, []).append(item)
        for tx_hash, items in by_hash.items():
            entry = entries.get(tx_hash)
            if entry is not None and tx_hash in facts:
                continue  # its recorded logs already say what moved
            if entry is None:
                entries[tx_hash] = _incoming_entry(items, mine_set)
            else:  # ours, mined before its logs were recorded: add what sync found
                extra = [_move(i) for i in items if _move(i) not in entry["_moves"]]
                entries[tx_hash] = _finish(entry, [*entry["_moves"], *extra], mine_set or {entry["from"]})
        items_out = sorted(
            entries.values(), key=lambda e: (e["timestamp"], e["block"] or 0, e["log_index"]), reverse=True
        )
        return [{k: v for k, v in e.items() if k != "_moves"} for e in items_out[:limit]]

    def activity_count(self, chain_id: int, address: str | None = None) -> int:
        """How many entries `activity` has in all (one per transaction hash): what a list
        capped at its newest says it left out."""
        sent_query, incoming_query = _activity_queries(chain_id, None if address is None else _address(address))
        hashes = sent_query.with_only_columns(SentRow.hash).union(incoming_query.with_only_columns(IncomingRow.hash))
        with self._session() as session:
            return int(session.scalar(select(func.count()).select_from(hashes.subquery())) or 0)


def _activity_queries(chain_id: int, address: str | None, hash: str | None = None) -> tuple[Any, Any]:
    """The sent and incoming rows `activity` draws on: the chain's, `address`'s, transaction `hash`'s."""
    sent_query = select(SentRow).where(SentRow.chain_id == chain_id)
    incoming_query = select(IncomingRow).where(IncomingRow.chain_id == chain_id)
    if address is not None:
        sent_query = sent_query.where(or_(SentRow.sender == address, SentRow.to == address))
        incoming_query = incoming_query.where(IncomingRow.to == address)
    if hash is not None:
        sent_query = sent_query.where(SentRow.hash == hash.lower())
        incoming_query = incoming_query.where(IncomingRow.hash == hash.lower())
    return sent_query, incoming_query


@dataclass(frozen=True, slots=True)
class Mined:
    block: int
    timestamp: int
    logs: list[dict[str, Any]]


def _move(row: IncomingRow) -> moves_mod.Move:
    return moves_mod.Move(row.token, row.from_, row.to, row.amount)


def _planned(row: SentRow) -> list[moves_mod.Move]:
    """What a transaction of ours moves as we built it (before its logs are known)."""
    if row.status in ("failed", "replaced", "dropped"):
        return []
    planned = []
    if row.value and row.to is not None:
        planned.append(moves_mod.Move(None, row.sender, row.to, row.value))
    if row.kind == "token-transfer" and row.token is not None and row.token_amount and row.to is not None:
        recipient = row.to
        decoded = erc20.decode_call(bytes.fromhex(row.data.removeprefix("0x"))) if row.data else None
        if decoded is not None and decoded.function == "transfer":
            recipient = str(decoded.args["to"])
        planned.append(moves_mod.Move(row.token, row.sender, recipient, row.token_amount))
    return planned


def _method(row: SentRow) -> str | None:
    if row.kind == "deploy":
        return "deploy"
    data = bytes.fromhex(row.data.removeprefix("0x")) if row.data else b""
    if len(data) < 4:
        return None
    decoded = erc20.decode_call(data)
    return decoded.function if decoded is not None else "0x" + data[:4].hex()


def _sent_entry(
    row: SentRow, mined: Mined | None, decoders: Mapping[str, moves_mod.Decoder] | None, mine: set[str] | None
) -> dict[str, Any]:
    if mined is not None and row.status == "confirmed":
        tx = {"from": row.sender, "to": row.to, "value": row.value}
        moved = moves_mod.from_receipt(tx, mined.logs, decoders)
    else:
        moved = _planned(row)
    entry = {
        "kind": row.kind,
        "method": _method(row),
        "hash": row.hash,
        "log_index": ETH_LOG_INDEX,
        "from": row.sender,
        "to": row.to,
        "nonce": row.nonce,
        "status": row.status,
        "block": mined.block if mined is not None else row.block,
        "timestamp": mined.timestamp if mined is not None else row.created_at,
        "clock": "block" if mined is not None else "sent",
        "fee": row.gas_used * row.effective_gas_price
        if row.gas_used is not None and row.effective_gas_price is not None
        else None,
    }
    return _finish(entry, moved, mine or {row.sender})


def _incoming_entry(items: list[IncomingRow], mine: set[str] | None) -> dict[str, Any]:
    first = items[0]
    entry = {
        "kind": "transfer" if all(i.token is None for i in items) else "token-transfer",
        "method": None,
        "hash": first.hash,
        "log_index": max(i.log_index for i in items),
        "from": first.from_,
        "to": first.to,
        "nonce": None,
        "status": "confirmed",
        "block": first.block,
        "timestamp": first.timestamp,
        "clock": "block",
        "fee": None,
    }
    return _finish(entry, [_move(i) for i in items], mine or {i.to for i in items})


def _finish(entry: dict[str, Any], moved: list[moves_mod.Move], mine: Collection[str]) -> dict[str, Any]:
    seen = moves_mod.view(moved, mine, entry["from"], entry["to"])
    main = next(iter(seen.incoming or seen.outgoing or seen.internal or moved), None)
    entry.update(
        direction=seen.direction,
        counterparty=seen.counterparty,
        token=main.token if main is not None else None,
        amount=main.amount if main is not None else 0,
        moves=[
            {"direction": side, "token": m.token, "from": m.from_, "to": m.to, "amount": m.amount, "what": m.what}
            for side, group in (("in", seen.incoming), ("out", seen.outgoing), ("self", seen.internal))
            for m in group
        ],
        _moves=moved,
    )
    return entry
