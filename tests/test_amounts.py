"""Amounts (wallet/amounts.py): one exact grammar for every command that takes money.

`.` is the decimal point; a comma only separates thousands in groups of three; an
underscore only separates groups of three digits; scientific notation is exact and its
exponent bounded. Nothing is ever rounded: a value with more decimals than the token has is
refused. Examples for every rule, then properties over the grammar, then the CLI refusing a
decimal comma before it asks for anything."""

from __future__ import annotations

import re
import time
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wallet.amounts import (
    MAX_UNITS,
    Amount,
    AmountError,
    format_units,
    parse_amount,
    parse_gwei,
    to_units,
)

DOT = "use a dot for decimals"

# -- examples --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value", "unit"),
    [
        ("1.5", "1.5", None),
        ("1.5 ETH", "1.5", "ETH"),
        ("1.5ETH", "1.5", "ETH"),
        ("  250 TKN  ", "250", "TKN"),
        (".5", "0.5", None),
        ("1.", "1", None),
        ("0", "0", None),
        ("007", "7", None),
        ("1,000", "1000", None),
        ("1,000.25", "1000.25", None),
        ("12,345,678", "12345678", None),
        ("999,999.999999", "999999.999999", None),
        ("1_000_000", "1000000", None),
        ("0.000_001", "0.000001", None),
        ("1_000.123_4", "1000.1234", None),
        ("0.1 gwei", "0.1", "gwei"),
        ("1eth", "1", "eth"),  # a unit that starts with e is not an exponent
        ("5 0x5FbDB2315678afecb367f032d93F642f64180aa3", "5", "0x5FbDB2315678afecb367f032d93F642f64180aa3"),
    ],
)
def test_accepted_forms(text, value, unit):
    assert parse_amount(text) == Amount(Decimal(value), unit)


@pytest.mark.parametrize(
    "text",
    [
        "0,5",
        "1,5",
        "1,2,3",
        "1,0000",
        ",5",
        "1,",
        "1,00",
        "0,500",
        "00,500",
        "1.000,5",
        "1,000,00",
        "0,000001",
        "12,34.5",
        "1,000.5,0",
    ],
)
def test_a_comma_that_is_not_a_thousands_separator_is_refused(text):
    with pytest.raises(AmountError, match=DOT) as refused:
        parse_amount(text)
    assert "\n" not in str(refused.value) and repr(text) in str(refused.value)


@pytest.mark.parametrize("text", ["0,5 ETH", "1,5 TKN"])
def test_a_decimal_comma_with_a_unit_is_refused_too(text):
    with pytest.raises(AmountError, match=DOT):
        parse_amount(text)


@pytest.mark.parametrize("text", ["1_0", "10_00", "_5", "1_", "1__000", "0_500", "0.12_3", "0.1234_5678"])
def test_an_underscore_only_separates_groups_of_three(text):
    with pytest.raises(AmountError, match="groups of three"):
        parse_amount(text)


def test_one_kind_of_separator_per_number():
    with pytest.raises(AmountError, match="one kind of separator"):
        parse_amount("1,000_000")


@pytest.mark.parametrize(
    ("text", "value", "unit"),
    [
        ("1e-3", "0.001", None),
        ("1E-3", "0.001", None),
        ("2.5E3", "2500", None),
        ("2.5e+3", "2500", None),
        ("1e0", "1", None),
        ("1e18 wei", "1000000000000000000", "wei"),
        ("1.5e-3 ETH", "0.0015", "ETH"),
        ("1e-3ETH", "0.001", "ETH"),
        ("1,000e3", "1000000", None),
        ("1e100", "1e100", None),
        ("1e-100", "1e-100", None),
    ],
)
def test_scientific_notation_is_exact(text, value, unit):
    parsed = parse_amount(text)
    assert parsed.value == Decimal(value) and parsed.unit == unit


def test_scientific_notation_in_base_units():
    assert to_units(parse_amount("1e-3").value, 18) == 10**15
    assert to_units(parse_amount("2.5E3").value, 6) == 2_500_000_000
    assert parse_gwei("1e9 wei") == 10**9


@pytest.mark.parametrize("text", ["1e999999", "1e101", "1e-101", "1e" + "9" * 5000, "1e-" + "0" * 4000 + "1000"])
def test_absurd_exponents_are_refused_at_once(text):
    started = time.perf_counter()
    with pytest.raises(AmountError, match="exponent is out of range"):
        parse_amount(text)
    assert time.perf_counter() - started < 0.1


