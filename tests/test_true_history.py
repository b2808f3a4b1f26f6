"""The history as the account sees it: direction, token units, decoded calls, block time;
and the local faucet for test tokens."""

from __future__ import annotations

from conftest import quick_wallet
from test_transfers import ALICE, point_local_at

from contracts import history_events
from wallet import moves
from wallet.localchain import DEV_ADDRESS

PACKETS = "0x" + "ab" * 20
TOKEN = "0x" + "cd" * 20
ME = "0x" + "11" * 20


def topic(address: str) -> str:
    return "0x" + "00" * 12 + address.removeprefix("0x").lower()


def word(n: int) -> str:
    return f"{n:064x}"


def claimed(recipient: str, amount: int) -> dict:
    return {
        "address": PACKETS,
        "topics": [history_events.CLAIMED, "0x" + "77" * 32, topic(recipient)],
        "data": "0x" + word(amount),
    }


def transfer(token: str, src: str, dst: str, amount: int) -> dict:
    return {"address": token, "topics": [moves.TRANSFER_TOPIC, topic(src), topic(dst)], "data": "0x" + word(amount)}


def test_red_packet_shares_and_refunds_are_decoded_from_recorded_contracts_only():
    from wallet.address import to_checksum

    me, packets, token = to_checksum(ME), to_checksum(PACKETS), to_checksum(TOKEN)
    decoders = history_events.decoders({"red_packet": PACKETS})
    eth_share = moves.from_receipt({"from": DEV_ADDRESS, "to": PACKETS, "value": 0}, [claimed(ME, 7)], decoders)
    assert eth_share == [moves.Move(None, packets, me, 7, "red packet share")]
    assert moves.view(eth_share, {me}, DEV_ADDRESS, packets).direction == "in"  # someone else submitted it

    token_share = moves.from_receipt(
        {"from": ME, "to": PACKETS}, [claimed(ME, 5), transfer(TOKEN, PACKETS, ME, 5)], decoders
    )
    assert token_share == [moves.Move(token, packets, me, 5)]  # counted once, as the token

    refund = {
        "address": PACKETS,
        "topics": [history_events.REFUNDED, "0x" + "77" * 32, topic(ME)],
        "data": "0x" + word(3) + word(2),
    }
    assert moves.from_receipt({"from": ME, "to": PACKETS}, [refund], decoders)[0].amount == 5
    # the same event from a contract nobody recorded moves nothing
    assert moves.from_receipt({"from": ME, "to": PACKETS}, [claimed(ME, 7)], {}) == []


def test_faucet_is_incoming_tokens_in_units_calls_decoded_one_clock(cli, anvil, hongbao_home):
    point_local_at(hongbao_home, anvil)
    me = quick_wallet(hongbao_home, name="me")
    rpc = anvil.rpc()
    future = 4_000_000_000  # far from the wall clock: the history must show the block's time
    rpc.call("evm_setNextBlockTimestamp", future)
    cli("faucet", me, "10")
    deployed = cli.json("token", "deploy-test", "--symbol", "TKN", "--decimals", "6", "--supply", "1")
    minted = cli.json("faucet", me, "100 TKN")  # the faucet mints the test token
    assert minted["status"] == "confirmed"
    cli("send", ALICE, "2.5 TKN", "--wallet", "me", "--yes")
    cli("token", "approve", "TKN", ALICE, "1", "--wallet", "me", "--yes")

    listed = cli.json("tx", "list")
    by_what = {(r["direction"], r["symbol"]) for r in listed}
    faucet_eth = next(r for r in listed if r["symbol"] == "ETH" and r["from"] == DEV_ADDRESS)
    assert faucet_eth["direction"] == "in" and faucet_eth["formatted"] == "10"  # not "out" to herself
    assert faucet_eth["timestamp"] >= future and faucet_eth["clock"] == "block"
    mint = next(r for r in listed if r["hash"] == minted["hash"])
    assert (mint["direction"], mint["formatted"], mint["symbol"], mint["method"]) == ("in", "100", "TKN", "mint")
    sent = next(r for r in listed if r["from"] == me and r["symbol"] == "TKN")
    assert (sent["direction"], sent["formatted"], sent["to"]) == ("out", "2.5", deployed["address"])
    assert sent["moves"][0]["to"] == ALICE and sent["counterparty"] == ALICE  # the recipient, not the token
    assert ("in", "TKN") in by_what
    human = " ".join(cli("tx", "list").stdout.split())
    assert "+100 TKN" in human and "-2.5 TKN" in human and "+10 ETH" in human
    assert "local faucet" in human and "base units" not in human
    approval = next(r for r in listed if r["method"] == "approve")
    assert (approval["direction"], approval["moves"]) == ("call", [])


def test_sync_finds_red_packet_shares_others_submitted_for_me(cli, anvil, hongbao_home):
    from test_redpacket import E18, build_world, key_for, params

    from wallet import address as addr
    from wallet import config

    point_local_at(hongbao_home, anvil)
    me = quick_wallet(hongbao_home, name="me")
    with anvil.rpc() as rpc:
        w = build_world(rpc)
        cfg = config.load(hongbao_home)
        cfg.networks["local"].contracts["red_packet"] = w.contract
        config.save(hongbao_home, cfg)
        creator, relayer = w.accounts[1], w.accounts[2]
        ck = key_for("history eth")
        eth_packet, _ = w.rp.create(creator, params(addr.from_private_key(ck), 3 * E18, 3))
        eth_share, _ = w.rp.claim(relayer, ck, eth_packet, me, 0)  # a relayer submits my claim
        tk = key_for("history token")
        token_packet, _ = w.rp.create(creator, params(addr.from_private_key(tk), 6 * E18, 2, token=w.token))
        token_share, _ = w.rp.claim(relayer, tk, token_packet, me, 0)

    found = cli.json("sync")["found"]
    assert sorted((f["token"] or "ETH", f["amount"]) for f in found) == sorted(
        [("ETH", str(eth_share)), (w.token, str(token_share))]
    )  # the token share once, as the token; the ETH share from the packet's event
    listed = {r["symbol"]: r for r in cli.json("tx", "list")}
    assert listed["ETH"]["direction"] == "in" and listed["ETH"]["amount"] == str(eth_share)
    assert listed["ETH"]["counterparty"] == w.contract and listed["ETH"]["counterparty_name"] == "red_packet"
    assert listed["TKN"]["direction"] == "in" and listed["TKN"]["formatted"] == "3"
