"""Whether a document valid against one schema is valid against another without validating it.

Store schemas share most of their types (``storeschema.platform``: the same type objects in
every repository's schema). A document that only reaches shared parts — the storefront's
``{ catalog { products { ... } } }`` — validates the same way against the schema that
replaces the one it was validated with, so preparing it for the new schema
(``StoreSchemas._warm``) can skip graphql-core's ``validate`` (~1 ms a document).

``same_for(document, old, new)`` is True only when everything validation looks up *in the
schema* resolves to the same objects in both:

* the root field of every top-level selection (``old_root.fields[name] is
  new_root.fields[name]``); everything below a field is reached through that field's type
  objects, so it is the same too. A top-level fragment spread or inline fragment is not
  followed: False;
* every type named in the document (variable types, type conditions of fragments), by
  ``schema.get_type(name)``;
* the directives (``schema.directives``), element by element.

The one schema-wide fact left is the set of possible types of an abstract type: a new schema
may add implementations of a shared interface. That only *grows* the sets reached through
shared types (a type of the old schema that is gone changes some named or reached object,
which is caught above), and a growing set keeps every fragment spread that overlapped
overlapping; the rules that compare fields look at parent and field objects, which are the
same. Anything else: False, and the caller validates as usual.
"""

from __future__ import annotations

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    GraphQLObjectType,
    GraphQLSchema,
    NamedTypeNode,
    Node,
    OperationDefinitionNode,
    OperationType,
)


def same_for(document: DocumentNode, old: GraphQLSchema, new: GraphQLSchema) -> bool:
    """True when ``document`` validates against ``new`` exactly as against ``old`` (see the
    module docstring); False when that cannot be told cheaply."""
    if old is new:
        return True
    if len(old.directives) != len(new.directives) or any(
        a is not b for a, b in zip(old.directives, new.directives, strict=True)
    ):
        return False
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            roots = (_root(old, definition.operation), _root(new, definition.operation))
            if roots[0] is None or roots[1] is None:
                return False
            for selection in definition.selection_set.selections:
                if not isinstance(selection, FieldNode):
                    return False
                name = selection.name.value
                if name.startswith("__"):  # introspection: the whole schema
                    return False
                field = roots[0].fields.get(name)
                if field is None or roots[1].fields.get(name) is not field:
                    return False
        elif not isinstance(definition, FragmentDefinitionNode):
            return False  # a type system definition: let validation say what is wrong
    return all(old.get_type(name) is new.get_type(name) for name in _named_types(document))


def _root(schema: GraphQLSchema, operation: OperationType) -> GraphQLObjectType | None:
    if operation is OperationType.QUERY:
        return schema.query_type
    if operation is OperationType.MUTATION:
        return schema.mutation_type
    return schema.subscription_type


def _named_types(node: Node) -> set[str]:
    """Every type name the document mentions (variable types, type conditions)."""
    found: set[str] = set()
    stack: list[object] = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, NamedTypeNode):
            found.add(item.name.value)
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
        elif isinstance(item, Node):
            stack.extend(getattr(item, key) for key in item.keys if key != "loc")
    return found
