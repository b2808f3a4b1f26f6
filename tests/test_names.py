"""Contact names wherever an address is taken, and next to addresses wherever one is shown."""

from __future__ import annotations

import os

import pytest
from conftest import quick_wallet
from test_transfers import ALICE, ETH, balance_of, point_local_at

from messaging import contact_book
from messaging.store import MessageStore, path_for

BOB = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"
CAROL = "0x90F79bf6EB2c4f870365E785982E1f101E93b906"


def add_contact(home, me: str, address: str, name: str) -> None:
    """A saved contact in `me`'s message store, as `contacts add` leaves it (no relay needed)."""
    with MessageStore(path_for(home, me), os.urandom(32), me) as store:
        store.add_contact(address, name)


def test_names_resolve_case_insensitively_without_a_key(hongbao_home):
    me = "0x" + "11" * 20
    add_contact(hongbao_home, me, BOB, "Bob")
    assert contact_book.resolve(hongbao_home, "bob") == contact_book.Named(BOB, "Bob")
    assert contact_book.resolve(hongbao_home, " BOB ", me).address == BOB
    assert contact_book.resolve(hongbao_home, BOB.lower()) == contact_book.Named(BOB, "Bob")
    assert contact_book.names(hongbao_home) == {BOB: "Bob"}
    with pytest.raises(contact_book.UnknownName, match="contacts add"):
        contact_book.resolve(hongbao_home, "dave")


def test_two_accounts_naming_two_addresses_is_refused_unless_one_signs(hongbao_home):
    me, other = "0x" + "11" * 20, "0x" + "22" * 20
    add_contact(hongbao_home, me, BOB, "bob")
    add_contact(hongbao_home, other, CAROL, "bob")
    with pytest.raises(contact_book.UnknownName, match="use the address"):
        contact_book.resolve(hongbao_home, "bob")
    assert contact_book.resolve(hongbao_home, "bob", me).address == BOB  # the signing account's contacts first
    assert contact_book.resolve(hongbao_home, "bob", other).address == CAROL


def test_send_balance_and_history_take_and_show_names(cli, anvil, hongbao_home):
    point_local_at(hongbao_home, anvil)
    me = quick_wallet(hongbao_home, name="me")
    add_contact(hongbao_home, me, ALICE, "alice")
    cli("faucet", me, "5")
    before = balance_of(anvil, ALICE)

    shown = cli("send", "alice", "0.5", "--yes")
    assert balance_of(anvil, ALICE) == before + ETH // 2
    assert f"alice ({ALICE})" in " ".join(shown.stderr.split())  # the preview names the recipient

    assert cli.json("balance", "Alice")["address"] == ALICE
    listed = cli.json("tx", "list", "--address", "alice")
    assert listed[0]["to"] == ALICE and listed[0]["to_name"] == "alice"
    assert "alice" in cli("tx", "list").stdout
    shown = cli.json("tx", "show", listed[0]["hash"])["seen"]
    assert (shown["direction"], shown["counterparty"], shown["counterparty_name"]) == ("out", ALICE, "alice")
    assert shown["clock"] == "block"
    assert f"alice ({ALICE})" in cli("tx", "show", listed[0]["hash"]).stdout
    assert "nor a saved contact" in cli("send", "nobody", "1", "--yes", check=False).stderr

    cli.json("token", "deploy-test", "--symbol", "TKN")
    approved = cli("token", "approve", "TKN", "alice", "1", "--wallet", "me", "--yes")
    assert f"{ALICE} (alice)" in " ".join(approved.stderr.split())  # the approval's preview names the spender
