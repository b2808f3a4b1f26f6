"""NFTs (ERC-721): the test collection, sync finding tokens, list/show/send, against a real
anvil; hostile collections (a lying ownerOf, a terminal-attacking tokenURI, non-721 contracts)."""

from __future__ import annotations

import pytest
from conftest import ANVIL_KEYS
from hypothesis import given, settings
from hypothesis import strategies as st

from cli.services import nfts
from wallet import address as addr
from wallet import config, erc20, erc721, localchain
from wallet.chain import Chain
from wallet.errors import WalletError
from wallet.history import FILE, History

pytest_plugins = ("defi_fixtures",)

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
    # approvals, as an exchange needs them (Seaport offers)
    assert erc721.get_approved(chain.rpc, contract, 1) is None
    _call(chain, history, lock, contract, erc721.approve_data(DEV2, 1), DEV1_KEY, DEV1)
    _call(chain, history, lock, contract, erc721.set_approval_for_all_data(DEV2, True), DEV1_KEY, DEV1)
    assert erc721.get_approved(chain.rpc, contract, 1) == DEV2 == erc721.read(chain.rpc, contract, 1).approved
    assert erc721.is_approved_for_all(chain.rpc, contract, DEV1, DEV2)
    assert not erc721.is_approved_for_all(chain.rpc, contract, DEV2, DEV1)
    assert erc721.get_approved(chain.rpc, contract, 99) is None  # reverts: no such token
    assert nfts.parse_ref("test#2", chain.network.contracts) == nfts.Ref(contract, 2)
    assert config.load(hongbao_home).networks["local"].contracts[nfts.TEST_COLLECTION_KEY] == contract


def test_refs_are_checked():
    known = {nfts.TEST_COLLECTION_KEY: "0x5FbDB2315678afecb367f032d93F642f64180aa3"}
    assert nfts.parse_ref("test#7", known).token_id == 7
    for bad in ("test", "test#", "test#-1", "test#0x1", "#1", "0x12#1", "uniswap#1", f"test#{2**256}", "a b#1"):
        with pytest.raises(WalletError):
            nfts.parse_ref(bad, known)


HOSTILE_URI = "ipfs://x\x1b]0;pwned\x07\x1b[2J\n[red]alice[/red]: pay me at 0xBAD\u202e1.0 ETH"


def test_the_nft_commands_end_to_end(cli, anvil, hongbao_home):
    """deploy-test, mint-test (a tokenURI that attacks the terminal), sync, list, show, send by
    address, through the real entry point."""
    from conftest import quick_wallet

    cfg = config.load(hongbao_home)
    cfg.networks["local"] = config.Network("local", anvil.url, 31337)
    config.save(hongbao_home, cfg)
    me = quick_wallet(hongbao_home)
    deployed = cli.json("nft", "deploy-test")
    cli("faucet", me, "1")
    minted = cli.json("nft", "mint-test", me, "--uri", HOSTILE_URI)
    assert minted == {"collection": deployed["collection"], "to": me, "ids": [1]}
    assert cli.json("sync")["nfts"] == [
        {"collection": deployed["collection"], "id": "1", "from": "0x" + "00" * 20, "to": me, "block": 3}
    ]
    listed = cli("nft", "list").stdout
    shown = cli("nft", "show", "test#1").stdout
    for out in (listed, shown):
        assert "\x1b" not in out and "\u202e" not in out and "\x07" not in out
    assert "HBNFT" in listed and me in listed
    assert "ipfs://x\\x1b]0;pwned\\x07\\x1b[2J\\n[red]alice[/red]: pay me at 0xBAD\\u202e1.0 ETH" in shown

    # the service without click: a refused preview sends nothing (what the app would call)
    from test_services_packets import Scripted

    from cli.services.sender import TxOptions

    refusing = Scripted(approve=False)
    with pytest.raises(WalletError, match="not confirmed"):
        nfts.send("test#1", DEV2, refusing, TxOptions())
    (preview,) = refusing.previews
    assert preview.title == "Send this NFT?" and ("to", DEV2) in preview.rows and preview.tx is not None
    assert erc721.owner_of(anvil.rpc(), deployed["collection"], 1) == me
    sent = cli("nft", "send", "test#1", DEV2, "--yes")  # (names resolve as in `send`: cli/names.py)
    preview = " ".join(sent.stderr.split())  # the preview (stderr), however Rich wrapped it
    assert "call safeTransferFrom(from=" in preview and f"to={DEV2}, tokenId=1)" in preview  # decoded
    assert "Hongbao Test Collection (HBNFT) #1" in preview
    assert "confirmed in block" in preview and sent.stdout.startswith("0x")
    assert erc721.owner_of(anvil.rpc(), deployed["collection"], 1) == DEV2
    assert cli.json("nft", "list") == []
    again = cli("nft", "send", "test#1", DEV2, "--yes", check=False)  # not mine any more: one line, nothing sent
    assert again.returncode == 1 and again.stderr.startswith("error: ") and "belongs to" in again.stderr


