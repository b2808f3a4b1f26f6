"""Seaport 1.6 orders (contracts/protocols/seaport.py) against the real contract on anvil: the
EIP-712 order hash computed here is the contract's `getOrderHash` and eth-account's typed-data
digest for any mix of items; an order restricted to the peer is filled by the peer only;
cancelled and expired orders are refused by the chain; the fill is read back from its event."""

from __future__ import annotations

import secrets

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracts.deploy import deployment_tx
from contracts.protocols import abi, npm, seaport
from wallet import address as addr
from wallet import signing
from wallet.rpc import RpcError, to_int

pytest_plugins = ("defi_fixtures",)
E18 = 10**18
ALICE_KEY = bytes.fromhex("0c" * 32)
BOB = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"  # anvil's unlocked account 1
CAROL = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"  # anvil's unlocked account 2

_address = st.binary(min_size=20, max_size=20).map(lambda b: addr.to_checksum(b.hex()))
_uint = st.integers(0, 2**256 - 1)
_item = st.builds(
    seaport.Item,
    kind=st.sampled_from([seaport.NATIVE, seaport.ERC20, seaport.ERC721]),
    token=_address,
    identifier=_uint,
    amount=_uint,
    recipient=_address,
)
_order = st.builds(
    seaport.Order,
    offerer=_address,
    zone=_address,
    offer=st.lists(_item, max_size=4).map(tuple),
    consideration=st.lists(_item, max_size=4).map(tuple),
    start=st.integers(0, 2**64),
    end=st.integers(0, 2**64),
    salt=_uint,
    counter=_uint,
    order_type=st.integers(0, 3),
)


@given(order=_order)
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_the_order_hash_is_the_contracts_and_the_digest_is_eip712s(defi, anvil, order):
    where = defi.contracts["seaport"]
    with anvil.rpc() as rpc:
        assert seaport.read_order_hash(rpc, where, order) == seaport.order_hash(order)
    typed = seaport.typed_data(order, 31337, where)
    assert signing.typed_data_hash(typed) == seaport.digest(order, 31337, where)


def _send(rpc, sender: str, to: str, data: bytes, value: int = 0) -> dict:
    tx_hash = rpc.call(
        "eth_sendTransaction", {"from": sender, "to": to, "data": "0x" + data.hex(), "value": hex(value)}
    )
    receipt = _receipt(rpc, tx_hash)
    assert to_int(receipt["status"]) == 1, receipt
    return receipt


def _receipt(rpc, tx_hash: str) -> dict:
    """The receipt, once anvil (automine, asynchronous) has it."""
    from types import SimpleNamespace

    from wallet.transfers import wait_for_receipt

    return wait_for_receipt(SimpleNamespace(rpc=rpc), tx_hash, timeout=10)


def _reverts(rpc, sender: str, to: str, data: bytes, value: int = 0) -> bytes:
    from wallet.rpc import revert_data

    with pytest.raises(RpcError) as caught:
        rpc.call("eth_call", {"from": sender, "to": to, "data": "0x" + data.hex(), "value": hex(value)}, "latest")
    return revert_data(caught.value) or b""


def _now(rpc) -> int:
    return to_int(rpc.call("eth_getBlockByNumber", "latest", False)["timestamp"])


