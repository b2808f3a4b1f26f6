"""Money on a real anvil: faucet, balance, send, speed-up, cancel, and every error a user meets."""

from __future__ import annotations

from decimal import Decimal

import pytest
from conftest import ANVIL_KEYS, quick_wallet

from wallet import address as addr
from wallet import config, signing, transfers
from wallet.amounts import Amount
from wallet.chain import Chain
from wallet.history import History
from wallet.rpc import to_int

ALICE = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"  # not used as a sender here
ETH = 10**18


def point_local_at(home, node, chain_id: int = 31337) -> None:
    cfg = config.load(home)
    cfg.networks["local"] = config.Network("local", node.url, chain_id)
    config.save(home, cfg)


@pytest.fixture
def funded(cli, hongbao_home, anvil):
    """A fresh wallet whose account 0 got 5 ETH from the faucet; returns its address."""
    point_local_at(hongbao_home, anvil)
    me = quick_wallet(hongbao_home, name="me")
    cli("faucet", me, "5")
    return me


def balance_of(node, who: str) -> int:
    return to_int(node.rpc().call("eth_getBalance", who, "latest"))


def one_line_error(result, *fragments: str, after_preview: bool = False) -> str:
    """Exit 1 with one `error:` line (after the preview, for refusals that follow it)."""
    assert result.returncode == 1, result
    lines = result.stderr.strip().splitlines()
    if after_preview:
        lines = lines[-1:]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def test_faucet_balance_and_send(cli, anvil, funded):
    shown = cli.json("balance", funded)
    assert shown["balances"][0] == {"symbol": "ETH", "address": None, "balance": str(5 * ETH), "formatted": "5"}
    sent = cli.json("send", ALICE, "1.25 ETH", "--wallet", "me", "--yes")
    assert sent["status"] == "confirmed" and sent["value"] == str(125 * ETH // 100)
    assert balance_of(anvil, ALICE) == 10_000 * ETH + 125 * ETH // 100
    assert balance_of(anvil, funded) == 5 * ETH - 125 * ETH // 100 - int(sent["fee"])
    listed = cli.json("tx", "list")
    assert any(row.get("hash") == sent["hash"] for row in listed)


def test_human_preview_then_confirmation_is_required(cli, anvil, funded):
    refused = cli("send", ALICE, "1", "--wallet", "me", check=False)
    one_line_error(refused, "pass --yes", after_preview=True)
    assert "balance change" in refused.stderr and refused.stdout == ""
    ok = cli("send", ALICE, "0.5", "--wallet", "me", "--yes")
    assert ok.stdout.strip().startswith("0x") and len(ok.stdout.strip()) == 66
    assert "balance change" in ok.stderr and "confirmed in block" in ok.stderr


def test_send_max_leaves_only_dust_of_the_fee_bound(cli, anvil, funded):
    sent = cli.json("send", ALICE, "max", "--wallet", "me", "--yes")
    left = balance_of(anvil, funded)
    assert int(sent["value"]) + int(sent["fee"]) + left == 5 * ETH
    # What stays is the unused part of the fee bound (max fee 2 x base + tip): less than the fee paid x 2.
    assert 0 <= left < 2 * int(sent["fee"])


def test_two_quick_sends_without_waiting(cli, anvil, funded):
    anvil.rpc().call("evm_setAutomine", False)
    first = cli.json("send", ALICE, "0.1", "--wallet", "me", "--yes", "--no-wait")
    second = cli.json("send", ALICE, "0.2", "--wallet", "me", "--yes", "--no-wait")
    assert (first["nonce"], second["nonce"]) == (0, 1)
    anvil.rpc().call("evm_mine")
    for sent in (first, second):
        assert to_int(anvil.rpc().call("eth_getTransactionReceipt", sent["hash"])["status"]) == 1


def test_local_history_covers_a_node_that_lags(hongbao_home, anvil):
    """A node whose pending count lags behind (another RPC, a load balancer) must not make us reuse a nonce."""
    point_local_at(hongbao_home, anvil)
    chain = Chain.connect(config.load(hongbao_home).current())
    history = History(hongbao_home / "history.sqlite")
    sender = addr.from_private_key(bytes.fromhex(ANVIL_KEYS[1]))
    anvil.rpc().call("evm_setAutomine", False)
    prepared = transfers.prepare(chain, transfers.eth_transfer(sender, ALICE, Amount(Decimal("1"), "ETH")))
    first = transfers.send(chain, prepared, bytes.fromhex(ANVIL_KEYS[1]), history, lock_path=hongbao_home / "lock")

    class LaggingRpc:
        def __init__(self, real):
            self.real = real

        def call(self, method, *params):
            if method == "eth_getTransactionCount":
                return "0x0"  # as if the first tx were unknown
            return self.real.call(method, *params)

        def batch(self, calls):
            return self.real.batch(calls)

    lagging = Chain(chain.network, LaggingRpc(chain.rpc))
    assert transfers.next_nonce(lagging, history, sender) == first.nonce + 1


def test_speed_up_replaces_a_pending_transaction(cli, anvil, funded, hongbao_home):
    rpc = anvil.rpc()
    rpc.call("evm_setAutomine", False)
    slow = cli.json("send", ALICE, "0.3", "--wallet", "me", "--yes", "--no-wait", "--speed", "slow")
    faster = cli.json("tx", "speed-up", slow["hash"], "--yes", "--no-wait")
    assert faster["nonce"] == slow["nonce"] and faster["hash"] != slow["hash"] and faster["replaces"] == slow["hash"]
    original = rpc.call("eth_getTransactionByHash", slow["hash"])
    replacement = rpc.call("eth_getTransactionByHash", faster["hash"])
    assert original is None  # replaced in the pool
    assert to_int(replacement["maxFeePerGas"]) >= to_int(
        rpc.call("eth_feeHistory", "0x1", "latest", [])["baseFeePerGas"][-1]
    )
    rpc.call("evm_mine")
    assert rpc.call("eth_getTransactionReceipt", slow["hash"]) is None
    assert to_int(rpc.call("eth_getTransactionReceipt", faster["hash"])["status"]) == 1
    # Waiting on the replacement records both outcomes locally.
    history = History(hongbao_home / "history.sqlite")
    chain = Chain.connect(config.load(hongbao_home).current())
    transfers.wait_for_receipt(chain, faster["hash"], history)
    assert history.get_sent(31337, slow["hash"]).status == "replaced"
    assert history.get_sent(31337, faster["hash"]).status == "confirmed"
    again = cli("tx", "speed-up", slow["hash"], "--yes", check=False)
    one_line_error(again, "can no longer be mined")


def test_cancel_sends_nothing_to_the_recipient(cli, anvil, funded):
    rpc = anvil.rpc()
    rpc.call("evm_setAutomine", False)
    before = balance_of(anvil, ALICE)
    pending = cli.json("send", ALICE, "2", "--wallet", "me", "--yes", "--no-wait")
    cancelled = cli.json("tx", "cancel", pending["hash"], "--yes", "--no-wait")
    assert cancelled["to"] == funded and cancelled["value"] == "0" and cancelled["nonce"] == pending["nonce"]
    rpc.call("evm_mine")
    assert rpc.call("eth_getTransactionReceipt", pending["hash"]) is None
    assert balance_of(anvil, ALICE) == before
    assert to_int(rpc.call("eth_getTransactionCount", funded, "latest")) == 1


def test_mined_transactions_cannot_be_replaced(cli, anvil, funded):
    sent = cli.json("send", ALICE, "0.1", "--wallet", "me", "--yes")
    one_line_error(cli("tx", "cancel", sent["hash"], "--yes", check=False), "already mined")
    one_line_error(cli("tx", "speed-up", "0x" + "ab" * 32, "--yes", check=False), "not a transaction this wallet sent")


def test_insufficient_funds_says_needed_and_available(cli, anvil, funded):
    result = cli("send", ALICE, "5", "--wallet", "me", "--yes", check=False)
    line = one_line_error(result, "insufficient funds", "have 5 ETH")
    assert "needs 5.0" in line and "fee" in line
    one_line_error(
        cli("send", ALICE, "6", "--wallet", "me", "--yes", check=False), "sending 6 ETH (plus the fee), have 5 ETH"
    )


def test_bad_checksum_and_bad_amounts(cli, anvil, funded):
    i = max(i for i, c in enumerate(ALICE) if c.isalpha() and i > 1)
    bad = ALICE[:i] + ALICE[i].swapcase() + ALICE[i + 1 :]
    one_line_error(cli("send", bad, "1", "--wallet", "me", "--yes", check=False), "wrong EIP-55 checksum")
    one_line_error(cli("send", ALICE, "1.5 NOPE", "--wallet", "me", "--yes", check=False), "unknown token 'NOPE'")
    one_line_error(
        cli("send", ALICE, "0.0000000000000000001", "--wallet", "me", "--yes", check=False),
        "more than 18 decimal places",
    )
    one_line_error(cli("send", ALICE, "lots", "--wallet", "me", "--yes", check=False), "is not an amount")


def test_chain_id_mismatch_refuses_to_sign(cli, anvil, funded, hongbao_home):
    point_local_at(hongbao_home, anvil, chain_id=1)
    before = balance_of(anvil, funded)
    one_line_error(
        cli("send", ALICE, "1", "--wallet", "me", "--yes", check=False), "reports chain id 31337", "configured as 1"
    )
    assert balance_of(anvil, funded) == before


def test_rpc_down(cli, hongbao_home):
    from wallet.localchain import free_port

    cfg = config.load(hongbao_home)
    cfg.networks["local"] = config.Network("local", f"http://127.0.0.1:{free_port()}", 31337)
    config.save(hongbao_home, cfg)
    one_line_error(cli("balance", ALICE, check=False), "cannot reach the RPC", "hongbao chain up")


def test_nonce_too_low_and_underpriced_replacement(hongbao_home, anvil):
    point_local_at(hongbao_home, anvil)
    chain = Chain.connect(config.load(hongbao_home).current())
    key = bytes.fromhex(ANVIL_KEYS[2])
    tx = {
        "chainId": 31337,
        "nonce": 0,
        "to": ALICE,
        "value": 1,
        "gas": 21000,
        "maxFeePerGas": 3 * 10**9,
        "maxPriorityFeePerGas": 10**9,
    }
    first = signing.sign_transaction(key, tx)
    transfers.broadcast(chain, first.raw)
    transfers.wait_for_receipt(chain, "0x" + first.hash.hex())  # anvil's automine is asynchronous
    with pytest.raises(transfers.NonceTooLow, match="nonce too low"):
        transfers.broadcast(chain, signing.sign_transaction(key, {**tx, "value": 2}).raw)
    anvil.rpc().call("evm_setAutomine", False)
    transfers.broadcast(chain, signing.sign_transaction(key, {**tx, "nonce": 1}).raw)
    with pytest.raises(transfers.ReplacementUnderpriced, match="underpriced"):
        transfers.broadcast(chain, signing.sign_transaction(key, {**tx, "nonce": 1, "value": 5}).raw)


def test_revert_is_explained_before_signing(cli, anvil, funded):
    # A contract whose code is just REVERT with a reason: PUSH the Error(string) payload and revert.
    reason = b"no ETH accepted"
    payload = (
        bytes.fromhex("08c379a0") + (32).to_bytes(32, "big") + len(reason).to_bytes(32, "big") + reason.ljust(32, b"\0")
    )
    runtime = b"".join(
        bytes([0x7F]) + payload[i : i + 32].ljust(32, b"\0") + bytes([0x60, i, 0x52])
        for i in range(0, len(payload), 32)
    ) + bytes([0x60, len(payload), 0x60, 0x00, 0xFD])
    target = "0x" + "12" * 20
    anvil.rpc().call("anvil_setCode", target, "0x" + runtime.hex())
    before = balance_of(anvil, funded)
    one_line_error(
        cli("send", addr.to_checksum(target), "1", "--wallet", "me", "--yes", check=False),
        "would fail (no ETH accepted)",
    )
    assert balance_of(anvil, funded) == before


def test_faucet_refused_off_local(cli, anvil, hongbao_home):
    cfg = config.load(hongbao_home)
    cfg.networks["other"] = config.Network("other", anvil.url, 31337)
    config.save(hongbao_home, cfg)
    one_line_error(cli("faucet", ALICE, "1", "--network", "other", check=False), "only works on the local network")


def test_watch_only_cannot_send(cli, anvil, hongbao_home):
    point_local_at(hongbao_home, anvil)
    cli("wallet", "import", "--wallet", "w", "--watch", ALICE, "--kdf", "interactive")
    one_line_error(cli("send", ALICE, "1", "--wallet", "w", "--yes", check=False), "watch-only")


def test_token_send_and_sync_finds_the_incoming_transfer(cli, anvil, funded):
    from wallet import abi, localchain

    deployed = cli.json("token", "deploy-test", "--symbol", "HBT", "--decimals", "6", "--supply", "1000")
    assert cli.json("token", "list") == [{"symbol": "HBT", "address": deployed["address"], "decimals": 6}]
    one_line_error(cli("send", ALICE, "300 HBT", "--wallet", "me", "--yes", check=False), "insufficient HBT", "have 0")
    # The dev account holds the supply: 300 HBT come to our wallet from outside it.
    rpc = anvil.rpc()
    rpc.call(
        "eth_sendTransaction",
        {
            "from": localchain.DEV_ADDRESS,
            "to": deployed["address"],
            "data": "0x" + abi.call_data("transfer(address,uint256)", funded, 300 * 10**6).hex(),
        },
    )
    rpc.call("evm_mine")
    assert [b["formatted"] for b in cli.json("balance", funded)["balances"]] == ["5", "300"]
    synced = cli.json("sync", "--wallet", "me")
    incoming = [row for row in cli.json("tx", "list") if row["direction"] == "in"]
    assert [(r["from"], r["token"], r["amount"]) for r in incoming if r["token"]] == [
        (localchain.DEV_ADDRESS, deployed["address"], str(300 * 10**6))
    ], synced
    # One base unit more than held is refused before anything is signed.
    one_line_error(
        cli("send", ALICE, "300.000001 HBT", "--wallet", "me", "--yes", check=False), "insufficient HBT", "have 300"
    )
    # And our own token send: decoded, exact, confirmed.
    sent = cli.json("send", ALICE, "250.5", "HBT", "--wallet", "me", "--yes")
    assert sent["status"] == "confirmed" and sent["token_amount"] == str(250_500_000)
    assert [b["formatted"] for b in cli.json("balance", funded)["balances"]][1] == "49.5"
    one_line_error(
        cli("send", ALICE, "0.0000001 HBT", "--wallet", "me", "--yes", check=False), "more than 6 decimal places"
    )


def test_unlimited_approval_is_flagged(hongbao_home, anvil, cli):
    from contracts.artifacts import load
    from contracts.deploy import deployment_tx
    from wallet import erc20

    point_local_at(hongbao_home, anvil)
    chain = Chain.connect(config.load(hongbao_home).current())
    owner = addr.from_private_key(bytes.fromhex(ANVIL_KEYS[1]))
    deploy = transfers.prepare(
        chain, transfers.Draft(owner, None, 0, deployment_tx(load("TestToken"), "T", "T", 18, 10**24), "deploy")
    )
    record = transfers.send(
        chain, deploy, bytes.fromhex(ANVIL_KEYS[1]), History(hongbao_home / "h.sqlite"), lock_path=hongbao_home / "lock"
    )
    token = transfers.wait_for_receipt(chain, record.hash)["contractAddress"]
    unlimited = transfers.prepare(
        chain,
        transfers.Draft(
            owner, addr.to_checksum(token), 0, abi_call("approve(address,uint256)", ALICE, erc20.UNLIMITED), "call"
        ),
    )
    assert unlimited.decoded.function == "approve" and "UNLIMITED APPROVAL" in unlimited.warnings[0]
    bounded = transfers.prepare(
        chain,
        transfers.Draft(owner, addr.to_checksum(token), 0, abi_call("approve(address,uint256)", ALICE, 10**18), "call"),
    )
    assert bounded.warnings == []


def abi_call(signature, *args):
    from wallet import abi

    return abi.call_data(signature, *args)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ("0x08c379a0", bytes.fromhex("08c379a0")),
        ({"data": "0xdeadbeef"}, bytes.fromhex("deadbeef")),
        ("0xabc", None),  # odd length
        ("0xzz", None),
        ({"data": 7}, None),
        (["0x00"], None),
        (None, None),
        ("deadbeef", None),  # no 0x
    ],
)
def test_a_nodes_revert_data_is_read_or_ignored_never_raised(data, expected):
    """The node is someone else's: whatever it attaches to an error, a simulation says why
    the transaction would fail (or that it does not know), never crashes."""
    from wallet.rpc import RpcError, is_revert, revert_data

    error = RpcError("eth_call", 3, "execution reverted", data)
    assert revert_data(error) == expected and is_revert(error)
    assert not is_revert(RpcError("eth_call", -32000, "nonce too low"))
