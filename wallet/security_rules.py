"""Local security rules: what to warn about before a transaction is signed. Pure.

Computed from facts the wallet gathers itself (its history, contacts, the chain), with
nothing sent to a third party; cli/security.py gathers them and asks. A finding with
`confirm` set needs a confirmation of its own (and is refused under --yes without the
explicit flag); the others are shown with the preview. (An unlimited approval is already
warned about by wallet.transfers.prepare, with the preview.)
"""

from __future__ import annotations

from dataclasses import dataclass, field

from . import lookalike

FRESH_CONTRACT = 3600  # seconds: a spender deployed this recently is suspect


@dataclass(frozen=True, slots=True)
class Finding:
    rule: str
    message: str
    confirm: bool = False  # needs its own confirmation
    imitates: str | None = None  # for a lookalike: the known address it resembles

    def to_json(self) -> dict[str, object]:
        return {"rule": self.rule, "message": self.message, "confirm": self.confirm, "imitates": self.imitates}


@dataclass(frozen=True, slots=True)
class Facts:
    recipient: str | None  # who gets the money (the token recipient for a token transfer)
    paid_before: set[str] = field(default_factory=set)  # addresses this account has sent to (not cancelled)
    known: set[str] = field(default_factory=set)  # history counterparties and contacts
    contacts: set[str] = field(default_factory=set)  # saved contacts (with paid_before: who I chose)
    token_transfer: bool = False
    recipient_is_token: bool = False  # the recipient is itself a token contract
    spender: str | None = None  # an approval's spender
    spender_is_contract: bool | None = None
    spender_age: int | None = None  # seconds since the spender's deployment, if known


def assess(facts: Facts) -> list[Finding]:
    findings: list[Finding] = []
    if facts.recipient is not None:
        # Only an address I chose (paid, saved) is exempt: a poisoner's dust puts theirs in `known` too.
        imitated = lookalike.lookalikes(facts.recipient, facts.known, facts.paid_before | facts.contacts)
        if imitated:
            findings.append(
                Finding(
                    "lookalike",
                    f"{facts.recipient} only LOOKS LIKE {imitated[0]}, an address in your history or contacts: "
                    "it may be a poisoning address",
                    confirm=True,
                    imitates=imitated[0],
                )
            )
        elif facts.recipient.lower() not in {a.lower() for a in facts.paid_before}:
            findings.append(Finding("first-payment", f"first payment from this account to {facts.recipient}"))
        if facts.token_transfer and facts.recipient_is_token:
            findings.append(
                Finding(
                    "token-to-token-contract",
                    "the recipient is a token contract: tokens sent to it are almost always lost",
                    confirm=True,
                )
            )
    if facts.spender is not None:
        if facts.spender_is_contract is False:
            findings.append(
                Finding(
                    "approval-to-non-contract",
                    f"the spender {facts.spender} is not a contract: approvals go to contracts; this is a common scam",
                )
            )
        elif facts.spender_age is not None and facts.spender_age < FRESH_CONTRACT:
            findings.append(
                Finding(
                    "approval-to-new-contract",
                    f"the spender was deployed {max(facts.spender_age // 60, 0)} minutes ago: new contracts "
                    "asking for approvals are often drainers",
                )
            )
    return findings
