"""NFT workflows (ERC-721): the local test collection, what my accounts hold, one token's
facts, and sending one. Every fact shown comes from the chain at the time it is shown:
the history only says *where to look* (Transfer logs `sync` found), never who owns what.

A collection is code someone else wrote: `ownerOf` and `tokenURI` are its claims. A token
is listed as mine only when `ownerOf` says so now; a send is reported done only when,
after the receipt, `ownerOf` names the recipient (a contract that logs a Transfer and
moves nothing is caught there); strings it returns are rendered inert by the front end.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from contracts import collection as test_collection
from wallet import abi, erc721, transfers

if TYPE_CHECKING:
    from .frontend import Frontend
    from .sender import TxOptions
    from .signing import Sent
from wallet import address as addr
from wallet.chain import Chain
from wallet.errors import WalletError
from wallet.history import History

TEST_COLLECTION_KEY = "test_collection"  # net.contracts: the collection `nft deploy-test` made
POSITIONS_KEY = "uniswap_v3_positions"  # net.contracts: Uniswap v3's NonfungiblePositionManager
_REF = re.compile(r"^(?P<collection>[^#\s]+)#(?P<id>\d{1,78})$")


@dataclass(frozen=True, slots=True)
class Ref:
    """COLLECTION#ID resolved: the contract and the token id."""

    contract: str
    token_id: int

    def __str__(self) -> str:
        return f"{self.contract}#{self.token_id}"


def parse_ref(text: str, contracts: dict[str, str]) -> Ref:
    """`0xCONTRACT#7`, `test#7` (the test collection) or `uniswap#7` (a v3 position) -> Ref."""
    match = _REF.match(text.strip())
    if match is None:
        raise WalletError(f"{text!r} is not COLLECTION#ID (e.g. 0x5FbD...0aa3#1, test#1 or uniswap#12)")
    token_id = int(match["id"])
    if token_id >= 2**256:
        raise WalletError(f"token id {token_id} does not fit in a uint256")
    name = match["collection"]
    aliases = {"test": TEST_COLLECTION_KEY, "uniswap": POSITIONS_KEY}
    if name.lower() in aliases:
        known = contracts.get(aliases[name.lower()])
        if known is None:
            hint = "`hongbao nft deploy-test`" if name.lower() == "test" else "`hongbao defi deploy`"
            raise WalletError(f"no {name.lower()} collection recorded on this network (see {hint})")
        return Ref(addr.to_checksum(known), token_id)
    return Ref(addr.parse(name), token_id)


# -- the local test collection -------------------------------------------------------------------


def send_and_wait(
    chain: Chain, history: History, draft: transfers.Draft, key: bytes, lock_path: Path, timeout: float = 60
) -> dict[str, Any]:
    """Prepare (simulate), sign, send and wait; WalletError unless the receipt says success."""
    from wallet.rpc import to_int

    prepared = transfers.prepare(chain, draft)
    record = transfers.send(chain, prepared, key, history, lock_path=lock_path)
    receipt = transfers.wait_for_receipt(chain, record.hash, history, timeout=timeout)
    if to_int(receipt.get("status")) != 1:
        raise WalletError(f"transaction {record.hash} failed on chain")
    return receipt


def deploy_test(
    chain: Chain, history: History, sender: str, key: bytes, lock_path: Path, name: str, symbol: str
) -> tuple[str, str]:
    """Deploy TestCollection (local network only); (its address, the deployment hash)."""
    if not chain.network.is_local:
        raise WalletError(f"the test collection is for the local network only, not {chain.network.name!r}")
    draft = transfers.Draft(sender, None, 0, test_collection.deployment_data(name, symbol), "deploy")
    receipt = send_and_wait(chain, history, draft, key, lock_path)
    if not receipt.get("contractAddress"):
        raise WalletError(f"the deployment {receipt['transactionHash']} did not create a contract")
    return addr.to_checksum(receipt["contractAddress"]), str(receipt["transactionHash"])


