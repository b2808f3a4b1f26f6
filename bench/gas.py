"""RedPacket gas: receipt gasUsed (the 21,000 base included) per operation. A benchmark, not a test.

    .venv/bin/python bench/gas.py [--seed N] [--hardfork NAME] [--markdown]

Starts its own anvil (default hardfork) on a free port, deploys TestToken and RedPacket
from dev account 0 and sends every transaction from an unlocked dev account with
eth_sendTransaction and an explicit gas limit. Exits with status 1 if a row is over its
target (issue #4), so it can serve as a CI-like check; no test runs it.

How the rows are measured:
- "holder": the recipient is a dev account, so it already holds ETH (and, for ERC-20 rows,
  TestToken sent to it beforehand), and it submits its own claim, as a claimer with ETH
  does. "fresh": a new random address with nothing, so the claim is submitted by
  another dev account (the relayer): an ETH share then pays for a new account (+25,000)
  and a cold recipient (+2,500), an ERC-20 share for a new balance slot (+17,100).
- Claims are not the packet's first unless the row says so: every packet's first claim
  is made (unmeasured) before the measured ones; for authorized packets all slots share
  bitmap word 0, which only the first claim pays for.
- The ERC-20 rows run after another TestToken packet exists, so the contract already
  holds some of the token (the usual case); creators approve exactly the packet's total.
- Refunds run after advancing the chain's clock past the packets' expiry.
Nonces, claim keys and fresh addresses come from a seeded generator, so runs repeat.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from contracts import redpacket as rp
from contracts.artifacts import load
from contracts.deploy import deployment_tx
from wallet import abi, erc20, localchain
from wallet import address as addr
from wallet.rpc import Rpc, RpcError, to_int

RECEIPT_TIMEOUT_S = 30.0
DAY = 86_400
ETH = 10**18
SHARES = 10

# Mask Network's HappyRedPacket on anvil 1.7.1 with solc 0.8.28 (figures from our issue);
# its deployment sits behind a proxy that adds about PROXY_OVERHEAD to each call.
MASK = {"create": 127_882, "claim_eth": 73_103, "claim_erc20": 87_887, "refund": 40_201}
PROXY_OVERHEAD = 7_300
# our row name -> the Mask figure it compares with
MASK_OF = {
    "create": "create",
    "claim_eth": "claim_eth",
    "claim_open": "claim_eth",
    "claim_erc20": "claim_erc20",
    "refund": "refund",
}


class BenchError(RuntimeError):
    pass


@dataclass
class Row:
    operation: str
    gas: int
    target: int | None = None
    mask: int | None = None  # Mask HappyRedPacket's figure for the same operation, if the issue gives one

    @property
    def over(self) -> bool:
        return self.target is not None and self.gas > self.target


@dataclass
class Packet:
    id: bytes
    claim_key: bytes
    token: str | None
    next_slot: int = 0
    split: rp.Split | None = None

    def slot(self) -> int:
        slot, self.next_slot = self.next_slot, self.next_slot + 1
        return slot


class Bench:
    def __init__(self, rpc: Rpc, seed: int) -> None:
        self.rpc = rpc
        self.rng = random.Random(seed)
        self.chain_id = to_int(rpc.call("eth_chainId"))
        accounts = [addr.to_checksum(a) for a in rpc.call("eth_accounts")]
        if len(accounts) < 10:
            raise BenchError(f"anvil offers {len(accounts)} dev accounts; 10 are needed")
        self.creator = accounts[0]
        self.holders = accounts[1:9]
        self.relayer = accounts[9]
        self.token = ""
        self.contract = ""

    # -- transactions -------------------------------------------------------------------

    def send(self, sender: str, data: bytes, to: str | None = None, value: int = 0, gas: int = 1_000_000) -> dict:
        tx = {"from": sender, "data": "0x" + data.hex(), "gas": hex(gas), "value": hex(value)}
        if to is not None:
            tx["to"] = to
        tx_hash = self.rpc.call("eth_sendTransaction", tx)
        deadline = time.monotonic() + RECEIPT_TIMEOUT_S
        delay = 0.005
        while (receipt := self.rpc.call("eth_getTransactionReceipt", tx_hash)) is None:
            if time.monotonic() > deadline:
                raise BenchError(f"no receipt for {tx_hash} within {RECEIPT_TIMEOUT_S:.0f} s")
            time.sleep(delay)  # polling for the receipt with a deadline, not a fixed wait
            delay = min(delay * 2, 0.1)
        if to_int(receipt.get("status")) != 1:
            raise BenchError(f"transaction {tx_hash} reverted (gas used {to_int(receipt.get('gasUsed')):,})")
        return receipt

    def fresh_address(self) -> str:
        return addr.to_checksum("0x" + self.rng.randbytes(20).hex())

    def claim_key(self) -> bytes:
        while True:
            key = self.rng.randbytes(32)
            try:
                addr.check_private_key(key)
            except addr.InvalidKey:  # 0 or >= n: astronomically rare, draw again
                continue
            return key

    # -- setup --------------------------------------------------------------------------

    def deploy(self) -> int:
        """TestToken and RedPacket from the creator, TestToken to every holder; RedPacket's deploy gas."""
        token = self.send(self.creator, deployment_tx(load("TestToken"), "Bench", "BNCH", 18, 10**27), gas=5_000_000)
        self.token = addr.to_checksum(token["contractAddress"])
        receipt = self.send(self.creator, deployment_tx(load("RedPacket")), gas=10_000_000)
        self.contract = addr.to_checksum(receipt["contractAddress"])
        for holder in self.holders:
            self.send(self.creator, erc20.transfer_data(holder, 1_000 * ETH), to=self.token)
        return to_int(receipt["gasUsed"])

    # -- operations ---------------------------------------------------------------------

    def create(
        self, *, token: bool = False, random_split: bool = False, open_: bool = False, deposit: int = 0
    ) -> tuple[Packet, int]:
        key = self.claim_key()
        params = rp.CreateParams(
            nonce=self.rng.randbytes(32),
            total=ETH,
            shares=SHARES,
            duration=DAY,
            claim_key=addr.from_private_key(key),
            token=self.token if token else None,
            deposit=deposit,
            random=random_split,
            open=open_,
            greeting=rp.encode_greeting("恭喜发财"),
            max_tip=10**9 if deposit else 0,
        )
        split = rp.split_tree(rp.draw_split(ETH, SHARES, self.rng)) if random_split else None
        if split is not None:
            params = replace(params, root=split.root)
        if token:
            self.send(self.creator, abi.call_data(erc20.APPROVE, self.contract, params.total), to=self.token)
        receipt = self.send(self.creator, rp.create_data(params), to=self.contract, value=params.value)
        packet_id = rp.packet_id(self.chain_id, self.contract, self.creator, params.nonce)
        created = [
            e for e in (rp.parse_log(log, self.contract) for log in receipt["logs"]) if isinstance(e, rp.Created)
        ]
        if len(created) != 1 or created[0].id != packet_id:
            raise BenchError("create emitted no PacketCreated event for the expected packet id")
        return Packet(packet_id, key, params.token, split=split), to_int(receipt["gasUsed"])

    def claim(self, packet: Packet, recipient: str, submitter: str, *, reimbursed: bool | None = False) -> int:
        slot = packet.slot()  # ignored by open packets, harmless to vary
        signature = rp.sign_claim(packet.claim_key, self.chain_id, self.contract, packet.id, recipient, slot)
        amount, proof = (packet.split.amounts[slot], packet.split.proofs[slot]) if packet.split else (0, ())
        data = rp.claim_data(packet.id, recipient, slot, signature, amount, proof)
        receipt = self.send(submitter, data, to=self.contract)
        events = [rp.parse_log(log, self.contract) for log in receipt["logs"]]
        claimed = [e for e in events if isinstance(e, rp.Claimed)]
        if len(claimed) != 1 or claimed[0].recipient != recipient or claimed[0].amount <= 0:
            raise BenchError(f"claim to {recipient} emitted no PacketClaimed event for it")
        if reimbursed is not None and reimbursed != any(isinstance(e, rp.Reimbursed) for e in events):
            raise BenchError(f"claim by {submitter}: expected reimbursement {reimbursed}, the events say otherwise")
        return to_int(receipt["gasUsed"])

    def refund(self, packet: Packet) -> int:
        receipt = self.send(self.creator, rp.refund_data(packet.id), to=self.contract)
        if not any(isinstance(e, rp.Refunded) for e in (rp.parse_log(log, self.contract) for log in receipt["logs"])):
            raise BenchError("refund emitted no PacketRefunded event")
        return to_int(receipt["gasUsed"])


