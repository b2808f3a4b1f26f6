"""The app's dialogs: the password, a preview to confirm (the services' Preview, as the
CLI shows it), a read-only list (history, NFTs, the trade board), and help. Nothing secret
is ever drawn: the password field is masked."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, ClassVar

from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, OptionList, Static
from textual.widgets.option_list import Option

from ..inert import inert
from ..services.frontend import Preview

TRIES = 3
MODAL_CSS = """
{name} {{ align: center middle; }}
{name} > Vertical {{ width: 84; height: auto; border: thick $primary; background: $surface; padding: 1 2; }}
{name} .buttons {{ height: auto; margin-top: 1; }}
{name} Button {{ margin-right: 2; }}
"""


class PasswordScreen(ModalScreen[bytes | None]):
    """Asks the wallet password (masked) and returns the account key, or None after TRIES."""

    CSS = MODAL_CSS.format(name="PasswordScreen")

    def __init__(self, unlock: Callable[[str], bytes]) -> None:
        super().__init__()
        self.unlock, self.tries = unlock, 0

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text("Wallet password (or run `hongbao unlock` first)"), markup=False)
            yield Input(password=True, id="password")
            yield Static(id="error", markup=False)

    @on(Input.Submitted, "#password")
    async def submitted(self, event: Input.Submitted) -> None:
        from wallet.errors import WalletError

        password, event.input.value = event.value, ""
        try:
            key = await asyncio.to_thread(self.unlock, password)  # Argon2id: off the screen's thread
        except WalletError as error:
            self.tries += 1
            if self.tries >= TRIES:
                self.dismiss(None)
                return
            self.query_one("#error", Static).update(Text(inert(f"{error}; try again"), style="red"))
            return
        self.dismiss(key)


class AskScreen(ModalScreen[str | None]):
    """One line of input (whom to write to, an amount...); Esc cancels."""

    CSS = MODAL_CSS.format(name="AskScreen")
    BINDINGS: ClassVar[list[Any]] = [Binding("escape", "cancel", "cancel")]

    def __init__(self, question: str, placeholder: str = "", *, password: bool = False) -> None:
        super().__init__()
        self.question, self.placeholder, self.secret = question, placeholder, password

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text(self.question), markup=False)
            yield Input(placeholder=self.placeholder, password=self.secret, id="answer")

    @on(Input.Submitted, "#answer")
    def submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip() or None)

    def action_cancel(self) -> None:
        self.dismiss(None)


class FormScreen(ModalScreen[dict[str, str] | None]):
    """A few labelled fields (a red packet, a payment request): Enter in any of them sends
    the form, Esc cancels. `fields`: (name, label, default)."""

    CSS = MODAL_CSS.format(name="FormScreen") + "FormScreen Input { margin-bottom: 0; }"
    BINDINGS: ClassVar[list[Any]] = [Binding("escape", "cancel", "cancel")]

    def __init__(self, title: str, fields: list[tuple[str, str, str]]) -> None:
        super().__init__()
        self.title_text, self.fields = title, fields

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text(self.title_text, style="bold"), markup=False)
            for name, label, default in self.fields:
                yield Static(Text(label, style="dim"), markup=False)
                yield Input(value=default, id=f"field-{name}")
            yield Static(Text("Enter: preview    Esc: cancel", style="dim"), markup=False)
            with Horizontal(classes="buttons"):
                yield Button("Preview", id="send", variant="primary")
                yield Button("Cancel", id="cancel")

    @on(Input.Submitted)
    @on(Button.Pressed, "#send")
    def submitted(self) -> None:
        self.dismiss({name: self.query_one(f"#field-{name}", Input).value.strip() for name, _, _ in self.fields})

    @on(Button.Pressed, "#cancel")
    def cancelled(self) -> None:
        self.action_cancel()

    def action_cancel(self) -> None:
        self.dismiss(None)


def preview_parts(preview: Preview, answer: str) -> list[Static]:
    """A Preview's title, rows and warnings, then the keys that answer it."""
    table = Table.grid(padding=(0, 2))
    table.add_column(style="dim")
    table.add_column()
    for label, value in preview.rows:
        table.add_row(Text(inert(label)), Text(inert(value)))
    return [
        Static(Text(inert(preview.title), style="bold"), markup=False),
        Static(table, markup=False),
        *(Static(Text("⚠ " + inert(warning), style="bold yellow"), markup=False) for warning in preview.warnings),
        Static(Text(answer, style="bold"), markup=False),
    ]