def mint_test(
    chain: Chain,
    history: History,
    contract: str,
    to: str,
    key: bytes,
    lock_path: Path,
    *,
    count: int = 1,
    uri: str | None = None,
) -> list[int]:
    """Mint `count` tokens of the test collection to `to` from the dev account; their ids."""
    from wallet import localchain

    if not chain.network.is_local:
        raise WalletError(f"minting test NFTs is for the local network only, not {chain.network.name!r}")
    if not erc721.supports_erc721(chain.rpc, contract):
        raise WalletError(f"{contract} is not an ERC-721 collection (ERC-165 says no): nothing was minted")
    data = test_collection.mint_data(to) if uri is None else test_collection.mint_with_uri_data(to, uri)
    ids: list[int] = []
    for _ in range(count):
        draft = transfers.Draft(localchain.DEV_ADDRESS, contract, 0, data, "call")
        try:
            receipt = send_and_wait(chain, history, draft, key, lock_path)
        except transfers.Reverted as error:
            raise WalletError(f"{contract} cannot mint here ({error}): is it the test collection?") from None
        ids += test_collection.minted_ids(receipt, contract)
    return ids


def record_collection(chain: Chain, contract: str) -> None:
    """Remember `contract` as this network's test collection (config.toml)."""
    from wallet import config as config_mod
    from wallet.home import home

    config = config_mod.load(home())
    net = config.networks.get(chain.network.name)
    if net is not None:
        net.contracts[TEST_COLLECTION_KEY] = contract
        config_mod.save(home(), config)
    chain.network.contracts[TEST_COLLECTION_KEY] = contract


def unique(items: Iterable[Ref]) -> list[Ref]:
    seen: dict[tuple[str, int], Ref] = {}
    for item in items:
        seen.setdefault((item.contract, item.token_id), item)
    return list(seen.values())


# -- what my accounts hold -------------------------------------------------------------------------

POSITIONS_CAP = 100  # Uniswap v3 positions enumerated per account


@dataclass(frozen=True, slots=True)
class Held:
    """A token `ownerOf` says one of my accounts holds now. Strings are the collection's own."""

    contract: str
    token_id: int
    owner: str
    collection: str | None  # name() as the contract answers it (untrusted)
    symbol: str | None
    erc165: bool  # supportsInterface(ERC-721) said yes
    kind: str  # "erc721" or "uniswap-v3-position"
    detail: str | None = None  # a v3 position's pair and fee


def _reads(rpc: Any, calls: list[tuple[str, bytes]]) -> list[bytes | None]:
    """eth_call each (to, data), batched; None where a call reverted. A batch fails as a whole
    at its first error, so a failing batch is halved until the reverting calls stand alone:
    a few reverts among many calls (spam airdrops, burnt tokens) cost a few round trips more,
    not one per call."""
    from wallet.rpc import RpcError

    if not calls:
        return []
    batch = [("eth_call", [{"to": to, "data": "0x" + data.hex()}, "latest"]) for to, data in calls]
    try:
        return [bytes.fromhex(str(r or "0x")[2:]) for r in rpc.batch(batch)]
    except RpcError:
        if len(calls) == 1:
            return [None]
    middle = len(calls) // 2
    return _reads(rpc, calls[:middle]) + _reads(rpc, calls[middle:])


def _positions(chain: Chain, owners: list[str]) -> list[Ref]:
    """Uniswap v3 position NFTs of `owners`, enumerated on the position manager (ERC721Enumerable)."""
    manager = chain.network.contracts.get(POSITIONS_KEY)
    if manager is None:
        return []
    counts = _reads(chain.rpc, [(manager, abi.call_data("balanceOf(address)", o)) for o in owners])
    calls = []
    for owner, raw in zip(owners, counts, strict=True):
        count = min(abi.decode_uint(raw) if raw and len(raw) == 32 else 0, POSITIONS_CAP)
        calls += [(manager, abi.call_data("tokenOfOwnerByIndex(address,uint256)", owner, i)) for i in range(count)]
    ids = _reads(chain.rpc, calls)
    return [Ref(addr.to_checksum(manager), abi.decode_uint(raw)) for raw in ids if raw and len(raw) == 32]


