"""RedPacket.sol on a real anvil, driven through contracts/redpacket.py: the claim digest,
happy paths (ETH fixed/random, ERC-20, authorized slots, open packets, sponsored claims),
every revert path with its exact custom error, hostile and gas-hungry recipients,
fee-on-transfer and no-bool tokens, expiry and refunds.

The helper section at the top is shared with test_redpacket_invariants.py (imported, not
copied). Expected reverts are checked with eth_call and the 4-byte custom error selector;
`at=` pins the call's block timestamp (a block override) for expiry boundaries.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass
from typing import Any

import pytest
from eth_hash.auto import keccak

from contracts import redpacket as rp
from contracts.artifacts import available, load
from contracts.deploy import deployment_tx
from wallet import abi, erc20, signing
from wallet import address as addr
from wallet.rpc import Rpc, RpcError, revert_data, to_int

# == shared helpers (imported by test_redpacket_invariants.py) ===========================

CHAIN_ID = 31337
E18 = 10**18
GWEI = 10**9
DAY = 86_400
MAX_UINT = 2**256 - 1
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
ALLOWANCE_GAS = 100_000  # RedPacket.CLAIM_GAS_ALLOWANCE
ZERO = "0x" + "00" * 20


def _error_names() -> dict[bytes, str]:
    """4-byte selector -> error signature, over every committed artifact (ours and OpenZeppelin's)."""
    from contracts.deploy import abi_type

    names: dict[bytes, str] = {}
    for name in available():
        for entry in load(name).abi:
            if entry.get("type") == "error":
                signature = f"{entry['name']}({','.join(abi_type(i) for i in entry.get('inputs', []))})"
                names[abi.selector(signature)] = signature
    return names


ERROR_NAMES = _error_names()


def error_selector(name: str) -> bytes:
    """The selector of a custom error given by name (`Expired`) or full signature."""
    signature = name if "(" in name else f"{name}()"
    return abi.selector(signature)


def describe_revert(data: bytes | None) -> str:
    if data and data[:4] in ERROR_NAMES:
        return f"{ERROR_NAMES[data[:4]]} [{rp.explain_revert(data)}]"
    return rp.explain_revert(data)


def key_for(label: str) -> bytes:
    """A deterministic private key (tests only)."""
    return keccak(f"hongbao redpacket test key: {label}".encode())


def address_for(label: str) -> str:
    """A fresh address with no ETH (nobody ever funds these labels)."""
    return addr.from_private_key(key_for(label))


_nonces = itertools.count(1)


def new_nonce() -> bytes:
    return keccak(f"nonce {next(_nonces)}".encode())


def wait_receipt(rpc: Rpc, tx_hash: str, timeout: float = 10.0) -> dict:
    deadline = time.monotonic() + timeout
    while (receipt := rpc.call("eth_getTransactionReceipt", tx_hash)) is None:
        if time.monotonic() > deadline:
            raise AssertionError(f"{tx_hash} not mined within {timeout} s")
        time.sleep(0.0005)  # polling a condition with a deadline
    return receipt


def eth_call(
    rpc: Rpc, frm: str, to: str, data: bytes, value: int = 0, *, at: int | None = None, gas_price: int | None = None
) -> bytes:
    """eth_call on the latest state; `at` overrides the block timestamp. Without `gas_price`
    tx.gasprice is 0 in the call, so a claim reimburses nothing."""
    tx = {"from": frm, "to": to, "data": "0x" + data.hex(), "value": hex(value)}
    if gas_price is not None:
        tx["gasPrice"] = hex(gas_price)
    params: list[Any] = [tx, "latest"]
    if at is not None:
        params += [{}, {"time": hex(at)}]
    return bytes.fromhex(rpc.call("eth_call", *params)[2:])


def call_error(
    rpc: Rpc, frm: str, to: str, data: bytes, value: int = 0, *, at: int | None = None, gas_price: int | None = None
) -> bytes | None:
    """The revert data of this call; AssertionError if it succeeds."""
    try:
        out = eth_call(rpc, frm, to, data, value, at=at, gas_price=gas_price)
    except RpcError as error:
        return revert_data(error)
    raise AssertionError(f"expected a revert, the call succeeded and returned 0x{out.hex()}")


def expect_error(
    rpc: Rpc,
    frm: str,
    to: str,
    data: bytes,
    name: str,
    value: int = 0,
    *,
    at: int | None = None,
    gas_price: int | None = None,
) -> None:
    got = call_error(rpc, frm, to, data, value, at=at, gas_price=gas_price)
    assert got is not None and got[:4] == error_selector(name), f"expected {name}, got {describe_revert(got)}"


def send(
    rpc: Rpc,
    frm: str,
    to: str | None,
    data: bytes = b"",
    value: int = 0,
    *,
    gas: int | None = None,
    gas_price: int | None = None,
    ok: bool = True,
) -> dict:
    """eth_sendTransaction from an unlocked dev account; the receipt (status 1 unless ok=False).

    Without `gas` it is estimated first, so a reverting tx fails here with its reason; pass
    `gas` (and ok=False) to get a reverted transaction mined. `gas_price` makes it a legacy tx
    whose tx.gasprice is exactly that.

    The estimate is made with a non-zero gas price: a claim's reimbursement branch runs only
    when tx.gasprice > 0, and anvil's own estimate for a tx without fee fields leaves it out,
    so the tx would run out of gas (see test_gas_estimate_without_a_price_misses_the_reimbursement).
    """
    tx: dict[str, Any] = {"from": frm, "data": "0x" + data.hex(), "value": hex(value)}
    if to is not None:
        tx["to"] = to
    if gas_price is not None:
        tx["gasPrice"] = hex(gas_price)
    try:
        if gas is None:
            gas = to_int(rpc.call("eth_estimateGas", {**tx, "gasPrice": hex(gas_price or GWEI)})) * 6 // 5
        tx["gas"] = hex(gas)
        tx_hash = rpc.call("eth_sendTransaction", tx)
    except RpcError as error:
        raise AssertionError(f"transaction refused: {error} ({describe_revert(revert_data(error))})") from None
    receipt = wait_receipt(rpc, tx_hash)
    if ok and to_int(receipt["status"]) != 1:
        raise AssertionError(f"transaction {tx_hash} reverted")
    return receipt


def gas_cost(receipt: dict) -> int:
    return to_int(receipt["gasUsed"]) * to_int(receipt["effectiveGasPrice"])


def balance(rpc: Rpc, who: str) -> int:
    return to_int(rpc.call("eth_getBalance", who, "latest"))


def token_balance(rpc: Rpc, token: str, who: str) -> int:
    return erc20.balance_of(rpc, token, who)


def latest_timestamp(rpc: Rpc) -> int:
    return to_int(rpc.call("eth_getBlockByNumber", "latest", False)["timestamp"])


def block_of(rpc: Rpc, receipt: dict) -> dict:
    return rpc.call("eth_getBlockByNumber", receipt["blockNumber"], False)


def warp(rpc: Rpc, seconds: int) -> int:
    """Move time forward and mine a block; the new latest timestamp."""
    rpc.call("evm_increaseTime", seconds)
    rpc.call("evm_mine")
    return latest_timestamp(rpc)


def deploy(rpc: Rpc, frm: str, name: str, *args: Any) -> str:
    receipt = send(rpc, frm, None, deployment_tx(load(name), *args))
    return addr.to_checksum(receipt["contractAddress"])


def events(receipt: dict, contract: str) -> list[Any]:
    """RedPacket events of a receipt, emitted by `contract` only."""
    return [e for e in (rp.parse_log(log, contract) for log in receipt["logs"]) if e is not None]


def fee_of(amount: int) -> int:
    """FeeOnTransferToken's burn on a transfer of `amount`."""
    return amount // 100


# Lucky-draw splits the tests drew, by root: a random packet's claims carry its slot's amount
# and proof (RedPackets.claim_tx finds them from the packet's on-chain root).
SPLITS: dict[bytes, rp.Split] = {}


def params(claim_key: str, total: int, shares: int, **kwargs: Any) -> rp.CreateParams:
    """CreateParams; a random packet gets a freshly drawn split (unless `root` is given)."""
    kwargs.setdefault("nonce", new_nonce())
    kwargs.setdefault("duration", DAY)
    if kwargs.get("random") and "root" not in kwargs and not kwargs.get("open") and 1 <= shares <= total < 2**96:
        split = rp.split_tree(rp.draw_split(total, shares))
        SPLITS[split.root] = split
        kwargs["root"] = split.root
    return rp.CreateParams(total=total, shares=shares, claim_key=claim_key, **kwargs)


@dataclass
class RedPackets:
    """One deployed RedPacket and the calls the tests make on it."""

    rpc: Rpc
    address: str
    chain_id: int = CHAIN_ID

    def id(self, creator: str, nonce: bytes) -> bytes:
        return rp.packet_id(self.chain_id, self.address, creator, nonce)

    def create(self, creator: str, p: rp.CreateParams, *, value: int | None = None, **kw: Any) -> tuple[bytes, dict]:
        receipt = send(self.rpc, creator, self.address, rp.create_data(p), p.value if value is None else value, **kw)
        created = [e for e in events(receipt, self.address) if isinstance(e, rp.Created)]
        assert len(created) == 1, created
        return created[0].id, receipt

    def claim_tx(
        self,
        claim_key: bytes,
        packet: bytes,
        recipient: str,
        slot: int = 0,
        *,
        chain_id: int | None = None,
        contract: str | None = None,
    ) -> bytes:
        """Claim calldata with an authorization signed by `claim_key` (domain overridable)."""
        signature = rp.sign_claim(
            claim_key,
            self.chain_id if chain_id is None else chain_id,
            contract or self.address,
            packet,
            recipient,
            slot,
        )
        amount, proof = self.share(packet, slot)
        return rp.claim_data(packet, recipient, slot, signature, amount, proof)

    def share(self, packet: bytes, slot: int) -> tuple[int, tuple[bytes, ...]]:
        """A random packet's committed (amount, proof) for `slot`; (0, ()) for a fixed one."""
        state = self.state(packet)
        split = SPLITS.get(state.root) if state is not None and state.random else None
        if split is None or slot >= len(split.amounts):
            return 0, ()
        return split.amounts[slot], split.proofs[slot]

    def claim(
        self, submitter: str, claim_key: bytes, packet: bytes, recipient: str, slot: int = 0, **kw: Any
    ) -> tuple[int, dict]:
        """Submit a claim; (the amount paid per the PacketClaimed event, receipt)."""
        receipt = send(self.rpc, submitter, self.address, self.claim_tx(claim_key, packet, recipient, slot), **kw)
        claimed = [e for e in events(receipt, self.address) if isinstance(e, rp.Claimed)]
        assert len(claimed) == 1 and claimed[0].id == packet and claimed[0].recipient == addr.to_checksum(recipient), (
            claimed
        )
        return claimed[0].amount, receipt

    def refund(self, creator: str, packet: bytes, **kw: Any) -> dict:
        return send(self.rpc, creator, self.address, rp.refund_data(packet), **kw)

    def state(self, packet: bytes) -> rp.PacketState | None:
        return rp.read_packet(self.rpc, self.address, packet)

    def expect(self, frm: str, data: bytes, name: str, value: int = 0, *, at: int | None = None) -> None:
        expect_error(self.rpc, frm, self.address, data, name, value, at=at)


@dataclass
class World:
    """A chain with RedPacket and the three test tokens; dev accounts 0-2 hold and approve them."""

    rpc: Rpc
    accounts: list[str]
    rp: RedPackets
    token: str  # TestToken
    fee_token: str  # FeeOnTransferToken (1% burnt per transfer)
    nobool: str  # NoBoolToken (returns nothing)

    @property
    def contract(self) -> str:
        return self.rp.address


TOKEN_SUPPLY = 10**9 * E18


def build_world(rpc: Rpc) -> World:
    accounts = [addr.to_checksum(a) for a in rpc.call("eth_accounts")]
    dev0 = accounts[0]
    red = deploy(rpc, dev0, "RedPacket")
    tkn = deploy(rpc, dev0, "TestToken", "Hongbao Test Token", "TKN", 18, TOKEN_SUPPLY)
    fee = deploy(rpc, dev0, "FeeOnTransferToken", "Fee Token", "FEE", 18, TOKEN_SUPPLY)
    nob = deploy(rpc, dev0, "NoBoolToken", "No Bool", "NOB", 6, TOKEN_SUPPLY)
    mint = "mint(address,uint256)"
    for holder in accounts[1:3]:
        for token_address in (tkn, fee, nob):
            send(rpc, dev0, token_address, abi.call_data(mint, holder, TOKEN_SUPPLY))
    for holder in accounts[:3]:
        for token_address in (tkn, fee, nob):
            send(rpc, holder, token_address, abi.call_data(erc20.APPROVE, red, MAX_UINT))
    return World(rpc, accounts, RedPackets(rpc, red), tkn, fee, nob)


# == fixtures ===========================================================================


@pytest.fixture
def w(anvil) -> World:
    with anvil.rpc() as rpc:
        yield build_world(rpc)


# == the claim digest ===================================================================


def test_claim_digest_matches_the_contract_and_eip712_typed_data(w):
    red = w.contract
    cases = [
        (bytes(32), w.accounts[3], 0),
        (keccak(b"packet"), w.accounts[4], 1),
        (keccak(b"another"), address_for("digest"), 65_535),
        (b"\xff" * 32, w.accounts[5], MAX_UINT),
    ]
    digests = set()
    for packet, recipient, slot in cases:
        ours = rp.claim_digest(CHAIN_ID, red, packet, recipient, slot)
        theirs = eth_call(
            w.rpc, w.accounts[0], red, abi.call_data("claimDigest(bytes32,address,uint256)", packet, recipient, slot)
        )
        typed = signing.typed_data_hash(rp.claim_typed_data(CHAIN_ID, red, packet, recipient, slot))
        assert ours == theirs == typed
        digests.add(ours)
    assert len(digests) == len(cases)
    # the domain the contract reports (EIP-5267) is the one Python hashes
    fields, name, version, chain_id, verifying, salt, extensions = abi.decode(
        ["bytes1", "string", "string", "uint256", "address", "bytes32", "uint256[]"],
        eth_call(w.rpc, w.accounts[0], red, abi.call_data("eip712Domain()")),
    )
    assert (fields, name, version, chain_id, addr.to_checksum(verifying), salt, extensions) == (
        b"\x0f",
        rp.DOMAIN_NAME,
        rp.DOMAIN_VERSION,
        CHAIN_ID,
        red,
        bytes(32),
        (),
    )
    assert eth_call(w.rpc, w.accounts[0], red, abi.call_data("CLAIM_TYPEHASH()")) == rp.CLAIM_TYPEHASH
    constants = {
        "MAX_SHARES()": rp.MAX_SHARES,
        "MAX_DURATION()": 365 * DAY,
        "MAX_SLOT()": 65_535,
        "CLAIM_GAS_ALLOWANCE()": ALLOWANCE_GAS,
    }
    for getter, value in constants.items():
        assert abi.decode_uint(eth_call(w.rpc, w.accounts[0], red, abi.call_data(getter))) == value, getter


def test_our_contract_is_recognised_by_its_runtime_code_hash(w):
    """No immutables: every deployment's runtime code is the committed artifact's, so a
    client recognises our RedPacket by its code hash wherever a packet message says it is.
    (The first contract cached its EIP-712 domain in immutables: each deployment's code
    differed, and no client could check it.)"""
    second = deploy(w.rpc, w.accounts[1], "RedPacket")
    codes = {w.rpc.call("eth_getCode", a, "latest") for a in (w.contract, second)}
    assert len(codes) == 1 and keccak(bytes.fromhex(codes.pop()[2:])) == rp.code_hash()
    assert rp.is_ours(w.rpc, w.contract) and rp.is_ours(w.rpc, second)
    assert not rp.is_ours(w.rpc, w.token) and not rp.is_ours(w.rpc, w.accounts[5])


def test_a_recipient_that_burns_gas_only_at_a_real_price_is_caught_before_submitting(w, anvil):
    """Before: the relayer's eth_call (no gas price) passed and the real transaction burnt
    millions of its gas. Now the submitter simulates at the price it will pay, with a
    bounded limit, and refuses in one line."""
    from contracts import flows
    from wallet import config
    from wallet.chain import Chain

    creator = w.accounts[0]
    ck = key_for("burner")
    burner = deploy(w.rpc, creator, "GasPriceBurner")
    pid, _ = w.rp.create(creator, params(addr.from_private_key(ck), 10, 2, deposit=10**15, max_tip=GWEI))
    ticket = flows.Ticket(CHAIN_ID, w.contract, pid, burner, 0, rp.sign_claim(ck, CHAIN_ID, w.contract, pid, burner, 0))
    assert eth_call(w.rpc, creator, w.contract, ticket.data)  # what a naive relayer checks: it passes
    chain = Chain.connect(config.Network("local", anvil.url, CHAIN_ID))
    with pytest.raises(flows.PacketError, match="burns gas") as refused:
        flows.claim_gas(chain, ticket, creator, 2 * GWEI)
    assert "\n" not in str(refused.value)
    # an ordinary recipient: a bounded limit with a margin
    fine = flows.Ticket(
        CHAIN_ID,
        w.contract,
        pid,
        address_for("fine"),
        1,
        rp.sign_claim(ck, CHAIN_ID, w.contract, pid, address_for("fine"), 1),
    )
    assert 60_000 < flows.claim_gas(chain, fine, creator, 2 * GWEI) <= flows.CLAIM_GAS_LIMIT


def test_a_typed_data_signature_from_a_wallet_is_a_valid_claim(w):
    creator, ck = w.accounts[0], key_for("typed")
    pid, _ = w.rp.create(creator, params(addr.from_private_key(ck), 10, 2))
    recipient = address_for("typed recipient")
    signature = signing.sign_typed_data(ck, rp.claim_typed_data(CHAIN_ID, w.contract, pid, recipient, 3))
    receipt = send(w.rpc, w.accounts[1], w.contract, rp.claim_data(pid, recipient, 3, signature))
    assert [e for e in events(receipt, w.contract) if isinstance(e, rp.Claimed)] == [rp.Claimed(pid, recipient, 5)]
    assert balance(w.rpc, recipient) == 5


def test_errors_table_names_every_custom_error_of_the_contract():
    import re
    from pathlib import Path

    source = (Path(__file__).resolve().parents[1] / "contracts" / "src" / "RedPacket.sol").read_text()
    ours = set(re.findall(r"^\s*error (\w+)\(\);", source, re.M))
    assert len(ours) == 21
    assert ours <= {e["name"] for e in load("RedPacket").abi if e["type"] == "error"}
    for name in ours:
        selector = error_selector(name)
        assert selector.hex() in rp.ERRORS, name
        assert rp.explain_revert(selector) == rp.ERRORS[selector.hex()]
    inherited = {e["name"] for e in load("RedPacket").abi if e["type"] == "error"} - ours  # OpenZeppelin's
    assert inherited == {"ReentrancyGuardReentrantCall", "SafeERC20FailedOperation"}
    assert set(rp.ERRORS) == {error_selector(n).hex() for n in ours} | {
        error_selector("ReentrancyGuardReentrantCall").hex(),
        rp.abi.selector("SafeERC20FailedOperation(address)").hex(),
    }


# == happy paths ========================================================================


def test_eth_fixed_split_pays_remaining_over_shares_left(w):
    creator, relayer = w.accounts[0], w.accounts[1]
    ck = key_for("fixed")
    total = E18 + 7
    greeting = rp.encode_greeting("恭喜发财")
    p = params(addr.from_private_key(ck), total, 10, theme=7, greeting=greeting)
    before = balance(w.rpc, creator)
    pid, receipt = w.rp.create(creator, p)

    assert pid == rp.packet_id(CHAIN_ID, w.contract, creator, p.nonce) == w.rp.id(creator, p.nonce)
    assert balance(w.rpc, creator) == before - total - gas_cost(receipt)
    assert balance(w.rpc, w.contract) == total
    expiry = to_int(block_of(w.rpc, receipt)["timestamp"]) + DAY
    assert events(receipt, w.contract) == [
        rp.Created(pid, creator, None, total, 10, expiry, False, False, p.claim_key, 0, 7, greeting.ljust(32, b"\0"))
    ]
    assert rp.decode_greeting(events(receipt, w.contract)[0].greeting) == "恭喜发财"
    assert w.rp.state(pid) == rp.PacketState(creator, None, p.claim_key, total, 0, expiry, 10, 10, False, False, False)

    amounts = []
    for slot in range(10):
        recipient = address_for(f"fixed {slot}")
        relayer_before = balance(w.rpc, relayer)
        amount, receipt = w.rp.claim(relayer, ck, pid, recipient, slot)
        amounts.append(amount)
        assert events(receipt, w.contract) == [rp.Claimed(pid, recipient, amount)]  # no deposit: no reimbursement
        assert balance(w.rpc, recipient) == amount
        assert balance(w.rpc, relayer) == relayer_before - gas_cost(receipt)
        assert rp.slot_claimed(w.rpc, w.contract, pid, slot)
        state = w.rp.state(pid)
        assert (state.remaining, state.shares_left) == (total - sum(amounts), 9 - slot)
    # remaining // left at every claim: the 7 units of dust are spread, one each, over the last
    # 7 shares, so no two shares differ by more than one unit
    assert amounts == [10**17] * 3 + [10**17 + 1] * 7
    assert balance(w.rpc, w.contract) == 0
    w.rp.expect(relayer, w.rp.claim_tx(ck, pid, address_for("eleventh"), 10), "Exhausted")


def test_a_random_split_pays_each_slot_its_committed_amount(w):
    """The creator's client draws the split (double-average, CSPRNG, shuffled); the packet
    stores the Merkle sum root, and each claim pays exactly its slot's committed amount."""
    creator, relayer = w.accounts[0], w.accounts[1]
    ck = key_for("random")
    for total, shares in [(E18 + 12_345, 12), (13, 10), (7, 7), (3, 2), (5, 1)]:
        p = params(addr.from_private_key(ck), total, shares, random=True)
        split = SPLITS[p.root]
        assert sum(split.amounts) == total and min(split.amounts) >= 1
        assert int.from_bytes(p.root, "big") & rp.SUM_MASK == total  # the root's sum is the total
        pid, _ = w.rp.create(creator, p)
        assert w.rp.state(pid).root == p.root
        for slot in reversed(range(shares)):  # any order: each slot's amount is fixed
            recipient = address_for(f"random {total} {slot}")
            amount, _ = w.rp.claim(relayer, ck, pid, recipient, slot)
            assert amount == split.amounts[slot] == balance(w.rpc, recipient)
        assert w.rp.state(pid).remaining == 0
    assert balance(w.rpc, w.contract) == 0


def test_a_random_claim_with_another_amount_or_proof_is_refused(w):
    creator, relayer = w.accounts[0], w.accounts[1]
    ck = key_for("proof")
    p = params(addr.from_private_key(ck), 1_000, 5, random=True)
    split = SPLITS[p.root]
    pid, _ = w.rp.create(creator, p)
    alice = address_for("proof alice")
    signature = rp.sign_claim(ck, CHAIN_ID, w.contract, pid, alice, 1)
    best = max(range(5), key=lambda i: split.amounts[i])
    for amount, proof in [
        (split.amounts[1] + 1, split.proofs[1]),  # more than committed
        (split.amounts[best], split.proofs[best]),  # another slot's (bigger) share
        (split.amounts[1], split.proofs[1][:-1]),  # a short proof
        (split.amounts[1], ()),
        (2**96 + split.amounts[1], split.proofs[1]),  # an amount that aliases in 96 bits
    ]:
        if amount == split.amounts[1] and proof == split.proofs[1]:
            continue
        w.rp.expect(relayer, rp.claim_data(pid, alice, 1, signature, amount, proof), "BadProof")
    receipt = send(
        w.rpc, relayer, w.contract, rp.claim_data(pid, alice, 1, signature, split.amounts[1], split.proofs[1])
    )
    assert events(receipt, w.contract) == [rp.Claimed(pid, alice, split.amounts[1])]


def test_create_refuses_a_random_split_that_is_not_committed_to_the_total(w):
    creator = w.accounts[0]
    ck = addr.from_private_key(key_for("commit"))
    good = params(ck, 1_000, 4, random=True)
    assert eth_call(w.rpc, creator, w.contract, rp.create_data(good), good.value) == w.rp.id(creator, good.nonce)
    # a split of 1,001 committed for a packet of 1,000: its claims could not all be paid
    over = rp.split_tree([400, 300, 200, 101])
    w.rp.expect(creator, rp.create_data(params(ck, 1_000, 4, random=True, root=over.root)), "BadSplit", 1_000)
    w.rp.expect(creator, rp.create_data(params(ck, 1_000, 4, random=True, root=bytes(32))), "BadSplit", 1_000)
    # no root on a fixed packet, and no lucky draw in an open one (its claimers hold every proof)
    w.rp.expect(creator, rp.create_data(params(ck, 1_000, 4, root=good.root)), "BadSplit", 1_000)
    w.rp.expect(
        creator, rp.create_data(params(ck, 1_000, 4, random=True, open=True, root=good.root)), "BadSplit", 1_000
    )


def test_erc20_packet_pays_tokens_and_keeps_eth_for_the_deposit_only(w):
    creator, relayer = w.accounts[1], w.accounts[2]
    ck = key_for("erc20")
    total, deposit = 1_000 * E18 + 3, 10**6
    p = params(addr.from_private_key(ck), total, 3, token=w.token, deposit=deposit)
    assert p.value == deposit
    tokens_before, eth_before = token_balance(w.rpc, w.token, creator), balance(w.rpc, creator)
    pid, receipt = w.rp.create(creator, p)
    assert pid == rp.packet_id(CHAIN_ID, w.contract, creator, p.nonce)
    created = events(receipt, w.contract)[0]
    assert (created.token, created.total, created.deposit) == (w.token, total, deposit)
    assert token_balance(w.rpc, w.token, creator) == tokens_before - total
    assert balance(w.rpc, creator) == eth_before - deposit - gas_cost(receipt)
    assert token_balance(w.rpc, w.token, w.contract) == total
    assert balance(w.rpc, w.contract) == deposit
    state = w.rp.state(pid)
    assert (state.token, state.remaining, state.deposit, state.shares_left) == (w.token, total, deposit, 3)

    paid = []
    for slot in range(3):
        recipient = address_for(f"erc20 {slot}")
        amount, _ = w.rp.claim(relayer, ck, pid, recipient, slot)
        assert token_balance(w.rpc, w.token, recipient) == amount
        assert balance(w.rpc, recipient) == 0
        paid.append(amount)
    assert paid == [total // 3, total // 3, total - 2 * (total // 3)]
    assert token_balance(w.rpc, w.token, w.contract) == 0


def test_authorized_packet_tracks_slots_not_addresses(w):
    creator, relayer = w.accounts[0], w.accounts[1]
    ck = key_for("slots")
    pid, _ = w.rp.create(creator, params(addr.from_private_key(ck), 600, 6))
    alice, bob, carol, dave = (address_for(n) for n in ("alice", "bob", "carol", "dave"))
    for recipient, slot in [(alice, 0), (bob, 255), (carol, 256), (dave, 65_535)]:
        amount, _ = w.rp.claim(relayer, ck, pid, recipient, slot)
        assert amount == 100
    for slot, taken in [(0, True), (1, False), (255, True), (256, True), (257, False), (65_535, True), (65_534, False)]:
        assert rp.slot_claimed(w.rpc, w.contract, pid, slot) is taken, slot
    assert rp.claimed_by(w.rpc, w.contract, pid, alice) == 0  # authorized packets do not track addresses
    # a slot is taken once, whoever it is re-signed for
    w.rp.expect(relayer, w.rp.claim_tx(ck, pid, alice, 0), "AlreadyClaimed")
    w.rp.expect(relayer, w.rp.claim_tx(ck, pid, bob, 0), "AlreadyClaimed")
    # the creator may authorize the same person twice (two slots): two shares
    w.rp.claim(relayer, ck, pid, alice, 1)
    assert balance(w.rpc, alice) == 200


def test_open_packet_pays_each_address_once_and_records_it(w):
    creator = w.accounts[0]
    ck = key_for("open")  # shared with everyone: anybody can sign for any address
    total = 3 * E18 + 1
    pid, receipt = w.rp.create(creator, params(addr.from_private_key(ck), total, 3, open=True))
    assert events(receipt, w.contract)[0].open is True and w.rp.state(pid).open is True
    alice, bob, carol = (address_for(n) for n in ("open alice", "open bob", "open carol"))
    got = {}
    got[alice], _ = w.rp.claim(w.accounts[4], ck, pid, alice, 0)
    assert rp.claimed_by(w.rpc, w.contract, pid, alice) == got[alice] > 0
    assert rp.claimed_by(w.rpc, w.contract, pid, bob) == 0
    # the same address again: refused, whatever slot is signed
    for slot in (0, 1, 70_000):
        w.rp.expect(w.accounts[4], w.rp.claim_tx(ck, pid, alice, slot), "AlreadyClaimed")
    # the slot is ignored for open packets (not even range-checked) and no slot bit is set
    got[bob], _ = w.rp.claim(w.accounts[5], ck, pid, bob, 70_000)
    got[carol], _ = w.rp.claim(w.accounts[6], ck, pid, carol, 0)
    assert not rp.slot_claimed(w.rpc, w.contract, pid, 0)
    for who, amount in got.items():
        assert rp.claimed_by(w.rpc, w.contract, pid, who) == amount == balance(w.rpc, who)
    assert sum(got.values()) == total
    w.rp.expect(w.accounts[4], w.rp.claim_tx(ck, pid, address_for("open dave"), 0), "Exhausted")


def bound(rpc: Rpc, receipt: dict, max_tip: int) -> int:
    """What a claim's reimbursement may be at most: its gas used x min(price, base fee + max tip)."""
    base_fee = to_int(block_of(rpc, receipt)["baseFeePerGas"])
    return to_int(receipt["gasUsed"]) * min(to_int(receipt["effectiveGasPrice"]), base_fee + max_tip)


def reimbursed(receipt: dict, contract: str) -> int:
    return sum(e.amount for e in events(receipt, contract) if isinstance(e, rp.Reimbursed))


def test_the_creator_relays_a_claim_for_an_empty_recipient_and_gets_back_the_gas_it_used(w):
    creator, stranger = w.accounts[0], w.accounts[1]
    ck = key_for("relay")
    total, shares, deposit, tip = 4_000, 4, 10**15, GWEI
    pid, receipt = w.rp.create(
        creator, params(addr.from_private_key(ck), total, shares, deposit=deposit, duration=3_600, max_tip=tip)
    )
    assert balance(w.rpc, w.contract) == total + deposit
    assert w.rp.state(pid).max_tip == tip

    deposit_left = deposit
    for slot, gas_price in enumerate([2 * GWEI, 3 * GWEI]):
        recipient = address_for(f"relay {slot}")
        before = balance(w.rpc, creator)
        amount, receipt = w.rp.claim(creator, ck, pid, recipient, slot, gas_price=gas_price)
        back = reimbursed(receipt, w.contract)
        assert events(receipt, w.contract) == [rp.Claimed(pid, recipient, 1_000), rp.Reimbursed(pid, creator, back)]
        # at most the gas used at the bounded price, and most of it (only the call's own
        # dispatch and the last transfer go unmeasured)
        assert bound(w.rpc, receipt, tip) * 9 // 10 <= back <= bound(w.rpc, receipt, tip)
        assert balance(w.rpc, recipient) == amount == 1_000
        assert balance(w.rpc, creator) == before - gas_cost(receipt) + back
        deposit_left -= back
        assert w.rp.state(pid).deposit == deposit_left

    # a third party submitting someone's claim is paid nothing from the deposit (a mempool
    # copycat of the creator's transaction gains nothing), and the share still goes out
    recipient = address_for("relay 2")
    _, receipt = w.rp.claim(stranger, ck, pid, recipient, 2, gas_price=2 * GWEI)
    assert events(receipt, w.contract) == [rp.Claimed(pid, recipient, 1_000)]
    assert w.rp.state(pid).deposit == deposit_left
    assert balance(w.rpc, w.contract) == 1_000 + deposit_left

    # the last share stays unclaimed: it and the deposit left go back at refund
    w.rp.expect(creator, rp.refund_data(pid), "NotExpired")
    warp(w.rpc, 3_600)
    creator_before = balance(w.rpc, creator)
    receipt = w.rp.refund(creator, pid)
    assert events(receipt, w.contract) == [rp.Refunded(pid, creator, 1_000, deposit_left)]
    assert balance(w.rpc, creator) == creator_before - gas_cost(receipt) + 1_000 + deposit_left
    assert balance(w.rpc, w.contract) == 0
    state = w.rp.state(pid)
    assert (state.remaining, state.deposit, state.shares, state.shares_left, state.refunded) == (0, 0, 4, 1, True)


def test_a_huge_tip_or_a_proposer_cannot_drain_the_deposit(w):
    """Before: reimbursement followed tx.gasprice, so a submitter bidding a huge priority fee
    (or proposing the block and paying itself) took the deposit's whole share per claim.
    Now the price is capped at block.basefee + the creator's max tip."""
    creator, recipient = w.accounts[0], w.accounts[7]
    ck = key_for("drain")
    deposit, tip = 10**17, GWEI
    pid, _ = w.rp.create(creator, params(addr.from_private_key(ck), 10, 2, deposit=deposit, max_tip=tip))
    # the recipient submits its own claim with a 10,000 gwei tip
    _, receipt = w.rp.claim(recipient, ck, pid, recipient, 0, gas_price=10_000 * GWEI)
    back = reimbursed(receipt, w.contract)
    assert 0 < back <= bound(w.rpc, receipt, tip)
    assert back < 100_000 * 2 * GWEI < deposit // 2  # far below the half of the deposit it could take before
    # the creator's own packet with no max tip: the base fee only
    pid, _ = w.rp.create(creator, params(addr.from_private_key(ck), 10, 2, deposit=deposit))
    _, receipt = w.rp.claim(creator, ck, pid, address_for("drain r"), 0, gas_price=10_000 * GWEI)
    assert reimbursed(receipt, w.contract) <= bound(w.rpc, receipt, 0)


def test_a_claim_that_lost_the_race_reverts_before_the_signature_check(w):
    """A relayed claim copied from the mempool and mined first: the relayer's own transaction
    then fails on AlreadyClaimed, checked before anything expensive."""
    creator, copycat = w.accounts[0], w.accounts[1]
    ck = key_for("race")
    pid, _ = w.rp.create(creator, params(addr.from_private_key(ck), 10, 2, deposit=10**15, max_tip=GWEI))
    data = w.rp.claim_tx(ck, pid, address_for("race r"), 0)
    receipt = send(w.rpc, copycat, w.contract, data, gas_price=5 * GWEI)
    assert reimbursed(receipt, w.contract) == 0  # the copycat is paid nothing
    lost = send(w.rpc, creator, w.contract, data, gas=200_000, ok=False)
    assert to_int(lost["status"]) == 0 and to_int(lost["gasUsed"]) < 30_000


def test_gas_estimate_without_a_price_misses_the_reimbursement(w):
    """RedPacket pays the reimbursement only when tx.gasprice > 0 (the cap is 100000 x gasprice),
    so an eth_estimateGas without fee fields (gasprice 0) skips that ETH transfer and returns
    too little gas for a sponsored claim. The wallet's 20% margin (transfers.GAS_MARGIN) covers
    the gap; a bare estimate does not."""
    from wallet.transfers import GAS_MARGIN

    ck = key_for("estimate")
    pid, _ = w.rp.create(w.accounts[0], params(addr.from_private_key(ck), 4_000, 4, deposit=10**15, max_tip=GWEI))
    data = w.rp.claim_tx(ck, pid, address_for("estimate r"), 0)
    tx = {"from": w.accounts[0], "to": w.contract, "data": "0x" + data.hex()}  # the creator relays
    bare = to_int(w.rpc.call("eth_estimateGas", tx))
    priced = to_int(w.rpc.call("eth_estimateGas", {**tx, "gasPrice": hex(GWEI)}))
    assert priced > bare + 5_000
    receipt = send(w.rpc, w.accounts[0], w.contract, data, gas=bare, ok=False)  # type 2, base fee > 0
    assert to_int(receipt["status"]) == 0  # out of gas in the reimbursement
    assert w.rp.state(pid).shares_left == 4
    receipt = send(w.rpc, w.accounts[0], w.contract, data, gas=bare * GAS_MARGIN[0] // GAS_MARGIN[1])
    assert any(isinstance(e, rp.Reimbursed) for e in events(receipt, w.contract))


# == revert paths: create ===============================================================


def test_create_rejects_bad_shares_duration_claim_key_and_totals(w):
    creator = w.accounts[0]
    ck = addr.from_private_key(key_for("create"))
    red = w.rp

    def expect(p: rp.CreateParams, name: str, value: int | None = None) -> None:
        red.expect(creator, rp.create_data(p), name, p.value if value is None else value)

    def works(p: rp.CreateParams) -> None:
        out = eth_call(w.rpc, creator, w.contract, rp.create_data(p), p.value)
        assert out == red.id(creator, p.nonce)

    expect(params(ck, 10, 0), "BadShares")
    expect(params(ck, 1_000, 501), "BadShares")
    works(params(ck, 1_000, 500))
    expect(params(ck, 9, 10), "TotalBelowShares")
    expect(params(ck, 0, 1), "TotalBelowShares")
    works(params(ck, 10, 10))
    expect(params(ck, 10, 1, duration=0), "BadDuration")
    expect(params(ck, 10, 1, duration=365 * DAY + 1), "BadDuration")
    works(params(ck, 10, 1, duration=365 * DAY))
    works(params(ck, 10, 1, duration=1))
    expect(params(ZERO, 10, 1), "NoClaimKey")
    expect(params(ck, 10, 1, deposit=2**80), "AmountTooLarge", 0)  # checked before the value
    # token packets: a transfer that brings less than one unit per share
    expect(params(ck, 9, 10, token=w.token), "TotalBelowShares")
    expect(params(ck, 100, 100, token=w.fee_token), "TotalBelowShares")  # 1 of 100 burnt: 99 arrive
    works(params(ck, 102, 100, token=w.fee_token))  # 102 - 1 = 101 arrive


def test_create_rejects_totals_that_do_not_fit_96_bits(w):
    creator = w.accounts[0]
    ck = addr.from_private_key(key_for("big"))
    w.rpc.call("anvil_setBalance", creator, hex(2**100))
    w.rp.expect(creator, rp.create_data(p := params(ck, 2**96, 2)), "AmountTooLarge", p.value)
    p = params(ck, 2**96 - 1, 2, deposit=2**80 - 1)
    assert eth_call(w.rpc, creator, w.contract, rp.create_data(p), p.value) == w.rp.id(creator, p.nonce)
    send(w.rpc, w.accounts[0], w.token, abi.call_data("mint(address,uint256)", creator, 2**97))
    w.rp.expect(creator, rp.create_data(params(ck, 2**96, 2, token=w.token)), "AmountTooLarge")
    pid, _ = w.rp.create(creator, p := params(ck, 2**96 - 1, 2, token=w.token, random=True))
    assert w.rp.state(pid).remaining == 2**96 - 1
    total = 0
    for slot in range(2):
        amount, _ = w.rp.claim(creator, key_for("big"), pid, address_for(f"big {slot}"), slot)
        total += amount
    assert total == 2**96 - 1


def test_create_requires_the_exact_eth_value(w):
    creator = w.accounts[0]
    ck = addr.from_private_key(key_for("value"))
    eth = params(ck, E18, 2, deposit=5)
    w.rp.expect(creator, rp.create_data(eth), "WrongValue", E18 + 4)  # too little
    w.rp.expect(creator, rp.create_data(eth), "WrongValue", E18)  # deposit missing
    w.rp.expect(creator, rp.create_data(eth), "WrongValue", E18 + 6)  # excess ETH refused
    token = params(ck, E18, 2, token=w.token, deposit=5)
    assert token.value == 5
    w.rp.expect(creator, rp.create_data(token), "WrongValue", 0)
    w.rp.expect(creator, rp.create_data(token), "WrongValue", 6)
    w.rp.expect(creator, rp.create_data(token), "WrongValue", E18 + 5)  # the total is not paid in ETH
    nodeposit = params(ck, E18, 2, token=w.token)
    w.rp.expect(creator, rp.create_data(nodeposit), "WrongValue", 1)
    # the exact values work, and nothing is left in the contract beyond what packets hold
    w.rp.create(creator, eth)
    w.rp.create(creator, token)
    assert balance(w.rpc, w.contract) == E18 + 5 + 5


def test_duplicate_nonce_is_refused_per_creator(w):
    ck = addr.from_private_key(key_for("dup"))
    p = params(ck, 10, 1)
    pid, _ = w.rp.create(w.accounts[0], p)
    w.rp.expect(w.accounts[0], rp.create_data(p), "PacketExists", p.value)
    pid2, _ = w.rp.create(w.accounts[1], p)  # identical params, another creator: another packet
    assert pid2 != pid and pid2 == rp.packet_id(CHAIN_ID, w.contract, w.accounts[1], p.nonce)
    # still refused once the packet is exhausted
    w.rp.claim(w.accounts[2], key_for("dup"), pid, address_for("dup r"), 0)
    w.rp.expect(w.accounts[0], rp.create_data(p), "PacketExists", p.value)


# == revert paths: claim ================================================================


def test_claim_reverts_on_unknown_packet_zero_recipient_and_slot_out_of_range(w):
    creator, relayer = w.accounts[0], w.accounts[1]
    ck = key_for("claim errors")
    unknown = keccak(b"no such packet")
    w.rp.expect(relayer, w.rp.claim_tx(ck, unknown, address_for("x"), 0), "UnknownPacket")
    w.rp.expect(relayer, rp.refund_data(unknown), "UnknownPacket")
    w.rp.expect(relayer, abi.call_data("packet(bytes32)", unknown), "UnknownPacket")
    assert w.rp.state(unknown) is None
    assert rp.claimed_by(w.rpc, w.contract, unknown, address_for("x")) == 0

    pid, _ = w.rp.create(creator, params(addr.from_private_key(ck), 10, 2))
    w.rp.expect(relayer, w.rp.claim_tx(ck, pid, ZERO, 0), "BadRecipient")  # validly signed for address 0
    w.rp.expect(relayer, w.rp.claim_tx(ck, pid, address_for("x"), 65_536), "BadSlot")  # validly signed
    w.rp.expect(relayer, w.rp.claim_tx(ck, pid, address_for("x"), MAX_UINT), "BadSlot")
    amount, _ = w.rp.claim(relayer, ck, pid, address_for("x"), 65_535)
    assert amount == 5


def test_claim_reverts_after_expiry_from_the_expiry_second_on(w):
    creator, relayer = w.accounts[0], w.accounts[1]
    ck = key_for("expiry")
    pid, _ = w.rp.create(creator, params(addr.from_private_key(ck), 10, 2, duration=600))
    expiry = w.rp.state(pid).expiry
    data = w.rp.claim_tx(ck, pid, address_for("late"), 0)
    assert abi.decode_uint(eth_call(w.rpc, relayer, w.contract, data, at=expiry - 1)) == 5
    w.rp.expect(relayer, data, "Expired", at=expiry)
    w.rp.expect(creator, rp.refund_data(pid), "NotExpired", at=expiry - 1)
    eth_call(w.rpc, creator, w.contract, rp.refund_data(pid), at=expiry)  # refundable from the same second
    # mined for real: the last second still pays, the expiry second does not
    w.rpc.call("evm_setNextBlockTimestamp", expiry - 1)
    w.rp.claim(relayer, ck, pid, address_for("in time"), 1)
    w.rpc.call("evm_setNextBlockTimestamp", expiry)
    receipt = send(w.rpc, relayer, w.contract, data, gas=300_000, ok=False)
    assert to_int(receipt["status"]) == 0
    assert balance(w.rpc, address_for("late")) == 0
    w.rp.expect(relayer, data, "Expired")


def test_claim_twice_and_exhausted(w):
    creator, relayer = w.accounts[0], w.accounts[1]
    ck = key_for("twice")
    pid, _ = w.rp.create(creator, params(addr.from_private_key(ck), 10, 2))
    recipient = address_for("twice")
    w.rp.claim(relayer, ck, pid, recipient, 0)
    w.rp.expect(relayer, w.rp.claim_tx(ck, pid, recipient, 0), "AlreadyClaimed")
    w.rp.claim(relayer, ck, pid, recipient, 1)
    w.rp.expect(relayer, w.rp.claim_tx(ck, pid, recipient, 2), "Exhausted")
    w.rp.expect(relayer, w.rp.claim_tx(ck, pid, recipient, 0), "Exhausted")  # Exhausted is checked first
    # open packet: the same address twice
    pid, _ = w.rp.create(creator, params(addr.from_private_key(ck), 10, 3, open=True))
    w.rp.claim(relayer, ck, pid, recipient, 0)
    w.rp.expect(relayer, w.rp.claim_tx(ck, pid, recipient, 0), "AlreadyClaimed")


def test_claim_signatures_are_bound_to_key_recipient_packet_chain_and_contract(w):
    creator, relayer = w.accounts[0], w.accounts[1]
    ck, stranger_key = key_for("bound"), key_for("stranger")
    pid, _ = w.rp.create(creator, params(addr.from_private_key(ck), 10, 2))
    other_pid, _ = w.rp.create(creator, params(addr.from_private_key(ck), 10, 2))
    alice, mallory = address_for("bound alice"), address_for("bound mallory")
    good = rp.sign_claim(ck, CHAIN_ID, w.contract, pid, alice, 0)

    # signed by a key that is not the packet's claim key
    w.rp.expect(relayer, w.rp.claim_tx(stranger_key, pid, alice, 0), "BadSignature")
    # redirect: alice's authorization submitted with another recipient, or another slot
    w.rp.expect(relayer, rp.claim_data(pid, mallory, 0, good), "BadSignature")
    w.rp.expect(relayer, rp.claim_data(pid, alice, 1, good), "BadSignature")
    # the authorization for another packet of the same claim key
    w.rp.expect(relayer, rp.claim_data(other_pid, alice, 0, good), "BadSignature")
    # another chain id (mainnet) and another RedPacket deployment
    w.rp.expect(relayer, w.rp.claim_tx(ck, pid, alice, 0, chain_id=1), "BadSignature")
    second = deploy(w.rpc, w.accounts[0], "RedPacket")
    assert second != w.contract
    w.rp.expect(relayer, w.rp.claim_tx(ck, pid, alice, 0, contract=second), "BadSignature")
    # malformed signatures never recover the claim key
    r, vs = rp.compact(good)
    flipped = (int.from_bytes(vs, "big") ^ (1 << 255)).to_bytes(32, "big")
    for bad_r, bad_vs in [(bytes(32), vs), (r, bytes(32)), (r, flipped), (b"\xff" * 32, vs)]:
        raw = abi.selector(rp.CLAIM) + abi.encode(rp.CLAIM_TYPES, [pid, alice, 0, bad_r, bad_vs, 0, []])
        w.rp.expect(relayer, raw, "BadSignature")
    # the genuine one works, and only pays alice
    receipt = send(w.rpc, relayer, w.contract, rp.claim_data(pid, alice, 0, good))
    assert events(receipt, w.contract) == [rp.Claimed(pid, alice, 5)]
    assert balance(w.rpc, mallory) == 0


# == revert paths: refund ===============================================================


def test_refund_reverts_before_expiry_for_others_twice_and_when_empty(w):
    creator, other = w.accounts[0], w.accounts[1]
    ck = key_for("refund")
    pid, _ = w.rp.create(creator, params(addr.from_private_key(ck), 10, 2, duration=60))
    w.rp.expect(creator, rp.refund_data(pid), "NotExpired")
    w.rp.expect(other, rp.refund_data(pid), "NotCreator")  # checked before expiry
    w.rp.claim(other, ck, pid, address_for("refund r"), 0)
    warp(w.rpc, 60)
    w.rp.expect(other, rp.refund_data(pid), "NotCreator")
    w.rp.expect(other, w.rp.claim_tx(ck, pid, address_for("refund s"), 1), "Expired")
    before = balance(w.rpc, creator)
    receipt = w.rp.refund(creator, pid)
    assert events(receipt, w.contract) == [rp.Refunded(pid, creator, 5, 0)]
    assert balance(w.rpc, creator) == before - gas_cost(receipt) + 5
    assert w.rp.state(pid).refunded
    w.rp.expect(creator, rp.refund_data(pid), "AlreadyRefunded")
    w.rp.expect(other, w.rp.claim_tx(ck, pid, address_for("refund s"), 1), "Expired")

    # fully claimed, no deposit: nothing to refund (and it stays so)
    pid, _ = w.rp.create(creator, params(addr.from_private_key(ck), 10, 1, duration=60))
    w.rp.claim(other, ck, pid, address_for("refund t"), 0)
    warp(w.rpc, 61)
    w.rp.expect(creator, rp.refund_data(pid), "NothingToRefund")
    # fully claimed but part of the deposit is left (the gas bound): the deposit comes back
    deposit = 10**15
    pid, _ = w.rp.create(creator, params(addr.from_private_key(ck), 10, 1, duration=60, deposit=deposit, max_tip=GWEI))
    _, receipt = w.rp.claim(creator, ck, pid, address_for("refund u"), 0, gas_price=GWEI)
    left = deposit - reimbursed(receipt, w.contract)
    assert 0 < w.rp.state(pid).deposit == left < deposit
    warp(w.rpc, 61)
    before = balance(w.rpc, creator)
    receipt = w.rp.refund(creator, pid)
    assert events(receipt, w.contract) == [rp.Refunded(pid, creator, 0, left)]
    assert balance(w.rpc, creator) == before - gas_cost(receipt) + left
    w.rp.expect(creator, rp.refund_data(pid), "AlreadyRefunded")


# == hostile and gas-hungry recipients ==================================================


def arm_data(target: str, calls: list[bytes], swallow: bool) -> bytes:
    return abi.selector("arm(address,bytes[],bool)") + abi.encode(
        ["address", "bytes[]", "bool"], [target, calls, swallow]
    )


def execute_data(to: str, value: int, data: bytes) -> bytes:
    return abi.selector("execute(address,uint256,bytes)") + abi.encode(
        ["address", "uint256", "bytes"], [to, value, data]
    )


def view_uint(rpc: Rpc, contract: str, getter: str) -> int:
    return abi.decode_uint(eth_call(rpc, ZERO, contract, abi.call_data(getter)))


REENTRANT = error_selector("ReentrancyGuardReentrantCall")


def test_a_reentrant_recipient_cannot_claim_twice_or_refund_from_receive(w):
    creator, relayer, owner = w.accounts[0], w.accounts[1], w.accounts[2]
    ck = key_for("reentrant")
    evil = deploy(w.rpc, owner, "ReentrantClaimer")
    pid, _ = w.rp.create(creator, params(addr.from_private_key(ck), 3 * E18, 3, duration=60))
    inner_claim = w.rp.claim_tx(ck, pid, evil, 1)  # a second authorization it holds (valid!)
    inner_refund = rp.refund_data(pid)

    # 1. the hostile receive bubbles its failure: the whole claim fails, nothing moves
    send(w.rpc, owner, evil, arm_data(w.contract, [inner_claim, inner_refund], False))
    outer = w.rp.claim_tx(ck, pid, evil, 0)
    w.rp.expect(relayer, outer, "EthTransferFailed")
    receipt = send(w.rpc, relayer, w.contract, outer, gas=500_000, ok=False)
    assert to_int(receipt["status"]) == 0
    assert balance(w.rpc, evil) == 0 and balance(w.rpc, w.contract) == 3 * E18
    assert not rp.slot_claimed(w.rpc, w.contract, pid, 0) and not rp.slot_claimed(w.rpc, w.contract, pid, 1)
    assert w.rp.state(pid).shares_left == 3

    # 2. it swallows the failures: paid exactly one share, both re-entries hit the guard
    send(w.rpc, owner, evil, arm_data(w.contract, [inner_claim, inner_refund], True))
    amount, receipt = w.rp.claim(relayer, ck, pid, evil, 0)
    assert amount == E18
    assert [e for e in events(receipt, w.contract) if isinstance(e, rp.Claimed)] == [rp.Claimed(pid, evil, E18)]
    assert balance(w.rpc, evil) == E18 == view_uint(w.rpc, evil, "received()")
    assert view_uint(w.rpc, evil, "reentrySuccesses()") == 0
    assert view_uint(w.rpc, evil, "reentryFailures()") == 2
    last_error = abi.decode(["bytes"], eth_call(w.rpc, ZERO, evil, abi.call_data("lastError()")))[0]
    assert last_error == REENTRANT
    assert balance(w.rpc, w.contract) == 2 * E18
    state = w.rp.state(pid)
    assert (state.remaining, state.shares_left, state.refunded) == (2 * E18, 2, False)
    assert rp.slot_claimed(w.rpc, w.contract, pid, 0) and not rp.slot_claimed(w.rpc, w.contract, pid, 1)

    # the inner authorization was blocked by the guard only: submitted normally, it pays
    send(w.rpc, relayer, w.contract, inner_claim)
    assert balance(w.rpc, evil) == 2 * E18 and balance(w.rpc, w.contract) == E18


def test_a_reentrant_creator_cannot_double_refund_from_receive(w):
    owner = w.accounts[2]
    ck = key_for("reentrant creator")
    evil = deploy(w.rpc, owner, "ReentrantClaimer")
    total, deposit = 2 * E18, 10**15
    packets = []
    for _ in range(2):
        p = params(addr.from_private_key(ck), total, 2, duration=60, deposit=deposit)
        receipt = send(w.rpc, owner, evil, execute_data(w.contract, p.value, rp.create_data(p)), p.value)
        (created,) = [e for e in events(receipt, w.contract) if isinstance(e, rp.Created)]
        assert created.creator == evil and created.id == w.rp.id(evil, p.nonce)
        packets.append(created.id)
    first, second = packets
    warp(w.rpc, 60)
    assert balance(w.rpc, w.contract) == 2 * (total + deposit)

    # bubbling: the refund fails as a whole, the packet stays refundable
    send(w.rpc, owner, evil, arm_data(w.contract, [rp.refund_data(first), rp.refund_data(second)], False))
    w.rp.expect(evil, rp.refund_data(first), "EthTransferFailed")
    # swallowing: one refund of exactly remaining + deposit; re-entering refund (same or other packet) is blocked
    send(
        w.rpc,
        owner,
        evil,
        arm_data(w.contract, [rp.refund_data(first), rp.refund_data(second), w.rp.claim_tx(ck, second, evil, 0)], True),
    )
    receipt = send(w.rpc, owner, evil, execute_data(w.contract, 0, rp.refund_data(first)))
    assert events(receipt, w.contract) == [rp.Refunded(first, evil, total, deposit)]
    assert balance(w.rpc, evil) == total + deposit == view_uint(w.rpc, evil, "received()")
    assert view_uint(w.rpc, evil, "reentryFailures()") == 3 and view_uint(w.rpc, evil, "reentrySuccesses()") == 0
    assert balance(w.rpc, w.contract) == total + deposit
    assert w.rp.state(second).refunded is False
    # the second packet is refunded normally afterwards
    send(w.rpc, owner, evil, execute_data(w.contract, 0, rp.refund_data(second)))
    assert balance(w.rpc, evil) == 2 * (total + deposit) and balance(w.rpc, w.contract) == 0


def test_a_recipient_or_relayer_refusing_eth_makes_the_claim_fail_and_keeps_the_share(w):
    creator, relayer, owner = w.accounts[0], w.accounts[1], w.accounts[2]
    ck = key_for("refuse")
    refuser = deploy(w.rpc, owner, "ReentrantClaimer")
    send(w.rpc, owner, refuser, abi.call_data("setRejectAll(bool)", True))
    pid, _ = w.rp.create(creator, params(addr.from_private_key(ck), 10, 2, deposit=10**12))
    w.rp.expect(relayer, w.rp.claim_tx(ck, pid, refuser, 0), "EthTransferFailed")
    # a relayer contract that refuses ETH can still relay: only the recipient or the
    # creator is reimbursed, so nothing is sent back to it
    data = execute_data(w.contract, 0, w.rp.claim_tx(ck, pid, address_for("refuse r"), 0))
    assert eth_call(w.rpc, owner, refuser, data, gas_price=GWEI)
    assert w.rp.state(pid).shares_left == 2
    send(w.rpc, owner, refuser, abi.call_data("setRejectAll(bool)", False))
    amount, _ = w.rp.claim(relayer, ck, pid, refuser, 0)
    assert balance(w.rpc, refuser) == amount == 5


def test_a_contract_wallet_whose_receive_writes_storage_is_paid(w):
    creator, relayer = w.accounts[0], w.accounts[1]
    ck = key_for("hungry")
    wallet = deploy(w.rpc, creator, "GasHungryReceiver")
    pid, _ = w.rp.create(creator, params(addr.from_private_key(ck), E18, 2, random=True))
    amount, receipt = w.rp.claim(relayer, ck, pid, wallet, 0)
    assert amount > 0 and balance(w.rpc, wallet) == amount
    assert view_uint(w.rpc, wallet, "received()") == amount and view_uint(w.rpc, wallet, "payments()") == 1
    assert abi.decode_address(eth_call(w.rpc, ZERO, wallet, abi.call_data("lastSender()"))) == w.contract
    assert to_int(receipt["gasUsed"]) > 21_000 + 2 * 20_000  # its receive() wrote fresh storage: far over 2300


# == tokens =============================================================================


def test_fee_on_transfer_token_packets_hold_what_arrived(w):
    creator, relayer = w.accounts[1], w.accounts[0]
    ck = key_for("fee")
    fee = w.fee_token
    creator_before = token_balance(w.rpc, fee, creator)
    a, receipt_a = w.rp.create(creator, params(addr.from_private_key(ck), 10_000, 4, token=fee, duration=60))
    # a random split of a fee-on-transfer token commits to what will arrive (1% is burnt)
    arriving = rp.split_tree(rp.draw_split(990_000, 3))
    SPLITS[arriving.root] = arriving
    b, receipt_b = w.rp.create(
        creator,
        params(addr.from_private_key(ck), 1_000_000, 3, token=fee, random=True, duration=60, root=arriving.root),
    )
    assert events(receipt_a, w.contract)[0].total == 9_900 == w.rp.state(a).remaining
    assert events(receipt_b, w.contract)[0].total == 990_000 == w.rp.state(b).remaining
    assert token_balance(w.rpc, fee, creator) == creator_before - 1_010_000
    assert token_balance(w.rpc, fee, w.contract) == 9_900 + 990_000

    def owed() -> int:
        return w.rp.state(a).remaining + w.rp.state(b).remaining

    paid_a = []
    for slot in range(4):
        recipient = address_for(f"fee a {slot}")
        amount, _ = w.rp.claim(relayer, ck, a, recipient, slot)
        paid_a.append(amount)
        assert token_balance(w.rpc, fee, recipient) == amount - fee_of(amount)  # the recipient pays the fee
        assert token_balance(w.rpc, fee, w.contract) == owed()
    assert paid_a == [2_475] * 4 and sum(paid_a) == 9_900
    amount, _ = w.rp.claim(relayer, ck, b, address_for("fee b 0"), 0)
    assert token_balance(w.rpc, fee, w.contract) == owed() == 990_000 - amount
    warp(w.rpc, 60)
    before = token_balance(w.rpc, fee, creator)
    receipt = w.rp.refund(creator, b)
    assert events(receipt, w.contract) == [rp.Refunded(b, creator, 990_000 - amount, 0)]
    assert token_balance(w.rpc, fee, creator) == before + (990_000 - amount) - fee_of(990_000 - amount)
    assert token_balance(w.rpc, fee, w.contract) == 0


def test_no_bool_token_create_claim_refund_through_safe_erc20(w):
    creator, relayer = w.accounts[2], w.accounts[0]
    ck = key_for("nobool")
    nob = w.nobool
    total, deposit = 1_000_001, 10**12
    before = token_balance(w.rpc, nob, creator)
    pid, _ = w.rp.create(creator, params(addr.from_private_key(ck), total, 2, token=nob, deposit=deposit, duration=60))
    assert token_balance(w.rpc, nob, creator) == before - total
    assert token_balance(w.rpc, nob, w.contract) == total
    amount, _ = w.rp.claim(relayer, ck, pid, address_for("nobool r"), 0)
    assert amount == 500_000 == token_balance(w.rpc, nob, address_for("nobool r"))
    warp(w.rpc, 60)
    eth_before = balance(w.rpc, creator)
    deposit_left = w.rp.state(pid).deposit
    receipt = w.rp.refund(creator, pid)
    assert events(receipt, w.contract) == [rp.Refunded(pid, creator, 500_001, deposit_left)]
    assert token_balance(w.rpc, nob, creator) == before - 500_000
    assert balance(w.rpc, creator) == eth_before - gas_cost(receipt) + deposit_left
    assert token_balance(w.rpc, nob, w.contract) == 0 and balance(w.rpc, w.contract) == 0
    # a transferFrom that fails (no allowance) surfaces as the token's revert, not a silent success
    w.rp.expect(w.accounts[5], rp.create_data(params(addr.from_private_key(ck), 10, 1, token=nob)), "Error(string)")


def test_expired_token_packet_refuses_claims_and_refunds_tokens_and_deposit(w):
    creator, relayer = w.accounts[1], w.accounts[2]
    ck = key_for("expired token")
    total, deposit = 900, 3 * 10**14
    pid, _ = w.rp.create(
        creator,
        params(addr.from_private_key(ck), total, 3, token=w.token, deposit=deposit, duration=120, max_tip=GWEI),
    )
    amount, receipt = w.rp.claim(creator, ck, pid, address_for("expired 0"), 0, gas_price=GWEI)
    back = reimbursed(receipt, w.contract)
    assert events(receipt, w.contract)[-1] == rp.Reimbursed(pid, creator, back) and back > 0
    warp(w.rpc, 120)
    w.rp.expect(relayer, w.rp.claim_tx(ck, pid, address_for("expired 1"), 1), "Expired")
    tokens_before, eth_before = token_balance(w.rpc, w.token, creator), balance(w.rpc, creator)
    receipt = w.rp.refund(creator, pid)
    assert events(receipt, w.contract) == [rp.Refunded(pid, creator, total - amount, deposit - back)]
    assert token_balance(w.rpc, w.token, creator) == tokens_before + total - amount
    assert balance(w.rpc, creator) == eth_before - gas_cost(receipt) + deposit - back
    assert token_balance(w.rpc, w.token, w.contract) == 0 and balance(w.rpc, w.contract) == 0
    state = w.rp.state(pid)
    assert (state.remaining, state.deposit, state.refunded, state.shares_left) == (0, 0, True, 2)
    w.rp.expect(relayer, w.rp.claim_tx(ck, pid, address_for("expired 1"), 1), "Expired")
    w.rp.expect(creator, rp.refund_data(pid), "AlreadyRefunded")


def test_parse_log_ignores_look_alike_events_from_other_contracts(w):
    """In a token packet's claim, the token runs code and can emit a PacketClaimed of its own;
    parse_log only decodes logs emitted by the RedPacket it is given."""
    creator, relayer = w.accounts[0], w.accounts[1]
    ck = key_for("spoof")
    spoof = deploy(w.rpc, creator, "EventSpoofingToken", 10**24)
    send(w.rpc, creator, spoof, abi.call_data(erc20.APPROVE, w.contract, MAX_UINT))
    pid, receipt = w.rp.create(creator, params(addr.from_private_key(ck), 1_000, 2, token=spoof))
    assert [rp.parse_log(log, spoof) for log in receipt["logs"] if log["address"].lower() == spoof.lower()] == [
        None
    ]  # a Transfer
    alice, mallory = address_for("spoof alice"), address_for("spoof mallory")
    send(w.rpc, creator, spoof, abi.call_data("setSpoof(bytes32,address,uint256)", pid, mallory, 10**24))
    amount, receipt = w.rp.claim(relayer, ck, pid, alice, 0)
    forged = [e for e in (rp.parse_log(log, spoof) for log in receipt["logs"]) if isinstance(e, rp.Claimed)]
    assert rp.Claimed(pid, mallory, 10**24) in forged  # what the token emitted, read as if it were the contract
    assert events(receipt, w.contract) == [rp.Claimed(pid, alice, amount)]
    assert token_balance(w.rpc, spoof, mallory) == 0
