"""The local history database, and `hongbao tx list` / `hongbao tx show` on top of it."""

from __future__ import annotations

import dataclasses
import itertools
import json
import os
import sqlite3
import stat

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.exc import StatementError
from test_sync import ALICE, BOB, DEV, ETHER, STRANGER, Node, run, use_anvil

from wallet import address as addr
from wallet.errors import WalletError
from wallet.history import History, Incoming, SentTx
from wallet.rpc import to_int

UINT256 = st.integers(min_value=0, max_value=2**256 - 1)
_hashes = itertools.count(1)


def fresh_hash() -> str:
    return f"0x{next(_hashes):064x}"


def sent(**changes) -> SentTx:
    base = SentTx(
        chain_id=31337,
        hash=fresh_hash(),
        sender=ALICE,
        nonce=0,
        to=BOB,
        value=ETHER,
        data="0x",
        gas_limit=21_000,
        max_fee_per_gas=30 * 10**9,
        max_priority_fee_per_gas=10**9,
        gas_price=None,
        kind="transfer",
        token=None,
        token_amount=None,
        replaces=None,
        raw="0x02f870",
        created_at=1_700_000_000,
    )
    return dataclasses.replace(base, **changes)


def incoming(**changes) -> Incoming:
    base = Incoming(
        chain_id=31337,
        hash=fresh_hash(),
        log_index=-1,
        block=10,
        from_=STRANGER,
        to=ALICE,
        token=None,
        amount=ETHER,
        timestamp=1_700_000_100,
    )
    return dataclasses.replace(base, **changes)


@pytest.fixture
def log(hongbao_home) -> History:
    return History(hongbao_home / "history.sqlite")


def rows(log: History, table: str) -> list[tuple]:
    with log.engine.connect() as connection:
        return connection.exec_driver_sql(f"SELECT * FROM {table}").fetchall()


# -- the file -------------------------------------------------------------------------------------


def test_database_file_is_private_and_in_wal_mode(hongbao_home, log):
    log.record_sent(sent())
    path = hongbao_home / "history.sqlite"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    for extra in ("-wal", "-shm"):
        if os.path.exists(f"{path}{extra}"):
            assert stat.S_IMODE(os.stat(f"{path}{extra}").st_mode) == 0o600
    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


# -- big ints -------------------------------------------------------------------------------------


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(value=UINT256, fee=UINT256, amount=UINT256)
def test_uint256_values_round_trip_exactly(log, value, fee, amount):
    tx = sent(value=value, max_fee_per_gas=fee, token_amount=amount, effective_gas_price=None)
    log.record_sent(tx)
    log.set_status(tx.chain_id, tx.hash, "confirmed", block=1, gas_used=21_000, effective_gas_price=fee)
    back = log.get_sent(tx.chain_id, tx.hash)
    assert (back.value, back.max_fee_per_gas, back.token_amount, back.effective_gas_price) == (value, fee, amount, fee)
    item = incoming(amount=amount)
    log.add_incoming(item)
    assert log.incoming_by_hash(item.chain_id, item.hash)[0].amount == amount


def test_amounts_are_stored_as_decimal_text_not_floats(log):
    item = incoming(amount=2**256 - 1)
    log.add_incoming(item)
    with log.engine.connect() as connection:
        stored, kind = connection.exec_driver_sql("SELECT amount, typeof(amount) FROM incoming").one()
    assert (stored, kind) == (str(2**256 - 1), "text")


@pytest.mark.parametrize("bad", [-1, 2**256, 1.5, True])
def test_values_outside_uint256_are_refused(log, bad):
    with pytest.raises(StatementError, match="not a uint256"):
        log.add_incoming(incoming(amount=bad))
    assert rows(log, "incoming") == []


# -- idempotence ----------------------------------------------------------------------------------


def test_record_sent_is_idempotent_by_chain_and_hash(log):
    tx = sent()
    assert log.record_sent(tx) is True
    log.set_status(tx.chain_id, tx.hash, "confirmed", block=3)
    assert log.record_sent(tx) is False  # a retry does not reset the status
    assert log.get_sent(tx.chain_id, tx.hash).status == "confirmed"
    assert log.record_sent(dataclasses.replace(tx, chain_id=1)) is True  # same hash, other chain: another row
    assert len(rows(log, "sent")) == 2