def _position_detail(chain: Chain, manager: str, token_id: int, symbols: dict[str, str]) -> str | None:
    raw = _reads(chain.rpc, [(manager, abi.call_data("positions(uint256)", token_id))])[0]
    if raw is None or len(raw) < 8 * 32:
        return None
    token0, token1 = abi.decode_address(raw[64:96]), abi.decode_address(raw[96:128])
    fee, liquidity = abi.decode_uint(raw[128:160]), abi.decode_uint(raw[224:256])
    a, b = symbols.get(token0, token0), symbols.get(token1, token1)
    return f"{a}/{b} {fee / 10_000:g}% pool, liquidity {liquidity}"


def held(chain: Chain, history: History, owners: Iterable[str]) -> list[Held]:
    """Tokens my accounts hold now: candidates from the Transfer logs `sync` recorded, plus
    Uniswap v3 positions, each kept only if `ownerOf` names one of `owners` now."""
    mine = sorted({addr.to_checksum(o) for o in owners})
    logged = [Ref(t.contract, t.token_id) for t in history.nft_transfers(chain.chain_id, mine)]
    candidates = unique([*_positions(chain, mine), *logged])
    answers = _reads(chain.rpc, [(c.contract, abi.call_data("ownerOf(uint256)", c.token_id)) for c in candidates])
    found = [(c, o) for c, raw in zip(candidates, answers, strict=True) if (o := erc721.decode_owner(raw)) in mine]
    contracts = sorted({c.contract for c, _ in found})
    about = _reads(
        chain.rpc,
        [
            (c, data)
            for c in contracts
            for data in (
                abi.selector("name()"),
                abi.selector("symbol()"),
                abi.selector("supportsInterface(bytes4)") + abi.word(erc721.ERC721_INTERFACE),
            )
        ],
    )
    facts = {c: about[3 * i : 3 * i + 3] for i, c in enumerate(contracts)}
    manager = chain.network.contracts.get(POSITIONS_KEY)
    symbols = {t.address: t.symbol for t in chain.network.tokens.values()}
    result = []
    for ref, owner in found:
        name_raw, symbol_raw, erc165_raw = facts[ref.contract]
        position = manager is not None and ref.contract == addr.to_checksum(manager)
        result.append(
            Held(
                ref.contract,
                ref.token_id,
                owner,
                erc721.decode_text(name_raw),
                erc721.decode_text(symbol_raw),
                erc165_raw is not None and len(erc165_raw) == 32 and int.from_bytes(erc165_raw, "big") == 1,
                "uniswap-v3-position" if position else "erc721",
                _position_detail(chain, ref.contract, ref.token_id, symbols) if position else None,
            )
        )
    return sorted(result, key=lambda h: (h.owner, h.contract, h.token_id))


NFT_COLUMNS = ["collection", "id", "owner", "what"]


@dataclass(frozen=True)
class Holdings:
    """`nft list`: what `owners` hold on `network`, and the names they go by (address -> name)."""

    network: str
    owners: list[str]
    held: list[Held]
    known: dict[str, str]

    def cells(self) -> list[list[str]]:
        """Each token in words, column by column (NFT_COLUMNS): the collection's strings are
        its own, the front end draws them inert."""
        from .. import names

        return [
            [
                f"{h.symbol or '?'} ({h.contract})" + ("" if h.erc165 else " [not ERC-165]"),
                str(h.token_id),
                names.labelled(h.owner, self.known),
                h.detail or h.collection or "",
            ]
            for h in self.held
        ]


def holdings(owners: list[str], network_name: str | None) -> Holdings:
    """`nft list` for `owners` (wallets.addresses()): `held`, checked on the network's chain now."""
    from .. import names
    from ..context import chain as connect
    from ..context import history

    chain = connect(network_name)
    chain.verify()
    return Holdings(chain.network.name, owners, held(chain, history(), owners), names.known_names())


