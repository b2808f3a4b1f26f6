"""The DeFi action service without click (cli/services/defi_actions.py): what the app calls
to lend on Aave, each transaction previewed and confirmed through its front end."""

from __future__ import annotations

import pytest
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