class ConfirmScreen(ModalScreen[bool]):
    """A Preview (title, rows, warnings) and y/n, as the CLI's confirmation; with `buttons`,
    Yes and No for the mouse too (No has the focus: Enter alone never says yes)."""

    CSS = MODAL_CSS.format(name="ConfirmScreen")
    AUTO_FOCUS = "#no"
    BINDINGS: ClassVar[list[Any]] = [
        Binding("y", "answer(True)", "yes"),
        Binding("n,escape", "answer(False)", "no"),
    ]

    def __init__(
        self, preview: Preview, answer: str = "y: yes, go ahead    n / Esc: no", *, buttons: bool = False
    ) -> None:
        super().__init__()
        self.preview, self.answer, self.buttons = preview, answer, buttons

    def compose(self) -> ComposeResult:
        with Vertical():
            yield from preview_parts(self.preview, self.answer)
            if self.buttons:
                with Horizontal(classes="buttons"):
                    yield Button("Yes", id="yes", variant="warning")
                    yield Button("No", id="no")

    @on(Button.Pressed)
    def pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)


class ChoiceScreen(ModalScreen[str | None]):
    """A Preview and a choice among a few answers (an offer: accept, decline, or close), by
    key or by button: returns the answer's name, None when closed."""

    CSS = MODAL_CSS.format(name="ChoiceScreen")
    AUTO_FOCUS = "#close"  # Enter alone chooses nothing
    BINDINGS: ClassVar[list[Any]] = [Binding("escape,n", "close", "close")]

    def __init__(self, preview: Preview, choices: list[tuple[str, str, str]]) -> None:
        """`choices`: (name, key, label), e.g. ("accept", "y", "Accept")."""
        super().__init__()
        self.preview, self.choices = preview, choices
        self.by_key = {key: name for name, key, _ in choices}

    def compose(self) -> ComposeResult:
        keys = "    ".join(f"{key}: {label.lower()}" for _, key, label in self.choices)
        with Vertical():
            yield from preview_parts(self.preview, f"{keys}    n / Esc: close")
            with Horizontal(classes="buttons"):
                for name, _, label in self.choices:
                    yield Button(label, id=f"choice-{name}")
                yield Button("Close", id="close")

    def on_key(self, event: Any) -> None:
        if event.key in self.by_key:
            event.stop()
            self.dismiss(self.by_key[event.key])

    @on(Button.Pressed)
    def pressed(self, event: Button.Pressed) -> None:
        name = event.button.id or ""
        self.dismiss(name.removeprefix("choice-") if name.startswith("choice-") else None)

    def action_close(self) -> None:
        self.dismiss(None)


SHOWN = 100  # a list's rows drawn at most: the rest is told as "N more", never drawn by the thousand
SHORT = 24  # a column no wider than this is never wrapped


class ListScreen(ModalScreen[None]):
    """A read-only list: a title, a table of cells in words (a service's listing, newest
    first), lines under it; Esc closes. Every cell and line is drawn inert into Text (token
    symbols, NFT names, contact names, notes: others' strings). Rows past SHOWN are counted,
    not drawn: `more` adds the ones the service left out itself."""

    CSS = (
        MODAL_CSS.format(name="ListScreen")
        + "ListScreen > Vertical { width: 96%; height: 90%; } ListScreen VerticalScroll { height: 1fr; }"
    )
    AUTO_FOCUS = "VerticalScroll"  # arrows and PgUp / PgDn scroll it
    BINDINGS: ClassVar[list[Any]] = [Binding("escape,q", "close", "close")]

    def __init__(
        self,
        title: str,
        columns: list[str],
        rows: list[list[str]],
        *,
        more: int = 0,
        lines: list[str] | None = None,
        warnings: list[str] | None = None,
        empty: str = "nothing yet",
        hint: str = "",
    ) -> None:
        super().__init__()
        self.title_text, self.columns = title, columns
        self.rows, self.more = rows[:SHOWN], more + max(0, len(rows) - SHOWN)
        self.lines, self.warnings, self.empty, self.hint = lines or [], warnings or [], empty, hint

    def table(self) -> Table:
        table = Table(show_edge=False, header_style="bold", expand=True)
        for i, column in enumerate(self.columns):
            widest = max([len(column), *(len(row[i]) for row in self.rows)])
            if widest <= SHORT:  # kept on one line: the long columns (hashes, addresses) fold instead
                table.add_column(column, no_wrap=True, min_width=widest)
            else:
                table.add_column(column, overflow="fold")
        for row in self.rows:
            table.add_row(*(Text(inert(cell)) for cell in row))
        return table

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text(inert(self.title_text), style="bold"), markup=False)
            with VerticalScroll():
                yield Static(self.table() if self.rows else Text(inert(self.empty), style="dim"), markup=False)
                if self.more:
                    yield Static(Text(f"… and {self.more} more{self.hint}", style="dim"), markup=False)
                for line in self.lines:
                    yield Static(Text(inert(line)), markup=False)
                for warning in self.warnings:
                    yield Static(Text("⚠ " + inert(warning), style="yellow"), markup=False)
            yield Static(Text("Esc closes", style="dim"), markup=False)

    def action_close(self) -> None:
        self.dismiss(None)


