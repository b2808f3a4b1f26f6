"""Contract build: committed artifacts match a fresh compile, and the tokens work on a real anvil."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
from eth_abi import decode
from eth_account import Account
from eth_account.messages import encode_typed_data

from contracts.artifacts import Artifact, UnknownArtifactError, available, load
from contracts.deploy import constructor_types, deployment_tx

ROOT = Path(__file__).resolve().parent.parent
CONTRACTS = ROOT / "contracts"

# anvil's well-known dev accounts (mnemonic "test test ... junk"), unlocked for eth_sendTransaction.
DEV0 = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
DEV0_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
DEV1 = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
DEV2 = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"

E18 = 10**18


# --- the build ---------------------------------------------------------------------------------


@pytest.mark.slow
def test_committed_artifacts_match_fresh_compile():
    """`python -m contracts.build --check` (the wrapper `hongbao contracts build` uses) runs
    build.mjs --check: a fresh in-memory compile with the pinned solc, compared byte for
    byte with contracts/artifacts/. One compile for both (solc-js takes ~10 s)."""
    from contracts import build

    try:
        build.command(check=True)
    except build.BuildToolMissing as missing:
        pytest.skip(str(missing))
    result = subprocess.run(
        [sys.executable, "-m", "contracts.build", "--check"],
        check=False,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, f"build --check failed:\n{result.stdout}{result.stderr}"
    assert "up to date" in result.stdout
    assert {"RedPacket", "TestToken", "TestVault", "NoBoolToken", "FeeOnTransferToken"} <= set(available())


def test_every_source_has_artifacts_with_its_hash():
    """Needs no compiler: catches a source edited without rebuilding, even where node is missing."""
    sources = {
        f"contracts/src/{p.relative_to(CONTRACTS / 'src').as_posix()}": p
        for p in sorted((CONTRACTS / "src").rglob("*.sol"))
    }
    seen = set()
    for path in sorted((CONTRACTS / "artifacts").glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        assert data["contractName"] == path.stem
        source = sources.get(data["sourceName"])
        assert source is not None, f"{path.name} was built from {data['sourceName']}, which no longer exists"
        assert data["sourceHash"] == hashlib.sha256(source.read_bytes()).hexdigest(), (
            f"{data['sourceName']} changed since {path.name} was built: run `node contracts/build.mjs`"
        )
        assert data["compiler"] == {
            "version": data["compiler"]["version"],
            "optimizer": True,
            "runs": 1_000_000,  # tuned for claim gas, not deployment size
            "evmVersion": "cancun",
        }
        assert data["compiler"]["version"].startswith("0.8.28+")
        seen.add(data["sourceName"])
        # deterministic formatting: sorted keys, 2-space indent, trailing newline
        assert path.read_text(encoding="utf-8") == json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    assert seen == set(sources), f"sources without artifacts: {sorted(set(sources) - seen)}"


# --- loading and deployment payloads (pure) ----------------------------------------------------


def test_load_artifacts():
    assert {"TestToken", "FeeOnTransferToken"} <= set(available())
    token = load("TestToken")
    assert isinstance(token, Artifact)
    assert token.name == "TestToken"
    assert token.bytecode and token.deployed_bytecode
    assert len(token.bytecode) > len(token.deployed_bytecode)
    names = {entry.get("name") for entry in token.abi}
    assert {"permit", "nonces", "DOMAIN_SEPARATOR", "mint", "decimals", "transfer"} <= names
    assert "TestToken" in repr(token) and "abi" not in repr(token)


def test_load_unknown_name_lists_available():
    with pytest.raises(UnknownArtifactError) as excinfo:
        load("NoSuchToken")
    message = str(excinfo.value)
    assert "NoSuchToken" in message and "TestToken" in message and "FeeOnTransferToken" in message
    with pytest.raises(LookupError):
        load("../artifacts/TestToken")


def test_deployment_tx_appends_encoded_constructor_args():
    token = load("TestToken")
    assert constructor_types(token) == ["string", "string", "uint8", "uint256"]
    data = deployment_tx(token, "Hongbao Test", "HBT", 6, 1_000_000)
    assert data.startswith(token.bytecode)
    assert decode(constructor_types(token), data[len(token.bytecode) :]) == ("Hongbao Test", "HBT", 6, 1_000_000)
    with pytest.raises(TypeError, match=r"takes 4 argument\(s\), got 2"):
        deployment_tx(token, "Hongbao Test", "HBT")


# --- on a real anvil ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def w3():
    from web3 import Web3

    from wallet import localchain

    process, url = localchain.spawn_ephemeral()
    try:
        yield Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": 10}))
    finally:
        localchain.terminate(process)


def _deploy(w3, name: str, *args):
    artifact = load(name)
    tx_hash = w3.eth.send_transaction({"from": DEV0, "data": "0x" + deployment_tx(artifact, *args).hex()})
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=10)
    assert receipt["status"] == 1
    address = receipt["contractAddress"]
    # runtime code has the artifact's length (immutables are filled in at deployment, not added)
    assert len(w3.eth.get_code(address)) == len(artifact.deployed_bytecode)
    return w3.eth.contract(address=address, abi=artifact.abi)


def _send(w3, fn, sender: str):
    receipt = w3.eth.wait_for_transaction_receipt(fn.transact({"from": sender}), timeout=10)
    assert receipt["status"] == 1
    return receipt


@pytest.mark.slow
def test_test_token_on_anvil(w3):
    from web3.exceptions import ContractLogicError

    assert w3.eth.chain_id == 31337
    token = _deploy(w3, "TestToken", "Hongbao Test", "HBT", 6, 1_000_000 * 10**6)
    f = token.functions
    assert (f.name().call(), f.symbol().call(), f.decimals().call()) == ("Hongbao Test", "HBT", 6)
    assert f.totalSupply().call() == 1_000_000 * 10**6
    assert f.balanceOf(DEV0).call() == 1_000_000 * 10**6

    # transfer
    _send(w3, f.transfer(DEV1, 250 * 10**6), DEV0)
    assert f.balanceOf(DEV1).call() == 250 * 10**6
    assert f.balanceOf(DEV0).call() == 999_750 * 10**6

    # mint is open: DEV2, who holds nothing, mints to itself
    _send(w3, f.mint(DEV2, 42), DEV2)
    assert f.balanceOf(DEV2).call() == 42
    assert f.totalSupply().call() == 1_000_000 * 10**6 + 42

    # EIP-2612: DEV0 signs off-chain; DEV1 (the spender) submits it and pays the gas
    value, deadline = 123 * 10**6, w3.eth.get_block("latest")["timestamp"] + 3600
    domain = {"name": "Hongbao Test", "version": "1", "chainId": 31337, "verifyingContract": token.address}
    types = {
        "Permit": [
            {"name": "owner", "type": "address"},
            {"name": "spender", "type": "address"},
            {"name": "value", "type": "uint256"},
            {"name": "nonce", "type": "uint256"},
            {"name": "deadline", "type": "uint256"},
        ]
    }
    message = {"owner": DEV0, "spender": DEV1, "value": value, "nonce": f.nonces(DEV0).call(), "deadline": deadline}
    assert f.DOMAIN_SEPARATOR().call() == encode_typed_data(domain, types, message).header
    signed = Account.sign_typed_data(DEV0_KEY, domain, types, message)
    assert Account.from_key(DEV0_KEY).address == DEV0
    r, s = signed.r.to_bytes(32, "big"), signed.s.to_bytes(32, "big")

    assert f.allowance(DEV0, DEV1).call() == 0
    _send(w3, f.permit(DEV0, DEV1, value, deadline, signed.v, r, s), DEV1)
    assert f.allowance(DEV0, DEV1).call() == value
    assert f.nonces(DEV0).call() == 1
    with pytest.raises(ContractLogicError):  # the nonce moved on: a replay is refused
        f.permit(DEV0, DEV1, value, deadline, signed.v, r, s).transact({"from": DEV1})

    _send(w3, f.transferFrom(DEV0, DEV2, value), DEV1)
    assert f.balanceOf(DEV2).call() == 42 + value
    assert f.allowance(DEV0, DEV1).call() == 0


@pytest.mark.slow
def test_fee_on_transfer_token_delivers_99_percent(w3):
    token = _deploy(w3, "FeeOnTransferToken", "Fee Token", "FEE", 18, 1_000 * E18)
    f = token.functions
    assert (f.name().call(), f.symbol().call(), f.decimals().call()) == ("Fee Token", "FEE", 18)

    receipt = _send(w3, f.transfer(DEV1, 100 * E18), DEV0)
    assert f.balanceOf(DEV1).call() == 99 * E18
    assert f.balanceOf(DEV0).call() == 900 * E18
    assert f.totalSupply().call() == 999 * E18  # the 1% is burnt
    transfers = [
        (e["args"]["from"], e["args"]["to"], e["args"]["value"])
        for e in token.events.Transfer().process_receipt(receipt)
    ]
    assert transfers == [(DEV0, "0x" + "00" * 20, 1 * E18), (DEV0, DEV1, 99 * E18)]

    # transferFrom pays the fee too; the allowance is spent by the full amount
    _send(w3, f.approve(DEV2, 10 * E18), DEV1)
    _send(w3, f.transferFrom(DEV1, DEV2, 10 * E18), DEV2)
    assert f.balanceOf(DEV2).call() == 99 * E18 // 10
    assert f.balanceOf(DEV1).call() == 89 * E18
    assert f.allowance(DEV1, DEV2).call() == 0