def test_add_incoming_is_idempotent_by_chain_hash_and_log_index(log):
    item = incoming()
    assert log.add_incoming(item) is True
    assert log.add_incoming(item) is False
    assert (
        log.add_incoming(dataclasses.replace(item, log_index=0, token=STRANGER)) is True
    )  # a token log of the same tx
    assert log.add_incoming(dataclasses.replace(item, hash=item.hash.upper().replace("0X", "0x"))) is False
    assert len(rows(log, "incoming")) == 2


def test_addresses_are_stored_checksummed_and_hashes_found_in_any_case(log):
    tx = sent(sender=ALICE.lower(), to=BOB.upper().replace("0X", "0x"), hash="0x" + "AB" * 32)
    log.record_sent(tx)
    back = log.get_sent(31337, "0x" + "ab" * 32)
    assert (back.sender, back.to, back.hash) == (ALICE, BOB, "0x" + "ab" * 32)
    assert addr.is_checksummed(back.sender)
    assert log.pending(31337, ALICE.lower()) == [back]


# -- cursor and rows together ---------------------------------------------------------------------


def test_save_batch_writes_rows_and_cursor_together(log):
    found = [incoming(), incoming(log_index=3, token=STRANGER)]
    assert log.save_batch(31337, ["sync:a", "sync:b"], found, 99) == found
    assert log.get_cursor(31337, "sync:a") == log.get_cursor(31337, "sync:b") == 99
    assert log.save_batch(31337, "sync:a", found, 120) == []  # already there: nothing new, cursor moves
    assert log.get_cursor(31337, "sync:a") == 120
    assert log.get_cursor(1, "sync:a") is None


def test_a_crash_while_saving_rows_leaves_neither_rows_nor_cursor(log):
    log.set_cursor(31337, "sync:a", 50)
    broken = [incoming(), incoming(amount=-5)]  # the second row fails mid-transaction
    with pytest.raises(StatementError, match="not a uint256"):
        log.save_batch(31337, "sync:a", broken, 99)
    assert rows(log, "incoming") == []
    assert log.get_cursor(31337, "sync:a") == 50


