"""Groups (messaging/groups.py): membership, admin rules, one envelope per member."""

from __future__ import annotations

import re

import pytest
from conftest import ANVIL_MNEMONIC

from messaging import groups
from messaging.envelope import open_envelope
from messaging.errors import NotForMe, PayloadError
from messaging.groups import MAX_MEMBERS, apply, create, recipients, seal_to_group
from messaging.identity import make_bundle
from messaging.keys import MessagingKeys
from messaging.payloads import GroupControl, RedPacket, Text
from wallet import address, bip39, hd

T0 = 1_767_225_600
NOW = T0 * 1000 + 5_000
_deriver = hd.Deriver(bip39.to_seed(ANVIL_MNEMONIC))
ACCOUNT_KEYS = [_deriver.private_key(hd.scheme_path("bip44", i)) for i in range(5)]
KEYS = [MessagingKeys.from_account_key(k) for k in ACCOUNT_KEYS]
BUNDLES = [make_bundle(k, T0) for k in ACCOUNT_KEYS]
A, B, C, D, E = (b.address for b in BUNDLES)
BY_ADDRESS = {b.address: (b, keys) for b, keys in zip(BUNDLES, KEYS, strict=True)}


def bundle_of(member: str):
    return BY_ADDRESS[member][0]


def open_as(member: str, envelope, sender: str = A):
    _bundle, keys = BY_ADDRESS[member]
    return open_envelope(
        envelope, member, keys, now_ms=NOW, known_bundle=lambda a: BY_ADDRESS[a][0] if a == sender else None
    )


def fake_members(n: int) -> list[str]:
    return [address.to_checksum(f"{i + 1:040x}") for i in range(n)]


def test_the_anvil_accounts():
    assert A == "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
    assert E == "0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65"


# -- create --------------------------------------------------------------------------------


def test_create_includes_the_admin_once_and_dedups():
    group, control = create(A, "家人", [B, A, C, B, D, C])
    assert group.members == (A, B, C, D)  # admin first, then the order given
    assert group.admin == A and group.name == "家人"
    assert re.fullmatch(r"[0-9a-f]{32}", group.id)
    assert control == GroupControl("create", group.id, "家人", (A, B, C, D))
    control.validate()


def test_create_with_no_one_else():
    group, control = create(A, "me", [])
    assert group.members == (A,) and control.members == (A,)


def test_group_ids_are_random():
    assert len({create(A, "g", [B])[0].id for _ in range(20)}) == 20
    assert re.fullmatch(r"[0-9a-f]{32}", groups.new_group_id(A))


def test_create_size_limit():
    assert MAX_MEMBERS == 500
    group, _ = create(A, "big", fake_members(499))
    assert len(group.members) == 500
    group, _ = create(A, "big", [A, *fake_members(499)])  # the admin listed too: still 500
    assert len(group.members) == 500
    with pytest.raises(PayloadError):
        create(A, "too big", fake_members(500))  # 501 with the admin
    group, _ = create(A, "dups", fake_members(499) * 2)  # duplicates do not count
    assert len(group.members) == 500


def test_create_validates():
    with pytest.raises(PayloadError):
        create(A, "x" * 129, [B])
    with pytest.raises(PayloadError):
        create(A, "g", ["0x1234"])


# -- seal_to_group -------------------------------------------------------------------------


def test_seal_to_group_one_envelope_per_other_member_each_opens():
    group, _ = create(A, "family", [B, C, D])
    payload = Text("大家好 🧧", group_id=group.id)
    envelopes = seal_to_group(A, KEYS[0], group, payload, bundle_of, now_ms=NOW)
    assert [e.to for e in envelopes] == [B, C, D]
    assert len({e.id for e in envelopes}) == 3
    for envelope in envelopes:
        opened = open_as(envelope.to, envelope)
        assert opened.payload == payload and opened.sender == A and opened.recipient == envelope.to
    # each envelope is sealed to its member alone
    with pytest.raises(NotForMe):
        open_as(C, envelopes[0])


def test_seal_to_group_from_a_non_admin_member():
    group, _ = create(A, "family", [B, C])
    payload = RedPacket(
        31337,
        "0x5FbDB2315678afecb367f032d93F642f64180aa3",
        "0x" + "ab" * 32,
        claim_key="0x" + "01" * 32,
        group_id=group.id,
    )
    envelopes = seal_to_group(C, KEYS[2], group, payload, bundle_of, now_ms=NOW)
    assert [e.to for e in envelopes] == [A, B]
    for envelope in envelopes:
        assert open_as(envelope.to, envelope, sender=C).payload == payload