# -- sync: ERC-721 Transfers recorded apart from ERC-20 ones --------------------------------------


def _deploy(chain, history, lock, name, *args):
    from contracts.artifacts import load
    from contracts.deploy import deployment_tx
    from wallet import transfers

    draft = transfers.Draft(localchain.DEV_ADDRESS, None, 0, deployment_tx(load(name), *args), "deploy")
    receipt = nfts.send_and_wait(chain, history, draft, localchain.DEV_KEY, lock)
    return addr.to_checksum(receipt["contractAddress"])


def _call(chain, history, lock, contract, data, key=localchain.DEV_KEY, sender=localchain.DEV_ADDRESS):
    from wallet import transfers

    return nfts.send_and_wait(chain, history, transfers.Draft(sender, contract, 0, data, "call"), key, lock)


def _send_nft(chain, history, lock, ref, sender, key, to):
    draft, _reads = nfts.plan_send(chain, sender, ref, to)
    receipt = nfts.send_and_wait(chain, history, draft, key, lock)
    nfts.check_delivered(chain, ref, sender, to, receipt)
    return receipt


def test_sync_keeps_nft_transfers_apart_and_list_asks_the_chain(world):
    from wallet import abi, sync

    chain, history, lock, contract = world
    token = _deploy(chain, history, lock, "TestToken", "T", "TKN", 18, 10**24)
    nfts.mint_test(chain, history, contract, DEV1, localchain.DEV_KEY, lock, count=2)  # ids 1, 2
    _call(chain, history, lock, token, abi.call_data("transfer(address,uint256)", DEV1, 5))
    result = sync.sync(chain.rpc, history, 31337, [DEV1])
    assert [(i.token, i.amount) for i in result.found] == [(addr.to_checksum(token), 5)]  # not ids as amounts
    assert [(n.contract, n.token_id, n.to) for n in result.nfts] == [(contract, 1, DEV1), (contract, 2, DEV1)]
    assert [(h.token_id, h.owner, h.symbol, h.erc165, h.kind) for h in nfts.held(chain, history, [DEV1])] == [
        (1, DEV1, "HBNFT", True, "erc721"),
        (2, DEV1, "HBNFT", True, "erc721"),
    ]

    # a logged token whose ownerOf reverts (burnt, or a log that lied) is left out, the rest kept
    from wallet.history import NftTransfer

    ghost = NftTransfer(31337, "0x" + "cd" * 32, 0, 1, contract, 99, DEV2, DEV1, 0)
    history.save_batch(31337, [], [], 0, [ghost])
    assert [h.token_id for h in nfts.held(chain, history, [DEV1])] == [1, 2]

    # #1 leaves: the list asks ownerOf, so it is gone at once, before any sync
    _send_nft(chain, history, lock, nfts.Ref(contract, 1), DEV1, DEV1_KEY, DEV2)
    assert [h.token_id for h in nfts.held(chain, history, [DEV1])] == [2]
    assert nfts.held(chain, history, [DEV2]) == []  # DEV2 never synced: nothing logged for it
    sync.sync(chain.rpc, history, 31337, [DEV2])
    assert [(h.token_id, h.owner) for h in nfts.held(chain, history, [DEV1, DEV2])] == [(1, DEV2), (2, DEV1)]


