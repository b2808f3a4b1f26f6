"""A claim request reaches the creator over the chat from anyone: a stranger's request for
a packet the creator never made (or made on another contract) is refused, final, and costs
the creator nothing: no transaction is signed."""

from __future__ import annotations

import secrets
from types import SimpleNamespace

from conftest import ANVIL_KEYS

from cli.services.packets import serve_claim_requests
from contracts import packet_keeper
from messaging import payloads
from wallet import address as addr
from wallet import config
from wallet.chain import Chain
from wallet.history import History


def test_a_strangers_claim_request_for_a_packet_i_never_made_sends_nothing(anvil, tmp_path):
    chain = Chain.connect(config.Network("local", anvil.url, 31337))
    key = bytes.fromhex(ANVIL_KEYS[0])
    me = addr.from_private_key(key)
    before = chain.rpc.call("eth_getTransactionCount", me, "latest")
    request = payloads.RedPacketClaim(
        31337,
        addr.to_checksum("0x" + secrets.token_hex(20)),
        "0x" + secrets.token_hex(32),
        addr.to_checksum("0x" + secrets.token_hex(20)),
        0,
        "0x" + "11" * 65,
    )
    message = SimpleNamespace(direction="in", payload=request, sender="0x" + "ab" * 20, id="m1")
    served = serve_claim_requests(
        chain, [message], key, packet_keeper.Keeper(tmp_path), History(tmp_path / "h.sqlite"), tmp_path / "lock"
    )
    assert [(s.tx, s.final) for s in served] == [(None, True)]
    assert "not a packet of mine" in served[0].reason
    assert chain.rpc.call("eth_getTransactionCount", me, "latest") == before