def test_seal_to_group_asks_for_each_recipients_bundle_only():
    group, _ = create(A, "g", [B, C])
    asked = []
    seal_to_group(B, KEYS[1], group, Text("x"), lambda m: asked.append(m) or bundle_of(m), now_ms=NOW)
    assert asked == [A, C]


# -- apply ---------------------------------------------------------------------------------


def test_every_member_applies_the_create_to_the_same_group():
    group, control = create(A, "family", [B, C])
    for envelope in seal_to_group(A, KEYS[0], group, control, bundle_of, now_ms=NOW):
        opened = open_as(envelope.to, envelope)
        assert apply(None, opened.payload, opened.sender) == group


def test_create_rules():
    group, control = create(A, "g", [B, C])
    with pytest.raises(PayloadError):
        apply(group, control, A)  # exists already
    with pytest.raises(PayloadError):
        apply(None, control, D)  # a creator who is not a member
    with pytest.raises(PayloadError):
        apply(None, GroupControl("create", group.id, "g", (A, B, *fake_members(499))), A)


def test_admin_adds_renames_removes():
    group, _ = create(A, "g", [B])
    group = apply(group, GroupControl("add", group.id, members=(C, D, B)), A)
    assert group.members == (A, B, C, D)
    group = apply(group, GroupControl("rename", group.id, "新名字"), A)
    assert group.name == "新名字" and group.members == (A, B, C, D)
    group = apply(group, GroupControl("remove", group.id, members=(B, D)), A)
    assert group.members == (A, C)
    assert group.admin == A
    assert apply(group, GroupControl("remove", group.id, members=(E,)), A).members == (A, C)  # not a member: no-op


def test_non_admin_changes_are_refused():
    group, _ = create(A, "g", [B, C])
    for control in (
        GroupControl("add", group.id, members=(D,)),
        GroupControl("remove", group.id, members=(C,)),
        GroupControl("remove", group.id, members=(B,)),  # not even yourself
        GroupControl("remove", group.id, members=(A,)),
        GroupControl("rename", group.id, "mine now"),
    ):
        for sender in (B, C, D):
            with pytest.raises(PayloadError):
                apply(group, control, sender)
        assert group.members == (A, B, C)


def test_the_admin_cannot_be_removed():
    group, _ = create(A, "g", [B, C])
    with pytest.raises(PayloadError):
        apply(group, GroupControl("remove", group.id, members=(A,)), A)
    with pytest.raises(PayloadError):
        apply(group, GroupControl("remove", group.id, members=(B, A)), A)
    for spelling in (A.lower(), "0x" + A[2:].upper(), A[2:]):  # any spelling of the admin
        with pytest.raises(PayloadError):
            apply(group, GroupControl("remove", group.id, members=(spelling,)), A)


def test_changes_to_an_unknown_group_are_refused():
    group, _ = create(A, "g", [B])
    other = groups.new_group_id(A)
    for control in (
        GroupControl("add", other, members=(C,)),
        GroupControl("rename", other, "x"),
        GroupControl("remove", other, members=(B,)),
    ):
        with pytest.raises(PayloadError):
            apply(group, control, A)
        with pytest.raises(PayloadError):
            apply(None, control, A)


def test_apply_validates_the_control():
    group, _ = create(A, "g", [B])
    for control in (
        GroupControl("delete", group.id),
        GroupControl("rename", group.id, "x" * 129),
        GroupControl("add", group.id, members=("0x12",)),
    ):
        with pytest.raises(PayloadError):
            apply(group, control, A)


def test_add_size_limit():
    group, _ = create(A, "g", fake_members(498))  # 499
    group = apply(group, GroupControl("add", group.id, members=(B,)), A)
    assert len(group.members) == 500
    with pytest.raises(PayloadError):
        apply(group, GroupControl("add", group.id, members=(C,)), A)
    assert len(apply(group, GroupControl("add", group.id, members=(B, A)), A).members) == 500  # existing: fine


# -- removal reaches the removed -----------------------------------------------------------


