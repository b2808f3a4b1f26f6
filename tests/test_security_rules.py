"""Local security rules before signing: a first payment, an address made to look like one
in my history (address poisoning), tokens sent to a token contract, an approval to a
non-contract or to a contract deployed minutes ago."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_defi_cli import setup  # noqa: F401  (a fixture: a funded wallet `me` with TKN and the contracts)
from test_transfers import ALICE, funded, one_line_error  # noqa: F401

from wallet import address as addr
from wallet.lookalike import differences, lookalikes, looks_like
from wallet.security_rules import Facts, assess

W = ("--wallet", "me", "--yes")


def imitation(of: str, middle: str = "0") -> str:
    """An address with `of`'s first and last three hex digits and another middle."""
    body = of[2:].lower()
    return addr.to_checksum(body[:3] + middle * 34 + body[-3:])


def test_lookalikes_share_both_ends_but_are_not_the_same():
    fake = imitation(ALICE)
    assert looks_like(fake, ALICE) and looks_like(ALICE.lower(), fake)
    assert not looks_like(ALICE, ALICE.lower())  # the same address, other case
    assert not looks_like(imitation(ALICE)[:-1] + "0", ALICE) or ALICE.lower().endswith("0")
    assert lookalikes(fake, [ALICE, "0x" + "11" * 20]) == [ALICE]
    assert lookalikes(ALICE, [ALICE, fake]) == []  # a known address imitates nothing


@given(st.text(alphabet="0123456789abcdef", min_size=40, max_size=40))
def test_differences_mark_exactly_the_changed_characters(body):
    other = "0x" + body
    fake = imitation(other, "f" if body[3] != "f" else "e")
    runs = differences(fake, other)
    assert "".join(text for text, _ in runs) == fake
    marked = [i for i, ch in enumerate("".join("x" * len(t) if d else "." * len(t) for t, d in runs)) if ch == "x"]
    assert marked == [i for i in range(42) if fake[i].lower() != other[i].lower()]


def test_the_rules():
    fake = imitation(ALICE)
    assert [f.rule for f in assess(Facts(ALICE, {ALICE}, {ALICE}))] == []
    assert [f.rule for f in assess(Facts(ALICE, set(), {ALICE}))] == ["first-payment"]
    found = assess(Facts(fake, {ALICE}, {ALICE}))
    assert [f.rule for f in found] == ["lookalike"] and found[0].confirm and found[0].imitates == ALICE
    token = assess(Facts(ALICE, {ALICE}, {ALICE}, token_transfer=True, recipient_is_token=True))
    assert [f.rule for f in token] == ["token-to-token-contract"] and token[0].confirm
    eoa = assess(Facts(None, spender=ALICE, spender_is_contract=False))
    assert [f.rule for f in eoa] == ["approval-to-non-contract"]
    fresh = assess(Facts(None, spender=ALICE, spender_is_contract=True, spender_age=120))
    assert [f.rule for f in fresh] == ["approval-to-new-contract"] and "2 minutes ago" in fresh[0].message
    assert assess(Facts(None, spender=ALICE, spender_is_contract=True, spender_age=10**6)) == []


@pytest.mark.slow
def test_a_lookalike_of_a_paid_address_is_refused_under_yes(cli, funded):  # noqa: F811
    first = cli("send", ALICE, "0.1", *W)
    assert "first payment" in first.stderr
    again = cli("send", ALICE, "0.1", *W)
    assert "first payment" not in again.stderr and "DANGER" not in again.stderr
    fake = imitation(ALICE)
    refused = cli("send", fake, "0.1", *W, check=False)
    one_line_error(refused, "LOOKS LIKE", "--allow-risky", after_preview=True)
    assert "DANGER" in refused.stderr
    sent = cli("send", fake, "0.1", *W, "--allow-risky")
    assert sent.returncode == 0