def test_hostile_collections(world):
    """A collection whose logs lie (an airdrop it takes back), whose transfers move nothing, and
    contracts that are no ERC-721 at all."""
    from wallet import abi, sync

    chain, history, lock, contract = world
    liar = _deploy(chain, history, lock, "LyingCollection")
    _call(chain, history, lock, liar, abi.call_data("airdrop(address,uint256)", DEV1, 7))
    _call(chain, history, lock, liar, abi.call_data("airdrop(address,uint256)", DEV1, 8))
    _call(chain, history, lock, liar, abi.call_data("airdrop(address,uint256)", DEV2, 8))  # 8's log to DEV1 lies
    sync.sync(chain.rpc, history, 31337, [DEV1])
    assert [(h.contract, h.token_id, h.symbol) for h in nfts.held(chain, history, [DEV1])] == [(liar, 7, "LIE")]

    # its transfer succeeds and logs a Transfer, but ownerOf still says DEV1: reported, not "sent"
    with pytest.raises(WalletError, match=r"belongs to 0x7099.*did not do what it was asked"):
        _send_nft(chain, history, lock, nfts.Ref(liar, 7), DEV1, DEV1_KEY, DEV2)
    # not mine (ownerOf says DEV2): refused before anything is built
    with pytest.raises(WalletError, match="belongs to 0x3C44"):
        nfts.plan_send(chain, DEV1, nfts.Ref(liar, 8), DEV2)

    token = _deploy(chain, history, lock, "TestToken", "T", "TKN", 18, 10**24)
    sent_before = chain.rpc.call("eth_getTransactionCount", localchain.DEV_ADDRESS, "latest")
    with pytest.raises(WalletError, match="not an ERC-721"):  # refused before anything is sent
        nfts.mint_test(chain, history, token, DEV1, localchain.DEV_KEY, lock)
    assert chain.rpc.call("eth_getTransactionCount", localchain.DEV_ADDRESS, "latest") == sent_before
    for not_721 in (token, DEV2):  # an ERC-20 (no ERC-165, ownerOf reverts) and an account
        with pytest.raises(WalletError, match=r"not an ERC-721|no contract"):
            nfts.show(chain, nfts.Ref(not_721, 1))
        with pytest.raises(WalletError, match=r"does not say it is an ERC-721|no contract"):
            nfts.plan_send(chain, localchain.DEV_ADDRESS, nfts.Ref(not_721, 1), DEV2)
    with pytest.raises(WalletError, match="does not exist"):
        nfts.plan_send(chain, DEV1, nfts.Ref(contract, 99), DEV2)

    # safeTransferFrom to a contract that cannot take NFTs (no onERC721Received): the
    # simulation fails, so nothing is signed
    from wallet import transfers

    nfts.mint_test(chain, history, contract, DEV1, localchain.DEV_KEY, lock)
    draft, _ = nfts.plan_send(chain, DEV1, nfts.Ref(contract, 1), token)
    with pytest.raises(transfers.Reverted, match="would fail"):
        transfers.prepare(chain, draft)


def test_uniswap_v3_positions_are_listed(defi, hongbao_home, anvil):
    """The dev account minted three full-range positions while deploying the protocols."""
    defi.record(hongbao_home, anvil)
    chain = Chain.connect(config.load(hongbao_home).networks["local"])
    history = History(hongbao_home / FILE)
    try:
        found = nfts.held(chain, history, [localchain.DEV_ADDRESS])  # no sync: enumerated on the manager
    finally:
        history.close()
    assert [(h.kind, h.token_id, h.contract) for h in found] == [
        ("uniswap-v3-position", i, defi.contracts["uniswap_v3_positions"]) for i in (1, 2, 3)
    ]
    assert [h.detail.split(", ")[0] for h in found] == [
        "TKN/WETH 0.3% pool",
        "TKN/WETH 0.05% pool",
        "USDX/WETH 0.05% pool",
    ]


