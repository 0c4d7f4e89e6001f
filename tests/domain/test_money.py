"""Money helpers: Decimal amounts, never floats; ISO 4217 currencies."""

from __future__ import annotations

from decimal import Decimal

import pytest

from gitstore.domain.content import Money, format_amount, parse_amount, price_currency_codes
from gitstore.domain.content.money import currencies
from gitstore.domain.errors import InvalidArgument


def test_parse_amount_is_exact() -> None:
    assert parse_amount("0.1") + parse_amount("0.2") == Decimal("0.3")
    assert parse_amount("19.90") == Decimal("19.9")
    assert format_amount(parse_amount("19.90")) == "19.90"
    assert format_amount(Decimal("1E+3")) == "1000"


@pytest.mark.parametrize("bad", ["-1", "1e3", "NaN", "Infinity", "1.23456", "", 19.99, None, "٣"])
def test_parse_amount_refuses(bad: object) -> None:
    with pytest.raises(InvalidArgument) as excinfo:
        parse_amount(bad, "spec.price.amount")
    assert excinfo.value.field == "spec.price.amount"
    assert "not a valid non-negative decimal amount" in excinfo.value.message


def test_money_from_and_to_spec() -> None:
    money = Money.from_spec({"amount": "89.00", "currency": "EUR"}, "spec.price")
    assert money.amount == Decimal("89.00") and money.currency == "EUR"
    assert money.to_spec() == {"amount": "89.00", "currency": "EUR"}
    assert Money(Decimal("100.5"), "JPY").quantized().amount == Decimal("100")
    assert Money(Decimal("1.2345"), "KWD").quantized().amount == Decimal("1.234")


@pytest.mark.parametrize("currency", ["XXX", "eur", "EURO", "CHE"])
def test_money_refuses_non_price_currencies(currency: str) -> None:
    with pytest.raises(InvalidArgument) as excinfo:
        Money.from_spec({"amount": "1", "currency": currency}, "spec.price")
    assert excinfo.value.field == "spec.price.currency"


def test_money_never_holds_a_float() -> None:
    with pytest.raises(TypeError):
        Money(19.99, "EUR")  # type: ignore[arg-type]


def test_currency_table() -> None:
    table = currencies()
    assert table["JPY"].minor_units == 0 and table["BHD"].minor_units == 3
    assert table["XXX"].category == "special" and not table["XXX"].usable_for_prices
    assert table["CLF"].category == "fund"
    assert all(len(code) == 3 and code.isupper() for code in price_currency_codes())
