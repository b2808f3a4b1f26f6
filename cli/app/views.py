"""The app's read-only views, each the CLI's own listing from its service, drawn in a
ListScreen (newest first, at most modals.SHOWN rows, Esc closes): my transactions
(`tx list`: services/history.activity), the NFTs I hold (`nft list`: services/nfts.holdings)
and a group's trade board (`trade board`: services/social_trades.board). They show the
app's account, the one it chats and signs as. A mixin of ui.HongbaoApp."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .modals import SHOWN, AskScreen, ListScreen


class ViewActions:
    """Needs the app's `m`, `wallet`, `in_live`, `in_thread`, `push_screen`, `_open_row`."""

    if TYPE_CHECKING:  # the rest is the app's (ui.HongbaoApp)

        def __getattr__(self, name: str) -> Any: ...

    def my_listing(self, listing: Callable[[str, str | None], Any], screen: Callable[[Any], ListScreen]) -> None:
        """listing(my address, network) off the screen's thread, then its screen."""
        if self.m is not None:
            me, network_name = self.m.address, self.wallet[2]
            self.in_thread(lambda: listing(me, network_name), then=lambda found: self.push_screen(screen(found)))

    def action_history(self) -> None:
        from ..services.history import ACTIVITY_COLUMNS, activity

        self.my_listing(
            lambda me, network_name: activity(network_name, me, SHOWN),
            lambda listed: ListScreen(
                f"my transactions on {listed.network} (block times)",
                ACTIVITY_COLUMNS,
                listed.cells(),
                more=listed.more,
                empty="no activity yet: incoming transfers appear after `hongbao sync`",
                hint=", older (`hongbao tx list --limit N` lists them)",
            ),
        )

    def action_nfts(self) -> None:
        from ..services.nfts import NFT_COLUMNS, holdings

        self.my_listing(
            lambda me, network_name: holdings([me], network_name),
            lambda found: ListScreen(
                f"NFTs this account holds on {found.network} (the collections' own names)",
                NFT_COLUMNS,
                found.cells(),
                empty="none held: `hongbao sync` finds the ones sent to you",
                hint=" (`hongbao nft list` lists them all)",
            ),
        )

    def action_board(self) -> None:
        """The open group's board; elsewhere, the group is asked for by name."""
        row = self._open_row()
        if row is not None and row.kind == "group":
            self.board(row.id, row.title)
            return

        def chosen(group: str | None) -> None:
            if group:
                self.board(group, group)

        self.push_screen(AskScreen("The trade board of which group? (its name)"), chosen)

    def board(self, group: str, title: str) -> None:
        from ..services.following import protocols_of
        from ..services.social_trades import BOARD_COLUMNS, Board, board

        network_name = self.wallet[2]

        def shown(found: Board) -> None:
            self.push_screen(
                ListScreen(
                    f"shared trades in {title}: each member's verified trades, valued at the protocols' quote now",
                    BOARD_COLUMNS,
                    found.cells(),
                    lines=found.totals_lines(),
                    warnings=found.unverified_lines(),
                    empty="no verified trade shared in this group yet (`hongbao trade share`)",
                    hint=" (`hongbao trade board` lists them all)",
                )
            )

        self.in_live(lambda m: board(m, protocols_of(network_name), group), then=shown)