def test_a_crash_while_moving_the_cursor_leaves_no_rows(log, monkeypatch):
    def crash(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(History, "_advance_cursors", staticmethod(crash))
    with pytest.raises(KeyboardInterrupt):
        log.save_batch(31337, "sync:a", [incoming()], 99)
    monkeypatch.undo()
    assert rows(log, "incoming") == []
    assert log.get_cursor(31337, "sync:a") is None


def test_save_batch_never_moves_a_cursor_back_but_set_cursor_does(log):
    log.save_batch(31337, "sync:a", [], 100)
    log.save_batch(31337, "sync:a", [], 40)
    assert log.get_cursor(31337, "sync:a") == 100
    log.set_cursor(31337, "sync:a", 40)
    assert log.get_cursor(31337, "sync:a") == 40


# -- statuses and nonces --------------------------------------------------------------------------


def test_status_changes_and_the_pending_list(log):
    first, second = sent(nonce=0), sent(nonce=1)
    speed_up = sent(nonce=1, kind="speed-up", replaces=second.hash)
    for tx in (second, first, speed_up):
        log.record_sent(tx)
    assert [t.hash for t in log.pending(31337, ALICE)] == [first.hash, second.hash, speed_up.hash]
    assert log.set_status(31337, speed_up.hash, "confirmed", block=7, gas_used=21_000, effective_gas_price=2 * 10**9)
    assert log.mark_replaced(31337, second.hash)
    mined = log.get_sent(31337, speed_up.hash)
    assert (mined.status, mined.block, mined.gas_used, mined.effective_gas_price) == ("confirmed", 7, 21_000, 2 * 10**9)
    assert log.get_sent(31337, second.hash).status == "replaced"
    assert [t.hash for t in log.pending(31337, ALICE)] == [first.hash]
    assert log.pending(31337, BOB) == [] and log.pending(1, ALICE) == []


def test_set_status_refuses_unknown_statuses_and_reports_unknown_hashes(log):
    with pytest.raises(ValueError):
        log.set_status(31337, fresh_hash(), "lost")
    assert log.set_status(31337, fresh_hash(), "dropped") is False
    with pytest.raises(ValueError):
        log.record_sent(sent(kind="gift"))


def test_highest_nonce_skips_only_dropped_transactions(log):
    assert log.highest_nonce(31337, ALICE) is None
    for nonce, status in ((0, "confirmed"), (1, "replaced"), (2, "failed"), (3, "dropped")):
        tx = sent(nonce=nonce)
        log.record_sent(tx)
        log.set_status(31337, tx.hash, status)
    # a failed transaction was mined (reverted): its nonce is spent; a dropped one never was
    assert log.highest_nonce(31337, ALICE) == 2
    assert log.highest_nonce(31337, BOB) is None and log.highest_nonce(1, ALICE) is None


# -- activity -------------------------------------------------------------------------------------


def test_activity_merges_sent_and_received_newest_first(log):
    out_old = sent(created_at=100)
    in_mid = incoming(timestamp=200, to=ALICE)
    out_new = sent(
        created_at=300, sender=BOB, to=STRANGER, kind="token-transfer", token=STRANGER, token_amount=5, value=0
    )
    in_bob = incoming(timestamp=250, to=BOB, amount=2**200)
    other_chain = incoming(chain_id=1, timestamp=999)
    for tx in (out_old, out_new):
        log.record_sent(tx)
    for item in (in_mid, in_bob, other_chain):
        log.add_incoming(item)

    everything = log.activity(31337)
    assert [(a["hash"], a["direction"]) for a in everything] == [
        (out_new.hash, "out"),
        (in_bob.hash, "in"),
        (in_mid.hash, "in"),
        (out_old.hash, "out"),
    ]
    assert (
        everything[0]["amount"] == 5 and everything[0]["token"] == STRANGER
    )  # a token transfer shows its token amount
    assert everything[1]["amount"] == 2**200
    assert [a["hash"] for a in log.activity(31337, ALICE)] == [in_mid.hash, out_old.hash]
    assert [a["hash"] for a in log.activity(31337, BOB.lower())] == [
        out_new.hash,
        in_bob.hash,
        out_old.hash,
    ]  # out_old was sent to BOB
    assert [a["hash"] for a in log.activity(31337, limit=2)] == [out_new.hash, in_bob.hash]
    assert [a["hash"] for a in log.activity(1)] == [other_chain.hash]
    # what a capped list says it left out: one entry per transaction, as activity counts them
    log.add_incoming(incoming(hash=out_new.hash, to=BOB, token=STRANGER, amount=5))  # out_new's, synced too
    assert len(log.activity(31337, limit=100)) == log.activity_count(31337) == 4
    assert log.activity_count(31337, ALICE) == 2 and log.activity_count(31337, BOB.lower()) == 3
    assert log.activity_count(1) == 1 and log.activity_count(5) == 0


# -- `hongbao tx list` and `hongbao tx show` --------------------------------------------------------


def test_tx_list_json_shows_exact_amounts_as_strings(hongbao_home, log):
    log.record_sent(sent(created_at=100, value=ETHER + 1))
    log.add_incoming(incoming(timestamp=200, amount=15 * ETHER // 10))
    log.add_incoming(incoming(chain_id=1, timestamp=300))
    result = run("list", "--json")
    assert result.exit_code == 0, result.output
    listed = json.loads(result.stdout)
    assert [(i["direction"], i["amount"], i["formatted"], i["symbol"]) for i in listed] == [
        ("in", "1500000000000000000", "1.5", "ETH"),
        ("out", "1000000000000000001", "1.000000000000000001", "ETH"),
    ]
    assert [i["direction"] for i in json.loads(run("list", "--json", "--limit", "1").stdout)] == ["in"]
    assert json.loads(run("list", "--json", "--address", STRANGER).stdout) == []


def test_tx_list_refuses_a_bad_address(hongbao_home):
    result = run("list", "--address", "0x1234")
    assert isinstance(result.exception, WalletError)


def test_tx_list_human_output(hongbao_home, log):
    log.add_incoming(incoming(amount=25 * 10**17))
    result = run("list")
    assert result.exit_code == 0, result.output
    assert "2.5 ETH" in result.stdout and STRANGER in result.stdout


def test_tx_show_json_of_a_local_sent_transaction(hongbao_home, log):
    tx = sent(value=2**255, max_fee_per_gas=2**250)
    log.record_sent(tx)
    log.set_status(31337, tx.hash, "confirmed", block=9, gas_used=21_000, effective_gas_price=10**9)
    result = run("show", tx.hash.upper().replace("0X", "0x"), "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["source"] == "history" and data["incoming"] == []
    assert data["sent"]["value"] == str(2**255) and data["sent"]["max_fee_per_gas"] == str(2**250)
    assert (data["sent"]["status"], data["sent"]["block"], data["sent"]["nonce"]) == ("confirmed", 9, 0)


def test_tx_show_json_of_a_local_incoming_transfer(hongbao_home, log):
    item = incoming(log_index=4, token=STRANGER, amount=77)
    log.add_incoming(item)
    data = json.loads(run("show", item.hash, "--json").stdout)
    assert data["sent"] is None
    assert data["incoming"] == [
        {
            "hash": item.hash,
            "log_index": 4,
            "block": 10,
            "from": STRANGER,
            "to": ALICE,
            "token": STRANGER,
            "amount": "77",
            "symbol": None,
            "formatted": None,
            "timestamp": item.timestamp,
        }
    ]


def test_tx_show_refuses_what_is_not_a_hash(hongbao_home):
    result = run("show", "0x1234")
    assert isinstance(result.exception, WalletError) and "64 hex digits" in str(result.exception)


def test_tx_show_fetches_an_unknown_transaction_from_the_rpc(hongbao_home, anvil):
    use_anvil(hongbao_home, anvil)
    node = Node(anvil.rpc())
    receipt = node.pay(BOB, 7 * 10**17)
    data = json.loads(run("show", receipt["transactionHash"], "--json").stdout)
    assert data["source"] == "rpc"
    assert (data["from"], data["to"], data["value"], data["value_formatted"], data["status"], data["block"]) == (
        DEV,
        BOB,
        str(7 * 10**17),
        "0.7",
        "confirmed",
        to_int(receipt["blockNumber"]),
    )


def test_tx_show_lists_token_transfers_of_an_rpc_transaction(hongbao_home, anvil):
    use_anvil(hongbao_home, anvil)
    node = Node(anvil.rpc())
    token = node.deploy_token()
    receipt = node.transfer_token(token, BOB, 31)
    data = json.loads(run("show", receipt["transactionHash"], "--json").stdout)
    assert data["transfers"] == [
        {"token": token, "from": DEV, "to": BOB, "amount": "31", "symbol": None, "formatted": None}
    ]


def test_tx_show_of_an_unknown_hash_says_where_it_looked(hongbao_home, anvil):
    use_anvil(hongbao_home, anvil)
    result = run("show", "0x" + "12" * 32)
    assert isinstance(result.exception, WalletError)
    assert "neither the local history nor on local" in str(result.exception)


def test_tx_show_records_the_receipt_of_a_pending_transaction(hongbao_home, anvil, log):
    use_anvil(hongbao_home, anvil)
    receipt = Node(anvil.rpc()).pay(BOB, 1)
    log.record_sent(sent(hash=receipt["transactionHash"], sender=DEV, status="pending"))
    data = json.loads(run("show", receipt["transactionHash"], "--json").stdout)
    assert (data["sent"]["status"], data["sent"]["block"]) == ("confirmed", to_int(receipt["blockNumber"]))
    assert log.get_sent(31337, receipt["transactionHash"]).status == "confirmed"
