"""NFTs (ERC-721): the test collection, sync finding tokens, list/show/send, against a real
anvil; hostile collections (a lying ownerOf, a terminal-attacking tokenURI, non-721 contracts)."""

from __future__ import annotations

import pytest
from conftest import ANVIL_KEYS

from cli.services import nfts
from wallet import config, erc721, localchain
from wallet.chain import Chain
from wallet.errors import WalletError
from wallet.history import FILE, History

DEV1 = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
DEV2 = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"
DEV1_KEY = bytes.fromhex(ANVIL_KEYS[1])


@pytest.fixture
def world(anvil, hongbao_home):
    """The local network pointed at the worker's anvil, a history, and a test collection."""
    cfg = config.load(hongbao_home)
    cfg.networks["local"] = config.Network("local", anvil.url, 31337)
    config.save(hongbao_home, cfg)
    chain = Chain.connect(cfg.networks["local"])
    history = History(hongbao_home / FILE)
    lock = hongbao_home / "nonce.lock"
    contract, _ = nfts.deploy_test(
        chain, history, localchain.DEV_ADDRESS, localchain.DEV_KEY, lock, "Hongbao Test Collection", "HBNFT"
    )
    nfts.record_collection(chain, contract)
    yield chain, history, lock, contract
    history.close()


def test_the_test_collection_mints_in_order_and_reads_back(world, hongbao_home):
    chain, history, lock, contract = world
    assert nfts.mint_test(chain, history, contract, DEV1, localchain.DEV_KEY, lock, count=2) == [1, 2]
    assert nfts.mint_test(chain, history, contract, DEV2, localchain.DEV_KEY, lock, uri="ipfs://x") == [3]
    reads = erc721.read(chain.rpc, contract, 3)
    assert (reads.is_erc721, reads.owner, reads.name, reads.symbol, reads.token_uri) == (
        True,
        DEV2,
        "Hongbao Test Collection",
        "HBNFT",
        "ipfs://x",
    )
    assert erc721.owner_of(chain.rpc, contract, 99) is None  # no such token: ownerOf reverts
    assert nfts.parse_ref("test#2", chain.network.contracts) == nfts.Ref(contract, 2)
    assert config.load(hongbao_home).networks["local"].contracts[nfts.TEST_COLLECTION_KEY] == contract


def test_refs_are_checked():
    known = {nfts.TEST_COLLECTION_KEY: "0x5FbDB2315678afecb367f032d93F642f64180aa3"}
    assert nfts.parse_ref("test#7", known).token_id == 7
    for bad in ("test", "test#", "test#-1", "test#0x1", "#1", "0x12#1", "uniswap#1", f"test#{2**256}", "a b#1"):
        with pytest.raises(WalletError):
            nfts.parse_ref(bad, known)


def test_deploy_test_and_mint_test_commands(cli, anvil, hongbao_home):
    cfg = config.load(hongbao_home)
    cfg.networks["local"] = config.Network("local", anvil.url, 31337)
    config.save(hongbao_home, cfg)
    deployed = cli.json("nft", "deploy-test")
    minted = cli.json("nft", "mint-test", DEV1, "--count", "2")
    assert minted == {"collection": deployed["collection"], "to": DEV1, "ids": [1, 2]}
    assert erc721.owner_of(anvil.rpc(), deployed["collection"], 2) == DEV1
    # not a collection that mints: refused before anything is sent, one line
    token = cli("nft", "mint-test", DEV1, "--collection", DEV2, check=False)
    assert token.returncode == 1 and "not an ERC-721" in token.stderr
    assert anvil.rpc().call("eth_getTransactionCount", localchain.DEV_ADDRESS, "latest") == "0x3"
