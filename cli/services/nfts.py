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
from typing import Any

from contracts import collection as test_collection
from wallet import address as addr
from wallet import erc721, transfers
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
