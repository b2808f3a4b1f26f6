"""The screen: conversations on the left, the open one in the middle with its composer,
balances and alerts on the right; live updates arrive as LiveEvent messages."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Footer, Input, OptionList, RichLog, Static
from textual.widgets.option_list import Option

from wallet.errors import WalletError

from ..inert import inert
from . import account, cards
from .frontend import AppFrontend
from .live import Event, Live
from .modals import AskScreen, ConfirmScreen, FormScreen, HelpScreen, MenuScreen, PasswordScreen
from .money import MoneyActions
from .trading import TradeActions
from .views import ViewActions

KIND_MARK = {"contact": "👤", "group": "👥", "request": "✉ request", "invitation": "✉ invitation"}


class LiveEvent(Message):
    def __init__(self, event: Event) -> None:
        super().__init__()
        self.event = event


# The menu (F10): (action, key, what it does), in the help's words.
MENU = [
    ("new_chat", "F5", "write to someone"),
    ("packet", "F6", "send a red packet to the open chat"),
    ("open_packet", "F7", "open the chat's newest red packet (claim my share)"),
    ("claim_code", "Ctrl+G", "claim a red packet by its code or id"),
    ("refund", "Ctrl+R", "refund my expired red packet"),
    ("request", "F8", "ask the open chat for a payment"),
    ("pay", "F9", "pay the chat's request, or with a notice"),
    ("decline", "F3", "decline: a message request, an invitation, a payment request"),
    ("split", "F8", "split a bill in the open group"),
    ("offer", "Ctrl+T", "open the chat's newest offer (accept / decline)"),
    ("swap", "Ctrl+S", "swap on Uniswap"),
    ("lend", "Ctrl+L", "lend on Aave"),
    ("verify", "F4", "verify the open contact's fingerprint"),
    ("history", "Ctrl+Y", "my transactions, newest first"),
    ("nfts", "Ctrl+N", "the NFTs I hold"),
    ("board", "Ctrl+B", "the open group's trade board"),
    ("help", "?", "every key"),
]


class HongbaoApp(MoneyActions, TradeActions, ViewActions, App[None]):
    TITLE = "hongbao"
    CSS = """
    #conversations { width: 32; border-right: solid $primary; }
    #middle { width: 1fr; }
    #title { height: 1; background: $boost; padding: 0 1; }
    #messages { height: 1fr; }
    #composer { dock: bottom; }
    #side { height: 1fr; padding: 0 1; }
    #right { width: 32; border-left: solid $primary; }
    #status { height: 2; background: $boost; padding: 0 1; }
    """
    BINDINGS: ClassVar[list[Any]] = [
        Binding("f1,question_mark", "help", "help", key_display="?/F1"),
        Binding("ctrl+q", "quit", "quit"),
        Binding("pageup,ctrl+o", "older", "older", key_display="PgUp"),
        Binding("f2", "accept", "accept"),
        Binding("f3", "decline", "decline"),
        Binding("f4", "verify", "verify"),
        Binding("f5", "new_chat", "new chat"),
        Binding("f6", "packet", "red packet"),
        Binding("f7", "open_packet", "open packet"),
        Binding("f8", "request", "request"),
        Binding("f9", "pay", "pay"),
        Binding("f10", "menu", "more", show=False),
        Binding("ctrl+g", "claim_code", "claim code", show=False),
        Binding("ctrl+r", "refund", "refund", show=False),
        Binding("ctrl+t", "offer", "offer", show=False),
        Binding("ctrl+s", "swap", "swap", show=False),
        Binding("ctrl+l", "lend", "lend", show=False),
        Binding("ctrl+y", "history", "history", show=False),
        Binding("ctrl+n", "nfts", "NFTs", show=False),
        Binding("ctrl+b", "board", "board", show=False),
        Binding("escape", "focus_composer", "write", show=False),
    ]

    def __init__(
        self,
        connect: Callable[[bytes], Any],
        key: bytes | None,
        unlock: Callable[[str], bytes],
        *,
        live: bool = True,
        chain: bool = True,
        checker: Callable[[Any, str, Any], str | None] = account.check,
        wallet: tuple[str | None, int, str | None] = (None, 0, None),
    ) -> None:
        """`connect(key)` opens the Messenger; `unlock(password)` gives the key when none was
        given; `chain`: poll the chain for blocks, balances and news (live.ChainWatch);
        `checker(message, me, store)` says what the chain says of a payment or packet;
        `wallet`: (wallet name, account index, network name) the workflows sign with."""
        super().__init__()
        self._connect, self._key, self._unlock, self._live_wanted, self._chain = connect, key, unlock, live, chain
        self._checker = checker
        self.wallet = wallet
        self.m: Any = None
        self.live: Live | None = None
        self.names: dict[str, str] = {}
        self.rows: list[account.Row] = []
        self.open_id: str | None = None
        self.loaded: list[Any] = []  # the open conversation's messages on screen, oldest first
        self.checks: dict[str, str] = {}  # message id -> what the chain says about it
        self._checking = threading.Lock()
        self.alerts: list[str] = []
        self.positions: dict[str, Any] = {}
        self.balance = ""
        self.block = ""
        self.status = "starting"

    def compose(self) -> ComposeResult:
        with Horizontal():
            yield OptionList(id="conversations", markup=False)
            with Vertical(id="middle"):
                yield Static(id="title", markup=False)
                yield RichLog(id="messages", wrap=True, markup=False, highlight=False, min_width=20)
                yield Input(id="composer", placeholder="write a message… (Enter sends)")
            with Vertical(id="right"):
                yield Static(id="status", markup=False)
                yield Static(id="side", markup=False)
        yield Footer()

    # -- start ---------------------------------------------------------------------------

    def on_mount(self) -> None:
        if self._key is not None:
            self.start(self._key)
        else:
            self.push_screen(PasswordScreen(self._unlock), self.start)

    def start(self, key: bytes | None) -> None:
        if key is None:
            self.exit()
            return
        self.m = self._connect(key)
        self.names = account.names(self.m)
        self.refresh_list()
        if self.rows:
            self.open_conversation(self.rows[0].id)
        self.draw_side()
        if self._live_wanted:
            from ..services.chat_watch import Watch
            from ..services.following import Autofollow
            from .live import ChainWatch

            wallet_name, index, network_name = self.wallet
            watch = Watch(self.m, key, network_name, warn=lambda text: self.tell(Event("news", text)))
            chain = (lambda: ChainWatch(watch, network_name)) if self._chain else None
            follow = Autofollow(key, wallet_name, index, network_name) if self._chain else None  # within caps only
            self.live = Live(self.m, self.tell, watch, chain, follow)
            self.live.start()
            self.set_interval(1.0, self.refresh_states)
        self.set_status("connecting…" if self._live_wanted else "offline")
        self.query_one("#composer", Input).focus()

    def on_unmount(self) -> None:
        if self.live is not None:
            self.live.stop()
        if self.m is not None:
            self.m.close()

    # -- drawing -------------------------------------------------------------------------

    def refresh_list(self) -> None:
        self.rows = account.rows(self.m)
        options = self.query_one("#conversations", OptionList)
        keep = options.highlighted
        options.clear_options()
        options.add_options([Option(self.row_text(r), id=r.id) for r in self.rows])
        if self.rows:
            options.highlighted = min(keep or 0, len(self.rows) - 1)

    def row_text(self, row: account.Row) -> Text:
        line = Text(f"{KIND_MARK[row.kind]} ")
        line.append(
            inert(row.title if row.kind != "request" else row.id[:12] + "…"), style="bold" if row.unread else ""
        )
        if row.unread:
            line.append(f" ({row.unread})", style="bold green")
        line.append("\n  " + cards.when(row.last_ms) + " · " + ("🔒" if "forward-secret" in row.protection else "🔓"))
        return line

    def row_read(self, row: account.Row) -> None:
        """A conversation just read: its line loses the count (no query of the whole list)."""
        from dataclasses import replace

        read = replace(row, unread=0)
        self.rows = [read if r.id == row.id else r for r in self.rows]
        self.query_one("#conversations", OptionList).replace_option_prompt(row.id, self.row_text(read))

    def render_message(self, message: Any) -> Any:
        from ..services.messages import amount_text

        p = message.payload
        value = getattr(p, "total", None) or getattr(p, "amount", None)
        amount = amount_text(value, getattr(p, "token", None), getattr(p, "chain_id", 0)) if value is not None else ""
        return cards.render(message, self.names, amount, self.checks.get(message.id))

    def draw_messages(self) -> None:
        log = self.query_one("#messages", RichLog)
        log.clear()
        for message in self.loaded:
            log.write(self.render_message(message))

    def draw_side(self) -> None:
        side = Text()
        side.append("me ", style="dim")
        side.append(f"{self.m.address[:12]}…\n" if self.m else "\n")
        side.append("balance ", style="dim")
        side.append(f"{self.balance or '…'}\n")
        if self.block:
            side.append("block ", style="dim")
            side.append(f"{self.block}\n")
        if self.positions.get("positions"):
            side.append("\npositions", style="bold")
            side.append(f" {self.positions.get('total_eth')} ETH\n", style="dim")
            for row in self.positions["positions"][:6]:
                amount = str(row.get("amount_formatted", ""))[:10]
                side.append(inert(f"{row.get('kind', '')} {amount} {row.get('asset', '')}") + "\n")
        waiting = sum(1 for r in self.rows if r.kind in ("request", "invitation"))
        if waiting:
            side.append(f"\n✉ {waiting} waiting for an answer (F2 accept, F3 decline)\n", style="yellow")
        side.append("\nalerts\n", style="bold")
        for line in self.alerts[-6:] or ["none"]:
            side.append(inert(line) + "\n")
        self.query_one("#side", Static).update(side)

    def set_status(self, text: str) -> None:
        self.status = text
        online = text.startswith("online")
        line = Text("● " if online else "○ ", style="green" if online else "red")
        line.append(inert(text))
        self.query_one("#status", Static).update(line)

    # -- conversations ---------------------------------------------------------------------

    @on(OptionList.OptionSelected, "#conversations")
    def selected(self, event: OptionList.OptionSelected) -> None:
        if event.option.id is not None:
            self.open_conversation(event.option.id)
            self.query_one("#composer", Input).focus()

    def open_conversation(self, conversation: str) -> None:
        self.open_id = conversation
        row = next((r for r in self.rows if r.id == conversation), None)
        title = Text(inert(row.title if row else conversation), style="bold")
        if row is not None:
            title.append(f"  {inert(row.protection)}", style="dim")
            if row.kind in ("request", "invitation"):
                title.append(f"  ({row.kind}: F2 accepts, F3 declines)", style="yellow")
        self.query_one("#title", Static).update(title)
        self.loaded = account.page(self.m, conversation)
        self.draw_messages()
        self.check_money()
        if row is not None and row.unread:
            self.in_live(lambda m: m.mark_read(conversation), then=lambda _: self.row_read(row))

    def action_older(self) -> None:
        if self.open_id is None or not self.loaded:
            return
        older = account.page(self.m, self.open_id, before=self.loaded[0].id)
        if older:
            self.loaded = older + self.loaded
            self.draw_messages()
            self.query_one("#messages", RichLog).scroll_home(animate=False)

    def refresh_states(self) -> None:
        """Delivery and read receipts change what is on screen: redraw when they did."""
        if self.open_id is None:
            return
        newest = {x.id: x for x in account.page(self.m, self.open_id)}  # control traffic left out
        if any(x.id in newest and newest[x.id].state != x.state for x in self.loaded):
            self.loaded = [newest.get(x.id, x) for x in self.loaded]
            self.draw_messages()

    def check_money(self) -> None:
        """What the chain says about the payments and packets on screen (off this thread)."""
        from messaging import payloads

        me, checker, store = self.m.address, self._checker, self.m.store
        todo = [
            x
            for x in self.loaded
            if (
                (x.direction == "in" and isinstance(x.payload, payloads.Payment | payloads.RedPacket))
                or isinstance(x.payload, payloads.Offer)
            )
            and x.id not in self.checks
        ]
        if not todo:
            return

        def check_all() -> dict[str, str]:
            found = {}
            with self._checking:  # one run at a time: two would ask the chain the same twice
                for x in todo:
                    try:
                        verdict = checker(x, me, store)
                    except Exception:  # noqa: BLE001, S112  a check that fails is left unchecked, tried again later
                        continue
                    if verdict is not None:
                        found[x.id] = verdict
            return found

        async def run() -> None:
            self.checks.update(await asyncio.to_thread(check_all))
            self.draw_messages()

        self.run_worker(run(), group="checks")

    # -- live ------------------------------------------------------------------------------

    def in_live(self, work: Callable[[Any], Any], then: Callable[[Any], None] | None = None) -> None:
        """work(messenger) on the live thread (or here when there is none), then then(result) here."""

        async def run() -> Any:
            if self.live is None:
                return work(self.m)
            return await asyncio.wrap_future(self.live.call(work))

        self.run_worker(self.settle(run(), then), group="live")

    def in_thread(self, work: Callable[[], Any], then: Callable[[Any], None] | None = None) -> None:
        """work() on a thread of its own (a DeFi plan: no chat needed), then then(result) here."""
        self.run_worker(self.settle(asyncio.to_thread(work), then), group="live")

    async def settle(self, result: Any, then: Callable[[Any], None] | None) -> None:
        """Await `result`; then(it) here, or the error as one line (never a library's message)."""
        try:
            value = await result
        except Exception as error:  # noqa: BLE001
            self.failed(error)
            return
        if then is not None:
            from textual.css.query import NoMatches

            with contextlib.suppress(NoMatches):  # the app closed meanwhile: nothing to draw on
                then(value)

    def failed(self, error: Exception) -> None:
        text = str(error) if isinstance(error, WalletError) else f"failed ({type(error).__name__})"
        self.notify(inert(text), severity="error", markup=False)

    def tell(self, event: Event) -> None:
        """From the live thread: post_message is safe from any thread."""
        self.post_message(LiveEvent(event))

    def on_live_event(self, message: LiveEvent) -> None:
        event = message.event
        if event.kind == "online":
            self.set_status(f"online · {event.text}")
        elif event.kind == "offline":
            self.set_status(f"offline: {event.text} (retrying)")
        elif event.kind == "message":
            self.arrived(event.message)
        elif event.kind == "check":
            self.checks[event.data["id"]] = event.text
            if any(x.id == event.data["id"] for x in self.loaded):
                self.draw_messages()
        elif event.kind == "flushed":
            self.refresh_states()
        elif event.kind == "block":
            self.block = event.text
            self.draw_side()
        elif event.kind == "balance":
            self.balance = f"{event.text} (on {event.data.get('network', '')})"
            self.draw_side()
        elif event.kind == "positions":
            self.positions = event.data
            self.draw_side()
        elif event.kind == "news":
            self.alerts.append(event.text)
            self.notify(inert(event.text), title="chain", markup=False)
            self.draw_side()

    def _is_offer(self, message_id: str) -> bool:
        return any(x.id == message_id and x.type == "offer" for x in self.loaded)

    def arrived(self, message: Any) -> None:
        if message.sender not in self.names:
            self.names = account.names(self.m)
        if self.open_id is None:  # the first conversation: open it
            self.refresh_list()
            self.open_conversation(message.conversation)
        elif message.conversation == self.open_id:
            if message.type == "offer_answer":  # an offer on screen changed: ask the chain again
                self.checks = {k: v for k, v in self.checks.items() if not self._is_offer(k)}
            self.loaded.append(message)
            self.query_one("#messages", RichLog).write(self.render_message(message))
            self.check_money()
            self.in_live(lambda m: m.mark_read(message.conversation), then=lambda _: self.refresh_list())
        self.refresh_list()
        self.draw_side()

    # -- composing -------------------------------------------------------------------------

    @on(Input.Submitted, "#composer")
    def submitted(self, event: Input.Submitted) -> None:
        text, to = event.value, self.open_id or ""
        if not text.strip() or not to:
            return
        event.input.value = ""

        self.in_live(lambda m: account.send_text(m, to, text), then=lambda _: self.after_send(to))

    def action_focus_composer(self) -> None:
        self.query_one("#composer", Input).focus()

    # -- answers: requests, invitations, fingerprints -------------------------------------------

    def _open_row(self) -> account.Row | None:
        return next((r for r in self.rows if r.id == self.open_id), None)

    def action_accept(self) -> None:
        self._answer(True)

    def action_decline(self) -> None:
        self._answer(False)

    def _answer(self, accept: bool) -> None:
        from ..services.frontend import Preview

        row = self._open_row()
        if row is not None and row.kind in ("contact", "group") and not accept:
            self.decline_request()  # in a chat, F3 declines what it asks of me: a payment request
            return
        if row is None or row.kind not in ("request", "invitation"):
            self.notify("nothing to accept or decline here", markup=False)
            return
        who = row.id if row.kind == "request" else f"{row.title} ({row.id})"
        verb = "accept" if accept else ("block" if row.kind == "request" else "decline")
        preview = Preview(
            f"{verb} the {'message request' if row.kind == 'request' else 'group invitation'}", [("from", who)]
        )
        if row.kind == "request":
            work = (lambda m: m.accept(row.id)) if accept else (lambda m: m.block(row.id))
        else:
            group = row.id.removeprefix("group:")
            work = (lambda m: m.accept_group(group)) if accept else (lambda m: m.decline_group(group))

        def answered(_result: Any) -> None:
            self.refresh_list()
            self.open_conversation(row.id)
            self.draw_side()

        self.push_screen(
            ConfirmScreen(preview, buttons=True), lambda ok: self.in_live(work, then=answered) if ok else None
        )

    def action_verify(self) -> None:
        from ..services.frontend import Preview

        row = self._open_row()
        if row is None or row.kind == "group" or row.kind == "invitation":
            self.notify("open a one-to-one chat to verify a fingerprint", markup=False)
            return
        mine, theirs, verified = account.fingerprint(self.m, row.id)
        if theirs is None:
            self.notify("no key known for them yet: write to them first", markup=False)
            return
        preview = Preview(
            "verify their fingerprint: read both aloud with them (in person or by phone)",
            [("theirs", theirs), ("mine", mine), ("verified before", "yes" if verified else "no")],
            [] if verified else ["confirm only if theirs matches what they read to you"],
        )

        def confirmed(ok: bool | None) -> None:
            if ok:
                self.in_live(lambda m: m.store.mark_verified(row.id), then=lambda _: self.notify("verified ✓"))

        self.push_screen(ConfirmScreen(preview), confirmed)

    def action_new_chat(self) -> None:
        def chosen(to: str | None) -> None:
            if to:
                self.in_live(lambda m: m.resolve(to), then=lambda target: self.open_conversation(target.conversation))

        self.push_screen(AskScreen("Write to: a contact name, an address (0x…) or a group"), chosen)

    # -- money: red packets, payment requests ---------------------------------------------------

    def _chat_for_money(self) -> str | None:
        if self.live is None or self.open_id is None:
            self.notify("open a chat first (money needs the relay and the chain: the live app)", markup=False)
            return None
        return self.open_id

    def action_packet(self) -> None:
        from ..services.packet_create import THEMES

        to = self._chat_for_money()
        if to is None:
            return
        fields = [
            ("amount", "amount (e.g. 0.1 ETH, 20 TKN)", "0.01 ETH"),
            ("shares", "shares (empty: one per recipient)", ""),
            ("lucky", "lucky draw? (y: random shares, n: equal)", "n"),
            ("greeting", "greeting", "恭喜发财"),
            ("theme", f"theme: {', '.join(THEMES)}", "spring-festival"),
            ("expires", "expires after (24h, 30m, 7d)", "24h"),
        ]
        self.push_screen(FormScreen("🧧 red packet to this chat", fields), lambda form: self._create_packet(to, form))

    def _create_packet(self, to: str, form: dict[str, str] | None) -> None:
        if not form:
            return
        from ..services.packet_create import Order, create

        try:
            order = Order(
                form["amount"],
                to=to,
                shares=int(form["shares"]) if form["shares"] else None,
                random=form["lucky"].lower().startswith("y"),
                expires=form["expires"] or "24h",
                greeting=form["greeting"],
                theme=form["theme"] or "classic",
            )
        except ValueError:
            self.notify("shares: a whole number", severity="error", markup=False)
            return
        wallet_name, index, network_name = self.wallet
        frontend = AppFrontend(self)

        def done(made: Any) -> None:
            if made.delivery_error:
                self.notify(inert(f"created, not delivered: {made.delivery_error}"), severity="warning", markup=False)
            self.after_send(to)

        self.in_live(
            lambda _m: create(order, frontend, wallet_name=wallet_name, index=index, network_name=network_name), done
        )

    def action_open_packet(self) -> None:
        """The newest red packet of the chat as the chain tells it; y claims my share."""
        from messaging import payloads

        packet = next((x for x in reversed(self.loaded) if isinstance(x.payload, payloads.RedPacket)), None)
        if packet is None:
            self.notify("no red packet in this chat", markup=False)
            return
        wallet_name, index, network_name = self.wallet
        mine = packet.direction == "out"

        async def show() -> None:
            try:
                preview = await asyncio.to_thread(account.packet_report, packet.payload, network_name)
            except Exception as error:  # noqa: BLE001  shown as one line, never a library's message
                self.failed(error)
                return
            answer = "Esc closes" if mine else "y: claim my share    n / Esc: close"
            self.push_screen(ConfirmScreen(preview, answer=answer), claim)

        def claim(ok: bool | None) -> None:
            if not ok or mine or self.live is None:
                return
            from ..services.packet_claim import claim as claim_packet

            frontend = AppFrontend(self)
            work = lambda _m: claim_packet(  # noqa: E731
                frontend,
                packet=packet.payload.packet_id,
                wallet_name=wallet_name,
                index=index,
                network_name=network_name,
            )
            self.in_live(work, then=self.claimed)

        self.run_worker(show(), group="checks")

    def claimed(self, result: Any) -> None:
        data = result.data
        if result.how == "requested":
            self.notify("claim sent to the packet's creator: you are paid when they submit it", markup=False)
        else:
            self.notify(inert(f"🧧 claimed {data.get('formatted') or data.get('amount')}"), markup=False)
        self.checks.clear()
        self.check_money()
        self.draw_side()

    def action_pay(self) -> None:
        """Pay the chat's newest request to me, or (none) send them money with a notice."""
        from messaging import payloads

        to = self._chat_for_money()
        if to is None or to.startswith("group:"):
            if to is not None:
                self.notify("pay one person: open your chat with them", markup=False)
            return
        asked = next(
            (
                x
                for x in reversed(self.loaded)
                if x.direction == "in" and isinstance(x.payload, payloads.PaymentRequest)
            ),
            None,
        )
        if asked is not None:
            self.pay(lambda m: account.payment_for_request(m, asked.payload.request_id, asked.sender, self.wallet[2]))
            return
        fields = [("amount", "amount (e.g. 0.05 ETH, 20 TKN)", ""), ("note", "a note for them (in the notice)", "")]

        def form_done(form: dict[str, str] | None) -> None:
            if form and form["amount"]:
                self.pay(lambda _m: account.payment_to(to, form["amount"], form["note"]))

        self.push_screen(FormScreen("💸 pay with a notice", fields), form_done)

    def pay(self, payment_of: Callable[[Any], Any]) -> None:
        from ..services import payments

        wallet_name, index, network_name = self.wallet
        frontend = AppFrontend(self)
        to = self.open_id or ""

        def work(m: Any) -> Any:
            return payments.pay(
                payment_of(m), frontend, wallet_name=wallet_name, index=index, network_name=network_name
            )

        def paid(result: Any) -> None:
            if result.notice_problem:
                self.notify(
                    inert(f"paid; the notice was not sent: {result.notice_problem}"), severity="warning", markup=False
                )
            else:
                self.notify(inert(f"💸 paid (tx {result.record.hash[:12]}…)"), markup=False)
            self.after_send(to)

        self.in_live(work, then=paid)

    def action_request(self) -> None:
        to = self._chat_for_money()
        if to is None:
            return
        if to.startswith("group:"):
            self.action_split()  # a group is asked for a bill split among its members
            return
        fields = [
            ("amount", "amount (e.g. 0.05 ETH)", ""),
            ("note", "what it is for", ""),
            ("expires", "expires after", "7d"),
        ]
        self.push_screen(FormScreen("🧾 ask for a payment", fields), lambda form: self._ask_payment(to, form))

    def _ask_payment(self, to: str, form: dict[str, str] | None) -> None:
        if not form:
            return
        network_name = self.wallet[2]
        try:
            preview, send = account.payment_request(to, form, network_name)
        except WalletError as error:
            self.notify(inert(str(error)), severity="error", markup=False)
            return

        def confirmed(ok: bool | None) -> None:
            if ok:
                self.in_live(send, then=lambda _: self.after_send(to))

        self.push_screen(ConfirmScreen(preview, buttons=True), confirmed)

    def after_send(self, to: str) -> None:
        if self.open_id == to:
            self.loaded = account.page(self.m, to, limit=max(account.PAGE, len(self.loaded) + 1))
            self.draw_messages()
        self.refresh_list()

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    def action_menu(self) -> None:
        def chosen(action: str | None) -> None:
            if action:
                self.call_later(self.run_action, action)

        self.push_screen(MenuScreen(MENU), chosen)
