"""The app's money keys beyond the chat's own (F6-F9): a red packet claimed by its code,
my expired packet refunded, a payment request declined, a bill split in a group. Each
runs the CLI's workflow (cli/services/) with the app's Frontend: what signs shows the
service's own preview and asks y/n. A mixin of ui.HongbaoApp."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from wallet.errors import WalletError

from ..inert import inert
from ..services.frontend import Preview
from .frontend import AppFrontend
from .modals import AskScreen, ConfirmScreen, FormScreen


def now_ms() -> int:
    return int(time.time() * 1000)


def open_request(m: Any, conversation: str) -> Any:
    """The newest request in `conversation` that still asks me for money (requests.RequestView), or None."""
    from ..services.requests import Requests

    views = Requests(m, now_ms).views()
    return next(
        (
            v
            for v in reversed(views)
            if v.direction == "received" and v.conversation == conversation and v.state == "open"
        ),
        None,
    )


def split_request(m: Any, group: str, form: dict[str, str], network_name: str | None) -> tuple[Preview, Any]:
    """(the Preview, with each member's share, and the work that sends it on the live thread)
    for a bill split in `group` (requests.Requests.split_bill, as `request --split`)."""
    from ..services.messages import amount_text
    from ..services.requests import Requests, amount_units, parse_duration, parse_shares

    units, token, chain_id = amount_units(form["amount"], network_name)
    weights = parse_shares(form["shares"]) if form.get("shares") else []
    exclude_me = form.get("exclude", "n").lower().startswith("y")
    expires_ms = parse_duration(form.get("expires") or "7d")
    requests = Requests(m, now_ms)
    shares = requests.split_shares(group, units, exclude_me=exclude_me, weights=weights)
    names = {c.address: c.name for c in m.store.contacts() if c.name}
    rows = [("group", group), ("total", form["amount"]), ("note", form.get("note") or "-")]
    rows += [(f"  {names.get(who) or who}", amount_text(owed, token, chain_id)) for who, owed in shares]
    rows.append(("your share", "none (left out)" if exclude_me else "counted, not asked"))
    preview = Preview("Split the bill?", rows)

    def send(m: Any) -> Any:
        return Requests(m, now_ms).split_bill(
            group, units, token, chain_id, form.get("note", ""), expires_ms, exclude_me=exclude_me, weights=weights
        )

    return preview, send


class MoneyActions:
    """Needs the app's `in_live`, `in_thread`, `after_send`, `notify`, `push_screen`, `wallet`."""

    if TYPE_CHECKING:  # the rest is the app's (ui.HongbaoApp)

        def __getattr__(self, name: str) -> Any: ...

    def action_claim_code(self) -> None:
        """A claim code (an open packet's bearer key: masked) or a packet id, claimed with my account."""
        if self.live is None:
            self.notify("claiming needs the relay and the chain: the live app", markup=False)
            return

        def given(text: str | None) -> None:
            if not text:
                return
            from contracts.flows import CODE_PREFIX

            from ..services.packet_claim import claim

            wallet_name, index, network_name = self.wallet
            frontend = AppFrontend(self)
            is_code = text.strip().lower().startswith(CODE_PREFIX)
            self.in_live(
                lambda _m: claim(
                    frontend,
                    packet=None if is_code else text.strip(),
                    code=text.strip() if is_code else None,
                    wallet_name=wallet_name,
                    index=index,
                    network_name=network_name,
                ),
                then=self.claimed,
            )

        self.push_screen(
            AskScreen(
                "🧧 claim a red packet: paste its claim code (hongbao:redpacket:…) or a packet id", password=True
            ),
            given,
        )

    def action_refund(self) -> None:
        """My newest expired packet of the open chat (else of all I created here), taken back."""
        from messaging import payloads

        from ..services.packet_refund import refund
        from ..services.packet_views import refundable

        wallet_name, _index, network_name = self.wallet
        mine = [
            (x.payload.packet_id, x.payload.contract)
            for x in reversed(self.loaded)
            if x.direction == "out" and isinstance(x.payload, payloads.RedPacket)
        ]
        frontend = AppFrontend(self)

        def work() -> Any:
            packet = refundable(mine, network_name)
            if packet is None:
                raise WalletError("no packet of yours to refund: it must have expired with something left in it")
            return refund(packet, frontend, wallet_name=wallet_name, network_name=network_name)

        def done(data: dict[str, Any]) -> None:
            self.notify(inert(f"🧧 refunded {data['formatted']} (tx {data['tx'][:12]}…)"), markup=False)
            self.draw_side()

        self.in_thread(work, then=done)

    def decline_request(self) -> None:
        """F3 in a chat: decline the newest payment request that still asks me (a message, nothing signed)."""
        to = self.open_id
        if to is None:
            return

        def found(view: Any) -> None:
            if view is None:
                self.notify("no open payment request to you in this chat", markup=False)
                return
            from ..services.messages import amount_text
            from ..services.requests import Requests

            request = view.request
            preview = Preview(
                "Decline the payment request?",
                [
                    ("from", self.names.get(view.requester) or view.requester),
                    ("amount", amount_text(str(view.owed), request.token, request.chain_id)),
                    ("note", request.note or "-"),
                    ("request", view.request_id),
                ],
            )

            def confirmed(ok: bool | None) -> None:
                if ok:
                    work = lambda m: Requests(m, now_ms).decline(view.request_id, view.requester)  # noqa: E731
                    self.in_live(work, then=lambda _: self.after_send(to))

            self.push_screen(ConfirmScreen(preview, buttons=True), confirmed)

        self.in_live(lambda m: open_request(m, to), then=found)

    def action_split(self) -> None:
        to = self._chat_for_money()
        if to is None:
            return
        if not to.startswith("group:"):
            self.notify("a bill is split in a group chat: open one", markup=False)
            return
        fields = [
            ("amount", "the whole bill (e.g. 0.3 ETH, 120 TKN)", ""),
            ("note", "what it is for", ""),
            ("shares", "shares (empty: equal; or alice=2,bob=1, members not named owe nothing)", ""),
            ("exclude", "leave me out of the split? (y/n)", "n"),
            ("expires", "expires after", "7d"),
        ]
        network_name = self.wallet[2]

        def form_done(form: dict[str, str] | None) -> None:
            if not form or not form["amount"]:
                return

            def ready(made: tuple[Preview, Any]) -> None:
                preview, send = made
                self.push_screen(
                    ConfirmScreen(preview, buttons=True),
                    lambda ok: self.in_live(send, then=lambda _: self.after_send(to)) if ok else None,
                )

            self.in_live(lambda m: split_request(m, to, form, network_name), then=ready)

        self.push_screen(FormScreen("🧾 split the bill in this group", fields), form_done)
