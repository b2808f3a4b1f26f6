"""Only a group's admin changes it, as every member applies changes (messaging/chat.py).

An ordinary member can send any group control to the others: a "create" for the group's
existing id (which the admin uses to hand a re-added member the whole group), an add, a
remove, a rename. For the other members none of them may change anything: the group keeps
its admin, name and members, and the admin's own later changes still apply. The Messenger
(the library the CLI uses) against one real relay process shared by this module."""

from __future__ import annotations

import secrets

import pytest
from test_relay_e2e import Relay, sqlite_url

from messaging import payloads
from messaging.chat import Messenger
from messaging.groups import Group

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def relay(tmp_path_factory):
    folder = tmp_path_factory.mktemp("group-relay")
    with Relay(folder / "home", sqlite_url(folder)) as running:
        yield running


@pytest.fixture(scope="module")
def cast(relay, tmp_path_factory):
    """Alice, Bob, Carol and Dave, published once for the module (each test makes its own group)."""
    folder = tmp_path_factory.mktemp("people")
    people = [
        Messenger.open(folder / name, secrets.token_bytes(32), relay_url=relay.url)
        for name in ("alice", "bob", "carol", "dave")
    ]
    try:
        for person in people:
            person.publish()
        yield people
    finally:
        for person in people:
            person.close()


@pytest.fixture
def family(cast):
    """A new group "family" of Alice's with Bob and Carol, as each of them holds it; Dave is outside."""
    alice, bob, carol, dave = cast
    group, _ = alice.create_group("family", [bob.address, carol.address])
    for member in (bob, carol):
        assert member.receive().errors == []
        assert member.store.group(group.id) == group
    return alice, bob, carol, dave, group


def control_from(sender: Messenger, to: Messenger, control: payloads.GroupControl) -> list[str]:
    """`sender` sends one group control straight to `to`; what `to` made of it (errors)."""
    sender.send(to.address, control)
    return to.receive().errors


def test_a_members_create_for_an_existing_group_changes_nothing(family):
    alice, bob, carol, dave, group = family
    takeover = payloads.GroupControl("create", group.id, "bob's now", (bob.address, dave.address))
    errors = control_from(bob, carol, takeover)
    assert len(errors) == 1 and "ignored" in errors[0] and bob.address in errors[0], errors
    assert carol.store.group(group.id) == group  # admin, name and members as Alice made them
    # nor the same with Carol left in, or with every member listed
    for members in ((bob.address, carol.address), (alice.address, bob.address, carol.address)):
        control_from(bob, carol, payloads.GroupControl("create", group.id, "family", members))
        assert carol.store.group(group.id) == group


def test_a_members_admin_only_changes_are_refused(family):
    alice, bob, carol, dave, group = family
    for control in (
        payloads.GroupControl("add", group.id, members=(dave.address,)),
        payloads.GroupControl("remove", group.id, members=(alice.address,)),
        payloads.GroupControl("remove", group.id, members=(carol.address,)),
        payloads.GroupControl("rename", group.id, "mine now"),
    ):
        errors = control_from(bob, carol, control)
        assert len(errors) == 1 and "ignored" in errors[0], (control, errors)
        assert carol.store.group(group.id) == group, control


def test_after_a_takeover_attempt_the_admin_still_governs(family):
    alice, bob, carol, dave, group = family
    control_from(bob, carol, payloads.GroupControl("create", group.id, "bob's now", (bob.address, carol.address)))
    alice.rename_group("group:" + group.id, "家人")
    alice.add_members("group:" + group.id, [dave.address])
    carol.receive()
    assert carol.store.group(group.id) == Group(
        group.id, "家人", (alice.address, bob.address, carol.address, dave.address), alice.address
    )


def test_the_admin_re_adding_a_member_hands_them_the_whole_group(family):
    alice, bob, carol, _, group = family
    alice.remove_members("group:" + group.id, [carol.address])
    carol.receive()
    assert carol.store.group(group.id).members == (alice.address, bob.address)
    alice.rename_group("group:" + group.id, "renamed while Carol was out")
    alice.add_members("group:" + group.id, [carol.address])
    got = carol.receive()
    assert got.errors == []
    assert carol.store.group(group.id) == Group(
        group.id, "renamed while Carol was out", (alice.address, bob.address, carol.address), alice.address
    )


def test_an_outsiders_create_for_the_group_is_refused(family):
    *_, carol, dave, group = family
    errors = control_from(dave, carol, payloads.GroupControl("create", group.id, "dave's", (dave.address,)))
    assert len(errors) == 1 and "not a member" in errors[0], errors
    assert carol.store.group(group.id) == group


def test_a_removed_members_create_is_refused_by_a_newcomer(cast):
    """Issue 13, finding 10: Dave, removed, "creates" Alice's group for Carol (who does not
    hold it yet) naming himself admin, before Alice adds her. The id is bound to Alice:
    Carol refuses it, and then takes Alice's group as Alice sends it."""
    alice, bob, carol, dave = cast
    group, _ = alice.create_group("newcomers", [bob.address, dave.address])
    alice.remove_members("group:" + group.id, [dave.address])
    dave.receive()
    carol.bundle_for(dave.address)  # (an earlier test's refused message may have left Dave unpinned)
    errors = control_from(
        dave, carol, payloads.GroupControl("create", group.id, "dave's", (dave.address, carol.address))
    )
    assert len(errors) == 1 and "not bound" in errors[0] and dave.address in errors[0], errors
    assert carol.store.group(group.id) is None
    alice.add_members("group:" + group.id, [carol.address])
    assert carol.receive().errors == []
    assert carol.store.group(group.id) == Group(
        group.id, "newcomers", (alice.address, bob.address, carol.address), alice.address
    )
    control_from(dave, carol, payloads.GroupControl("remove", group.id, members=(alice.address,)))
    assert carol.store.group(group.id).admin == alice.address
