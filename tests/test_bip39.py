"""BIP39: the official Trezor vectors through the import path, and the error messages."""

from __future__ import annotations

import pytest
from conftest import load_vector

from wallet import bip39, hd
from wallet.errors import InvalidMnemonic

VECTORS = load_vector("bip39-trezor-vectors.json")
CASES = [
    pytest.param(language, entropy, phrase, seed, xprv, id=f"{language}-{i}")
    for language in ("english", "chinese_simplified")
    for i, (entropy, phrase, seed, xprv) in enumerate(VECTORS[language])
]


@pytest.mark.parametrize("language, entropy, phrase, seed, xprv", CASES)
def test_trezor_vectors(language, entropy, phrase, seed, xprv):
    from mnemonic import Mnemonic

    normalised, detected = bip39.check(phrase)
    assert detected in (language, "chinese_traditional")  # shared CJK words are fine
    assert normalised == phrase
    assert Mnemonic(language).to_mnemonic(bytes.fromhex(entropy)) == phrase
    assert bip39.to_seed(normalised, "TREZOR").hex() == seed
    assert hd.master(bytes.fromhex(seed)).xprv() == xprv


@pytest.mark.parametrize("entropy, phrase, seed, xprv", VECTORS["chinese_simplified"][:6])
def test_chinese_without_spaces_is_the_same_phrase(entropy, phrase, seed, xprv):
    normalised, language = bip39.check(phrase.replace(" ", ""), "zh")
    assert language == "chinese_simplified"
    assert bip39.to_seed(normalised, "TREZOR").hex() == seed


@pytest.mark.parametrize("words", [12, 24])
@pytest.mark.parametrize("language", ["english", "chinese_simplified"])
def test_generate_checks(words, language):
    phrase = bip39.generate(words, language)
    assert len(bip39.split_words(phrase)) == words
    assert bip39.check(phrase, language)[1] == language
    assert bip39.generate(words, language) != phrase


def test_unknown_word_is_named_with_position_and_suggestion():
    with pytest.raises(InvalidMnemonic, match=r"word 3 \('abandn'\).*did you mean 'abandon'"):
        bip39.check("abandon abandon abandn " + "abandon " * 8 + "about")


def test_checksum_failure():
    with pytest.raises(InvalidMnemonic, match="checksum fails"):
        bip39.check("abandon " * 12)


@pytest.mark.parametrize("count", [0, 1, 11, 13, 25])
def test_word_count(count):
    with pytest.raises(InvalidMnemonic, match=f"this one has {count}"):
        bip39.check("abandon " * count)


def test_case_and_whitespace_are_normalised():
    phrase = "  Abandon abandon\tabandon abandon abandon abandon abandon abandon abandon abandon abandon ABOUT \n"
    assert bip39.check(phrase) == (("abandon " * 11 + "about"), "english")


def test_language_aliases_and_unknown_language():
    assert bip39.language_name("zh") == "chinese_simplified"
    with pytest.raises(InvalidMnemonic, match="unknown wordlist language 'klingon'"):
        bip39.language_name("klingon")


def test_passphrase_changes_the_seed():
    phrase = "abandon " * 11 + "about"
    assert bip39.to_seed(phrase, "") != bip39.to_seed(phrase, "TREZOR")
