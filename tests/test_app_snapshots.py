"""SVG snapshots of the app's main screens (pytest-textual-snapshot), and answers given from
the keyboard without a relay (a fingerprint verified, a request accepted): the showcase home of
tests/app_fixtures.py (fixed keys, clock and contents, UTC), no relay and no chain, the
chain's word on payments and packets fixed. Update after a deliberate change with
`pytest tests/test_app_snapshots.py --snapshot-update` and look at the SVGs."""

from __future__ import annotations

import time

import pytest
from app_fixtures import ME_KEY, T0, Clock, incoming, peer_key, showcase

from cli.app.ui import HongbaoApp
from messaging import payloads
from messaging.chat import Messenger

SIZE = (150, 46)


def verdict(message, _me, _store) -> str | None:
    """A fixed word from "the chain": valid packets, one payment not confirmed."""
    if isinstance(message.payload, payloads.Payment):
        return "✗ NOT CONFIRMED: no such transaction on chain 31337"
    if isinstance(message.payload, payloads.RedPacket):
        return "✓ open: yours to claim"
    if isinstance(message.payload, payloads.Offer):
        return "✗ INVALID: it is signed by 0x0000000000000000000000000000000000000bad, not by the offerer"
    return None


@pytest.fixture
def app(tmp_path, monkeypatch) -> HongbaoApp:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    showcase(tmp_path / "home").close()
    yield HongbaoApp(
        lambda k: Messenger.open(tmp_path / "home", k), ME_KEY, lambda _p: b"", live=False, checker=verdict
    )
    monkeypatch.delenv("TZ")
    time.tzset()


async def settled(pilot) -> None:
    pilot.app.query_one("#composer").cursor_blink = False  # a blinking cursor is a coin toss
    await pilot.app.workers.wait_for_complete()  # the chain's word, read off the screen's thread
    await pilot.pause()


def test_main_screen_cards_in_every_festival_theme(snap_compare, app):
    assert snap_compare(app, terminal_size=SIZE, run_before=settled)


def test_fingerprint_verification_dialog(snap_compare, app):
    assert snap_compare(app, press=["f4"], terminal_size=SIZE, run_before=settled)


def test_fingerprint_verified_and_a_stranger_accepted_from_the_keyboard(app):
    """F4 then y (or the F10 menu's line, clicked) marks the contact verified; F2 then y accepts
    the stranger's request (both in the store the CLI reads); n leaves things as they were."""
    import asyncio

    from textual.widgets import OptionList

    from cli.app.modals import AskScreen, ConfirmScreen, FormScreen

    async def run() -> None:
        async with app.run_test(size=SIZE) as pilot:
            bob = app.open_id
            await pilot.press("f4", "n")
            assert not app.m.store.contact(bob).verified_out_of_band
            await pilot.press("ctrl+l")  # a form's buttons work with the mouse
            assert isinstance(app.screen, FormScreen)
            await pilot.click("#cancel")
            assert not isinstance(app.screen, FormScreen)
            await pilot.press("f10")  # the menu, by mouse: its "verify" line opens the same dialog
            menu = app.screen.query_one(OptionList)
            line = [o.id for o in menu.options].index("verify")
            await pilot.click(menu, offset=(4, menu.gutter.top + line))
            await pilot.pause()
            assert isinstance(app.screen, ConfirmScreen) and app.screen.preview.title.startswith("verify")
            await pilot.press("y")
            await app.workers.wait_for_complete()
            assert app.m.store.contact(bob).verified_out_of_band
            await pilot.press("ctrl+b")  # the trade board, outside a group: which group is asked
            assert isinstance(app.screen, AskScreen) and "group" in app.screen.question
            await pilot.press("escape")
            assert not isinstance(app.screen, AskScreen)
            stranger = next(r for r in app.rows if r.kind == "request")
            app.open_conversation(stranger.id)
            await pilot.press("f2", "y")
            await app.workers.wait_for_complete()
            await pilot.pause()
            assert stranger.id not in app.m.requests()
            assert next(r for r in app.rows if r.id == stranger.id).kind == "contact"

    asyncio.run(run())


def test_a_strangers_hostile_offer_is_a_card_drawn_inert(snap_compare, app, tmp_path):
    """An offer from a stranger (a message request) with markup, escapes, a bidi override and a
    bell in its note: drawn as a card, characters as they are, the chain's verdict under it."""
    from messaging.identity import make_bundle

    stranger = make_bundle(peer_key(9), T0 // 1000).address
    offer = payloads.Offer(
        "0x" + "ab" * 32,
        31337,
        "0x" + "55" * 20,
        stranger,
        make_bundle(ME_KEY, 0).address,
        ((2, "0x" + "66" * 20, "7", "1"),),
        ((0, "0x" + "00" * 20, "0", str(10**17), stranger),),
        T0 // 1000,
        T0 // 1000 + 86_400,
        "0x" + "01" * 32,
        "0",
        "0x" + "00" * 65,
        note="[bold red]FREE[/] \x1b[2J\u202eevil\x07 [link=http://x]click[/link]",
    )
    m = Messenger.open(tmp_path / "home", ME_KEY, clock=Clock())
    incoming(m, peer_key(9), 31, offer, T0 + 300_000)
    m.close()
    assert snap_compare(app, terminal_size=SIZE, run_before=settled)