def test_only_the_peer_fills_and_cancelled_or_expired_orders_are_refused(defi, anvil):
    where, tkn = defi.contracts["seaport"], defi.tokens["TKN"]
    alice = _alice()
    with anvil.rpc() as rpc:
        rpc.call("anvil_setBalance", alice, hex(10 * E18))
        rpc.call("anvil_impersonateAccount", alice)
        nft = _deploy_nft(rpc)
        _send(rpc, BOB, nft, abi.data("mint(address,uint256)", alice, 7))
        _send(rpc, alice, nft, abi.data("approve(address,uint256)", where, 7))
        counter = seaport.read_counter(rpc, where, alice)
        now = _now(rpc)
        order = seaport.Order(
            alice,
            BOB,
            (seaport.Item(seaport.ERC721, nft, 7, 1),),
            (seaport.Item(seaport.NATIVE, seaport.ZERO, 0, E18, alice),),
            now,
            now + 3600,
            secrets.randbits(256),
            counter,
        )
        signature = seaport.sign(ALICE_KEY, order, 31337, where)
        assert seaport.recover(order, 31337, where, signature) == alice
        fill = seaport.fulfill_data(order, signature)
        assert _reverts(rpc, CAROL, where, fill, E18)[:4] == bytes.fromhex("fb5014fc")  # InvalidRestrictedOrder
        assert _reverts(rpc, BOB, where, fill, E18 - 1)  # short of what it asks
        receipt = _send(rpc, BOB, where, fill, E18)
        (event,) = seaport.fills(receipt, where)
        hash_ = seaport.order_hash(order)
        assert (event.order_hash, event.offerer, event.zone, event.recipient) == (hash_, alice, BOB, BOB)
        assert addr.parse(abi.read_one(rpc, nft, "ownerOf(uint256)(address)", 7)) == BOB
        assert seaport.read_status(rpc, where, hash_).fully_filled
        assert _reverts(rpc, BOB, where, fill, E18)  # not twice
        gas = to_int(receipt["gasUsed"])
        assert 100_000 < gas < 200_000, gas
        print(f"gas of a fill (ERC-721 for ETH): {gas}")

        # TKN for ETH: cancelled by Alice, then one that expired.
        _send(rpc, BOB, tkn, abi.data("mint(address,uint256)", alice, 100 * E18))
        _send(rpc, alice, tkn, abi.data("approve(address,uint256)", where, 100 * E18))
        tokens = seaport.Order(
            alice,
            BOB,
            (seaport.Item(seaport.ERC20, tkn, 0, 100 * E18),),
            (seaport.Item(seaport.NATIVE, seaport.ZERO, 0, E18 // 20, alice),),
            now,
            now + 3600,
            1,
            counter,
        )
        signed = seaport.sign(ALICE_KEY, tokens, 31337, where)
        assert _reverts(rpc, CAROL, where, seaport.cancel_data([tokens]))  # only the offerer (or zone) cancels
        _send(rpc, alice, where, seaport.cancel_data([tokens]))
        assert seaport.read_status(rpc, where, seaport.order_hash(tokens)).cancelled
        assert _reverts(rpc, BOB, where, seaport.fulfill_data(tokens, signed), E18 // 20)
        late = seaport.Order(**{**tokens.__dict__, "salt": 2, "end": now + 60})
        rpc.call("evm_mine", now + 61)
        late_signed = seaport.sign(ALICE_KEY, late, 31337, where)
        assert _reverts(rpc, BOB, where, seaport.fulfill_data(late, late_signed), E18 // 20)
        forged = seaport.sign(bytes.fromhex("0d" * 32), tokens.with_counter(counter), 31337, where)
        fresh = seaport.Order(**{**tokens.__dict__, "salt": 3})
        assert _reverts(rpc, BOB, where, seaport.fulfill_data(fresh, forged), E18 // 20)  # not Alice's signature


def _alice() -> str:
    return signing.recover_hash(b"\x01" * 32, signing.sign_hash(ALICE_KEY, b"\x01" * 32))


def _deploy_nft(rpc) -> str:
    tx_hash = rpc.call("eth_sendTransaction", {"from": BOB, "data": "0x" + deployment_tx(npm.load("TestERC721")).hex()})
    return addr.parse(_receipt(rpc, tx_hash)["contractAddress"])


def test_defi_deploy_adds_seaport_where_the_other_protocols_are_recorded(cli, hongbao_home, anvil, defi):
    from wallet import config

    defi.record(hongbao_home, anvil)
    cfg = config.load(hongbao_home)
    del cfg.networks["local"].contracts["seaport"]  # recorded before Seaport joined `defi deploy`
    config.save(hongbao_home, cfg)
    out = cli.json("defi", "deploy")
    assert out["status"] == "added" and list(out["contracts"]) == ["seaport"]
    where = config.load(hongbao_home).networks["local"].contracts["seaport"]
    assert where == out["contracts"]["seaport"] != defi.contracts["seaport"]
    with anvil.rpc() as rpc:
        version, _separator, _controller = abi.read(rpc, where, "information()(string,bytes32,address)")
    assert version == "1.6"


def test_sign_typed_data_refuses_a_seaport_order(cli, hongbao_home, tmp_path):
    """A site asking to "sign in" with a Seaport order giving away an NFT (the usual phishing)."""
    import json

    from conftest import quick_wallet

    victim = quick_wallet(hongbao_home)
    order = seaport.Order(victim, seaport.ZERO, (seaport.Item(seaport.ERC721, BOB, 7, 1),), (), 0, 2**40, 1, 0, 0)
    typed = seaport.typed_data(order, 1, CAROL)
    renamed = {**typed, "domain": {**typed["domain"], "name": "Login"}}  # still an order
    for phish in (typed, renamed):
        path = tmp_path / "order.json"
        path.write_text(json.dumps(phish))
        result = cli("wallet", "sign-typed-data", str(path), check=False)
        assert result.returncode == 1 and "refused: this is a Seaport order" in result.stderr, result.stderr
    assert not seaport.is_seaport_order({"domain": {"name": "Mail"}, "primaryType": "Mail", "types": {}})
