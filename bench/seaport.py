"""Gas of accepting a peer-to-peer offer (`hongbao trade accept`): Seaport 1.6's fulfillOrder of
an order restricted to the peer, per mix of items, and the approvals that come before it.

    .venv/bin/python bench/seaport.py

Starts its own anvil, deploys Seaport (from @opensea/seaport-js), WETH, a test ERC-20 and
Seaport's TestERC721, then for each mix signs the order (contracts/protocols/seaport.py) and
fills it from the peer's (unlocked) account: the receipt's gasUsed. Target: the fill under
200,000 gas (the notes measured 146,887 for an ERC-721 for 100 ERC-20 on anvil). Exits 1 if
a row misses its target.
"""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.timing import print_table
from contracts.artifacts import load
from contracts.protocols import abi, deploy, npm, seaport
from wallet import localchain, signing
from wallet.rpc import Rpc, to_int
from wallet.transfers import wait_for_receipt

E18 = 10**18
ALICE_KEY = bytes.fromhex("0c" * 32)
BOB = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"  # anvil dev account 1 (unlocked)
TARGET = 200_000


def main() -> int:
    process, url = localchain.spawn_ephemeral()
    try:
        with Rpc(url) as rpc:
            return run(rpc)
    finally:
        localchain.terminate(process)


def send(rpc: Rpc, sender: str, to: str | None, data: bytes, value: int = 0) -> dict:
    tx = {"from": sender, "data": "0x" + data.hex(), "value": hex(value)}
    if to:
        tx["to"] = to
    receipt = wait_for_receipt(SimpleNamespace(rpc=rpc), rpc.call("eth_sendTransaction", tx), timeout=30)
    if to_int(receipt["status"]) != 1:
        raise SystemExit(f"{data[:4].hex()} reverted")
    return receipt


def run(rpc: Rpc) -> int:
    d = deploy.Deployer(rpc, localchain.DEV_ADDRESS)
    where = deploy.deploy_seaport(d)
    tkn = d.create(load("TestToken"), "Hongbao Test Token", "TKN", 18, 0)
    nft = d.create(npm.load("TestERC721"))
    d.finish()
    alice = signing.recover_hash(b"\x01" * 32, signing.sign_hash(ALICE_KEY, b"\x01" * 32))
    rpc.call("anvil_setBalance", alice, hex(100 * E18))
    rpc.call("anvil_impersonateAccount", alice)
    for token_id in (1, 2, 3, 4):
        send(rpc, BOB, nft, abi.data("mint(address,uint256)", alice, token_id))
    send(rpc, BOB, tkn, abi.data("mint(address,uint256)", alice, 1000 * E18))
    send(rpc, BOB, tkn, abi.data("mint(address,uint256)", BOB, 1000 * E18))
    erc20_approve = send(rpc, alice, tkn, abi.data("approve(address,uint256)", where, 500 * E18))
    nft_approve = send(rpc, alice, nft, abi.data("approve(address,uint256)", where, 1))
    for token_id in (2, 3, 4):
        send(rpc, alice, nft, abi.data("approve(address,uint256)", where, token_id))
    send(rpc, BOB, tkn, abi.data("approve(address,uint256)", where, 1000 * E18))
    now = to_int(rpc.call("eth_getBlockByNumber", "latest", False)["timestamp"])

    def nft_item(token_id: int) -> seaport.Item:
        return seaport.Item(seaport.ERC721, nft, token_id, 1)

    def eth(amount: int) -> seaport.Item:
        return seaport.Item(seaport.NATIVE, seaport.ZERO, 0, amount, alice)

    def tokens(amount: int, to: str | None = None) -> seaport.Item:
        return seaport.Item(seaport.ERC20, tkn, 0, amount, to)

    mixes = [
        ("NFT for ETH", (nft_item(1),), (eth(E18 // 2),)),
        ("100 TKN for ETH", (tokens(100 * E18),), (eth(E18 // 20),)),
        ("NFT for 100 TKN", (nft_item(2),), (tokens(100 * E18, alice),)),
        ("two NFTs for 100 TKN + ETH", (nft_item(3), nft_item(4)), (tokens(100 * E18, alice), eth(E18 // 10))),
    ]
    rows = []
    worst = 0
    for salt, (name, gives, wants) in enumerate(mixes):
        order = seaport.Order(alice, BOB, gives, wants, now, now + 3600, salt, 0)
        signature = seaport.sign(ALICE_KEY, order, 31337, where)
        receipt = send(rpc, BOB, where, seaport.fulfill_data(order, signature), order.value())
        gas = to_int(receipt["gasUsed"])
        worst = max(worst, gas)
        rows.append((f"accept: {name}", f"{gas:,} gas", f"< {TARGET:,}"))
    rows.append(("offerer's ERC-20 approval (exact amount)", f"{to_int(erc20_approve['gasUsed']):,} gas", "-"))
    rows.append(("offerer's ERC-721 approval (one token)", f"{to_int(nft_approve['gasUsed']):,} gas", "-"))
    print_table("Seaport 1.6 fills on anvil (orders restricted to the peer)", rows)
    return 0 if worst < TARGET else 1


if __name__ == "__main__":
    raise SystemExit(main())