@pytest.mark.slow
def test_tokens_to_a_token_contract_and_an_approval_to_a_non_contract(cli, setup):  # noqa: F811
    refused = cli("send", setup["token"], "1 TKN", *W, check=False)
    one_line_error(refused, "token contract", after_preview=True)
    approval = cli("token", "approve", "TKN", ALICE, "1", *W)
    assert "is not a contract" in approval.stderr
    vault = cli("token", "approve", "TKN", setup["vault"], "1", *W)
    assert "deployed 0 minutes ago" in vault.stderr


def test_only_an_address_i_chose_is_exempt_from_the_lookalike_rule():
    fake = imitation(ALICE)
    # known only because it sent me dust (or I sent to it and cancelled): still an imitation
    assert [f.rule for f in assess(Facts(fake, {ALICE}, {ALICE, fake}))] == ["lookalike"]
    assert [f.rule for f in assess(Facts(fake, {ALICE, fake}, {ALICE, fake}))] == []  # paid: chosen
    assert [f.rule for f in assess(Facts(fake, {ALICE}, {ALICE, fake}, {fake}))] == ["first-payment"]  # saved
    assert lookalikes(fake, [ALICE, fake], trusted=[ALICE]) == [ALICE]


def test_dust_received_and_a_cancelled_send_do_not_make_a_poisoning_address_trusted(hongbao_home):
    """The attack: a poisoner sends dust from an imitation of Alice (so it is in my history),
    or I sent to it by mistake and cancelled; neither vouches for it on my next send."""
    from types import SimpleNamespace

    from cli.services.security import counterparties, recipient_facts
    from wallet.history import FILE, History, Incoming, SentTx

    me = addr.to_checksum("ab" * 20)
    dusty, cancelled = imitation(ALICE), imitation(ALICE, "1")
    chain = SimpleNamespace(chain_id=31337)
    log = History(hongbao_home / FILE)
    for n, (to, status) in enumerate([(ALICE, "confirmed"), (cancelled, "replaced"), (cancelled, "dropped")]):
        tx = SentTx(
            31337, f"0x{n + 1:064x}", me, n, to, 1, "0x", 21000, 1, 1, None, "transfer", None, None, None, "0x", 1
        )
        log.record_sent(replace(tx, status=status))
    log.add_incoming(Incoming(31337, "0x" + "ee" * 32, -1, 1, dusty, me, None, 0, 100))
    try:
        paid, seen = counterparties(log, 31337, me)
        assert paid == {ALICE} and {dusty, cancelled} <= seen
        for fake in (dusty, cancelled):
            found = assess(recipient_facts(chain, log, me, fake, token=False))
            assert [f.rule for f in found] == ["lookalike"], fake  # (of Alice, or of the other imitation)
        assert assess(recipient_facts(chain, log, me, ALICE, token=False)) == []
    finally:
        log.close()


def test_dust_from_a_lookalike_is_hidden_from_tx_list(cli, hongbao_home):
    from wallet.history import FILE, History, Incoming, SentTx

    me = "0x" + "ab" * 20
    me = addr.to_checksum(me[2:])
    log = History(hongbao_home / FILE)
    sent = SentTx(
        31337, "0x" + "01" * 32, me, 0, ALICE, 10**18, "0x", 21000, 1, 1, None, "transfer", None, None, None, "0x", 1
    )
    log.record_sent(sent)
    fake = imitation(ALICE)
    for n, (sender, amount) in enumerate([(fake, 0), (fake, 10**12), (fake, 10**18), (ALICE, 0)]):
        log.add_incoming(Incoming(31337, "0x" + f"{n + 2:02x}" * 32, -1, n + 1, sender, me, None, amount, 100 + n))
    log.close()
    shown = cli.json("tx", "list")
    everything = cli.json("tx", "list", "--all")
    assert len(everything) == 5
    assert [(r["from"], int(r["amount"])) for r in shown if r["direction"] == "in"] == [(ALICE, 0), (fake, 10**18)]