HELP = [
    ("Enter", "send what the composer holds (to the open conversation)"),
    ("Tab / Shift+Tab", "move between the conversation list, the messages and the composer"),
    ("↑ ↓ Enter", "in the list: choose and open a conversation (the mouse works too)"),
    ("PgUp / Ctrl+O", "older messages of the open conversation"),
    ("F2 / F3", "accept / decline the open message request or group invitation (decline a request: block)"),
    ("F4", "verify the open contact's fingerprint"),
    ("F5", "write to someone: a contact name, an address, a group"),
    ("F6", "send a red packet to the open chat (amount, shares, lucky or fixed, greeting, theme)"),
    ("F7", "open the newest red packet of the chat: who got what, 手气最佳; y claims my share"),
    ("F8", "ask the open chat for a payment; in a group: split a bill (amount, note, shares)"),
    ("F9", "pay: the chat's newest request to me, else an amount with a notice"),
    ("F3 (in a chat)", "decline the chat's newest open payment request to me"),
    ("Ctrl+G", "claim a red packet by its claim code (pasted, masked) or packet id"),
    ("Ctrl+R", "refund my expired red packet (the chat's newest, else any I created)"),
    ("Ctrl+T", "open the chat's newest offer: y accepts (fills it on chain), d declines"),
    ("Ctrl+S", "swap on Uniswap: amount, from, to, slippage"),
    ("Ctrl+L", "lend on Aave: supply, withdraw, borrow or repay an asset"),
    ("Ctrl+Y", "my transactions, newest first (what `hongbao tx list` shows for this account)"),
    ("Ctrl+N", "the NFTs this account holds (`hongbao nft list`: each checked with ownerOf now)"),
    ("Ctrl+B", "the open group's trade board: each member's verified trades and P&L now"),
    ("F10", "all actions in a menu, the mouse too (in a browser, where Ctrl+T, N and B are the browser's)"),
    ("? / F1", "this help (? outside the composer)"),
    ("Esc", "back to the composer"),
    ("Ctrl+Q", "quit"),
]


class HelpScreen(ModalScreen[None]):
    CSS = MODAL_CSS.format(name="HelpScreen")
    BINDINGS: ClassVar[list[Any]] = [Binding("escape,q,question_mark,f1", "close", "close")]

    def compose(self) -> ComposeResult:
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold cyan")
        table.add_column()
        for key, what in HELP:
            table.add_row(key, what)
        with Vertical():
            yield Static(Text("hongbao app: keys", style="bold"), markup=False)
            yield Static(table, markup=False)
            yield Static(Text("Esc closes", style="dim"), markup=False)

    def action_close(self) -> None:
        self.dismiss(None)


class MenuScreen(ModalScreen[str | None]):
    """Every action in a list (keys, or the mouse): returns the chosen action's name."""

    CSS = MODAL_CSS.format(name="MenuScreen") + "MenuScreen OptionList { height: auto; max-height: 20; }"
    BINDINGS: ClassVar[list[Any]] = [Binding("escape,f10", "close", "close")]

    def __init__(self, actions: list[tuple[str, str, str]]) -> None:
        """`actions`: (action name, key, what it does)."""
        super().__init__()
        self.actions = actions

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text("actions (Enter or a click runs one, Esc closes)", style="bold"), markup=False)
            yield OptionList(*(Option(f"{key:<8} {what}", id=name) for name, key, what in self.actions), markup=False)

    @on(OptionList.OptionSelected)
    def chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_close(self) -> None:
        self.dismiss(None)
