"""After a new recovery phrase is shown: clear it from the screen and ask back a few of its
words, so a phrase that was not written down (or was written wrongly) is noticed while the
wallet is still empty. Only at a terminal: scripts and tests pipe stdin and are not asked.

The choice of words and the comparison are pure (`positions`, `wrong`); `confirm_written`
is the terminal dialogue.
"""

from __future__ import annotations

import random
import sys
import unicodedata
from collections.abc import Callable, Mapping, Sequence

ASKED = 3
CLEAR_SCREEN = "\x1b[H\x1b[2J\x1b[3J"  # home, clear the screen, and its scrollback


def positions(word_count: int, how_many: int = ASKED, rng: random.Random | None = None) -> list[int]:
    """`how_many` distinct 1-based word numbers, in order."""
    chooser = rng or random.SystemRandom()
    return sorted(chooser.sample(range(1, word_count + 1), min(how_many, word_count)))


def _norm(word: str) -> str:
    return unicodedata.normalize("NFKD", word.strip()).casefold()


def wrong(words: Sequence[str], answers: Mapping[int, str]) -> list[int]:
    """The word numbers answered wrongly (case and Unicode form do not matter)."""
    return [n for n, typed in answers.items() if _norm(typed) != _norm(words[n - 1])]


def clear_screen() -> None:
    if sys.stdout.isatty():
        sys.stdout.write(CLEAR_SCREEN)
        sys.stdout.flush()


def confirm_written(
    phrase: str,
    show: Callable[[], None],
    ask: Callable[[str], str],
    say: Callable[[str], None],
    rng: random.Random | None = None,
) -> None:
    """Wait for Enter, clear the phrase from the screen, ask back `ASKED` words; on a wrong
    answer show the phrase again and start over. ^C stops (the wallet stays as created)."""
    words = phrase.split()
    while True:
        ask("Press Enter once the phrase is written down")
        clear_screen()
        asked = positions(len(words), rng=rng)
        say(f"To check your copy, type words {', '.join(f'#{n}' for n in asked)} of the phrase.")
        missed = wrong(words, {n: ask(f"word #{n}") for n in asked})
        if not missed:
            say("Your copy matches. Keep it offline; anyone with it owns the funds.")
            return
        say(
            f"word{'s' if len(missed) > 1 else ''} {', '.join(f'#{n}' for n in missed)} did not match: here is the phrase again."
        )
        show()