@pytest.mark.parametrize("text", ["1e", "1e-", "1E+", "2.5e"])
def test_an_exponent_without_digits_is_refused_not_taken_for_a_unit(text):
    with pytest.raises(AmountError, match="exponent needs digits"):
        parse_amount(text)


@pytest.mark.parametrize("text", ["-1", "-0.5 ETH", " -1e-3"])
def test_negative_amounts_are_refused(text):
    with pytest.raises(AmountError, match="cannot be negative"):
        parse_amount(text)


@pytest.mark.parametrize(
    "text", ["", " ", ".", "lots", "1.2.3", "1 000", "0x10", "1.5 ETH extra", "maximum", "½", "\u0661"]
)
def test_not_amounts(text):
    with pytest.raises(AmountError, match="is not an amount"):
        parse_amount(text)


def test_max():
    assert parse_amount("max") == Amount(None, None)
    assert parse_amount("MAX ETH") == Amount(None, "ETH")
    assert parse_amount("max", "ETH") == Amount(None, "ETH")
    assert parse_amount("max").is_max and not parse_amount("1").is_max


def test_default_unit():
    assert parse_amount("1", "ETH") == Amount(Decimal(1), "ETH")
    assert parse_amount("1 TKN", "ETH") == Amount(Decimal(1), "TKN")


def test_errors_quote_long_input_briefly():
    with pytest.raises(AmountError) as refused:
        parse_amount("1," + "5" * 10_000)
    assert len(str(refused.value)) < 200


def test_to_units_is_exact():
    assert to_units(Decimal("1.5"), 18) == 15 * 10**17
    assert to_units(Decimal("0.000001"), 6) == 1
    assert to_units(Decimal("1.500000"), 6) == 1_500_000  # trailing zeros are not decimals
    assert to_units(Decimal("1." + "0" * 5000), 18) == 10**18
    assert to_units(Decimal(0), 18) == 0
    assert to_units(Decimal("-0"), 18) == 0
    assert to_units(Decimal(MAX_UNITS), 0) == MAX_UNITS


def test_to_units_refuses_rounding_negative_and_too_large():
    with pytest.raises(AmountError, match="more than 18 decimal places"):
        to_units(Decimal("0.0000000000000000001"), 18, "ETH")
    with pytest.raises(AmountError, match="more than 0 decimal places"):
        to_units(Decimal("1.5"), 0)
    with pytest.raises(AmountError, match="more than 0 decimal places"):  # past any context's precision too
        to_units(Decimal("1" + "0" * 100 + ".5"), 0)
    with pytest.raises(AmountError, match="cannot be negative"):
        to_units(Decimal("-1"), 18)
    with pytest.raises(AmountError, match="more than any token can hold"):
        to_units(Decimal(MAX_UNITS + 1), 0)
    with pytest.raises(AmountError, match="more than any token can hold"):
        to_units(Decimal("1e78"), 0)
    started = time.perf_counter()
    for value in (Decimal("1e999999"), Decimal("1e-999999"), Decimal("9" * 5000)):
        with pytest.raises(AmountError):
            to_units(value, 18)
    assert time.perf_counter() - started < 0.1
    for value in (Decimal("NaN"), Decimal("Infinity")):
        with pytest.raises(AmountError):
            to_units(value, 18)


def test_format_units():
    assert format_units(1_500_000_000_000_000_000, 18) == "1.5"
    assert format_units(1, 18) == "0.000000000000000001"
    assert format_units(10**18, 18) == "1"
    assert format_units(0, 6) == "0"
    assert format_units(42, 0) == "42"
    assert format_units(-15, 1) == "-1.5"


def test_parse_gwei():
    assert parse_gwei("30") == 30 * 10**9
    assert parse_gwei("1.5") == 1_500_000_000
    assert parse_gwei("100 wei") == 100
    with pytest.raises(AmountError, match="cannot be 'max'"):
        parse_gwei("max")
    with pytest.raises(AmountError, match="gwei or wei"):
        parse_gwei("1 ETH")
    with pytest.raises(AmountError, match=DOT):
        parse_gwei("1,5")


# -- properties ------------------------------------------------------------------------------

units = st.integers(min_value=0, max_value=MAX_UNITS)
decimals = st.integers(min_value=0, max_value=36)


def grouped(whole: int, separator: str) -> str:
    return f"{whole:,}".replace(",", separator)


