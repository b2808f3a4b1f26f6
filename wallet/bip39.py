"""BIP39 recovery phrases: create, check, normalise, and stretch into a seed.

The seed depends only on the phrase text and the passphrase, not on the wordlist, so
language detection can never change which accounts a phrase opens.
"""

from __future__ import annotations

import difflib
import unicodedata
from functools import cache
from typing import TYPE_CHECKING

from .errors import InvalidMnemonic

if TYPE_CHECKING:
    from mnemonic import Mnemonic

WORD_COUNTS = (12, 15, 18, 21, 24)
LANGUAGES = (
    "english",
    "chinese_simplified",
    "chinese_traditional",
    "czech",
    "french",
    "italian",
    "japanese",
    "korean",
    "portuguese",
    "spanish",
    "russian",
    "turkish",
)
ALIASES = {
    "en": "english",
    "zh": "chinese_simplified",
    "zh-cn": "chinese_simplified",
    "zh-hans": "chinese_simplified",
    "chinese": "chinese_simplified",
    "zh-tw": "chinese_traditional",
    "zh-hant": "chinese_traditional",
}
_CJK = ("chinese_simplified", "chinese_traditional")


def language_name(language: str) -> str:
    """The canonical wordlist name for `language` (aliases like `zh` accepted)."""
    key = language.strip().lower().replace(" ", "_")
    key = ALIASES.get(key, key)
    if key not in LANGUAGES:
        raise InvalidMnemonic(f"unknown wordlist language {language!r}; choose one of: {', '.join(LANGUAGES)}")
    return key


@cache
def _engine(language: str) -> Mnemonic:
    from mnemonic import Mnemonic

    return Mnemonic(language)


@cache
def _words(language: str) -> frozenset[str]:
    return frozenset(_engine(language).wordlist)


def generate(words: int = 12, language: str = "english") -> str:
    """A new phrase of `words` words from the OS random source."""
    if words not in WORD_COUNTS:
        raise InvalidMnemonic(f"a recovery phrase has {', '.join(map(str, WORD_COUNTS))} words; got {words}")
    return _engine(language_name(language)).generate(strength=words * 32 // 3)


def split_words(phrase: str) -> list[str]:
    """Words of a phrase, NFKD-normalised and lower-cased.

    Chinese phrases are often written without spaces; every Chinese BIP39 word is one
    character, so an unspaced run of CJK characters is split into characters.
    """
    text = unicodedata.normalize("NFKD", phrase).strip().lower()
    words = text.split()
    if (
        len(words) == 1
        and len(words[0]) in WORD_COUNTS
        and all(unicodedata.category(c) == "Lo" for c in words[0])
        and any(words[0][0] in _words(lang) for lang in _CJK)
    ):
        words = list(words[0])
    return words


def _best_language(words: list[str]) -> str:
    scores = {lang: sum(w in _words(lang) for w in words) for lang in LANGUAGES}
    return max(LANGUAGES, key=lambda lang: scores[lang])  # ties keep LANGUAGES order


def check(phrase: str, language: str | None = None) -> tuple[str, str]:
    """Validate a phrase; return (normalised phrase, language).

    Raises InvalidMnemonic naming the first unknown word (with a suggestion), a wrong
    word count, or a failed checksum.
    """
    words = split_words(phrase)
    if len(words) not in WORD_COUNTS:
        raise InvalidMnemonic(f"a recovery phrase has 12, 15, 18, 21 or 24 words; this one has {len(words)}")
    if language is None:
        candidates = [lang for lang in LANGUAGES if all(w in _words(lang) for w in words)]
        language = next(
            (lang for lang in candidates if _checksum_ok(words, lang)),
            candidates[0] if candidates else _best_language(words),
        )
    else:
        language = language_name(language)
    wordlist = _words(language)
    for position, word in enumerate(words, start=1):
        if word not in wordlist:
            close = difflib.get_close_matches(word, _engine(language).wordlist, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else "; check the spelling"
            raise InvalidMnemonic(f"word {position} ({word!r}) is not in the {language} BIP39 wordlist{hint}")
    if not _checksum_ok(words, language):
        raise InvalidMnemonic("the recovery phrase checksum fails: a word is wrong or the order is mixed up")
    return _join(words, language), language


def _join(words: list[str], language: str) -> str:
    separator = "\u3000" if language == "japanese" else " "
    return separator.join(words)


def _checksum_ok(words: list[str], language: str) -> bool:
    try:
        return _engine(language).check(_join(words, language))
    except (LookupError, ValueError):
        return False


def to_seed(phrase: str, passphrase: str = "") -> bytes:
    """The 64-byte BIP39 seed (PBKDF2-HMAC-SHA512, 2048 rounds). Run once per unlock."""
    from mnemonic import Mnemonic

    return Mnemonic.to_seed(phrase, passphrase)
