"""The DeFi commands end to end on a real anvil, through the real `hongbao` entry point:
token approve / allowances / revoke / permit, vault deposit / withdraw / position, contract
call / send. Every amount is checked on chain, not only in what the command printed."""

from __future__ import annotations

import json
import re
import shlex
import time
from pathlib import Path

import pytest
from conftest import quick_wallet
from test_transfers import ALICE, one_line_error, point_local_at

from wallet import abi, erc20
from wallet import address as addr
from wallet.rpc import to_int

E18 = 10**18
BOB = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"  # anvil dev account 2


@pytest.fixture
def setup(cli, hongbao_home, anvil):
    """A wallet `me` with 5 ETH and 1,000 TKN, and TestToken + TestVault (+ RedPacket) deployed."""
    from wallet import localchain

    point_local_at(hongbao_home, anvil)
    me = quick_wallet(hongbao_home, name="me")
    cli("faucet", me, "5")
    deployed = cli.json("contracts", "deploy")
    token, vault = deployed["token"]["address"], deployed["vault"]
    rpc = anvil.rpc()
    tx = rpc.call(
        "eth_sendTransaction",
        {"from": localchain.DEV_ADDRESS, "to": token, "data": "0x" + erc20.transfer_data(me, 1000 * E18).hex()},
    )
    wait(rpc, tx)
    return {"me": me, "token": token, "vault": vault, "red_packet": deployed["red_packet"], "rpc": rpc}


def wait(rpc, tx_hash: str) -> dict:
    deadline = time.monotonic() + 10
    while (receipt := rpc.call("eth_getTransactionReceipt", tx_hash)) is None:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert to_int(receipt["status"]) == 1
    return receipt


def tkn(s, who: str) -> int:
    return erc20.balance_of(s["rpc"], s["token"], who)


def allowance(s, spender: str) -> int:
    return erc20.allowance(s["rpc"], s["token"], s["me"], spender)


def shares(s) -> int:
    from contracts import vault

    return vault.balance_of(s["rpc"], s["vault"], s["me"])


W = ("--wallet", "me", "--yes")
ARTIFACT = Path(__file__).resolve().parent.parent / "contracts" / "artifacts" / "TestToken.json"


def typo(address: str) -> str:
    """The address with one letter's case flipped: a wrong EIP-55 checksum."""
    i = max(i for i, c in enumerate(address) if c.isalpha() and i > 1)
    return address[:i] + address[i].swapcase() + address[i + 1 :]


