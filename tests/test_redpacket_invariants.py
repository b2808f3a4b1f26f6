"""RedPacket's books under random sequences of creates, claims, refunds and time jumps.

A hypothesis RuleBasedStateMachine rather than @given over a list of actions: each rule
sees the model as the earlier steps left it (which packet exists, which slots are taken,
whether it expired), so a generated claim can be aimed at a real packet and its outcome
predicted exactly; the invariants run after every step, and a failure shrinks to the
shortest sequence of steps that breaks them.

One anvil for the whole module (RedPacket and the tokens deployed once); every example
starts from an evm_snapshot and ends with evm_revert. Block timestamps are pinned
(evm_setNextBlockTimestamp before each transaction) so expiry is exact: the model's clock
is the chain's. A step that should revert is checked with eth_call at the timestamp the
transaction would get, and must fail with exactly the predicted custom error.

Invariants after each step: per packet, claims + refund + remaining == total, every
share > 0, nothing paid beyond the total, deposit spent + refunded + left == deposit, the
chain's view equals the model; the contract's ETH balance equals what ETH packets still
owe plus every deposit left, and its balance of each token what that token's packets owe.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from conftest import start_anvil, stop_anvil
from eth_hash.auto import keccak
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test
from test_redpacket import (
    ALLOWANCE_GAS,
    CHAIN_ID,
    DAY,
    E18,
    GWEI,
    World,
    balance,
    block_of,
    build_world,
    describe_revert,
    eth_call,
    events,
    expect_error,
    fee_of,
    gas_cost,
    key_for,
    latest_timestamp,
    revert_data,
    send,
    token_balance,
)

from contracts import redpacket as rp
from wallet import address as addr
from wallet.rpc import RpcError, to_int

pytestmark = pytest.mark.slow  # its own anvil process

MAX_PACKETS = 4  # per example: the steps go to claims, refunds and time, not only creates
TX_GAS = 400_000  # explicit: no estimate (it would run at another timestamp than the block's)


@pytest.fixture(scope="module")
def world():
    node = start_anvil()
    try:
        with node.rpc() as rpc:
            yield build_world(rpc)
    finally:
        stop_anvil(node)


@dataclass
class Model:
    id: bytes
    creator: str
    key: bytes
    token: str | None  # None: ETH
    fee: bool  # FeeOnTransferToken
    total: int  # what arrived
    shares: int
    expiry: int
    random: bool
    open: bool
    deposit0: int
    remaining: int
    deposit: int
    left: int
    slots: set[int] = field(default_factory=set)
    claimed_by: dict[str, int] = field(default_factory=dict)
    paid: list[int] = field(default_factory=list)
    reimbursed: int = 0
    refunded: int | None = None
    refunded_deposit: int = 0
    next_slot: int = 0
    max_tip: int = 0
    split: rp.Split | None = None  # a random packet's committed split


class RedPacketMachine(RuleBasedStateMachine):
    w: World  # set on a subclass by the test

    def __init__(self) -> None:
        super().__init__()
        self.rpc = self.w.rpc
        self.snapshot = self.rpc.call("evm_snapshot")
        self.clock = latest_timestamp(self.rpc)
        self.accounts = self.w.accounts
        self.creators = self.accounts[0:3]
        self.recipients = self.accounts[3:9]
        self.relayers = [self.accounts[0], self.accounts[1], self.accounts[2], self.accounts[9]]
        self.packets: list[Model] = []
        self.nonces: dict[str, list[bytes]] = {c: [] for c in self.creators}
        self.counter = 0

    def teardown(self) -> None:
        assert self.rpc.call("evm_revert", self.snapshot)

    # -- plumbing ---------------------------------------------------------------------------

    def _next(self, label: str) -> bytes:
        self.counter += 1
        return key_for(f"machine {label} {self.counter}")

    def _tx(self, frm: str, data: bytes, value: int = 0, gas_price: int | None = None) -> dict:
        """A transaction mined at exactly the next model second; it must succeed."""
        self.clock += 1
        self.rpc.call("evm_setNextBlockTimestamp", self.clock)
        receipt = send(self.rpc, frm, self.w.contract, data, value, gas=TX_GAS, gas_price=gas_price, ok=False)
        assert to_int(block_of(self.rpc, receipt)["timestamp"]) == self.clock
        if to_int(receipt["status"]) != 1:
            try:
                eth_call(self.rpc, frm, self.w.contract, data, value, at=self.clock, gas_price=gas_price)
                reason = "the replay succeeds (out of gas?)"
            except RpcError as error:
                reason = describe_revert(revert_data(error))
            raise AssertionError(f"the model expected success, the transaction reverted: {reason}")
        return receipt

    def _expect(self, frm: str, data: bytes, name: str, value: int = 0) -> None:
        event(f"reverts {name}")  # outcome counts (hypothesis.event), to tune the strategies
        expect_error(self.rpc, frm, self.w.contract, data, name, value, at=self.clock + 1)

    def _token_of(self, kind: str) -> str | None:
        return {"eth": None, "token": self.w.token, "fee": self.w.fee_token}[kind]

    # -- rules ------------------------------------------------------------------------------

    @precondition(lambda self: len(self.packets) < MAX_PACKETS)
    @rule(
        creator=st.integers(0, 2),
        kind=st.sampled_from(["eth", "token", "fee"]),
        shares=st.one_of(st.integers(1, 3), st.integers(1, 20)),
        extra=st.one_of(st.just(0), st.integers(0, 10), st.integers(0, E18), st.sampled_from([99, 100, 199])),
        deposit=st.one_of(
            st.just(0), st.integers(1, 1_000), st.integers(1, 10**16), st.sampled_from([10**15, 10**16, 10**17])
        ),
        random=st.booleans(),
        open_=st.booleans(),
        duration=st.sampled_from([1, 2, 60, 3_600, DAY, DAY, 3 * DAY, 7 * DAY, 365 * DAY]),
        reuse=st.sampled_from([False] * 5 + [True]),
        max_tip=st.sampled_from([0, GWEI, 10 * GWEI]),
    )
    def create(self, creator, kind, shares, extra, deposit, random, open_, duration, reuse, max_tip):
        creator = self.creators[creator]
        token = self._token_of(kind)
        total = shares + extra
        reused = reuse and bool(self.nonces[creator])
        nonce = self.nonces[creator][0] if reused else self._next("nonce")
        key = self._next("claim key")
        arrived = total - fee_of(total) if kind == "fee" else total
        # a lucky draw is drawn by the creator's client, for what will arrive
        split = rp.split_tree(rp.draw_split(arrived, shares)) if random and not open_ and arrived >= shares else None
        root = split.root if split else keccak(b"some root") if random else bytes(32)
        p = rp.CreateParams(
            nonce=nonce,
            total=total,
            shares=shares,
            duration=duration,
            claim_key=addr.from_private_key(key),
            token=token,
            deposit=deposit,
            random=random,
            open=open_,
            max_tip=max_tip,
            root=root,
        )
        data = rp.create_data(p)
        if reused:
            self._expect(creator, data, "PacketExists", p.value)
            return
        if random and open_:
            self._expect(creator, data, "BadSplit", p.value)
            return
        if arrived < shares:
            self._expect(creator, data, "TotalBelowShares", p.value)
            return
        eth_before = balance(self.rpc, creator)
        tokens_before = token_balance(self.rpc, token, creator) if token else 0
        event(f"create {kind}")
        receipt = self._tx(creator, data, p.value)
        (created,) = [e for e in events(receipt, self.w.contract) if isinstance(e, rp.Created)]
        pid = rp.packet_id(CHAIN_ID, self.w.contract, creator, nonce)
        assert created == rp.Created(
            pid,
            creator,
            token,
            arrived,
            shares,
            self.clock + duration,
            random,
            open_,
            p.claim_key,
            deposit,
            0,
            bytes(32),
        )
        assert balance(self.rpc, creator) == eth_before - p.value - gas_cost(receipt)
        if token:
            assert token_balance(self.rpc, token, creator) == tokens_before - total
        self.nonces[creator].append(nonce)
        self.packets.append(
            Model(
                pid,
                creator,
                key,
                token,
                kind == "fee",
                arrived,
                shares,
                self.clock + duration,
                random,
                open_,
                deposit,
                arrived,
                deposit,
                shares,
                max_tip=max_tip,
                split=split,
            )
        )

    CLAIM = dict(  # noqa: RUF012  read only, by the @rule decorators below
        which=st.integers(0, 10**6),
        recipient=st.integers(0, 5),
        submitter=st.sampled_from(["self", 0, 1, 2, 3]),
        variant=st.sampled_from(
            ["valid"] * 5 + ["duplicate", "duplicate", "wrong key", "redirect", "other packet", "greedy"]
        ),
        pick=st.integers(0, 1_000),
        price=st.sampled_from([None, None, GWEI, 3 * GWEI]),
    )

    @precondition(lambda self: self.packets)
    @rule(**CLAIM)
    def claim(self, **kwargs):
        self._claim(**kwargs)

    @precondition(lambda self: self.packets)
    @rule(**CLAIM)
    def claim_again(self, **kwargs):  # a second claim rule: claims are half of the steps
        self._claim(**kwargs)

    def _claim(self, which, recipient, submitter, variant, pick, price):
        pk = self.packets[which % len(self.packets)]
        to = self.recipients[recipient]
        if variant == "duplicate" and pk.open and pk.claimed_by:
            to = sorted(pk.claimed_by)[pick % len(pk.claimed_by)]
        frm = to if submitter == "self" else self.relayers[submitter]
        if pk.open:
            slot = pick % 4  # ignored
        elif variant == "duplicate" and pk.slots:
            slot = sorted(pk.slots)[pick % len(pk.slots)]
        else:
            slot = pk.next_slot
        signer, signed_for, signed_packet = pk.key, to, pk.id
        if variant == "wrong key":
            signer = key_for("machine stranger")
        elif variant == "redirect":
            signed_for = self.recipients[(recipient + 1) % len(self.recipients)]
        elif variant == "other packet":
            signed_packet = rp.packet_id(CHAIN_ID, self.w.contract, pk.creator, b"\x01" * 32)
        signature = rp.sign_claim(signer, CHAIN_ID, self.w.contract, signed_packet, signed_for, slot)
        share, proof = (0, ())
        if pk.split is not None and slot < pk.shares:
            share, proof = pk.split.amounts[slot], pk.split.proofs[slot]
        greedy = variant == "greedy" and pk.split is not None
        if greedy:  # a claimer asking for more than its slot's committed share
            share += 1 + pick
        data = rp.claim_data(pk.id, to, slot, signature, share, proof)

        t = self.clock + 1
        if t >= pk.expiry or pk.refunded is not None:
            expected = "Expired"
        elif pk.left == 0:
            expected = "Exhausted"
        elif (pk.open and to in pk.claimed_by) or (not pk.open and slot in pk.slots):
            expected = "AlreadyClaimed"  # checked before the signature: a lost race costs little
        elif variant in ("wrong key", "redirect", "other packet"):
            expected = "BadSignature"
        elif greedy:
            expected = "BadProof"
        else:
            expected = None
        if expected is not None:
            self._expect(frm, data, expected)
            return

        to_eth, frm_eth = balance(self.rpc, to), balance(self.rpc, frm)
        to_tokens = token_balance(self.rpc, pk.token, to) if pk.token else 0
        event("claim paid" + (" (last share)" if pk.left == 1 else "") + (" by a relayer" if frm != to else ""))
        receipt = self._tx(frm, data, gas_price=price)
        got = events(receipt, self.w.contract)
        claimed = [e for e in got if isinstance(e, rp.Claimed)]
        reimbursed_events = [e for e in got if isinstance(e, rp.Reimbursed)]
        assert len(claimed) == 1 and claimed[0].id == pk.id and claimed[0].recipient == to
        amount = claimed[0].amount
        if pk.split is not None:
            assert amount == pk.split.amounts[slot]  # the committed share, whoever submits, whenever
        elif pk.left == 1:
            assert amount == pk.remaining
        else:
            assert amount == pk.remaining // pk.left
        # the deposit pays back only the recipient or the creator, at most the gas used at
        # min(gas price, base fee + the creator's max tip), and at most an equal part
        price_paid = to_int(receipt["effectiveGasPrice"])
        base_fee = to_int(block_of(self.rpc, receipt)["baseFeePerGas"])
        ceiling = min(
            pk.deposit // pk.left,
            min(to_int(receipt["gasUsed"]), ALLOWANCE_GAS) * min(price_paid, base_fee + pk.max_tip),
        )
        reimbursed = sum(e.amount for e in reimbursed_events)
        eligible = frm in (to, pk.creator)
        assert reimbursed <= ceiling
        if not eligible or ceiling == 0:
            assert reimbursed_events == []
        else:
            assert reimbursed_events == [rp.Reimbursed(pk.id, frm, reimbursed)] and reimbursed > 0
        event(
            "reimbursed nothing"
            if not reimbursed
            else "reimbursed the gas used"
            if reimbursed < pk.deposit // pk.left
            else "reimbursed the deposit share"
        )

        cost = gas_cost(receipt)
        eth_to_recipient = amount if pk.token is None else 0
        if frm == to:
            assert balance(self.rpc, to) == to_eth + eth_to_recipient - cost + reimbursed
        else:
            assert balance(self.rpc, to) == to_eth + eth_to_recipient
            assert balance(self.rpc, frm) == frm_eth - cost + reimbursed
        if pk.token:
            assert token_balance(self.rpc, pk.token, to) == to_tokens + amount - (fee_of(amount) if pk.fee else 0)

        pk.remaining -= amount
        pk.deposit -= reimbursed
        pk.reimbursed += reimbursed
        pk.left -= 1
        pk.paid.append(amount)
        if pk.open:
            pk.claimed_by[to] = amount
        else:
            pk.slots.add(slot)
            if slot == pk.next_slot:
                pk.next_slot += 1

    @precondition(lambda self: self.packets)
    @rule(which=st.integers(0, 10**6), caller=st.sampled_from(["creator"] * 4 + ["other"]))
    def refund(self, which, caller):
        pk = self.packets[which % len(self.packets)]
        frm = pk.creator if caller == "creator" else self.accounts[9]
        data = rp.refund_data(pk.id)
        t = self.clock + 1
        if frm != pk.creator:
            expected = "NotCreator"
        elif t < pk.expiry:
            expected = "NotExpired"
        elif pk.refunded is not None:
            expected = "AlreadyRefunded"
        elif pk.remaining == 0 and pk.deposit == 0:
            expected = "NothingToRefund"
        else:
            expected = None
        if expected is not None:
            self._expect(frm, data, expected)
            return
        eth_before = balance(self.rpc, frm)
        tokens_before = token_balance(self.rpc, pk.token, frm) if pk.token else 0
        event("refund" + (" (partly claimed)" if pk.paid else ""))
        receipt = self._tx(frm, data)
        assert events(receipt, self.w.contract) == [rp.Refunded(pk.id, frm, pk.remaining, pk.deposit)]
        eth_back = pk.deposit + (pk.remaining if pk.token is None else 0)
        assert balance(self.rpc, frm) == eth_before + eth_back - gas_cost(receipt)
        if pk.token:
            assert token_balance(self.rpc, pk.token, frm) == tokens_before + pk.remaining - (
                fee_of(pk.remaining) if pk.fee else 0
            )
        pk.refunded, pk.refunded_deposit = pk.remaining, pk.deposit
        pk.remaining = pk.deposit = 0

    @rule(delta=st.one_of(st.sampled_from([1, 30, 60, 3_600, DAY]), st.integers(1, 2 * DAY)))
    def time_passes(self, delta):
        self.clock += delta  # the next transaction's block gets this timestamp (+1)

    # -- invariants -------------------------------------------------------------------------

    @invariant()
    def books_balance(self):
        owed_eth = 0
        owed_tokens = {self.w.token: 0, self.w.fee_token: 0}
        for pk in self.packets:
            state = rp.read_packet(self.rpc, self.w.contract, pk.id)
            assert state is not None
            assert (state.remaining, state.deposit, state.shares_left, state.refunded) == (
                pk.remaining,
                pk.deposit,
                pk.left,
                pk.refunded is not None,
            )
            assert (state.creator, state.token, state.shares, state.expiry, state.random, state.open) == (
                pk.creator,
                pk.token,
                pk.shares,
                pk.expiry,
                pk.random,
                pk.open,
            )
            assert sum(pk.paid) + (pk.refunded or 0) + pk.remaining == pk.total
            assert all(amount > 0 for amount in pk.paid)
            assert sum(pk.paid) <= pk.total and len(pk.paid) + pk.left == pk.shares
            if pk.refunded is None:
                assert pk.remaining >= pk.left  # at least one unit for each share left
            else:
                assert pk.remaining == 0
            assert pk.reimbursed + pk.refunded_deposit + pk.deposit == pk.deposit0
            if pk.open:
                for who, amount in pk.claimed_by.items():
                    assert rp.claimed_by(self.rpc, self.w.contract, pk.id, who) == amount
            if pk.token is None:
                owed_eth += pk.remaining + pk.deposit
            else:
                owed_eth += pk.deposit
                owed_tokens[pk.token] += pk.remaining
        assert balance(self.rpc, self.w.contract) == owed_eth
        for token, owed in owed_tokens.items():
            assert token_balance(self.rpc, token, self.w.contract) == owed


def test_redpacket_books_balance_under_random_operations(world):
    class Machine(RedPacketMachine):
        w = world

    run_state_machine_as_test(
        Machine,
        settings=settings(
            max_examples=30, stateful_step_count=30, deadline=None, suppress_health_check=[HealthCheck.too_slow]
        ),
    )
