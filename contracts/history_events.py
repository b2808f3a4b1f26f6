"""History decoders for our contracts' events (see wallet/moves.py `Decoder`).

ETH a contract pays out leaves no Transfer log; the RedPacket's events say it instead.
A token packet's share or refund also has the token's own Transfer log (decoded for
every contract by wallet/moves.py), so these decoders add the ETH parts only:

- PacketClaimed(id, recipient, amount): an ETH share, unless the same receipt holds the
  token Transfer from the packet contract to the recipient;
- ClaimReimbursed(id, submitter, amount): ETH paid to whoever submitted a claim;
- PacketRefunded(id, creator, amount, deposit): the deposit (ETH) always, the amount in
  ETH unless a token Transfer to the creator carries it.

Only contracts the user recorded (`contracts add`, or our deployment) get a decoder: the
same event from any other contract is a stranger's log and moves nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from eth_hash.auto import keccak

from wallet import address as addr
from wallet import moves
from wallet.sync import Events

CLAIMED = "0x" + keccak(b"PacketClaimed(bytes32,address,uint256)").hex()
REIMBURSED = "0x" + keccak(b"ClaimReimbursed(bytes32,address,uint256)").hex()
REFUNDED = "0x" + keccak(b"PacketRefunded(bytes32,address,uint256,uint256)").hex()


def _words(data: str) -> list[int]:
    body = data.removeprefix("0x")
    return [int(body[i : i + 64], 16) for i in range(0, len(body), 64)]


def _token_paid(logs: Sequence[Mapping[str, Any]], contract: str, to: str, amount: int) -> bool:
    return any(
        moves.is_erc20_transfer(log)
        and (move := moves.erc20_transfer(log)).from_ == contract
        and move.to == to
        and move.amount == amount
        for log in logs
        if not log.get("removed")
    )


def red_packet(log: dict[str, Any], logs: Sequence[dict[str, Any]]) -> list[moves.Move]:
    topics = [str(t).lower() for t in log.get("topics") or []]
    if len(topics) != 3:
        return []
    contract = addr.to_checksum(log["address"])
    who = moves.topic_address(topics[2])
    try:
        words = _words(log.get("data") or "0x")
    except ValueError:
        return []
    if topics[0] == CLAIMED and len(words) == 1:
        if _token_paid(logs, contract, who, words[0]):
            return []
        return [moves.Move(None, contract, who, words[0], "red packet share")]
    if topics[0] == REIMBURSED and len(words) == 1:
        return [moves.Move(None, contract, who, words[0], "claim reimbursement")]
    if topics[0] == REFUNDED and len(words) == 2:
        amount, deposit = words
        eth = deposit if amount and _token_paid(logs, contract, who, amount) else amount + deposit
        return [moves.Move(None, contract, who, eth, "red packet refund")]
    return []


# Ours (deployed or added) and the one a chat message named, recognised by its code hash.
RED_PACKET_KEYS = ("red_packet", "red_packet_recognised")


def _red_packets(contracts: Mapping[str, str]) -> list[str]:
    return list(dict.fromkeys(addr.to_checksum(contracts[key]) for key in RED_PACKET_KEYS if contracts.get(key)))


def decoders(contracts: Mapping[str, str]) -> dict[str, moves.Decoder]:
    """Decoders for a network's recorded contracts (name -> address, as in config.toml)."""
    return dict.fromkeys(_red_packets(contracts), red_packet)


def events(contracts: Mapping[str, str]) -> list[Events]:
    """What `hongbao sync` watches besides transfers: the recorded RedPackets' payouts."""
    return [Events(address, (CLAIMED, REIMBURSED, REFUNDED), red_packet) for address in _red_packets(contracts)]


def method_names(artifacts: tuple[str, ...] = ("TestToken", "RedPacket", "TestVault")) -> dict[str, str]:
    """4-byte selector ("0x40c10f19") -> function name, for the calls of our own contracts
    that wallet/history.py shows only as a selector (it knows ERC-20's by itself)."""
    from wallet.calls import function_from_abi
    from wallet.errors import WalletError

    from .artifacts import load

    names: dict[str, str] = {}
    for artifact in artifacts:
        entries = load(artifact).abi
        for entry in entries:
            if entry.get("type") != "function":
                continue
            try:
                function = function_from_abi(entries, entry["name"])
            except WalletError:  # overloaded: shown by selector
                continue
            names.setdefault("0x" + function.selector.hex(), function.name)
    return names