def measure(bench: Bench) -> tuple[list[Row], dict[str, int]]:
    rows: list[Row] = []
    key: dict[str, int] = {}  # gas of the rows the Mask comparison uses
    holders = iter(bench.holders)

    def add(operation: str, gas: int, target: int | None = None, name: str | None = None) -> None:
        rows.append(Row(operation, gas, target, MASK[MASK_OF[name]] if name else None))
        if name:
            key[name] = gas

    def first_claim(packet: Packet) -> None:  # unmeasured: later claims are "not the first"
        bench.claim(packet, bench.fresh_address(), bench.relayer, reimbursed=None)

    def claim_pair(
        label: str, packet: Packet, target: int | None, name: str | None = None, *, fresh_label: str = "fresh address"
    ) -> None:
        holder = next(holders)
        add(f"{label} → holder", bench.claim(packet, holder, holder), target, name)
        add(f"{label} → {fresh_label}", bench.claim(packet, bench.fresh_address(), bench.relayer))

    # -- creates
    fixed, gas = bench.create()
    add("create: ETH, 10 shares, fixed", gas, 105_000, "create")
    random_auth, gas = bench.create(random_split=True)
    add("create: ETH, 10 shares, random", gas)
    token_refund, _ = bench.create(token=True, deposit=ETH // 100)  # the contract's first TestToken
    token_packet, gas = bench.create(token=True)
    add("create: ERC-20 (TestToken), 10 shares", gas)
    deposit_packet, gas = bench.create(deposit=ETH // 100)
    add("create: ETH, 10 shares, fixed, gas deposit", gas)
    open_fixed, _ = bench.create(open_=True)
    first_fresh, _ = bench.create()

    # -- authorized claims: the first of a packet pays bitmap word 0
    holder = next(holders)
    add("claim fixed, authorized, packet's first claim → holder", bench.claim(fixed, holder, holder))
    add(
        "claim fixed, authorized, packet's first claim → fresh address",
        bench.claim(first_fresh, bench.fresh_address(), bench.relayer),
    )
    claim_pair("claim fixed, authorized", fixed, 60_000, "claim_eth")
    holder = next(holders)  # the same, sent by someone else: the recipient's account is then cold (+2,500)
    add("claim fixed, authorized → holder, sent by a relayer", bench.claim(fixed, holder, bench.relayer))
    first_claim(random_auth)
    claim_pair("claim random, authorized", random_auth, 60_000)

    # -- open claims: each pays a claimedBy slot
    first_claim(open_fixed)
    claim_pair("claim fixed, open", open_fixed, 70_000, "claim_open")

    # -- ERC-20 and relayed claims
    first_claim(token_packet)
    claim_pair("claim ERC-20, authorized", token_packet, 70_000, "claim_erc20", fresh_label="fresh address (no token)")
    first_claim(deposit_packet)
    recipient = next(holders)
    add(
        "claim relayed by the creator, reimbursed from the deposit → fresh address",
        bench.claim(deposit_packet, bench.fresh_address(), bench.creator, reimbursed=True),
    )
    add(
        "claim relayed by the creator, reimbursed from the deposit → holder",
        bench.claim(deposit_packet, recipient, bench.creator, reimbursed=True),
    )
    add(
        "claim of a deposit packet by a third party (not reimbursed) → holder",
        bench.claim(deposit_packet, next(holders), bench.relayer, reimbursed=False),
    )

    # -- refunds, after expiry
    first_claim(token_refund)
    bench.rpc.call("evm_increaseTime", hex(DAY + 1))
    bench.rpc.call("evm_mine")
    add("refund: ETH packet with shares left", bench.refund(fixed), 40_000, "refund")
    add("refund: ERC-20 packet with a gas deposit", bench.refund(token_refund))
    return rows, key


def node_info(rpc: Rpc) -> str:
    version = rpc.call("web3_clientVersion")
    try:
        hardfork = rpc.call("anvil_nodeInfo").get("hardFork") or "?"
    except RpcError:  # not fatal: only for the caption
        hardfork = "?"
    return f"{version}, hardfork {hardfork}"


def comparison(key: dict[str, int]) -> list[tuple[str, int, int, str]]:
    """(operation, Mask, Hongbao, Hongbao row) for the four operations the issue gives figures for."""
    return [
        ("create a 10-share ETH packet", MASK["create"], key["create"], "ETH, fixed"),
        ("claim an ETH share → ETH holder", MASK["claim_eth"], key["claim_eth"], "fixed, authorized"),
        ("claim an ETH share → ETH holder", MASK["claim_eth"], key["claim_open"], "fixed, open"),
        ("claim an ERC-20 share → token holder", MASK["claim_erc20"], key["claim_erc20"], "authorized"),
        ("refund", MASK["refund"], key["refund"], "ETH, shares left"),
    ]


def markdown(deploy_gas: int, rows: list[Row]) -> str:
    lines = [
        "| operation | gas | target | Mask HappyRedPacket |",
        "|---|---:|---:|---:|",
        f"| deploy RedPacket | {deploy_gas:,} | | |",
    ]
    for row in rows:
        mask = f"{row.mask:,} (~{row.mask + PROXY_OVERHEAD:,} via its proxy)" if row.mask is not None else ""
        target = f"≤ {row.target:,}" if row.target is not None else ""
        lines.append(f"| {row.operation} | {row.gas:,} | {target} | {mask} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=4, help="seed for nonces, claim keys and fresh addresses")
    parser.add_argument("--hardfork", help="anvil's --hardfork (default: anvil's own default)")
    parser.add_argument(
        "--markdown", action="store_true", help="also print the main table as Markdown (for the README)"
    )
    args = parser.parse_args()

    from rich.console import Console
    from rich.table import Table

    process, url = localchain.spawn_ephemeral(*(["--hardfork", args.hardfork] if args.hardfork else []))
    try:
        with Rpc(url) as rpc:
            info = node_info(rpc)
            bench = Bench(rpc, args.seed)
            deploy_gas = bench.deploy()
            rows, key = measure(bench)
    finally:
        localchain.terminate(process)

    console = Console()
    if not console.is_terminal and console.width < 120:
        console = Console(width=120)  # piped (CI, a log file): don't wrap the operation names
    table = Table(title="bench/gas.py: receipt gasUsed, 21,000 base included")
    table.add_column("operation")
    table.add_column("gas", justify="right")
    table.add_column("target", justify="right")
    table.add_column("status")
    table.add_row("deploy RedPacket", f"{deploy_gas:,}", "", "")
    for row in rows:
        status = "" if row.target is None else "[red]OVER[/red]" if row.over else "[green]OK[/green]"
        table.add_row(row.operation, f"{row.gas:,}", f"≤ {row.target:,}" if row.target is not None else "", status)
    console.print(table)
    console.print(
        f"{info}. holder: a dev account (holds ETH, and TestToken for ERC-20 rows) that sends its own claim"
        " unless the row says a relayer does; fresh: a new address, its claim sent by a relayer."
    )

    versus = Table(title="vs Mask Network HappyRedPacket (anvil 1.7.1, solc 0.8.28; its proxy adds ~7,300 per call)")
    for column in ("operation", "Hongbao row", "Hongbao", "Mask", "Mask via proxy", "Hongbao − Mask"):  # noqa: RUF001  a real minus sign
        versus.add_column(column, justify="left" if column in ("operation", "Hongbao row") else "right")
    for operation, mask, ours, which in comparison(key):
        versus.add_row(operation, which, f"{ours:,}", f"{mask:,}", f"~{mask + PROXY_OVERHEAD:,}", f"{ours - mask:+,}")
    console.print(versus)

    if args.markdown:
        console.print(markdown(deploy_gas, rows), markup=False, highlight=False, soft_wrap=True)

    over = [row for row in rows if row.over]
    if over:
        console.print(f"[red]{len(over)} row(s) over target:[/red] " + "; ".join(row.operation for row in over))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