def test_recipients():
    group, _ = create(A, "g", [B, C, D])
    assert recipients(group, None, A) == [B, C, D]
    assert recipients(group, None, C) == [A, B, D]
    removal = GroupControl("remove", group.id, members=(C,))
    after = apply(group, removal, A)
    assert after.members == (A, B, D)
    assert recipients(after, removal, A) == [B, D, C]  # the removed member is told
    assert recipients(group, removal, A) == [B, C, D]  # no duplicate when given the old group
    assert recipients(after, None, A) == [B, D]  # and nothing after that
    assert recipients(after, GroupControl("add", group.id, members=(E,)), A) == [B, D]


def test_the_removal_message_reaches_the_removed_member():
    group, create_control = create(A, "g", [B, C])
    views = {m: apply(None, create_control, A) for m in (B, C)}
    removal = GroupControl("remove", group.id, members=(C,))
    group = apply(group, removal, A)
    envelopes = seal_to_group(A, KEYS[0], group, removal, bundle_of, now_ms=NOW, control=removal)
    assert sorted(e.to for e in envelopes) == sorted([B, C])
    for envelope in envelopes:
        opened = open_as(envelope.to, envelope)
        views[envelope.to] = apply(views[envelope.to], opened.payload, opened.sender)
    assert views[B] == views[C] == group
    assert C not in views[C].members
    # later group messages no longer reach C
    assert [e.to for e in seal_to_group(A, KEYS[0], group, Text("bye"), bundle_of, now_ms=NOW)] == [B]


# -- bugs: regressions, and open ones as strict xfails ---------------------------------------


# Regression (was a bug): create deduplicated by exact string, keeping an address in another
# letter case as a second, non-checksummed member.
def test_create_dedups_addresses_in_any_case():
    group, _ = create(A, "g", [B.lower(), B, A.lower()])
    assert group.members == (A, B)


# Regression (was a bug): apply compared addresses as strings: a member added in lowercase
# survived their removal by checksummed address and kept receiving every group message.
def test_a_removed_member_is_removed_whatever_the_case_they_were_added_in():
    group, _ = create(A, "g", [C])
    group = apply(group, GroupControl("add", group.id, members=(B.lower(),)), A)
    group = apply(group, GroupControl("remove", group.id, members=(B,)), A)
    assert B.lower() not in [m.lower() for m in group.members]
    assert all(m.lower() != B.lower() for m in recipients(group, None, A))


# Regression (was a bug): apply('create') kept control.members as sent (no dedup), so a
# duplicate member received every group message twice.
def test_apply_create_dedups_members():
    gid = groups.new_group_id(A)
    group = apply(None, GroupControl("create", gid, "g", (A, B, B, C)), A)
    assert group.members == (A, B, C)


def test_a_member_added_later_learns_the_group():
    group, _ = create(A, "g", [B])
    add = GroupControl("add", group.id, members=(C,))
    group = apply(group, add, A)
    envelopes = seal_to_group(A, KEYS[0], group, add, bundle_of, now_ms=NOW, control=add)
    assert sorted(e.to for e in envelopes) == sorted([B, C])
    to_c = next(e for e in envelopes if e.to == C)
    opened = open_as(C, to_c)
    assert apply(None, opened.payload, opened.sender) == group


def test_create_normalizes_the_admin():
    group, _ = create(A.lower(), "g", [B])
    assert group.admin == A
    assert apply(group, GroupControl("rename", group.id, "renamed"), A).name == "renamed"


def test_recipients_never_include_me_whatever_the_case():
    group, _ = create(A, "g", [B, C])
    assert recipients(group, None, A.lower()) == [B, C]
    assert [e.to for e in seal_to_group(A.lower(), KEYS[0], group, Text("x"), bundle_of, now_ms=NOW)] == [B, C]


# Issue 13, finding 10: a group's id is bound to its admin, so only the admin "creates" it.
def test_only_the_admin_a_group_id_is_bound_to_can_create_it():
    group, control = create(A, "g", [B, C])
    assert groups.bound_to(group.id, A) and not groups.bound_to(group.id, B)
    assert apply(None, control, A) == group
    for someone in (B, D):  # a member, an outsider: "create" Alice's group naming themselves admin
        takeover = GroupControl("create", group.id, "mine", (someone, C))
        with pytest.raises(PayloadError, match="not bound"):
            apply(None, takeover, someone)
    for junk in ("zz" * 16, "00" * 16, group.id[:-2] + "00"):
        assert not groups.bound_to(junk, A)