def test_erc721_and_erc20_transfer_logs_are_told_apart():
    topic = erc721.TRANSFER_TOPIC
    a, b = "0x" + "00" * 12 + "11" * 20, "0x" + "00" * 12 + "22" * 20
    nft_log = {"address": DEV1, "topics": [topic, a, b, hex(7)], "data": "0x"}
    assert erc721.is_transfer(nft_log)
    assert erc721.transfer_log(nft_log) == erc721.NftLog(
        DEV1, addr.to_checksum("11" * 20), addr.to_checksum("22" * 20), 7
    )
    call = erc721.safe_transfer_data(DEV1, DEV2, 7)
    assert erc721.decode_safe_transfer(call) == erc20.DecodedCall(
        "safeTransferFrom", {"from": DEV1, "to": DEV2, "tokenId": 7}
    )
    for not_one in (call[:-1], call + b"\0", erc20.transfer_data(DEV2, 7), b"\x42\x84\x2e\x0e" + b"\xff" * 96):
        assert erc721.decode_safe_transfer(not_one) is None
    for other in (
        {"topics": [topic, a, b], "data": "0x" + "00" * 31 + "07"},  # ERC-20
        {"topics": [topic, a, b], "data": "0x"},  # 3 topics, no amount: neither
        {"topics": [topic, a, b, hex(7)], "data": "0x" + "00" * 32},  # 4 topics and data: neither
        {"topics": ["0x" + "ab" * 32, a, b, hex(7)], "data": "0x"},  # another event
    ):
        assert not erc721.is_transfer(other)


_word = st.binary(min_size=32, max_size=32).map(lambda b: "0x" + b.hex())


@settings(max_examples=40)
@given(
    extra=st.lists(_word, max_size=4),
    data=st.binary(max_size=64).map(lambda b: "0x" + b.hex()),
    transfer=st.booleans(),
)
def test_any_transfer_shaped_log_is_one_kind_at_most_and_sync_never_chokes(extra, data, transfer):
    """Whatever a contract logs: never both an ERC-20 and an ERC-721 transfer, and sync's
    parsers keep or drop it without raising (a log is someone else's bytes)."""
    from wallet import moves, sync

    topics = ([erc721.TRANSFER_TOPIC] if transfer else []) + extra
    log = {"address": DEV1, "topics": topics, "data": data, "blockNumber": "0x1", "transactionHash": "0x" + "ab" * 32}
    log["logIndex"] = "0x0"
    assert not (erc721.is_transfer(log) and moves.is_erc20_transfer(log))
    wanted = {DEV1.lower(), "0x" + extra[1][-40:] if len(extra) > 1 else ""}
    found = sync.nft_transfers(31337, [log], wanted, {1: 0})
    assert len(found) <= 1 and len(sync.token_transfers(31337, [log], wanted, {1: 0})) <= 1
    if found:
        assert found[0].token_id == int(topics[3], 16) and len(topics) == 4 and data == "0x"


@settings(max_examples=25)
@given(st.integers(0, 40).flatmap(lambda n: st.tuples(st.just(n), st.sets(st.integers(0, max(n - 1, 0)), max_size=n))))
def test_batched_reads_find_each_revert_in_few_round_trips(case):
    """`_reads` answers every call, None exactly where it reverts, halving failed batches."""
    from wallet.rpc import RpcError

    n, reverting = case

    class Node:
        trips = 0

        def batch(self, calls):
            Node.trips += 1
            indexes = [int(c[1][0]["data"], 16) for c in calls]
            if reverting & set(indexes):
                raise RpcError("eth_call", 3, "execution reverted")
            return [f"0x{i:02x}" for i in indexes]

    answers = nfts._reads(Node(), [(DEV1, i.to_bytes(1, "big")) for i in range(n)])
    assert answers == [None if i in reverting else bytes([i]) for i in range(n)]
    assert Node.trips <= 1 + 2 * len(reverting) * max(1, n.bit_length())
