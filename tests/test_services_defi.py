"""The DeFi action service without click (cli/services/defi_actions.py): what the app calls
to lend on Aave, each transaction previewed and confirmed through its front end."""

from __future__ import annotations

import pytest
from conftest import quick_wallet
from defi_fixtures import defi, defi_state  # noqa: F401  (the protocols, loaded per test)
from test_services_packets import Scripted

from cli.services.defi_actions import lend
from contracts.protocols import aave
from wallet.errors import WalletError


def test_lend_supply_through_a_front_end(cli, hongbao_home, anvil, defi):  # noqa: F811
    me = defi.person(cli, hongbao_home, anvil)
    rpc = anvil.rpc()
    market = aave.market(rpc, defi.contracts["aave_addresses_provider"])
    refusing = Scripted(approve=False)
    with pytest.raises(WalletError, match="not confirmed"):
        lend("supply", "ETH", "5", refusing)
    assert len(refusing.previews) == 1 and aave.account(rpc, market, me).collateral == 0  # nothing sent

    front = Scripted()
    done = lend("supply", "ETH", "5", front)
    sent = done["transactions"]
    assert [p.title for p in front.previews] == ["Sign and send?"] * len(sent) and len(
        sent
    ) >= 2  # wrap, approve, supply
    assert all(p.tx is not None and p.rows[0][0] == "step" for p in front.previews)
    assert {t["status"] for t in sent} == {"confirmed"} and done["action"] == "supply"
    assert aave.account(rpc, market, me).collateral > 0


def test_tokens_vault_swap_and_stake_through_a_front_end(cli, hongbao_home, anvil, defi):  # noqa: F811
    """The CLI's DeFi workflows without click: each transaction previewed (a "step" in words,
    the decoded call) and confirmed through the front end; a refusal sends nothing."""
    from cli.services import defi_actions, tokens, vault
    from cli.services.sender import TxOptions
    from contracts import vault as vault_binding
    from contracts.artifacts import load
    from contracts.protocols.deploy import Deployer
    from wallet import config, erc20, localchain

    defi.record(hongbao_home, anvil)
    me = quick_wallet(hongbao_home, name="me")
    rpc = anvil.rpc()
    rpc.call("anvil_setBalance", me, hex(20 * 10**18))  # (no faucet process)
    tkn = defi.tokens["TKN"]
    deployer = Deployer(rpc, localchain.DEV_ADDRESS)
    where = deployer.create(load("TestVault"), tkn, "Vault TKN", "vTKN")
    deployer.finish()
    cfg = config.load(hongbao_home)
    cfg.networks["local"].contracts["vault"] = where
    config.save(hongbao_home, cfg)
    opts, front = TxOptions(), Scripted()

    def nonce() -> int:
        return int(rpc.call("eth_getTransactionCount", me, "latest"), 16)

    swapped = defi_actions.swap(defi_actions.SwapOrder("1", "ETH", "TKN", via="v2"), front, opts)
    assert swapped["swap"]["status"] == "confirmed" and swapped["approve"] is None
    assert erc20.balance_of(rpc, tkn, me) == int(swapped["received"]) >= int(swapped["min_received"]) > 0

    refusing, before = Scripted(approve=False), nonce()
    with pytest.raises(WalletError, match="not confirmed"):
        tokens.approve("TKN", "vault", "10", refusing, opts)
    (asked,) = refusing.previews
    assert asked.tx is not None and asked.rows == [
        ("step", f"approve: {where} (vault) may spend 10 TKN from {me} (allowance now 0 TKN)")
    ]
    assert nonce() == before and erc20.allowance(rpc, tkn, me, where) == 0

    approved = tokens.approve("TKN", "vault", "10", front, TxOptions(wait=False))  # --no-wait
    assert approved["status"] == "pending" and approved["call"]["function"] == "approve"
    assert erc20.allowance(rpc, tkn, me, where) == 10 * 10**18
    revoked, unchanged = tokens.revoke("TKN", "vault", front, opts)
    assert revoked["status"] == "confirmed" and unchanged is None and erc20.allowance(rpc, tkn, me, where) == 0
    again, said = tokens.revoke("TKN", "vault", front, opts)
    assert again["status"] == "unchanged" and again["hash"] is None and "nothing to revoke" in str(said)

    with pytest.raises(WalletError, match="--approve"):
        vault.deposit("5", None, False, front, opts)
    deposited = vault.deposit("5", None, True, front, opts)
    assert deposited["approve"]["status"] == deposited["deposit"]["status"] == "confirmed"
    assert vault_binding.balance_of(rpc, where, me) == int(deposited["expected_shares"]) > 0
    assert erc20.allowance(rpc, tkn, me, where) == 0  # exactly the amount, used up
    withdrawn = vault.withdraw("max", None, front, opts)
    assert withdrawn["all"] and withdrawn["status"] == "confirmed" and vault_binding.balance_of(rpc, where, me) == 0

    staked = defi_actions.stake("deposit", "1", front, opts)
    assert staked["after"]["staked"] == str(10**18) and [t["status"] for t in staked["transactions"]] == ["confirmed"]
    assert staked["approve"]["status"] == "confirmed"
    assert all(p.tx is not None and p.rows[0][0] == "step" for p in front.previews)


def test_an_automatic_follow_passes_a_preview_unseen_but_never_a_dangerous_one():
    """`trade autofollow` is the consent for its swaps; a lookalike recipient still stops it."""
    from cli.services.following import Consented
    from cli.services.frontend import Preview
    from wallet.security_rules import Finding

    front = Consented()
    front.confirm(Preview("Sign and send?", findings=[Finding("first", "first payment to this address")]))
    with pytest.raises(WalletError, match="refused: recipient only LOOKS LIKE"):
        front.confirm(
            Preview("Sign and send?", findings=[Finding("lookalike", "recipient only LOOKS LIKE bob: x", True)])
        )
    with pytest.raises(WalletError, match="no password"):
        front.password("Wallet password")
