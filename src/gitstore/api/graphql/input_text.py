"""Text rules for every mutation's ``String``/``ID`` inputs.

Catalogue manifests get the content model's text rule (``domain.content.text``) by JSON path.
Every other mutation input — namespace and repository names, display names, token names,
webhook URLs, release notes, branch names, commit messages — gets the same character rule
here, before its resolver runs: a lone surrogate (``"\\ud800"`` in JSON, which no UTF-8
database or Git object can hold) or a C0/C1 control character other than tab, newline and
carriage return is an ``INVALID_ARGUMENT`` userError naming the field, never an internal
error and never stored. Custom scalars (``JSON`` specs and manifests) are left to the content
model, which reports the path inside them.

The walk follows the input type, so it costs a dict lookup per declared field and a regular
expression search per string actually sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from graphql import (
    GraphQLID,
    GraphQLInputObjectType,
    GraphQLString,
    get_named_type,
)

from gitstore.domain.content.text import bad_character
from gitstore.domain.errors import InvalidArgument

_TEXT_SCALARS = (GraphQLString.name, GraphQLID.name)
_ALLOWED = "tab, newline and carriage return are the only control characters allowed"


def check_input_text(input_type: GraphQLInputObjectType, value: Mapping[str, Any]) -> None:
    """Raise ``InvalidArgument`` naming the first text field of ``value`` (of ``input_type``)
    that holds a refused character."""
    stack: list[tuple[GraphQLInputObjectType, Mapping[str, Any]]] = [(input_type, value)]
    while stack:
        kind, item = stack.pop()
        for name, field in kind.fields.items():
            given = item.get(name)
            if given is None:
                continue
            named = get_named_type(field.type)
            values = given if isinstance(given, list) else [given]
            if isinstance(named, GraphQLInputObjectType):
                stack.extend((named, v) for v in values if isinstance(v, Mapping))
            elif named.name in _TEXT_SCALARS:
                for text in values:
                    bad = bad_character(text) if isinstance(text, str) else None
                    if bad is not None:
                        index, what = bad
                        raise InvalidArgument(
                            f"{name}: {what} at position {index} is not allowed ({_ALLOWED})",
                            field=name,
                        )
