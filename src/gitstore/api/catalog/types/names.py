"""GraphQL names for a kind's JSON Schema, and the collisions they can run into.

``field_name``/``pascal``/``enum_value_name`` turn JSON names into valid GraphQL names,
deterministically. ``TypeNames`` hands out the type names of one schema build and records
every collision as a :class:`TypeProblem` naming the kind, the version and the JSON pointer
of the schema at fault: two definitions of one kind mapping to one type name
(``#/$defs/price`` and an inline ``#/properties/price`` are both ``BrandPrice``), a type name
taken by another kind of the repository or by the platform (``PageInfo``, ``JSON``,
``SchemaStatus``), two properties of one object giving one field name after camel-casing
(``pack size`` and ``packSize``). The schema is still built — the later one gets a numeric
suffix, in schema order — but the problem is reported: ``schemaStatus { problems }`` and, at
write time, a refusal of the definition (``api.kinds``), because a suffixed name would change
whenever the schema is reordered and so cannot be an API contract.
"""

from __future__ import annotations

import re
import weakref
from dataclasses import dataclass

from ...graphql.builder import SchemaBuilder

_NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]*")

# Type names every kind's types may use: scalars and types ``generate`` adds on demand.
KIND_PLATFORM_TYPES = frozenset({"JSON", "DateTime", "Decimal", "Money"})


@dataclass(frozen=True, slots=True)
class TypeProblem:
    """A name collision in the GraphQL types of one kind's hub version."""

    kind: str
    version: str
    pointer: str  # JSON pointer into the version's schema, e.g. "#/$defs/price"
    message: str

    def __str__(self) -> str:
        return f"{self.kind} {self.version} {self.pointer}: {self.message}"


def field_name(name: str) -> str:
    """A valid GraphQL field name for property ``name`` (itself when it already is one)."""
    if _NAME.fullmatch(name) and not name.startswith("__"):
        return name
    parts = [p for p in re.split(r"[^0-9A-Za-z_]+", name) if p]
    if not parts:
        return "_"
    text = parts[0] + "".join(p[:1].upper() + p[1:] for p in parts[1:])
    if text.startswith("__"):
        text = "_" + text.lstrip("_")
    if text[0].isdigit():
        text = "_" + text
    return text


def pascal(name: str) -> str:
    text = field_name(name)
    return text[:1].upper() + text[1:]


def enum_value_name(value: str) -> str | None:
    """``draft`` → ``DRAFT``, ``compareAtPrice`` → ``COMPARE_AT_PRICE``; None if nothing is
    left (e.g. ``"--"``)."""
    text = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", value)
    text = re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_").upper()
    if not text:
        return None
    return "_" + text if text[0].isdigit() else text


def pointer_token(name: str) -> str:
    """``name`` escaped for a JSON pointer (RFC 6901)."""
    return name.replace("~", "~0").replace("/", "~1")


# Who took each type name of a builder ("Brand v1 #/$defs/image"), across kinds.
_ORIGINS: weakref.WeakKeyDictionary[SchemaBuilder, dict[str, str]] = weakref.WeakKeyDictionary()


def type_origin(builder: SchemaBuilder, name: str) -> str | None:
    """Which kind's schema took type ``name`` in ``builder`` (None: not a kind's type)."""
    return _ORIGINS.get(builder, {}).get(name)


class TypeNames:
    """The type names one kind takes in ``builder``; collisions go to ``problems``."""

    def __init__(
        self,
        builder: SchemaBuilder,
        kind: str,
        version: str,
        reserved: frozenset[str],
        problems: list[TypeProblem],
    ) -> None:
        self.builder = builder
        self.kind = kind
        self.version = version
        self.problems = problems
        self.origins = _ORIGINS.setdefault(builder, {})
        self.mine: dict[str, str] = {name: "the kind's own types" for name in reserved}
        for name in reserved:
            self.origins.setdefault(name, f"kind {kind} ({version})")

    def report(self, pointer: str, message: str) -> None:
        self.problems.append(TypeProblem(self.kind, self.version, pointer, message))

    def claim(self, name: str, pointer: str) -> str:
        """``name`` for the type of ``pointer``, or the first free ``<name>2``, ``<name>3``…
        (a collision is reported)."""
        candidate, n = name, 1
        while (holder := self._holder(candidate)) is not None:
            if n == 1:
                self.report(
                    pointer,
                    f"GraphQL type name {name} is already used by {holder}; "
                    "rename one of them (it is served meanwhile under a numeric suffix)",
                )
            n += 1
            candidate = f"{name}{n}"
        self.mine[candidate] = pointer
        self.origins[candidate] = f"{self.kind} {self.version} {pointer}"
        return candidate

    def _holder(self, name: str) -> str | None:
        if name in self.mine:
            return self.mine[name]
        if self.builder.has_type(name):
            return self.origins.get(name, "the platform")
        return "the platform" if name in KIND_PLATFORM_TYPES else None


class FieldNames:
    """The field names of one object type; a second property giving a taken name is
    reported and gets ``_2``, ``_3``…"""

    def __init__(self, names: TypeNames, taken: dict[str, str]) -> None:
        self.names = names
        self.taken = taken  # field name → pointer (or "the envelope")

    def claim(self, name: str, pointer: str) -> str:
        candidate, n = name, 1
        while candidate in self.taken:
            if n == 1:
                self.names.report(
                    pointer,
                    f"field name {name} is already used by {self.taken[name]}; rename one "
                    f"of the properties (it is served meanwhile as {name}_2 or later)",
                )
            n += 1
            candidate = f"{name}_{n}"
        self.taken[candidate] = pointer
        return candidate
