"""TestCollection (contracts/src/TestCollection.sol): deployment and open mint calldata.

The generic ERC-721 reads and transfers are in ``wallet/erc721.py``; this is the binding for
*our* local-chain test collection, whose ``mint`` is open to anyone.

    data = deployment_data("Hongbao Test Collection", "HBNFT")       # a contract creation
    data = mint_data(to)                                             # the next id, to `to`
    token_id = minted_id(receipt, collection)                        # read from the Transfer log
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from wallet import abi, erc721
from wallet import address as addr

__all__ = ["ARTIFACT", "deployment_data", "mint_data", "mint_with_uri_data", "minted_ids"]

ARTIFACT = "TestCollection"


def deployment_data(name: str, symbol: str) -> bytes:
    from contracts.artifacts import load
    from contracts.deploy import deployment_tx

    return deployment_tx(load(ARTIFACT), name, symbol)


def mint_data(to: str) -> bytes:
    """``mint(to)``: the next token id (1, 2, ...) to ``to``; open to anyone."""
    return abi.call_data("mint(address)", to)


def mint_with_uri_data(to: str, uri: str) -> bytes:
    """``mintWithURI(to, uri)``: as ``mint``, with ``uri`` as the token's tokenURI (any string)."""
    return abi.selector("mintWithURI(address,string)") + abi.encode(["address", "string"], [addr.parse(to), uri])


def minted_ids(receipt: Mapping[str, Any], collection: str) -> list[int]:
    """Ids minted (Transfer from 0x0) by ``collection`` in a receipt; other contracts' logs ignored."""
    wanted = addr.to_checksum(collection)
    found = []
    for log in receipt.get("logs") or []:
        if erc721.is_transfer(log) and addr.to_checksum(log["address"]) == wanted:
            moved = erc721.transfer_log(log)
            if int(moved.from_, 16) == 0:
                found.append(moved.token_id)
    return found