def test_approve_allowances_revoke_round_trip(cli, setup):
    s = setup
    eth_before = to_int(s["rpc"].call("eth_getBalance", s["me"], "latest"))
    approved = cli.json("token", "approve", "TKN", "vault", "100", *W)
    assert (
        approved["status"] == "confirmed"
        and approved["spender"] == s["vault"]
        and approved["allowance"] == str(100 * E18)
    )
    assert (
        approved["call"] == {"function": "approve", "args": {"spender": s["vault"], "amount": str(100 * E18)}}
        and approved["warnings"] == []
    )
    assert allowance(s, s["vault"]) == 100 * E18
    # People see the approval in words, then the decoded call and the simulation, before it is signed.
    shown = cli("token", "approve", s["token"], BOB, "2.5 TKN", *W)
    flat = " ".join(shown.stderr.split())
    assert (
        f"approve: {BOB} may spend 2.5 TKN from {s['me']} (allowance now 0 TKN)" in flat
        and f"call approve(spender={BOB}, amount={25 * E18 // 10})" in flat
        and "simulation ok" in flat
    )
    assert re.fullmatch(r"0x[0-9a-f]{64}", shown.stdout.strip())
    assert allowance(s, BOB) == 25 * E18 // 10
    listed = cli.json("token", "allowances", "--wallet", "me", "--spender", BOB, "--spender", ALICE)
    got = {(r["spender"], r["spender_name"]): r["allowance"] for r in listed["allowances"]}
    assert listed["owner"] == s["me"]
    assert got == {
        (s["vault"], "vault"): str(100 * E18),
        (s["red_packet"], "red_packet"): "0",
        (BOB, None): str(25 * E18 // 10),
        (ALICE, None): "0",
    }
    revoked = cli.json("token", "revoke", "TKN", s["vault"], *W)
    assert revoked["status"] == "confirmed" and revoked["allowance"] == "0" and allowance(s, s["vault"]) == 0
    again = cli.json("token", "revoke", "TKN", "vault", *W)
    assert again["status"] == "unchanged" and again["hash"] is None
    # Approvals move no tokens; only fees left the account.
    assert tkn(s, s["me"]) == 1000 * E18
    fees = sum(int(x["fee"]) for x in (approved, revoked))
    assert to_int(s["rpc"].call("eth_getBalance", s["me"], "latest")) < eth_before - fees
    one_line_error(cli("token", "approve", "TKN", "nowhere", "1", *W, check=False), "neither an address nor a contract")
    one_line_error(cli("token", "approve", "TKN", BOB, "max", *W, check=False), "'max' is not an allowance")
    one_line_error(
        cli("token", "approve", "TKN", BOB, "1.5 ETH", *W, check=False), "the amount says ETH but the token is TKN"
    )


def test_unlimited_approval_is_loud(cli, setup):
    s = setup
    human = cli("token", "approve", "TKN", BOB, "unlimited", *W)
    assert "UNLIMITED APPROVAL" in human.stderr and BOB in human.stderr
    assert allowance(s, BOB) == erc20.UNLIMITED
    scripted = cli("token", "approve", "TKN", ALICE, "unlimited", "--json", *W)
    data = json.loads(scripted.stdout)
    assert (
        len(data["warnings"]) == 1 and "UNLIMITED APPROVAL" in data["warnings"][0] and data["formatted"] == "unlimited"
    )
    assert "UNLIMITED APPROVAL" in scripted.stderr
    listed = cli("token", "allowances", "--wallet", "me", "--spender", BOB)
    assert "unlimited" in listed.stdout and "hongbao token revoke TKN " + BOB in listed.stderr
    one_line_error(
        cli("token", "approve", "TKN", BOB, "unlimited", "--wallet", "me", "--json", check=False), "--json needs --yes"
    )


def test_permit_signature_is_accepted_by_the_token(cli, setup):
    from contracts import token

    s = setup
    signed = cli("token", "permit", "TKN", BOB, "40", "--deadline", "1h", *W)
    permit = json.loads(signed.stdout)  # JSON even without --json
    latest = to_int(s["rpc"].call("eth_getBlockByNumber", "latest", False)["timestamp"])
    assert (
        permit["owner"] == s["me"]
        and permit["spender"] == BOB
        and permit["value"] == str(40 * E18)
        and permit["nonce"] == 0
    )
    assert 3590 <= permit["deadline"] - latest <= 3600 and permit["v"] in (27, 28)
    assert allowance(s, BOB) == 0  # only signed: nothing on chain yet
    # Anyone may submit it: here anvil's dev account (which is neither the owner nor the spender).
    from wallet import localchain

    data = token.permit_data(
        s["me"],
        BOB,
        40 * E18,
        permit["deadline"],
        permit["v"],
        bytes.fromhex(permit["r"][2:]),
        bytes.fromhex(permit["s"][2:]),
    )
    assert "0x" + data.hex() == permit["calldata"]
    wait(
        s["rpc"],
        s["rpc"].call(
            "eth_sendTransaction", {"from": localchain.DEV_ADDRESS, "to": s["token"], "data": "0x" + data.hex()}
        ),
    )
    assert allowance(s, BOB) == 40 * E18
    # --submit: the same account sends it through the normal pipeline.
    submitted = cli.json("token", "permit", "TKN", ALICE, "7", "--submit", *W)
    assert (
        submitted["nonce"] == 1
        and submitted["tx"]["status"] == "confirmed"
        and submitted["tx"]["call"]["function"] == "permit"
    )
    assert allowance(s, ALICE) == 7 * E18 and token.nonces(s["rpc"], s["token"], s["me"]) == 2
    one_line_error(cli("token", "permit", "TKN", BOB, "1", "--deadline", "soon", *W, check=False), "not a duration")


def test_vault_deposit_position_withdraw(cli, setup):
    s = setup
    refused = cli("vault", "deposit", "100", *W, check=False)
    line = one_line_error(refused, "may not take your TKN yet", "--approve")
    command = re.search(r"`hongbao (token approve [^`]+)`", line).group(1)
    assert command == f"token approve TKN {s['vault']} 100 --wallet me"
    assert shares(s) == 0 and tkn(s, s["me"]) == 1000 * E18
    cli(*shlex.split(command), "--yes")  # the exact command it named
    first = cli.json("vault", "deposit", "100", *W)
    assert (
        first["approve"] is None
        and first["deposit"]["status"] == "confirmed"
        and first["expected_shares"] == str(100 * E18)
    )
    assert shares(s) == 100 * E18 and tkn(s, s["me"]) == 900 * E18
    both = cli.json("vault", "deposit", "50 TKN", "--approve", *W)
    assert (
        both["approve"]["status"] == "confirmed"
        and both["approve"]["allowance"] == str(50 * E18)
        and both["deposit"]["status"] == "confirmed"
    )
    assert shares(s) == 150 * E18 and tkn(s, s["me"]) == 850 * E18 and allowance(s, s["vault"]) == 0
    held = cli.json("vault", "position", "--wallet", "me")
    assert (held["shares"], held["value"], held["total_assets"], held["share_symbol"]) == (
        str(150 * E18),
        str(150 * E18),
        str(150 * E18),
        "vTKN",
    )
    out = cli.json("vault", "withdraw", "20", *W)
    assert out["status"] == "confirmed" and tkn(s, s["me"]) == 870 * E18 and shares(s) == 130 * E18
    one_line_error(cli("vault", "withdraw", "500", *W, check=False), "at most 130 TKN")
    everything = cli("vault", "withdraw", "max", *W)
    assert "redeem(" in everything.stderr
    assert shares(s) == 0 and tkn(s, s["me"]) == 1000 * E18
    after = cli.json("vault", "position", s["me"])
    assert (after["shares"], after["value"], after["total_assets"]) == ("0", "0", "0")
    one_line_error(cli("vault", "withdraw", "max", *W, check=False), "holds no shares")
    one_line_error(cli("vault", "deposit", "2000", *W, check=False), "insufficient TKN", "have 1000")


def test_contract_call_and_send(cli, setup, tmp_path):
    s = setup
    called = cli.json("contract", "call", s["token"], "balanceOf(address)(uint256)", s["me"])
    assert called["result"] == [str(1000 * E18)] and called["returns"] == ["uint256"]
    assert (
        cli("contract", "call", s["token"], "function balanceOf(address who) view returns (uint256)", s["me"]).stdout
        == f"{1000 * E18}\n"
    )
    assert cli("contract", "call", s["token"], "symbol()(string)").stdout == "TKN\n"
    raw = cli("contract", "call", s["token"], "decimals()").stdout.strip()
    assert int(raw, 16) == 18  # no return types: the raw bytes
    # With an ABI (a bare list, or an artifact): the function by name, the outputs from the ABI.
    abi_file = tmp_path / "token.abi.json"
    abi_file.write_text(json.dumps(json.loads(ARTIFACT.read_text())["abi"]))
    by_abi = cli.json("contract", "call", s["token"], "allowance", s["me"], s["vault"], "--abi", str(abi_file))
    assert by_abi["function"] == "allowance(address,address)" and by_abi["result"] == ["0"]
    assert cli("contract", "call", s["token"], "name", "--abi", str(ARTIFACT)).stdout == "Hongbao Test Token\n"
    one_line_error(
        cli("contract", "call", s["token"], "burn", "1", "--abi", str(ARTIFACT), check=False),
        "has no function 'burn'",
        "balanceOf",
    )

    sent = cli.json("contract", "send", s["token"], "transfer(address,uint256)", BOB, str(125 * E18), *W)
    assert sent["status"] == "confirmed" and sent["function"]["signature"] == "transfer(address,uint256)"
    assert tkn(s, BOB) == 125 * E18 and tkn(s, s["me"]) == 875 * E18
    # A function the wallet does not know: the preview shows the parsed signature and each argument.
    minted = " ".join(
        cli("contract", "send", s["token"], "mint(address,uint256)", ALICE, "0x10", *W).stderr.split()
    )  # unwrapped
    assert "function: mint(address,uint256)" in minted and f"call mint(address arg0={ALICE}, uint256 arg1=16)" in minted
    assert tkn(s, ALICE) == 16
    # A revert is explained before anything is signed.
    nonce = to_int(s["rpc"].call("eth_getTransactionCount", s["me"], "latest"))
    one_line_error(
        cli("contract", "send", s["token"], "transfer(address,uint256)", BOB, str(10**30), *W, check=False),
        "would fail",
    )
    assert to_int(s["rpc"].call("eth_getTransactionCount", s["me"], "latest")) == nonce


def test_bad_signatures_and_arguments_are_one_line_errors(cli, setup):
    s = setup
    token = s["token"]
    cases = [
        (("call", token, "balanceOf"), "not a function signature"),
        (("call", token, "balanceOf(address"), "not a function signature"),
        (("call", token, "balanceOf(uint7)(uint256)", "1"), "unknown type 'uint7'"),
        (("call", token, "balanceOf(address)(uint256)"), "takes 1 argument, got 0"),
        (("send", token, "transfer(address,uint256)", BOB, *W), "takes 2 arguments, got 1"),
        (("send", token, "transfer(address,uint256)", BOB, "12abc", *W), "argument 2 (uint256) must be an integer"),
        (("send", token, "transfer(address,uint256)", BOB, "-1", *W), "out of range"),
        (("call", token, "balanceOf(address)(uint256)", typo(BOB)), "wrong EIP-55 checksum"),
        (("call", token, "f(bytes32)", "0x1234"), "needs exactly 32 bytes"),
        (("call", token, "f(bool,uint8[2])", "yes", "[1,2]"), "must be true or false"),
        (("call", BOB, "balanceOf(address)(uint256)", BOB), "no contract at"),
        (("call", token, "nope()(uint256)"), "reverted"),
    ]
    for args, fragment in cases:
        one_line_error(cli("contract", *args, check=False), fragment)
    assert addr.is_checksummed(BOB)
    assert abi.selector("balanceOf(address)").hex() == "70a08231"
