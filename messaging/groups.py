"""Groups: a named member list. A message to a group is sealed to each member (pairwise,
no shared group key: nothing new to distribute or rotate when membership changes, at the
cost of one envelope per member — fine for the hundreds of members red packets are for).

Membership changes travel as `GroupControl` payloads to everyone in the group (and to
whoever is removed), and every member applies them with `apply`. Pure.

A group's id is bound to its admin: 6 random bytes, then the first 10 bytes of
SHA-256(domain, admin address, those 6 bytes) (`new_group_id`, `bound_to`). A "create"
is accepted only from the address its id is bound to, so nobody else (a removed member,
a stranger) can "create" someone's group for a member who does not hold it yet: they
would need an 80-bit second preimage. (Groups made before ids were bound cannot be
handed to new members: their admin makes a new group.)
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

from wallet import address as addr
from wallet.errors import WalletError

from . import envelope as env
from .errors import PayloadError
from .identity import Bundle
from .keys import MessagingKeys
from .payloads import GroupControl, Payload

MAX_MEMBERS = 500
GROUP_ID_DOMAIN = b"hongbao-group-id-v1\0"
_NONCE_BYTES = 6


@dataclass(frozen=True, slots=True)
class Group:
    id: str  # 32 hex digits
    name: str
    members: tuple[str, ...]  # checksummed addresses, creator included
    admin: str  # who may change membership (the creator)


def _tag(admin: str, nonce: bytes) -> bytes:
    return hashlib.sha256(GROUP_ID_DOMAIN + bytes.fromhex(addr.parse(admin)[2:]) + nonce).digest()[: 16 - _NONCE_BYTES]


def new_group_id(admin: str) -> str:
    """32 hex digits: a random nonce and a tag binding it to `admin`."""
    nonce = secrets.token_bytes(_NONCE_BYTES)
    return (nonce + _tag(admin, nonce)).hex()


def bound_to(group_id: str, admin: str) -> bool:
    """Whether `group_id` was made by `new_group_id(admin)`."""
    try:
        raw = bytes.fromhex(group_id)
    except (TypeError, ValueError):
        return False
    return len(raw) == 16 and secrets.compare_digest(raw[_NONCE_BYTES:], _tag(admin, raw[:_NONCE_BYTES]))


def _members(addresses: Iterable[str]) -> tuple[str, ...]:
    """Checksummed and de-duplicated, in order: one member, one envelope, one removal."""
    try:
        return tuple(dict.fromkeys(addr.parse(a) for a in addresses))
    except (WalletError, AttributeError, TypeError):
        raise PayloadError("a group member is not an address") from None


def create(admin: str, name: str, members: list[str]) -> tuple[Group, GroupControl]:
    unique = _members([admin, *members])
    if len(unique) > MAX_MEMBERS:
        raise PayloadError(f"a group holds at most {MAX_MEMBERS} members")
    group = Group(new_group_id(unique[0]), name, unique, unique[0])
    control = GroupControl("create", group.id, name, unique)
    control.validate()
    return group, control


def apply(group: Group | None, control: GroupControl, sender: str) -> Group:
    """The group after `control` from `sender`; PayloadError if it is not allowed."""
    control.validate()
    if control.op == "create":
        if group is not None:
            raise PayloadError("that group exists already")
        members = _members(control.members)
        if addr.parse(sender) not in members:
            raise PayloadError("a group's creator must be a member")
        if not bound_to(control.group_id, sender):
            raise PayloadError(f"the group id {control.group_id} is not bound to {sender}: only its admin creates it")
        return Group(control.group_id, control.name, members, addr.parse(sender))
    if group is None or group.id != control.group_id:
        raise PayloadError("unknown group")
    if addr.parse(sender) != group.admin:
        raise PayloadError("only the group's admin changes it")
    if control.op == "rename":
        return replace(group, name=control.name)
    if control.op == "add":
        members = _members([*group.members, *control.members])
        if len(members) > MAX_MEMBERS:
            raise PayloadError(f"a group holds at most {MAX_MEMBERS} members")
        return replace(group, members=members)
    removed = set(_members(control.members))
    if group.admin in removed:
        raise PayloadError("the admin cannot be removed")
    return replace(group, members=tuple(m for m in group.members if m not in removed))


def recipients(group: Group, control: GroupControl | None, me: str) -> list[str]:
    """Who gets a message: every member but me; for a removal, the removed too."""
    me = addr.parse(me)
    everyone = list(group.members)
    if control is not None and control.op == "remove":
        everyone += [m for m in _members(control.members) if m not in everyone]
    return [m for m in everyone if m != me]


def _payload_for(member: str, payload: Payload, group: Group, control: GroupControl | None) -> Payload:
    """New members get the whole group (as a create), since a delta means nothing to them."""
    if control is not None and control.op == "add" and member in _members(control.members):
        return GroupControl("create", group.id, group.name, group.members)
    return payload


def seal_to_group(
    me: str,
    my_keys: MessagingKeys,
    group: Group,
    payload: Payload,
    bundle_of: Callable[[str], Bundle],
    *,
    now_ms: int,
    control: GroupControl | None = None,
) -> list[env.Envelope]:
    """One envelope per recipient, each with its own message id."""
    return [
        env.seal(
            addr.parse(me), my_keys, bundle_of(member), _payload_for(member, payload, group, control), now_ms=now_ms
        )
        for member in recipients(group, control, me)
    ]
