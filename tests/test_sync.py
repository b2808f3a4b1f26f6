"""Finding incoming transfers: the pure parsing, then `sync` against a real anvil."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from conftest import PASSWORD
from hypothesis import given
from hypothesis import strategies as st

from wallet import address as addr
from wallet import config as config_mod
from wallet import keyring, sync, vault
from wallet.errors import WalletError
from wallet.history import History, Incoming
from wallet.rpc import Rpc, to_int

DEV = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
ALICE = addr.to_checksum("0x" + "a1" * 20)
BOB = addr.to_checksum("0x" + "b0" * 20)
STRANGER = addr.to_checksum("0x" + "5e" * 20)
REVERTER = addr.to_checksum("0x" + "de" * 20)  # one of "our" addresses, but a contract that reverts
REVERT_CODE = "0x60006000fd"  # REVERT(0, 0)
ETHER = 10**18


# -- a scripted anvil -----------------------------------------------------------------------------


class Node:
    """Drives anvil with automine off: each send is mined by `evm_mine`, which returns only
    once the block exists, so receipts are there without polling or sleeping."""

    def __init__(self, rpc: Rpc) -> None:
        self.rpc = rpc
        rpc.call("evm_setAutomine", False)

    def send(self, **tx) -> dict:
        fields = {k: hex(v) if isinstance(v, int) else v for k, v in tx.items()}
        tx_hash = self.rpc.call("eth_sendTransaction", {"from": DEV, **fields})
        self.rpc.call("evm_mine")
        receipt = self.rpc.call("eth_getTransactionReceipt", tx_hash)
        assert receipt is not None, "evm_mine returned before the block existed"
        return receipt

    def pay(self, to: str, wei: int) -> dict:
        return self.send(to=to, value=wei)

    def deploy_token(self, decimals: int = 6, supply: int = 10**30) -> str:
        from contracts.artifacts import load
        from contracts.deploy import deployment_tx

        receipt = self.send(data="0x" + deployment_tx(load("TestToken"), "Test Token", "TKN", decimals, supply).hex())
        return addr.to_checksum(receipt["contractAddress"])

    def transfer_token(self, token: str, to: str, amount: int, **extra) -> dict:
        from wallet import erc20

        return self.send(to=token, data="0x" + erc20.transfer_data(to, amount).hex(), **extra)

    def mine(self, blocks: int) -> None:
        self.rpc.call("anvil_mine", hex(blocks))

    def head(self) -> int:
        return to_int(self.rpc.call("eth_blockNumber"))

    def timestamp(self, block: int) -> int:
        return to_int(self.rpc.call("eth_getBlockByNumber", hex(block), False)["timestamp"])


class CountingRpc(Rpc):
    """Records every method called (batched or not), and can fail the n-th batch of blocks."""

    def __init__(self, url: str, fail_on_batch: int | None = None) -> None:
        super().__init__(url)
        self.methods: list[tuple[str, list]] = []
        self.block_batches = 0
        self.fail_on_batch = fail_on_batch

    def call(self, method, *params):
        self.methods.append((method, list(params)))
        return super().call(method, *params)

    def batch(self, calls):
        if calls and calls[0][0] == "eth_getBlockByNumber":
            self.block_batches += 1
            if self.block_batches == self.fail_on_batch:
                raise ConnectionError("simulated crash")
        self.methods += [(m, list(p)) for m, p in calls]
        return super().batch(calls)

    def blocks_fetched(self) -> list[int]:
        return [to_int(p[0]) for m, p in self.methods if m == "eth_getBlockByNumber"]


@pytest.fixture
def node(anvil) -> Node:
    return Node(anvil.rpc())


@pytest.fixture
def log(hongbao_home) -> History:
    return History(hongbao_home / "history.sqlite")


@pytest.fixture
def scene(node):
    """Transfers to ALICE (ETH and a token), noise to a stranger, and reverted ones to us."""
    node.rpc.call("anvil_setCode", REVERTER, REVERT_CODE)
    token = node.deploy_token()
    eth_in = node.pay(ALICE, 3 * ETHER // 2)
    node.pay(STRANGER, ETHER)
    token_in = node.transfer_token(token, ALICE, 1_234_567)
    node.transfer_token(token, STRANGER, 99)
    reverted_eth = node.send(to=REVERTER, value=ETHER, gas=100_000)
    reverted_token = node.transfer_token(token, REVERTER, 10**40, gas=200_000)  # more than the supply
    assert reverted_eth["status"] == "0x0" and reverted_token["status"] == "0x0"
    return {"token": token, "eth_in": eth_in, "token_in": token_in, "reverted": reverted_eth}


# -- pure logic -----------------------------------------------------------------------------------


@given(st.integers(0, 10_000), st.integers(0, 500), st.integers(1, 300))
def test_ranges_cover_every_block_once_in_capped_pieces(first, length, size):
    last = first + length - 1
    pieces = sync.ranges(first, last, size)
    covered = [n for lo, hi in pieces for n in range(lo, hi + 1)]
    assert covered == list(range(first, last + 1))
    assert all(hi - lo + 1 <= size for lo, hi in pieces)


def test_transfer_topic_is_the_erc20_event_hash():
    from eth_hash.auto import keccak

    assert "0x" + keccak(b"Transfer(address,address,uint256)").hex() == sync.TRANSFER_TOPIC


def _log(to: str, amount: int, **overrides) -> dict:
    entry = {
        "address": "0x" + "70" * 20,
        "topics": [sync.TRANSFER_TOPIC, sync.address_topic(STRANGER), sync.address_topic(to)],
        "data": "0x" + amount.to_bytes(32, "big").hex(),
        "blockNumber": "0x10",
        "transactionHash": "0x" + "ab" * 32,
        "logIndex": "0x2",
        "removed": False,
    }
    return {**entry, **overrides}


def test_token_transfers_keeps_only_erc20_transfers_to_us():
    wanted = {ALICE.lower()}
    nft = _log(ALICE, 5, topics=_log(ALICE, 5)["topics"] + ["0x" + "00" * 31 + "07"], data="0x")
    logs = [_log(ALICE, 2**256 - 1), _log(STRANGER, 5), _log(ALICE, 0), _log(ALICE, 5, removed=True), nft]
    found = sync.token_transfers(1, logs, wanted, {0x10: 1_700_000_000})
    assert found == [
        Incoming(
            1, "0x" + "ab" * 32, 2, 16, STRANGER, ALICE, addr.to_checksum("0x" + "70" * 20), 2**256 - 1, 1_700_000_000
        )
    ]


def test_eth_candidates_need_value_and_one_of_our_addresses():
    def tx(to, value, n):
        return {"to": to, "value": hex(value), "hash": f"0x{n:064x}", "from": STRANGER.lower()}

    block = {
        "number": "0x5",
        "timestamp": "0x64",
        "transactions": [
            tx(ALICE.upper().replace("0X", "0x"), 7, 1),
            tx(ALICE, 0, 2),
            tx(None, 9, 3),
            tx(STRANGER, 9, 4),
        ],
    }
    found = sync.eth_candidates(1, block, {ALICE.lower()})
    assert [(i.hash, i.to, i.amount, i.log_index, i.token) for i in found] == [(f"0x{1:064x}", ALICE, 7, -1, None)]


def test_confirmations_default_to_zero_only_on_the_local_chain():
    assert sync.default_confirmations(31337) == 0
    assert sync.default_confirmations(1) == 12


# -- against anvil --------------------------------------------------------------------------------


def test_sync_finds_incoming_eth_and_tokens_and_ignores_reverted_and_foreign(anvil, node, log, scene):
    result = sync.sync(anvil.rpc(), log, 31337, [ALICE, REVERTER])
    assert (result.from_block, result.to_block) == (0, node.head())
    eth_block, token_block = to_int(scene["eth_in"]["blockNumber"]), to_int(scene["token_in"]["blockNumber"])
    assert sorted(result.found, key=lambda i: i.block) == [
        Incoming(
            31337,
            scene["eth_in"]["transactionHash"],
            -1,
            eth_block,
            DEV,
            ALICE,
            None,
            3 * ETHER // 2,
            node.timestamp(eth_block),
        ),
        Incoming(
            31337,
            scene["token_in"]["transactionHash"],
            0,
            token_block,
            DEV,
            ALICE,
            scene["token"],
            1_234_567,
            node.timestamp(token_block),
        ),
    ]
    assert log.incoming_by_hash(31337, scene["reverted"]["transactionHash"]) == []
    assert [a["hash"] for a in log.activity(31337)] == [
        scene["token_in"]["transactionHash"],
        scene["eth_in"]["transactionHash"],
    ]


def test_receipts_are_fetched_only_for_candidate_transactions(anvil, node, log, scene):
    rpc = CountingRpc(anvil.url)
    sync.sync(rpc, log, 31337, [ALICE, REVERTER])
    receipts = sorted(p[0] for m, p in rpc.methods if m == "eth_getTransactionReceipt")
    assert receipts == sorted([scene["eth_in"]["transactionHash"], scene["reverted"]["transactionHash"]])


def test_second_sync_resumes_from_the_cursor_and_scans_only_new_blocks(anvil, node, log, scene):
    first = sync.sync(anvil.rpc(), log, 31337, [ALICE])
    again = sync.sync(anvil.rpc(), log, 31337, [ALICE])
    assert again.found == [] and again.blocks == 0 and again.from_block == first.to_block + 1

    node.mine(4)
    receipt = node.pay(ALICE, 42)
    rpc = CountingRpc(anvil.url)
    third = sync.sync(rpc, log, 31337, [ALICE])
    assert (third.from_block, third.to_block) == (first.to_block + 1, node.head())
    assert rpc.blocks_fetched() == list(range(first.to_block + 1, node.head() + 1))
    assert [(i.hash, i.amount) for i in third.found] == [(receipt["transactionHash"], 42)]
    assert log.get_cursor(31337, sync.cursor_key(ALICE)) == node.head()


def test_interrupted_sync_resumes_without_gaps_or_duplicates(anvil, node, log, scene, tmp_path):
    node.mine(10)
    for i in range(6):
        node.pay(ALICE, 1000 + i)
    head = node.head()
    crashing = CountingRpc(anvil.url, fail_on_batch=3)
    with pytest.raises(ConnectionError):
        sync.sync(crashing, log, 31337, [ALICE], batch=4)
    assert log.get_cursor(31337, sync.cursor_key(ALICE)) == 7  # two batches of 4 blocks committed, the third lost
    assert all(a["block"] <= 7 for a in log.activity(31337))

    resumed = sync.sync(anvil.rpc(), log, 31337, [ALICE], batch=4)
    assert resumed.from_block == 8 and resumed.to_block == head

    clean = History(tmp_path / "clean.sqlite")
    sync.sync(anvil.rpc(), clean, 31337, [ALICE], batch=4)
    assert log.activity(31337, limit=1000) == clean.activity(31337, limit=1000)
    assert len(log.activity(31337, limit=1000)) == 8  # 1.5 ETH, the token, six payments


def test_confirmations_leave_the_newest_blocks_for_later(anvil, node, log, scene):
    node.pay(ALICE, 5)
    head = node.head()
    result = sync.sync(anvil.rpc(), log, 31337, [ALICE], confirmations=1)
    assert result.to_block == head - 1
    assert 5 not in [i.amount for i in result.found]
    node.mine(1)
    assert [i.amount for i in sync.sync(anvil.rpc(), log, 31337, [ALICE], confirmations=1).found] == [5]


def test_cursors_are_per_address_so_a_new_account_does_not_rescan_the_others(anvil, node, log, scene):
    node.pay(BOB, 77)
    sync.sync(anvil.rpc(), log, 31337, [ALICE])
    node.pay(ALICE, 8)
    head = node.head()
    result = sync.sync(anvil.rpc(), log, 31337, [ALICE, BOB])
    assert result.from_block == 0  # BOB's first sync
    assert sorted(i.amount for i in result.found) == [8, 77]  # nothing of ALICE's found twice
    assert log.get_cursor(31337, sync.cursor_key(ALICE)) == log.get_cursor(31337, sync.cursor_key(BOB)) == head


def test_rescan_from_a_block_finds_nothing_twice_and_keeps_the_cursor(anvil, node, log, scene):
    sync.sync(anvil.rpc(), log, 31337, [ALICE])
    head = node.head()
    result = sync.sync(anvil.rpc(), log, 31337, [ALICE], start_block=0, to_block=3)
    assert (result.from_block, result.to_block, result.found) == (0, 3, [])
    assert log.get_cursor(31337, sync.cursor_key(ALICE)) == head


def test_get_logs_ranges_are_capped(anvil, node, log, scene, monkeypatch):
    monkeypatch.setattr(sync, "LOGS_RANGE_CAP", 2)
    rpc = CountingRpc(anvil.url)
    result = sync.sync(rpc, log, 31337, [ALICE], batch=1000)
    spans = [(to_int(p[0]["fromBlock"]), to_int(p[0]["toBlock"])) for m, p in rpc.methods if m == "eth_getLogs"]
    assert len(spans) > 1 and all(hi - lo + 1 <= 2 for lo, hi in spans)
    assert [n for lo, hi in spans for n in range(lo, hi + 1)] == list(range(node.head() + 1))
    assert any(i.token == scene["token"] for i in result.found)


def test_token_filter_limits_the_contracts(anvil, node, log, scene):
    result = sync.sync(anvil.rpc(), log, 31337, [ALICE], tokens=[STRANGER])
    assert [i.token for i in result.found] == [None]


def test_progress_reports_every_batch_up_to_the_total(anvil, node, log, scene):
    node.mine(20)
    calls = []
    result = sync.sync(
        anvil.rpc(), log, 31337, [ALICE], batch=7, progress=lambda done, total: calls.append((done, total))
    )
    total = result.blocks
    assert calls == [(min(n, total), total) for n in range(7, total + 7, 7)]


# -- `hongbao sync` ------------------------------------------------------------------------------


@pytest.fixture
def cheap_kdf(monkeypatch):
    monkeypatch.setitem(vault.ARGON2ID_PRESETS, "interactive", (1, 8192))


def use_anvil(home, anvil, chain_id: int = 31337) -> None:
    config = config_mod.load(home)
    config.networks["local"] = config_mod.Network("local", anvil.url, chain_id)
    config_mod.save(home, config)


def watch_wallet(home, *addresses: str, name: str = "watcher") -> None:
    unlocked = keyring.WalletStore(home).create_empty(name, PASSWORD, preset="interactive")
    for a in addresses:
        unlocked.add_watch(a)


def run(command, *args: str):
    from cli.history_cmd import sync_command, tx_list, tx_show

    # a wide "terminal", so Rich tables show full addresses and hashes
    return CliRunner(env={"COLUMNS": "250"}).invoke(
        {"sync": sync_command, "list": tx_list, "show": tx_show}[command], list(args)
    )


def test_sync_command_syncs_watch_accounts_and_prints_what_it_found(hongbao_home, anvil, node, scene, cheap_kdf):
    use_anvil(hongbao_home, anvil)
    watch_wallet(hongbao_home, ALICE)
    result = run("sync", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["addresses"] == [ALICE] and data["to_block"] == node.head()
    eth = next(f for f in data["found"] if f["token"] is None)
    assert (eth["amount"], eth["formatted"], eth["symbol"]) == (str(3 * ETHER // 2), "1.5", "ETH")
    token = next(f for f in data["found"] if f["token"] is not None)
    assert (token["token"], token["amount"], token["formatted"], token["symbol"], token["listed"]) == (
        scene["token"],
        "1234567",
        "1.234567",
        "TKN",
        False,
    )  # not a configured token: in the units and symbol its contract reports, marked unlisted

    again = json.loads(run("sync", "--json").stdout)
    assert again["found"] == [] and again["blocks"] == 0

    listed = json.loads(run("list", "--json").stdout)
    assert {i["hash"] for i in listed} == {f["hash"] for f in data["found"]}


def test_sync_command_formats_configured_tokens_with_their_decimals(hongbao_home, anvil, node, scene, cheap_kdf):
    use_anvil(hongbao_home, anvil)
    config = config_mod.load(hongbao_home)
    config.networks["local"].tokens["TKN"] = config_mod.Token("TKN", scene["token"], 6)
    config_mod.save(hongbao_home, config)
    watch_wallet(hongbao_home, ALICE)
    result = run("sync")
    assert result.exit_code == 0, result.output
    assert "1.234567 TKN" in result.stdout and "1.5 ETH" in result.stdout


def test_sync_command_refuses_an_rpc_of_another_chain(hongbao_home, anvil, cheap_kdf):
    use_anvil(hongbao_home, anvil, chain_id=1)
    watch_wallet(hongbao_home, ALICE)
    result = run("sync")
    assert isinstance(result.exception, WalletError)
    assert f"the RPC at {anvil.url} reports chain id 31337" in str(result.exception) and "configured as 1" in str(
        result.exception
    )


def test_sync_command_without_accounts_says_what_to_do(hongbao_home):
    result = run("sync")
    assert isinstance(result.exception, WalletError) and "hongbao wallet create" in str(result.exception)


@pytest.mark.slow
def test_hongbao_sync_end_to_end(cli, hongbao_home, anvil, node, scene, cheap_kdf):
    use_anvil(hongbao_home, anvil)
    watch_wallet(hongbao_home, ALICE)
    data = cli.json("sync")
    assert sorted(f["amount"] for f in data["found"]) == sorted(["1234567", str(3 * ETHER // 2)])
    assert [i["direction"] for i in cli.json("tx", "list")] == ["in", "in"]
