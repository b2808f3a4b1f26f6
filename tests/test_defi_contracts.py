"""The local chain's DeFi stand-ins on a real anvil: TestToken (permit), TestVault (ERC-4626),
NoBoolToken (USDT-style), through the Rpc bindings in contracts/token.py and contracts/vault.py;
`python -m contracts.build`; and `hongbao contracts deploy`."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from contracts import token, vault
from contracts.artifacts import available, load
from contracts.deploy import deployment_tx
from wallet import abi, erc20, signing
from wallet import address as addr
from wallet import config as config_mod
from wallet.errors import WalletError
from wallet.rpc import RpcError, to_int

ROOT = Path(__file__).resolve().parent.parent

# anvil's unlocked dev accounts (mnemonic "test test ... junk")
DEV0 = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
DEV1 = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
DEV2 = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"
E18 = 10**18
CHAIN_ID = 31337


# -- helpers ------------------------------------------------------------------------------------


def send(rpc, sender: str, to: str | None, data: bytes) -> dict:
    """eth_sendTransaction from an unlocked dev account; the receipt, which must succeed."""
    tx = {"from": sender, "data": "0x" + data.hex()}
    if to is not None:
        tx["to"] = to
    tx_hash = rpc.call("eth_sendTransaction", tx)
    deadline = time.monotonic() + 10
    while (receipt := rpc.call("eth_getTransactionReceipt", tx_hash)) is None:
        assert time.monotonic() < deadline, f"{tx_hash} not mined"
        time.sleep(0.01)
    assert to_int(receipt["status"]) == 1, receipt
    return receipt


def deploy(rpc, data: bytes, sender: str = DEV0) -> str:
    return addr.parse(send(rpc, sender, None, data)["contractAddress"])


def call(rpc, to: str, data: bytes, sender: str = DEV0) -> bytes:
    return bytes.fromhex(rpc.call("eth_call", {"from": sender, "to": to, "data": "0x" + data.hex()}, "latest")[2:])


def approve_data(spender: str, amount: int) -> bytes:
    return abi.call_data(erc20.APPROVE, spender, amount)


def mul_div(a: int, b: int, c: int, up: bool = False) -> int:
    return -(-a * b // c) if up else a * b // c


@pytest.fixture
def rpc(anvil):
    with anvil.rpc() as client:
        yield client


@pytest.fixture
def deployed(rpc):
    """TestToken (18 decimals, 1,000,000 to DEV0) and a TestVault over it: (token, vault)."""
    token_address = deploy(rpc, token.deployment_data("Hongbao Test Token", "TKN", 18, 1_000_000 * E18))
    vault_address = deploy(rpc, vault.deployment_data(token_address, "Hongbao Vault", "vTKN"))
    return token_address, vault_address


# -- TestVault (ERC-4626) -----------------------------------------------------------------------


@pytest.mark.slow
def test_vault_deposit_and_withdraw_account_shares(rpc, deployed):
    tkn, vlt = deployed
    assert vault.asset(rpc, vlt) == tkn
    assert erc20.read_token(rpc, vlt).symbol == "vTKN" and erc20.read_token(rpc, vlt).decimals == 18
    assert vault.total_assets(rpc, vlt) == 0

    # deposit 100 TKN: the first deposit mints shares 1:1
    send(rpc, DEV0, tkn, approve_data(vlt, 100 * E18))
    assert vault.preview_deposit(rpc, vlt, 100 * E18) == 100 * E18
    send(rpc, DEV0, vlt, vault.deposit_data(100 * E18, DEV0))
    assert vault.balance_of(rpc, vlt, DEV0) == 100 * E18
    assert vault.total_assets(rpc, vlt) == 100 * E18
    assert erc20.balance_of(rpc, tkn, vlt) == 100 * E18
    assert erc20.balance_of(rpc, tkn, DEV0) == 999_900 * E18
    assert vault.max_withdraw(rpc, vlt, DEV0) == 100 * E18

    # "yield": 50 TKN sent straight to the vault raises every share's worth (OZ: +1 virtual share/asset)
    send(rpc, DEV0, tkn, erc20.transfer_data(vlt, 50 * E18))
    shares, assets = 100 * E18, 150 * E18
    assert vault.total_assets(rpc, vlt) == assets
    assert vault.convert_to_assets(rpc, vlt, shares) == mul_div(shares, assets + 1, shares + 1)
    assert vault.max_withdraw(rpc, vlt, DEV0) == mul_div(shares, assets + 1, shares + 1)
    # a second depositor now gets fewer shares per asset, rounded down
    expected_shares = mul_div(30 * E18, shares + 1, assets + 1)
    assert vault.preview_deposit(rpc, vlt, 30 * E18) == expected_shares < 30 * E18

    # withdraw 60 TKN to DEV1: burns the shares they cost, rounded up (in the vault's favour)
    burned = mul_div(60 * E18, shares + 1, assets + 1, up=True)
    send(rpc, DEV0, vlt, vault.withdraw_data(60 * E18, DEV1, DEV0))
    assert erc20.balance_of(rpc, tkn, DEV1) == 60 * E18
    assert vault.balance_of(rpc, vlt, DEV0) == shares - burned
    assert vault.total_assets(rpc, vlt) == assets - 60 * E18
    shares, assets = shares - burned, assets - 60 * E18

    # withdrawing more than the shares are worth reverts (ERC4626ExceededMaxWithdraw)
    too_much = vault.max_withdraw(rpc, vlt, DEV0) + 1
    with pytest.raises(RpcError):
        call(rpc, vlt, vault.withdraw_data(too_much, DEV0, DEV0))

    # redeem every remaining share: pays their worth, rounded down; dust stays in the vault
    worth = vault.convert_to_assets(rpc, vlt, shares)
    assert worth == mul_div(shares, assets + 1, shares + 1)
    held = erc20.balance_of(rpc, tkn, DEV0)
    send(rpc, DEV0, vlt, vault.redeem_data(shares, DEV0, DEV0))
    assert erc20.balance_of(rpc, tkn, DEV0) == held + worth
    assert vault.balance_of(rpc, vlt, DEV0) == 0
    assert vault.total_assets(rpc, vlt) == assets - worth <= 1


# -- TestToken: mint and EIP-2612 permit ---------------------------------------------------------


@pytest.mark.slow
def test_permit_signed_in_python_submitted_by_a_third_party(rpc, deployed):
    tkn, _ = deployed
    owner_key = abi.keccak(b"hongbao permit owner (test only)")
    owner = addr.from_private_key(owner_key)
    assert to_int(rpc.call("eth_getBalance", owner, "latest")) == 0  # permit needs no ETH from the owner

    send(rpc, DEV2, tkn, token.mint_data(owner, 500 * E18))  # open mint
    assert erc20.balance_of(rpc, tkn, owner) == 500 * E18

    name = token.name(rpc, tkn)
    assert name == "Hongbao Test Token"
    value, deadline = 123 * E18, 2**48
    typed = token.permit_typed_data(tkn, CHAIN_ID, name, owner, DEV1, value, token.nonces(rpc, tkn, owner), deadline)
    from eth_account.messages import encode_typed_data

    assert encode_typed_data(full_message=typed).header == token.domain_separator(rpc, tkn)
    signature = signing.sign_typed_data(owner_key, typed)
    assert signing.recover_typed_data(typed, signature) == owner
    v, r, s = token.split_signature(signature)
    assert v in (27, 28)

    # DEV2 (neither owner nor spender) submits it and pays the gas
    assert erc20.allowance(rpc, tkn, owner, DEV1) == 0
    permit = token.permit_data(owner, DEV1, value, deadline, v, r, s)
    send(rpc, DEV2, tkn, permit)
    assert erc20.allowance(rpc, tkn, owner, DEV1) == value
    assert token.nonces(rpc, tkn, owner) == 1
    with pytest.raises(RpcError):  # replay: the nonce moved on, the signature now recovers to someone else
        call(rpc, tkn, permit, DEV2)

    send(rpc, DEV1, tkn, abi.call_data(erc20.TRANSFER_FROM, owner, DEV2, value))
    assert erc20.balance_of(rpc, tkn, DEV2) == value
    assert erc20.allowance(rpc, tkn, owner, DEV1) == 0

    # a signature over other terms (a larger value) is refused
    typed = token.permit_typed_data(tkn, CHAIN_ID, name, owner, DEV1, value, 1, deadline)
    v, r, s = token.split_signature(signing.sign_typed_data(owner_key, typed))
    with pytest.raises(RpcError):
        call(rpc, tkn, token.permit_data(owner, DEV1, value + 1, deadline, v, r, s), DEV2)


def test_permit_typed_data_shape():
    typed = token.permit_typed_data(DEV0.lower(), 1, "T", DEV1.lower(), DEV2, 5, 0, 9)
    assert typed["primaryType"] == "Permit"
    assert typed["domain"] == {"name": "T", "version": "1", "chainId": 1, "verifyingContract": DEV0}
    assert typed["message"] == {"owner": DEV1, "spender": DEV2, "value": 5, "nonce": 0, "deadline": 9}
    assert [f["name"] for f in typed["types"]["Permit"]] == ["owner", "spender", "value", "nonce", "deadline"]
    with pytest.raises(ValueError):
        token.split_signature(b"\0" * 64)
    with pytest.raises(ValueError):
        token.permit_data(DEV0, DEV1, 1, 1, 27, b"\0" * 31, b"\0" * 32)


# -- NoBoolToken (USDT-style: no return values) ---------------------------------------------------


@pytest.mark.slow
def test_no_bool_token_returns_nothing(rpc):
    artifact = load("NoBoolToken")
    outputs = {e["name"]: e.get("outputs") for e in artifact.abi if e.get("type") == "function"}
    assert outputs["transfer"] == outputs["transferFrom"] == outputs["approve"] == []
    nbt = deploy(rpc, deployment_tx(artifact, "No Bool", "NBT", 6, 1_000 * 10**6))
    assert erc20.read_token(rpc, nbt).symbol == "NBT" and erc20.read_token(rpc, nbt).decimals == 6

    # low-level call: it succeeds and returns no data at all (no bool to decode)
    assert call(rpc, nbt, erc20.transfer_data(DEV1, 10**6)) == b""
    receipt = send(rpc, DEV0, nbt, erc20.transfer_data(DEV1, 10**6))
    assert erc20.balance_of(rpc, nbt, DEV1) == 10**6
    assert erc20.balance_of(rpc, nbt, DEV0) == 999 * 10**6
    (log,) = receipt["logs"]
    assert log["topics"][0] == erc20.TRANSFER_TOPIC
    assert [abi.decode_address(bytes.fromhex(t[2:])) for t in log["topics"][1:]] == [DEV0, DEV1]
    assert int(log["data"], 16) == 10**6

    assert call(rpc, nbt, approve_data(DEV2, 5 * 10**5), DEV1) == b""
    send(rpc, DEV1, nbt, approve_data(DEV2, 5 * 10**5))
    assert erc20.allowance(rpc, nbt, DEV1, DEV2) == 5 * 10**5
    transfer_from = abi.call_data(erc20.TRANSFER_FROM, DEV1, DEV2, 2 * 10**5)
    assert call(rpc, nbt, transfer_from, DEV2) == b""
    send(rpc, DEV2, nbt, transfer_from)
    assert erc20.balance_of(rpc, nbt, DEV2) == 2 * 10**5
    assert erc20.allowance(rpc, nbt, DEV1, DEV2) == 3 * 10**5

    # failures revert with a reason; mint is open
    with pytest.raises(RpcError, match="insufficient balance"):
        call(rpc, nbt, erc20.transfer_data(DEV0, 10**12), DEV2)
    with pytest.raises(RpcError, match="insufficient allowance"):
        call(rpc, nbt, abi.call_data(erc20.TRANSFER_FROM, DEV1, DEV2, 4 * 10**5), DEV2)
    send(rpc, DEV2, nbt, token.mint_data(DEV2, 7))
    assert erc20.balance_of(rpc, nbt, DEV2) == 2 * 10**5 + 7


# -- the build wrapper ---------------------------------------------------------------------------


def test_build_without_node_is_one_clear_line(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # no node here
    result = subprocess.run(
        [sys.executable, "-m", "contracts.build", "--check"],
        check=False,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert (
        result.stderr.count("\n") == 1
        and "node" in result.stderr
        and "npm ci" in result.stderr
        and "make setup" in result.stderr
    )
    from cli.contracts_cmd import contracts

    outcome = CliRunner().invoke(contracts, ["build", "--check"])
    assert isinstance(outcome.exception, WalletError) and "npm ci" in str(outcome.exception)


# -- hongbao contracts deploy ---------------------------------------------------------------------


def point_local_at(home: Path, url: str) -> None:
    cfg = config_mod.load(home)
    cfg.networks["local"] = config_mod.Network("local", url, CHAIN_ID)
    config_mod.save(home, cfg)


def run_deploy(*args: str) -> dict:
    from cli.contracts_cmd import contracts

    result = CliRunner().invoke(contracts, ["deploy", "--json", *args])
    assert result.exit_code == 0, (result.output, result.exception)
    return json.loads(result.stdout)


@pytest.mark.slow
def test_contracts_deploy_records_addresses_and_is_idempotent(hongbao_home, anvil, rpc):
    point_local_at(hongbao_home, anvil.url)
    first = run_deploy()
    has_red_packet = "RedPacket" in available()
    expected = ["TestToken", "TestVault", *(["RedPacket"] if has_red_packet else [])]
    assert [r["contract"] for r in first["contracts"]] == expected
    assert all(r["status"] == "deployed" and r["hash"] for r in first["contracts"])
    if not has_red_packet:
        assert first["red_packet"] is None and any("RedPacket skipped" in n for n in first["notes"])

    net = config_mod.load(hongbao_home).current("local")
    tkn = net.tokens["TKN"]
    assert (tkn.address, tkn.decimals) == (first["token"]["address"], 18)
    assert net.contracts["vault"] == first["vault"]
    assert token.name(rpc, tkn.address) == "Hongbao Test Token"
    assert erc20.balance_of(rpc, tkn.address, DEV0) == 1_000_000 * E18
    assert vault.asset(rpc, first["vault"]) == tkn.address
    assert erc20.read_token(rpc, first["vault"]).symbol == "vTKN"
    if has_red_packet:
        assert net.contracts["red_packet"] == first["red_packet"]
        assert len(bytes.fromhex(rpc.call("eth_getCode", first["red_packet"], "latest")[2:])) == len(
            load("RedPacket").deployed_bytecode
        )

    # again: nothing is sent, the same addresses are reported
    block = to_int(rpc.call("eth_blockNumber"))
    config_text = config_mod.path(hongbao_home).read_text()
    second = run_deploy()
    assert to_int(rpc.call("eth_blockNumber")) == block
    assert config_mod.path(hongbao_home).read_text() == config_text
    assert [(r["contract"], r["address"], r["status"]) for r in second["contracts"]] == [
        (r["contract"], r["address"], "existing") for r in first["contracts"]
    ]
    assert (second["token"], second["vault"], second["red_packet"]) == (
        first["token"],
        first["vault"],
        first["red_packet"],
    )

    # --force deploys new ones and records them
    third = run_deploy("--force")
    assert all(r["status"] == "deployed" for r in third["contracts"])
    assert third["vault"] != first["vault"] and third["token"]["address"] != first["token"]["address"]
    net = config_mod.load(hongbao_home).current("local")
    assert net.contracts["vault"] == third["vault"] and net.tokens["TKN"].address == third["token"]["address"]


@pytest.mark.slow
def test_contracts_deploy_redeploys_when_the_recorded_code_is_gone(hongbao_home, anvil, rpc):
    point_local_at(hongbao_home, anvil.url)
    cfg = config_mod.load(hongbao_home)
    cfg.networks["local"].contracts["vault"] = DEV1  # an address without code (e.g. a reset chain)
    config_mod.save(hongbao_home, cfg)
    out = run_deploy()
    assert all(r["status"] == "deployed" for r in out["contracts"])
    assert config_mod.load(hongbao_home).current("local").contracts["vault"] == out["vault"] != DEV1


def test_contracts_deploy_refuses_a_non_local_network(hongbao_home):
    from cli.contracts_cmd import contracts

    cfg = config_mod.load(hongbao_home)
    cfg.networks["sepolia"] = config_mod.Network("sepolia", "http://127.0.0.1:9", 11155111)
    config_mod.save(hongbao_home, cfg)
    result = CliRunner().invoke(contracts, ["deploy", "--network", "sepolia"])
    assert result.exit_code != 0
    assert isinstance(result.exception, WalletError)
    message = str(result.exception)
    assert "local network only" in message and "sepolia" in message and "\n" not in message


def test_contracts_add_records_only_real_contracts(anvil, hongbao_home):
    from click.testing import CliRunner

    from cli.contracts_cmd import contracts
    from wallet import config

    cfg = config.load(hongbao_home)
    cfg.networks["local"] = config.Network("local", anvil.url, 31337)
    config.save(hongbao_home, cfg)
    runner = CliRunner()
    empty = "0x" + "12" * 20
    refused = runner.invoke(contracts, ["add", "red_packet", empty])
    assert refused.exit_code != 0 and "no contract at" in str(refused.exception)
    deployed = runner.invoke(contracts, ["deploy", "--json"])
    assert deployed.exit_code == 0, deployed.output
    address = config.load(hongbao_home).current().contracts["red_packet"]
    cfg = config.load(hongbao_home)
    cfg.networks["local"].contracts.clear()
    config.save(hongbao_home, cfg)
    added = runner.invoke(contracts, ["add", "red_packet", address.lower(), "--json"])
    assert added.exit_code == 0, added.output
    assert config.load(hongbao_home).current().contracts["red_packet"] == address