@given(units, decimals)
def test_format_then_parse_round_trips(value, places):
    text = format_units(value, places)
    assert to_units(parse_amount(text).value, places) == value
    assert Fraction(parse_amount(text).value) == Fraction(value, 10**places)


@given(units, decimals, st.sampled_from([",", "_"]))
def test_grouped_thousands_round_trip(value, places, separator):
    whole, point, fraction = format_units(value, places).partition(".")
    text = grouped(int(whole), separator) + point + fraction
    assert to_units(parse_amount(text).value, places) == value


@given(
    st.decimals(min_value=0, max_value=Decimal(10) ** 40, allow_nan=False, allow_infinity=False, places=None),
    decimals,
)
def test_to_units_never_rounds(value, places):
    exact = Fraction(value) * 10**places
    try:
        result = to_units(value, places)
    except AmountError as error:
        assert exact.denominator != 1 or exact > MAX_UNITS, error
        return
    assert Fraction(result) == exact


@given(st.integers(min_value=0, max_value=10**30), st.integers(min_value=0, max_value=18), decimals)
def test_decimal_text_parses_exactly(whole, scale, places):
    text = f"{whole}.{str(whole)[:scale]}" if scale else str(whole)
    value = parse_amount(text).value
    assert Fraction(value) == Fraction(Decimal(text))  # what the digits say, nothing else
    try:
        assert Fraction(to_units(value, places)) == Fraction(value) * 10**places
    except AmountError:
        assert (Fraction(value) * 10**places).denominator != 1 or Fraction(value) * 10**places > MAX_UNITS


@given(
    st.integers(min_value=0, max_value=10**20),
    st.integers(min_value=-40, max_value=40),
    st.sampled_from(["", " ETH", "TKN", " wei"]),
)
def test_scientific_notation_is_exactly_mantissa_times_ten_to_the_exponent(mantissa, exponent, unit):
    parsed = parse_amount(f"{mantissa}e{exponent}{unit}")
    assert Fraction(parsed.value) == mantissa * Fraction(10) ** exponent
    assert parsed.unit == (unit.strip() or None)


comma_groups = st.lists(st.text("0123456789", min_size=0, max_size=5), min_size=1, max_size=4)


@given(st.text("0123456789", min_size=0, max_size=4), comma_groups, st.sampled_from(["", ".5", ".25 ETH", " TKN"]))
def test_a_comma_not_in_groups_of_three_is_refused(head, groups, tail):
    # Thousands groups: a first group of one to three digits without a leading zero, then
    # groups of exactly three. Anything else is someone's decimal comma.
    if 1 <= len(head) <= 3 and head[0] != "0" and all(len(g) == 3 for g in groups):
        groups = [*groups[:-1], groups[-1] + "0"]  # make one group wrong
    text = ",".join([head, *groups]) + tail
    with pytest.raises(AmountError, match=DOT):
        parse_amount(text)


@given(st.text("0123456789,._ eE-+xa", max_size=14))
def test_whatever_the_text_a_comma_is_only_ever_a_thousands_separator(text):
    try:
        parsed = parse_amount(text)
    except AmountError:
        return
    if "," not in text:
        return
    lead = re.match(r"\s*([0-9,]*)", text).group(1)
    assert re.fullmatch(r"[1-9][0-9]{0,2}(,[0-9]{3})+", lead), text
    assert "," not in text[text.index(lead) + len(lead) :], text
    assert parsed.value >= int(lead.replace(",", ""))


# -- the CLI ---------------------------------------------------------------------------------

BOB = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"


@pytest.mark.parametrize(
    "args",
    [
        ("send", BOB, "0,5"),
        ("send", BOB, "1,5", "--yes"),
        ("send", BOB, "1", "--max-fee", "0,5"),
        ("faucet", BOB, "0,5"),
    ],
)
def test_the_cli_refuses_a_decimal_comma_before_any_password_or_network(cli, hongbao_home, args):
    """No wallet, no password, and a network that answers nothing: the amount alone is refused."""
    from wallet import config
    from wallet.localchain import free_port

    cfg = config.load(hongbao_home)
    cfg.networks["local"] = config.Network("local", f"http://127.0.0.1:{free_port()}", 31337)
    config.save(hongbao_home, cfg)
    env = {k: v for k, v in cli.env.items() if k != "HONGBAO_PASSWORD"}
    cli.env = env
    result = cli(*args, check=False)
    assert result.returncode == 1, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and DOT in lines[0], result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