# -- one token, and sending it ------------------------------------------------------------------------


def show(chain: Chain, ref: Ref) -> erc721.Reads:
    """What the collection says about the token now; WalletError if it is no ERC-721 at all."""
    reads = erc721.read(chain.rpc, ref.contract, ref.token_id)
    if not reads.is_erc721 and reads.owner is None:
        raise WalletError(f"{ref.contract} is not an ERC-721 collection, or has no token {ref.token_id}")
    return reads


def plan_send(chain: Chain, sender: str, ref: Ref, to: str) -> tuple[transfers.Draft, erc721.Reads]:
    """safeTransferFrom(sender, to, id), after checking the collection is an ERC-721 and says
    the token is the sender's. The caller prepares (simulates) and confirms it."""
    reads = erc721.read(chain.rpc, ref.contract, ref.token_id)
    if not reads.is_erc721:
        raise WalletError(f"{ref.contract} does not say it is an ERC-721 collection (ERC-165): not sending")
    if reads.owner is None:
        raise WalletError(f"{ref} does not exist (ownerOf reverts)")
    if reads.owner != addr.to_checksum(sender):
        raise WalletError(f"{ref} belongs to {reads.owner}, not to {sender}")
    if addr.to_checksum(to) == addr.to_checksum(sender):
        raise WalletError(f"{to} is the sending account itself")
    data = erc721.safe_transfer_data(sender, to, ref.token_id)
    return transfers.Draft(sender, ref.contract, 0, data, "call"), reads


def send(ref_text: str, to: str, frontend: Frontend, opts: TxOptions) -> tuple[Sent, Ref]:
    """`nft send`: safeTransferFrom after the collection's ERC-165 answer and `ownerOf` say it
    is mine, previewed (the NFT, the recipient, the decoded call, the security rules' findings
    about the recipient) and confirmed; once mined, the collection must say `to` owns it."""
    from .. import names
    from .sender import Sender
    from .signing import status_of, transact

    sender = Sender(frontend, opts)
    recipient = names.address(to, sender.owner)
    ref = parse_ref(ref_text, sender.net.contracts)
    draft, reads = plan_send(sender.chain, sender.owner, ref, recipient)
    what = f"{reads.name or '?'} ({reads.symbol or '?'}) #{reads.token_id}"
    decoded = erc721.decode_safe_transfer(draft.data)
    sent = transact(
        sender.chain,
        draft,
        frontend,
        sender.key,
        opts.fees,
        question="Send this NFT?",
        details=[("NFT", f"{what}  [{reads.contract}]"), ("to", names.labelled(recipient))],
        call=None if decoded is None else (decoded.function, {k: str(v) for k, v in decoded.args.items()}),
        known_tokens=sender.known,
        packet_errors=False,
    )
    if sent.receipt is not None and status_of(sent.receipt) == 1:
        check_delivered(sender.chain, ref, sender.owner, recipient, sent.receipt)
    return sent, ref


def check_delivered(chain: Chain, ref: Ref, sender: str, to: str, receipt: dict[str, Any]) -> None:
    """After a successful receipt: the collection logged the move and `ownerOf` now names `to`.
    A collection that logs a Transfer and moves nothing (or the reverse) is reported."""
    wanted = erc721.NftLog(addr.to_checksum(ref.contract), addr.to_checksum(sender), addr.to_checksum(to), ref.token_id)
    logs = receipt.get("logs") or []
    logged = any(erc721.is_transfer(log) and erc721.transfer_log(log) == wanted for log in logs)
    owner = erc721.owner_of(chain.rpc, ref.contract, ref.token_id)
    if owner != wanted.to or not logged:
        raise WalletError(
            f"the transaction {receipt.get('transactionHash')} succeeded, but {ref.contract} now says {ref} belongs to "
            f"{owner or 'nobody'}{'' if logged else ' and logged no such transfer'}: the collection did not do what it was asked"
        )
