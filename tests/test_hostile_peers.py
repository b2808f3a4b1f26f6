"""A stranger's keys and payloads never crash a recipient (issue 13, finding 2).

Anyone can publish a bundle signed by their own address that names any 32 bytes as keys,
and post anything sealed to anyone's key. Low-order or off-curve keys are refused where a
bundle or prekey enters (client and relay); whatever a stranger posts is at worst one
counted failure: `receive` (under `chat inbox`, `show`, `watch`) goes on with the rest,
receipts are best effort per sender, and a group command either completes or changes
nothing. The Messenger against one real relay process shared by this module; the fuzz
test needs no relay."""

from __future__ import annotations

import dataclasses
import secrets
import time

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_relay_e2e import Relay, sqlite_url

from messaging import envelope as env
from messaging import padding, payloads
from messaging.chat import Messenger, Received
from messaging.client import QuotaExceeded, RelayClient
from messaging.errors import BundleInvalid, MessagingError
from messaging.identity import Bundle, make_bundle, sign_bundle, verify_bundle
from messaging.keys import MessagingKeys
from messaging.prekeys import PrekeyBundleInvalid, parse_bundle

# Low-order X25519 points (order 1, 2, 4, 8, and their non-canonical encodings): a DH
# with any of them is all zeros.
LOW_ORDER_X25519 = [
    bytes(32),
    b"\x01" + bytes(31),
    bytes.fromhex("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"),
    bytes.fromhex("5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157"),
    bytes.fromhex("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
    bytes.fromhex("edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
    bytes.fromhex("eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
]
# Ed25519: the identity (small order), a point of order 2, a non-canonical y.
BAD_ED25519 = [
    b"\x01" + bytes(31),
    bytes.fromhex("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
    bytes.fromhex("edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
    bytes(32),
]


@dataclasses.dataclass
class Stranger:
    key: bytes
    keys: MessagingKeys
    address: str

    @classmethod
    def new(cls) -> Stranger:
        key = secrets.token_bytes(32)
        keys = MessagingKeys.from_account_key(key)
        return cls(key, keys, make_bundle(key, int(time.time())).address)

    def bundle(self, *, x25519: bytes | None = None, ed25519: bytes | None = None, version: int = 1) -> Bundle:
        """A bundle this stranger really signed, naming whatever keys they like."""
        unsigned = Bundle(
            self.address,
            self.keys.x25519_public if x25519 is None else x25519,
            self.keys.ed25519_public if ed25519 is None else ed25519,
            int(time.time()),
            version,
        )
        return sign_bundle(self.key, unsigned)

    def seal_to(self, recipient: Bundle, payload: payloads.Payload, *, enclose: Bundle | None = None) -> env.Envelope:
        return env.seal(
            self.address,
            self.keys,
            recipient,
            payload,
            now_ms=time.time_ns() // 1_000_000,
            include_bundle=enclose or self.bundle(),
        )


# -- keys are checked where they enter ------------------------------------------------------


@pytest.mark.parametrize("bad", LOW_ORDER_X25519, ids=lambda b: b.hex()[:8])
def test_a_bundle_with_a_low_order_encryption_key_is_refused(bad):
    with pytest.raises(BundleInvalid, match="X25519"):
        verify_bundle(Stranger.new().bundle(x25519=bad))


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(LOW_ORDER_X25519).map(lambda p: p[:31] + bytes([p[31] | 0x80]))
    | st.binary(min_size=32, max_size=32)
)
def test_the_x25519_check_agrees_with_libsodium(key):
    """The blocklist (cheap) refuses exactly the keys libsodium's scalar multiplication does."""
    from nacl.bindings import crypto_scalarmult
    from nacl.exceptions import CryptoError

    from messaging.keycheck import x25519_usable

    try:
        crypto_scalarmult(secrets.token_bytes(32), key)
        refused = False
    except CryptoError:
        refused = True
    assert x25519_usable(key) is not refused


@pytest.mark.parametrize("bad", BAD_ED25519, ids=lambda b: b.hex()[:8])
def test_a_bundle_with_an_unusable_signing_key_is_refused(bad):
    with pytest.raises(BundleInvalid, match="Ed25519"):
        verify_bundle(Stranger.new().bundle(ed25519=bad))


def test_prekeys_with_low_order_keys_are_refused():
    stranger = Stranger.new()
    good = {"key": secrets.token_bytes(32).hex(), "signature": "00" * 64}
    for bad in LOW_ORDER_X25519:
        for field, signed in (("signed_prekey", {"key": bad.hex(), "signature": "00" * 64, "created_at": 1}),):
            data = {
                "address": stranger.address,
                "identity_key": stranger.keys.ed25519_public.hex(),
                field: signed,
                "one_time_prekey": None,
            }
            with pytest.raises(PrekeyBundleInvalid, match="X25519"):
                parse_bundle(data)
        data = {
            "address": stranger.address,
            "identity_key": stranger.keys.ed25519_public.hex(),
            "signed_prekey": {**good, "key": stranger.keys.x25519_public.hex(), "created_at": 1},
            "one_time_prekey": {"key": bad.hex(), "signature": "00" * 64},
        }
        with pytest.raises(PrekeyBundleInvalid, match="X25519"):
            parse_bundle(data)
    with pytest.raises(PrekeyBundleInvalid, match="Ed25519"):
        parse_bundle({**data, "identity_key": "00" * 32, "one_time_prekey": None})


def test_a_pinned_low_order_key_fails_as_a_messaging_error_not_a_crash():
    """A bundle pinned before keys were checked: sealing to it is a BundleInvalid."""
    stranger = Stranger.new()
    pinned = stranger.bundle(x25519=bytes(32))
    with pytest.raises(BundleInvalid, match="unusable"):
        env.seal(stranger.address, stranger.keys, pinned, payloads.Text("x"), now_ms=time.time_ns() // 10**6)


# -- against a relay ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def relay(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile-relay")
    with Relay(folder / "home", sqlite_url(folder)) as running:
        yield running


@pytest.fixture(scope="module")
def cast(relay, tmp_path_factory):
    """Alice, Bob and Carol, published once for the module."""
    folder = tmp_path_factory.mktemp("people")
    people = [
        Messenger.open(folder / name, secrets.token_bytes(32), relay_url=relay.url)
        for name in ("alice", "bob", "carol")
    ]
    try:
        for person in people:
            person.publish()
        yield people
    finally:
        for person in people:
            person.close()


def _post(relay, *envelopes: env.Envelope) -> None:
    with RelayClient(relay.url) as client:
        client.send(list(envelopes))


def _bob_bundle(bob: Messenger) -> Bundle:
    return make_bundle(bob._account_key, int(time.time()))


@pytest.mark.slow
def test_the_relay_refuses_a_bundle_with_a_low_order_key(relay):
    stranger = Stranger.new()
    bad = stranger.bundle(x25519=bytes(32))
    response = httpx.put(f"{relay.url}/v1/identities/{stranger.address}", json=bad.to_json(), timeout=10)
    assert response.status_code == 422 and "X25519" in response.text, response.text


@pytest.mark.slow
def test_a_stranger_with_a_zero_key_does_not_stop_bobs_inbox(relay, cast):
    alice, bob, _ = cast
    stranger = Stranger.new()
    _post(relay, stranger.seal_to(_bob_bundle(bob), payloads.Text("hi"), enclose=stranger.bundle(x25519=bytes(32))))
    alice.send(bob.address, payloads.Text("from alice"))
    received = bob.receive()
    assert [m.payload for m in received if m.sender == alice.address] == [payloads.Text("from alice")]
    assert received.failures == 1 and "X25519" in received.errors[0], received.errors
    assert bob.store.known_bundle(stranger.address) is None


@pytest.mark.slow
def test_a_stranger_whose_mailbox_is_full_does_not_stop_bobs_inbox(relay, cast, monkeypatch):
    """Delivered receipts are best effort, per sender: a 507 for one leaves the others'."""
    alice, bob, _ = cast
    stranger = Stranger.new()
    _post(relay, stranger.seal_to(_bob_bundle(bob), payloads.Text("hi from a full mailbox")))
    alice.send(bob.address, payloads.Text("hello again"))
    real_send = bob.relay.send
    receipts_to: list[str] = []

    def send(envelopes):
        envelopes = list(envelopes)
        if any(e.to == stranger.address for e in envelopes):
            raise QuotaExceeded(507, "mailbox_full", f"the mailbox of {stranger.address} is full")
        receipts_to.extend(e.to for e in envelopes)
        return real_send(envelopes)

    monkeypatch.setattr(bob.relay, "send", send)
    received = bob.receive()
    assert {m.sender for m in received} == {stranger.address, alice.address}
    assert alice.address in receipts_to  # Alice still gets her delivered receipt


@pytest.mark.slow
def test_a_failing_group_remove_changes_nothing(cast, monkeypatch):
    alice, bob, carol = cast
    group, _ = alice.create_group("hostile-remove", [bob.address, carol.address])
    real_seal = alice.sessions.seal

    def seal(bundle, payload, **kwargs):
        if bundle.address == carol.address:  # not the peer's fault: the whole change fails
            raise MessagingError("no session can be started with Carol now")
        return real_seal(bundle, payload, **kwargs)

    monkeypatch.setattr(alice.sessions, "seal", seal)
    with pytest.raises(MessagingError, match="no session"):
        alice.remove_members("group:" + group.id, [carol.address])
    assert alice.store.group(group.id) == group


@pytest.mark.slow
def test_a_member_with_an_unusable_key_is_skipped_not_fatal_in_a_group_send(cast, monkeypatch):
    alice, bob, carol = cast
    group, _ = alice.create_group("hostile-send", [bob.address, carol.address])
    bob.receive()
    real_seal = alice.sessions.seal

    def seal(bundle, payload, **kwargs):
        if bundle.address == carol.address:
            raise BundleInvalid(f"{carol.address}'s encryption key is unusable (low order)")
        return real_seal(bundle, payload, **kwargs)

    monkeypatch.setattr(alice.sessions, "seal", seal)
    sent = alice.send("group:" + group.id, payloads.Text("to the group"))
    assert list(sent.skipped) == [carol.address] and "unusable" in sent.skipped[carol.address]
    assert [m.payload.body for m in bob.receive() if m.type == "text"] == ["to the group"]


# -- fuzz: whatever a stranger seals to Bob is one counted failure at worst ------------------


@pytest.fixture(scope="module")
def offline_bob(tmp_path_factory):
    with Messenger.open(tmp_path_factory.mktemp("offline-bob"), secrets.token_bytes(32)) as bob:
        yield bob


_FORMATS = st.sampled_from([b"\x01", b"\x02", b"\x03", b""])
_HOSTILE_KEYS = st.sampled_from([*LOW_ORDER_X25519, *BAD_ED25519]) | st.binary(min_size=32, max_size=32)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    first=_FORMATS,
    rest=st.binary(max_size=600),
    head=st.booleans(),
    x25519=_HOSTILE_KEYS,
    ed25519=_HOSTILE_KEYS,
    fields=st.dictionaries(st.text(max_size=8), st.text(max_size=30) | st.integers() | st.none(), max_size=4),
    kind=st.sampled_from(["text", "payment", "red_packet", "group", "receipt", "x-unknown"]),
)
def test_stranger_sealed_payloads_and_bundles_never_escape_receive(
    offline_bob, first, rest, head, x25519, ed25519, fields, kind
):
    """Random sealed contents, a valid head with random rest, and well-formed envelopes
    carrying random payload fields or a hostile bundle: `_handle` returns or counts a
    failure; it never raises."""
    bob = offline_bob
    stranger = Stranger.new()
    now = time.time_ns() // 1_000_000
    mine = Bundle(bob.address, bob.keys.x25519_public, bob.keys.ed25519_public, 0, 1)
    message_id = env.new_message_id()
    if head:
        inner = first + bytes.fromhex(stranger.address[2:]) + bytes.fromhex(bob.address[2:])
        inner += message_id + now.to_bytes(8, "big") + rest
    else:
        inner = first + rest
    from nacl.bindings import crypto_box_seal

    envelopes = [
        env.Envelope(bob.address, message_id, crypto_box_seal(padding.pad(inner), bob.keys.x25519_public)),
        stranger.seal_to(mine, payloads.Unknown(kind, fields), enclose=stranger.bundle(x25519=x25519)),
        stranger.seal_to(mine, payloads.Text("x"), enclose=stranger.bundle(ed25519=ed25519)),
    ]
    result = Received()
    for envelope in envelopes:
        bob._handle(envelope, result)
    assert result.failures <= len(envelopes)


# -- issue 13, finding 6: a bundle's version steps up by a bounded amount ---------------------


@pytest.mark.slow
def test_the_relay_refuses_a_version_jump_and_a_huge_first_version(relay):
    stranger = Stranger.new()
    url = f"{relay.url}/v1/identities/{stranger.address}"
    huge = httpx.put(url, json=stranger.bundle(version=999_999_999).to_json(), timeout=10)
    assert huge.status_code == 422 and "at most 1000" in huge.text, huge.text
    assert httpx.get(url, timeout=10).status_code == 404  # nothing stored
    assert httpx.put(url, json=stranger.bundle(version=5).to_json(), timeout=10).status_code == 201
    jump = httpx.put(url, json=stranger.bundle(version=1006, x25519=Stranger.new().keys.x25519_public).to_json())
    assert jump.status_code == 422 and "at most 1000" in jump.text, jump.text
    assert httpx.put(url, json=stranger.bundle(version=1005).to_json(), timeout=10).status_code == 200


@pytest.mark.slow
def test_a_locked_out_client_says_why_in_one_line(relay, tmp_path, monkeypatch):
    """A bundle with other keys at the last version (signed before versions were bounded)."""
    with Messenger.open(tmp_path / "victim", secrets.token_bytes(32), relay_url=relay.url) as victim:
        other = Stranger.new()
        phished = Bundle(victim.address, other.keys.x25519_public, other.keys.ed25519_public, 0, 999_999_999)
        monkeypatch.setattr(victim.relay, "get_bundle", lambda *_a, **_k: phished)
        with pytest.raises(MessagingError) as locked:
            victim.publish()
    message = str(locked.value)
    assert message.startswith("locked out:") and "version 999999999" in message and "\n" not in message


@pytest.mark.slow
def test_a_bundle_in_the_old_signed_form_is_republished_in_the_new_one(relay, tmp_path, monkeypatch):
    """Our own bundle at the relay that no longer verifies (signed as EIP-191 text before)
    is replaced by the next version, signed as typed data."""
    with Messenger.open(tmp_path / "upgrader", secrets.token_bytes(32), relay_url=relay.url) as me:
        me.publish()
        real = me.relay.get_bundle

        def as_if_old(address, *, known=None, verify=True):
            if verify:
                raise BundleInvalid(f"the identity bundle for {address} is signed in the old text form (EIP-191)")
            return real(address, known=known)

        monkeypatch.setattr(me.relay, "get_bundle", as_if_old)
        me._bundle = None
        assert me.publish() == "updated"
        monkeypatch.undo()
        assert verify_bundle(me.relay.get_bundle(me.address)).version == 2
