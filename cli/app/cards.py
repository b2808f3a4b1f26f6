"""How the app draws messages: a line per text, a card per red packet, payment,
payment request or offer, each festival theme in its own colours and frame.

Everything from someone else (text, greetings, notes, theme names, contact names) goes
through cli/inert.py and into rich Text objects, never into a markup string: Textual
and Rich then draw it as the characters it is, whatever brackets it holds. Pure.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rich import box
from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.text import Text

from ..inert import inert


@dataclass(frozen=True)
class Theme:
    title: str  # drawn on the card's frame
    style: str  # the card's text
    border: str
    frame: box.Box


# The festival themes of contracts.flows.THEMES, each drawn distinctly.
THEMES = {
    "classic": Theme("🧧 红包", "bold yellow on dark_red", "yellow", box.ROUNDED),
    "spring-festival": Theme("🏮 新春快乐 🏮", "bold gold1 on red3", "gold1", box.DOUBLE),
    "mid-autumn": Theme("🥮 中秋 🌕", "bold light_goldenrod1 on navy_blue", "light_goldenrod1", box.ROUNDED),
    "wedding": Theme("囍 婚礼 囍", "bold white on deep_pink4", "hot_pink", box.HEAVY),
    "birthday": Theme("🎂 生日快乐", "bold white on dark_magenta", "orchid", box.ASCII_DOUBLE_HEAD),
    "thanks": Theme("🙏 谢谢", "bold white on dark_green", "green3", box.SQUARE),
}
CLASSIC = THEMES["classic"]

TICKS = {"pending": "⏳ pending", "sent": "✓ sent", "delivered": "✓✓ delivered", "read": "✓✓ read"}


def theme_of(name: str) -> Theme:
    """The theme to draw; an unknown name (remote text) is classic, its name shown inert."""
    return THEMES.get(name, CLASSIC)


def when(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000).strftime("%H:%M")


def header(message: Any, names: dict[str, str]) -> Text:
    who = names.get(message.sender) or message.sender[:10] + "…"
    line = Text(f"{when(message.timestamp_ms)} ", style="dim")
    line.append(inert(who), style="bold cyan" if message.direction == "out" else "bold")
    if message.direction == "out":
        line.append(f"  {TICKS.get(message.state, inert(message.state))}", style="dim")
    elif message.state == "unread":
        line.append("  •", style="bold green")
    return line


def packet_card(payload: Any, amount: str, check: str | None = None) -> Panel:
    theme = theme_of(payload.theme or "classic")
    body = Text(justify="center")
    body.append(inert(payload.greeting or "恭喜发财") + "\n", style=theme.style)
    shares = f" · {payload.shares} shares" if payload.shares else ""
    body.append(f"{amount}{shares}\n", style=theme.style)
    body.append("(the message's word; F7: the chain's)\n", style="dim")
    if payload.theme and payload.theme not in THEMES:
        body.append(f"(theme {inert(payload.theme)!r})\n", style="dim")
    if check is not None:
        body.append(inert(check), style="italic")
    return Panel(body, title=theme.title, border_style=theme.border, box=theme.frame, width=44, style=theme.style)


def money_card(title: str, lines: list[str], check: str | None, border: str) -> Panel:
    body = Text()
    for line in lines:
        body.append(inert(line) + "\n")
    if check is not None:
        body.append(inert(check), style="bold green" if check.startswith("✓") else "bold red")
    return Panel(body, title=title, border_style=border, box=box.ROUNDED, width=60)


def offer_card(payload: Any, direction: str, check: str | None) -> Panel:
    """A Seaport offer as its message states it (the chain's word in `check`); its sides
    named for the reader: what I get and what I give."""
    from ..services.messages import offer_sides

    gives, wants = offer_sides(payload)
    mine = direction == "out"
    until = datetime.fromtimestamp(min(payload.end, 2**33)).strftime("%Y-%m-%d %H:%M")
    lines = [
        f"{'you give' if mine else 'you get'}: {gives}",
        f"{'you ask' if mine else 'they ask'}: {wants}",
        *([f"“{payload.note}”"] if payload.note else []),
        f"valid until {until}" + (f" · counters {payload.replaces[:12]}" if payload.replaces else ""),
        f"offer {payload.order_hash[:18]}…" + ("" if mine else "  (Ctrl+T: accept or decline)"),
    ]
    title = "🤝 counter-offer" if payload.replaces else "🤝 offer"
    return money_card(title, lines, check, "magenta")


def render(message: Any, names: dict[str, str], amount: str, check: str | None = None) -> RenderableType:
    """One message: its header line and its body (a line of text, or a card).
    `amount`: the payload's amount in words (the caller knows tokens); `check`: what the
    chain says about it (payments, packets), if known."""
    from messaging import payloads

    from ..services.messages import describe

    p = message.payload
    head = header(message, names)
    if isinstance(p, payloads.RedPacket):
        return Group(head, packet_card(p, amount, check))
    if isinstance(p, payloads.Payment):
        lines = [f"💸 {amount} (as the notice says)", *([f"“{p.note}”"] if p.note else []), f"tx {p.tx_hash[:18]}…"]
        return Group(head, money_card("payment", lines, check, "green"))
    if isinstance(p, payloads.PaymentRequest):
        split = [f"a bill split {len(p.shares)} ways"] if p.shares else []
        lines = [f"🧾 {amount}", *split, *([f"“{p.note}”"] if p.note else []), f"request {p.request_id}"]
        return Group(head, money_card("payment request", lines, check, "cyan"))
    if isinstance(p, payloads.Offer):
        return Group(head, offer_card(p, message.direction, check))
    if isinstance(p, payloads.OfferAnswer):
        lines = [
            f"offer {p.order_hash[:18]}… {p.status} (as the answer says)",
            *([f"tx {p.tx_hash[:18]}…"] if p.tx_hash else []),
        ]
        return Group(head, money_card("🤝 answer", lines, None, "magenta"))
    body = Text("  ")
    body.append(inert(describe(p, names)))
    return Group(head, body)
