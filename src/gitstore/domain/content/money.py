"""Money: exact decimal amounts and ISO 4217 currencies. Never a float.

In a manifest a price is ``{amount: "19.99", currency: "EUR"}``: the amount is a *string*
matching ``AMOUNT_PATTERN`` (non-negative, no leading zeros, at most 15 integer digits and 4
decimal places) so that no YAML or JSON parser ever turns it into a binary float; the currency
is an upper-case ISO 4217 code for which ``category == "currency"`` in ``builtin/iso4217.json``
(fund codes, precious metals, ``XTS`` (testing) and ``XXX`` (no currency) are refused: they are
not something a shop charges in).

``Money.from_spec`` turns the manifest form into ``decimal.Decimal`` for arithmetic and
comparisons; ``Money.to_spec`` writes it back as ``format_amount`` (plain notation, the scale
kept: ``Decimal("5.10")`` -> ``"5.10"``).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from importlib import resources
from typing import Any

from gitstore.domain.errors import InvalidArgument

AMOUNT_PATTERN = r"^(0|[1-9][0-9]{0,14})(\.[0-9]{1,4})?$"
_AMOUNT = re.compile(AMOUNT_PATTERN.replace("$", r"\Z"), re.ASCII)


@dataclass(frozen=True, slots=True)
class Currency:
    code: str
    numeric: str
    minor_units: int | None
    name: str
    category: str  # currency | fund | special

    @property
    def usable_for_prices(self) -> bool:
        return self.category == "currency"


@functools.cache
def currencies() -> Mapping[str, Currency]:
    """Every ISO 4217 list-one code the package knows, by alphabetic code."""
    raw = resources.files("gitstore.domain.content").joinpath("builtin/iso4217.json")
    data = json.loads(raw.read_text(encoding="utf-8"))
    return {
        row["code"]: Currency(
            row["code"], row["numeric"], row["minorUnits"], row["name"], row["category"]
        )
        for row in data["currencies"]
    }


def price_currency_codes() -> tuple[str, ...]:
    """Sorted codes accepted as the currency of a price."""
    return tuple(sorted(c.code for c in currencies().values() if c.usable_for_prices))


def parse_amount(text: Any, field: str = "amount") -> Decimal:
    """The exact value of a manifest amount string; ``InvalidArgument`` naming ``field``."""
    if not isinstance(text, str) or not _AMOUNT.match(text):
        raise InvalidArgument(
            f"{field}: {text!r} is not a valid non-negative decimal amount "
            '(digits, optionally "." and up to 4 decimals, as a string, e.g. "19.99")',
            field=field,
        )
    try:
        return Decimal(text)
    except InvalidOperation:  # pragma: no cover - the pattern admits only valid decimals
        raise InvalidArgument(f"{field}: {text!r} is not a decimal", field=field) from None


def format_amount(value: Decimal) -> str:
    """Plain decimal notation of ``value`` (never an exponent); scale kept as is."""
    if not value.is_finite():
        raise InvalidArgument(f"amount {value} is not finite")
    return format(value, "f")


@dataclass(frozen=True, slots=True)
class Money:
    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        if not isinstance(self.amount, Decimal):
            raise TypeError(f"Money amounts are Decimal, never {type(self.amount).__name__}")
        known = currencies().get(self.currency)
        if known is None or not known.usable_for_prices:
            raise InvalidArgument(
                f"currency: {self.currency!r} is not an ISO 4217 currency code", field="currency"
            )

    @classmethod
    def from_spec(cls, value: Any, field: str = "price") -> Money:
        """Read ``{amount, currency}`` as found in a manifest spec."""
        if not isinstance(value, Mapping):
            raise InvalidArgument(f"{field}: expected {{amount, currency}}", field=field)
        amount = parse_amount(value.get("amount"), f"{field}.amount")
        try:
            return cls(amount, str(value.get("currency")))
        except InvalidArgument as err:
            raise InvalidArgument(f"{field}.{err.message}", field=f"{field}.currency") from None

    def to_spec(self) -> dict[str, str]:
        return {"amount": format_amount(self.amount), "currency": self.currency}

    def quantized(self) -> Money:
        """Rounded (half-even) to the currency's minor units, e.g. for display."""
        minor = currencies()[self.currency].minor_units or 0
        return Money(self.amount.quantize(Decimal(1).scaleb(-minor)), self.currency)
