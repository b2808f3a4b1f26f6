"""The app's trading keys: a swap and a lending action (cli/services/defi_actions.py, each
step previewed and confirmed), and the chat's newest offer opened as the chain sees it,
then filled (accept: cli/services/offers.py's steps, through the same pipeline) or declined.
A mixin of ui.HongbaoApp."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..inert import inert
from ..services.frontend import Preview
from .frontend import AppFrontend
from .modals import ChoiceScreen, ConfirmScreen, FormScreen

LEND_ACTIONS = ("supply", "withdraw", "borrow", "repay")


def swap(form: dict[str, str], frontend: Any, wallet: tuple[str | None, int, str | None]) -> str:
    """`hongbao swap AMOUNT FROM TO --slippage S` (services/defi_actions.py: the best quote, a
    permit or an exact approval, each previewed); what it paid, in words."""
    from ..services.defi_actions import SwapOrder
    from ..services.defi_actions import swap as swap_service
    from ..services.sender import TxOptions

    order = SwapOrder(form["amount"], form["sell"], form["buy"], slippage=form.get("slippage") or "0.5%")
    data = swap_service(order, frontend, TxOptions(*wallet))
    return f"swapped {form['amount']} {data['sell']} for {data['received_formatted']}"


def offers_service(m: Any, network_name: str | None) -> Any:
    from ..context import chain as connect
    from ..context import network
    from ..services import offers

    chain = connect(network_name)
    chain.verify()
    return offers.Offers(m.address, offers.venue(network(network_name), chain.rpc), m)


def offer_report(m: Any, message: Any, network_name: str | None) -> tuple[Preview, bool]:
    """(the offer as the chain sees it, as a Preview to show; whether I can accept it now)."""
    from messaging import payloads

    from ..services.offer_items import utc

    service = offers_service(m, network_name)
    view = service.view_of(message, m.store.messages_of_types(payloads.OfferAnswer.TYPE))
    order = view.order
    rows = [("from", message.sender), ("offer", view.order_hash)]
    if order is not None:
        rows += [
            ("you get", ", ".join(service.place.describe(i) for i in order.offer)),
            ("you pay", ", ".join(service.place.describe(i) for i in order.consideration)),
            ("valid until", f"{utc(order.end)} by the chain's clock"),
        ]
    rows += [("note", message.payload.note or "-"), ("state", view.state + (f": {view.reason}" if view.reason else ""))]
    can = view.direction == "received" and view.state == "open" and not view.checks
    return Preview("🤝 offer", rows, list(view.checks)), can


def accept_offer(m: Any, order_hash: str, frontend: Any, wallet: tuple[str | None, int, str | None]) -> str:
    """`hongbao trade accept` (services/offer_flows.py) with the app's open chat; the fill's hash."""
    from ..services import offer_flows
    from ..services.sender import TxOptions

    return str(offer_flows.accept(order_hash, frontend, TxOptions(*wallet), messenger=m)["fill"]["hash"])


class TradeActions:
    """Needs the app's `in_live`, `in_thread`, `after_send`, `notify`, `push_screen`, `wallet`."""

    if TYPE_CHECKING:  # the rest is the app's (ui.HongbaoApp)

        def __getattr__(self, name: str) -> Any: ...

    def action_swap(self) -> None:
        fields = [
            ("amount", "amount to sell", ""),
            ("sell", "sell (ETH, TKN, a token address)", "ETH"),
            ("buy", "buy", "TKN"),
            ("slippage", "slippage: how far below the quote it may pay", "0.5%"),
        ]

        def form_done(form: dict[str, str] | None) -> None:
            if form and form["amount"]:
                frontend = AppFrontend(self)
                self.in_thread(
                    lambda: swap(form, frontend, self.wallet), then=lambda said: self.notify(inert(said), markup=False)
                )

        self.push_screen(FormScreen("🔁 swap (Uniswap, best quote)", fields), form_done)

    def action_lend(self) -> None:
        fields = [
            ("action", f"action: {', '.join(LEND_ACTIONS)}", "supply"),
            ("asset", "asset (ETH, TKN...)", "ETH"),
            ("amount", "amount (max: all, for withdraw and repay)", ""),
        ]

        def form_done(form: dict[str, str] | None) -> None:
            if not form or not form["amount"]:
                return
            action = form["action"].lower()
            if action not in LEND_ACTIONS:
                self.notify(f"the action is one of {', '.join(LEND_ACTIONS)}", severity="error", markup=False)
                return
            from ..services.defi_actions import lend

            wallet_name, index, network_name = self.wallet
            frontend = AppFrontend(self)

            def done(data: dict[str, Any]) -> None:
                self.notify(inert(f"🏦 {action} done; health factor {data['health_factor']}"), markup=False)

            self.in_thread(
                lambda: lend(
                    action,
                    form["asset"],
                    form["amount"],
                    frontend,
                    wallet_name=wallet_name,
                    index=index,
                    network_name=network_name,
                ),
                then=done,
            )

        self.push_screen(FormScreen("🏦 lend on Aave", fields), form_done)

    def action_offer(self) -> None:
        """The chat's newest offer to me, as the chain sees it: y fills it, d declines it."""
        from messaging import payloads

        if self.live is None:
            self.notify("offers need the relay and the chain: the live app", markup=False)
            return
        message = next(
            (x for x in reversed(self.loaded) if x.direction == "in" and isinstance(x.payload, payloads.Offer)), None
        )
        if message is None:
            self.notify("no offer to you in this chat", markup=False)
            return
        network_name, to = self.wallet[2], self.open_id or ""
        order_hash = message.payload.order_hash

        def shown(report: tuple[Preview, bool]) -> None:
            preview, can = report
            if not can:
                self.push_screen(ConfirmScreen(preview, answer="Esc closes"))
                return
            choices = [("accept", "y", "Accept (fill it on chain)"), ("decline", "d", "Decline")]
            self.push_screen(ChoiceScreen(preview, choices), answered)

        def answered(choice: str | None) -> None:
            def after(_result: Any) -> None:
                self.checks.pop(message.id, None)
                self.after_send(to)
                self.check_money()

            if choice == "accept":
                frontend = AppFrontend(self)
                self.in_live(lambda m: accept_offer(m, order_hash, frontend, self.wallet), then=after)
            elif choice == "decline":
                self.in_live(lambda m: offers_service(m, network_name).decline(order_hash), then=after)

        self.in_live(lambda m: offer_report(m, message, network_name), then=shown)
